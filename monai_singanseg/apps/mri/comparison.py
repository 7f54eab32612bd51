"""The real vs synthetic vs real+synthetic comparison as one markdown table: BraTS region Dice and 95 % Hausdorff
distance per subject, and each row's WT and TC Dice as a share of the real row's."""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

from monai_singanseg.data.writers import write_bytes

__all__ = ["REGION_SUMMARY", "comparison_table"]

REGION_SUMMARY = "brats_regions.json"


def _number(value: float, digits: int) -> str:
    return "-" if math.isnan(value) else ("inf" if math.isinf(value) else f"{value:.{digits}f}")


def comparison_table(
    metrics_root: str | os.PathLike,
    rows: Sequence[str] = ("real", "synthetic", "both"),
    updates: Mapping[str, int] | None = None,
    out_markdown: str | os.PathLike | None = None,
) -> str:
    """One markdown row per training data and subject, and a mean row, from each row's ``brats_regions.json``.

    Args:
        metrics_root: the folder holding one ``<row>/brats_regions.json`` per row (the bundle's
            ``output/metrics``).
        rows: the training data rows, the first the baseline the others are a share of.
        updates: optimiser updates per row, for the table.
        out_markdown: write the table here too.

    Returns:
        The table.

    Raises:
        ValueError: no rows.
        FileNotFoundError: a row has not been evaluated.
    """
    if not rows:
        raise ValueError("rows is empty: name at least the baseline row, e.g. ['real'].")
    summaries = {}
    for row in rows:
        path = Path(metrics_root) / row / REGION_SUMMARY
        if not path.is_file():
            raise FileNotFoundError(f"{path} does not exist: evaluate the {row!r} row first.")
        summaries[row] = json.loads(path.read_text())
    baseline = summaries[rows[0]]["mean"]
    lines = [("| training data | updates | subject | WT Dice | TC Dice | ET Dice | WT HD95 | TC HD95 | ET HD95 "
             f"| WT / {rows[0]} | TC / {rows[0]} |"), "| --- " * 11 + "|"]
    for row, summary in summaries.items():
        steps = str(updates[row]) if updates and row in updates else ""
        for subject, regions in [*summary["per_subject"].items(), ("mean", summary["mean"])]:
            dice = [_number(regions[r]["dice"], 3) for r in ("WT", "TC", "ET")]
            hd95 = [_number(regions[r]["hd95"], 1) for r in ("WT", "TC", "ET")]
            shares = ["", ""]
            if subject == "mean":
                shares = [f"{regions[r]['dice'] / baseline[r]['dice']:.0%}"
                          if baseline[r]["dice"] > 0 and not math.isnan(regions[r]["dice"]) else "-"
                          for r in ("WT", "TC")]
            lines.append(f"| {row} | {steps} | {subject} | " + " | ".join(dice + hd95 + shares) + " |")
    table = "\n".join(lines) + "\n"
    if out_markdown is not None:
        write_bytes(table.encode(), out_markdown)
    return table
