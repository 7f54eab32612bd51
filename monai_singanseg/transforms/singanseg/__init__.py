"""SinGAN-Seg transforms: synthetic image+label pairs as MONAI augmentation (label quantisation is re-exported
from :mod:`monai_singanseg.transforms.quantize_label`, its home)."""

from __future__ import annotations

from monai_singanseg.transforms.singanseg.array import (
    SINGANSEG_META_KEY,
    IntensityMode,
    QuantizeLabel,
    RandSinGANSeg,
    SinGANSeg,
    SinGANSegSample,
    check_input_pair,
)
from monai_singanseg.transforms.singanseg.dictionary import (
    MatchMode,
    QuantizeLabelD,
    QuantizeLabelDict,
    QuantizeLabeld,
    RandSinGANSegD,
    RandSinGANSegDict,
    RandSinGANSegd,
)

__all__ = [
    "SINGANSEG_META_KEY",
    "IntensityMode",
    "MatchMode",
    "QuantizeLabel",
    "QuantizeLabelD",
    "QuantizeLabelDict",
    "QuantizeLabeld",
    "RandSinGANSeg",
    "RandSinGANSegD",
    "RandSinGANSegDict",
    "RandSinGANSegd",
    "SinGANSeg",
    "SinGANSegSample",
    "check_input_pair",
]
