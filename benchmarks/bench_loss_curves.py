"""Would a per-scale stopping rule save work? Train one pyramid, record its losses, and test when they settled.

A stopping rule ends a scale once its losses stop changing. The learning rate decays at ``lr_decay_fraction`` of a
scale, and the decayed iterations refine what came before, so a rule could at most move that decay earlier: the
iterations it could save at a scale are those between the point where the chosen losses (all of them) first settled
(:func:`monai_singanseg.utils.convergence.settled_iteration`, looked at before the decay only) and the decay.

Prints, per scale, the window means of each loss at the start, just before the decay and at the end, the iteration
at which each tolerance finds them settled, and the iterations a rule could save; writes a PNG of the curves.

Example (see benchmarks/README.md)::

    python benchmarks/bench_loss_curves.py --recipe draft --max-size 64 --threads 1 --chart losses.png
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import add_image_arguments, command_line, describe_machine, load_benchmark_pair, markdown_table  # noqa: E402

from monai_singanseg.cli.settings_args import add_settings_arguments, settings_from_arguments  # noqa: E402
from monai_singanseg.engines.trainer import SinGANSegTrainer  # noqa: E402
from monai_singanseg.handlers.loss_history import LossHistory  # noqa: E402
from monai_singanseg.layout import ChannelLayout  # noqa: E402
from monai_singanseg.settings import SinGANSegSettings  # noqa: E402
from monai_singanseg.utils.convergence import settled_iteration  # noqa: E402
from monai_singanseg.visualize.loss_chart import loss_curves_chart  # noqa: E402

# What ScaleTrainer.step returns.
LOSS_NAMES = ["critic", "gradient_penalty", "generator", "reconstruction"]


def record_losses(image: np.ndarray, mask: np.ndarray, settings: SinGANSegSettings) -> dict[int, dict[str, np.ndarray]]:
    """Train one pyramid on the pair; the loss curves of every scale."""
    layout = ChannelLayout.from_data(image, mask, settings.label_encoding)
    trainer = SinGANSegTrainer(layout.encode(image, mask), layout, settings)
    history = LossHistory()
    history.attach(trainer.engine)
    trainer.run()
    return history.curves


def savable_iterations(
    curves: dict[str, np.ndarray], losses: list[str], window: int, tolerance: float, decay_iteration: int
) -> tuple[int | None, int]:
    """When every loss in ``losses`` had settled before the decay (``None``: not all did), and what a rule saves."""
    settled = [settled_iteration(curves[name][:decay_iteration], window, tolerance) for name in losses]
    if any(s is None for s in settled):
        return None, 0
    at = max(settled)
    return at, decay_iteration - at


def report(curves: dict[int, dict[str, np.ndarray]], settings: SinGANSegSettings, losses: list[str], window: int,
           tolerances: list[float]) -> str:
    """The per-scale table and the total a stopping rule could save."""
    headers = ["scale", "iterations", "decay at"]
    for name in losses:
        headers += [f"{name}: first / before decay / last window"]
    headers += [f"settled (tol {t:g}) / savable" for t in tolerances]
    rows, saved, total = [], dict.fromkeys(tolerances, 0), 0
    for scale, scale_curves in sorted(curves.items()):
        iterations = len(scale_curves[losses[0]])
        decay = settings.lr_decay_iteration_of(iterations)
        total += iterations
        row: list[object] = [scale, iterations, decay]
        for name in losses:
            values = scale_curves[name]
            before = values[max(decay - window, 0):decay]
            row.append(f"{values[:window].mean():.4g} / {before.mean():.4g} / {values[-window:].mean():.4g}")
        for tolerance in tolerances:
            at, savable = savable_iterations(scale_curves, losses, window, tolerance, decay)
            saved[tolerance] += savable
            row.append(f"{'never' if at is None else at} / {savable}")
        rows.append(row)
    lines = [markdown_table(headers, rows), ""]
    lines += [f"tolerance {t:g}: a stopping rule could save {saved[t]} of {total} iterations "
              f"({100 * saved[t] / max(total, 1):.0f} %)" for t in tolerances]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_image_arguments(parser)
    parser.add_argument("--threads", type=int, help="torch CPU threads (default: torch's own choice)")
    parser.add_argument("--losses", nargs="+", default=["reconstruction", "critic"], choices=LOSS_NAMES,
                        help="losses that must all have settled")
    parser.add_argument("--window", type=int, default=50, help="iterations per window of the settling test")
    parser.add_argument("--tolerance", type=float, nargs="+", default=[0.01, 0.02, 0.05],
                        help="largest relative change of a window mean that counts as settled")
    parser.add_argument("--chart", help="write the loss curves to this PNG")
    add_settings_arguments(parser)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.window < 1 or any(t < 0 for t in args.tolerance):
        parser.error("--window must be at least 1 and every --tolerance at least 0.")
    settings = settings_from_arguments(args)
    image, mask = load_benchmark_pair(args)
    print(describe_machine(torch.device(settings.device)))
    print(f"command: {command_line()}")
    print(f"image {image.shape[1]}x{image.shape[2]} + mask, settings: {settings}", flush=True)
    start = time.perf_counter()
    curves = record_losses(image, mask, settings)
    print(f"trained in {time.perf_counter() - start:.0f} s\n")
    print(report(curves, settings, args.losses, args.window, args.tolerance))
    if args.chart:
        loss_curves_chart(curves).save(args.chart)
        print(f"chart: {args.chart}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
