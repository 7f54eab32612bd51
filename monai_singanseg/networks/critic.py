"""The critic of one SinGAN scale."""

from __future__ import annotations

import torch
from monai.networks.blocks import Convolution

from monai_singanseg.networks.blocks import SinGANTrunk

__all__ = ["SinGANCritic", "SinGANDiscriminator"]


class SinGANCritic(SinGANTrunk):
    """Patch critic of one pyramid scale (Shaham et al., "SinGAN", ICCV 2019): the reference's ``WDiscriminator``.

    ``num_layers`` unpadded convolutions; the last maps to one channel with no activation (a WGAN critic), so every
    output pixel scores one receptive-field patch (11x11 with the defaults).

    Args:
        spatial_dims: 2 or 3.
        in_channels: channels of the image+label stack.
        features: convolution width (the reference's ``nfc``).
        num_layers: number of convolutions, 5 in the reference.
        kernel_size: 3 in the reference.
        num_models: train this many independent single-image models as one module: every layer becomes a grouped
            convolution over ``num_models`` groups, channels are laid out model by model (``num_models * in_channels``
            in and out), and BatchNorm is per channel, so each model keeps exactly its own weights and statistics.

    Example::

        >>> SinGANCritic(2, in_channels=4)(torch.zeros(1, 4, 26, 37)).shape
        torch.Size([1, 1, 16, 27])
    """

    def __init__(
        self,
        spatial_dims: int,
        in_channels: int,
        features: int = 32,
        num_layers: int = 5,
        kernel_size: int = 3,
        num_models: int = 1,
    ) -> None:
        super().__init__(spatial_dims, in_channels, features, num_layers, kernel_size, num_models)
        self.tail = Convolution(spatial_dims, features * num_models, num_models, kernel_size=kernel_size, padding=0,
                                groups=num_models, conv_only=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Score every patch of ``x`` ``(N, C, *spatial)``; returns ``(N, 1, *spatial - 10)`` with the defaults."""
        return self.tail(self.body(self.head(x)))


# The name of releases up to 0.x, kept one release: the code calls this network the critic everywhere (WGAN-GP).
SinGANDiscriminator = SinGANCritic
