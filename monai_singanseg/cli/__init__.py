"""``monai-singanseg`` (or ``python -m monai_singanseg``): train, sample, and more; each subcommand lives in its own
module."""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
import warnings
from collections.abc import Sequence

__all__ = ["DefaultsHelpFormatter", "build_parser", "main"]

# Subcommand modules, each with add_parser(subparsers) and run(args) -> int.
_COMMANDS = ("train", "sample", "demo", "generate", "train_many", "style", "evaluate", "convert_reference")


class DefaultsHelpFormatter(argparse.HelpFormatter):
    """Every option's help ends with its default, unless the help says it already or there is none to show."""

    def _get_help_string(self, action: argparse.Action) -> str:
        help_text = action.help or ""
        hidden = action.default in (None, False, argparse.SUPPRESS) or action.required or not action.option_strings
        if hidden or "default" in help_text:
            return help_text
        return f"{help_text} (default: %(default)s)"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="monai-singanseg",
        description="SinGAN-Seg for MONAI: train a GAN pyramid on one image and its label map, then sample "
        "synthetic image+label pairs.",
    )
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in _COMMANDS:
        try:
            module = importlib.import_module(f"monai_singanseg.cli.{name}")
        except ModuleNotFoundError as err:
            if err.name == f"monai_singanseg.cli.{name}":
                continue
            raise
        module.add_parser(subparsers)
    for command in subparsers.choices.values():
        command.formatter_class = DefaultsHelpFormatter
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; user mistakes print one clear line and exit with status 2."""
    parser = build_parser()
    args = parser.parse_args(argv)
    # Our own progress messages at INFO; other libraries' INFO chatter (MONAI's optional-codec notices) stays quiet.
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(message)s"))
    package_logger = logging.getLogger("monai_singanseg")
    package_logger.addHandler(handler)
    package_logger.setLevel(logging.INFO)
    # PIL hands MONAI read-only arrays; torch warns once about them though nothing writes to them.
    warnings.filterwarnings("ignore", message="The given NumPy array is not writable")
    # MONAI announces at every load that an optional GPU DICOM codec is absent; it changes nothing for us.
    logging.getLogger("monai.data.nvimgcodec_pydicom_plugin").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", message="NvImgCodecPydicomReader")
    try:
        return int(args.run(args) or 0)
    except (ValueError, TypeError, FileNotFoundError) as err:
        print(f"monai-singanseg {args.command}: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"monai-singanseg {args.command}: interrupted; finished scales are kept in the checkpoint.", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
