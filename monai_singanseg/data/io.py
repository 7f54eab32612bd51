"""Read training image+label pairs through MONAI's ``LoadImage``, and tell what format they came in."""

from __future__ import annotations

import os
from enum import StrEnum
from pathlib import Path
from typing import Any

import numpy as np
import torch
from monai.data import MetaTensor
from monai.data.image_reader import PILReader
from monai.transforms import LoadImage

__all__ = ["FileFormat", "file_format_of", "image_id_of", "load_image", "load_training_pair"]

_PIL_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")


class FileFormat(StrEnum):
    """Formats samples are written in: the training input's own."""

    PNG = "png"
    NIFTI = "nifti"


def image_id_of(path: str | os.PathLike) -> str:
    """The image id of a file, shared by training, banks, fleets and transforms: its name without the extension
    (``polyp.v2.jpg`` -> ``polyp.v2``, ``brain.nii.gz`` -> ``brain``)."""
    name = Path(path).name
    return name[: -len(".nii.gz")] if name.lower().endswith(".nii.gz") else Path(name).stem


def file_format_of(path: str | os.PathLike) -> FileFormat:
    """PNG for 2D photographs (PNG, JPEG, BMP, TIFF), NIfTI for volumes (NIfTI, DICOM, anything else)."""
    return FileFormat.PNG if str(path).lower().endswith(_PIL_SUFFIXES) else FileFormat.NIFTI


def load_image(path: str | os.PathLike, argument: str = "image") -> MetaTensor:
    """Load one file (or DICOM series folder) channel-first.

    Photographs are read in numpy's row-major order (``H, W``), not MONAI's default transposed PIL order, so shapes
    read as the reference reads them (a 332x487 image is ``(C, 332, 487)``).

    Raises:
        FileNotFoundError: ``path`` does not exist (named with ``argument``).
        ValueError: ``path`` cannot be read as an image.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{argument} file {path} does not exist.")
    reader = PILReader(reverse_indexing=False) if str(path).lower().endswith(_PIL_SUFFIXES) else None
    try:
        loaded = LoadImage(reader=reader, image_only=True, ensure_channel_first=True, dtype=None)(str(path))
    except Exception as err:  # readers raise many types; the user needs the file name and the cause
        raise ValueError(f"cannot read {argument} file {path}: {err}") from None
    if loaded.ndim == 4 and loaded.shape[-1] == 1:
        # A single-slice volume (one DICOM image, a 2D NIfTI) is a 2D image.
        loaded = loaded[..., 0]
    return loaded


def _binarise(label: torch.Tensor, threshold: float) -> torch.Tensor:
    return (label > threshold).to(torch.uint8)


def load_training_pair(
    image: str | os.PathLike,
    label: str | os.PathLike | None = None,
    label_threshold: float | None = None,
) -> tuple[MetaTensor, MetaTensor, dict[str, Any]]:
    """Load a training image and its label map.

    Accepted: an image file plus a label file (PNG/JPEG photo + mask, NIfTI, DICOM), or one RGBA PNG with the mask
    in its alpha channel (how the SinGAN-Seg reference stores its inputs). Masks stored as 3 identical channels are
    reduced to one.

    Args:
        image: image file (or DICOM folder).
        label: label file; omit for an RGBA PNG with the mask in alpha.
        label_threshold: binarise the label to {0, 1} at this value (JPEG masks have artefacts: use 127).

    Returns:
        ``(image, label, info)``: channel-first image and 1-channel label with their metadata, and plain
        provenance data (``source``, ``label_source``, ``file_format``, ``affine``).

    Raises:
        FileNotFoundError: a file does not exist.
        ValueError: unreadable file, missing alpha channel, mismatched shapes, or a multi-channel label.
    """
    loaded = load_image(image, "image")
    if label is None:
        if loaded.shape[0] != 4 or file_format_of(image) != FileFormat.PNG:
            raise ValueError(
                f"no label given and image {image} is not an RGBA PNG with the mask in alpha "
                f"({loaded.shape[0]} channels): pass a label file."
            )
        image_t, label_t = loaded[:3], loaded[3:]
    else:
        image_t, label_t = loaded, load_image(label, "label")
        if label_t.shape[0] > 1:
            if not all(torch.equal(label_t[0], label_t[c]) for c in range(1, label_t.shape[0])):
                raise ValueError(f"label file {label} has {label_t.shape[0]} different channels; expected one.")
            label_t = label_t[:1]
    if tuple(image_t.shape[1:]) != tuple(label_t.shape[1:]):
        raise ValueError(
            f"image {image} has spatial shape {tuple(image_t.shape[1:])} but label {label or image} has "
            f"{tuple(label_t.shape[1:])}; they must match."
        )
    if label_threshold is not None:
        binarised = _binarise(label_t.as_tensor(), label_threshold)
        if not binarised.any() and label_t.as_tensor().any():
            raise ValueError(
                f"label {label or image} has values up to {float(label_t.max()):g}, none above label_threshold="
                f"{label_threshold:g}: it would become empty. Lower the threshold (a {{0, 1}} mask needs 0.5)."
            )
        label_t = MetaTensor(binarised, meta=label_t.meta)
    affine = np.asarray(getattr(image_t, "affine", np.eye(4)), dtype=float).tolist()
    info = {
        "source": str(image),
        "label_source": str(label) if label is not None else str(image),
        "file_format": str(file_format_of(image)),
        "affine": affine,
    }
    return image_t, label_t, info
