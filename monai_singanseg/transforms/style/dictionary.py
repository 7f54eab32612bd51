"""Dictionary transforms restyling images from a style image stored under another key, deterministic and random."""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence

import numpy as np
from monai.config import KeysCollection, NdarrayOrTensor
from monai.transforms import MapTransform, RandomizableTransform

from monai_singanseg.style import gatys
from monai_singanseg.style.dispatch import StyleMethod
from monai_singanseg.transforms.style.array import RandStyleTransfer, StyleTransfer

__all__ = [
    "RandStyleTransferD",
    "RandStyleTransferDict",
    "RandStyleTransferd",
    "StyleTransferD",
    "StyleTransferDict",
    "StyleTransferd",
]


class StyleTransferd(MapTransform):
    """Dictionary-based :class:`~monai_singanseg.transforms.style.array.StyleTransfer`: restyle ``keys`` from the
    image under ``style_key``.

    Thambawita et al., "SinGAN-Seg", PLoS ONE 2022 (second stage), with the methods of
    :class:`~monai_singanseg.style.StyleMethod`. Channel-first images without batch dimension; image values in
    [0, 1] or in ``intensity_range``. Labels either sit under another key (left alone) or are channels of the same
    image outside ``image_channels`` (copied bit for bit).

    Args:
        keys: keys of the images to restyle.
        style_key: key of the style image (e.g. the real image a synthetic one was generated from).
        method: one of :class:`~monai_singanseg.style.StyleMethod`.
        image_channels: channels to restyle (count of leading channels, or indices); ``None``: all.
        intensity_range: (low, high) of the image values; ``None`` means [0, 1] for ``gatys``.
        engine: a built Gatys :class:`monai_singanseg.style.GatysStyleTransfer` to share; ``None`` builds one when needed.
        ratio: style weight per unit content weight for ``gatys``; ``None`` keeps the engine's weights.
        beta: Fourier window half-width as a fraction of the shortest side.
        allow_missing_keys: don't raise an exception when a key in ``keys`` is missing.

    Raises:
        KeyError: at call time, when ``style_key`` is missing from the data.

    Example::

        >>> import torch
        >>> restyle = StyleTransferd(keys="image", style_key="real", method="histogram", image_channels=3)
        >>> out = restyle({"image": torch.rand(4, 16, 16), "real": torch.rand(3, 16, 16)})
        >>> out["image"].shape
        torch.Size([4, 16, 16])
    """

    backend = StyleTransfer.backend

    def __init__(
        self,
        keys: KeysCollection,
        style_key: Hashable,
        method: StyleMethod | str = StyleMethod.GATYS,
        image_channels: Sequence[int] | int | None = None,
        intensity_range: tuple[float, float] | None = None,
        engine: gatys.GatysStyleTransfer | None = None,
        ratio: float | None = None,
        beta: float = 0.01,
        allow_missing_keys: bool = False,
    ) -> None:
        super().__init__(keys, allow_missing_keys)
        self.style_key = style_key
        self.styler = StyleTransfer(method, image_channels, intensity_range, engine, ratio, beta)

    def __call__(self, data: Mapping[Hashable, NdarrayOrTensor]) -> dict[Hashable, NdarrayOrTensor]:
        d = dict(data)
        for key in self.key_iterator(d):
            if self.style_key not in d:
                raise KeyError(f"style_key '{self.style_key}' is not in the data (keys: {list(d)}).")
            d[key] = self.styler(d[key], d[self.style_key])
        return d


class RandStyleTransferd(RandomizableTransform, MapTransform):
    """Dictionary-based :class:`~monai_singanseg.transforms.style.array.RandStyleTransfer`: restyle ``keys`` from
    ``style_key`` with probability ``prob``, drawing the method and the ratio.

    As in MONAI's dictionary transforms, this wrapper owns ``prob`` and draws whether to restyle; the wrapped array
    transform (``prob=1.0``) draws the method and the ratio, once per sample for all keys. ``set_random_state``
    seeds both. Every MetaTensor output, restyled or not, records the draw (``applied`` and the settings, the same
    keys for every method), so collated batches keep it.

    Args:
        keys: keys of the images to restyle.
        style_key: key of the style image.
        prob: probability of restyling.
        methods: methods to draw from, uniformly.
        ratios: style weights per unit content weight to draw from for ``gatys``, uniformly; ``None`` keeps the
            engine's weights.
        image_channels: channels to restyle (count of leading channels, or indices); ``None``: all.
        intensity_range: (low, high) of the image values; ``None`` means [0, 1] for ``gatys``.
        engine: a built Gatys :class:`monai_singanseg.style.GatysStyleTransfer`; ``None`` builds one here when
            ``methods`` includes ``gatys``, so the VGG is loaded once for all calls.
        beta: Fourier window half-width as a fraction of the shortest side.
        allow_missing_keys: don't raise an exception when a key in ``keys`` is missing.

    Raises:
        ValueError: when ``methods`` or ``ratios`` is empty, or a method or ratio is invalid.
        KeyError: at call time, when ``style_key`` is missing from the data.

    Example::

        >>> import torch
        >>> from monai.data import MetaTensor
        >>> augment = RandStyleTransferd("image", "real", prob=1.0, methods=("histogram", "fourier"))
        >>> _ = augment.set_random_state(seed=0)
        >>> out = augment({"image": MetaTensor(torch.rand(3, 16, 16)), "real": torch.rand(3, 16, 16)})
        >>> out["image"].meta["style_transfer"]["method"] in ("histogram", "fourier")
        True
    """

    backend = RandStyleTransfer.backend

    def __init__(
        self,
        keys: KeysCollection,
        style_key: Hashable,
        prob: float = 1.0,
        methods: Sequence[StyleMethod | str] = (StyleMethod.GATYS,),
        ratios: Sequence[float] | None = None,
        image_channels: Sequence[int] | int | None = None,
        intensity_range: tuple[float, float] | None = None,
        engine: gatys.GatysStyleTransfer | None = None,
        beta: float = 0.01,
        allow_missing_keys: bool = False,
    ) -> None:
        MapTransform.__init__(self, keys, allow_missing_keys)
        RandomizableTransform.__init__(self, prob)
        self.style_key = style_key
        self.rand_style = RandStyleTransfer(1.0, methods, ratios, image_channels, intensity_range, engine, beta)

    def set_random_state(self, seed: int | None = None, state: np.random.RandomState | None = None
                         ) -> RandStyleTransferd:
        super().set_random_state(seed, state)
        self.rand_style.set_random_state(seed, state)
        return self

    def __call__(self, data: Mapping[Hashable, NdarrayOrTensor]) -> dict[Hashable, NdarrayOrTensor]:
        d = dict(data)
        self.randomize(None)
        if not self._do_transform:
            for key in self.key_iterator(d):
                d[key] = self.rand_style.keep(d[key])
            return d
        self.rand_style.randomize(None)
        for key in self.key_iterator(d):
            if self.style_key not in d:
                raise KeyError(f"style_key '{self.style_key}' is not in the data (keys: {list(d)}).")
            d[key] = self.rand_style(d[key], d[self.style_key], randomize=False)
        return d


StyleTransferD = StyleTransferDict = StyleTransferd
RandStyleTransferD = RandStyleTransferDict = RandStyleTransferd
