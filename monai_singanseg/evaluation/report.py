"""Evaluation report: is a synthetic image+mask set faithful to the real set, diverse, and safe to share?

:func:`~monai_singanseg.evaluation.loading.load_image_mask_set` reads a MONAI datalist, :func:`evaluate_sets`
computes every number without I/O, and :func:`build_report` writes ``metrics.json``, ``report.md`` and the PNG
figures into a folder.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from PIL import Image
from tqdm.auto import tqdm

from monai_singanseg.data.writers import write_atomically, write_bytes
from monai_singanseg.evaluation.fidelity import LeaveOneOutPatchTest, leave_one_out_patch_test
from monai_singanseg.evaluation.loading import ImageMaskSet, load_image_mask_set
from monai_singanseg.evaluation.markdown import render_markdown
from monai_singanseg.evaluation.perceptual import PerceptualNetworks, perceptual_scores
from monai_singanseg.evaluation.verdicts import (
    ReportThresholds,
    all_passed,
    fidelity_verdicts,
    too_many_empty,
    too_many_foreign,
)
from monai_singanseg.metrics.diversity import diversity_score
from monai_singanseg.metrics.mask_statistics import (
    compare_mask_sets,
    foreground_fraction,
    fraction_histogram,
    mean_and_std_masks,
)
from monai_singanseg.metrics.memorisation import NearestReal, nearest_real
from monai_singanseg.metrics.sliced_wasserstein import SlicedWassersteinDistance
from monai_singanseg.visualize import figures

# ReportThresholds stays importable from here, where it lived until the verdict rules got their own file.
__all__ = ["Evaluation", "ReportThresholds", "build_report", "evaluate_sets", "write_report"]


@dataclass(frozen=True)
class Evaluation:
    """Everything :func:`evaluate_sets` found: JSON-ready ``metrics`` and the matches behind the pair figure."""

    metrics: dict[str, Any]
    nearest: NearestReal


def _match_channels(real: torch.Tensor, synthetic: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    if real.shape[1] == synthetic.shape[1]:
        return real, synthetic
    if min(real.shape[1], synthetic.shape[1]) == 1:
        channels = max(real.shape[1], synthetic.shape[1])
        return real.expand(-1, channels, -1, -1), synthetic.expand(-1, channels, -1, -1)
    raise ValueError(f"real images have {real.shape[1]} channels and synthetic ones {synthetic.shape[1]}.")


def _swd(synthetic: torch.Tensor, real: torch.Tensor, channels: list[int] | None, seed: int) -> list[float]:
    metric = SlicedWassersteinDistance(channels=channels, seed=seed)
    metric(y_pred=synthetic, y=real)
    return metric.aggregate(per_level=True).tolist()


def _mean(values: list[float]) -> float:
    return sum(values) / len(values)


def _patch_test_summary(test: LeaveOneOutPatchTest | None, names: list[str]) -> dict[str, Any] | None:
    if test is None:
        return None
    order = test.synthetic_distances.argsort(descending=True)[: test.num_beyond].tolist()
    return {
        "real_distances": test.real_distances.tolist(),
        "synthetic_distances": test.synthetic_distances.tolist(),
        "synthetic_median": float(test.synthetic_distances.median()),
        "synthetic_max": float(test.synthetic_distances.max()),
        "bound": test.bound,
        "num_beyond": test.num_beyond,
        "p_value": test.p_value,
        "smallest_p_value": test.smallest_p_value,
        "foreign_share": test.foreign_share,
        "farthest_beyond": [{"synthetic": names[i], "distance": float(test.synthetic_distances[i])} for i in order],
    }


def _source_indices(real: ImageMaskSet, synthetic: ImageMaskSet) -> list[int | None]:
    """The real image each sample names as its ``source_image`` (by path, else by file name), or None."""
    real_by_path = {path: index for index, path in enumerate(real.paths)}
    real_by_name = {name: index for index, name in enumerate(real.names)}
    return [None if source is None else real_by_path.get(source, real_by_name.get(Path(source).name))
            for source in synthetic.sources]


def _unmatched_sources(real: ImageMaskSet, synthetic: ImageMaskSet) -> int:
    return sum(source is not None and index is None
               for source, index in zip(synthetic.sources, _source_indices(real, synthetic)))


def _diversity_groups(
    real: ImageMaskSet, synthetic: ImageMaskSet, nearest: NearestReal
) -> tuple[dict[int, list[int]], str]:
    """Synthetic indices per real index: by ``source_image`` when every sample names a real image, else by match."""
    groups: dict[int, list[int]] = {}
    for index, real_index in enumerate(_source_indices(real, synthetic)):
        if real_index is None:
            break
        groups.setdefault(real_index, []).append(index)
    else:
        return groups, "source_image"
    groups = {}
    for index, real_index in enumerate(nearest.index.tolist()):
        groups.setdefault(real_index, []).append(index)
    return groups, "nearest_real"


def evaluate_sets(
    real: ImageMaskSet,
    synthetic: ImageMaskSet,
    thresholds: ReportThresholds = ReportThresholds(),
    seed: int = 0,
    perceptual: PerceptualNetworks | None = None,
) -> Evaluation:
    """Fidelity, diversity and memorisation numbers of a synthetic set against the real one, with verdicts.

    The verdicts, each ``True``, ``False`` or ``None`` (cannot tell):

    - *faithful*: the images pass the leave-one-out patch test (no more synthetic images beyond the real set's own
      spread than chance allows) at ``thresholds.fidelity_alpha / 2``, and the masks pass the exact KS tests of
      their foreground fractions and of their connected-component counts, each at a quarter of it; a test that
      could not reach its level even on disjoint data gives ``None``, and so does a single real image (no spread
      to measure), and so do images that pass but hold an estimated share of foreign images above
      ``thresholds.max_foreign_share``, or masks that pass but are empty that much more often than the real
      ones (too few real images to reject what is plainly off).
    - *diverse*: the SinGAN diversity of the samples of one training image reaches ``thresholds.min_diversity``;
      ``None`` for images judged unfaithful.
    - *safe*: no synthetic image correlates with a real one at ``thresholds.copy_ncc`` or more, over shifts and
      flips.

    Args:
        real: the training images and masks.
        synthetic: the generated images and masks, at the same size.
        thresholds: the :class:`ReportThresholds` behind the verdicts.
        seed: seed of every random choice (SWD patches and directions, memorisation patches).
        perceptual: networks for SIFID and LPIPS (user-supplied weights); ``None`` leaves them out.

    Returns:
        An :class:`Evaluation`.

    Raises:
        ValueError: if the image sizes differ, the channel counts cannot be matched, or a set holds NaN or Inf
            (which would fail every comparison and so pass every check).

    Example::

        >>> evaluation = evaluate_sets(real, synthetic)  # doctest: +SKIP
        >>> evaluation.metrics["verdict"]  # doctest: +SKIP
        {'faithful': True, 'faithful_images': True, 'faithful_masks': True, 'diverse': True, 'safe': False}
    """
    if real.images.shape[-2:] != synthetic.images.shape[-2:]:
        sizes = f"{tuple(real.images.shape[-2:])} and {tuple(synthetic.images.shape[-2:])}"
        raise ValueError(f"real and synthetic images must share one size, got {sizes}.")
    for name, pairs in (("real", real), ("synthetic", synthetic)):
        for field in ("images", "masks"):
            bad = (~torch.isfinite(getattr(pairs, field))).flatten(1).any(dim=1).nonzero().flatten().tolist()
            if bad:
                raise ValueError(f"the {name} {field} hold NaN or Inf values ({pairs.names[bad[0]]} and "
                                 f"{len(bad) - 1} more): every value must be finite.")
    real_images, synthetic_images = _match_channels(real.images, synthetic.images)
    image_channels = list(range(real_images.shape[1]))
    real_pairs = torch.cat([real_images, real.masks], dim=1)
    synthetic_pairs = torch.cat([synthetic_images, synthetic.masks], dim=1)
    # 1. Fidelity. The set-level SWD of images, masks and both (with the real set split in two for scale) ranks
    #    sets but is too noisy at a few real images to decide; the verdict rests on two exact small-sample tests.
    swd = {
        "image": _swd(synthetic_pairs, real_pairs, image_channels, seed),
        "label": _swd(synthetic_pairs, real_pairs, [len(image_channels)], seed),
        "image_and_label": _swd(synthetic_pairs, real_pairs, None, seed),
    }
    swd_baseline = None
    if len(real_pairs) >= 2:
        swd_baseline = _mean(_swd(real_pairs[1::2], real_pairs[0::2], image_channels, seed))
    image_test = None
    if len(real_images) >= 2:
        image_test = leave_one_out_patch_test(real_images, synthetic_images, seed=seed)
    masks = compare_mask_sets(real.masks, synthetic.masks)
    # 2. Memorisation: nearest real image of every synthetic one, and how close distinct real images already are.
    max_shift = min(real_images.shape[-2:]) // 4 if thresholds.max_shift is None else thresholds.max_shift
    nearest = nearest_real(synthetic_images, real_images, max_shift, seed=seed)
    flagged = (nearest.ncc >= thresholds.copy_ncc).nonzero().flatten().tolist()
    real_to_real = None
    if len(real_images) >= 2:
        real_to_real = nearest_real(
            real_images, real_images, max_shift, exclude_same_index=True, seed=seed
        )
    # 3. Diversity as in SinGAN, per training image: over the samples generated from it (or matched to it).
    groups, grouping = _diversity_groups(real, synthetic, nearest)
    group_scores = [
        float(diversity_score(synthetic_images[members], real_images[real_index]))
        for real_index, members in groups.items()
        if len(members) >= 2 and float(real_images[real_index].std()) > 0
    ]
    diversity = _mean(group_scores) if group_scores else None
    scores = None if perceptual is None else perceptual_scores(real_images, synthetic_images, groups, perceptual)
    faithful_images, faithful_masks = fidelity_verdicts(image_test, masks, thresholds)
    faithful = all_passed([faithful_images, faithful_masks])
    test_level, mask_level = thresholds.fidelity_alpha / 2, thresholds.fidelity_alpha / 4
    # Unfaithful images (noise, say) differ from each other without being varied samples.
    diverse = None if diversity is None or faithful_images is False else diversity >= thresholds.min_diversity
    metrics: dict[str, Any] = {
        "settings": {
            "size": int(real.images.shape[-1]),
            "seed": seed,
            "num_real": len(real.names),
            "num_synthetic": len(synthetic.names),
            "thresholds": asdict(thresholds),
        },
        "fidelity": {
            "swd_x1e3_per_level": swd,
            "swd_x1e3_mean": {name: _mean(values) for name, values in swd.items()},
            "swd_x1e3_real_halves_image": swd_baseline,
            "test_level": test_level,
            "mask_test_level": mask_level,
            "patch_test": _patch_test_summary(image_test, synthetic.names),
            "masks": asdict(masks),
            # Why a passing test still gave "cannot tell", for the report's words.
            "too_many_beyond": too_many_foreign(image_test, thresholds),
            "too_many_empty": too_many_empty(masks, thresholds),
        },
        "diversity": {
            "singan_diversity": diversity, "num_groups": len(group_scores), "grouping": grouping,
            # Samples that name a source image the real set lacks: perhaps --real is not the training set.
            "unmatched_sources": _unmatched_sources(real, synthetic),
        },
        "perceptual": scores,
        "memorisation": {
            "max_shift": max_shift,
            "max_ncc": float(nearest.ncc.max()),
            "mean_ncc": float(nearest.ncc.mean()),
            "num_flagged": len(flagged),
            "flagged": [
                {
                    "synthetic": synthetic.names[index],
                    "real": real.names[int(nearest.index[index])],
                    "ncc": float(nearest.ncc[index]),
                    "flip": str(nearest.flip[index]),
                    "shift": nearest.shift[index].tolist(),
                }
                for index in flagged
            ],
            "patch_distance_mean": float(nearest.patch_distance.mean()),
            "real_max_ncc_between_distinct": None if real_to_real is None else float(real_to_real.ncc.max()),
            "real_patch_distance_mean": None if real_to_real is None else float(real_to_real.patch_distance.mean()),
        },
        "verdict": {
            "faithful": faithful,
            "faithful_images": faithful_images,
            "faithful_masks": faithful_masks,
            "diverse": diverse,
            "safe": not flagged,
        },
    }
    return Evaluation(metrics, nearest)


def _grid(images: torch.Tensor, data: ImageMaskSet, title: str) -> Image.Image:
    grid = figures.sample_grid(images, (data.masks > 0.5).to(torch.uint8), (0, 1), padding=0, beside=False,
                               names=data.names, title=title, max_items=8, value_range=(0.0, 1.0))
    return Image.fromarray(grid)


def _write_figures(out_dir: Path, real: ImageMaskSet, synthetic: ImageMaskSet, nearest: NearestReal) -> list[str]:
    real_images, synthetic_images = _match_channels(real.images, synthetic.images)
    pictures = {
        "samples_real.png": _grid(real_images, real, "real images, masks in green"),
        "samples_synthetic.png": _grid(synthetic_images, synthetic, "synthetic images, masks in green"),
        "foreground_fraction_histogram.png": figures.histogram_chart(
            {
                f"real ({len(real.names)})": fraction_histogram(foreground_fraction(real.masks)),
                f"synthetic ({len(synthetic.names)})": fraction_histogram(foreground_fraction(synthetic.masks)),
            },
            "foreground (polyp) pixels per mask, 5% bins",
            "foreground pixels (%)",
        ),
    }
    real_mean, real_std = mean_and_std_masks(real.masks)
    synthetic_mean, synthetic_std = mean_and_std_masks(synthetic.masks)
    pictures["mask_mean_std.png"] = figures.mask_maps(
        {
            "real mean": real_mean,
            "real std x2": 2 * real_std,  # a binary mask's std is at most 0.5
            "synth mean": synthetic_mean,
            "synth std x2": 2 * synthetic_std,
        }
    )
    order = nearest.ncc.argsort(descending=True)[:6]
    captions = [
        f"NCC {float(nearest.ncc[i]):.3f} {synthetic.names[i]} vs {real.names[int(nearest.index[i])]}"
        f" ({nearest.flip[i]}, shift {nearest.shift[i].tolist()})"
        for i in order.tolist()
    ]
    title = "synthetic (left) and nearest real (right)"
    pictures["closest_pairs.png"] = figures.closest_pairs(
        synthetic_images[order], real_images[nearest.index[order]], captions, title
    )
    for name, picture in pictures.items():
        write_atomically(out_dir / name, lambda f, picture=picture: picture.save(f, format="PNG"))
    return list(pictures)


def write_report(
    out_dir: str | Path, real: ImageMaskSet, synthetic: ImageMaskSet, inputs: dict[str, str],
    thresholds: ReportThresholds = ReportThresholds(), seed: int = 0, perceptual: PerceptualNetworks | None = None,
) -> dict[str, Any]:
    """Evaluate loaded sets and write ``metrics.json``, ``report.md`` and the figures into ``out_dir``.

    Args:
        out_dir: report folder, created if needed.
        real: the training pairs.
        synthetic: the generated pairs, at the same size.
        inputs: where the sets came from (``{"real": ..., "synthetic": ...}``), recorded in the report.
        thresholds: the :class:`ReportThresholds` behind the verdicts.
        seed: seed of every random choice.
        perceptual: networks for SIFID and LPIPS; ``None`` leaves them out.

    Returns:
        The metrics written to ``metrics.json``.

    Example::

        >>> metrics = write_report("report", real, synthetic, {"real": "r.json", "synthetic": "s.json"})  # doctest: +SKIP
    """
    out_dir = Path(out_dir)
    evaluation = evaluate_sets(real, synthetic, thresholds, seed, perceptual)
    metrics = {**evaluation.metrics, "inputs": dict(inputs)}
    out_dir.mkdir(parents=True, exist_ok=True)
    figure_names = _write_figures(out_dir, real, synthetic, evaluation.nearest)
    # Written last, each atomically: a report folder with a metrics.json is never half-written.
    write_bytes((json.dumps(metrics, indent=2) + "\n").encode(), out_dir / "metrics.json")
    write_bytes(render_markdown(metrics, figure_names).encode(), out_dir / "report.md")
    return metrics


def build_report(
    real_datalist: str | Path,
    synthetic_datalist: str | Path,
    out_dir: str | Path,
    size: int = 128,
    thresholds: ReportThresholds = ReportThresholds(),
    seed: int = 0,
    data_list_key: str = "training",
    progress: bool = True,
    perceptual: PerceptualNetworks | None = None,
) -> dict[str, Any]:
    """Evaluate a synthetic datalist against a real one and write the report folder.

    Writes ``metrics.json``, ``report.md`` and the PNGs ``samples_real.png``, ``samples_synthetic.png``,
    ``foreground_fraction_histogram.png``, ``mask_mean_std.png`` and ``closest_pairs.png``.

    Args:
        real_datalist: MONAI datalist of the real (training) image+mask pairs.
        synthetic_datalist: MONAI datalist of the synthetic pairs.
        out_dir: report folder, created if needed.
        size: images and masks are resized to ``size`` x ``size`` for every comparison.
        thresholds: the :class:`ReportThresholds` behind the verdicts.
        seed: seed of every random choice.
        data_list_key: key of the list of entries in both datalists.
        progress: show progress bars.
        perceptual: networks for SIFID and LPIPS (user-supplied weights); ``None`` leaves them out.

    Returns:
        The metrics written to ``metrics.json``.

    Raises:
        FileNotFoundError: if a datalist or a file it lists does not exist.
        ValueError: if a datalist is malformed or a file cannot be read.

    Example::

        >>> metrics = build_report("real.json", "synthetic.json", "report")  # doctest: +SKIP
        >>> metrics["verdict"]["safe"]  # doctest: +SKIP
        True
    """
    if size < 16:
        raise ValueError(f"size must be at least 16 pixels for the SWD pyramid, got {size}.")
    with tqdm(total=2, desc="evaluation report", disable=not progress) as bar:
        real = load_image_mask_set(real_datalist, size, data_list_key, progress)
        synthetic = load_image_mask_set(synthetic_datalist, size, data_list_key, progress)
        bar.update()
        inputs = {"real": str(real_datalist), "synthetic": str(synthetic_datalist)}
        metrics = write_report(out_dir, real, synthetic, inputs, thresholds, seed, perceptual)
        bar.update()
    return metrics
