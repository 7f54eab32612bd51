"""Restyle the synthetic images of a datalist from their real images (SinGAN-Seg's second stage) into a new folder
with its own datalist: the library behind ``monai-singanseg style``."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image
from tqdm.auto import tqdm

from monai_singanseg.data.checkpoint import read_checkpoint
from monai_singanseg.data.datalist import DATALIST_PATH_KEYS, read_datalist, write_datalist
from monai_singanseg.data.writers import write_bytes, write_png
from monai_singanseg.style.dispatch import StyleMethod, style_method, style_transfer
from monai_singanseg.style.gatys import GatysStyleTransfer

__all__ = ["OUTPUT_DATALIST", "read_rgb", "restyle_datalist"]

OUTPUT_DATALIST = "datalist.json"

_IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")


def read_rgb(path: str | os.PathLike, size: tuple[int, int] | None = None) -> torch.Tensor:
    """An image file as ``(3, H, W)`` float in [0, 1].

    Args:
        path: the image file (grey images become three equal channels).
        size: ``(W, H)`` to resize to, bilinearly, as the reference's PIL-based style loader does.

    Returns:
        The image tensor.
    """
    with Image.open(path) as image:
        image = image.convert("RGB")
        if size is not None and image.size != size:
            image = image.resize(size, Image.BILINEAR)
        return torch.from_numpy(np.asarray(image, dtype=np.float32) / 255.0).permute(2, 0, 1)


def _existing(path: str | Path, what: str) -> Path:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{what} '{path}' does not exist.")
    return path


def _real_image_of(image_id: str, style_from: Path) -> Path:
    """The real image with id ``image_id``: the source recorded in a bank's ``<id>.pt``, or ``<id>.*`` in a folder."""
    checkpoint = style_from / f"{image_id}.pt"
    if checkpoint.is_file():
        source = read_checkpoint(checkpoint).get("metadata", {}).get("source")
        if not source:
            raise ValueError(f"'{checkpoint}' records no source image to style from.")
        return Path(source)
    matches = sorted(p for p in style_from.rglob(f"{image_id}.*") if p.suffix.lower() in _IMAGE_SUFFIXES)
    if not matches:
        raise FileNotFoundError(f"no real image or pyramid with id '{image_id}' in style_from '{style_from}'.")
    return matches[0]


def _output_name(path: Path, base_dir: Path) -> Path:
    """Mirror the path below the datalist's folder, or keep the file name for files elsewhere."""
    try:
        return path.resolve().relative_to(base_dir.resolve())
    except ValueError:
        return Path(path.name)


def _batches(sizes: Sequence[tuple[int, int]], batch_size: int) -> list[list[int]]:
    """Indices grouped by image size (a batch needs one size), at most ``batch_size`` each."""
    by_size: dict[tuple[int, int], list[int]] = {}
    for index, size in enumerate(sizes):
        by_size.setdefault(size, []).append(index)
    return [group[i : i + batch_size] for group in by_size.values() for i in range(0, len(group), batch_size)]


def _check_items(items: list[dict[str, Any]], datalist: Path, style_from: Path | None) -> None:
    for index, item in enumerate(items):
        if style_from is not None:
            if "source_id" not in item:
                raise ValueError(f"item {index} of '{datalist}' has no 'source_id' to pair with style_from.")
            item["source_image"] = str(_real_image_of(str(item["source_id"]), style_from))
        if "source_image" not in item:
            raise ValueError(f"item {index} of '{datalist}' has no 'source_image' (the real image to style from).")
        item["source_image"] = str(Path(item["source_image"]).resolve())
        _existing(item["image"], f"image of item {index}")
        _existing(item["source_image"], f"source_image of item {index}")
        if "label" in item:
            _existing(item["label"], f"label of item {index}")


