"""Array transform mapping a generated label map to the nearest valid label values."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from monai.config import NdarrayOrTensor
from monai.transforms import Transform
from monai.utils import TransformBackends, convert_to_dst_type, convert_to_tensor

__all__ = ["QuantizeLabel"]


class QuantizeLabel(Transform):
    """Map every label value to the nearest valid label value.

    Generated label maps hold values between the valid ones; like Larsson et al. ("Ensemble of GANs for synthetic
    training data", BraTS), each is set to the closest original annotation value (ties go to the smaller value).

    Args:
        values: the valid label values.
        output_values: what each valid value becomes (same length), e.g. ``(0, 1, 2, 4)`` for
            ``values=(0, 51, 102, 204)``; by default the values themselves.
        dtype: output dtype; by default the input's.

    Raises:
        ValueError: fewer than one value, ``output_values`` of another length, or (at call time) NaN in the label.

    Example::

        >>> QuantizeLabel((0, 51, 102, 204), (0, 1, 2, 4))(torch.tensor([[[3.0, 60.0, 180.0]]]))
        tensor([[[0., 1., 4.]]])
    """

    backend = [TransformBackends.TORCH, TransformBackends.NUMPY]

    def __init__(self, values: Sequence[float], output_values: Sequence[float] | None = None,
                 dtype: torch.dtype | None = None) -> None:
        if len(values) < 1:
            raise ValueError("values needs at least one valid label value.")
        output_values = values if output_values is None else output_values
        if len(output_values) != len(values):
            raise ValueError(f"output_values={tuple(output_values)} needs one value per value of {tuple(values)}.")
        order = sorted(range(len(values)), key=lambda i: float(values[i]))
        self.values = torch.tensor([float(values[i]) for i in order], dtype=torch.float64)
        self.output_values = torch.tensor([float(output_values[i]) for i in order], dtype=torch.float64)
        self.dtype = dtype

    def __call__(self, label: NdarrayOrTensor) -> NdarrayOrTensor:
        label_t = convert_to_tensor(label, track_meta=False).double()
        if torch.isnan(label_t).any():
            raise ValueError("label holds NaN values, which have no nearest label value.")
        values = self.values.to(label_t.device)
        # Index of the first valid value at or above each value, then the nearer of it and its lower neighbour.
        upper = torch.searchsorted(values, label_t.contiguous()).clamp(max=len(values) - 1)
        lower = (upper - 1).clamp(min=0)
        nearest = torch.where((label_t - values[lower]).abs() <= (values[upper] - label_t).abs(), lower, upper)
        quantised = self.output_values.to(label_t.device)[nearest]
        return convert_to_dst_type(quantised, label, dtype=self.dtype)[0]
