"""Shared input handling of the style methods: which channels are image, style batch and size, putting labels back."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F

__all__ = ["resolve_image_channels", "split_image_channels", "merge_image_channels"]


def resolve_image_channels(image_channels: Sequence[int] | int | None, num_channels: int) -> list[int]:
    """Indices of the channels to restyle.

    Args:
        image_channels: ``None`` for all channels, an int for the first that many channels (RGB then mask: 3), or
            explicit indices.
        num_channels: number of channels of the content tensor.

    Returns:
        Sorted, distinct channel indices.

    Raises:
        ValueError: when the count or an index is out of range, or no channel is selected.
    """
    if image_channels is None:
        return list(range(num_channels))
    if isinstance(image_channels, int):
        if not 1 <= image_channels <= num_channels:
            raise ValueError(f"image_channels as a count must be in [1, {num_channels}], got {image_channels}.")
        return list(range(image_channels))
    indices = sorted({int(index) for index in image_channels})
    if not indices or indices[0] < 0 or indices[-1] >= num_channels:
        raise ValueError(f"image_channels must be indices in [0, {num_channels - 1}], got {tuple(image_channels)}.")
    return indices


def split_image_channels(
    content: torch.Tensor,
    style: torch.Tensor,
    image_channels: Sequence[int] | int | None,
    match_size: bool = True,
) -> tuple[list[int], torch.Tensor, torch.Tensor]:
    """Pick the image channels of content and style, broadcast a single style and resize it to the content.

    Args:
        content: batch of shape (N, C, *spatial).
        style: batch of shape (N or 1, C or len(image_channels), *spatial_s), same number of spatial dims.
        image_channels: see :func:`resolve_image_channels`.
        match_size: resize the style to the content's spatial shape (linear interpolation, antialiased in 2D as
            the reference's PIL resize), needed when the method compares the two pixel for pixel or in frequency.

    Returns:
        The channel indices, the content image channels (N, I, *spatial) and the style (N, I, *spatial or
        *spatial_s).

    Raises:
        ValueError: when the shapes do not fit together.
    """
    if content.ndim < 3 or style.ndim != content.ndim:
        raise ValueError(
            "content and style must be batches (N, C, *spatial) with the same number of dimensions, "
            f"got shapes {tuple(content.shape)} and {tuple(style.shape)}."
        )
    indices = resolve_image_channels(image_channels, content.shape[1])
    if style.shape[1] == content.shape[1] and style.shape[1] != len(indices):
        style = style[:, indices]
    elif style.shape[1] != len(indices):
        raise ValueError(
            f"style must have the content's {content.shape[1]} channels or only its {len(indices)} image channels, "
            f"got {style.shape[1]}."
        )
    if style.shape[0] not in (1, content.shape[0]):
        raise ValueError(f"style must hold 1 or {content.shape[0]} images (one per content image), got {len(style)}.")
    style = style.expand(content.shape[0], *style.shape[1:])
    if match_size and style.shape[2:] != content.shape[2:]:
        mode = {1: "linear", 2: "bilinear", 3: "trilinear"}[content.ndim - 2]
        style = F.interpolate(
            style.float(), size=content.shape[2:], mode=mode, align_corners=False, antialias=content.ndim == 4
        )
    return indices, content[:, indices], style


def merge_image_channels(content: torch.Tensor, restyled: torch.Tensor, indices: list[int]) -> torch.Tensor:
    """Write the restyled image channels into a copy of ``content``; the other channels stay bit-identical.

    Args:
        content: the original batch (N, C, *spatial).
        restyled: the new image channels (N, len(indices), *spatial).
        indices: channel indices from :func:`split_image_channels`.

    Returns:
        A new tensor with the dtype and device of ``content``.
    """
    out = content.clone()
    out[:, indices] = restyled.to(device=content.device, dtype=content.dtype)
    return out
