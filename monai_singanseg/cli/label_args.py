"""``--label-threshold`` and ``--label-values``: how a command reads label files, the same on every command."""

from __future__ import annotations

import argparse

from monai_singanseg.data.io import AUTO_THRESHOLD

__all__ = ["add_label_arguments"]


def _threshold(text: str) -> float | str | None:
    if text.lower() in (AUTO_THRESHOLD, "none"):
        return None if text.lower() == "none" else AUTO_THRESHOLD
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, 'auto' or 'none', got {text!r}") from None


def add_label_arguments(parser: argparse.ArgumentParser, what: str = "the label") -> None:
    """Add the label-reading flags; their values go to :func:`~monai_singanseg.data.load_training_pair`."""
    parser.add_argument(
        "--label-threshold", type=_threshold, default=AUTO_THRESHOLD, metavar="{auto,none,VALUE}",
        help=f"binarise {what} to {{0, 1}} above VALUE (JPEG masks: 127); auto: binarise two-level masks with "
        "in-between values (JPEG artefacts, antialiased alpha) with a notice, keep other labels; none: keep the "
        "values as they are",
    )
    parser.add_argument(
        "--label-values", type=float, nargs="+",
        help=f"the valid label values of {what}, e.g. 0 1 2 4; a label read with them is never auto-thresholded "
        "(default: the values found)",
    )
