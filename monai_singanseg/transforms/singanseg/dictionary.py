"""Dictionary transforms: SinGAN-Seg synthetic pairs as a drop-in MONAI augmentation, and label quantisation."""

from __future__ import annotations

import os
from collections.abc import Hashable, Mapping, Sequence
from enum import StrEnum

import numpy as np
import torch
from monai.config import KeysCollection, NdarrayOrTensor
from monai.data import MetaTensor
from monai.transforms import MapTransform, RandomizableTransform

from monai_singanseg.data.bank import SinGANSegBank, image_id_of
from monai_singanseg.data.size_control import ShareTarget, SizeControl, SizeStrategy, as_size_control
from monai_singanseg.transforms.quantize_label.dictionary import (  # their old home
    QuantizeLabelD,
    QuantizeLabelDict,
    QuantizeLabeld,
)
from monai_singanseg.transforms.singanseg.array import IntensityMode, RandSinGANSeg

__all__ = [
    "MatchMode",
    "QuantizeLabelD",
    "QuantizeLabelDict",
    "QuantizeLabeld",
    "RandSinGANSegD",
    "RandSinGANSegDict",
    "RandSinGANSegd",
]


class MatchMode(StrEnum):
    """Which pyramid replaces a sample: the one trained on that very image (``image_id``) or any (``any``)."""

    IMAGE_ID = "image_id"
    ANY = "any"


