"""Cut loaded MR cases into the axial training slices of the generators and the segmentation network."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from monai.data import MetaTensor

from monai_singanseg.apps.mri.slices import (
    DEFAULT_BRAIN_THRESHOLD, centre_pad_or_crop, normalise_channels, select_axial_slices, slice_affine,
)
from monai_singanseg.apps.mri.writers import write_slice_nifti
from monai_singanseg.data.datalist import write_datalist

__all__ = ["SLICES_DATALIST", "prepare_slices"]

logger = logging.getLogger(__name__)

SLICES_DATALIST = "slices.json"


def _affine(x: Any) -> np.ndarray:
    return np.asarray(x.affine if isinstance(x, MetaTensor) else np.eye(4), dtype=np.float64)


def _check_axial_last(affine: np.ndarray, case_id: str) -> None:
    # Slices are cut along the last array axis; it must run head-feet (the S axis of RAS).
    axis = int(np.argmax(np.abs(affine[2, :3])))
    if axis != 2:
        raise ValueError(f"case {case_id}: the head-feet axis is array axis {axis}, not the last one; reorient the "
                         "volumes (Orientationd(axcodes='LPS') in the preprocessing) so axial slices lie along it.")


def prepare_slices(
    cases: Iterable[Mapping[str, Any]],
    out_dir: str | os.PathLike,
    label_values: Sequence[float],
    slice_size: Sequence[int] = (256, 256),
    min_brain_fraction: float = 0.15,
    brain_threshold: float = DEFAULT_BRAIN_THRESHOLD,
    tumour_only: bool = False,
    max_slices_per_case: int | None = None,
    channel_names: Sequence[str] | None = None,
) -> list[dict[str, Any]]:
    """Normalise each loaded case per channel, keep its axial slices by the ensemble paper's rules, pad or crop them
    to ``slice_size`` and write them as NIfTI with a datalist.

    Writes ``<out_dir>/<case_id>_z<k>_image.nii.gz`` (``(X, Y, 1, C)``, each channel in [0, 1] by the case's own
    range, zero-padded), ``..._label.nii.gz`` and ``<out_dir>/slices.json``: ``{"training": [entries],
    "label_values", "channel_names", "slice_size"}``, each entry holding ``image``, ``label`` (relative to the
    datalist), ``slice_id``, ``case_id``, ``slice_index``, ``slice_shape``, ``affine`` and the case's ``intensity_low`` and
    ``intensity_high`` per channel, which map the slice back to the scanner's units.

    Args:
        cases: loaded cases (a MONAI ``Dataset`` running ``LoadImaged``, ``EnsureChannelFirstd``, ``CheckCased``
            and ``CheckLabelValuesd``), each a dict with ``image`` ``(C, X, Y, Z)``, ``label`` ``(1, X, Y, Z)``,
            ``case_id`` and optionally ``brain_mask``.
        out_dir: destination folder.
        label_values: the valid label values; the first is background.
        slice_size: the slices' size after centred padding or cropping (the paper: 240 -> 256).
        min_brain_fraction: keep slices with at least this fraction of brain pixels (see
            :func:`~monai_singanseg.apps.mri.slices.select_axial_slices`).
        brain_threshold: a normalised intensity above which a pixel counts as brain, when a case has no brain mask.
        tumour_only: keep only slices that show a label other than background.
        max_slices_per_case: keep at most this many slices per case, evenly spaced.
        channel_names: names of the channels, recorded for the DICOM series descriptions.

    Returns:
        The datalist entries, paths absolute.

    Raises:
        ValueError: a case whose axial axis is not the last, a label with another shape than its image, or a case
            with no slice kept when none is kept overall.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    entries: list[dict[str, Any]] = []
    channels = None
    for case in cases:
        case_id = str(case["case_id"])
        image, label = case["image"], case["label"]
        affine = _affine(image)
        _check_axial_last(affine, case_id)
        if tuple(label.shape[1:]) != tuple(image.shape[1:]):
            raise ValueError(f"case {case_id}: label shape {tuple(label.shape[1:])} differs from the image's "
                             f"{tuple(image.shape[1:])}.")
        channels = channels or image.shape[0]
        if image.shape[0] != channels:
            raise ValueError(f"case {case_id} has {image.shape[0]} channels, the cases before it {channels}: "
                             "prepare cases of one kind together.")
        normalised, channel_range = normalise_channels(torch.as_tensor(image))
        label_t = torch.as_tensor(label)
        chosen = select_axial_slices(normalised, label_t, min_brain_fraction, brain_threshold,
                                     case.get("brain_mask"), tumour_only, float(label_values[0]), max_slices_per_case)
        if not chosen:
            logger.warning("case %s: no axial slice passes the rules (min_brain_fraction=%s, tumour_only=%s)",
                           case_id, min_brain_fraction, tumour_only)
        for index in chosen:
            padded, offsets = centre_pad_or_crop(normalised[..., index], slice_size)
            padded_label, _ = centre_pad_or_crop(label_t[..., index].float(), slice_size, float(label_values[0]))
            slice_id = f"{case_id}_z{index:03d}"
            slice_aff = slice_affine(affine, index, offsets)
            image_path, label_path = write_slice_nifti(padded, padded_label, slice_aff, out_dir, slice_id)
            entries.append({
                "image": str(image_path), "label": str(label_path), "slice_id": slice_id, "case_id": case_id,
                "slice_index": index, "slice_shape": [int(s) for s in slice_size], "affine": slice_aff.tolist(),
                "intensity_low": list(channel_range.low), "intensity_high": list(channel_range.high),
            })
        logger.info("case %s: kept %d axial slices", case_id, len(chosen))
    if not entries:
        raise ValueError("no slice of any case passes the slice rules; lower min_brain_fraction or set "
                         "tumour_only=false.")
    relative = [dict(e, image=Path(e["image"]).name, label=Path(e["label"]).name) for e in entries]
    write_datalist({"training": relative, "label_values": [float(v) for v in label_values],
                    "channel_names": list(channel_names) if channel_names else [f"channel{c}" for c in range(channels)],
                    "slice_size": [int(s) for s in slice_size]}, out_dir / SLICES_DATALIST)
    return entries
