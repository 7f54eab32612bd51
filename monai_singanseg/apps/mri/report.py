"""The synthetic slices held against the real ones: label-structure violations (``label_structure``) and a figure
a radiologist would look at, real slice | synthetic slices | labels, per channel."""

from __future__ import annotations

import logging
import os
from collections import defaultdict
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import nibabel as nib
import numpy as np

from monai_singanseg.apps.mri.label_structure import (
    STRUCTURE_CHECKS,
    StructureCounts,
    compare_structure,
    count_structure_violations,
)
from monai_singanseg.apps.mri.regions import is_brats_label_set
from monai_singanseg.data.datalist import read_datalist
from monai_singanseg.data.writers import write_bytes, write_json, write_png
from monai_singanseg.visualize import channel_comparison

__all__ = ["SLICES_FIGURE", "STRUCTURE_JSON", "STRUCTURE_MARKDOWN", "read_slice", "synthetic_report"]

logger = logging.getLogger(__name__)

STRUCTURE_JSON = "label_structure.json"
STRUCTURE_MARKDOWN = "label_structure.md"
SLICES_FIGURE = "slices.png"


def read_slice(image_path: str | os.PathLike, label_path: str | os.PathLike) -> tuple[np.ndarray, np.ndarray]:
    """A slice written by ``write_slice_nifti``: the image ``(C, X, Y)`` and the label ``(X, Y)``.

    Raises:
        FileNotFoundError: a file does not exist.
        ValueError: a file is not a one-voxel-thick slice.
    """
    arrays = []
    for path in (image_path, label_path):
        if not Path(path).is_file():
            raise FileNotFoundError(f"slice file {path} does not exist.")
        array = np.asarray(nib.load(str(path)).dataobj, dtype=np.float32)
        if array.ndim not in (3, 4) or array.shape[2] != 1:
            raise ValueError(f"{path} has shape {array.shape}; expected a slice (X, Y, 1) or (X, Y, 1, C).")
        arrays.append(array[:, :, 0])
    image, label = arrays
    image = image[None] if image.ndim == 2 else np.moveaxis(image, -1, 0)
    return image, label if label.ndim == 2 else label[..., 0]


def _counts(entries: Sequence[Mapping[str, Any]], label_values: Sequence[float], brain_threshold: float,
            min_component_pixels: int) -> list[StructureCounts]:
    counts = []
    for entry in entries:
        image, label = read_slice(entry["image"], entry["label"])
        unknown = np.setdiff1d(np.unique(label), np.asarray(label_values, dtype=np.float64))
        if unknown.size:
            # A value the checks do not know would count as no tumour at all, and pass every check.
            raise ValueError(f"{entry['label']} holds label values {unknown.tolist()} outside label_values "
                             f"{list(label_values)}.")
        counts.append(count_structure_violations(image, label, brain_threshold, min_component_pixels))
    return counts


def _markdown(comparison: Mapping[str, Any]) -> str:
    lines = [(f"Label-structure violations per slice: {comparison['num_real']} real training slices, "
              f"{comparison['num_synthetic']} synthetic slices."), "",
             "| check | real per slice | synthetic per slice | synthetic slices with any | excess | passes |",
             "| --- | --- | --- | --- | --- | --- |"]
    for check in STRUCTURE_CHECKS:
        real, synthetic = comparison["real"][check], comparison["synthetic"][check]
        lines.append(f"| {check} | {real['per_slice']:.2f} | {synthetic['per_slice']:.2f} | "
                     f"{synthetic['slices_with_any']:.0%} | {comparison['excess'][check]:.1f} | "
                     f"{'yes' if comparison['passes'][check] else 'no'} |")
    lines += ["", *(f"- {check}: {meaning}." for check, meaning in STRUCTURE_CHECKS.items()),
              "- excess: synthetic violations beyond the real slices' rate, over the synthetic set."]
    return "\n".join(lines) + "\n"


