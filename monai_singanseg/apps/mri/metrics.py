"""Segmentation metrics per subject, from MONAI's ``MetricsSaver`` output: Dice per label value, and Dice and 95 %
Hausdorff distance per BraTS region."""

from __future__ import annotations

import csv
import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from monai_singanseg.apps.mri.regions import REGION_CHANNELS
from monai_singanseg.data.writers import write_json

__all__ = ["REGION_METRICS", "read_metric_details", "summarise_dice", "summarise_regions"]

# The bundle's names of the region metrics: the MetricsSaver files are <name>_raw.csv.
REGION_METRICS = {"dice": "region_dice", "hd95": "region_hd95"}


def _number(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        return math.nan


def read_metric_details(raw_csv: str | os.PathLike, columns: Sequence[str]) -> dict[str, dict[str, float]]:
    """``{subject: {column: value}}`` from a ``*_raw.csv`` of MONAI's ``MetricsSaver`` (one row per subject, one
    column per channel, in the order of ``columns``). Values MONAI could not compute are NaN; inf stays inf.

    Raises:
        FileNotFoundError: ``raw_csv`` does not exist (the evaluation has not run, or saved no such metric).
    """
    if not Path(raw_csv).is_file():
        raise FileNotFoundError(f"metric details {raw_csv} do not exist: run the evaluate step first.")
    with open(raw_csv, newline="") as f:
        rows = list(csv.reader(f, delimiter=","))
    details = {}
    for row in rows[1:]:
        if row:
            subject = Path(row[0]).name.removesuffix(".nii.gz")
            details[subject] = {name: _number(value) for name, value in zip(columns, row[1:1 + len(columns)])}
    return details


def _mean(values: Sequence[float]) -> float:
    finite = [v for v in values if not math.isnan(v)]
    return sum(finite) / len(finite) if finite else math.nan


def summarise_dice(
    raw_csv: str | os.PathLike, label_values: Sequence[float], out_json: str | os.PathLike | None = None
) -> dict[str, Any]:
    """Per-class Dice per subject, keyed by label value, from the ``*_raw.csv`` of MONAI's ``MetricsSaver``.

    The CSV has one row per subject and one column per foreground class, in the order of ``label_values[1:]``.
    The evaluate step scores as the BraTS challenge does (MONAI's ``ignore_empty`` off): a class absent from both
    the reference and the prediction of a subject has Dice 1 there, a class predicted where the reference has none
    Dice 0. A NaN (a Dice computed with ``ignore_empty`` on, where the reference lacks the class) is skipped by the
    class means.

    Args:
        raw_csv: the metric details file of ``MetricsSaver``.
        label_values: the label set; the first is background.
        out_json: write the summary here too.

    Returns:
        ``{"per_subject": {subject: {label: dice}}, "mean": {label: dice}, "mean_over_classes": dice}``.
    """
    labels = [f"{v:g}" for v in label_values[1:]]
    per_subject = read_metric_details(raw_csv, labels)
    means = {label: _mean([s[label] for s in per_subject.values()]) for label in labels}
    summary = {"per_subject": per_subject, "mean": means, "mean_over_classes": _mean(list(means.values()))}
    if out_json is not None:
        write_json(summary, out_json, indent=1)
    return summary


def _region_values(dice: float, hd95: float) -> dict[str, float]:
    # MONAI's Hausdorff distance is NaN whenever either map is empty, so it cannot tell a missed or a false region
    # from one absent from both. The Dice (ignore_empty off) can: 0 when exactly one map holds the region, 1 when
    # neither does.
    if math.isnan(hd95) and dice == 0:
        return {"dice": 0.0, "hd95": math.inf}
    if math.isnan(hd95) and dice == 1:
        return {"dice": math.nan, "hd95": math.nan}
    return {"dice": dice, "hd95": hd95}


def summarise_regions(metrics_dir: str | os.PathLike, out_json: str | os.PathLike | None = None) -> dict[str, Any]:
    """Dice and 95 % Hausdorff distance of the BraTS regions per subject, and their means, from the
    ``region_dice_raw.csv`` and ``region_hd95_raw.csv`` that the evaluate step saves for a BraTS label set.

    A region absent from both the reference and the prediction of a subject has no value there (NaN); a region
    present in only one of them, missed or predicted where there is none, has Dice 0 and an infinite distance, which
    the distance mean keeps: such a region is not a small error. The Dice must come with ``ignore_empty`` off (the
    evaluate step's setting), which tells these cases apart where MONAI's distance, NaN for both, does not. Distances are in voxels (1 mm in BraTS volumes).

    Args:
        metrics_dir: the evaluate step's ``metrics_dir``.
        out_json: write the summary here too.

    Returns:
        ``{"per_subject": {subject: {region: {"dice": d, "hd95": h}}}, "mean": {region: {"dice": d, "hd95": h}}}``,
        regions in the order WT, TC, ET.
    """
    values = {metric: read_metric_details(Path(metrics_dir) / f"{name}_raw.csv", REGION_CHANNELS)
              for metric, name in REGION_METRICS.items()}
    subjects = list(values["dice"])
    order = ("WT", "TC", "ET")
    per_subject = {s: {r: _region_values(values["dice"][s][r], values["hd95"][s][r]) for r in order}
                   for s in subjects}
    mean = {r: {m: _mean([per_subject[s][r][m] for s in subjects]) for m in REGION_METRICS} for r in order}
    summary = {"per_subject": per_subject, "mean": mean}
    if out_json is not None:
        write_json(summary, out_json, indent=1)
    return summary
