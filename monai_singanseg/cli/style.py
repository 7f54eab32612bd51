"""``monai-singanseg style``: restyle the synthetic images of a datalist from their real images."""

from __future__ import annotations

import argparse
import json
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from monai.data import load_decathlon_datalist
from PIL import Image
from tqdm.auto import tqdm

from monai_singanseg.data.checkpoint import read_checkpoint
from monai_singanseg.settings import available_device
from monai_singanseg.style import StyleMethod, StyleTransfer, style_transfer

__all__ = ["add_parser", "run", "parse_ratio"]

OUTPUT_DATALIST = "datalist.json"


def parse_ratio(text: str) -> tuple[float, float]:
    """Parse a content:style ratio such as ``"1:1000"``.

    Args:
        text: two non-negative numbers separated by a colon, not both zero.

    Returns:
        (content_weight, style_weight).

    Raises:
        argparse.ArgumentTypeError: when ``text`` is not such a ratio.

    Example::

        >>> parse_ratio("1:1000")
        (1.0, 1000.0)
    """
    try:
        content_weight, style_weight = (float(part) for part in text.split(":"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"--ratio must be CONTENT:STYLE such as 1:1000, got {text!r}.") from None
    if content_weight < 0 or style_weight < 0 or content_weight + style_weight == 0:
        raise argparse.ArgumentTypeError(f"--ratio weights must be >= 0 and not both 0, got {text!r}.")
    return content_weight, style_weight


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Register the ``style`` subcommand.

    Args:
        subparsers: the object returned by ``ArgumentParser.add_subparsers``.

    Returns:
        The subcommand's parser, whose defaults set ``run=run``.

    Example::

        >>> parser = argparse.ArgumentParser(prog="monai-singanseg")
        >>> _ = add_parser(parser.add_subparsers(dest="command"))
        >>> parser.parse_args(["style", "--synthetic", "d.json", "--out", "o"]).method
        'gatys'
    """
    parser = subparsers.add_parser(
        "style",
        help="restyle synthetic images from their real images (SinGAN-Seg's second stage)",
        description="Restyle each synthetic image of a datalist from its 'source_image' (the real image its "
        "generator was trained on), copy the labels untouched, and write the images and a new datalist to --out.",
    )
    parser.add_argument(
        "--synthetic", type=Path, required=True, help="datalist JSON: {'training': [{image, label, source_image}]}"
    )
    parser.add_argument("--out", type=Path, required=True, help="output folder")
    parser.add_argument(
        "--style-from", type=Path, default=None,
        help="pair each item with its real image by the 'source_id' recorded at generation: a folder of real images "
        "(file stem = id) or a bank of pyramids (the source file recorded in <id>.pt); default: each item's "
        "'source_image'",
    )
    parser.add_argument("--method", choices=[m.value for m in StyleMethod], default=StyleMethod.GATYS.value)
    parser.add_argument("--ratio", type=parse_ratio, default=(1.0, 1000.0), help="content:style weights (1:1000)")
    parser.add_argument("--steps", type=int, default=1000, help="Gatys optimisation steps")
    parser.add_argument("--learning-rate", type=float, default=0.01, help="Gatys Adam learning rate")
    parser.add_argument("--beta", type=float, default=0.01, help="Fourier window fraction")
    parser.add_argument("--weights", type=Path, default=None, help="VGG19 weights file (default: torch hub cache)")
    parser.add_argument("--device", default=None, help="torch device (default: cuda when available)")
    parser.add_argument("--batch-size", type=int, default=8, help="images styled at once")
    parser.add_argument("--amp", action="store_true", help="bfloat16 autocast for the VGG on CUDA")
    parser.add_argument("--data-list-key", default="training", help="key of the list in the datalist JSON")
    parser.set_defaults(run=run)
    return parser


def _existing(path: str | Path, what: str) -> Path:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{what} '{path}' does not exist.")
    return path


def _read_rgb(path: Path, size: tuple[int, int] | None = None) -> torch.Tensor:
    """(3, H, W) float in [0, 1]; ``size`` (W, H) resizes bilinearly as the reference's PIL-based loader does."""
    with Image.open(path) as image:
        image = image.convert("RGB")
        if size is not None and image.size != size:
            image = image.resize(size, Image.BILINEAR)
        return torch.from_numpy(np.asarray(image, dtype=np.float32) / 255.0).permute(2, 0, 1)


_IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")


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
        raise FileNotFoundError(f"no real image or pyramid with id '{image_id}' in --style-from '{style_from}'.")
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


def run(args: argparse.Namespace) -> int:
    """Restyle every synthetic image of the datalist and write the results.

    Writes ``OUT/images/...`` (restyled PNGs), ``OUT/labels/...`` (byte copies of the labels) and
    ``OUT/datalist.json``: the same items with the new ``image`` and ``label`` paths (relative to ``OUT``),
    ``source_image`` made absolute, and ``"style"``: the method and its settings.

    Args:
        args: the parsed arguments of the ``style`` subcommand.

    Returns:
        0 on success.

    Raises:
        FileNotFoundError: naming the datalist, image, label, source image or weights file that is missing.
        ValueError: when an item has no ``source_image``, two outputs would share a name, or a setting is invalid.

    Example::

        monai-singanseg style --synthetic samples/datalist.json --ratio 1:1000 --steps 1000 --out styled
        monai-singanseg style --synthetic samples/datalist.json --method histogram --out styled_histogram
    """
    datalist_path = _existing(args.synthetic, "datalist")
    base_dir = datalist_path.parent
    out_dir: Path = args.out
    if (out_dir / OUTPUT_DATALIST).resolve() == datalist_path.resolve():
        raise ValueError(f"--out '{out_dir}' would overwrite the input datalist '{datalist_path}'.")
    if args.batch_size < 1:
        raise ValueError(f"--batch-size must be >= 1, got {args.batch_size}.")
    items = load_decathlon_datalist(datalist_path, is_segmentation=True, data_list_key=args.data_list_key)
    # 1. Check every input before any work, so that a typo fails in seconds rather than after hours of styling.
    for index, item in enumerate(items):
        if args.style_from is not None:
            if "source_id" not in item:
                raise ValueError(f"item {index} of '{datalist_path}' has no 'source_id' to pair with --style-from.")
            item["source_image"] = str(_real_image_of(str(item["source_id"]), args.style_from))
        if "source_image" not in item:
            raise ValueError(f"item {index} of '{datalist_path}' has no 'source_image' (the real image to style from).")
        source = Path(item["source_image"])
        item["source_image"] = str((source if source.is_absolute() else base_dir / source).resolve())
        _existing(item["image"], f"image of item {index}")
        _existing(item["source_image"], f"source_image of item {index}")
        if "label" in item:
            _existing(item["label"], f"label of item {index}")
    names = [_output_name(Path(item["image"]), base_dir).with_suffix(".png") for item in items]
    label_names = [_output_name(Path(item["label"]), base_dir) for item in items if "label" in item]
    for kind, kind_names in (("images", names), ("labels", label_names)):
        if len(set(kind_names)) != len(kind_names):
            raise ValueError(f"two {kind} of '{datalist_path}' would be written to the same file in '{out_dir}'.")
    # 2. Build the method once: one VGG for the whole datalist.
    method = StyleMethod(args.method)
    settings: dict[str, Any] = {"method": method.value}
    call_settings: dict[str, Any] = {}
    if method == StyleMethod.GATYS:
        content_weight, style_weight = args.ratio
        device = str(available_device(args.device, "--device")) if args.device else (
            "cuda" if torch.cuda.is_available() else "cpu")
        call_settings["engine"] = StyleTransfer(
            weights_path=args.weights,
            content_weight=content_weight,
            style_weight=style_weight,
            steps=args.steps,
            learning_rate=args.learning_rate,
            device=device,
            amp=args.amp,
        )
        settings.update(
            content_weight=content_weight, style_weight=style_weight, steps=args.steps, learning_rate=args.learning_rate
        )
    elif method == StyleMethod.FOURIER:
        call_settings["beta"] = settings["beta"] = args.beta
    # 3. Style in batches of equal size; each style image is resized to its synthetic image as in the reference.
    sizes = []
    for item in items:
        with Image.open(item["image"]) as image:
            sizes.append(image.size)
    new_items: list[dict[str, Any]] = [dict(item) for item in items]
    with tqdm(total=len(items), desc="style transfer", unit="image") as bar:
        for batch in _batches(sizes, args.batch_size):
            content = torch.stack([_read_rgb(Path(items[i]["image"])) for i in batch])
            style = torch.stack([_read_rgb(Path(items[i]["source_image"]), sizes[i]) for i in batch])
            restyled = style_transfer(content, style, method, **call_settings)
            pixels = (restyled.clamp(0.0, 1.0) * 255.0).round().to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy()
            for i, array in zip(batch, pixels):
                target = out_dir / "images" / names[i]
                target.parent.mkdir(parents=True, exist_ok=True)
                Image.fromarray(array).save(target)
                new_items[i]["image"] = str(Path("images") / names[i])
                bar.update()
    # 4. Labels are copied byte for byte: style transfer never changes a label.
    for item, new_item in zip(items, new_items):
        if "label" in item:
            name = _output_name(Path(item["label"]), base_dir)
            target = out_dir / "labels" / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(item["label"], target)
            new_item["label"] = str(Path("labels") / name)
        new_item["style"] = dict(settings)
    (out_dir / OUTPUT_DATALIST).write_text(json.dumps({args.data_list_key: new_items}, indent=2))
    return 0
