"""Building blocks shared by the SinGAN generator and critic."""

from __future__ import annotations

import math

import torch
from monai.networks.blocks import Convolution
from torch import nn

__all__ = ["conv_norm_act", "init_singan_weights_"]


def conv_norm_act(
    spatial_dims: int, in_channels: int, out_channels: int, kernel_size: int = 3, groups: int = 1
) -> Convolution:
    """Unpadded conv, BatchNorm, LeakyReLU(0.2): the reference's ``ConvBlock`` (``groups`` independent copies)."""
    return Convolution(
        spatial_dims,
        in_channels,
        out_channels,
        kernel_size=kernel_size,
        padding=0,
        groups=groups,
        norm="batch",
        act=("leakyrelu", {"negative_slope": 0.2}),
    )


@torch.no_grad()
def init_singan_weights_(module: nn.Module, generator: torch.Generator | None = None) -> nn.Module:
    """Reference initialisation: conv weights ~ N(0, 0.02), BatchNorm weights ~ N(1, 0.02), BatchNorm bias 0.

    Conv biases keep PyTorch's default distribution, as in the reference, but are drawn from ``generator``
    so that a seed fixes every weight.
    """
    for m in module.modules():
        if isinstance(m, nn.modules.conv._ConvNd):
            nn.init.normal_(m.weight, 0.0, 0.02, generator=generator)
            if m.bias is not None:
                bound = 1 / math.sqrt(m.weight[0].numel())
                nn.init.uniform_(m.bias, -bound, bound, generator=generator)
        elif isinstance(m, nn.modules.batchnorm._BatchNorm):
            nn.init.normal_(m.weight, 1.0, 0.02, generator=generator)
            nn.init.zeros_(m.bias)
    return module
