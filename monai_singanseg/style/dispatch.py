"""Choose a style transfer method by name: Gatys (VGG19 weights needed), Fourier or histogram (no weights)."""

from __future__ import annotations

from typing import Any

from monai.config import NdarrayOrTensor
from monai.utils import StrEnum, convert_to_dst_type, convert_to_tensor

from monai_singanseg.style.fourier import fourier_domain_adaptation
from monai_singanseg.style.gatys import GatysStyleTransfer
from monai_singanseg.style.histogram import match_histograms

__all__ = ["StyleMethod", "style_method", "style_transfer"]

# Settings that belong to one call rather than to a built Gatys engine.
_GATYS_CALL_SETTINGS = ("image_channels", "callback")


class StyleMethod(StrEnum):
    """Style transfer methods.

    - ``gatys``: Gatys et al. 2015 optimisation on VGG19 features, the SinGAN-Seg reference
      (:class:`~monai_singanseg.style.gatys.GatysStyleTransfer`).
    - ``fourier``: Fourier domain adaptation, Yang and Soatto 2020
      (:func:`~monai_singanseg.style.fourier.fourier_domain_adaptation`).
    - ``histogram``: per-channel histogram matching (:func:`~monai_singanseg.style.histogram.match_histograms`).
    """

    GATYS = "gatys"
    FOURIER = "fourier"
    HISTOGRAM = "histogram"


def style_method(method: StyleMethod | str) -> StyleMethod:
    """Parse a method name.

    Args:
        method: a :class:`StyleMethod` or its value.

    Returns:
        The enum member.

    Raises:
        ValueError: naming the allowed values when ``method`` is not one.
    """
    try:
        return StyleMethod(method)
    except ValueError:
        raise ValueError(f"method must be one of {[m.value for m in StyleMethod]}, got {method!r}.") from None


def style_transfer(
    content: NdarrayOrTensor, style: NdarrayOrTensor, method: StyleMethod | str = StyleMethod.GATYS, **settings: Any
) -> NdarrayOrTensor:
    """Restyle a batch of images, each from its own style image, with the chosen method.

    Args:
        content: batch (N, C, *spatial), numpy or torch; for ``gatys`` 2D with RGB (or grey) image channels in
            [0, 1].
        style: style images (N or 1, C or the number of image channels, *spatial_s).
        method: one of :class:`StyleMethod`.
        settings: passed on to the method. ``image_channels`` for all. For ``gatys``: ``engine``, a built
            :class:`GatysStyleTransfer` to reuse (then ``content_weight``, ``style_weight``, ``steps`` and ``callback``
            are per-call overrides), otherwise the arguments of :class:`GatysStyleTransfer` (e.g. ``network``,
            ``weights_path``, ``style_weight``, ``steps``), which then loads the VGG for this call only. For
            ``fourier``: ``beta``. For ``histogram``: ``content_mask``, ``style_mask``.

    Returns:
        The restyled batch, same type, shape and dtype as ``content``; channels outside ``image_channels`` are
        bit-identical.

    Raises:
        ValueError: when ``method`` is unknown or a setting is out of range.
        TypeError: when a setting does not belong to the method.

    Example::

        >>> import torch
        >>> out = style_transfer(torch.rand(2, 4, 16, 16), torch.rand(2, 3, 16, 16), "histogram", image_channels=3)
        >>> out.shape
        torch.Size([2, 4, 16, 16])
    """
    method = style_method(method)
    if method == StyleMethod.HISTOGRAM:
        return match_histograms(content, style, **settings)
    content_t = convert_to_tensor(content, track_meta=False)
    style_t = convert_to_tensor(style, track_meta=False, device=content_t.device)
    if method == StyleMethod.FOURIER:
        out = fourier_domain_adaptation(content_t, style_t, **settings)
    else:
        call_settings = {key: settings.pop(key) for key in _GATYS_CALL_SETTINGS if key in settings}
        engine = settings.pop("engine", None)
        if engine is None:
            engine = GatysStyleTransfer(**settings)
        else:
            call_settings.update(settings)
        out = engine(content_t, style_t, **call_settings)
    return convert_to_dst_type(out, content)[0]
