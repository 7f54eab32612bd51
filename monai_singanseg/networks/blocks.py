"""Building blocks shared by the SinGAN generator and critic."""

from __future__ import annotations

import math

import torch
from monai.networks.blocks import Convolution
from torch import nn

__all__ = ["SinGANTrunk", "conv_norm_act", "init_singan_weights_"]


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


class SinGANTrunk(nn.Module):
    """Head and body shared by the SinGAN generator and critic: ``num_layers - 1`` conv-BatchNorm-LeakyReLU blocks.

    With ``num_models > 1`` every block is a grouped convolution over ``num_models`` groups (see the subclasses).
    """

    def __init__(
        self, spatial_dims: int, in_channels: int, features: int, num_layers: int, kernel_size: int, num_models: int
    ) -> None:
        super().__init__()
        if spatial_dims not in (2, 3):
            raise ValueError(f"spatial_dims must be 2 or 3, got {spatial_dims}.")
        if num_layers < 3:
            raise ValueError(f"num_layers must be at least 3, got {num_layers}.")
        if kernel_size < 1 or kernel_size % 2 == 0:
            raise ValueError(f"kernel_size must be an odd integer >= 1, got {kernel_size}.")
        for name, count in (("in_channels", in_channels), ("features", features), ("num_models", num_models)):
            if count < 1:
                raise ValueError(f"{name} must be at least 1, got {count}.")
        self.spatial_dims, self.num_models = spatial_dims, num_models
        width, groups = features * num_models, num_models
        self.head = conv_norm_act(spatial_dims, in_channels * num_models, width, kernel_size, groups)
        self.body = nn.Sequential(
            *(conv_norm_act(spatial_dims, width, width, kernel_size, groups) for _ in range(num_layers - 2))
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
