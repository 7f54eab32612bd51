"""Write sampled image+label pairs in the training input's format; every file is written whole or not at all."""

from __future__ import annotations

import glob
import gzip
import io
import json
import os
import re
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, BinaryIO

import nibabel as nib
import numpy as np
import torch
from monai.transforms.utils import scale_affine
from PIL import Image

from monai_singanseg.data.io import FileFormat
from monai_singanseg.visualize.figures import to_uint8_rgb  # re-exported: its old home

__all__ = ["remove_temporaries", "resized_affine", "temporary_target", "to_uint8_rgb", "write_atomically",
           "write_bytes", "write_json", "write_nifti", "write_pair", "write_png"]

# nibabel's own default: NIfTI volumes compress well at level 1 and level 9 costs several times the time.
_NIFTI_COMPRESSLEVEL = 1
# The temporary files of write_bytes: ".<name>.<random>.tmp", as tempfile.mkstemp names them.
_TEMPORARY_NAME = re.compile(r"\.(?P<name>.+)\.\w+\.tmp")


def temporary_target(name: str) -> str | None:
    """The file name a temporary file of :func:`write_bytes` was to become (``.grid.png.k2x9.tmp`` ->
    ``grid.png``), or None for any other name; lets a folder's owner recognise what an interrupted run left."""
    match = _TEMPORARY_NAME.fullmatch(name)
    return match["name"] if match else None


def remove_temporaries(path: str | os.PathLike) -> list[Path]:
    """Delete the temporary files that killed writes of ``path`` left beside it (see :func:`write_atomically`).

    Only for a file that no other process is writing at the same time (e.g. a checkpoint owned by one rank): a
    live writer's temporary file would be removed too.

    Returns:
        The files removed.
    """
    path = Path(path)
    stale = [p for p in path.parent.glob(f".{glob.escape(path.name)}.*.tmp") if temporary_target(p.name) == path.name]
    for p in stale:
        p.unlink(missing_ok=True)
    return stale


