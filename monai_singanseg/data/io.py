"""Read training image+label pairs through MONAI's ``LoadImage``, and tell what format they came in."""

from __future__ import annotations

import logging
import os
from enum import StrEnum
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from monai.data import MetaTensor
from monai.data.image_reader import PILReader
from monai.transforms import LoadImage

from monai_singanseg.data.label_threshold import near_binary_threshold

__all__ = ["AUTO_THRESHOLD", "FileFormat", "file_format_of", "image_id_of", "load_image", "load_training_pair"]

_PIL_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")
AUTO_THRESHOLD = "auto"

logger = logging.getLogger(__name__)


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
    photo = str(path).lower().endswith(_PIL_SUFFIXES)
    if path.is_dir() and (photo or not any(_is_dicom(f) for f in path.iterdir())):
        raise ValueError(f"{argument} {path} is a folder without DICOM files; expected an image file (PNG, JPEG, "
                         "NIfTI, DICOM) or a folder holding one DICOM series.")
    if path.is_file() and path.stat().st_size == 0:
        raise ValueError(f"{argument} file {path} is empty (0 bytes).")
    reader = PILReader(reverse_indexing=False) if photo else None
    try:
        loaded = LoadImage(reader=reader, image_only=True, ensure_channel_first=True, dtype=None)(str(path))
    except Exception as err:  # readers raise many types; the user needs the file name and the cause
        # MONAI appends every reader's traceback to its message; the first line says what failed.
        cause = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        kind = f"a {path.suffix.lstrip('.').upper()} image" if photo else "an image MONAI can read"
        raise ValueError(f"cannot read {argument} file {path}: it is not {kind} ({cause})") from None
    if loaded.ndim == 4 and loaded.shape[-1] == 1:
        # A single-slice volume (one DICOM image, a 2D NIfTI) is a 2D image.
        loaded = loaded[..., 0]
    return loaded


def _is_dicom(path: Path) -> bool:
    """A DICOM file by its preamble: 128 bytes, then ``DICM``."""
    try:
        with open(path, "rb") as file:
            return file.read(132)[128:] == b"DICM"
    except OSError:  # a sub-folder, or unreadable
        return False


def _binarise(label: torch.Tensor, threshold: float) -> torch.Tensor:
    return (label > threshold).to(torch.uint8)


def load_training_pair(
    image: str | os.PathLike,
    label: str | os.PathLike | None = None,
    label_threshold: float | str | None = AUTO_THRESHOLD,
    *,
    label_values: Sequence[float] | None = None,
) -> tuple[MetaTensor, MetaTensor, dict[str, Any]]:
    """Load a training image and its label map.

    Accepted: an image file plus a label file (PNG/JPEG photo + mask, NIfTI, DICOM), or one RGBA PNG with the mask
    in its alpha channel (how the SinGAN-Seg reference stores its inputs). Masks stored as 3 identical channels are
    reduced to one.

    Args:
        image: image file (or DICOM folder).
        label: label file; omit for an RGBA PNG with the mask in alpha.
        label_threshold: binarise the label to {0, 1} above this value (JPEG masks have artefacts: use 127).
            ``"auto"`` (the default) binarises, with a logged notice, masks that are two-level in intent but
            carry in-between values (JPEG artefacts, antialiased alpha; see
            :func:`~monai_singanseg.data.label_threshold.near_binary_threshold`) and keeps every other label as
            it is. ``None`` keeps the label's values as they are.
        label_values: the valid label values, when the caller names them; then ``"auto"`` keeps the label as it is
            (named values are never thresholded away).

    Returns:
        ``(image, label, info)``: channel-first image and 1-channel label with their metadata, and plain
        provenance data (``source``, ``label_source``, ``file_format``, ``affine``, ``spatial_shape``,
        ``label_threshold``: the threshold applied or ``None``).

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
    label_name = label or image
    if label_threshold == AUTO_THRESHOLD and label_values is not None:
        label_threshold = None
    elif label_threshold == AUTO_THRESHOLD:
        label_threshold = near_binary_threshold(label_t.as_tensor())
        if label_threshold is not None:
            logger.warning(
                "label %s has %d values between %g and %g but is a two-level mask (JPEG artefacts or antialiased "
                "edges): binarised to {0, 1} above %g. Pass --label-threshold (label_threshold=) to choose the "
                "value, or --label-values (label_threshold=None) to keep the values as classes.",
                label_name, len(torch.unique(label_t.as_tensor())), float(label_t.min()), float(label_t.max()),
                label_threshold,
            )
    elif label_threshold is not None and not isinstance(label_threshold, (int, float)):
        raise TypeError(f"label_threshold must be a number, 'auto' or None, not {label_threshold!r}.")
    if label_threshold is not None:
        binarised = _binarise(label_t.as_tensor(), label_threshold)
        if not binarised.any() and label_t.as_tensor().any():
            raise ValueError(
                f"label {label_name} has values up to {float(label_t.max()):g}, none above label_threshold="
                f"{label_threshold:g}: it would become empty. Lower the threshold (a {{0, 1}} mask needs 0.5)."
            )
        label_t = MetaTensor(binarised, meta=label_t.meta)
    affine = np.asarray(getattr(image_t, "affine", np.eye(4)), dtype=float).tolist()
    info = {
        "source": str(image),
        "label_source": str(label) if label is not None else str(image),
        "file_format": str(file_format_of(image)),
        "affine": affine,
        # The grid the affine belongs to: samples at other shapes (a shrunk training image) rescale it.
        "spatial_shape": [int(size) for size in image_t.shape[1:]],
        "label_threshold": None if label_threshold is None else float(label_threshold),
    }
    return image_t, label_t, info
