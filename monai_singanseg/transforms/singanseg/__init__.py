"""SinGAN-Seg transforms: synthetic image+label pairs as MONAI augmentation, and label quantisation."""

from __future__ import annotations

from monai_singanseg.transforms.singanseg.array import (
    SINGANSEG_META_KEY,
    IntensityMode,
    QuantizeLabel,
    RandSinGANSeg,
    SinGANSeg,
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
    "check_input_pair",
]