def write_atomically(path: str | os.PathLike, write: Callable[[BinaryIO], Any]) -> Path:
    """Call ``write`` on a temporary file beside ``path``, then rename it: a killed process never leaves half a file.

    The one atomic writer of the package (samples, datalists, summaries, checkpoints). The temporary file is
    ``.<name>.<random>.tmp`` in the same folder (a rename within one file system is atomic); it is flushed to disk
    before the rename, and removed if ``write`` fails, leaving any earlier ``path`` as it was.

    Returns:
        The path written.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def write_bytes(data: bytes, path: str | os.PathLike) -> Path:
    """Write ``data`` to ``path`` atomically (see :func:`write_atomically`)."""
    return write_atomically(path, lambda f: f.write(data))


def write_json(data: Any, path: str | os.PathLike, indent: int = 2) -> Path:
    """Write plain data as JSON, atomically (see :func:`write_bytes`); a datalist is never left half-written."""
    return write_bytes(json.dumps(data, indent=indent).encode(), path)


def write_png(array: np.ndarray, path: str | os.PathLike) -> Path:
    """Write an ``H x W`` or ``H x W x 3`` uint8 array as PNG, atomically (see :func:`write_bytes`)."""
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG")
    return write_bytes(buffer.getvalue(), path)


def write_nifti(array: np.ndarray, affine: np.ndarray, path: str | os.PathLike) -> Path:
    """Write ``array`` with its 4x4 ``affine`` as NIfTI (gzipped for ``*.gz`` names), atomically.

    The gzip header carries no time stamp, so the same array gives the same bytes on every run.
    """
    path = Path(path)
    data = nib.Nifti1Image(array, np.asarray(affine, dtype=np.float64)).to_bytes()
    if path.name.endswith(".gz"):
        data = gzip.compress(data, compresslevel=_NIFTI_COMPRESSLEVEL, mtime=0)
    return write_bytes(data, path)


def resized_affine(affine: Any, source_shape: Sequence[int], shape: Sequence[int]) -> np.ndarray:
    """The affine of a grid of ``shape`` voxels covering the same field of view as ``source_shape`` voxels did.

    Voxel spacing grows by ``source_shape / shape`` along each voxel axis, orientation is kept, and the origin moves
    so both grids share their outer corners, as ``torch.nn.functional.interpolate(align_corners=False)`` (how the
    pyramid resizes) and MONAI's ``Resize`` place them.

    Args:
        affine: the source grid's 4x4 voxel-to-world affine.
        source_shape: the source grid's spatial shape (2 or 3 axes).
        shape: the new grid's spatial shape, as many axes.

    Returns:
        The new grid's 4x4 affine.

    Raises:
        ValueError: ``affine`` is not 4x4, or the shapes have different or more than 3 axes.

    Example::

        >>> resized_affine(np.diag([1.0, 1.0, 1.0, 1.0]), (64, 64, 32), (32, 32, 32))[:3, :3].diagonal()
        array([2., 2., 1.])
    """
    affine = np.asarray(affine, dtype=np.float64)
    if affine.shape != (4, 4):
        raise ValueError(f"affine must be 4x4, got shape {affine.shape}.")
    source_shape, shape = [int(s) for s in source_shape], [int(s) for s in shape]
    if len(source_shape) != len(shape) or not 1 <= len(shape) <= 3:
        raise ValueError(f"source_shape {tuple(source_shape)} and shape {tuple(shape)} must have the same 1 to 3 axes.")
    pad = [1] * (3 - len(shape))
    return affine @ scale_affine(source_shape + pad, shape + pad)


def write_pair(
    image: torch.Tensor,
    label: torch.Tensor,
    out_dir: str | os.PathLike,
    stem: str,
    file_format: FileFormat | str,
    affine: Any = None,
) -> tuple[Path, Path]:
    """Write one decoded pair as ``<stem>_image`` and ``<stem>_label`` files, each atomically.

    PNG: RGB or grey 8-bit image (other dtypes stretched to 8 bits) and a grey label PNG of the label values
    (which must fit in 0..255). NIfTI: image and label share ``affine`` (identity by default) and their spatial
    axes. A one-channel image is stored ``(*spatial)`` like its label; a multi-channel one ``(X, Y, Z, C)``, NIfTI's
    spatial axes first and the channels after them, with a 2D pair given a one-voxel-thick third axis (image
    ``(X, Y, 1, C)``, label ``(X, Y, 1)``) so no reader takes channels for slices.

    Args:
        image: channel-first image ``(C, *spatial)``.
        label: channel-first label map ``(1, *spatial)``.
        out_dir: destination folder.
        stem: file name stem.
        file_format: ``png`` or ``nifti``.
        affine: 4x4 affine of the pair's own grid, for NIfTI (see :func:`resized_affine` for samples drawn at
            another size than the source).

    Returns:
        The image and label paths.

    Raises:
        ValueError: a PNG pair that is not 2D or whose labels do not fit in 0..255; an affine that is not 4x4.
    """
    out_dir = Path(out_dir)
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
    affine_np = np.eye(4) if affine is None else np.asarray(affine, dtype=np.float64)
    if affine_np.shape != (4, 4):
        raise ValueError(f"affine must be 4x4, got shape {affine_np.shape}.")
    if image_np.shape[0] == 1:
        image_out = image_np[0]
    else:
        spatial = image_np.shape[1:] + (1,) * (3 - (image_np.ndim - 1))
        image_out = np.moveaxis(image_np, 0, -1).reshape(*spatial, image_np.shape[0])
        label_np = label_np.reshape(spatial)
    image_path = write_nifti(image_out, affine_np, out_dir / f"{stem}_image.nii.gz")
    label_path = write_nifti(label_np, affine_np, out_dir / f"{stem}_label.nii.gz")
    return image_path, label_path
