"""How an image and its label map become one stack of channels in [-1, 1], and back."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import Any

import numpy as np
import torch

__all__ = ["ChannelLayout", "LabelEncoding", "MAX_LABEL_VALUES"]

# More distinct values than this is an intensity image or a lossy (JPEG) mask, not a label map.
# More distinct values than this is a soft mask or an intensity image, not a label map, unless the user names them.
MAX_LABEL_VALUES = 16


def _preview(values: list[float], count: int = 6) -> str:
    shown = ", ".join(f"{v:g}" for v in values[:count])
    return shown + (", ..." if len(values) > count else "")


class LabelEncoding(StrEnum):
    """How label values become generator channels.

    ``binary``: one channel, background -1 and foreground +1 (SinGAN-Seg's mask channel); decoded by thresholding
    at 0, as the reference thresholds its mask at 0.5 after mapping to [0, 1].
    ``onehot``: one channel per label value (background included), decoded by argmax.
    ``spread``: one channel with the values spread evenly over [-1, 1], decoded to the nearest valid value.
    ``auto``: binary for at most two values, onehot otherwise.
    """

    AUTO = "auto"
    BINARY = "binary"
    ONEHOT = "onehot"
    SPREAD = "spread"


def _as_tensor(x: Any) -> torch.Tensor:
    if isinstance(x, torch.Tensor):
        return x.as_tensor() if hasattr(x, "as_tensor") else x
    return torch.as_tensor(np.asarray(x))


@dataclass(frozen=True)
class ChannelLayout:
    """Which channels of a generated stack are image and which are label, and how to map them back.

    Channels are ``[image_0, ..., image_{n-1}, label channels...]``, all in [-1, 1]. Image channel ``c`` maps
    ``[intensity_min[c], intensity_max[c]]`` linearly onto [-1, 1]; ``uint8`` images use [0, 255], as the reference
    divides by 255.

    Args:
        spatial_dims: 2 or 3.
        image_channels: number of image channels (3 for RGB, 4 for four MR sequences).
        label_values: the valid label values, sorted, background first (e.g. ``(0, 255)``, ``(0, 1, 2, 4)``).
        label_encoding: ``binary``, ``onehot`` or ``spread`` (see :class:`LabelEncoding`).
        intensity_min: per image channel, the value mapped to -1.
        intensity_max: per image channel, the value mapped to +1.
        image_dtype: dtype name the decoded image is cast back to (integers are rounded).
        label_dtype: dtype name of the decoded label map.
    """

    spatial_dims: int
    image_channels: int
    label_values: tuple[float, ...]
    label_encoding: LabelEncoding
    intensity_min: tuple[float, ...]
    intensity_max: tuple[float, ...]
    image_dtype: str = "float32"
    label_dtype: str = "uint8"

    def __post_init__(self) -> None:
        object.__setattr__(self, "label_encoding", LabelEncoding(self.label_encoding))
        if self.label_encoding == LabelEncoding.AUTO:
            raise ValueError("label_encoding must be resolved (binary, onehot or spread), not auto.")
        if self.label_encoding == LabelEncoding.BINARY and len(self.label_values) != 2:
            raise ValueError(f"binary encoding needs exactly 2 label values, got {self.label_values}.")
        if len(self.label_values) < 2:
            raise ValueError(f"label_values needs background and at least one label, got {self.label_values}.")
        if len(self.intensity_min) != self.image_channels or len(self.intensity_max) != self.image_channels:
            raise ValueError("intensity_min and intensity_max need one value per image channel.")

    @property
    def label_channels(self) -> int:
        return len(self.label_values) if self.label_encoding == LabelEncoding.ONEHOT else 1

    @property
    def channels(self) -> int:
        """Channels of the generator's stack: image channels then label channels."""
        return self.image_channels + self.label_channels

    @classmethod
    def from_data(
        cls,
        image: Any,
        label: Any,
        label_encoding: LabelEncoding | str = LabelEncoding.AUTO,
        label_values: Sequence[float] | None = None,
        intensity_range: tuple[float, float] | None = None,
    ) -> ChannelLayout:
        """Infer the layout of one channel-first image ``(C, *spatial)`` and label ``(1, *spatial)``.

        Args:
            image: the training image.
            label: the training label map.
            label_encoding: see :class:`LabelEncoding`.
            label_values: the valid values; inferred from ``label`` when omitted. Values in ``label`` outside this
                set are an error.
            intensity_range: ``(min, max)`` for every image channel; by default [0, 255] for ``uint8`` images and
                each channel's own range otherwise.

        Raises:
            ValueError: label values outside ``label_values``, too many distinct values for a label map, or
                non-finite values.
        """
        image_t, label_t = _as_tensor(image), _as_tensor(label)
        spatial_dims = image_t.ndim - 1
        present = torch.unique(label_t).tolist()
        if label_values is None:
            if len(present) > MAX_LABEL_VALUES:
                raise ValueError(
                    f"label has {len(present)} distinct values ({_preview(present)}); a label map read without "
                    f"label_values has at most {MAX_LABEL_VALUES}. Binarise a mask (--label-threshold, "
                    "label_threshold=) or name the valid values (--label-values, label_values=)."
                )
            values = sorted(set(present) | {0})
            if len(values) == 1:
                warnings.warn("the label map is empty (background only): samples will have empty labels.")
                values = [0, 1]
        else:
            values = sorted(float(v) for v in label_values)
            outside = sorted(set(present) - set(values))
            if outside:
                raise ValueError(f"label holds values {outside[:8]} outside label_values={tuple(values)}.")
            if set(present) <= {values[0]}:
                warnings.warn("the label map is empty (background only): samples will have empty labels.")
        encoding = LabelEncoding(label_encoding)
        if encoding == LabelEncoding.AUTO:
            encoding = LabelEncoding.BINARY if len(values) == 2 else LabelEncoding.ONEHOT
        if encoding == LabelEncoding.BINARY and len(values) != 2:
            raise ValueError(f"label_encoding='binary' needs 2 label values, the label has {values}: use onehot or spread.")
        channels = image_t.shape[0]
        if intensity_range is not None:
            low, high = [float(intensity_range[0])] * channels, [float(intensity_range[1])] * channels
        elif image_t.dtype == torch.uint8:
            low, high = [0.0] * channels, [255.0] * channels
        else:
            flat = image_t.reshape(channels, -1).float()
            low, high = flat.min(dim=1).values.tolist(), flat.max(dim=1).values.tolist()
        return cls(
            spatial_dims=spatial_dims,
            image_channels=channels,
            label_values=tuple(float(v) for v in values),
            label_encoding=encoding,
            intensity_min=tuple(low),
            intensity_max=tuple(high),
            image_dtype=str(image_t.dtype).removeprefix("torch."),
            label_dtype=str(label_t.dtype).removeprefix("torch."),
        )

    def _scale(self, like: torch.Tensor, channel_dim: int) -> tuple[torch.Tensor, torch.Tensor]:
        shape = [1] * like.ndim
        shape[channel_dim] = self.image_channels
        low = torch.tensor(self.intensity_min, dtype=torch.float32, device=like.device).view(shape)
        high = torch.tensor(self.intensity_max, dtype=torch.float32, device=like.device).view(shape)
        return low, (high - low).clamp_min(1e-12)

    def encode(self, image: Any, label: Any) -> torch.Tensor:
        """Stack a channel-first image and label (batched or not) into generator channels in [-1, 1].

        Raises:
            ValueError: wrong channel count, shape mismatch, label values outside the layout, NaN or Inf.
        """
        image_t, label_t = _as_tensor(image).float(), _as_tensor(label)
        channel_dim = image_t.ndim - self.spatial_dims - 1
        if image_t.shape[channel_dim] != self.image_channels:
            raise ValueError(f"image has {image_t.shape[channel_dim]} channels, the layout expects {self.image_channels}.")
        if label_t.shape[channel_dim] != 1 or label_t.shape[channel_dim + 1 :] != image_t.shape[channel_dim + 1 :]:
            raise ValueError(f"label shape {tuple(label_t.shape)} does not match image shape {tuple(image_t.shape)}.")
        if not torch.isfinite(image_t).all():
            raise ValueError("image contains NaN or Inf values.")
        low, span = self._scale(image_t, channel_dim)
        encoded_image = 2 * (image_t - low) / span - 1
        values = torch.tensor(self.label_values, dtype=torch.float64, device=label_t.device)
        matches = label_t.double().unsqueeze(-1) == values
        if not matches.any(-1).all():
            bad = torch.unique(label_t[~matches.any(-1)]).tolist()
            raise ValueError(f"label holds values {bad[:8]} outside label_values={self.label_values}.")
        index = matches.float().argmax(-1)
        if self.label_encoding == LabelEncoding.ONEHOT:
            onehot = torch.movedim(torch.nn.functional.one_hot(index.squeeze(channel_dim), len(values)), -1, channel_dim)
            encoded_label = 2 * onehot.float() - 1
        else:
            encoded_label = 2 * index.float() / (len(values) - 1) - 1
        return torch.cat([encoded_image, encoded_label.to(encoded_image.device)], dim=channel_dim)

    def decode(self, stack: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Split a generated stack into an image in the input's range and dtype and a label map of valid values."""
        channel_dim = stack.ndim - self.spatial_dims - 1
        if stack.shape[channel_dim] != self.channels:
            raise ValueError(f"stack has {stack.shape[channel_dim]} channels, the layout expects {self.channels}.")
        image, label = torch.split(stack.float(), [self.image_channels, self.label_channels], dim=channel_dim)
        low, span = self._scale(image, channel_dim)
        image = (image.clamp(-1, 1) + 1) / 2 * span + low
        dtype = getattr(torch, self.image_dtype)
        if not dtype.is_floating_point:
            image = image.round()
        values = torch.tensor(self.label_values, dtype=torch.float64, device=stack.device)
        if self.label_encoding == LabelEncoding.ONEHOT:
            index = label.argmax(dim=channel_dim, keepdim=True)
        elif self.label_encoding == LabelEncoding.BINARY:
            index = (label > 0).long()
        else:
            index = ((label.clamp(-1, 1) + 1) / 2 * (len(values) - 1)).round().long()
        decoded_label = values[index].to(getattr(torch, self.label_dtype))
        return image.to(dtype), decoded_label

    def to_dict(self) -> dict[str, Any]:
        """Plain data for a checkpoint."""
        data = asdict(self)
        data["label_encoding"] = str(self.label_encoding)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ChannelLayout:
        fields = dict(data)
        for key in ("label_values", "intensity_min", "intensity_max"):
            fields[key] = tuple(fields[key])
        return cls(**fields)
