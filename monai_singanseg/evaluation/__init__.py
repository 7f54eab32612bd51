"""Evaluation of synthetic image+mask sets: fidelity, diversity and memorisation, written up as a report folder."""

from __future__ import annotations

from monai_singanseg.evaluation.loading import ImageMaskSet, load_image_mask_set
from monai_singanseg.evaluation.report import Evaluation, ReportThresholds, build_report, evaluate_sets

__all__ = ["Evaluation", "ImageMaskSet", "ReportThresholds", "build_report", "evaluate_sets", "load_image_mask_set"]
