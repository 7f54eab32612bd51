"""Array transforms that replace an image and its label by a synthetic pair of a SinGAN-Seg pyramid."""

from __future__ import annotations

import math
from collections.abc import Sequence
from enum import StrEnum
from typing import Any

import torch
import torch.nn.functional as F
from monai.config import NdarrayOrTensor
from monai.data import MetaTensor
from monai.data.meta_obj import get_track_meta
from monai.transforms import RandomizableTransform, Transform
from monai.utils import MAX_SEED, TransformBackends, convert_to_dst_type, convert_to_tensor

from monai_singanseg.data.bank import SinGANSegBank
from monai_singanseg.data.size_control import SizeControl, SizeRecord, sample_with_share, training_share
from monai_singanseg.networks.singanseg import SinGANSeg as Pyramid
from monai_singanseg.transforms.quantize_label.array import QuantizeLabel  # its old home
from monai_singanseg.layout import ChannelLayout
from monai_singanseg.utils.resize import resize

__all__ = ["IntensityMode", "QuantizeLabel", "RandSinGANSeg", "SINGANSEG_META_KEY", "SinGANSeg", "SinGANSegSample",
           "as_scale_range",
           "check_input_pair", "record_replacement"]

# Meta key of the record {"replaced", "model_id", "start_scale", "seed"} the transforms leave on their outputs.
SINGANSEG_META_KEY = "singanseg"


class IntensityMode(StrEnum):
    """How synthetic intensities are brought to the input's.

    ``match``: rescale the synthetic image linearly so its minimum and maximum become the input's, which is what
    ``ScaleIntensity`` earlier in the pipeline did to the real image. ``raw``: keep the pyramid's own units (those
    of the image it was trained on), for pipelines that leave intensities as loaded.
    """

    MATCH = "match"
    RAW = "raw"


def _plain(x: Any) -> torch.Tensor:
    return convert_to_tensor(x, track_meta=False)


def _output_label_values(layout: ChannelLayout, label_values: Sequence[float] | None) -> tuple[float, ...]:
    if label_values is None:
        return layout.label_values
    if len(label_values) != len(layout.label_values):
        raise ValueError(f"label_values={tuple(label_values)} must give one value for each of the pyramid's "
                         f"label values {layout.label_values}.")
    return tuple(float(v) for v in label_values)


def check_input_pair(
    image: Any, label: Any, layout: ChannelLayout, label_values: Sequence[float] | None = None
) -> None:
    """Check that a channel-first ``image`` and ``label`` can be replaced by pairs of a pyramid with ``layout``.

    Raises:
        ValueError: wrong number of dimensions or channels, label shape unlike the image's, label channels that
            differ, or label values the pyramid never saw (mapped through ``label_values`` when given).
    """
    image_t, label_t = _plain(image), _plain(label)
    expected = layout.spatial_dims + 1
    if image_t.ndim != expected or image_t.shape[0] != layout.image_channels:
        raise ValueError(f"image has shape {tuple(image_t.shape)}; the pyramid needs channel-first "
                         f"{layout.spatial_dims}D images with {layout.image_channels} channels.")
    if label_t.ndim != expected or label_t.shape[1:] != image_t.shape[1:]:
        raise ValueError(f"label has shape {tuple(label_t.shape)}; expected (1, *{tuple(image_t.shape[1:])}) "
                         "or a grey mask repeated in colour channels.")
    if not all(torch.equal(label_t[0], label_t[c]) for c in range(1, label_t.shape[0])):
        raise ValueError(f"label has {label_t.shape[0]} different channels; a label map has one (a colour mask "
                         "must repeat one grey level in every channel, as Kvasir-SEG's RGB masks do).")
    allowed = torch.tensor(_output_label_values(layout, label_values), dtype=torch.float64)
    present = torch.unique(label_t).double().cpu()
    # A tolerance, because float32 labels such as 0.2 are not exactly their float64 counterparts.
    distance = (present[:, None] - allowed[None]).abs().amin(dim=1)
    unseen = present[distance > 1e-6 * allowed.abs().max().clamp_min(1)]
    if len(unseen):
        raise ValueError(f"label holds values {unseen[:8].tolist()} the pyramid never saw (its label values are "
                         f"{tuple(allowed.tolist())}); map them with label_values= or quantise the label first.")