class RandSinGANSegd(RandomizableTransform, MapTransform):
    """Dictionary-based :class:`~monai_singanseg.transforms.singanseg.array.RandSinGANSeg`: with probability
    ``prob``, replace a sample's image and label by one synthetic pair of a SinGAN-Seg pyramid (Thambawita et al.,
    "SinGAN-Seg", PLoS ONE 2022), as online augmentation in any MONAI pipeline.

    With ``match="image_id"`` the pair comes from the pyramid trained on that very image, found by ``d[id_key]`` or,
    without ``id_key``, by the image MetaTensor's ``filename_or_obj`` (its name up to the first dot, the id
    ``monai-singanseg train`` stores). With ``match="any"`` it comes from a pyramid drawn from the bank, whose
    pyramids must then share one channel layout. An id with no pyramid is an error, never a silent fallback.

    The output has the input's spatial shape, dtype, value range (see
    :class:`~monai_singanseg.transforms.singanseg.array.IntensityMode`) and label values; MetaTensor metadata
    (affine, filename) is kept, and ``meta["singanseg"]`` records ``replaced``, ``model_id``, ``start_scale`` and
    ``seed`` on every output (replaced or not, so that batches keep the record). Inputs are channel-first, as
    ``EnsureChannelFirstd`` leaves them; 2D images read by MONAI's default ``PILReader`` are ``(W, H)`` while
    pyramids are ``(H, W)``: ``reverse_indexing=None`` tells them apart by their aspect ratio (set it for squares).
    As in MONAI's dictionary transforms, this wrapper owns ``prob`` and draws whether to replace; the wrapped array
    transform (``prob=1.0``) draws which pyramid, the start scale and the noise seed. ``set_random_state`` seeds
    both, so MONAI's DataLoader seeding and ``set_determinism`` make runs reproducible. Pyramids load lazily in each
    worker (see :class:`~monai_singanseg.data.SinGANSegBank`).

    Args:
        keys: the image key and the label key, in that order.
        bank: the pyramids, or a folder of checkpoints.
        prob: probability of replacing a sample.
        start_scale: an int, or an inclusive ``(low, high)`` range to draw from (0: most varied samples).
        match: ``image_id`` or ``any`` (see :class:`MatchMode`).
        id_key: key holding the image id, for ``match="image_id"``; by default the image's filename.
        intensity: ``match`` (rescale to the input's range) or ``raw`` (the pyramid's units).
        channel_wise: with ``intensity="match"``, rescale each channel to its own range.
        reverse_indexing: the input's 2D axes are ``(W, H)`` (True), ``(H, W)`` (False), or told apart (None).
        label_values: the input's label values in the order of the pyramids' (e.g. ``(0, 1)`` for pyramids trained
            on ``(0, 255)`` masks); by default the pyramids' own.
        share: lesion-size control, a target distribution of foreground share: ``"match_real"`` (each pyramid's
            training share, or one of ``real_shares`` drawn per pair), a range ``"low:high"`` or ``(low, high)``,
            or a :class:`~monai_singanseg.data.size_control.SizeControl`; None (default) leaves sizes alone.
            Pairs are drawn again until they meet the target, at most ``share_budget`` times, and
            ``meta["singanseg"]["size_control"]`` records the window, the attempts, the kept share, and whether
            the budget ran out (see :func:`~monai_singanseg.data.size_control.sample_with_share`).
        real_shares: with ``share="match_real"``, the real set's foreground shares.
        share_tolerance: half-width of the window around a drawn share.
        share_budget: attempts per pair at most.
        share_strategy: ``guide`` (stretch the lesion and inject it) or ``reject`` (draw again only).

    Raises:
        ValueError: ``keys`` is not two keys, a bad ``start_scale`` or ``match``, a bank of incompatible layouts with
            ``match="any"``; at call time, no way to tell the image id, or an input the pyramid cannot stand in for
            (wrong channels, a label with values the pyramid never saw).
        KeyError: at call time, a key missing from the data, or an image id with no pyramid in the bank.

    Example::

        >>> transforms = Compose([
        ...     LoadImaged(keys=["image", "label"]), EnsureChannelFirstd(keys=["image", "label"]),
        ...     ScaleIntensityd(keys="image"),
        ...     RandSinGANSegd(keys=("image", "label"), bank="models/", prob=0.5, start_scale=(0, 2)),
        ... ])
    """

    backend = RandSinGANSeg.backend

    def __init__(
        self,
        keys: KeysCollection = ("image", "label"),
        *,
        bank: SinGANSegBank | str | os.PathLike,
        prob: float = 0.1,
        start_scale: int | Sequence[int] = 0,
        match: MatchMode | str = MatchMode.IMAGE_ID,
        id_key: Hashable | None = None,
        intensity: IntensityMode | str = IntensityMode.MATCH,
        channel_wise: bool = False,
        reverse_indexing: bool | None = None,
        label_values: Sequence[float] | None = None,
        share: str | Sequence[float] | ShareTarget | SizeControl | None = None,
        real_shares: Sequence[float] | None = None,
        share_tolerance: float = 0.02,
        share_budget: int = 4,
        share_strategy: SizeStrategy | str = SizeStrategy.GUIDE,
    ) -> None:
        MapTransform.__init__(self, keys, allow_missing_keys=False)
        RandomizableTransform.__init__(self, prob)
        if len(self.keys) != 2:
            raise ValueError(f"keys must be the image key and the label key, got {self.keys}.")
        self.match, self.id_key = MatchMode(match), id_key
        bank = bank if isinstance(bank, SinGANSegBank) else SinGANSegBank(bank)
        size_control = None if share is None else as_size_control(share, real_shares, share_tolerance, share_budget,
                                                                  share_strategy)
        self.rand_singanseg = RandSinGANSeg(bank, 1.0, start_scale, intensity, channel_wise, reverse_indexing,
                                            label_values, size_control)
        if self.match == MatchMode.ANY:
            self.rand_singanseg.layout_for(None)  # a bank of mixed layouts fails here, not in a worker

    @property
    def bank(self) -> SinGANSegBank:
        return self.rand_singanseg.bank

    def set_random_state(self, seed: int | None = None, state: np.random.RandomState | None = None) -> RandSinGANSegd:
        super().set_random_state(seed, state)
        self.rand_singanseg.set_random_state(seed, state)
        return self

    def randomize(self, image_id: str | None = None) -> None:
        """Draw whether to replace (this transform's ``prob``) and, if so, how (the wrapped transform)."""
        super().randomize(None)
        if self._do_transform:
            self.rand_singanseg.randomize(image_id)

    def image_id(self, data: Mapping[Hashable, NdarrayOrTensor]) -> str:
        """The id of the image of ``data``: ``data[id_key]``, or the image's filename up to its first dot.

        Raises:
            KeyError: ``id_key`` is missing from ``data``.
            ValueError: no ``id_key`` and the image is not a MetaTensor with a filename.
        """
        if self.id_key is not None:
            if self.id_key not in data:
                raise KeyError(f"id_key {self.id_key!r} is missing from the data (keys: {list(data)}).")
            return str(data[self.id_key])
        image = data[self.keys[0]]
        filename = image.meta.get("filename_or_obj") if isinstance(image, MetaTensor) else None
        if not filename:
            raise ValueError(f"cannot tell which pyramid belongs to {self.keys[0]!r}: it is not a MetaTensor with "
                             "filename_or_obj metadata; set id_key= or match='any'.")
        return image_id_of(filename)

    def __call__(self, data: Mapping[Hashable, NdarrayOrTensor]) -> dict[Hashable, torch.Tensor]:
        d = dict(data)
        for key in self.keys:
            if key not in d:
                raise KeyError(f"key {key!r} is missing from the data (keys: {list(d)}).")
        image_id = self.image_id(d) if self.match == MatchMode.IMAGE_ID else None
        self.randomize(image_id)
        image_key, label_key = self.keys
        if self._do_transform:
            d[image_key], d[label_key] = self.rand_singanseg(d[image_key], d[label_key], image_id, randomize=False)
        else:
            d[image_key], d[label_key] = self.rand_singanseg.keep(d[image_key], d[label_key], image_id)
        return d


RandSinGANSegD = RandSinGANSegDict = RandSinGANSegd
