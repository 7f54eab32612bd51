"""Ignite handlers for SinGAN-Seg training."""

from monai_singanseg.handlers.loss_history import LossHistory
from monai_singanseg.handlers.pyramid_checkpoint import PyramidCheckpoint

__all__ = ["LossHistory", "PyramidCheckpoint"]
