"""``monai-singanseg evaluate``: write the fidelity, diversity and privacy report of a synthetic set."""

from __future__ import annotations

import argparse
from pathlib import Path

from monai_singanseg.evaluation.report import ReportThresholds, build_report

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
            '{"training": [{"image": ..., "label": ...}]}.'
        ),
    )
    defaults = ReportThresholds()
    parser.add_argument("--real", required=True, type=Path, metavar="DATALIST", help="datalist of the real pairs")
    parser.add_argument(
        "--synthetic", required=True, type=Path, metavar="DATALIST", help="datalist of the synthetic pairs"
    )
    parser.add_argument("--out", required=True, type=Path, metavar="REPORT_DIR", help="report folder to write")
    parser.add_argument("--size", type=int, default=128, help="common comparison size in pixels (default 128)")
    parser.add_argument(
        "--copy-threshold",
        type=float,
        default=defaults.copy_ncc,
        help=f"correlation at which a synthetic image counts as a copy of a real one (default {defaults.copy_ncc})",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the random patch choices (default 0)")
    parser.add_argument("--key", default="training", help="datalist key holding the entries (default training)")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bars")
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
    size = getattr(args, "size", 128)
    if size < 16:
        raise ValueError(f"--size must be at least 16 pixels (the SWD pyramid needs it), got {size}.")
    for option, path in (("--real", args.real), ("--synthetic", args.synthetic)):
        if not Path(path).is_file():
            raise FileNotFoundError(f"{option} datalist '{path}' does not exist.")
    metrics = build_report(
        args.real,
        args.synthetic,
        args.out,
        size=size,
        thresholds=ReportThresholds(copy_ncc=copy_threshold),
        seed=getattr(args, "seed", 0),
        data_list_key=getattr(args, "key", "training"),
        progress=not getattr(args, "no_progress", False),
    )
    verdict = {name: metrics["verdict"][name] for name in ("faithful", "diverse", "safe")}
    print(f"report written to {Path(args.out) / 'report.md'}: " + ", ".join(f"{k} {v}" for k, v in verdict.items()))
    return 0