def _should_swap(source: Sequence[int], target: Sequence[int], reverse_indexing: bool | None) -> bool:
    if len(source) != 2 or reverse_indexing is False:
        return False
    if reverse_indexing:
        return True
    # MONAI's default PILReader gives (W, H) while pyramids are (H, W): swap when that fits the aspect ratio better.
    aspect = math.log(target[0] / target[1])
    return abs(aspect + math.log(source[0] / source[1])) < abs(aspect - math.log(source[0] / source[1]))


def _resize_pair(image: torch.Tensor, label: torch.Tensor, shape: Sequence[int]) -> tuple[torch.Tensor, torch.Tensor]:
    shape = tuple(int(s) for s in shape)
    if tuple(image.shape[1:]) == shape:
        return image, label
    if len(shape) == 2:
        image = F.interpolate(image[None], size=shape, mode="bilinear", align_corners=False, antialias=True)[0]
    else:
        image = resize(image[None], shape)[0]  # Gaussian-smoothed trilinear: torch has no antialiased 3D mode
    # Nearest neighbour keeps the label values exact.
    label = F.interpolate(label[None], size=shape, mode="nearest-exact")[0]
    return image, label


def _like(values: torch.Tensor, like: Any) -> torch.Tensor:
    """``values`` with the dtype, device, type and metadata of ``like``, as MONAI transforms return them."""
    like_t = _plain(like)
    if not like_t.dtype.is_floating_point and like_t.dtype != torch.bool:
        info = torch.iinfo(like_t.dtype)
        values = values.round().clamp(info.min, info.max)
    out = values.to(device=like_t.device, dtype=like_t.dtype)
    if isinstance(like, MetaTensor):
        return convert_to_dst_type(out, like)[0]
    return convert_to_tensor(out, track_meta=get_track_meta())


# The size record of an output a size-controlled transform kept: the same keys, so batches keep them.
UNCONTROLLED_SIZE = SizeRecord(-1.0, -1.0, 0, -1.0, False, False, False)


def record_replacement(x: Any, replaced: bool, model_id: str = "", start_scale: int = -1, seed: int = -1,
                       size: SizeRecord | None = None) -> None:
    """Record in a MetaTensor's ``meta`` whether (and how) it was replaced; with ``size``, also what lesion-size
    control did (under ``"size_control"``, see :class:`~monai_singanseg.data.size_control.SizeRecord`).

    Every output gets the record, replaced or not, because MONAI's collation keeps only the keys common to a batch.
    """
    if isinstance(x, MetaTensor):
        x.meta[SINGANSEG_META_KEY] = {"replaced": replaced, "model_id": model_id, "start_scale": start_scale,
                                      "seed": seed}
        if size is not None:
            x.meta[SINGANSEG_META_KEY]["size_control"] = size.to_dict()


