"""The SinGAN-Seg paper's polyp experiments, run through the bundle's own configs (Thambawita et al., PLoS ONE 2022).

- ``kfold``: k-fold cross-validation, UNet++ trained on the real training fold or on N = 1..5 synthetic pairs per
  training image (optionally restyled), evaluated on the held-out real fold (Table 1).
- ``small_data``: R = 5, 10, ..., 50 real training images against 10 synthetic pairs per real image from those R
  generators, evaluated on one held-out fold (Table 2, Figure 11).
- ``mask_sizes``: distributions of the polyp's share of the image in real and synthetic masks (Figures 3, 6, 10).

Every training and evaluation is a run of ``train_segmentation.json`` / ``evaluate.json`` with overrides, so the
experiments measure exactly what the bundle does. One pyramid sees one image, so a single bank serves every fold;
each fold samples only the pyramids of its training images (no leakage, checked).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

import numpy as np

from monai_singanseg.apps.endoscopy.report import (
    bar_chart, line_chart, summarise, write_csv, write_markdown,
)
from monai_singanseg.apps.endoscopy.synthetic import take_per_image
from monai_singanseg.data.writers import write_bytes, write_png

__all__ = ["BundleRunner", "Experiment", "flatten_overrides", "kfold_experiment", "mask_size_experiment",
           "run_experiments", "small_data_experiment", "style_settings"]

_METRIC_KEYS = {"iou": "test_iou", "dice": "test_dice", "accuracy": "test_accuracy", "recall": "test_recall",
                "precision": "test_precision"}


class Experiment(StrEnum):
    """The experiments :func:`run_experiments` knows."""

    KFOLD = "kfold"
    SMALL_DATA = "small_data"
    MASK_SIZES = "mask_sizes"


def flatten_overrides(overrides: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{"singanseg": {"iterations": 2}}`` -> ``{"singanseg#iterations": 2}``: nested dicts become config ids.

    Example::

        >>> flatten_overrides({"max_epochs": 1, "split": {"num_folds": 2}})
        {'max_epochs': 1, 'split#num_folds': 2}
    """
    flat: dict[str, Any] = {}
    for key, value in overrides.items():
        name = f"{prefix}#{key}" if prefix else str(key).replace("::", "#")
        if isinstance(value, Mapping) and "_target_" not in value:
            flat.update(flatten_overrides(value, name))
        else:
            flat[name] = value
    return flat


def style_settings(style: str) -> dict[str, Any]:
    """``generate.json`` overrides of a style name: ``none``, ``fourier``, ``histogram`` or ``gatys:C:S`` (content
    and style weights, e.g. ``gatys:1:1000``, the paper's better ratio).

    Raises:
        ValueError: an unparseable name.
    """
    parts = style.split(":")
    if parts[0] == "gatys":
        if len(parts) != 3:
            raise ValueError(f"a Gatys style is written gatys:CONTENT:STYLE (e.g. gatys:1:1000), got {style!r}.")
        return {"generate#style_method": "gatys", "generate#content_weight": float(parts[1]),
                "generate#style_weight": float(parts[2])}
    if len(parts) != 1 or parts[0] not in ("none", "fourier", "histogram"):
        raise ValueError(f"style must be none, fourier, histogram or gatys:C:S, got {style!r}.")
    return {"generate#style_method": parts[0]}