def _figure(real_entries: Sequence[Mapping[str, Any]], synthetic_entries: Sequence[Mapping[str, Any]],
            label_values: Sequence[float], channel_names: Sequence[str] | None, num_slices: int,
            samples_per_slice: int) -> np.ndarray:
    by_source = defaultdict(list)
    for entry in synthetic_entries:
        by_source[entry.get("source_slice")].append(entry)
    # The real slices showing the most tumour, each beside the first synthetic slices of its generators.
    real = [e for e in real_entries if e.get("slice_id") in by_source]
    if not real:
        raise ValueError("no synthetic slice names a real slice of the datalist as its source_slice.")
    loaded = {e["slice_id"]: read_slice(e["image"], e["label"]) for e in real}
    chosen = sorted(real, key=lambda e: -int((loaded[e["slice_id"]][1] > 0).sum()))[:num_slices]
    blocks = []
    for entry in chosen:
        image, label = loaded[entry["slice_id"]]
        samples = [read_slice(s["image"], s["label"]) for s in by_source[entry["slice_id"]][:samples_per_slice]]
        names = list(channel_names) if channel_names else [f"ch {c}" for c in range(image.shape[0])]
        # Shown as a radiologist reads an axial slice: rows run anterior to posterior, the patient's left on the
        # right (arrays are LPS, so the picture is the transposed array).
        blocks.append(channel_comparison(image.transpose(0, 2, 1), label.T, [s[0].transpose(0, 2, 1) for s in samples],
                                         [s[1].T for s in samples], label_values, names, title=entry["slice_id"]))
    width = max(b.shape[1] for b in blocks)
    padded = [np.pad(b, ((0, 0), (0, width - b.shape[1]), (0, 0)), constant_values=255) for b in blocks]
    return np.concatenate(padded, axis=0)


def synthetic_report(
    slices_datalist: str | os.PathLike,
    synthetic_datalist: str | os.PathLike,
    out_dir: str | os.PathLike,
    label_values: Sequence[float],
    channel_names: Sequence[str] | None = None,
    brain_threshold: float = 0.01,
    min_component_pixels: int = 10,
    figure_slices: int = 4,
    samples_per_slice: int = 4,
) -> dict[str, Any]:
    """Count label-structure violations of the synthetic slices against the real training slices, and draw them.

    Writes ``<out_dir>/label_structure.json`` and ``.md`` (see :func:`compare_structure`) and
    ``<out_dir>/slices.png``: for the ``figure_slices`` real slices with the most tumour, the slice beside up to
    ``samples_per_slice`` of its synthetic slices, one row per channel and a row of labels.

    Args:
        slices_datalist: ``slices.json`` of ``prepare_slices``.
        synthetic_datalist: ``synthetic.json`` of ``generate``.
        out_dir: the report folder.
        label_values: the label set, background first.
        channel_names: one name per channel, for the figure's rows.
        brain_threshold: see :func:`count_structure_violations`.
        min_component_pixels: see :func:`count_structure_violations`.
        figure_slices: real slices in the figure.
        samples_per_slice: synthetic slices beside each.

    Returns:
        The comparison written to ``label_structure.json``.

    Raises:
        FileNotFoundError: a datalist or slice file does not exist.
        ValueError: an empty datalist, synthetic slices that name no real slice as their source, a label set
            other than BraTS's (the checks read labels as BraTS regions), or a label value outside it.
    """
    if not is_brats_label_set(label_values):
        raise ValueError(f"label_values {list(label_values)} is not a BraTS label set: the structure checks read "
                         "labels as BraTS tumour regions, which other label sets do not have.")
    real_entries = read_datalist(slices_datalist)
    synthetic_entries = read_datalist(synthetic_datalist)
    comparison = compare_structure(_counts(real_entries, label_values, brain_threshold, min_component_pixels),
                                   _counts(synthetic_entries, label_values, brain_threshold, min_component_pixels))
    comparison.update(brain_threshold=brain_threshold, min_component_pixels=min_component_pixels)
    out_dir = Path(out_dir)
    figure = _figure(real_entries, synthetic_entries, label_values, channel_names, figure_slices,
                     samples_per_slice)
    write_png(figure, out_dir / SLICES_FIGURE)
    write_bytes(_markdown(comparison).encode(), out_dir / STRUCTURE_MARKDOWN)
    write_json(comparison, out_dir / STRUCTURE_JSON)
    logger.info("label-structure excess %s; report in %s", comparison["excess"], out_dir)
    return comparison
