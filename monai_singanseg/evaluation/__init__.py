"""Evaluation of synthetic image+mask sets: fidelity, diversity and memorisation, written up as a report folder."""

from __future__ import annotations

from monai_singanseg.evaluation.loading import ImageMaskSet, load_image_mask_set
from monai_singanseg.evaluation.report import Evaluation, build_report, evaluate_sets
from monai_singanseg.evaluation.verdicts import ReportThresholds, fidelity_verdicts

__all__ = ["Evaluation", "ImageMaskSet", "ReportThresholds", "build_report", "evaluate_sets", "fidelity_verdicts",
           "load_image_mask_set"]
