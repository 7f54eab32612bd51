"""Dictionary transform mapping generated label maps to the nearest valid label values."""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence

import torch
from monai.config import KeysCollection, NdarrayOrTensor
from monai.transforms import MapTransform

from monai_singanseg.transforms.quantize_label.array import QuantizeLabel

__all__ = ["QuantizeLabelD", "QuantizeLabelDict", "QuantizeLabeld"]


class QuantizeLabeld(MapTransform):
    """Dictionary-based :class:`~monai_singanseg.transforms.quantize_label.array.QuantizeLabel`: map every label value
    to the nearest valid value (Larsson et al., ensemble of GANs on BraTS).

    Args:
        keys: keys of the label maps.
        values: the valid label values.
        output_values: what each valid value becomes; by default the values themselves.
        dtype: output dtype; by default the input's.
        allow_missing_keys: don't raise when a key is missing.

    Example::

        >>> QuantizeLabeld("label", values=(0, 255))({"label": torch.tensor([[[12.0, 140.0]]])})["label"]
        tensor([[[  0., 255.]]])
    """

    backend = QuantizeLabel.backend

    def __init__(
        self,
        keys: KeysCollection,
        values: Sequence[float],
        output_values: Sequence[float] | None = None,
        dtype: torch.dtype | None = None,
        allow_missing_keys: bool = False,
    ) -> None:
        super().__init__(keys, allow_missing_keys)
        self.quantize = QuantizeLabel(values, output_values, dtype)

    def __call__(self, data: Mapping[Hashable, NdarrayOrTensor]) -> dict[Hashable, NdarrayOrTensor]:
        d = dict(data)
        for key in self.key_iterator(d):
            d[key] = self.quantize(d[key])
        return d


QuantizeLabelD = QuantizeLabelDict = QuantizeLabeld
