"""``monai-singanseg train-many``: one pyramid per image of a dataset, into a bank folder."""

from __future__ import annotations

import argparse

from monai_singanseg.cli.label_args import add_label_arguments
from monai_singanseg.cli.settings_args import add_settings_arguments, settings_from_arguments
from monai_singanseg.engines.fleet import launch, summary_path

__all__ = ["DESCRIPTION", "add_arguments", "add_parser", "run"]

DESCRIPTION = (
    "Train one SinGAN-Seg pyramid per image of a dataset into a bank folder of <image_id>.pt checkpoints. Running "
    "the same command again skips finished pyramids and resumes half-trained ones. Each image trains with its own "
    "seed, derived from --seed and its id. On several GPUs: torchrun --nproc_per_node N -m monai_singanseg "
    "train-many ... --device cuda (each rank trains every N-th image)."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The command's flags (``monai-singanseg train-many``, ``python -m monai_singanseg train-many``)."""
    parser.add_argument("--data", required=True, help="a folder with images/ and masks/ (Kvasir-SEG layout, masks "
                        "matched by name stem) or a MONAI datalist JSON with image and label entries")
    parser.add_argument("--out", required=True, help="bank folder to write <image_id>.pt pyramids into")
    parser.add_argument("--models-per-batch", type=int, default=1, metavar="M",
                        help="train up to M models with the same pyramid shapes at once (default: 1, one by one, "
                        "checkpointed after every scale; larger M saves each batch when it completes)")
    add_label_arguments(parser, "every mask")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    add_settings_arguments(parser)


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("train-many", help="train one pyramid per image of a dataset into a bank",
                                   description=DESCRIPTION)
    add_arguments(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Train this rank's share of ``--data`` into ``--out``; 1 when rank 0 finds pyramids still missing."""
    settings = settings_from_arguments(args)
    summary = launch(args.data, args.out, settings, args.models_per_batch, args.label_threshold,
                     label_values=args.label_values, progress=not args.quiet)
    rank = summary["rank"]
    print(f"rank {rank}: trained {len(summary['trained'])} and skipped {len(summary['skipped'])} finished of "
          f"{len(summary['shard'])} images; summary in {summary_path(args.out, rank)}")
    if summary.get("bank_missing"):
        print(f"bank {args.out} still lacks {len(summary['bank_missing'])} pyramids: run the command again.")
        return 1
    return 0
