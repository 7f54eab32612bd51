"""``monai-singanseg sample``: synthetic image+label pairs from a trained pyramid, and a PNG grid of them."""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from monai_singanseg.data.sample_writer import sample_to_folder

__all__ = ["add_parser", "run"]


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "sample",
        help="sample synthetic image+label pairs from a trained pyramid",
        description="Sample synthetic image+label pairs; files are written in the training input's format "
        "(PNG for photos, NIfTI for volumes), with grid.png showing the samples and their label overlays.",
    )
    parser.add_argument("--model", required=True, help="pyramid checkpoint written by 'monai-singanseg train'")
    parser.add_argument("--num-samples", type=int, default=10, help="how many pairs (default: 10, the paper's)")
    parser.add_argument("--start-scale", type=int, default=0, help="first scale with fresh noise: 0 gives the most "
                        "varied samples, higher values stay closer to the training image (default: 0)")
    parser.add_argument("--seed", type=int, default=0, help="noise seed; the same seed gives the same samples")
    parser.add_argument("--output-shape", type=int, nargs="+", help="spatial shape of the samples (default: the "
                        "training shape); needs --start-scale 0")
    parser.add_argument("--device", default="cpu", help="torch device (default: cpu)")
    parser.add_argument("--out", required=True, help="output folder")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    paths = sample_to_folder(
        args.model, args.out, num_samples=args.num_samples, start_scale=args.start_scale, seed=args.seed,
        output_shape=args.output_shape, device=torch.device(args.device),
    )
    print(f"wrote {len(paths)} pairs and {Path(args.out) / 'grid.png'}")
    return 0
