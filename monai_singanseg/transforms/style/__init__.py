"""Style transfer transforms: restyle synthetic images from their real images (SinGAN-Seg's second stage)."""

from __future__ import annotations

from monai_singanseg.transforms.style.array import STYLE_META_KEY, StyleTransfer
from monai_singanseg.transforms.style.dictionary import (
    RandStyleTransferd,
    RandStyleTransferD,
    RandStyleTransferDict,
    StyleTransferd,
    StyleTransferD,
    StyleTransferDict,
)

__all__ = [
    "STYLE_META_KEY",
    "RandStyleTransferD",
    "RandStyleTransferDict",
    "RandStyleTransferd",
    "StyleTransfer",
    "StyleTransferD",
    "StyleTransferDict",
    "StyleTransferd",
]
