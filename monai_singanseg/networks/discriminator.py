"""The critic of one SinGAN scale."""

from __future__ import annotations

import torch
from monai.networks.blocks import Convolution
from torch import nn

from monai_singanseg.networks.blocks import conv_norm_act

__all__ = ["SinGANDiscriminator"]


class SinGANDiscriminator(nn.Module):
    """Patch critic of one pyramid scale (Shaham et al., "SinGAN", ICCV 2019): the reference's ``WDiscriminator``.

    ``num_layers`` unpadded convolutions; the last maps to one channel with no activation (a WGAN critic), so every
    output pixel scores one receptive-field patch (11x11 with the defaults).

    Args:
        spatial_dims: 2 or 3.
        in_channels: channels of the image+label stack.
        features: convolution width (the reference's ``nfc``).
        num_layers: number of convolutions, 5 in the reference.
        kernel_size: 3 in the reference.

    Example::

        >>> SinGANDiscriminator(2, in_channels=4)(torch.zeros(1, 4, 26, 37)).shape
        torch.Size([1, 1, 16, 27])
    """

    def __init__(
        self, spatial_dims: int, in_channels: int, features: int = 32, num_layers: int = 5, kernel_size: int = 3
    ) -> None:
        super().__init__()
        if spatial_dims not in (2, 3):
            raise ValueError(f"spatial_dims must be 2 or 3, got {spatial_dims}.")
        if num_layers < 3:
            raise ValueError(f"num_layers must be at least 3, got {num_layers}.")
        self.spatial_dims = spatial_dims
        self.head = conv_norm_act(spatial_dims, in_channels, features, kernel_size)
        self.body = nn.Sequential(
            *(conv_norm_act(spatial_dims, features, features, kernel_size) for _ in range(num_layers - 2))
        )
        self.tail = Convolution(spatial_dims, features, 1, kernel_size=kernel_size, padding=0, conv_only=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Score every patch of ``x`` ``(N, C, *spatial)``; returns ``(N, 1, *spatial - 10)`` with the defaults."""
        return self.tail(self.body(self.head(x)))
