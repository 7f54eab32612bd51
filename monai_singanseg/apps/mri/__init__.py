"""Multi-channel brain MR with tumour labels: cases from NIfTI files or DICOM series, axial training slices by the
ensemble paper's rules, ensembles of slice generators, synthetic slices as NIfTI and DICOM, and 2D segmentation on
real and synthetic slices. The library behind ``bundles/brats_mri_slices_singanseg``."""

from __future__ import annotations

from monai_singanseg.apps.mri.cases import find_cases, load_case_datalist, split_cases
from monai_singanseg.apps.mri.comparison import REGION_SUMMARY, comparison_table
from monai_singanseg.apps.mri.dicom import SYNTHETIC_IMAGE_TYPE, DicomSeries, read_series_headers, write_dicom_series
from monai_singanseg.apps.mri.ensemble import (
    EnsembleItem, even_schedule, member_dir, member_dirs, member_seed, train_slice_ensemble,
)
from monai_singanseg.apps.mri.generate import SYNTHETIC_DATALIST, generate_synthetic, sample_seed
from monai_singanseg.apps.mri.prepare import SLICES_DATALIST, prepare_slices
from monai_singanseg.apps.mri.grid import Grid
from monai_singanseg.apps.mri.label_structure import (
    STRUCTURE_CHECKS, StructureCounts, compare_structure, count_structure_violations,
)
from monai_singanseg.apps.mri.losses import StackedDeepSupervisionLoss, nnunet_weights
from monai_singanseg.apps.mri.metrics import REGION_METRICS, read_metric_details, summarise_dice, summarise_regions
from monai_singanseg.apps.mri.regions import (
    BRATS_LABEL_SETS, REGION_CHANNELS, REGION_LABELS, BratsRegionsd, brats_regions, is_brats_label_set,
)
from monai_singanseg.apps.mri.report import read_slice, synthetic_report
from monai_singanseg.apps.mri.segmentation import TrainingData, segmentation_datalist
from monai_singanseg.apps.mri.slices import (
    ChannelRange, brain_fraction, centre_pad_or_crop, denormalise_channels, normalise_channels, select_axial_slices,
    slice_affine,
)
from monai_singanseg.apps.mri.transforms import CheckCased, CheckLabelValuesd, NameAfterCased
from monai_singanseg.apps.mri.writers import write_slice_nifti
from monai_singanseg.data.datalist import read_datalist, write_datalist  # re-exported for the bundles

__all__ = [
    "BRATS_LABEL_SETS", "REGION_CHANNELS", "REGION_LABELS", "REGION_METRICS", "REGION_SUMMARY", "SLICES_DATALIST", "STRUCTURE_CHECKS",
    "SYNTHETIC_DATALIST", "SYNTHETIC_IMAGE_TYPE", "BratsRegionsd", "ChannelRange", "CheckCased",
    "CheckLabelValuesd", "DicomSeries", "EnsembleItem", "Grid", "NameAfterCased", "StackedDeepSupervisionLoss", "StructureCounts",
    "TrainingData", "brain_fraction", "brats_regions", "centre_pad_or_crop", "compare_structure", "comparison_table", "count_structure_violations", "denormalise_channels", "even_schedule", "find_cases",
    "generate_synthetic", "is_brats_label_set", "load_case_datalist", "member_dir", "member_dirs", "member_seed", "nnunet_weights",
    "normalise_channels", "prepare_slices", "read_datalist", "read_metric_details", "read_series_headers", "read_slice", "sample_seed",
    "segmentation_datalist", "select_axial_slices", "slice_affine", "split_cases", "summarise_dice", "summarise_regions", "synthetic_report",
    "train_slice_ensemble", "write_datalist", "write_dicom_series", "write_slice_nifti",
]
