"""``monai-singanseg generate``: a synthetic dataset from a bank of pyramids, with a MONAI datalist and a grid."""

from __future__ import annotations

import argparse

from monai_singanseg.data.bank import SinGANSegBank
from monai_singanseg.data.synthetic_dataset import generate_dataset
from monai_singanseg.settings import available_device

__all__ = ["add_parser", "run"]


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "generate",
        help="write a synthetic dataset from a folder of trained pyramids",
        description="Sample every pyramid of a bank into a synthetic dataset: one folder per model (PNG pairs for "
        "photographs, NIfTI for volumes), a MONAI datalist.json of all pairs, and grid.png. Resumable: models "
        "whose folders are complete and whose checkpoint is unchanged (same SHA-256) are skipped, models retrained "
        "since are sampled again. A folder holding anything else is refused unless --overwrite.",
    )
    parser.add_argument("--bank", required=True, help="folder of pyramid checkpoints (*.pt)")
    parser.add_argument("--per-model", type=int, required=True, help="synthetic pairs per model")
    parser.add_argument("--start-scale", type=int, default=0, help="first scale with fresh noise: 0 gives the most "
                        "varied samples, higher values stay closer to the training image (default: 0)")
    parser.add_argument("--seed", type=int, default=0, help="noise seed; the same seed gives the same dataset")
    parser.add_argument("--device", default="cpu", help="torch device (default: cpu)")
    parser.add_argument("--out", required=True, help="output folder")
    parser.add_argument("--overwrite", action="store_true", help="replace the output of another run in --out (its "
                        "datalist, grid and model folders; other files are kept) instead of refusing it")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    available_device(args.device, "--device")
    bank = SinGANSegBank(args.bank, device=args.device)
    summary = generate_dataset(bank, args.out, args.per_model, args.start_scale, args.seed, args.device,
                               progress=not args.quiet, overwrite=args.overwrite)
    retrained = f", {len(summary.replaced)} of them retrained since the last run" if summary.replaced else ""
    print(f"sampled {len(summary.generated)} models{retrained}, kept {len(summary.skipped)} already complete; "
          f"{summary.num_pairs} pairs of {len(bank)} models listed in {summary.datalist}, overview in {summary.grid}")
    return 0