def restyle_datalist(
    datalist: str | os.PathLike,
    out_dir: str | os.PathLike,
    method: StyleMethod | str = StyleMethod.GATYS,
    engine: GatysStyleTransfer | Callable[[], GatysStyleTransfer] | None = None,
    beta: float = 0.01,
    style_from: str | os.PathLike | None = None,
    batch_size: int = 8,
    data_list_key: str = "training",
    settings: Mapping[str, Any] | None = None,
    progress: bool = True,
) -> Path:
    """Restyle every synthetic image of ``datalist`` from its real image and write a new datalist to ``out_dir``.

    Writes ``out_dir/images/...`` (restyled PNGs), ``out_dir/labels/...`` (byte copies of the labels: style
    transfer never changes a label) and ``out_dir/datalist.json``: the same items with the new ``image`` and
    ``label`` paths (relative to ``out_dir``), ``source_image`` made absolute, and ``"style"``: the method and its
    ``settings``. Output names mirror the inputs' paths below the datalist's folder. Every file is written
    atomically.

    Args:
        datalist: datalist JSON of ``{image, label, source_image}`` items (paths relative to its folder or absolute).
        out_dir: output folder.
        method: the style method (:class:`StyleMethod`).
        engine: the Gatys engine (one VGG for the whole datalist), required for ``gatys``; or a function that
            builds it, called once every input is checked, so that a typo fails before the VGG loads.
        beta: Fourier window fraction, for ``fourier``.
        style_from: pair each item with its real image by its ``source_id`` instead of its ``source_image``: a
            folder of real images (file stem = id) or a bank of pyramids (the source file recorded in ``<id>.pt``).
        batch_size: images styled at once (a batch holds images of one size).
        data_list_key: the datalist's list to restyle.
        settings: plain data recorded in each item's ``"style"`` beside the method (weights, steps).
        progress: show a progress bar.

    Returns:
        The new datalist's path.

    Raises:
        FileNotFoundError: the datalist, an image, label or source image does not exist.
        ValueError: an item without ``source_image`` (or ``source_id`` with ``style_from``), two outputs with one
            name, ``out_dir`` holding the input datalist, ``batch_size < 1``, or ``gatys`` without ``engine``.

    Example::

        >>> engine = GatysStyleTransfer(weights_path="vgg19-dcbb9e9d.pth", content_weight=1.0, style_weight=1000.0)
        >>> restyle_datalist("samples/datalist.json", "styled", "gatys", engine=engine)
        PosixPath('styled/datalist.json')
    """
    datalist_path = _existing(datalist, "datalist")
    base_dir, out_dir = datalist_path.parent, Path(out_dir)
    if (out_dir / OUTPUT_DATALIST).resolve() == datalist_path.resolve():
        raise ValueError(f"out_dir '{out_dir}' would overwrite the input datalist '{datalist_path}'.")
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be an int >= 1, got {batch_size!r}.")
    method = style_method(method)
    if method == StyleMethod.GATYS and engine is None:
        raise ValueError("method 'gatys' needs engine, a GatysStyleTransfer built once for the whole datalist.")
    items = read_datalist(datalist_path, data_list_key, (*DATALIST_PATH_KEYS, "source_image"))
    # 1. Check every input before any work, so that a typo fails in seconds rather than after hours of styling.
    _check_items(items, datalist_path, None if style_from is None else Path(style_from))
    names = [_output_name(Path(item["image"]), base_dir).with_suffix(".png") for item in items]
    label_names = [_output_name(Path(item["label"]), base_dir) for item in items if "label" in item]
    for kind, kind_names in (("images", names), ("labels", label_names)):
        if len(set(kind_names)) != len(kind_names):
            raise ValueError(f"two {kind} of '{datalist_path}' would be written to the same file in '{out_dir}'.")
    # 2. The method's arguments: one engine for the whole datalist.
    call_settings: dict[str, Any] = {}
    if method == StyleMethod.GATYS:
        call_settings["engine"] = engine if isinstance(engine, GatysStyleTransfer) else engine()
    if method == StyleMethod.FOURIER:
        call_settings["beta"] = beta
    record = {"method": method.value, **(settings or {})}
    # 3. Style in batches of equal size; each style image is resized to its synthetic image as in the reference.
    sizes = []
    for item in items:
        with Image.open(item["image"]) as image:
            sizes.append(image.size)
    new_items: list[dict[str, Any]] = [dict(item) for item in items]
    with tqdm(total=len(items), desc="style transfer", unit="image", disable=not progress) as bar:
        for batch in _batches(sizes, batch_size):
            content = torch.stack([read_rgb(items[i]["image"]) for i in batch])
            style = torch.stack([read_rgb(items[i]["source_image"], sizes[i]) for i in batch])
            restyled = style_transfer(content, style, method, **call_settings)
            pixels = (restyled.clamp(0.0, 1.0) * 255.0).round().to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy()
            for i, array in zip(batch, pixels):
                write_png(array, out_dir / "images" / names[i])
                new_items[i]["image"] = str(Path("images") / names[i])
                bar.update()
    # 4. Labels are copied byte for byte: style transfer never changes a label.
    for item, new_item in zip(items, new_items):
        if "label" in item:
            name = _output_name(Path(item["label"]), base_dir)
            write_bytes(Path(item["label"]).read_bytes(), out_dir / "labels" / name)
            new_item["label"] = str(Path("labels") / name)
        new_item["style"] = dict(record)
    return write_datalist(new_items, out_dir / OUTPUT_DATALIST, data_list_key)
