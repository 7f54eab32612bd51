"""``monai-singanseg evaluate``: write the fidelity, diversity and privacy report of a synthetic set."""

from __future__ import annotations

import argparse
from pathlib import Path

from monai_singanseg.evaluation.comparison import build_comparison_report
from monai_singanseg.evaluation.perceptual import PerceptualNetworks
from monai_singanseg.evaluation.report import build_report
from monai_singanseg.evaluation.verdicts import ReportThresholds

__all__ = ["add_parser", "run"]


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Register the ``evaluate`` command; its handler is stored as ``run`` in the parsed namespace.

    Args:
        subparsers: the object returned by ``ArgumentParser.add_subparsers()``.

    Returns:
        The ``evaluate`` parser.

    Example::

        >>> parser = argparse.ArgumentParser(prog="monai-singanseg")
        >>> _ = add_parser(parser.add_subparsers(dest="command"))
        >>> parser.parse_args(["evaluate", "--real", "r.json", "--synthetic", "s.json", "--out", "o"]).size
        128
    """
    parser = subparsers.add_parser(
        "evaluate",
        help="report whether a synthetic image+mask set is faithful, diverse and safe to share",
        description=(
            "Compare a synthetic datalist with the real one it was trained on and write REPORT_DIR with "
            "metrics.json, report.md and PNG figures. Datalists are MONAI JSON files "
            '{"training": [{"image": ..., "label": ...}]}. With several synthetic datalists, REPORT_DIR holds one '
            "report folder per set and comparison.md, a table that ranks them."
        ),
    )
    defaults = ReportThresholds()
    parser.add_argument("--real", required=True, type=Path, metavar="DATALIST", help="datalist of the real pairs")
    parser.add_argument(
        "--synthetic", required=True, type=Path, nargs="+", metavar="DATALIST",
        help="datalist(s) of the synthetic pairs; several are compared in one report",
    )
    parser.add_argument("--out", required=True, type=Path, metavar="REPORT_DIR", help="report folder to write")
    parser.add_argument("--size", type=int, default=128, help="common comparison size in pixels (default 128)")
    parser.add_argument(
        "--copy-threshold",
        type=float,
        default=defaults.copy_ncc,
        help=f"correlation at which a synthetic image counts as a copy of a real one (default {defaults.copy_ncc})",
    )
    parser.add_argument(
        "--fidelity-alpha",
        type=float,
        default=defaults.fidelity_alpha,
        help="largest chance that a set drawn like the real one is called unfaithful, split over the exact image "
        f"and mask tests (default {defaults.fidelity_alpha})",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the random patch choices (default 0)")
    parser.add_argument("--key", default="training", help="datalist key holding the entries (default training)")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bars")
    perceptual = parser.add_argument_group(
        "perceptual scores", "optional, with network weights you supply (nothing is downloaded); a path implies "
        "its score, and a score without a path reads the file from $TORCH_HOME/hub/checkpoints"
    )
    perceptual.add_argument("--sifid", action="store_true", help="add SIFID (SinGAN) of every synthetic image")
    perceptual.add_argument("--inception-weights", type=Path, metavar="FILE",
                            help="torchvision's inception_v3_google-0cc3c7bd.pth (or pytorch-fid's pt_inception file)")
    perceptual.add_argument("--lpips", action="store_true", help="add LPIPS to the real image and between samples")
    perceptual.add_argument("--alexnet-weights", type=Path, metavar="FILE",
                            help="torchvision's alexnet-owt-7be5be79.pth")
    perceptual.add_argument("--lpips-weights", type=Path, metavar="FILE",
                            help="the lpips package's weights/v0.1/alex.pth")
    parser.set_defaults(run=run)
    return parser


def run(args: argparse.Namespace) -> int:
    """Build the report described by the parsed ``evaluate`` arguments.

    Args:
        args: namespace from the ``evaluate`` parser.

    Returns:
        0 once the report folder is written.

    Raises:
        FileNotFoundError: naming the datalist, image or mask that does not exist.
        ValueError: naming the file that cannot be read, or the invalid option.

    Example::

        >>> run(argparse.Namespace(real=Path("r.json"), synthetic=Path("s.json"), out=Path("o")))  # doctest: +SKIP
        0
    """
    copy_threshold = getattr(args, "copy_threshold", ReportThresholds().copy_ncc)
    if not 0.0 < copy_threshold <= 1.0:
        raise ValueError(f"--copy-threshold must be in (0, 1], got {copy_threshold}.")
    fidelity_alpha = getattr(args, "fidelity_alpha", ReportThresholds().fidelity_alpha)
    if not 0.0 < fidelity_alpha < 1.0:
        raise ValueError(f"--fidelity-alpha must be in (0, 1), got {fidelity_alpha}.")
    size = getattr(args, "size", 128)
    if size < 16:
        raise ValueError(f"--size must be at least 16 pixels (the SWD pyramid needs it), got {size}.")
    synthetic = args.synthetic if isinstance(args.synthetic, (list, tuple)) else [args.synthetic]
    for option, path in (("--real", args.real), *(("--synthetic", s) for s in synthetic)):
        if not Path(path).is_file():
            raise FileNotFoundError(f"{option} datalist '{path}' does not exist.")
    options = {
        "size": size,
        "thresholds": ReportThresholds(copy_ncc=copy_threshold, fidelity_alpha=fidelity_alpha),
        "seed": getattr(args, "seed", 0),
        "data_list_key": getattr(args, "key", "training"),
        "progress": not getattr(args, "no_progress", False),
    }
    inception, alexnet, calibration = (getattr(args, name, None) for name in
                                       ("inception_weights", "alexnet_weights", "lpips_weights"))
    want_sifid = getattr(args, "sifid", False) or inception is not None
    want_lpips = getattr(args, "lpips", False) or alexnet is not None or calibration is not None
    if want_sifid or want_lpips:
        options["perceptual"] = PerceptualNetworks.from_files(want_sifid, inception, want_lpips, alexnet, calibration)
    verdict_names = ("faithful", "diverse", "safe")
    if len(synthetic) == 1:
        metrics = build_report(args.real, synthetic[0], args.out, **options)
        verdict = ", ".join(f"{name} {metrics['verdict'][name]}" for name in verdict_names)
        print(f"report written to {Path(args.out) / 'report.md'}: {verdict}")
        return 0
    summary = build_comparison_report(args.real, synthetic, args.out, **options)
    print(f"comparison written to {Path(args.out) / 'comparison.md'}:")
    for row in summary["sets"]:
        print(f"  {row['set']}: " + ", ".join(f"{name} {row[name]}" for name in verdict_names))
    return 0