class SinGANSegSample(Transform):
    """One synthetic image+label pair of a SinGAN-Seg pyramid for a given start scale and seed (Thambawita et al.,
    "SinGAN-Seg", PLoS ONE 2022), optionally shaped like an input pair.

    Without inputs, returns the pair as the pyramid decodes it (training shape, its own units). With an input pair,
    the synthetic pair gets the input's spatial shape (image resized bilinearly with antialiasing, label by nearest
    neighbour), dtype, device, value range (see :class:`IntensityMode`) and metadata, and the label values mapped
    through ``label_values``. 2D pyramids are ``(H, W)``; inputs loaded by MONAI's default ``PILReader`` are
    ``(W, H)``: ``reverse_indexing=None`` swaps the axes when the input's aspect ratio says so (never for squares).

    Args:
        pyramid: the trained pyramid.
        start_scale: first scale with fresh noise (0: most varied).
        seed: seed of the noise; the same seed gives the same pair.
        intensity: ``match`` or ``raw`` (see :class:`IntensityMode`).
        channel_wise: with ``match``, rescale each channel to its own range instead of the image's.
        reverse_indexing: the input's 2D spatial axes are ``(W, H)`` (True), ``(H, W)`` (False) or told from its
            aspect ratio (None).
        label_values: the input's label values in the order of the pyramid's (e.g. ``(0, 1)`` for a pyramid trained
            on ``(0, 255)``); by default the pyramid's own.
        model_id: the pyramid's image id, for the record in the output's metadata.
        share_window: the accepted ``(low, high)`` foreground share; the pair is drawn again (within the budget of
            ``size_control``) until it falls there (see :func:`~monai_singanseg.data.size_control.sample_with_share`).
        size_control: budget, strategy and injection scale of that search (the default :class:`SizeControl`'s
            when omitted); its target is drawn by :class:`RandSinGANSeg`, not here.

    Raises:
        ValueError: ``start_scale`` out of the pyramid's range, ``label_values`` of the wrong length, or (at call
            time) an input pair the pyramid cannot stand in for (see :func:`check_input_pair`).

    Example::

        >>> image, label = SinGANSegSample(bank["polyp_01"], start_scale=0, seed=7)(real_image, real_label)
    """

    backend = [TransformBackends.TORCH, TransformBackends.NUMPY]

    def __init__(
        self,
        pyramid: Pyramid,
        start_scale: int = 0,
        seed: int = 0,
        intensity: IntensityMode | str = IntensityMode.MATCH,
        channel_wise: bool = False,
        reverse_indexing: bool | None = None,
        label_values: Sequence[float] | None = None,
        model_id: str = "",
        share_window: tuple[float, float] | None = None,
        size_control: SizeControl | None = None,
    ) -> None:
        if not 0 <= start_scale < pyramid.num_trained_scales:
            raise ValueError(f"start_scale={start_scale} is out of range for pyramid {model_id!r}, which has scales "
                             f"0..{pyramid.num_trained_scales - 1}.")
        self.pyramid, self.start_scale, self.seed = pyramid, int(start_scale), int(seed)
        self.intensity, self.channel_wise = IntensityMode(intensity), channel_wise
        self.reverse_indexing, self.model_id = reverse_indexing, model_id
        self.label_values = _output_label_values(pyramid.layout, label_values)
        self.share_window = None if share_window is None else (float(share_window[0]), float(share_window[1]))
        self.size_control = size_control
        # What the last generate() did to meet share_window (None without one).
        self.size_record: SizeRecord | None = None

    def generate(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The synthetic pair at training shape: float image in the pyramid's units, label with ``label_values``."""
        if self.share_window is None:
            # A CPU generator: the same seed gives the same pair on any device (see SinGANSeg._draw_noise).
            stack = self.pyramid.sample(1, self.start_scale, torch.Generator().manual_seed(self.seed))
        else:
            control = self.size_control
            stack, self.size_record = sample_with_share(
                self.pyramid, self.share_window, self.seed, self.start_scale,
                *((control.budget, control.strategy, control.inject_scale) if control is not None else ()))
        image, label = self.pyramid.decode(stack)
        label = label[0].double()
        mapped = torch.zeros_like(label)
        for value, new in zip(self.pyramid.layout.label_values, self.label_values):
            mapped[label == value] = new
        return image[0].float(), mapped

    def __call__(self, image: NdarrayOrTensor | None = None, label: NdarrayOrTensor | None = None
                 ) -> tuple[torch.Tensor, torch.Tensor]:
        """Args:
            image: channel-first image to imitate, or None for the raw synthetic pair.
            label: its label map ``(1, *spatial)`` (or a grey mask repeated in colour channels), given with
                ``image``.

        Returns:
            ``(image, label)`` tensors (MetaTensors when ``image``/``label`` are, or when MONAI tracks metadata).
        """
        synthetic_image, synthetic_label = self.generate()
        if image is None and label is None:
            return synthetic_image, synthetic_label
        if image is None or label is None:
            raise ValueError("give both image and label, or neither.")
        check_input_pair(image, label, self.pyramid.layout, self.label_values)
        image_t = _plain(image).float()
        target = image_t.shape[1:]
        if _should_swap(synthetic_image.shape[1:], target, self.reverse_indexing):
            synthetic_image, synthetic_label = synthetic_image.transpose(-1, -2), synthetic_label.transpose(-1, -2)
        synthetic_image, synthetic_label = _resize_pair(synthetic_image.to(image_t.device),
                                                        synthetic_label.to(image_t.device), target)
        if self.intensity == IntensityMode.MATCH:
            dims = tuple(range(1, image_t.ndim)) if self.channel_wise else tuple(range(image_t.ndim))
            low, high = image_t.amin(dims, keepdim=True), image_t.amax(dims, keepdim=True)
            s_low, s_high = synthetic_image.amin(dims, keepdim=True), synthetic_image.amax(dims, keepdim=True)
            synthetic_image = (synthetic_image - s_low) / (s_high - s_low).clamp_min(1e-12) * (high - low) + low
        # A colour mask (one grey level in every channel, like the CLI accepts) gets the same colour channels back.
        synthetic_label = synthetic_label.expand(_plain(label).shape[0], *synthetic_label.shape[1:])
        out_image, out_label = _like(synthetic_image, image), _like(synthetic_label, label)
        for out in (out_image, out_label):
            record_replacement(out, True, self.model_id, self.start_scale, self.seed, self.size_record)
        return out_image, out_label


def as_scale_range(start_scale: int | Sequence[int]) -> tuple[int, int]:
    """``start_scale`` as an inclusive ``(low, high)`` range.

    Raises:
        ValueError: negative values or ``low > high``.
    """
    bounds = [int(s) for s in start_scale] if isinstance(start_scale, Sequence) else [int(start_scale)] * 2
    if len(bounds) != 2 or not 0 <= bounds[0] <= bounds[1]:
        raise ValueError(f"start_scale must be an int >= 0 or an inclusive (low, high) range, got {start_scale}.")
    return bounds[0], bounds[1]


class RandSinGANSeg(RandomizableTransform):
    """With probability ``prob``, replace an image and its label by a synthetic pair of a pyramid in ``bank``:
    the one trained on ``image_id`` when given, otherwise one drawn at random (Thambawita et al., PLoS ONE 2022).

    The pyramid (when not given), the start scale and the noise seed are drawn from ``self.R`` and handed to the
    deterministic :class:`SinGANSeg`; ``set_random_state`` makes the draws reproducible.

    Args:
        bank: the pyramids.
        prob: probability of replacing a pair.
        start_scale: an int, or an inclusive ``(low, high)`` range to draw from.
        intensity, channel_wise, reverse_indexing, label_values: see :class:`SinGANSeg`.
        size_control: a target distribution of foreground share to meet (see
            :class:`~monai_singanseg.data.size_control.SizeControl`): each replacement draws its share window from
            ``self.R`` too, and records what it did in the metadata.

    Raises:
        ValueError: a bad ``start_scale``; at call time, an input the pyramid cannot stand in for, or (without
            ``image_id``) a bank of incompatible layouts.
        MissingPyramidError: ``image_id`` is not in the bank (a ``KeyError``).

    Example::

        >>> augment = RandSinGANSeg(SinGANSegBank("models/"), prob=0.5, start_scale=(0, 2)).set_random_state(0)
        >>> image, label = augment(image, label, image_id="polyp_01")
    """

    backend = SinGANSegSample.backend

    def __init__(
        self,
        bank: SinGANSegBank,
        prob: float = 0.1,
        start_scale: int | Sequence[int] = 0,
        intensity: IntensityMode | str = IntensityMode.MATCH,
        channel_wise: bool = False,
        reverse_indexing: bool | None = None,
        label_values: Sequence[float] | None = None,
        size_control: SizeControl | None = None,
    ) -> None:
        super().__init__(prob)
        self.bank, self.start_scale = bank, as_scale_range(start_scale)
        self.intensity, self.channel_wise = IntensityMode(intensity), channel_wise
        self.reverse_indexing, self.label_values = reverse_indexing, label_values
        if size_control is not None and not isinstance(size_control, SizeControl):
            raise TypeError(f"size_control must be a SizeControl or None, got {type(size_control).__name__}.")
        self.size_control = size_control
        self._common_layout: ChannelLayout | None = None
        self._model_id, self._start_scale, self._seed = "", 0, 0
        self._share_window: tuple[float, float] | None = None
        self._training_shares: dict[str, float] = {}

    def layout_for(self, image_id: str | None) -> ChannelLayout:
        """The layout of ``image_id``'s pyramid, or the layout every pyramid of the bank shares."""
        if image_id is not None:
            return self.bank.layout_of(image_id)
        if self._common_layout is None:
            self._common_layout = self.bank.require_compatible_layouts()
        return self._common_layout

    def randomize(self, image_id: str | None = None) -> None:
        super().randomize(None)
        if not self._do_transform:
            return
        self._model_id = image_id if image_id is not None else self.bank.ids[self.R.randint(len(self.bank))]
        self._start_scale = int(self.R.randint(self.start_scale[0], self.start_scale[1] + 1))
        self._seed = int(self.R.randint(MAX_SEED))
        if self.size_control is not None:
            # Drawn after the other parameters, so a transform without size control draws exactly as before.
            target = self.size_control.target
            share = None
            if target.match_real and not target.shares:
                if self._model_id not in self._training_shares:
                    self._training_shares[self._model_id] = training_share(self.bank[self._model_id])
                share = self._training_shares[self._model_id]
            self._share_window = target.window(self.R, share)

    def keep(self, image: NdarrayOrTensor, label: NdarrayOrTensor, image_id: str | None = None
             ) -> tuple[torch.Tensor, torch.Tensor]:
        """The input pair unreplaced, as tensors with the record ``replaced=False``, after the same checks as a
        replacement (so a bad pipeline fails on the first sample, not at random)."""
        check_input_pair(image, label, self.layout_for(image_id), self.label_values)
        kept = tuple(convert_to_tensor(x, track_meta=get_track_meta()) for x in (image, label))
        for out in kept:
            record_replacement(out, False, size=None if self.size_control is None else UNCONTROLLED_SIZE)
        return kept

    def __call__(self, image: NdarrayOrTensor, label: NdarrayOrTensor, image_id: str | None = None,
                 randomize: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
        """Args:
            image: channel-first image.
            label: its label map ``(1, *spatial)``, or a grey mask repeated in colour channels (returned so).
            image_id: id of the pyramid to draw from; None draws one.
            randomize: draw new parameters (False reuses those of the last :meth:`randomize`).

        Returns:
            ``(image, label)``: the synthetic pair shaped like the input, or the input as tensors.
        """
        # Checked on every call, replaced or not, so a bad pipeline fails at once and not at random.
        check_input_pair(image, label, self.layout_for(image_id), self.label_values)
        if randomize:
            self.randomize(image_id)
        if not self._do_transform:
            return self.keep(image, label, image_id)
        pyramid = self.bank[self._model_id]
        replace = SinGANSegSample(pyramid, self._start_scale, self._seed, self.intensity, self.channel_wise,
                            self.reverse_indexing, self.label_values, self._model_id, self._share_window,
                            self.size_control)
        return replace(image, label)


# The name of releases up to 0.x, kept one release; it collided with the network ``networks.SinGANSeg``.
SinGANSeg = SinGANSegSample
