"""``monai-singanseg generate``: a synthetic dataset from a bank of pyramids, with a MONAI datalist and a grid."""

from __future__ import annotations

import argparse

from monai_singanseg.data.bank import SinGANSegBank
from monai_singanseg.data.size_control import MATCH_REAL, SizeStrategy, as_size_control
from monai_singanseg.data.synthetic_dataset import generate_dataset, load_masks
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
    parser.add_argument("--per-model", type=int, help="synthetic pairs per model (required unless --masks)")
    parser.add_argument("--start-scale", type=int, default=0, help="first scale with fresh noise: 0 gives the most "
                        "varied samples, higher values stay closer to the training image (default: 0)")
    parser.add_argument("--seed", type=int, default=0, help="noise seed; the same seed gives the same dataset")
    parser.add_argument("--device", default="cpu", help="torch device (default: cpu)")
    parser.add_argument("--out", required=True, help="output folder")
    parser.add_argument("--overwrite", action="store_true", help="replace the output of another run in --out (its "
                        "datalist, grid and model folders; other files are kept) instead of refusing it")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    steer = parser.add_argument_group("steering", "lesion sizes on request, or one image per given mask")
    steer.add_argument("--share", metavar="{match_real,LOW:HIGH}", help="target foreground share of the masks: "
                       "match_real (each model's training share, or the shares of --real-masks) or a range such as "
                       "0.05:0.25; pairs are drawn again, at most --share-budget times, until they meet it, and "
                       "each datalist entry records what it took (size_control)")
    steer.add_argument("--real-masks", metavar="FOLDER", help="with --share match_real: masks whose foreground "
                       "shares are the target")
    steer.add_argument("--share-tolerance", type=float, default=0.02, help="half-width of the accepted window "
                       "around a drawn real share (default: 0.02)")
    steer.add_argument("--share-budget", type=int, default=4, help="attempts per pair at most (default: 4)")
    steer.add_argument("--share-strategy", choices=[str(s) for s in SizeStrategy], default="guide",
                       help="guide: stretch the lesion to the target and inject it; reject: only draw again "
                       "(default: guide)")
    steer.add_argument("--masks", metavar="FOLDER", help="one image per mask in FOLDER for every model "
                       "(mask-guided sampling; masks are resized to each model's shape, two-level masks binarised)")
    steer.add_argument("--inject-scale", type=int, help="with --masks: the scale the masks enter (1 .. scales - 1; "
                       "finer keeps the mask better, coarser gives more natural images)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    available_device(args.device, "--device")
    if args.masks is not None and args.share is not None:
        raise ValueError("--masks and --share cannot be combined: a given mask fixes the lesion size.")
    if args.masks is None and args.per_model is None:
        raise ValueError("--per-model is required (unless --masks gives the masks to sample).")
    if args.masks is None and args.inject_scale is not None:
        raise ValueError("--inject-scale needs --masks.")
    if args.real_masks is not None and args.share != MATCH_REAL:
        raise ValueError("--real-masks needs --share match_real.")
    bank = SinGANSegBank(args.bank, device=args.device)
    size_control, masks = None, None
    if args.share is not None:
        real_shares = None
        if args.real_masks is not None:
            real = load_masks(args.real_masks)[1]
            # Two-level masks of any encoding: above the midpoint of each mask's levels is foreground.
            real_shares = [float((m > (m.min() + m.max()) / 2).double().mean()) if m.max() > m.min() else 0.0
                           for m in real]
        size_control = as_size_control(args.share, real_shares, args.share_tolerance, args.share_budget,
                                       args.share_strategy)
    if args.masks is not None:
        masks = load_masks(args.masks)[1]
    summary = generate_dataset(bank, args.out, args.per_model or 0, args.start_scale, args.seed, args.device,
                               progress=not args.quiet, overwrite=args.overwrite, size_control=size_control,
                               masks=masks, inject_scale=args.inject_scale)
    retrained = f", {len(summary.replaced)} of them retrained since the last run" if summary.replaced else ""
    print(f"sampled {len(summary.generated)} models{retrained}, kept {len(summary.skipped)} already complete; "
          f"{summary.num_pairs} pairs of {len(bank)} models listed in {summary.datalist}, overview in {summary.grid}")
    return 0
