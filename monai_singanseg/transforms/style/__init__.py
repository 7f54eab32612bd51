"""Style transfer transforms: restyle synthetic images from their real images (SinGAN-Seg's second stage)."""

from __future__ import annotations

from monai_singanseg.transforms.style.array import (
    STYLE_META_KEY,
    RandStyleTransfer,
    StyleTransfer,
    random_style_record,
)
from monai_singanseg.transforms.style.dictionary import (
    RandStyleTransferD,
    RandStyleTransferd,
    RandStyleTransferDict,
    StyleTransferD,
    StyleTransferd,
    StyleTransferDict,
)

__all__ = [
    "STYLE_META_KEY",
    "RandStyleTransfer",
    "RandStyleTransferD",
    "RandStyleTransferDict",
    "RandStyleTransferd",
    "StyleTransfer",
    "StyleTransferD",
    "StyleTransferDict",
    "StyleTransferd",
    "random_style_record",
]
