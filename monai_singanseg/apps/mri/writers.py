"""Write 2D multi-channel slices as NIfTI, each file atomically."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import torch

from monai_singanseg.data.datalist import read_datalist, write_datalist  # re-exported for one release
from monai_singanseg.data.writers import write_nifti

__all__ = ["read_datalist", "write_datalist", "write_slice_nifti"]


def _numpy(x: Any) -> np.ndarray:
    return np.asarray(x.detach().cpu() if isinstance(x, torch.Tensor) else x)


def write_slice_nifti(
    image: Any,
    label: Any | None,
    affine: Any,
    out_dir: str | os.PathLike,
    stem: str,
    label_dtype: str = "int16",
) -> tuple[Path, Path | None]:
    """Write a slice ``(C, X, Y)`` and its label ``(1, X, Y)`` as ``<stem>_image.nii.gz`` and ``<stem>_label.nii.gz``.

    The image is stored ``(X, Y, 1, C)``: three spatial axes (a one-voxel-thick slice placed by ``affine``) and the
    channels on the fourth, so ``LoadImage(ensure_channel_first=True)`` reads it back as ``(C, X, Y, 1)`` and no
    reader mistakes channels for slices.

    Args:
        image: channel-first slice, float.
        label: label map, or None.
        affine: the slice's 4x4 RAS affine (see :func:`~monai_singanseg.apps.mri.slices.slice_affine`).
        out_dir: destination folder (created).
        stem: file name stem.
        label_dtype: dtype of the stored label.

    Returns:
        The image path and the label path (None without a label).
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    affine = np.asarray(affine, dtype=np.float64)
    image_np = _numpy(image).astype(np.float32)
    if image_np.ndim != 3:
        raise ValueError(f"image must be (C, X, Y), got shape {image_np.shape}.")
    image_path = out_dir / f"{stem}_image.nii.gz"
    write_nifti(np.moveaxis(image_np, 0, -1)[:, :, None, :], affine, image_path)
    if label is None:
        return image_path, None
    label_np = _numpy(label).reshape(image_np.shape[1:])
    label_path = out_dir / f"{stem}_label.nii.gz"
    write_nifti(np.rint(label_np).astype(label_dtype)[:, :, None], affine, label_path)
    return image_path, label_path
