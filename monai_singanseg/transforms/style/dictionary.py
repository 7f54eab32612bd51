"""Dictionary transforms restyling images from a style image stored under another key, deterministic and random."""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence

from monai.config import KeysCollection, NdarrayOrTensor
from monai.data.meta_obj import get_track_meta
from monai.transforms import MapTransform, RandomizableTransform
from monai.utils import convert_to_tensor

from monai_singanseg.style import gatys
from monai_singanseg.style.dispatch import StyleMethod, style_method
from monai_singanseg.transforms.style.array import StyleTransfer

__all__ = [
    "StyleTransferd",
    "StyleTransferD",
    "StyleTransferDict",
    "RandStyleTransferd",
    "RandStyleTransferD",
    "RandStyleTransferDict",
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
        engine: a built Gatys :class:`monai_singanseg.style.StyleTransfer` to share; ``None`` builds one when needed.
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
        engine: gatys.StyleTransfer | None = None,
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
    """Restyle ``keys`` from ``style_key`` with probability ``prob``, drawing the method and the ratio.

    Thambawita et al., "SinGAN-Seg", PLoS ONE 2022, compared content:style ratios 1:1 and 1:1000; drawing among
    them (or among methods) augments the synthetic data. The draw comes from ``self.R`` and is handed to a
    deterministic :class:`StyleTransferd`, so a fixed seed gives a fixed result. All keys of one sample get the
    same draw.

    Args:
        keys: keys of the images to restyle.
        style_key: key of the style image.
        prob: probability of restyling.
        methods: methods to draw from, uniformly.
        ratios: style weights per unit content weight to draw from for ``gatys``, uniformly; ``None`` keeps the
            engine's weights.
        image_channels: channels to restyle (count of leading channels, or indices); ``None``: all.
        intensity_range: (low, high) of the image values; ``None`` means [0, 1] for ``gatys``.
        engine: a built Gatys :class:`monai_singanseg.style.StyleTransfer`; ``None`` builds one here when
            ``methods`` includes ``gatys``, so the VGG is loaded once for all calls.
        beta: Fourier window half-width as a fraction of the shortest side.
        allow_missing_keys: don't raise an exception when a key in ``keys`` is missing.

    Raises:
        ValueError: when ``methods`` or ``ratios`` is empty, or a method or ratio is invalid.

    Example::

        >>> import torch
        >>> from monai.data import MetaTensor
        >>> augment = RandStyleTransferd("image", "real", prob=1.0, methods=("histogram", "fourier"))
        >>> _ = augment.set_random_state(seed=0)
        >>> out = augment({"image": MetaTensor(torch.rand(3, 16, 16)), "real": torch.rand(3, 16, 16)})
        >>> out["image"].meta["style_transfer"]["method"] in ("histogram", "fourier")
        True
    """

    backend = StyleTransfer.backend

    def __init__(
        self,
        keys: KeysCollection,
        style_key: Hashable,
        prob: float = 1.0,
        methods: Sequence[StyleMethod | str] = (StyleMethod.GATYS,),
        ratios: Sequence[float] | None = None,
        image_channels: Sequence[int] | int | None = None,
        intensity_range: tuple[float, float] | None = None,
        engine: gatys.StyleTransfer | None = None,
        beta: float = 0.01,
        allow_missing_keys: bool = False,
    ) -> None:
        MapTransform.__init__(self, keys, allow_missing_keys)
        RandomizableTransform.__init__(self, prob)
        methods = [methods] if isinstance(methods, str) else methods
        self.methods = [style_method(method) for method in methods]
        if not self.methods:
            raise ValueError("methods must name at least one style method.")
        if ratios is not None and (len(ratios) == 0 or min(ratios) < 0):
            raise ValueError(f"ratios must be a non-empty sequence of values >= 0, got {ratios}.")
        if StyleMethod.GATYS in self.methods and engine is None:
            engine = gatys.StyleTransfer()
        self.style_key = style_key
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

    def __call__(self, data: Mapping[Hashable, NdarrayOrTensor]) -> dict[Hashable, NdarrayOrTensor]:
        d = dict(data)
        self.randomize(None)
        if not self._do_transform:
            for key in self.key_iterator(d):
                d[key] = convert_to_tensor(d[key], track_meta=get_track_meta())
            return d
        twin = StyleTransferd(
            keys=self.keys,
            style_key=self.style_key,
            method=self._method,
            image_channels=self.image_channels,
            intensity_range=self.intensity_range,
            engine=self.engine,
            ratio=self._ratio,
            beta=self.beta,
            allow_missing_keys=self.allow_missing_keys,
        )
        return twin(d)


StyleTransferD = StyleTransferDict = StyleTransferd
RandStyleTransferD = RandStyleTransferDict = RandStyleTransferd
