"""The rules behind the evaluation report's verdicts: the thresholds a user can set, and how the fidelity tests'
p-values and shares become "faithful", "not faithful" or "cannot tell"."""

from __future__ import annotations

from dataclasses import dataclass

from monai_singanseg.evaluation.fidelity import LeaveOneOutPatchTest
from monai_singanseg.metrics.mask_statistics import MaskSetComparison

__all__ = ["ReportThresholds", "all_passed", "fidelity_verdicts", "too_many_empty", "too_many_foreign"]


@dataclass(frozen=True)
class ReportThresholds:
    """The thresholds behind the three verdicts of the report.

    Attributes:
        copy_ncc: a synthetic image whose best correlation with a real image (over shifts and flips) reaches this
            is a near-copy, and the set is not safe to share.
        max_shift: largest shift, in pixels at the report size, tried when looking for copies; ``None`` (the
            default) tries shifts up to a quarter of the size, so a copy moved or cropped by that much is found.
        fidelity_alpha: chance, at most, that a set drawn like the real one is called unfaithful. It is split
            (Bonferroni) between the exact tests behind the verdict: half to the leave-one-out patch test of the
            images (:func:`~monai_singanseg.evaluation.fidelity.leave_one_out_patch_test`), a quarter each to the
            KS tests of the masks' foreground fractions and connected-component counts; a set is unfaithful when
            a p-value falls below its share.
        min_diversity: SinGAN diversity of the samples sharing a nearest real image, below which the set is not
            diverse (SinGAN reports about 0.5 when sampling from the coarsest scale; identical samples score 0).
        max_foreign_share: the largest estimated share of foreign images (images that lie beyond the real spread
            more often than chance explains) a set may hold and still be called faithful. With few real images
            the patch test cannot reject a set that is, say, half noise; such a set gets "cannot tell", not
            "faithful". The estimate is ``(k / m - 1 / (n + 1)) / (1 - 1 / (n + 1))`` for ``k`` of ``m``
            synthetic images beyond all ``n`` real ones, as a share ``e`` of foreign images puts
            ``e + (1 - e) / (n + 1)`` of the set beyond. Masks likewise: empty that much more often than the
            real masks, they are "cannot tell".
    """

    copy_ncc: float = 0.95
    max_shift: int | None = None
    fidelity_alpha: float = 0.05
    min_diversity: float = 0.2
    max_foreign_share: float = 0.2

    def __post_init__(self) -> None:
        if not 0.0 < self.fidelity_alpha < 1.0:
            raise ValueError(f"fidelity_alpha must be in (0, 1), got {self.fidelity_alpha}.")
        if not 0.0 < self.copy_ncc <= 1.0:
            raise ValueError(f"copy_ncc is a correlation in (0, 1], got {self.copy_ncc}.")
        if not 0.0 <= self.max_foreign_share < 1.0:
            raise ValueError(f"max_foreign_share must be in [0, 1), got {self.max_foreign_share}.")
        if self.min_diversity < 0:
            raise ValueError(f"min_diversity must be at least 0, got {self.min_diversity}.")
        if self.max_shift is not None and self.max_shift < 0:
            raise ValueError(f"max_shift must be at least 0 pixels, got {self.max_shift}.")


def _test_verdict(p_value: float, smallest_p_value: float, level: float) -> bool | None:
    """Passed (True), failed (False), or None when even the most extreme data could not reach ``level``."""
    if smallest_p_value >= level:
        return None  # a test that cannot reject is no evidence either way
    return p_value >= level


def all_passed(verdicts: list[bool | None]) -> bool | None:
    """False when any verdict failed, else None when any could not tell, else True."""
    return False if False in verdicts else None if None in verdicts else True


def too_many_foreign(image_test: LeaveOneOutPatchTest | None, thresholds: ReportThresholds) -> bool:
    """More images beyond the real spread than a faithful set holds (the estimated foreign share)."""
    return image_test is not None and image_test.foreign_share > thresholds.max_foreign_share


def too_many_empty(masks: MaskSetComparison, thresholds: ReportThresholds) -> bool:
    """Masks empty that much more often than the real ones."""
    return masks.synthetic_empty_fraction - masks.real_empty_fraction > thresholds.max_foreign_share


def fidelity_verdicts(
    image_test: LeaveOneOutPatchTest | None, masks: MaskSetComparison, thresholds: ReportThresholds = ReportThresholds()
) -> tuple[bool | None, bool | None]:
    """The images' and the masks' fidelity verdicts (see :func:`evaluate_sets`), each True, False or None.

    ``fidelity_alpha`` is split (Bonferroni): half to the image test, a quarter to each mask test.
    """
    faithful_images = None if image_test is None else _test_verdict(
        image_test.p_value, image_test.smallest_p_value, thresholds.fidelity_alpha / 2
    )
    if faithful_images and too_many_foreign(image_test, thresholds):
        faithful_images = None  # too many beyond the spread for a faithful set, too few real images to reject it
    faithful_masks = all_passed([_test_verdict(p_value, masks.ks_smallest_p_value, thresholds.fidelity_alpha / 4)
                                  for p_value in (masks.ks_p_value, masks.components_ks_p_value)])
    if faithful_masks and too_many_empty(masks, thresholds):
        faithful_masks = None  # too many empty masks for a set like the real one, too few real masks to reject it
    return faithful_images, faithful_masks
