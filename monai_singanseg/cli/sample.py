"""``monai-singanseg sample``: synthetic image+label pairs from a trained pyramid, and a PNG grid of them."""

from __future__ import annotations

import argparse
import secrets
from pathlib import Path


from monai_singanseg.data.sample_writer import sample_to_folder
from monai_singanseg.settings import available_device

__all__ = ["add_parser", "run"]

# Drawn seeds stay below 2**31 so they are short to retype and every sample's seed (utils.seeds.sample_seed)
# fits torch's 64-bit generator seed.
_SEED_BOUND = 2**31


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "sample",
        help="sample synthetic image+label pairs from a trained pyramid",
        description="Sample synthetic image+label pairs; files are written in the training input's format "
        "(PNG for photos, NIfTI for volumes), with grid.png showing the samples and their label overlays and "
        "datalist.json recording the checkpoint (by SHA-256), the seed and the settings. A folder holding other "
        "output is refused unless --overwrite.",
    )
    parser.add_argument("--model", required=True, help="pyramid checkpoint written by 'monai-singanseg train'")
    parser.add_argument("--num-samples", type=int, default=10, help="how many pairs (default: 10, the paper's)")
    parser.add_argument("--start-scale", type=int, default=0, help="first scale with fresh noise: 0 gives the most "
                        "varied samples, higher values stay closer to the training image (default: 0)")
    parser.add_argument("--seed", type=int, help="noise seed; the same seed gives the same samples (default: a "
                        "fresh seed, printed and recorded in datalist.json so the run can be repeated)")
    parser.add_argument("--output-shape", type=int, nargs="+", help="spatial shape of the samples (default: the "
                        "training shape); needs --start-scale 0")
    parser.add_argument("--device", default="cpu", help="torch device (default: cpu)")
    parser.add_argument("--out", required=True, help="output folder: missing, empty, or holding this very run")
    parser.add_argument("--overwrite", action="store_true", help="replace the earlier samples in --out (its pairs, "
                        "grid and datalist; other files are kept) instead of refusing the folder")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    seed = args.seed
    if seed is None:
        seed = secrets.randbelow(_SEED_BOUND)
        # Printed before sampling, so even an interrupted run can be repeated.
        print(f"seed {seed} (pass --seed {seed} to repeat these samples)", flush=True)
    paths = sample_to_folder(
        args.model, args.out, num_samples=args.num_samples, start_scale=args.start_scale, seed=seed,
        output_shape=args.output_shape, device=available_device(args.device, "--device"), overwrite=args.overwrite,
    )
    print(f"wrote {len(paths)} pairs (seed {seed}), {Path(args.out) / 'grid.png'} and "
          f"{Path(args.out) / 'datalist.json'}")
    return 0
