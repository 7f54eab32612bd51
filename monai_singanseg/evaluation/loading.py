"""Reading a MONAI datalist of 2D image+mask files into tensors of one size, for the evaluation report."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from monai.data import load_decathlon_datalist
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


def _to_unit_range(array: torch.Tensor) -> torch.Tensor:
    if array.dtype == torch.uint8:
        return array.float() / 255
    if array.dtype == torch.uint16:
        return array.float() / 65535
    array = array.float()
    # 8-bit values stored as floats (a 0..255 range) are rescaled; [0, 1] data is kept.
    return array / 255 if float(array.max()) > 1 else array


def _resize(image: torch.Tensor, size: int) -> torch.Tensor:
    # Antialiased bilinear: downsizing a 720x576 endoscopy frame must average, not skip, pixels.
    return F.interpolate(image[None].float(), (size, size), mode="bilinear", antialias=True, align_corners=False)[0]


def _read(loader: LoadImage, entry: dict[str, Any], key: str, datalist: Path, position: int) -> torch.Tensor:
    if key not in entry:
        raise ValueError(f"entry {position} of {datalist} has no '{key}' (each entry needs 'image' and 'label').")
    path = Path(entry[key])
    if not path.is_file():
        raise FileNotFoundError(f"{path} (the '{key}' of entry {position} in {datalist}) does not exist.")
    try:
        return loader(str(path)).as_tensor()
    except (OSError, RuntimeError, ValueError) as error:
        raise ValueError(f"cannot read {path} (the '{key}' of entry {position} in {datalist}): {error}") from error


def load_image_mask_set(
    datalist: str | Path, size: int = 128, data_list_key: str = "training", progress: bool = True
) -> ImageMaskSet:
    """Load every image and mask of a MONAI datalist, resized to ``size`` x ``size``.

    Images become ``[0, 1]`` floats (an alpha channel is dropped); masks keep their first channel and are
    thresholded above 127 (above 0.5 for masks stored as 0/1), which also removes JPEG ringing around the edges.

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
        ValueError: if the datalist is malformed or empty, or a file cannot be read as an image.

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
    images, masks = [], []
    for position, entry in enumerate(tqdm(entries, desc=f"loading {datalist.name}", disable=not progress)):
        image = _read(loader, entry, "image", datalist, position)
        mask = _read(loader, entry, "label", datalist, position)
        image = image[:3] if image.shape[0] == 4 else image[:1] if image.shape[0] == 2 else image
        # 0/255 masks (JPEG ringing included) split at 127; masks stored as 0/1 split at 0.5.
        mask_threshold = 127 if float(mask.max()) > 1 else 0.5
        mask = (mask[:1] > mask_threshold).float()
        images.append(_resize(_to_unit_range(image), size).clamp(0, 1))
        masks.append((_resize(mask, size) > 0.5).float())
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
