"""Is a tumour label map anatomically plausible? Counts of the ways a generated label breaks the structure of real
tumour labels, per slice, so a synthetic set can be held against the real slices it was trained on."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import ndimage

from monai_singanseg.apps.mri.regions import REGION_LABELS

__all__ = ["STRUCTURE_CHECKS", "StructureCounts", "compare_structure", "count_structure_violations", "tidy_tumour_label"]

# What each count means, for the report.
STRUCTURE_CHECKS = {
    "outside_brain": "tumour pixels outside the brain (where every channel is background)",
    "isolated_core": "tumour-core components (necrosis, non-enhancing or enhancing tumour) with no other tumour "
                     "label around them, floating in healthy tissue",
    "speckles": "tumour components smaller than the minimum component size",
}

_EIGHT_NEIGHBOURS = np.ones((3, 3), dtype=bool)


def _brain(image: np.ndarray, brain_threshold: float) -> np.ndarray:
    # Synthetic slices have no brain mask, so real and synthetic are judged by the same rule: any channel bright.
    return ndimage.binary_fill_holes((image > brain_threshold).any(axis=0))


@dataclass(frozen=True)
class StructureCounts:
    """Violations of one label slice (see ``STRUCTURE_CHECKS``)."""

    outside_brain: int
    isolated_core: int
    speckles: int


def count_structure_violations(
    image: np.ndarray, label: np.ndarray, brain_threshold: float = 0.01, min_component_pixels: int = 10
) -> StructureCounts:
    """Count the structure violations of one 2D slice.

    The brain is where any channel is brighter than ``brain_threshold``, holes filled (synthetic slices have no
    brain mask, so real and synthetic are judged by the same rule). Components are 8-connected.

    Args:
        image: ``(C, H, W)`` in the slices' normalised units, background 0.
        label: ``(H, W)`` label values of a BraTS label set.
        brain_threshold: intensity above which a pixel is brain.
        min_component_pixels: tumour components smaller than this count as speckles.

    Returns:
        The counts.

    Raises:
        ValueError: ``image`` is not ``(C, H, W)`` or ``label`` not ``(H, W)`` of the same size.
    """
    image, label = np.asarray(image), np.asarray(label)
    if image.ndim != 3 or label.shape != image.shape[1:]:
        raise ValueError(f"expected an image (C, H, W) and a label (H, W) of one size, got {image.shape} and "
                         f"{label.shape}.")
    brain = _brain(image, brain_threshold)
    tumour = np.isin(label, REGION_LABELS["WT"])
    core = np.isin(label, REGION_LABELS["TC"])

    components, count = ndimage.label(core, structure=_EIGHT_NEIGHBOURS)
    isolated = 0
    for index in range(1, count + 1):
        component = components == index
        ring = ndimage.binary_dilation(component, structure=_EIGHT_NEIGHBOURS) & ~component
        if ring.any() and not tumour[ring].any():
            isolated += 1

    components, count = ndimage.label(tumour, structure=_EIGHT_NEIGHBOURS)
    sizes = np.bincount(components.ravel(), minlength=count + 1)[1:]
    return StructureCounts(outside_brain=int((tumour & ~brain).sum()), isolated_core=int(isolated),
                           speckles=int((sizes < min_component_pixels).sum()))


def tidy_tumour_label(
    image: np.ndarray, label: np.ndarray, brain_threshold: float = 0.01, min_component_pixels: int = 10
) -> np.ndarray:
    """Remove the two violations a label can lose without changing its image: tumour outside the brain and speckles
    (tumour components under ``min_component_pixels``), both set to background. Floating cores are kept: which
    tumour should surround them is not known, and the report counts them.

    Args:
        image: ``(C, H, W)``, background 0.
        label: ``(H, W)`` label values of a BraTS label set.
        brain_threshold: as :func:`count_structure_violations`.
        min_component_pixels: as :func:`count_structure_violations`.

    Returns:
        A tidied copy of ``label``.
    """
    image, label = np.asarray(image), np.array(label, copy=True)
    label[~_brain(image, brain_threshold)] = 0
    components, count = ndimage.label(np.isin(label, REGION_LABELS["WT"]), structure=_EIGHT_NEIGHBOURS)
    sizes = np.bincount(components.ravel(), minlength=count + 1)
    small = sizes < min_component_pixels
    small[0] = False
    label[small[components]] = 0
    return label


def _rates(counts: Sequence[StructureCounts]) -> dict[str, dict[str, float]]:
    table = {}
    for check in STRUCTURE_CHECKS:
        values = np.asarray([getattr(c, check) for c in counts], dtype=np.float64)
        table[check] = {"per_slice": float(values.mean()) if len(values) else 0.0,
                        "slices_with_any": float((values > 0).mean()) if len(values) else 0.0,
                        "total": float(values.sum())}
    return table


def compare_structure(real: Iterable[StructureCounts], synthetic: Iterable[StructureCounts]) -> dict[str, Any]:
    """Hold the violations of a synthetic set against those of the real slices it was trained on.

    Real expert labels have a few violations of their own (small fragments, a pixel past the brain edge), so the
    measure is the excess: synthetic violations beyond the real slices' rate per slice, over the synthetic set.
    A check passes when its excess is zero.

    Returns:
        ``{"real": {check: rates}, "synthetic": {check: rates}, "excess": {check: violations},
        "passes": {check: bool}, "num_real": n, "num_synthetic": m, "checks": STRUCTURE_CHECKS}``.
    """
    real, synthetic = list(real), list(synthetic)
    if not real or not synthetic:
        raise ValueError(f"need real and synthetic slices to compare, got {len(real)} real and {len(synthetic)} "
                         "synthetic.")
    real_rates, synthetic_rates = _rates(real), _rates(synthetic)
    excess = {check: max(0.0, synthetic_rates[check]["per_slice"] - real_rates[check]["per_slice"]) * len(synthetic)
              for check in STRUCTURE_CHECKS}
    return {"real": real_rates, "synthetic": synthetic_rates, "excess": excess,
            "passes": {check: value == 0.0 for check, value in excess.items()}, "num_real": len(real),
            "num_synthetic": len(synthetic), "checks": dict(STRUCTURE_CHECKS)}
