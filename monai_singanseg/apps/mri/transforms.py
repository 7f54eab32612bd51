"""Dictionary transforms of the MRI app: refuse cases whose files disagree, or whose labels hold unknown values,
naming the files; and name outputs after their case."""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from typing import Any

import numpy as np
import torch
from monai.config import KeysCollection
from monai.data import MetaTensor
from monai.transforms import MapTransform

from monai_singanseg.apps.mri.grid import Grid

__all__ = ["CheckCased", "CheckLabelValuesd", "NameAfterCased"]


def _as_paths(value: Any) -> list[str]:
    return [str(v) for v in value] if isinstance(value, (list, tuple)) else [str(value)]


class CheckCased(MapTransform):
    """Check, from the file headers, that the channel files of a case and its label share one voxel grid.

    Place it before ``LoadImaged``: it reads headers only (NIfTI headers, DICOM headers without pixels), and its
    errors name the files, where the loader's would not. A DICOM folder holding several series is refused here too.

    Args:
        keys: the image key (a file, a DICOM folder, or a list of them: one per channel) and optionally the label
            key and a brain-mask key, which must lie on the image's grid.
        allow_missing_keys: skip keys missing from the data (an inference case has no label).

    Raises:
        ValueError: at call time, files of one case on different grids (shape, orientation, spacing or origin), a
            DICOM folder mixing series, or an unreadable file; FileNotFoundError for a missing file.

    Example::

        >>> CheckCased(keys=["image", "label"])({"image": ["flair.nii.gz", "t1c.nii.gz"], "label": "seg.nii.gz"})
    """

    def __init__(self, keys: KeysCollection, allow_missing_keys: bool = False) -> None:
        super().__init__(keys, allow_missing_keys)

    def __call__(self, data: Mapping[Hashable, Any]) -> dict[Hashable, Any]:
        d = dict(data)
        grids = [Grid.read(path) for key in self.key_iterator(d) for path in _as_paths(d[key])]
        reference = grids[0]
        mismatched = [grid for grid in grids[1:] if not grid.same_grid(reference)]
        if mismatched:
            raise ValueError("the files of one case must share one voxel grid, but "
                             + "; ".join(grid.describe() for grid in mismatched)
                             + f" differ from {reference.describe()}.")
        return d


class CheckLabelValuesd(MapTransform):
    """Refuse a loaded label map holding values outside ``label_values``, naming its file.

    Place it after ``LoadImaged``: values outside the set would otherwise be mapped to the nearest valid label
    without a word (``QuantizeLabeld``) or break the one-hot encoding.

    Args:
        keys: the label keys.
        label_values: the valid label values.
        allow_missing_keys: skip keys missing from the data.

    Raises:
        ValueError: at call time, a label holding other values (the file and the values are named).
    """

    def __init__(self, keys: KeysCollection, label_values: Sequence[float], allow_missing_keys: bool = False) -> None:
        super().__init__(keys, allow_missing_keys)
        if len(label_values) < 2:
            raise ValueError(f"label_values needs background and at least one label, got {tuple(label_values)}.")
        self.label_values = torch.tensor([float(v) for v in label_values], dtype=torch.float64)

    def __call__(self, data: Mapping[Hashable, Any]) -> dict[Hashable, Any]:
        d = dict(data)
        for key in self.key_iterator(d):
            label = d[key]
            present = torch.unique(torch.as_tensor(np.asarray(label) if not isinstance(label, torch.Tensor) else label))
            present = present.double().cpu()
            # A tolerance: float32 label files hold 0.99999997 for 1.
            distance = (present[:, None] - self.label_values[None]).abs().amin(dim=1)
            unknown = present[distance > 1e-3]
            if len(unknown):
                source = label.meta.get("filename_or_obj", key) if isinstance(label, MetaTensor) else key
                raise ValueError(f"label {source} holds values {unknown[:8].tolist()} outside label_values="
                                 f"{tuple(self.label_values.tolist())}; set label_values to the dataset's label set.")
        return d


class NameAfterCased(MapTransform):
    """Name the output files of ``keys`` after the case: ``<case_id>_<postfix>.nii.gz`` with ``SaveImaged``.

    Channels loaded from several files carry the first file's name, the same in every BraTS case; the case id is
    what tells them apart.

    Args:
        keys: the keys to be saved (e.g. ``pred``).
        id_key: the key holding the case id.
    """

    def __init__(self, keys: KeysCollection, id_key: Hashable = "case_id") -> None:
        super().__init__(keys)
        self.id_key = id_key

    def __call__(self, data: Mapping[Hashable, Any]) -> dict[Hashable, Any]:
        d = dict(data)
        for key in self.key_iterator(d):
            if isinstance(d[key], MetaTensor):
                d[key].meta["filename_or_obj"] = f"{d[self.id_key]}.nii.gz"
        return d
