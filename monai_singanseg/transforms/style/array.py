"""Array transform restyling one channel-first image from a style image."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from monai.config import NdarrayOrTensor
from monai.data import MetaTensor
from monai.data.meta_obj import get_track_meta
from monai.transforms import RandomizableTransform, Transform
from monai.utils import TransformBackends, convert_to_dst_type, convert_to_tensor

from monai_singanseg.style import gatys
from monai_singanseg.style._channels import resolve_image_channels
from monai_singanseg.style.dispatch import StyleMethod, style_method, style_transfer

__all__ = ["STYLE_META_KEY", "RandStyleTransfer", "StyleTransfer", "random_style_record"]

STYLE_META_KEY = "style_transfer"
"""Key of the MetaTensor metadata entry recording the method and settings that restyled the image."""


class StyleTransfer(Transform):
    """Restyle the image channels of a channel-first image (no batch dimension) from a style image.

    Implements the second stage of Thambawita et al., "SinGAN-Seg: Synthetic training data generation for medical
    image segmentation", PLoS ONE 2022, with Gatys et al. (arXiv:1508.06576, 2015), Fourier domain adaptation (Yang
    and Soatto, CVPR 2020) or histogram matching; see :func:`monai_singanseg.style.style_transfer`.

    Values are in the image's own range: Gatys transfer works on [0, 1] RGB, so give ``intensity_range`` when the
    image is in another range (e.g. ``(0, 255)`` or ``(-1, 1)``); the image channels are scaled to [0, 1] and back
    and the result is clamped to the range. The Fourier and histogram methods work in any range (their result is
    clamped to ``intensity_range`` when given). Channels outside ``image_channels`` (labels) are bit-identical. A
    MetaTensor keeps its metadata, plus an entry ``STYLE_META_KEY`` recording the method and its settings.

    Args:
        method: one of :class:`~monai_singanseg.style.StyleMethod`.
        image_channels: channels to restyle (count of leading channels, or indices); ``None``: all.
        intensity_range: (low, high) of the image values; ``None`` means [0, 1] for ``gatys`` and no clamping.
        engine: a built Gatys :class:`monai_singanseg.style.GatysStyleTransfer` to share (one VGG for many
            transforms); ``None`` with ``method="gatys"`` builds one with the ImageNet weights from the hub cache.
        ratio: style weight per unit content weight for ``gatys`` (content:style = 1:ratio; the paper compared 1
            and 1000); ``None`` keeps the engine's weights.
        beta: Fourier window half-width as a fraction of the shortest side.

    Raises:
        ValueError: when ``method`` is unknown, ``intensity_range`` is not increasing or ``ratio`` is negative.
        FileNotFoundError: when a Gatys engine must be built and the VGG19 weights file is missing.

    Example::

        >>> import torch
        >>> restyle = StyleTransfer(method="histogram", image_channels=3)
        >>> out = restyle(torch.rand(4, 16, 16), torch.rand(3, 16, 16) * 0.5)
        >>> out.shape
        torch.Size([4, 16, 16])
    """

    backend = [TransformBackends.TORCH, TransformBackends.NUMPY]

    def __init__(
        self,
        method: StyleMethod | str = StyleMethod.GATYS,
        image_channels: Sequence[int] | int | None = None,
        intensity_range: tuple[float, float] | None = None,
        engine: gatys.GatysStyleTransfer | None = None,
        ratio: float | None = None,
        beta: float = 0.01,
    ) -> None:
        self.method = style_method(method)
        if intensity_range is not None and not intensity_range[0] < intensity_range[1]:
            raise ValueError(f"intensity_range must be (low, high) with low < high, got {intensity_range}.")
        if ratio is not None and ratio < 0:
            raise ValueError(f"ratio must be >= 0, got {ratio}.")
        if self.method == StyleMethod.GATYS and engine is None:
            engine = gatys.GatysStyleTransfer()
        self.image_channels = image_channels
        self.intensity_range = intensity_range
        self.engine = engine
        self.ratio = ratio
        self.beta = beta

    def settings(self) -> dict[str, Any]:
        """The method and the settings it runs with, as recorded in the metadata.

        Returns:
            A dict of plain values.
        """
        if self.method == StyleMethod.FOURIER:
            return {"method": self.method.value, "beta": self.beta}
        if self.method == StyleMethod.HISTOGRAM:
            return {"method": self.method.value}
        assert self.engine is not None
        content_weight, style_weight = (
            (self.engine.content_weight, self.engine.style_weight) if self.ratio is None else (1.0, self.ratio)
        )
        return {
            "method": self.method.value,
            "content_weight": float(content_weight),
            "style_weight": float(style_weight),
            "steps": self.engine.steps,
            "learning_rate": self.engine.learning_rate,
        }

    def __call__(self, img: NdarrayOrTensor, style: NdarrayOrTensor) -> NdarrayOrTensor:
        """Restyle ``img`` from ``style``.

        Args:
            img: channel-first image (C, *spatial).
            style: channel-first style image (C or the number of image channels, *spatial_s).

        Returns:
            The restyled image, same type, shape and dtype as ``img``.
        """
        original = convert_to_tensor(img, track_meta=False)
        image = original.float()
        style_t = convert_to_tensor(style, track_meta=False, dtype=torch.float32, device=image.device)
        indices = resolve_image_channels(self.image_channels, image.shape[0])
        low, high = self.intensity_range if self.intensity_range is not None else (0.0, 1.0)
        settings: dict[str, Any] = {"image_channels": self.image_channels}
        if self.method == StyleMethod.GATYS:
            # Gatys works on [0, 1] RGB: scale the image channels only, so that labels are never touched.
            content_in = image.clone()
            content_in[indices] = (image[indices] - low) / (high - low)
            style_t = (style_t - low) / (high - low)
            settings["engine"] = self.engine
            if self.ratio is not None:
                settings.update(content_weight=1.0, style_weight=self.ratio)
        else:
            content_in = image
            if self.method == StyleMethod.FOURIER:
                settings["beta"] = self.beta
        restyled = style_transfer(content_in[None], style_t[None], self.method, **settings)[0]
        out = original.clone()  # labels keep their exact values and dtype
        if self.method == StyleMethod.GATYS:
            restyled = restyled * (high - low) + low
        elif self.intensity_range is not None:
            restyled = restyled.clamp(low, high)
        out[indices] = restyled[indices].to(out.dtype)
        result = convert_to_dst_type(out, img)[0]
        if isinstance(result, MetaTensor):
            result.meta[STYLE_META_KEY] = self.settings()
        return result


def random_style_record(applied: bool, settings: dict[str, Any] | None = None) -> dict[str, Any]:
    """The record a random style transform leaves in ``meta[STYLE_META_KEY]``, restyled or not.

    Every output gets the same keys whatever the drawn method (settings a method does not use are NaN, ``steps`` -1,
    ``method`` empty when not restyled), because MONAI's collation keeps only what a whole batch has in common.

    Args:
        applied: whether the image was restyled.
        settings: :meth:`StyleTransfer.settings` of the transform that restyled it.
    """
    settings = settings or {}
    nan = float("nan")
    return {
        "applied": applied,
        "method": settings.get("method", ""),
        "content_weight": float(settings.get("content_weight", nan)),
        "style_weight": float(settings.get("style_weight", nan)),
        "steps": int(settings.get("steps", -1)),
        "learning_rate": float(settings.get("learning_rate", nan)),
        "beta": float(settings.get("beta", nan)),
    }


class RandStyleTransfer(RandomizableTransform):
    """With probability ``prob``, restyle an image from a style image with a drawn method and ratio.

    Thambawita et al., "SinGAN-Seg", PLoS ONE 2022, compared content:style ratios 1:1 and 1:1000; drawing among
    them (or among methods) augments the synthetic data. The draw comes from ``self.R`` and is handed to a
    deterministic :class:`StyleTransfer`, so a fixed seed gives a fixed result. Every MetaTensor output, restyled or
    not, records the draw (:func:`random_style_record`).

    Args:
        prob: probability of restyling (the dictionary transform runs this one with ``prob=1.0`` and owns its own).
        methods: methods to draw from, uniformly.
        ratios: style weights per unit content weight to draw from for ``gatys``, uniformly; ``None`` keeps the
            engine's weights.
        image_channels: channels to restyle (count of leading channels, or indices); ``None``: all.
        intensity_range: (low, high) of the image values; ``None`` means [0, 1] for ``gatys``.
        engine: a built Gatys :class:`monai_singanseg.style.GatysStyleTransfer`; ``None`` builds one here when
            ``methods`` includes ``gatys``, so the VGG is loaded once for all calls.
        beta: Fourier window half-width as a fraction of the shortest side.

    Raises:
        ValueError: when ``methods`` or ``ratios`` is empty, or a method or ratio is invalid.

    Example::

        >>> import torch
        >>> from monai.data import MetaTensor
        >>> augment = RandStyleTransfer(prob=1.0, methods=("histogram", "fourier"))
        >>> _ = augment.set_random_state(seed=0)
        >>> out = augment(MetaTensor(torch.rand(3, 16, 16)), torch.rand(3, 16, 16))
        >>> out.meta["style_transfer"]["applied"]
        True
    """

    backend = StyleTransfer.backend

    def __init__(
        self,
        prob: float = 1.0,
        methods: Sequence[StyleMethod | str] = (StyleMethod.GATYS,),
        ratios: Sequence[float] | None = None,
        image_channels: Sequence[int] | int | None = None,
        intensity_range: tuple[float, float] | None = None,
        engine: gatys.GatysStyleTransfer | None = None,
        beta: float = 0.01,
    ) -> None:
        RandomizableTransform.__init__(self, prob)
        methods = [methods] if isinstance(methods, str) else methods
        self.methods = [style_method(method) for method in methods]
        if not self.methods:
            raise ValueError("methods must name at least one style method.")
        if ratios is not None and (len(ratios) == 0 or min(ratios) < 0):
            raise ValueError(f"ratios must be a non-empty sequence of values >= 0, got {ratios}.")
        if StyleMethod.GATYS in self.methods and engine is None:
            engine = gatys.GatysStyleTransfer()
        self.ratios = None if ratios is None else [float(ratio) for ratio in ratios]
        self.image_channels = image_channels
        self.intensity_range = intensity_range
        self.engine = engine
        self.beta = beta
        self._method = self.methods[0]
        self._ratio: float | None = None

    def randomize(self, data: None = None) -> None:
        """Draw whether to restyle, then the method and the ratio.

        Args:
            data: unused, for the MONAI interface.
        """
        super().randomize(None)
        if not self._do_transform:
            return
        self._method = self.methods[self.R.randint(len(self.methods))]
        self._ratio = None if self.ratios is None else self.ratios[self.R.randint(len(self.ratios))]

    def keep(self, img: NdarrayOrTensor) -> NdarrayOrTensor:
        """The image unchanged, as a tensor, with the record ``applied=False``."""
        out = convert_to_tensor(img, track_meta=get_track_meta())
        if isinstance(out, MetaTensor):
            out.meta[STYLE_META_KEY] = random_style_record(False)
        return out

    def __call__(self, img: NdarrayOrTensor, style: NdarrayOrTensor, randomize: bool = True) -> NdarrayOrTensor:
        """Restyle ``img`` from ``style`` with the drawn method and ratio, or keep it.

        Args:
            img: channel-first image (C, *spatial).
            style: channel-first style image.
            randomize: draw new parameters (False reuses those of the last :meth:`randomize`).
        """
        if randomize:
            self.randomize(None)
        if not self._do_transform:
            return self.keep(img)
        twin = StyleTransfer(self._method, self.image_channels, self.intensity_range, self.engine, self._ratio,
                             self.beta)
        out = twin(img, style)
        if isinstance(out, MetaTensor):
            out.meta[STYLE_META_KEY] = random_style_record(True, twin.settings())
        return out
