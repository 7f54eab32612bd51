"""Laplacian pyramid and random patch descriptors, the inputs of the sliced Wasserstein distance.

Pure tensor functions with no state: the randomness of the patch positions comes from the ``generator`` argument.
They reproduce ``pyr_down``, ``pyr_up``, ``generate_laplacian_pyramid`` and ``get_descriptors_for_minibatch`` of
the progressive-GAN reference code (Karras et al., 2018, ``metrics/sliced_wasserstein.py``) with torch instead of
``scipy.ndimage``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

__all__ = [
    "binomial_kernel",
    "default_num_levels",
    "laplacian_pyramid",
    "pyramid_down",
    "pyramid_up",
    "sample_patch_descriptors",
]


def binomial_kernel(dtype: torch.dtype = torch.float32, device: torch.device | None = None) -> torch.Tensor:
    """The 5x5 binomial kernel ``[1, 4, 6, 4, 1]^T [1, 4, 6, 4, 1] / 256`` used by ``cv2.pyrDown``.

    Args:
        dtype: dtype of the kernel.
        device: device of the kernel.

    Returns:
        A ``(5, 5)`` tensor summing to one.

    Example::

        >>> float(binomial_kernel().sum())
        1.0
    """
    taps = torch.tensor([1.0, 4.0, 6.0, 4.0, 1.0], dtype=dtype, device=device)
    return torch.outer(taps, taps) / 256.0


def _blur(images: torch.Tensor, gain: float) -> torch.Tensor:
    """Depthwise binomial blur with mirrored borders (scipy's ``mode="mirror"`` is torch's ``"reflect"``)."""
    channels = images.shape[1]
    kernel = binomial_kernel(images.dtype, images.device) * gain
    kernel = kernel.expand(channels, 1, 5, 5)
    padded = F.pad(images, (2, 2, 2, 2), mode="reflect")
    return F.conv2d(padded, kernel, groups=channels)


def pyramid_down(images: torch.Tensor) -> torch.Tensor:
    """Blur and keep every second pixel, as ``cv2.pyrDown``.

    Args:
        images: ``(B, C, H, W)`` batch with ``H, W >= 3``.

    Returns:
        ``(B, C, ceil(H / 2), ceil(W / 2))`` batch.

    Example::

        >>> pyramid_down(torch.zeros(1, 3, 16, 16)).shape
        torch.Size([1, 3, 8, 8])
    """
    return _blur(images, 1.0)[:, :, ::2, ::2]


def pyramid_up(images: torch.Tensor, output_size: tuple[int, int]) -> torch.Tensor:
    """Insert zeros between pixels and blur with four times the kernel, as ``cv2.pyrUp``.

    Args:
        images: ``(B, C, h, w)`` batch.
        output_size: ``(H, W)`` with ``H <= 2h`` and ``W <= 2w``; the result is cropped to it so that odd sizes
            round-trip through :func:`pyramid_down`.

    Returns:
        ``(B, C, H, W)`` batch.

    Example::

        >>> pyramid_up(torch.zeros(1, 1, 8, 8), (15, 16)).shape
        torch.Size([1, 1, 15, 16])
    """
    batch, channels, height, width = images.shape
    upsampled = images.new_zeros(batch, channels, 2 * height, 2 * width)
    upsampled[:, :, ::2, ::2] = images
    # The gain of 4 restores the mean intensity lost to the three inserted zeros out of every four pixels.
    return _blur(upsampled, 4.0)[:, :, : output_size[0], : output_size[1]]


def default_num_levels(height: int, width: int, min_size: int = 16) -> int:
    """Number of pyramid levels the reference uses: halve the resolution while it stays at least ``min_size``.

    Args:
        height: image height.
        width: image width.
        min_size: the coarsest level is at least this many pixels on its shorter side (16 in Karras et al.).

    Returns:
        At least one level.

    Example::

        >>> default_num_levels(128, 128)
        4
    """
    levels, resolution = 0, min(height, width)
    while resolution >= min_size:
        levels += 1
        resolution //= 2
    return max(levels, 1)


def laplacian_pyramid(images: torch.Tensor, num_levels: int) -> list[torch.Tensor]:
    """Laplacian pyramid, finest band first; the last level is the low-pass residual.

    Args:
        images: ``(B, C, H, W)`` batch.
        num_levels: number of levels, at least one.

    Returns:
        ``num_levels`` tensors; level ``k`` has about ``H / 2**k`` rows.

    Raises:
        ValueError: if ``num_levels`` is below one or the coarsest level would have fewer than 3 pixels a side.

    Example::

        >>> [level.shape[-1] for level in laplacian_pyramid(torch.rand(2, 3, 32, 32), 3)]
        [32, 16, 8]
    """
    if num_levels < 1:
        raise ValueError(f"num_levels must be at least 1, got {num_levels}.")
    if min(images.shape[-2:]) < 3 * 2 ** (num_levels - 1):
        raise ValueError(f"images of size {tuple(images.shape[-2:])} are too small for {num_levels} pyramid levels.")
    pyramid = [images.float()]
    for _ in range(1, num_levels):
        coarser = pyramid_down(pyramid[-1])
        # Each band keeps only what the next coarser level cannot predict (Burt and Adelson's Laplacian pyramid).
        pyramid[-1] = pyramid[-1] - pyramid_up(coarser, (pyramid[-1].shape[-2], pyramid[-1].shape[-1]))
        pyramid.append(coarser)
    return pyramid


def _region_centres(region: torch.Tensor, patch_size: int, count: int, generator: torch.Generator
                    ) -> tuple[torch.Tensor, torch.Tensor] | None:
    """``count`` centres, drawn with replacement, of patches that lie wholly inside ``region`` ``(H, W)``."""
    half = patch_size // 2
    outside = (~region.bool()).float()[None, None]
    # A centre is valid when no pixel of its patch is outside the region (and the patch is inside the image).
    touches = F.max_pool2d(outside, patch_size, stride=1)[0, 0] > 0  # (H - 2 half, W - 2 half)
    valid = (~touches).flatten().float().cpu()
    if valid.sum() == 0:
        return None
    picks = torch.multinomial(valid, count, replacement=True, generator=generator).to(region.device)
    width = region.shape[-1] - 2 * half
    return picks // width + half, picks % width + half


def sample_patch_descriptors(
    level: torch.Tensor,
    patch_size: int,
    patches_per_image: int,
    generator: torch.Generator,
    region: torch.Tensor | None = None,
) -> torch.Tensor:
    """Random ``patch_size`` x ``patch_size`` neighbourhoods of each image, flattened to descriptors.

    Positions are drawn image by image, so splitting the same images into other batches draws the same patches.

    Args:
        level: ``(B, C, H, W)`` pyramid level with ``H, W >= patch_size``.
        patch_size: odd side of the square neighbourhood (7 in Karras et al.).
        patches_per_image: neighbourhoods drawn from each image (128 in Karras et al.).
        generator: source of the patch centres.
        region: ``(B, H, W)`` boolean masks: draw only patches that lie wholly inside each image's region (e.g.
            the background outside a lesion, so that its texture is scored apart from the lesion's). An image
            with no such patch gives NaN descriptors, which :class:`SlicedWassersteinDistance` leaves out.

    Returns:
        ``(B, patches_per_image, C * patch_size**2)`` descriptors.

    Raises:
        ValueError: if ``patch_size`` is even or larger than the level.

    Example::

        >>> sample_patch_descriptors(torch.rand(2, 3, 16, 16), 7, 5, torch.Generator().manual_seed(0)).shape
        torch.Size([2, 5, 147])
    """
    if patch_size % 2 == 0:
        raise ValueError(f"patch_size must be odd, got {patch_size}.")
    batch, channels, height, width = level.shape
    if min(height, width) < patch_size:
        raise ValueError(f"a level of size {(height, width)} is smaller than patch_size={patch_size}.")
    half = patch_size // 2
    offsets = torch.arange(-half, half + 1, device=level.device)
    descriptors = []
    if region is not None and tuple(region.shape) != (batch, height, width):
        raise ValueError(f"region must be (B, H, W) = {(batch, height, width)}, got {tuple(region.shape)}.")
    for index, image in enumerate(level):
        if region is None:
            centre_rows = torch.randint(half, height - half, (patches_per_image,), generator=generator).to(level.device)
            centre_cols = torch.randint(half, width - half, (patches_per_image,), generator=generator).to(level.device)
        else:
            centres = _region_centres(region[index], patch_size, patches_per_image, generator)
            if centres is None:
                descriptors.append(level.new_full((patches_per_image, channels * patch_size**2), float("nan")))
                continue
            centre_rows, centre_cols = centres
        rows = (centre_rows[:, None] + offsets[None, :])[:, :, None]
        cols = (centre_cols[:, None] + offsets[None, :])[:, None, :]
        patches = image[:, rows, cols]  # (C, patches, patch_size, patch_size)
        descriptors.append(patches.permute(1, 0, 2, 3).reshape(patches_per_image, -1))
    return torch.stack(descriptors).reshape(batch, patches_per_image, channels * patch_size**2)
