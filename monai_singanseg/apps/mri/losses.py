"""The deep supervision loss of the 2D segmentation network, as the ensemble paper trains its nnU-Net-like U-Net."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from monai.losses import DeepSupervisionLoss
from torch import nn
from torch.nn.modules.loss import _Loss

__all__ = ["StackedDeepSupervisionLoss", "nnunet_weights"]


def nnunet_weights(levels: int) -> list[float]:
    """Deep supervision weights ``0.5 ** d`` for the outputs at depths ``d = 0 .. levels - 1`` (the paper)."""
    return [0.5**depth for depth in range(levels)]


class StackedDeepSupervisionLoss(_Loss):
    """MONAI's :class:`~monai.losses.DeepSupervisionLoss` for ``DynUNet``, whose training output stacks the full
    resolution output and the deep supervision heads on dimension 1: ``(B, 1 + heads, C, *spatial)``.

    Args:
        loss: the loss of every level, e.g. ``DiceCELoss(to_onehot_y=True, softmax=True)``.
        weights: one weight per level, full resolution first (see :func:`nnunet_weights`).

    Example::

        >>> loss = StackedDeepSupervisionLoss(DiceCELoss(to_onehot_y=True, softmax=True), nnunet_weights(5))
        >>> loss(net(images), labels)  # net = DynUNet(..., deep_supervision=True, deep_supr_num=4)
    """

    def __init__(self, loss: nn.Module, weights: Sequence[float]) -> None:
        super().__init__()
        self.deep_supervision = DeepSupervisionLoss(loss, weights=list(weights))

    def forward(self, input: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        if input.ndim == target.ndim + 1:
            return self.deep_supervision(list(torch.unbind(input, dim=1)), target)
        return self.deep_supervision(input, target)
