"""The BraTS tumour regions, whole tumour (WT), tumour core (TC) and enhancing tumour (ET), from label maps, as
MONAI's ``ConvertToMultiChannelBasedOnBratsClasses`` defines them, so evaluation reads in the BraTS convention."""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from typing import Any

import numpy as np
import torch
from monai.config import KeysCollection, NdarrayOrTensor
from monai.transforms import ConvertToMultiChannelBasedOnBratsClasses, MapTransform

__all__ = ["BRATS_LABEL_SETS", "REGION_CHANNELS", "REGION_LABELS", "BratsRegionsd", "brats_regions",
           "is_brats_label_set"]

# The channels of MONAI's transform, in its order.
REGION_CHANNELS = ("TC", "WT", "ET")
# The label values each region holds: 1 necrosis (and, before 2017, non-enhancing core), 2 oedema, 3 non-enhancing
# core (BraTS 2012-2016), 4 enhancing tumour.
REGION_LABELS = {"WT": (1, 2, 3, 4), "TC": (1, 3, 4), "ET": (4,)}
# BraTS 2017 on ({0, 1, 2, 4}) and BraTS 2012-2016 ({0, 1, 2, 3, 4}).
BRATS_LABEL_SETS = (frozenset({0, 1, 2, 4}), frozenset({0, 1, 2, 3, 4}))

_ENHANCING = 4
_NON_ENHANCING_CORE = 3
_NECROSIS = 1


def is_brats_label_set(label_values: Sequence[float]) -> bool:
    """Whether ``label_values`` is a BraTS label set, so the regions mean what BraTS means by them.

    Other label sets (a binary tumour mask, say) have no regions: calling label 1 a tumour core there would be a
    silently different reading of the user's labels.
    """
    return frozenset(float(v) for v in label_values) in BRATS_LABEL_SETS


def brats_regions(label: NdarrayOrTensor) -> NdarrayOrTensor:
    """The TC, WT and ET masks of a BraTS label map, channel first, in MONAI's channel order (``REGION_CHANNELS``).

    Args:
        label: label values, of spatial shape or with one leading channel.

    Returns:
        Booleans of shape ``(3, *spatial)``, of the input's type.
    """
    if label.shape[0] == 1:
        label = label[0]
    # MONAI's transform knows labels 1, 2 and 4; the older non-enhancing core (3) belongs to TC and WT as necrosis
    # does, so it is read as necrosis.
    core = label == _NON_ENHANCING_CORE
    label = torch.where(core, _NECROSIS, label) if isinstance(label, torch.Tensor) else np.where(core, _NECROSIS, label)
    return ConvertToMultiChannelBasedOnBratsClasses(et_label=_ENHANCING)(label)


class BratsRegionsd(MapTransform):
    """Add the BraTS region masks (TC, WT, ET; ``brats_regions``) of label or class-index maps as new keys.

    Args:
        keys: maps of one channel: label values, or class indices with ``class_values``.
        class_values: the label value of each class index (the bundle's ``label_values``); ``None``: the maps hold
            label values already.
        suffix: the region masks of key ``k`` are written to ``k + suffix``.
        allow_missing_keys: skip keys missing from the data.

    Raises:
        ValueError: ``class_values`` is not a BraTS label set.

    Example::

        >>> BratsRegionsd(["pred", "label"], class_values=[0, 1, 2, 4])({"pred": p, "label": y})["label_regions"].shape
        (3, 240, 240, 155)
    """

    def __init__(self, keys: KeysCollection, class_values: Sequence[float] | None = None, suffix: str = "_regions",
                 allow_missing_keys: bool = False) -> None:
        super().__init__(keys, allow_missing_keys)
        if class_values is not None and not is_brats_label_set(class_values):
            raise ValueError(f"class_values {list(class_values)} is not a BraTS label set "
                             f"({[sorted(s) for s in BRATS_LABEL_SETS]}); its labels have no BraTS regions.")
        self.class_values = None if class_values is None else [float(v) for v in class_values]
        self.suffix = suffix

    def _label_values(self, classes: NdarrayOrTensor) -> NdarrayOrTensor:
        if self.class_values is None:
            return classes
        if isinstance(classes, torch.Tensor):
            lookup = torch.as_tensor(self.class_values, dtype=torch.float32, device=classes.device)
            return lookup[classes.long()]
        return np.asarray(self.class_values, dtype=np.float32)[np.asarray(classes).astype(np.int64)]

    def __call__(self, data: Mapping[Hashable, Any]) -> dict[Hashable, Any]:
        d = dict(data)
        for key in self.key_iterator(d):
            regions = brats_regions(self._label_values(d[key]))
            d[f"{key}{self.suffix}"] = regions.float() if isinstance(regions, torch.Tensor) else regions.astype(
                np.float32)
        return d
