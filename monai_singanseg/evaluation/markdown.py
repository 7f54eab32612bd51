"""``report.md``: the metrics of :func:`~monai_singanseg.evaluation.report.evaluate_sets` in plain words."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

__all__ = ["render_markdown"]


def _number(value: float | None, digits: int = 3) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def _answer(value: bool | None) -> str:
    return "cannot tell" if value is None else ("yes" if value else "no")


def _p_value(p_value: float, smallest: float, level: float) -> str:
    if smallest >= level:
        return f"p {p_value:.3g}, but at these sizes even disjoint data would give p {smallest:.3g}"
    return f"p {p_value:.3g}"


def _image_rows(metrics: dict[str, Any]) -> tuple[str, str]:
    fidelity, settings = metrics["fidelity"], metrics["settings"]
    test, level = fidelity["patch_test"], fidelity["test_level"]
    if test is None:
        return "one real image: no spread of real images to compare with", "needs two or more real images"
    real = test["real_distances"]
    evidence = (
        f"patch distance (SWD x1e3) of each synthetic image to the real set: median {test['synthetic_median']:.0f}, "
        f"largest {test['synthetic_max']:.0f}; of each real image to the other real images: {min(real):.0f} to "
        f"{test['bound']:.0f}; {test['num_beyond']} of {settings['num_synthetic']} synthetic images beyond "
        f"{test['bound']:.0f}, {_p_value(test['p_value'], test['smallest_p_value'], level)}; estimated foreign "
        f"share {test['foreign_share']:.0%}"
    )
    rule = (
        f"p at least {level:.3g}, where p = C(m, k) / C(n + m, k) with n = {len(real)} real, m = "
        f"{settings['num_synthetic']} synthetic, k = {test['num_beyond']} beyond: the exact chance of k or more "
        "synthetic images beyond every real one if they were exchangeable with real images; and an estimated "
        f"foreign share (k / m - 1 / (n + 1)) / (1 - 1 / (n + 1)) of at most "
        f"{metrics['settings']['thresholds']['max_foreign_share']:.0%}"
    )
    return evidence, rule


_MAX_LISTED = 10


def _farthest_lines(test: dict[str, Any] | None) -> list[str]:
    if not test or not test["farthest_beyond"]:
        return []
    beyond = test["farthest_beyond"]
    farthest = ", ".join(f"{item['synthetic']} ({item['distance']:.0f})" for item in beyond[:_MAX_LISTED])
    more = f", and {len(beyond) - _MAX_LISTED} more in metrics.json" if len(beyond) > _MAX_LISTED else ""
    return ["", f"Synthetic images beyond the real spread ({test['bound']:.0f}), farthest first: {farthest}{more}."]


def _verdict_rows(metrics: dict[str, Any]) -> list[str]:
    thresholds = metrics["settings"]["thresholds"]
    fidelity, verdict = metrics["fidelity"], metrics["verdict"]
    masks, memorisation = fidelity["masks"], metrics["memorisation"]
    image_evidence, image_rule = _image_rows(metrics)
    mask_level = fidelity["mask_test_level"]
    mask_evidence = (
        f"foreground fraction {masks['real_fraction_mean']:.3f} +- {masks['real_fraction_std']:.3f} real, "
        f"{masks['synthetic_fraction_mean']:.3f} +- {masks['synthetic_fraction_std']:.3f} synthetic; KS statistic "
        f"{masks['ks_statistic']:.3f}, {_p_value(masks['ks_p_value'], masks['ks_smallest_p_value'], mask_level)}; "
        f"components per mask {masks['real_components_mean']:.2f} real, {masks['synthetic_components_mean']:.2f} "
        f"synthetic, {_p_value(masks['components_ks_p_value'], masks['ks_smallest_p_value'], mask_level)}; empty "
        f"{masks['real_empty_fraction']:.0%} real, {masks['synthetic_empty_fraction']:.0%} synthetic"
    )
    mask_rule = (
        f"p at least {mask_level:.3g} in both exact two-sample Kolmogorov-Smirnov tests (fractions, components), "
        f"and at most {thresholds['max_foreign_share']:.0%} more empty masks than real"
    )
    faithful_rule = (
        f"images and masks pass; {thresholds['fidelity_alpha']:.0%} split over the three tests (half to the images), "
        "so a set drawn like the real one "
        f"is called unfaithful at most {thresholds['fidelity_alpha']:.0%} of the time"
    )
    diversity = metrics["diversity"]
    grouped_by = "generated from" if diversity["grouping"] == "source_image" else "matched to"
    diverse_evidence = (
        f"SinGAN diversity {_number(diversity['singan_diversity'])}, the mean over {diversity['num_groups']} "
        f"real image(s) with two or more samples {grouped_by} them"
    )
    safe_evidence = (
        f"{memorisation['num_flagged']} near-copies; highest correlation {memorisation['max_ncc']:.3f}; "
        f"distinct real images reach {_number(memorisation['real_max_ncc_between_distinct'])}"
    )
    safe_rule = (
        f"no correlation at or above {thresholds['copy_ncc']} (shifts up to {memorisation['max_shift']} px, flips)"
    )
    return [
        "| Question | Answer | Evidence | Rule |",
        "|---|---|---|---|",
        f"| Faithful? | {_answer(verdict['faithful'])} | images and masks below | {faithful_rule} |",
        f"| - images | {_answer(verdict['faithful_images'])} | {image_evidence} | {image_rule} |",
        f"| - masks | {_answer(verdict['faithful_masks'])} | {mask_evidence} | {mask_rule} |",
        f"| Diverse? | {_answer(verdict['diverse'])} | {diverse_evidence} | at least {thresholds['min_diversity']} |",
        f"| Safe to share? | {_answer(verdict['safe'])} | {safe_evidence} | {safe_rule} |",
    ]


def _summary(metrics: dict[str, Any]) -> str:
    verdict = metrics["verdict"]
    sentences = []
    test = metrics["fidelity"]["patch_test"]
    if verdict["faithful"]:
        sentences.append(
            f"The synthetic set looks faithful: {test['num_beyond']} of {len(test['synthetic_distances'])} images "
            "lie beyond the real set's own spread of patch statistics, no more than chance explains, and its mask "
            "sizes match the real ones."
        )
    too_many_beyond = verdict["faithful_images"] is None and metrics["fidelity"]["too_many_beyond"]
    if too_many_beyond:
        sentences.append(
            f"{test['num_beyond']} of {len(test['synthetic_distances'])} synthetic images lie beyond the real "
            f"spread, more than chance explains (an estimated {test['foreign_share']:.0%} foreign), but "
            f"{len(test['real_distances'])} real images are too few to reject them: look at the images listed "
            "below, or add real images."
        )
    if verdict["faithful_images"] is False:
        sentences.append(
            "The synthetic images do not look faithful: too many lie farther from the real set than real images "
            "lie from one another."
        )
    if verdict["faithful_masks"] is False:
        sentences.append("The synthetic masks do not look faithful: their sizes or their number of pieces differ "
                         "from the real masks.")
    masks = metrics["fidelity"]["masks"]
    too_many_empty = verdict["faithful_masks"] is None and metrics["fidelity"]["too_many_empty"]
    if too_many_empty:
        sentences.append(
            f"{masks['synthetic_empty_fraction']:.0%} of the synthetic masks are empty against "
            f"{masks['real_empty_fraction']:.0%} of the real ones: too many to call the masks faithful, too few "
            "real masks to reject them."
        )
    if verdict["faithful"] is None and not (too_many_beyond or too_many_empty):
        sentences.append("Fidelity cannot be fully judged: with so few images a test cannot reach its level.")
    if verdict["faithful_images"] is False:
        sentences.append("Diversity is not judged: images that are not faithful can differ without being samples.")
    elif verdict["diverse"] is None:
        sentences.append("Diversity cannot be judged: no real image is the nearest of two or more synthetic images.")
    else:
        sentences.append(
            "It is diverse: samples of one training image differ from each other."
            if verdict["diverse"]
            else "It is not diverse: samples of one training image are nearly the same picture."
        )
    unmatched = metrics["diversity"].get("unmatched_sources", 0)
    if unmatched:
        sentences.append(
            f"{unmatched} synthetic image(s) name a source image that is not in the real datalist: is it the set "
            "they were generated from? Samples are grouped by their nearest real image instead."
        )
    sentences.append(
        "It looks safe to share: no synthetic image is a copy of a real one."
        if verdict["safe"]
        else "It is NOT safe to share as is: some synthetic images are near-copies of real images (listed below)."
    )
    return " ".join(sentences)


def _perceptual_lines(scores: dict[str, Any] | None) -> list[str]:
    if not scores:
        return []
    rows = [
        ("SIFID to its real image (SinGAN; lower is closer)", scores.get("sifid_mean")),
        ("LPIPS to its real image (lower is closer; near 0 is a copy)", scores.get("lpips_to_real_mean")),
        ("LPIPS between samples of one real image (higher is more varied)", scores.get("lpips_diversity")),
    ]
    return [
        "",
        "## Perceptual scores",
        "",
        "With the network weights supplied by the user: each synthetic image against the real image it was "
        "generated from (or its nearest real image).",
        "",
        "| Score | Mean |",
        "|---|---|",
        *(f"| {name} | {_number(value, 4)} |" for name, value in rows if value is not None),
    ]


def render_markdown(metrics: dict[str, Any], figure_names: Sequence[str]) -> str:
    """The report as Markdown: verdicts with their numbers and thresholds, then details and figures.

    Args:
        metrics: the dictionary of :func:`~monai_singanseg.evaluation.report.evaluate_sets`, with an ``inputs``
            entry naming the two datalists.
        figure_names: PNG files of the report folder, linked at the end.

    Returns:
        Markdown text.

    Example::

        >>> text = render_markdown(metrics, ["samples_real.png"])  # doctest: +SKIP
        >>> text.startswith("# Synthetic data report")  # doctest: +SKIP
        True
    """
    settings, fidelity, masks = metrics["settings"], metrics["fidelity"], metrics["fidelity"]["masks"]
    memorisation, inputs = metrics["memorisation"], metrics.get("inputs", {})
    num_levels = len(fidelity["swd_x1e3_per_level"]["image"])
    lines = [
        "# Synthetic data report",
        "",
        f"{settings['num_synthetic']} synthetic image+mask pairs (`{inputs.get('synthetic', '?')}`) compared with "
        f"{settings['num_real']} real pairs (`{inputs.get('real', '?')}`), all resized to "
        f"{settings['size']}x{settings['size']} pixels (seed {settings['seed']}).",
        "",
        "## Verdict",
        "",
        _summary(metrics),
        "",
        *_verdict_rows(metrics),
        "",
        "## Fidelity",
        "",
        "Sliced Wasserstein distance (x1e3) between 7x7 patches of the Laplacian pyramid levels, finest first "
        "(Karras et al., 2018); 0 means the same patch statistics. Each set's descriptors are standardised on "
        "their own, as in the reference, so a global colour shift does not count. The label and joint rows check "
        "that masks, and masks together with their images, look like the real ones.",
        "",
        "| Channels | " + " | ".join(f"level {level}" for level in range(num_levels)) + " | mean |",
        "|---|" + "---|" * (num_levels + 1),
    ]
    for name, values in fidelity["swd_x1e3_per_level"].items():
        cells = " | ".join(f"{value:.1f}" for value in values)
        lines.append(f"| {name} | {cells} | {fidelity['swd_x1e3_mean'][name]:.1f} |")
    lines += [
        "",
        "| Masks | real | synthetic |",
        "|---|---|---|",
        f"| foreground fraction, mean +- std | {masks['real_fraction_mean']:.3f} +- {masks['real_fraction_std']:.3f} "
        f"| {masks['synthetic_fraction_mean']:.3f} +- {masks['synthetic_fraction_std']:.3f} |",
        f"| connected components per mask | {masks['real_components_mean']:.2f} | "
        f"{masks['synthetic_components_mean']:.2f} |",
        f"| empty masks | | {masks['synthetic_empty_fraction']:.1%} |",
        "",
        f"Histogram intersection of the 5% foreground-fraction histograms: {masks['histogram_intersection']:.3f} "
        "(1 is identical). With few real masks the KS test is weak: a pass is weak evidence.",
        "",
        "The set-level SWD above ranks synthetic sets against each other; with a few real images it is too noisy "
        "to decide fidelity (two halves of the real set score "
        f"{_number(fidelity['swd_x1e3_real_halves_image'], 1)}). The verdict asks image by image instead: each "
        "image's patch distance to a pool of real images is the SWD above between its patches and the pool's, "
        "standardised by the pool (so colour shifts count); a real image is measured against the other real "
        "images, a synthetic one against all real images (one more, which tends to bring it closer).",
        *_farthest_lines(fidelity["patch_test"]),
        "",
        "## Memorisation",
        "",
        f"Each synthetic image was matched to its most correlated real image (normalised cross-correlation over "
        f"shifts up to {memorisation['max_shift']} px and flips). Mean best correlation "
        f"{memorisation['mean_ncc']:.3f}; mean distance of synthetic patches to their nearest real patch "
        f"{memorisation['patch_distance_mean']:.4f} (real images to other real images: "
        f"{_number(memorisation['real_patch_distance_mean'], 4)}).",
        "",
    ]
    if memorisation["flagged"]:
        lines += ["| synthetic | nearest real | NCC | flip | shift |", "|---|---|---|---|---|"]
        lines += [
            f"| {item['synthetic']} | {item['real']} | {item['ncc']:.3f} | {item['flip']} | {item['shift']} |"
            for item in memorisation["flagged"]
        ]
    else:
        lines.append("No synthetic image reaches the copy threshold.")
    lines += _perceptual_lines(metrics.get("perceptual"))
    lines += ["", "## Figures", ""]
    lines += [f"![{name[:-4].replace('_', ' ')}]({name})" for name in figure_names]
    return "\n".join(lines) + "\n"
