"""The batched trainer against one-by-one training: seconds per model, models per hour and peak memory against M.

M phantom images of one size (so one pyramid shape) train together with ``train_batched`` for every M of
``--models-per-batch``; the first ``--baseline-models`` of them also train one by one with ``SinGANSegTrainer`` (what
``train_singanseg`` runs), timed per scale. Models do not interact, so one-by-one time per model is the same for any
M; the ratio is one-by-one seconds per model over batched seconds per model (amortised). Each row also gives the
achieved GFLOP/s (convolution and matmul work per model, counted by torch's FLOP formulas, times M over the batch's
seconds) against the device's measured float32 matmul rate, the bound for this arithmetic.

Example (see benchmarks/README.md)::

    python benchmarks/bench_batched.py --device cuda --iterations 50 --models-per-batch 1 8 32 64

``--batched-conv loop`` (or ``gemm``) times another formulation of the batched convolutions (settings.batched_conv).
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from dataclasses import replace
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (  # noqa: E402
    ScaleClock, command_line, describe_machine, markdown_table, matmul_gflops, our_gflop, peak_memory_mib,
    reset_peak_memory, synchronize, warm_up,
)

from monai_singanseg.cli.settings_args import add_settings_arguments, settings_from_arguments  # noqa: E402
from monai_singanseg.data.phantom import endoscopy_phantom  # noqa: E402
from monai_singanseg.engines.trainer import SinGANSegTrainer  # noqa: E402
from monai_singanseg.layout import ChannelLayout  # noqa: E402


def _peak(device: torch.device) -> str:
    gpu = peak_memory_mib(device)
    if gpu is not None:
        return f"{gpu:.0f} MiB GPU"
    # On CPU only the process's peak resident set is known: it includes the baseline and smaller M before it.
    return f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB RSS (process)"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models-per-batch", type=int, nargs="+", default=[1, 4], metavar="M",
                        help="batch sizes to time (default: 1 4)")
    parser.add_argument("--baseline-models", type=int, default=2, help="models trained one by one (default: 2)")
    parser.add_argument("--height", type=int, default=332,
                        help="phantom height (default: 332, as in docs/reference_algorithm.md)")
    parser.add_argument("--width", type=int, default=487, help="phantom width (default: 487)")
    parser.add_argument("--full-iterations", type=int, default=2000, help="iterations per scale to estimate a model")
    parser.add_argument("--threads", type=int, help="torch CPU threads (default: torch's own choice)")
    add_settings_arguments(parser)
    args = parser.parse_args()
    if min(args.models_per_batch) < 1 or args.baseline_models < 1:
        parser.error("--models-per-batch and --baseline-models must be at least 1.")
    try:
        from monai_singanseg.engines import train_batched
    except ImportError as err:
        print(f"error: the batched trainer is not available ({err}); this benchmark needs "
              "monai_singanseg.engines.train_batched.", file=sys.stderr)
        return 2
    if args.threads:
        torch.set_num_threads(args.threads)
    settings = settings_from_arguments(args, iterations=20)
    device = torch.device(settings.device)
    print(describe_machine(device))
    print(f"command: {command_line()}")
    print(f"settings: {settings}")

    count = max(max(args.models_per_batch), args.baseline_models)
    pairs = [endoscopy_phantom(args.height, args.width, seed=m) for m in range(count)]
    layouts = [ChannelLayout.from_data(image, mask, settings.label_encoding) for image, mask in pairs]
    stacks = [layout.encode(image, mask) for layout, (image, mask) in zip(layouts, pairs)]
    seeds = [settings.seed + m for m in range(count)]
    # Untimed: a one-iteration run of each path pays the first-call costs (lazy imports, kernel selection).
    warm_up(device)
    warm = SinGANSegTrainer(stacks[0], layouts[0], replace(settings, iterations=1))
    ScaleClock(device, last_scale=1).attach(warm.engine)
    warm.run()
    train_batched([p[0] for p in pairs[:2]], [p[1] for p in pairs[:2]], replace(settings, iterations=1), seeds[:2])

    peak = matmul_gflops(device)
    work = our_gflop(*pairs[0], settings)  # per model: the same for every M and formulation
    print(f"work per model {work:.1f} GFLOP; float32 matmul rate {peak:.0f} GFLOP/s")

    # 1. One by one, per scale.
    per_scale, shapes = [], []
    reset_peak_memory(device)
    for m in range(args.baseline_models):
        trainer = SinGANSegTrainer(stacks[m], layouts[m], replace(settings, seed=seeds[m]))
        clock = ScaleClock(device)
        clock.attach(trainer.engine)
        trainer.run()
        per_scale.append(clock.seconds)
        shapes = ["x".join(map(str, s)) for s in trainer.spec.scale_shapes]
    baseline_peak = _peak(device)
    scale_means = [sum(model[k] for model in per_scale) / len(per_scale) for k in range(len(shapes))]
    single = sum(scale_means)
    k = settings.iterations
    print(f"\nOne by one ({args.baseline_models} models, {k} iterations per scale, set-up included), peak "
          f"{baseline_peak}:")
    print(markdown_table(["scale", "shape", "s/it", "s/model at this scale"],
                         [[s, shapes[s], f"{t / k:.4f}", f"{t:.2f}"] for s, t in enumerate(scale_means)]))

    # 2. Batched, for every M.
    rows = []
    for num_models in args.models_per_batch:
        reset_peak_memory(device)
        synchronize(device)
        start = time.perf_counter()
        images, masks = [p[0] for p in pairs[:num_models]], [p[1] for p in pairs[:num_models]]
        models = train_batched(images, masks, settings, seeds=seeds[:num_models])
        synchronize(device)
        seconds = time.perf_counter() - start
        assert len(models) == num_models and all(model.is_complete for model in models)
        per_model = seconds / num_models
        rate = work / per_model
        rows.append([num_models, f"{seconds:.2f}", f"{per_model:.3f}", f"{3600 / per_model * k / args.full_iterations:.1f}",
                     f"{single / per_model:.2f}x", f"{rate:.1f} ({rate / peak:.0%})", _peak(device)])
        del models
    print(f"\nBatched vs one by one ({single:.3f} s per model one by one at {k} iterations per scale):")
    print(markdown_table(["M", "s per batch", "s per model", f"models/h at {args.full_iterations} it", "speed-up",
                          "GFLOP/s (of matmul rate)", "peak memory"], rows))
    best = min(float(row[2]) for row in rows)
    print(f"\nEstimated time per model at {args.full_iterations} iterations per scale: one by one "
          f"{single * args.full_iterations / k:.0f} s, batched (best M) {best * args.full_iterations / k:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
