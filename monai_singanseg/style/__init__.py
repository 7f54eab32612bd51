"""Style transfer for synthetic images: Gatys et al. on VGG19 features (the SinGAN-Seg reference), and two methods
that need no network weights, Fourier domain adaptation and histogram matching."""

from __future__ import annotations

from monai_singanseg.style.dispatch import StyleMethod, style_method, style_transfer
from monai_singanseg.style.fourier import fourier_domain_adaptation
from monai_singanseg.style.gatys import REFERENCE_CONTENT_LAYER, REFERENCE_STYLE_LAYERS, GatysStyleTransfer, StyleCallback, StyleTransfer
from monai_singanseg.style.histogram import match_histograms

__all__ = [
    "REFERENCE_CONTENT_LAYER",
    "REFERENCE_STYLE_LAYERS",
    "GatysStyleTransfer",
    "StyleCallback",
    "StyleMethod",
    "StyleTransfer",
    "fourier_domain_adaptation",
    "match_histograms",
    "style_method",
    "style_transfer",
]
