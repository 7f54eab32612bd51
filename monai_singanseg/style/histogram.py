"""Per-channel histogram matching of images to style images, with optional masks."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from monai.config import NdarrayOrTensor
from monai.utils import convert_to_dst_type, convert_to_tensor

from monai_singanseg.style._channels import merge_image_channels, split_image_channels

__all__ = ["match_histograms"]


def _interpolate(x: torch.Tensor, xp: torch.Tensor, fp: torch.Tensor) -> torch.Tensor:
    """``numpy.interp`` for increasing ``xp``: piecewise linear, constant beyond the ends."""
    if xp.numel() == 1:
        return fp.expand_as(x).clone()
    upper = torch.searchsorted(xp, x, right=True).clamp(1, xp.numel() - 1)
    x0, x1, f0, f1 = xp[upper - 1], xp[upper], fp[upper - 1], fp[upper]
    weight = ((x - x0) / (x1 - x0)).clamp(0.0, 1.0)
    return f0 + weight * (f1 - f0)


def _match_values(source: torch.Tensor, template: torch.Tensor) -> torch.Tensor:
    """Map ``source`` values so that their empirical distribution matches ``template``'s (both 1D).

    The quantile of each distinct source value is looked up in the template's quantile function, as in
    ``skimage.exposure.match_histograms``, so equal inputs stay equal and the order is kept.
    """
    source_values, source_inverse, source_counts = torch.unique(source, return_inverse=True, return_counts=True)
    template_values, template_counts = torch.unique(template, return_counts=True)
    source_quantiles = torch.cumsum(source_counts, 0).double() / source.numel()
    template_quantiles = torch.cumsum(template_counts, 0).double() / template.numel()
    mapped = _interpolate(source_quantiles, template_quantiles, template_values.double())
    return mapped[source_inverse].to(source.dtype)


def match_histograms(
    content: NdarrayOrTensor,
    style: NdarrayOrTensor,
    image_channels: Sequence[int] | int | None = None,
    content_mask: NdarrayOrTensor | None = None,
    style_mask: NdarrayOrTensor | None = None,
) -> NdarrayOrTensor:
    """Match the histogram of every image channel of every content image to the same channel of its style image.

    Histogram specification (Gonzalez and Woods, "Digital Image Processing", ch. 3), the classical colour transfer:
    it gives each channel exactly the style's value distribution but, unlike Gatys et al., ignores texture and
    correlations between channels. Needs no network weights. Values stay within the style's range.

    Args:
        content: batch (N, C, *spatial), numpy or torch.
        style: style images (N or 1, C or I, *spatial_s); sizes may differ from the content's.
        image_channels: channels to match (count of leading channels, or indices); ``None``: all. The others are
            copied bit for bit.
        content_mask: optional boolean (N or 1, 1 or I, *spatial): only these content pixels are matched (and
            define the source distribution); the rest are kept.
        style_mask: optional boolean (N or 1, 1 or I, *spatial_s): only these style pixels define the target.

    Returns:
        The matched batch, same type, shape and dtype as ``content``.

    Raises:
        ValueError: when shapes do not fit together, or ``style_mask`` selects no pixel where ``content_mask``
            selects some.

    Example::

        >>> import numpy as np
        >>> content, style = np.random.rand(1, 3, 16, 16), np.random.rand(1, 3, 20, 20) * 0.5
        >>> out = match_histograms(content, style)
        >>> bool(out[0, 0].max() == style[0, 0].max() and out[0, 0].min() >= style[0, 0].min())
        True
    """
    content_t = convert_to_tensor(content, track_meta=False)
    style_t = convert_to_tensor(style, track_meta=False, device=content_t.device)
    indices, image, style_image = split_image_channels(content_t, style_t, image_channels, match_size=False)

    def expand_mask(mask: NdarrayOrTensor | None, like: torch.Tensor, name: str) -> torch.Tensor:
        if mask is None:
            return torch.ones_like(like, dtype=torch.bool)
        mask_t = convert_to_tensor(mask, track_meta=False, device=like.device).bool()
        try:
            return mask_t.expand_as(like)
        except RuntimeError as error:
            message = f"{name} of shape {tuple(mask_t.shape)} does not broadcast to {tuple(like.shape)}."
            raise ValueError(message) from error

    content_keep = expand_mask(content_mask, image, "content_mask")
    style_keep = expand_mask(style_mask, style_image, "style_mask")
    matched = image.clone()
    for sample in range(image.shape[0]):
        for channel in range(image.shape[1]):
            where = content_keep[sample, channel]
            if not where.any():
                continue  # nothing of this channel to match
            template = style_image[sample, channel][style_keep[sample, channel]]
            if template.numel() == 0:
                raise ValueError(f"style_mask selects no pixel of sample {sample}, channel {indices[channel]}.")
            matched[sample, channel][where] = _match_values(image[sample, channel][where], template.to(image.dtype))
    out = merge_image_channels(content_t, matched, indices)
    return convert_to_dst_type(out, content)[0]
