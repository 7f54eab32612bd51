"""Per-class Dice per subject, keyed by label value, from MONAI's ``MetricsSaver`` output."""

from __future__ import annotations

import csv
import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from monai_singanseg.data.writers import write_json

__all__ = ["summarise_dice"]


def _number(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        return math.nan


def summarise_dice(
    raw_csv: str | os.PathLike, label_values: Sequence[float], out_json: str | os.PathLike | None = None
) -> dict[str, Any]:
    """Per-class Dice per subject, keyed by label value, from the ``*_raw.csv`` of MONAI's ``MetricsSaver``.

    The CSV has one row per subject and one column per foreground class, in the order of ``label_values[1:]``.
    A class absent from both the reference and the prediction of a subject has no Dice there (NaN); class means
    skip those.

    Args:
        raw_csv: the metric details file of ``MetricsSaver``.
        label_values: the label set; the first is background.
        out_json: write the summary here too.

    Returns:
        ``{"per_subject": {subject: {label: dice}}, "mean": {label: dice}, "mean_over_classes": dice}``.
    """
    labels = [f"{v:g}" for v in label_values[1:]]
    with open(raw_csv, newline="") as f:
        rows = list(csv.reader(f, delimiter=","))
    per_subject = {}
    for row in rows[1:]:
        if not row:
            continue
        subject = Path(row[0]).name.removesuffix(".nii.gz")
        per_subject[subject] = {label: _number(value) for label, value in zip(labels, row[1:1 + len(labels)])}
    means = {}
    for label in labels:
        values = [s[label] for s in per_subject.values() if not math.isnan(s[label])]
        means[label] = sum(values) / len(values) if values else math.nan
    finite = [v for v in means.values() if not math.isnan(v)]
    summary = {"per_subject": per_subject, "mean": means,
               "mean_over_classes": sum(finite) / len(finite) if finite else math.nan}
    if out_json is not None:
        write_json(summary, out_json, indent=1)
    return summary
