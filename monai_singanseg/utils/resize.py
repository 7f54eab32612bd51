"""Resizing of image+label stacks between pyramid scales, in torch on the tensors' own device."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from monai.networks.layers import GaussianFilter

from monai_singanseg.utils.pyramid import upsampled_shape

__all__ = ["resize", "upsample_to_scale"]


def resize(x: torch.Tensor, shape: Sequence[int]) -> torch.Tensor:
    """Resize a batch ``(N, C, *spatial)`` to ``shape``, antialiased when shrinking.

    2D uses torch's antialiased bicubic: the cubic kernel with a = -0.5 and half-pixel centres, the kernel of the
    MATLAB-style ``imresize`` the reference uses, widened by the shrink factor. 3D has no antialiased cubic in
    torch, so it smooths with a Gaussian (sigma = (1/scale - 1) / 2, as ``monai.transforms.Resize``) and then
    interpolates trilinearly. Image and label channels are resized alike: labels are continuous here.

    Args:
        x: batch of shape ``(N, C, H, W)`` or ``(N, C, D, H, W)``.
        shape: target spatial shape.

    Returns:
        The resized batch, same dtype and device.
    """
    shape = tuple(int(s) for s in shape)
    spatial_dims = x.ndim - 2
    if len(shape) != spatial_dims:
        raise ValueError(f"shape {shape} does not match the {spatial_dims} spatial dimensions of x.")
    if tuple(x.shape[2:]) == shape:
        return x
    if spatial_dims == 2:
        return F.interpolate(x, size=shape, mode="bicubic", align_corners=False, antialias=True)
    scales = [out / size for out, size in zip(shape, x.shape[2:])]
    if min(scales) < 1:
        sigma = [max((1 / s - 1) / 2, 0.0) for s in scales]
        x = GaussianFilter(spatial_dims, sigma=sigma).to(x.device)(x)
    return F.interpolate(x, size=shape, mode="trilinear", align_corners=False)


def upsample_to_scale(x: torch.Tensor, shape: Sequence[int], scale_factor: float) -> torch.Tensor:
    """Carry an output of one scale up to the next, as the reference does between scales.

    The reference enlarges by ``1 / scale_factor`` (``ceil`` of the shape), clamps to [-1, 1] (its ``imresize``
    round-trips through uint8) and crops the top-left corner to the next scale's shape. The uint8 quantisation
    itself is not reproduced: it only adds rounding noise below 1/255.

    Args:
        x: output of scale ``k``, ``(N, C, *spatial)``.
        shape: spatial shape of scale ``k + 1``.
        scale_factor: the pyramid's factor between scales.

    Returns:
        The batch at ``shape``.
    """
    target = tuple(int(s) for s in shape)
    enlarged = tuple(max(e, t) for e, t in zip(upsampled_shape(x.shape[2:], scale_factor), target))
    y = resize(x, enlarged).clamp(-1, 1)
    return y[(..., *(slice(0, s) for s in target))]
