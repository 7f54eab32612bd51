"""``monai-singanseg style``: restyle the synthetic images of a datalist from their real images."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from monai_singanseg.settings import available_device
from monai_singanseg.style import GatysStyleTransfer, StyleMethod
from monai_singanseg.style.datalist import OUTPUT_DATALIST, restyle_datalist

__all__ = ["OUTPUT_DATALIST", "add_parser", "parse_ratio", "run"]


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


def run(args: argparse.Namespace) -> int:
    """Restyle every synthetic image of the datalist and write the results
    (:func:`~monai_singanseg.style.datalist.restyle_datalist`).

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
    if args.batch_size < 1:
        raise ValueError(f"--batch-size must be >= 1, got {args.batch_size}.")
    method = StyleMethod(args.method)
    engine: Callable[[], GatysStyleTransfer] | None = None
    settings: dict[str, Any] = {}
    if method == StyleMethod.GATYS:
        content_weight, style_weight = args.ratio

        def build_engine() -> GatysStyleTransfer:
            # Called by restyle_datalist once every input is checked: a typo fails before the VGG loads.
            device = str(available_device(args.device, "--device")) if args.device else (
                "cuda" if torch.cuda.is_available() else "cpu")
            return GatysStyleTransfer(weights_path=args.weights, content_weight=content_weight, style_weight=style_weight,
                                 steps=args.steps, learning_rate=args.learning_rate, device=device, amp=args.amp)

        engine = build_engine
        settings = {"content_weight": content_weight, "style_weight": style_weight, "steps": args.steps,
                    "learning_rate": args.learning_rate}
    elif method == StyleMethod.FOURIER:
        settings = {"beta": args.beta}
    restyle_datalist(args.synthetic, args.out, method, engine=engine, beta=args.beta, style_from=args.style_from,
                     batch_size=args.batch_size, data_list_key=args.data_list_key, settings=settings)
    return 0
