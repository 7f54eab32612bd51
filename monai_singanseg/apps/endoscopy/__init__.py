"""Library code of the endoscopy (polyp) bundle ``bundles/endoscopy_polyp_singanseg``: pairing and checking a
polyp folder, leak-free splits, synthetic training sets, the UNet++ inferer, and the paper's experiments."""

from __future__ import annotations

from monai_singanseg.apps.endoscopy.budget import epochs_for_updates
from monai_singanseg.apps.endoscopy.dataset import (
    PolypDataError,
    check_mask,
    list_images,
    pair_polyp_folder,
)
from monai_singanseg.apps.endoscopy.folds import (
    DataSplit,
    check_no_leakage,
    held_out_entries,
    kfold_split,
    nested_subsets,
    split_pairs,
)
from monai_singanseg.apps.endoscopy.inferers import FinalOutputInferer
from monai_singanseg.apps.endoscopy.report import (
    bar_chart,
    line_chart,
    summarise,
    write_csv,
    write_markdown,
    write_metrics,
)
from monai_singanseg.apps.endoscopy.synthetic import (
    StyleChoice,
    TrainingData,
    build_synthetic_dataset,
    take_per_image,
    training_bank,
    training_datalist,
)
from monai_singanseg.data.datalist import read_datalist, write_datalist  # re-exported for the bundles

__all__ = [
    "DataSplit",
    "FinalOutputInferer",
    "PolypDataError",
    "StyleChoice",
    "TrainingData",
    "bar_chart",
    "build_synthetic_dataset",
    "check_mask",
    "check_no_leakage",
    "epochs_for_updates",
    "held_out_entries",
    "kfold_split",
    "line_chart",
    "list_images",
    "nested_subsets",
    "pair_polyp_folder",
    "read_datalist",
    "split_pairs",
    "summarise",
    "take_per_image",
    "training_bank",
    "training_datalist",
    "write_csv",
    "write_datalist",
    "write_markdown",
    "write_metrics",
]
