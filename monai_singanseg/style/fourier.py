"""Fourier domain adaptation: swap the low-frequency amplitude spectrum of an image for that of a style image."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch

from monai_singanseg.style._channels import merge_image_channels, split_image_channels

__all__ = ["fourier_domain_adaptation"]


def fourier_domain_adaptation(
    content: torch.Tensor,
    style: torch.Tensor,
    beta: float = 0.01,
    image_channels: Sequence[int] | int | None = None,
) -> torch.Tensor:
    """Give each content image the low-frequency amplitude spectrum of its style image, keeping its phase.

    Yang and Soatto, "FDA: Fourier Domain Adaptation for Semantic Segmentation", CVPR 2020. The amplitude of the
    centred spectrum inside a window of half-width ``floor(beta * min(spatial))`` around the zero frequency is
    taken from the style image (colour, brightness and smooth shading); the phase, which carries the edges and
    shapes, stays the content's. Per channel, for any channel count and any number of spatial dimensions. Needs no
    network weights, so it serves where the VGG19 file is unavailable. The output is not clamped: it may leave the
    input's intensity range slightly.

    Args:
        content: batch (N, C, *spatial).
        style: style images (N or 1, C or I, *spatial_s), resized to the content's spatial shape when they differ.
        beta: window half-width as a fraction of the shortest side, in [0, 0.5]; the paper used 0.01 to 0.09.
            ``0`` swaps the zero-frequency amplitude only (the mean intensity).
        image_channels: channels to restyle (count of leading channels, or indices); ``None``: all. The others
            are copied bit for bit.

    Returns:
        The restyled batch, shape, dtype and device of ``content``.

    Raises:
        ValueError: when ``beta`` is outside [0, 0.5] or the shapes do not fit together.

    Example::

        >>> content, style = torch.rand(1, 3, 32, 32), torch.rand(1, 3, 32, 32) + 1.0
        >>> out = fourier_domain_adaptation(content, style, beta=0.05)
        >>> bool(abs(out.mean() - style.mean()) < abs(content.mean() - style.mean()))
        True
    """
    if not 0.0 <= beta <= 0.5:
        raise ValueError(f"beta must be in [0, 0.5], got {beta}.")
    indices, image, style_image = split_image_channels(content, style, image_channels)
    spatial_dims = tuple(range(2, image.ndim))
    spectrum = torch.fft.fftshift(torch.fft.fftn(image.float(), dim=spatial_dims), dim=spatial_dims)
    style_spectrum = torch.fft.fftshift(torch.fft.fftn(style_image.float(), dim=spatial_dims), dim=spatial_dims)
    # After fftshift the zero frequency sits at index n // 2 of every axis; the window is symmetric around it, so
    # the mutated spectrum stays Hermitian and the inverse transform real (up to rounding), as in the paper's code.
    half_width = math.floor(min(image.shape[2:]) * beta)
    window = (slice(None), slice(None)) + tuple(
        slice(max(size // 2 - half_width, 0), size // 2 + half_width + 1) for size in image.shape[2:]
    )
    amplitude, phase = spectrum.abs(), spectrum.angle()
    amplitude[window] = style_spectrum.abs()[window]
    mutated = torch.polar(amplitude, phase)
    restyled = torch.fft.ifftn(torch.fft.ifftshift(mutated, dim=spatial_dims), dim=spatial_dims).real
    return merge_image_channels(content, restyled, indices)
