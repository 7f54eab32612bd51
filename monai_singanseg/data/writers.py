"""Write sampled image+label pairs in the training input's format."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import nibabel as nib
import numpy as np
import torch
from PIL import Image

from monai_singanseg.data.io import FileFormat

__all__ = ["to_uint8_rgb", "write_pair", "write_png"]


def to_uint8_rgb(image: torch.Tensor | np.ndarray, intensity_min: float | None = None, intensity_max: float | None = None) -> np.ndarray:
    """A channel-first 2D image as ``H x W x 3`` uint8 for viewing: RGB kept, one channel greyed, others the first.

    uint8 images are kept as they are; other dtypes are stretched from ``[intensity_min, intensity_max]`` (their own
    range by default) to [0, 255].
    """
    array = np.asarray(image.detach().cpu() if isinstance(image, torch.Tensor) else image)
    if array.dtype != np.uint8:
        low = float(array.min()) if intensity_min is None else intensity_min
        high = float(array.max()) if intensity_max is None else intensity_max
        array = np.clip((array.astype(np.float64) - low) / max(high - low, 1e-12) * 255, 0, 255).round().astype(np.uint8)
    if array.shape[0] == 3:
        return np.ascontiguousarray(np.moveaxis(array, 0, -1))
    return np.repeat(array[0][..., None], 3, axis=-1)


def write_png(array: np.ndarray, path: str | os.PathLike) -> Path:
    """Write an ``H x W`` or ``H x W x 3`` uint8 array as PNG (temporary file then rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    Image.fromarray(array).save(tmp, format="PNG")
    os.replace(tmp, path)
    return path


def write_pair(
    image: torch.Tensor,
    label: torch.Tensor,
    out_dir: str | os.PathLike,
    stem: str,
    file_format: FileFormat | str,
    affine: Any = None,
) -> tuple[Path, Path]:
    """Write one decoded pair as ``<stem>_image`` and ``<stem>_label`` files.

    PNG: RGB or grey 8-bit image (other dtypes stretched to 8 bits) and a grey label PNG of the label values
    (which must fit in 0..255). NIfTI: channel-last image ``(*spatial, C)`` and label ``(*spatial)`` with
    ``affine`` (identity by default).

    Args:
        image: channel-first image ``(C, *spatial)``.
        label: channel-first label map ``(1, *spatial)``.
        out_dir: destination folder.
        stem: file name stem.
        file_format: ``png`` or ``nifti``.
        affine: 4x4 affine for NIfTI.

    Returns:
        The image and label paths.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    image_np = np.asarray(image.detach().cpu())
    label_np = np.asarray(label.detach().cpu())[0]
    if FileFormat(file_format) == FileFormat.PNG:
        if image_np.ndim != 3:
            raise ValueError(f"PNG output needs 2D samples, got spatial shape {image_np.shape[1:]}.")
        if label_np.min() < 0 or label_np.max() > 255:
            raise ValueError("label values outside 0..255 cannot be written as PNG: use NIfTI.")
        image_path = write_png(to_uint8_rgb(image_np), out_dir / f"{stem}_image.png")
        label_path = write_png(label_np.astype(np.uint8), out_dir / f"{stem}_label.png")
        return image_path, label_path
    affine_np = np.eye(4) if affine is None else np.asarray(affine, dtype=float)
    image_path, label_path = out_dir / f"{stem}_image.nii.gz", out_dir / f"{stem}_label.nii.gz"
    channels_last = np.moveaxis(image_np, 0, -1)
    if image_np.ndim == 3 and image_np.shape[0] > 1:
        # NIfTI keeps channels in its 5th dimension: a 2D multi-channel slice is (H, W, 1, C), not a C-slice volume.
        channels_last = channels_last[:, :, None, :]
    nib.save(nib.Nifti1Image(channels_last, affine_np), str(image_path))
    nib.save(nib.Nifti1Image(label_np, affine_np), str(label_path))
    return image_path, label_path