@dataclass
class BundleRunner:
    """Run configs of a bundle through ``monai.bundle.ConfigWorkflow`` (initialize, run, finalize).

    Args:
        bundle_root: the bundle folder (holding ``configs/``).
        overrides: config ids and values applied to every run (only those the run's configs define).
        logging: apply the bundle's ``configs/logging.conf``.
    """

    bundle_root: Path
    overrides: Mapping[str, Any] = field(default_factory=dict)
    logging: bool = False

    def run(self, configs: Sequence[str], **overrides: Any) -> Any:
        """Run ``common.json`` + ``configs`` with the runner's overrides and ``overrides``.

        Returns:
            The finished workflow.
        """
        from monai.bundle import ConfigWorkflow

        config_dir = Path(self.bundle_root) / "configs"
        files = [config_dir / "common.json", *(config_dir / name for name in configs)]
        roots = set().union(*(json.loads(f.read_text()).keys() for f in files))
        merged = {**flatten_overrides(self.overrides), **flatten_overrides(overrides)}
        relevant = {k: v for k, v in merged.items() if k.split("#")[0] in roots}
        workflow = ConfigWorkflow(
            config_file=[str(f) for f in files], meta_file=str(config_dir / "metadata.json"),
            logging_file=str(config_dir / "logging.conf") if self.logging else False, workflow_type=None, **relevant)
        workflow.initialize()
        workflow.run()
        workflow.finalize()
        return workflow


def _segment_and_evaluate(runner: BundleRunner, run_dir: Path, mode: str, split: Mapping[str, Any],
                          bank_dir: Path, synthetic_datalist: Path | None = None) -> dict[str, float]:
    """Train UNet++ in ``mode`` and evaluate it on the held-out fold; returns the optimiser updates it made and the
    five metrics."""
    paths = {"output_dir": str(run_dir), "segmentation_dir": str(run_dir / "model"), "bank_dir": str(bank_dir),
             "train#mode": mode}
    if synthetic_datalist is not None:
        paths["synthetic_datalist"] = str(synthetic_datalist)
    training = runner.run(["train_segmentation.json"], **split, **paths)
    updates = training.parser.get_parsed_content("train#trainer").state.iteration
    runner.run(["evaluate.json"], **split, **paths)
    metrics = json.loads((run_dir / "metrics" / "summary.json").read_text())
    return {"updates": int(updates), **{name: float(metrics[key]) for name, key in _METRIC_KEYS.items()}}


def _train_bank(runner: BundleRunner, bank_dir: Path, **overrides: Any) -> None:
    runner.run(["train_generators.json"], bank_dir=str(bank_dir), **overrides)


def kfold_experiment(runner: BundleRunner, out_dir: Path, num_folds: int = 3,
                     samples_per_image: Sequence[int] = (1, 2, 3, 4, 5), styles: Sequence[str] = ("none",),
                     modes: Sequence[str] = ("real", "synthetic"), seed: int = 0,
                     bank_dir: Path | None = None) -> list[dict[str, Any]]:
    """Table 1: real against synthetic-only training, by samples per image and style, over ``num_folds`` folds.

    Returns:
        One row per (fold, mode, samples per image, style) with the updates made and the five metrics.
    """
    bank_dir = bank_dir or out_dir / "generators"
    # Every image's pyramid, once: each fold then samples only those of its training images.
    _train_bank(runner, bank_dir, **{"split#num_folds": 1, "split#seed": seed})
    rows = []
    for fold in range(num_folds):
        split = {"split#num_folds": num_folds, "split#fold": fold, "split#seed": seed}
        fold_dir = out_dir / "kfold" / f"fold{fold}"
        for mode in modes:
            if mode in ("real", "real+online"):
                metrics = _segment_and_evaluate(runner, fold_dir / mode.replace("+", "_"), mode, split, bank_dir)
                rows.append({"experiment": "kfold", "fold": fold, "mode": mode, "per_image": 0, "style": "none",
                             **metrics})
                continue
            for style in styles:
                synthetic_dir = fold_dir / f"synthetic_{style.replace(':', '_')}"
                runner.run(["generate.json"], **split, **style_settings(style), bank_dir=str(bank_dir),
                           synthetic_dir=str(synthetic_dir), **{"generate#per_image": max(samples_per_image),
                                                                "generate#seed": seed})
                for per_image in samples_per_image:
                    datalist = take_per_image(synthetic_dir / "datalist.json", per_image,
                                              synthetic_dir / f"datalist_n{per_image}.json")
                    run_dir = fold_dir / f"{mode.replace('+', '_')}_n{per_image}_{style.replace(':', '_')}"
                    metrics = _segment_and_evaluate(runner, run_dir, mode, split, bank_dir, datalist)
                    rows.append({"experiment": "kfold", "fold": fold, "mode": mode, "per_image": per_image,
                                 "style": style, **metrics})
    return rows


