"""Losses of SinGAN-Seg training."""

from monai_singanseg.losses.adversarial import critic_wasserstein_loss, generator_wasserstein_loss
from monai_singanseg.losses.gradient_penalty import gradient_penalty

__all__ = ["critic_wasserstein_loss", "generator_wasserstein_loss", "gradient_penalty"]
