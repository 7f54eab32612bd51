"""Label quantisation: generated label maps hold values between the valid ones; map each to the nearest."""

from __future__ import annotations

from monai_singanseg.transforms.quantize_label.array import QuantizeLabel
from monai_singanseg.transforms.quantize_label.dictionary import QuantizeLabelD, QuantizeLabelDict, QuantizeLabeld

__all__ = ["QuantizeLabel", "QuantizeLabelD", "QuantizeLabelDict", "QuantizeLabeld"]