def small_data_experiment(runner: BundleRunner, out_dir: Path, sizes: Sequence[int] = tuple(range(5, 55, 5)),
                          per_image: int = 10, num_folds: int = 3, fold: int = 0, seed: int = 0,
                          bank_dir: Path | None = None) -> list[dict[str, Any]]:
    """Table 2 / Figure 11: R real training images against ``per_image`` synthetic pairs per real image.

    The R images are nested subsets of fold ``fold``'s training images; all runs are evaluated on its held-out
    images. Only the pyramids of the largest subset are trained.

    Returns:
        One row per (R, mode) with the updates made and the five metrics.
    """
    bank_dir = bank_dir or out_dir / "generators"
    split = {"split#num_folds": num_folds, "split#fold": fold, "split#seed": seed}
    _train_bank(runner, bank_dir, **split, **{"split#num_train": max(sizes)})
    rows = []
    for size in sorted(sizes):
        subset = {**split, "split#num_train": size}
        run_dir = out_dir / "small_data" / f"R{size}"
        metrics = _segment_and_evaluate(runner, run_dir / "real", "real", subset, bank_dir)
        rows.append({"experiment": "small_data", "fold": fold, "mode": "real", "num_real": size, "per_image": 0,
                     "num_train": size, **metrics})
        synthetic_dir = run_dir / "synthetic_data"
        runner.run(["generate.json"], **subset, bank_dir=str(bank_dir), synthetic_dir=str(synthetic_dir),
                   **{"generate#per_image": per_image, "generate#seed": seed, "generate#style_method": "none"})
        metrics = _segment_and_evaluate(runner, run_dir / "synthetic", "synthetic", subset, bank_dir,
                                        synthetic_dir / "datalist.json")
        rows.append({"experiment": "small_data", "fold": fold, "mode": "synthetic", "num_real": size,
                     "per_image": per_image, "num_train": size * per_image, **metrics})
    return rows


def _mask_fractions(paths: Sequence[str]) -> list[float]:
    import numpy as np
    from PIL import Image

    fractions = []
    for path in paths:
        with Image.open(path) as mask:
            values = np.asarray(mask.convert("L"), dtype=np.float64)
        top = values.max()
        fractions.append(float((values > top / 2).mean()) if top > 0 else 0.0)
    return fractions


def mask_size_experiment(real_masks: Sequence[str], synthetic_masks: Mapping[str, Sequence[str]],
                         out_dir: Path) -> list[dict[str, Any]]:
    """Figures 3, 6 and 10: histograms (5 % bins) of the polyp's share of each mask, real against synthetic.

    Writes ``mask_sizes.png`` and ``mask_sizes.csv`` (one row per mask) to ``out_dir``.

    Returns:
        One summary row per synthetic set: mean and std share of real and synthetic masks, the two-sample KS
        statistic and its 5 % critical value.
    """
    import torch

    from monai_singanseg.visualize.figures import histogram_chart
    from monai_singanseg.metrics.mask_statistics import fraction_histogram, ks_critical_value, ks_statistic

    real = torch.tensor(_mask_fractions(real_masks), dtype=torch.float64)
    per_mask = [{"set": "real", "mask": m, "fraction": float(f)} for m, f in zip(real_masks, real)]
    rows, pooled = [], []
    for name, masks in synthetic_masks.items():
        synthetic = torch.tensor(_mask_fractions(masks), dtype=torch.float64)
        per_mask += [{"set": name, "mask": m, "fraction": float(f)} for m, f in zip(masks, synthetic)]
        pooled.append(synthetic)
        rows.append({"experiment": "mask_sizes", "set": name, "num_real": len(real), "num_synthetic": len(synthetic),
                     "real_mean": float(real.mean()), "real_std": float(real.std(correction=0)),
                     "synthetic_mean": float(synthetic.mean()), "synthetic_std": float(synthetic.std(correction=0)),
                     "ks_statistic": ks_statistic(real, synthetic),
                     "ks_critical_5pct": ks_critical_value(len(real), len(synthetic))})
    out_dir.mkdir(parents=True, exist_ok=True)
    # One chart, real against every synthetic set pooled; the per-set statistics are in the rows and the CSV.
    series = {"real": fraction_histogram(real), "synthetic (all sets)": fraction_histogram(torch.cat(pooled))}
    chart = histogram_chart(series, "Polyp share of the image: real vs synthetic masks", "polyp pixels (%)")
    write_png(np.asarray(chart), out_dir / "mask_sizes.png")
    write_csv(per_mask, out_dir / "mask_sizes.csv")
    return rows


