"""The generator of one SinGAN scale."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from monai.networks.blocks import Convolution
from torch import nn

from monai_singanseg.networks.blocks import SinGANTrunk

__all__ = ["SinGANGenerator"]


class SinGANGenerator(SinGANTrunk):
    """Residual generator of one pyramid scale (Shaham et al., "SinGAN", ICCV 2019; SinGAN-Seg, Thambawita et al. 2022).

    ``num_layers`` unpadded convolutions (conv-BatchNorm-LeakyReLU, then conv-tanh) map the noisy input to a residual
    that is added to the upsampled output of the coarser scale. The input is zero-padded by
    ``(kernel_size - 1) * num_layers / 2`` pixels so the output has the input's size, as the reference pads both
    noise and image by 5 pixels.

    Args:
        spatial_dims: 2 or 3.
        in_channels: channels of the image+label stack (e.g. 4 for RGB + mask).
        features: convolution width (the reference's ``nfc``).
        num_layers: number of convolutions, 5 in the reference.
        kernel_size: 3 in the reference.
        num_models: train this many independent single-image models as one module: every layer becomes a grouped
            convolution over ``num_models`` groups, channels are laid out model by model (``num_models * in_channels``
            in and out), and BatchNorm is per channel, so each model keeps exactly its own weights and statistics.

    Example::

        >>> g = SinGANGenerator(2, in_channels=4, features=32)
        >>> previous = torch.zeros(1, 4, 26, 37)
        >>> g(previous + torch.randn(1, 4, 26, 37), previous).shape
        torch.Size([1, 4, 26, 37])
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
        self.padding = (kernel_size - 1) * num_layers // 2
        self.tail = nn.Sequential(
            Convolution(spatial_dims, features * num_models, in_channels * num_models, kernel_size=kernel_size,
                        padding=0, groups=num_models, conv_only=True),
            nn.Tanh(),
        )

    def forward(self, x: torch.Tensor, previous: torch.Tensor) -> torch.Tensor:
        """Args:
            x: noisy input ``noise_amplitude * z + previous``, shape ``(N, C, *spatial)``.
            previous: upsampled output of the coarser scale (zeros at the coarsest), same shape.

        Returns:
            ``previous`` plus the generated residual, same shape.
        """
        x = F.pad(x, [self.padding] * (2 * self.spatial_dims))
        return self.tail(self.body(self.head(x))) + previous
