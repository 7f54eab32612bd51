"""Axial slices of multi-channel MR volumes: which slices to keep, per-channel intensity normalisation with its
inverse, centred padding or cropping to a size the generator pyramid likes, and the affine of every slice.

The rules follow Larsson et al., "Does an ensemble of GANs lead to better performance when training segmentation
networks with synthetic images?" (BraTS 2020): volumes rescaled to 0..255 per channel, slices kept when at least
15 % of their pixels are brighter than 50, zero-padded from 240x240 to 256x256. Pure functions: no file I/O.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

__all__ = ["ChannelRange", "brain_fraction", "centre_pad_or_crop", "denormalise_channels", "normalise_channels",
           "select_axial_slices", "slice_affine"]

# The paper's rule: intensity above 50 on a 0..255 scale.
DEFAULT_BRAIN_THRESHOLD = 50 / 255


@dataclass(frozen=True)
class ChannelRange:
    """Per-channel intensities mapped to 0 and 1 by :func:`normalise_channels`, kept for the inverse.

    Attributes:
        low: per channel, the value mapped to 0 (the channel's minimum over the volume).
        high: per channel, the value mapped to 1 (its maximum).
    """

    low: tuple[float, ...]
    high: tuple[float, ...]

    @classmethod
    def of(cls, volume: torch.Tensor) -> ChannelRange:
        """The per-channel minimum and maximum of a channel-first volume."""
        flat = torch.as_tensor(volume).reshape(volume.shape[0], -1).double()
        return cls(tuple(flat.amin(1).tolist()), tuple(flat.amax(1).tolist()))

    def _view(self, like: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        shape = (len(self.low),) + (1,) * (like.ndim - 1)
        low = torch.tensor(self.low, dtype=torch.float64, device=like.device).view(shape)
        high = torch.tensor(self.high, dtype=torch.float64, device=like.device).view(shape)
        return low, (high - low).clamp_min(1e-12)


def normalise_channels(volume: torch.Tensor, channel_range: ChannelRange | None = None) -> tuple[torch.Tensor, ChannelRange]:
    """Map each channel of a channel-first volume linearly from ``[low, high]`` to [0, 1].

    With the volume's own range this is ``monai.transforms.ScaleIntensity(minv=0, maxv=1, channel_wise=True)``
    (the paper's per-volume rescaling to 0..255, divided by 255), which the segmentation configs apply to whole
    volumes, so slices and volumes share one intensity scale.

    Args:
        volume: ``(C, *spatial)``.
        channel_range: the range to map from; the volume's own minimum and maximum per channel by default.

    Returns:
        The float32 volume in [0, 1] and the range, for :func:`denormalise_channels`.

    Raises:
        ValueError: a range with another number of channels than the volume.
    """
    channel_range = channel_range or ChannelRange.of(volume)
    if len(channel_range.low) != volume.shape[0]:
        raise ValueError(f"channel_range has {len(channel_range.low)} channels, the volume {volume.shape[0]}.")
    low, span = channel_range._view(volume)
    return ((torch.as_tensor(volume).double() - low) / span).float(), channel_range


def denormalise_channels(volume: torch.Tensor, channel_range: ChannelRange) -> torch.Tensor:
    """The inverse of :func:`normalise_channels`: [0, 1] back to each channel's original units (float64)."""
    low, span = channel_range._view(volume)
    return torch.as_tensor(volume).double() * span + low


def brain_fraction(image: torch.Tensor, threshold: float = DEFAULT_BRAIN_THRESHOLD,
                   brain_mask: torch.Tensor | None = None) -> torch.Tensor:
    """Per axial slice, the fraction of brain pixels.

    Args:
        image: normalised volume ``(C, X, Y, Z)`` in [0, 1], axial slices along the last axis.
        threshold: a pixel is brain when any channel exceeds it (the paper's 50 of 255).
        brain_mask: ``(1, X, Y, Z)`` or ``(X, Y, Z)``: when given, brain pixels are its non-zero pixels instead.

    Returns:
        ``(Z,)`` fractions in [0, 1].
    """
    if brain_mask is not None:
        brain = torch.as_tensor(brain_mask).reshape(image.shape[1:]) > 0.5
    else:
        brain = (torch.as_tensor(image) > threshold).any(dim=0)
    return brain.float().mean(dim=(0, 1))


def select_axial_slices(
    image: torch.Tensor,
    label: torch.Tensor | None = None,
    min_brain_fraction: float = 0.15,
    threshold: float = DEFAULT_BRAIN_THRESHOLD,
    brain_mask: torch.Tensor | None = None,
    tumour_only: bool = False,
    background: float = 0,
    max_slices: int | None = None,
) -> list[int]:
    """The axial slices to keep, by the ensemble paper's rule and optionally only those showing tumour.

    Args:
        image: normalised volume ``(C, X, Y, Z)`` in [0, 1].
        label: label map ``(1, X, Y, Z)``, needed for ``tumour_only``.
        min_brain_fraction: keep slices with at least this fraction of brain pixels (0.15 in the paper).
        threshold: see :func:`brain_fraction`.
        brain_mask: see :func:`brain_fraction`.
        tumour_only: keep only slices with a label other than ``background``.
        background: the background label value.
        max_slices: keep at most this many, evenly spaced among the eligible ones (first and last included).

    Returns:
        Slice indices along the last axis, ascending.

    Raises:
        ValueError: ``tumour_only`` without a label, ``min_brain_fraction`` outside [0, 1], ``max_slices < 1``.

    Example::

        >>> select_axial_slices(image, label, min_brain_fraction=0.15, tumour_only=True, max_slices=8)
        [61, 64, 68, 71, 75, 78, 82, 85]
    """
    if not 0 <= min_brain_fraction <= 1:
        raise ValueError(f"min_brain_fraction must lie in [0, 1], got {min_brain_fraction}.")
    if max_slices is not None and max_slices < 1:
        raise ValueError(f"max_slices must be at least 1, got {max_slices}.")
    keep = brain_fraction(image, threshold, brain_mask) >= min_brain_fraction
    if tumour_only:
        if label is None:
            raise ValueError("tumour_only needs the label map.")
        keep &= (torch.as_tensor(label).reshape(image.shape[1:]) != background).any(dim=0).any(dim=0)
    eligible = torch.nonzero(keep).flatten().tolist()
    if max_slices is not None and len(eligible) > max_slices:
        positions = np.linspace(0, len(eligible) - 1, max_slices).round().astype(int)
        eligible = [eligible[i] for i in positions]
    return eligible


def centre_pad_or_crop(x: torch.Tensor, size: Sequence[int], value: float = 0.0) -> tuple[torch.Tensor, tuple[int, ...]]:
    """Pad (with ``value``) or crop the trailing spatial axes of ``x`` to ``size``, centred.

    The split matches ``monai.transforms.ResizeWithPadOrCrop`` and the padding of ``SliceInferer``'s sliding
    window: ``(size - n) // 2`` before, the rest after (240 -> 256 pads 8 on each side).

    Args:
        x: ``(C, *spatial)``.
        size: the output spatial size, one entry per spatial axis.
        value: the padding value.

    Returns:
        The padded or cropped tensor, and per spatial axis the input index of output index 0 (negative when
        padded), which :func:`slice_affine` takes.
    """
    spatial = x.shape[1:]
    if len(size) != len(spatial):
        raise ValueError(f"size {tuple(size)} needs one entry per spatial axis of shape {tuple(spatial)}.")
    offsets = tuple(-((int(s) - n) // 2) if s >= n else (n - int(s)) // 2 for s, n in zip(size, spatial))
    out = torch.full((x.shape[0], *[int(s) for s in size]), value, dtype=x.dtype, device=x.device)
    source, target = [slice(None)], [slice(None)]
    for offset, s, n in zip(offsets, size, spatial):
        start = max(offset, 0)
        length = min(n - start, int(s) - max(-offset, 0))
        source.append(slice(start, start + length))
        target.append(slice(max(-offset, 0), max(-offset, 0) + length))
    out[tuple(target)] = x[tuple(source)]
    return out, offsets


def slice_affine(volume_affine: np.ndarray, slice_index: int, offsets: Sequence[int] = (0, 0)) -> np.ndarray:
    """The 4x4 affine of axial slice ``slice_index`` of a volume, after :func:`centre_pad_or_crop` moved its origin.

    The slice keeps the volume's voxel axes, so written as a one-slice NIfTI it lies where it lay in the volume.
    """
    affine = np.asarray(volume_affine, dtype=np.float64)
    shift = np.eye(4)
    shift[:3, 3] = [offsets[0], offsets[1], slice_index]
    return affine @ shift
