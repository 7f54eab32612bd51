"""Several synthetic sets against one real set: a full report per set and one table that ranks them.

Users compare sets made in different ways (styled or not, 1:1 or 1:1000, several generators, other start scales)
before choosing the one to share; the real set is loaded once and every set is scored with the same seed.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from monai_singanseg.data.writers import write_atomically, write_bytes
from monai_singanseg.evaluation.loading import load_image_mask_set
from monai_singanseg.evaluation.perceptual import PerceptualNetworks
from monai_singanseg.evaluation.report import write_report
from monai_singanseg.evaluation.verdicts import ReportThresholds
from monai_singanseg.metrics.mask_statistics import foreground_fraction, fraction_histogram
from monai_singanseg.visualize import figures

__all__ = ["build_comparison_report", "set_names"]


def set_names(datalists: Sequence[str | Path]) -> list[str]:
    """One distinct folder name per datalist: its file stem, else its folder's name (``generate`` writes
    ``datalist.json`` into every output folder), else the stem with its position.

    Example::

        >>> set_names(["plain/datalist.json", "styled/datalist.json"])
        ['plain', 'styled']
    """
    paths = [Path(d) for d in datalists]
    for candidates in ([p.stem for p in paths], [p.resolve().parent.name for p in paths]):
        if len(set(candidates)) == len(candidates) and all(candidates):
            break
    else:
        candidates = [f"{index}_{p.stem}" for index, p in enumerate(paths)]
    return [re.sub(r"[^A-Za-z0-9._-]+", "_", name) for name in candidates]


def _row(name: str, metrics: dict[str, Any]) -> dict[str, Any]:
    fidelity, verdict, memorisation = metrics["fidelity"], metrics["verdict"], metrics["memorisation"]
    return {
        "set": name,
        "num_synthetic": metrics["settings"]["num_synthetic"],
        "swd_x1e3_image": fidelity["swd_x1e3_mean"]["image"],
        "swd_x1e3_label": fidelity["swd_x1e3_mean"]["label"],
        "images_beyond_real_spread": None if fidelity["patch_test"] is None else fidelity["patch_test"]["num_beyond"],
        "image_test_p": None if fidelity["patch_test"] is None else fidelity["patch_test"]["p_value"],
        "mask_ks_statistic": fidelity["masks"]["ks_statistic"],
        "mask_test_p": fidelity["masks"]["ks_p_value"],
        "singan_diversity": metrics["diversity"]["singan_diversity"],
        **(metrics["perceptual"] or {}),
        "max_ncc": memorisation["max_ncc"],
        "num_flagged": memorisation["num_flagged"],
        "faithful": verdict["faithful"],
        "diverse": verdict["diverse"],
        "safe": verdict["safe"],
    }


def _cell(value: Any) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.3g}" if 0 < abs(value) < 0.01 else f"{value:.3f}"  # small p-values keep their digits
    return str(value)


def _markdown(rows: list[dict[str, Any]], real_datalist: str, baseline: float | None, size: int) -> str:
    columns = list(rows[0])
    lines = [
        "# Synthetic sets compared",
        "",
        f"Every set against the real pairs of `{real_datalist}` at {size}x{size} pixels, with the same seed. "
        "Lower SWD is closer to the real patch statistics"
        + ("" if baseline is None else f" (two halves of the real set: {baseline:.1f})")
        + "; the image and mask test p-values (exact, see each report) below the report's level mean unfaithful; "
        "higher diversity is more varied; max NCC near 1 means a near-copy of a real image. Each set's full "
        "report is in its folder.",
        "",
        "| " + " | ".join(columns) + " |",
        "|" + "---|" * len(columns),
    ]
    lines += ["| " + " | ".join(f"[{_cell(r[c])}]({r[c]}/report.md)" if c == "set" else _cell(r[c])
                                for c in columns) + " |" for r in rows]
    lines += ["", "![foreground fraction per set](foreground_fraction_histogram.png)"]
    return "\n".join(lines) + "\n"


def build_comparison_report(
    real_datalist: str | Path,
    synthetic_datalists: Sequence[str | Path],
    out_dir: str | Path,
    size: int = 128,
    thresholds: ReportThresholds = ReportThresholds(),
    seed: int = 0,
    data_list_key: str = "training",
    progress: bool = True,
    perceptual: PerceptualNetworks | None = None,
) -> dict[str, Any]:
    """Evaluate several synthetic datalists against one real datalist.

    Writes ``out_dir/<set>/`` (the report of :func:`~monai_singanseg.evaluation.report.build_report`) for every
    set, and at the top ``comparison.json``, ``comparison.md`` (one row per set) and
    ``foreground_fraction_histogram.png`` (the real set and every synthetic set on one chart). Set names come from
    :func:`set_names`.

    Args:
        real_datalist: MONAI datalist of the real (training) image+mask pairs.
        synthetic_datalists: two or more MONAI datalists of synthetic pairs.
        out_dir: report folder, created if needed.
        size: images and masks are resized to ``size`` x ``size`` for every comparison.
        thresholds: the :class:`ReportThresholds` behind the verdicts.
        seed: seed of every random choice, the same for every set.
        data_list_key: key of the list of entries in every datalist.
        progress: show progress bars.
        perceptual: networks for SIFID and LPIPS (user-supplied weights); ``None`` leaves them out.

    Returns:
        What ``comparison.json`` holds: ``{"inputs": ..., "sets": [row per set]}``.

    Raises:
        FileNotFoundError: if a datalist or a file it lists does not exist.
        ValueError: if a datalist is malformed, a file cannot be read, or ``size`` is below 16.

    Example::

        >>> summary = build_comparison_report("real.json", ["plain.json", "styled.json"], "report")  # doctest: +SKIP
        >>> [row["set"] for row in summary["sets"]]  # doctest: +SKIP
        ['plain', 'styled']
    """
    if size < 16:
        raise ValueError(f"size must be at least 16 pixels for the SWD pyramid, got {size}.")
    out_dir = Path(out_dir)
    names = set_names(synthetic_datalists)
    real = load_image_mask_set(real_datalist, size, data_list_key, progress)
    rows, baseline = [], None
    histograms = {f"real ({len(real.names)})": fraction_histogram(foreground_fraction(real.masks))}
    for name, datalist in tqdm(list(zip(names, synthetic_datalists)), desc="synthetic sets", disable=not progress):
        synthetic = load_image_mask_set(datalist, size, data_list_key, progress)
        inputs = {"real": str(real_datalist), "synthetic": str(datalist)}
        metrics = write_report(out_dir / name, real, synthetic, inputs, thresholds, seed, perceptual)
        rows.append(_row(name, metrics))
        histograms[f"{name} ({len(synthetic.names)})"] = fraction_histogram(foreground_fraction(synthetic.masks))
        baseline = metrics["fidelity"]["swd_x1e3_real_halves_image"]
    summary = {
        "inputs": {"real": str(real_datalist), "synthetic": {n: str(d) for n, d in zip(names, synthetic_datalists)}},
        "swd_x1e3_real_halves_image": baseline,
        "sets": rows,
    }
    chart = figures.histogram_chart(histograms, "foreground (polyp) pixels per mask, 5% bins", "foreground pixels (%)")
    write_atomically(out_dir / "foreground_fraction_histogram.png", lambda f: chart.save(f, format="PNG"))
    write_bytes((json.dumps(summary, indent=2) + "\n").encode(), out_dir / "comparison.json")
    write_bytes(_markdown(rows, str(real_datalist), baseline, size).encode(), out_dir / "comparison.md")
    return summary
