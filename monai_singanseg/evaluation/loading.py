"""Reading a MONAI datalist of 2D image+mask files into tensors of one size, for the evaluation report."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from monai.data import MetaTensor, load_decathlon_datalist
from monai.data.image_reader import PILReader
from monai.transforms import LoadImage
from tqdm.auto import tqdm

__all__ = ["ImageMaskSet", "load_image_mask_set"]


@dataclass(frozen=True)
class ImageMaskSet:
    """Image+mask pairs of one datalist, resized to a common size.

    Attributes:
        images: ``(N, C, S, S)`` images in ``[0, 1]``.
        masks: ``(N, 1, S, S)`` binary masks.
        names: file name of each image, for display.
        paths: resolved path of each image.
        sources: resolved ``source_image`` of each entry (the real image a sample was generated from, written by
            the sampler), or ``None`` where an entry has none.
    """

    images: torch.Tensor
    masks: torch.Tensor
    names: list[str]
    paths: list[str]
    sources: list[str | None]


# PIL modes that hold 16-bit samples; MONAI's PILReader returns them as int32, so the dtype alone cannot tell.
_SIXTEEN_BIT_MODES = ("I;16", "I;16B", "I;16L", "I;16N")
# Float images may overshoot their range by rounding; more than this is another range, not rounding.
_FLOAT_TOLERANCE = 1 / 255


def _to_unit_range(array: torch.Tensor, mode: str | None, path: Path) -> tuple[torch.Tensor, str]:
    """``array`` scaled to [0, 1], and the range it was read as (``"8-bit"``, ``"16-bit"``, ``"float [0, 1]"``...).

    Integers are scaled by the file's bit depth; floats must lie in [0, 1] or [0, 255], which one is told by the
    values, so the caller checks that a set does not mix them.
    """
    if not bool(torch.isfinite(array).all()):
        raise ValueError(f"{path} holds NaN or Inf values: every image value must be finite.")
    if array.dtype == torch.bool:
        return array.float(), "binary"
    if array.dtype == torch.uint8:
        return array.float() / 255, "8-bit"
    if array.dtype == torch.uint16 or mode in _SIXTEEN_BIT_MODES:
        return array.float() / 65535, "16-bit"
    if not array.is_floating_point():
        # Other integers (PIL mode 'I'): 16-bit values when any exceeds 255, else 8-bit ones.
        sixteen_bit = float(array.max()) > 255
        return array.float() / (65535 if sixteen_bit else 255), "16-bit" if sixteen_bit else "8-bit"
    low, high = float(array.min()), float(array.max())
    if low < -_FLOAT_TOLERANCE or high > 255 * (1 + _FLOAT_TOLERANCE):
        raise ValueError(f"{path} holds float values from {low:g} to {high:g}: expected [0, 1] or [0, 255].")
    if high <= 1 + _FLOAT_TOLERANCE:
        return array.float().clamp(0, 1), "float [0, 1]"
    return (array.float() / 255).clamp(0, 1), "float [0, 255]"


def _binary_mask(mask: torch.Tensor, image_shape: tuple[int, ...], path: Path) -> torch.Tensor:
    """The foreground of a 0/1 or 0/255 mask as one 0/1 channel, refusing masks that would be read otherwise."""
    if tuple(mask.shape[1:]) != image_shape:
        raise ValueError(f"{path} is {tuple(mask.shape[1:])} pixels but its image is {image_shape}: a mask must "
                         "have its image's size.")
    if not bool(torch.isfinite(mask).all()):
        raise ValueError(f"{path} holds NaN or Inf values: a mask must be 0/1 or 0/255.")
    high = float(mask.max())
    if 1 < high < 128:
        # 0/255 masks split at 127 (JPEG ringing included), so a label map such as {0, 1, 2} would read as empty.
        raise ValueError(f"{path} holds values up to {high:g}: expected a binary mask stored as 0/1 or 0/255, "
                         "not a label map.")
    foreground = mask > (127 if high > 1 else 0.5)
    disagree = float((foreground != foreground[:1]).any(dim=0).float().mean())
    if disagree > 0.01:
        raise ValueError(f"{path} has {mask.shape[0]} channels whose foregrounds differ on {disagree:.0%} of the "
                         "pixels: give a one-channel mask, or one whose channels agree.")
    return foreground[:1].float()


def _resize(image: torch.Tensor, size: int) -> torch.Tensor:
    # Antialiased bilinear: downsizing a 720x576 endoscopy frame must average, not skip, pixels.
    return F.interpolate(image[None].float(), (size, size), mode="bilinear", antialias=True, align_corners=False)[0]


def _read(loader: LoadImage, entry: dict[str, Any], key: str, datalist: Path, position: int) -> MetaTensor:
    if key not in entry:
        raise ValueError(f"entry {position} of {datalist} has no '{key}' (each entry needs 'image' and 'label').")
    path = Path(entry[key])
    if not path.is_file():
        raise FileNotFoundError(f"{path} (the '{key}' of entry {position} in {datalist}) does not exist.")
    try:
        return loader(str(path))
    except (OSError, RuntimeError, ValueError) as error:
        raise ValueError(f"cannot read {path} (the '{key}' of entry {position} in {datalist}): {error}") from error


def load_image_mask_set(
    datalist: str | Path, size: int = 128, data_list_key: str = "training", progress: bool = True
) -> ImageMaskSet:
    """Load every image and mask of a MONAI datalist, resized to ``size`` x ``size``.

    Images become ``[0, 1]`` floats (an alpha channel is dropped), scaled by their bit depth (8 or 16 bits) or,
    for floats, read as [0, 1] or [0, 255] by their values. Masks are thresholded above 127 (above 0.5 for masks
    stored as 0/1), which also removes JPEG ringing around the edges; a mask of several channels must have the
    same foreground in each.

    Args:
        datalist: JSON file ``{"training": [{"image": ..., "label": ...}, ...]}``; relative paths are resolved
            against its folder, as :func:`monai.data.load_decathlon_datalist` does.
        size: side of the common comparison size.
        data_list_key: key of the list of entries.
        progress: show a progress bar.

    Returns:
        An :class:`ImageMaskSet`.

    Raises:
        FileNotFoundError: if the datalist or a file it lists does not exist.
        ValueError: if the datalist is malformed or empty, a file cannot be read as an image, an image holds
            NaN or Inf or floats outside [0, 1] and [0, 255], a set mixes those two float ranges, or a mask has
            another size than its image, holds a label map (values above 1 and below 128) or channels that
            disagree.

    Example::

        >>> real = load_image_mask_set("real.json", size=128)  # doctest: +SKIP
    """
    datalist = Path(datalist)
    if not datalist.is_file():
        raise FileNotFoundError(f"datalist {datalist} does not exist.")
    try:
        entries = load_decathlon_datalist(datalist, is_segmentation=True, data_list_key=data_list_key)
    except (ValueError, KeyError, TypeError) as error:
        raise ValueError(f"cannot read datalist {datalist}: {error}") from error
    if not entries:
        raise ValueError(f"datalist {datalist} lists no entries under '{data_list_key}'.")
    # reverse_indexing=False keeps the (rows, columns) order of the PNG/JPEG instead of MONAI's (x, y).
    loader = LoadImage(
        image_only=True, ensure_channel_first=True, reader=PILReader(reverse_indexing=False), dtype=None
    )
    images, masks, ranges = [], [], {}
    for position, entry in enumerate(tqdm(entries, desc=f"loading {datalist.name}", disable=not progress)):
        image = _read(loader, entry, "image", datalist, position)
        mask = _read(loader, entry, "label", datalist, position)
        path = Path(entry["image"])
        image, value_range = _to_unit_range(image.as_tensor(), image.meta.get("mode"), path)
        ranges.setdefault(value_range, path)
        mask = _binary_mask(mask.as_tensor(), tuple(image.shape[1:]), Path(entry["label"]))
        image = image[:3] if image.shape[0] == 4 else image[:1] if image.shape[0] == 2 else image
        images.append(_resize(image, size).clamp(0, 1))
        masks.append((_resize(mask, size) > 0.5).float())
    if {"float [0, 1]", "float [0, 255]"} <= ranges.keys():
        raise ValueError(f"{datalist} mixes float images in [0, 1] ({ranges['float [0, 1]']}) with float images in "
                         f"[0, 255] ({ranges['float [0, 255]']}): store every image of a set in one range.")
    channels = {image.shape[0] for image in images}
    if len(channels) > 1:
        # Mixed grey and colour images are compared in colour.
        images = [image.expand(3, -1, -1) if image.shape[0] == 1 else image for image in images]
    paths = [str(Path(entry["image"]).resolve()) for entry in entries]
    # source_image is not resolved by load_decathlon_datalist; resolve it against the datalist as `style` does.
    sources = [
        str((datalist.parent / entry["source_image"]).resolve()) if "source_image" in entry else None
        for entry in entries
    ]
    return ImageMaskSet(torch.stack(images), torch.stack(masks), [Path(path).name for path in paths], paths, sources)