def _report(out_dir: Path, kfold: list[dict[str, Any]], small: list[dict[str, Any]],
            masks: list[dict[str, Any]], command: str) -> None:
    sections = []
    if kfold:
        write_csv(kfold, out_dir / "kfold.csv")
        summary = summarise(kfold, ["mode", "per_image", "style"])
        write_markdown(summary, ["mode", "per_image", "style"], out_dir / "kfold.md",
                       "k-fold: real vs synthetic-only training (Table 1)", notes=command)
        chart = bar_chart({f"{s['mode']} n={s['per_image']} {s['style']}" if s["per_image"] else s["mode"]:
                           {"IoU": (s["iou_mean"], s["iou_std"]), "Dice": (s["dice_mean"], s["dice_std"])}
                           for s in summary}, "k-fold: mean over folds (error bars: std)", y_label="score")
        write_png(np.asarray(chart), out_dir / "kfold_iou.png")
        sections.append((out_dir / "kfold.md").read_text())
    if small:
        write_csv(small, out_dir / "small_data.csv")
        summary = summarise(small, ["num_real", "mode", "num_train", "updates"])
        write_markdown(summary, ["num_real", "mode", "num_train", "updates"], out_dir / "small_data.md",
                       "Small data: R real images vs synthetic pairs from their generators (Table 2)", notes=command)
        lines = {mode: [(s["num_real"], s["iou_mean"]) for s in summary if s["mode"] == mode]
                 for mode in dict.fromkeys(s["mode"] for s in summary)}
        chart = line_chart(lines, "Small data: IoU on held-out real images (Figure 11)", "R (real training images)")
        write_png(np.asarray(chart), out_dir / "small_data_iou.png")
        sections.append((out_dir / "small_data.md").read_text())
    if masks:
        write_csv(masks, out_dir / "mask_sizes_summary.csv")
        header = "| set | real mean ± std | synthetic mean ± std | KS (5 % critical) |\n|---|---|---|---|\n"
        body = "".join(f"| {r['set']} | {r['real_mean']:.3f} ± {r['real_std']:.3f} | {r['synthetic_mean']:.3f} ± "
                       f"{r['synthetic_std']:.3f} | {r['ks_statistic']:.3f} ({r['ks_critical_5pct']:.3f}) |\n"
                       for r in masks)
        sections.append("# Mask sizes: polyp share of the image (Figures 3, 6, 10)\n\n" + header + body)
    write_bytes("\n".join(sections).encode(), out_dir / "results.md")
    write_csv(kfold + small + masks, out_dir / "results.csv")


def run_experiments(
    bundle_root: str | os.PathLike,
    dataset_dir: str | os.PathLike,
    out_dir: str | os.PathLike,
    names: Sequence[Experiment | str] = tuple(Experiment),
    overrides: Mapping[str, Any] | None = None,
    num_folds: int = 3,
    samples_per_image: Sequence[int] = (1, 2, 3, 4, 5),
    styles: Sequence[str] = ("none",),
    modes: Sequence[str] = ("real", "synthetic"),
    small_data_sizes: Sequence[int] = tuple(range(5, 55, 5)),
    small_data_per_image: int = 10,
    small_data_fold: int = 0,
    seed: int = 0,
    command: str = "",
    bank_dir: str | os.PathLike | None = None,
) -> Path:
    """Run the named experiments and write ``results.csv``, ``results.md`` and PNG charts to ``out_dir``.

    Args:
        bundle_root: the bundle folder.
        dataset_dir: the polyp folder (``images/`` and ``masks/``).
        out_dir: where every run, the generator bank and the results go.
        names: any of ``kfold``, ``small_data``, ``mask_sizes`` (the last reuses the others' synthetic masks, or
            samples ``small_data_per_image`` pairs per training image of fold 0 when run alone).
        overrides: config ids (nested dicts allowed) applied to every run, e.g. ``{"max_epochs": 300}``, or
            ``{"updates": 2000}`` to train every segmentation row for the same optimiser updates whatever its
            training set's size.
        num_folds: folds of the k-fold experiment (the paper: 3).
        samples_per_image: N of Table 1.
        styles: ``none``, ``fourier``, ``histogram``, ``gatys:1:1``, ``gatys:1:1000`` (Gatys needs
            ``generate#style_weights_path`` in ``overrides``).
        modes: training data of the k-fold runs (see :class:`~monai_singanseg.apps.endoscopy.TrainingData`).
        small_data_sizes: R of Table 2.
        small_data_per_image: synthetic pairs per real image in the small-data runs (the paper: 10).
        small_data_fold: the held-out fold of the small-data runs.
        seed: seed of the splits and of sampling.
        command: how the experiments were launched, recorded under the tables.
        bank_dir: the generator bank (default ``out_dir/generators``); runs that differ only after the pyramids
            (sampling, segmentation) can share one.

    Returns:
        The path of ``results.md``.

    Raises:
        ValueError: an unknown experiment name.
    """
    unknown = sorted(set(map(str, names)) - {e.value for e in Experiment})
    if unknown:
        raise ValueError(f"unknown experiments {unknown}; known: {[e.value for e in Experiment]}.")
    from monai_singanseg.apps.endoscopy.dataset import pair_polyp_folder
    from monai_singanseg.data.datalist import read_datalist

    # Checked once here, so that a bad folder fails at once and the many runs below skip the check.
    real = pair_polyp_folder(dataset_dir)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    bank_dir = Path(bank_dir) if bank_dir is not None else out_dir / "generators"
    runner = BundleRunner(Path(bundle_root), {**flatten_overrides(overrides or {}), "dataset_dir": str(dataset_dir),
                                              "check_masks": False})
    kfold = kfold_experiment(runner, out_dir, num_folds, samples_per_image, styles, modes, seed, bank_dir) \
        if Experiment.KFOLD in names else []
    small = small_data_experiment(runner, out_dir, small_data_sizes, small_data_per_image, num_folds,
                                  small_data_fold, seed, bank_dir) if Experiment.SMALL_DATA in names else []
    masks = []
    if Experiment.MASK_SIZES in names:
        datalists = sorted(out_dir.glob("kfold/fold*/synthetic_*/datalist.json")) + sorted(
            out_dir.glob("small_data/R*/synthetic_data/datalist.json"))
        if not datalists:
            split = {"split#num_folds": num_folds, "split#fold": 0, "split#seed": seed}
            _train_bank(runner, bank_dir, **split)
            runner.run(["generate.json"], **split, bank_dir=str(bank_dir),
                       synthetic_dir=str(out_dir / "mask_sizes" / "synthetic"),
                       **{"generate#per_image": small_data_per_image, "generate#seed": seed})
            datalists = [out_dir / "mask_sizes" / "synthetic" / "datalist.json"]
        synthetic = {str(d.parent.relative_to(out_dir)): [e["label"] for e in read_datalist(d)] for d in datalists}
        masks = mask_size_experiment([e["label"] for e in real], synthetic, out_dir)
    _report(out_dir, kfold, small, masks, command)
    return out_dir / "results.md"
