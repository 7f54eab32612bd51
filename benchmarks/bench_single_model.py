"""Ours against the reference (``singan-seg-polyp`` 1.0.7) on one image: time per iteration at every scale.

Both sides train the same 4-channel stack (RGB + mask) with the same settings for ``--iterations`` iterations per
scale, in one process, one after the other; the table gives seconds per iteration and the ratio at every scale,
the estimate per model at ``--full-iterations``, and, when every scale was trained, the finest-scale reconstruction
error of both (meaningful only at full iteration counts).

The reference is imported from an unzipped wheel (``--reference-path``) and driven by :func:`train_reference`, the
loop of its ``training.train`` with its own ``init_models`` and ``train_single_scale``, run in a temporary folder
because it writes PNGs and pickles into ``TrainedModels/``. It needs scikit-image, matplotlib, scipy, scikit-learn.

Example (see benchmarks/README.md)::

    python benchmarks/bench_single_model.py --reference-path /tmp/ref/src --device cuda --iterations 100
"""

from __future__ import annotations

import argparse
import contextlib
import io
import math
import os
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (  # noqa: E402
    ScaleClock, add_image_arguments, command_line, counted_gflop, describe_machine, load_benchmark_pair,
    markdown_table, matmul_gflops, peak_memory_mib, reset_peak_memory, synchronize, warm_up,
)

from monai_singanseg.cli.settings_args import add_settings_arguments, settings_from_arguments  # noqa: E402
from monai_singanseg.engines.trainer import SinGANSegTrainer  # noqa: E402
from monai_singanseg.settings import SinGANSegSettings  # noqa: E402
from monai_singanseg.layout import ChannelLayout  # noqa: E402
from monai_singanseg.utils.pyramid import compute_pyramid, iterations_per_scale  # noqa: E402


@contextlib.contextmanager
def _inside(folder: str) -> Iterator[None]:
    # contextlib.chdir needs Python 3.11; the GPU machine may run 3.10.
    previous = os.getcwd()
    os.chdir(folder)
    try:
        yield
    finally:
        os.chdir(previous)


def train_ours(image: np.ndarray, mask: np.ndarray, settings: SinGANSegSettings, last_scale: int | None) -> dict[str, Any]:
    """Our trainer on the stack; per-scale seconds, scale shapes, finest reconstruction MSE (all scales only)."""
    device = torch.device(settings.device)
    layout = ChannelLayout.from_data(image, mask, settings.label_encoding)
    trainer = SinGANSegTrainer(layout.encode(image, mask), layout, settings)
    clock = ScaleClock(device, last_scale)
    clock.attach(trainer.engine)
    reset_peak_memory(device)
    model = trainer.run()
    result = {"seconds": clock.seconds, "shapes": [tuple(s) for s in trainer.spec.scale_shapes],
              "peak_mib": peak_memory_mib(device), "reconstruction_mse": None}
    if model.is_complete:
        result["reconstruction_mse"] = float(torch.mean((model.reconstruct() - trainer.reals[-1]) ** 2))
    return result


def _reference_options(reference: dict[str, Any], settings: SinGANSegSettings, folder: str) -> Any:
    """The reference's ``opt``: its own defaults from ``config.get_arguments()``, with our settings mapped onto it."""
    opt = reference["config"].get_arguments().parse_args([])
    device = torch.device(settings.device)
    values = {
        "mode": "train", "input_dir": folder, "input_name": "benchmark.png", "nc_im": 4, "nc_z": 4,
        "not_cuda": device.type != "cuda", "manualSeed": settings.seed, "niter": settings.iterations,
        "min_size": settings.min_size, "max_size": settings.max_size, "scale_factor": settings.scale_factor,
        "num_layer": settings.num_layers, "ker_size": settings.kernel_size, "nfc": settings.base_features,
        "min_nfc": settings.base_features, "lr_g": settings.lr_generator, "lr_d": settings.lr_critic,
        "beta1": settings.beta1, "gamma": settings.lr_decay, "Dsteps": settings.critic_steps,
        "lambda_grad": settings.gradient_penalty_weight, "alpha": settings.reconstruction_weight,
        "noise_amp": settings.noise_amplitude_factor,
    }
    # Gsteps stays at the reference's 3: its loop runs three generator passes for one update
    # (docs/reference_algorithm.md, "The generator-step quirk").
    for name, value in values.items():
        setattr(opt, name, value)
    return reference["functions"].post_config(opt)


@torch.no_grad()
def _reference_reconstruction(reference: dict[str, Any], gs: list, zs: list, amps: list, reals: list, opt: Any) -> float:
    """Finest-scale reconstruction MSE of the reference pyramid: its ``draw_concat(..., 'rec')`` run to the end."""
    pad = torch.nn.ZeroPad2d(int(((opt.ker_size - 1) * opt.num_layer) / 2))
    x = torch.zeros_like(reals[0])
    for k, (generator, z, amplitude) in enumerate(zip(gs, zs, amps)):
        if k > 0:
            x = reference["imresize"](x, 1 / opt.scale_factor, opt)[:, :, : reals[k].shape[2], : reals[k].shape[3]]
        padded = pad(x)
        x = generator(amplitude * z + padded, padded)
    return float(torch.mean((x - reals[len(gs) - 1]) ** 2))


def train_reference(
    reference: dict[str, Any], image: np.ndarray, mask: np.ndarray, settings: SinGANSegSettings, last_scale: int | None,
    keep_run: str | os.PathLike | None = None,
) -> dict[str, Any]:
    """The reference's ``training.train`` loop, scale by scale, timed like ours (see ``ScaleClock``).

    ``keep_run``: a folder that receives the trained run as the reference's ``training.train`` saves it
    (``Gs.pth``, ``Zs.pth``, ``NoiseAmp.pth``, ``reals.pth``), for ``convert_reference_run``; saved after timing.
    """
    functions, training = reference["functions"], reference["training"]
    device = torch.device(settings.device)
    rgba = np.concatenate([image, mask], axis=0).transpose(1, 2, 0)
    with tempfile.TemporaryDirectory() as folder, _inside(folder), contextlib.redirect_stdout(io.StringIO()):
        opt = _reference_options(reference, settings, folder)
        # What its read_image does with an RGBA PNG, without the file round trip.
        real = functions.adjust_scales2image(functions.np2torch(rgba, opt), opt)
        reals = functions.creat_reals_pyramid(real, [], opt)
        gs, zs, amps, in_s, nfc_prev, seconds = [], [], [], 0, 0, []
        stop = opt.stop_scale if last_scale is None else min(last_scale, opt.stop_scale)
        reset_peak_memory(device)
        synchronize(device)
        mark = time.perf_counter()
        for scale in range(stop + 1):
            opt.nfc = min(opt.nfc_init * 2 ** (scale // 4), 128)
            opt.min_nfc = min(opt.min_nfc_init * 2 ** (scale // 4), 128)
            opt.out_ = functions.generate_dir2save(opt)
            opt.outf = f"{opt.out_}/{scale}"
            os.makedirs(opt.outf, exist_ok=True)
            netd, netg = training.init_models(opt)
            if nfc_prev == opt.nfc:
                netg.load_state_dict(torch.load(f"{opt.out_}/{scale - 1}/netG.pth"))
                netd.load_state_dict(torch.load(f"{opt.out_}/{scale - 1}/netD.pth"))
            z_curr, in_s, netg = training.train_single_scale(netd, netg, reals, gs, zs, in_s, amps, opt)
            netg = functions.reset_grads(netg, False).eval()
            functions.reset_grads(netd, False).eval()
            gs.append(netg)
            zs.append(z_curr)
            amps.append(opt.noise_amp)
            nfc_prev = opt.nfc
            synchronize(device)
            now = time.perf_counter()
            seconds.append(now - mark)
            mark = now
        complete = len(gs) == len(reals)
        if keep_run is not None:
            Path(keep_run).mkdir(parents=True, exist_ok=True)
            for name, value in (("Gs", gs), ("Zs", zs), ("NoiseAmp", amps), ("reals", reals)):
                torch.save(value, Path(keep_run) / f"{name}.pth")
        return {"seconds": seconds, "shapes": [tuple(r.shape[2:]) for r in reals], "peak_mib": peak_memory_mib(device),
                "reconstruction_mse": _reference_reconstruction(reference, gs, zs, amps, reals, opt) if complete else None}


def import_reference(path: str) -> dict[str, Any]:
    """The reference's modules from an unzipped ``singan-seg-polyp`` wheel.

    Raises:
        FileNotFoundError: ``path`` does not hold the ``singan_seg_polyp`` package.
    """
    if not (Path(path) / "singan_seg_polyp" / "SinGAN" / "training.py").exists():
        raise FileNotFoundError(f"--reference-path {path} does not hold singan_seg_polyp/SinGAN/training.py: unzip "
                                "the singan-seg-polyp 1.0.7 wheel there.")
    os.environ.setdefault("MPLBACKEND", "Agg")  # it imports pyplot at module level; no display here
    sys.path.insert(0, str(path))
    import singan_seg_polyp.config as config
    import singan_seg_polyp.SinGAN.functions as functions
    import singan_seg_polyp.SinGAN.training as training
    from singan_seg_polyp.SinGAN.imresize import imresize

    return {"config": config, "functions": functions, "training": training, "imresize": imresize}


def _format(value: float | None, digits: int = 4) -> str:
    return "n/a" if value is None or math.isnan(value) else f"{value:.{digits}f}"


def report(ours: dict[str, Any], ref: dict[str, Any] | None, scales: list[int], settings: SinGANSegSettings,
           full_iterations: int, full_finest_iterations: int = 0) -> None:
    k = settings.iterations
    # Iterations each scale trained for (fewer at the finer scales when settings.finest_iterations is set).
    trained = settings.iterations_per_scale(len(ours["shapes"]))
    rows = []
    for scale in scales:
        ours_it = ours["seconds"][scale] / trained[scale]
        ref_it = ref["seconds"][scale] / k if ref else None  # the reference trains k iterations at every scale
        shape = "x".join(map(str, ours["shapes"][scale]))
        rows.append([scale, shape, _format(ours_it), _format(ref_it), f"{ref_it / ours_it:.1f}x" if ref else "n/a"])
    ours_total = sum(ours["seconds"][s] for s in scales)
    ref_total = sum(ref["seconds"][s] for s in scales) if ref else None
    done = sum(trained[s] for s in scales)
    rows.append(["mean", "", _format(ours_total / done), _format(ref_total / k / len(scales) if ref else None),
                 f"{ref_total / ours_total:.1f}x" if ref else "n/a"])
    print(f"\nSeconds per iteration ({k} iterations per scale, per-scale set-up included):")
    print(markdown_table(["scale", "shape", "ours s/it", "reference s/it", "speed-up"], rows))
    if len(scales) == len(ours["shapes"]):
        schedule = iterations_per_scale(full_iterations, full_finest_iterations, len(scales))
        ours_model = sum(ours["seconds"][s] / trained[s] * n for s, n in zip(scales, schedule))
        what = (f"{full_iterations} iterations per scale" if len(set(schedule)) == 1
                else f"iterations {' / '.join(map(str, schedule))} per scale")
        line = f"\nEstimated time per model at {what}: ours {ours_model:.0f} s"
        if ref:
            ref_model = sum(ref["seconds"][s] / k * n for s, n in zip(scales, schedule))
            line += f", reference {ref_model:.0f} s ({ref_model / ours_model:.1f}x)"
        print(line)
    print(f"Finest-scale reconstruction MSE (comparable at full iteration counts only): ours "
          f"{_format(ours['reconstruction_mse'], 5)}, reference {_format(ref and ref['reconstruction_mse'], 5)}")
    if ours["peak_mib"] is not None:
        print(f"Peak GPU memory: ours {ours['peak_mib']:.0f} MiB, reference {_format(ref and ref['peak_mib'], 0)} MiB")


def report_work(image: np.ndarray, mask: np.ndarray, settings: SinGANSegSettings, reference: dict[str, Any] | None,
                last_scale: int, ours: dict[str, Any], ref: dict[str, Any] | None) -> None:
    """Work per iteration on both sides and the speed-up it allows: a bound on what any implementation can gain."""
    short = replace(settings, iterations=2)
    rows = [["ours", counted_gflop(lambda: train_ours(image, mask, short, last_scale)), sum(ours["seconds"])]]
    if reference is not None and ref is not None:
        rows.append(["reference", counted_gflop(lambda: train_reference(reference, image, mask, short, last_scale)),
                     sum(ref["seconds"])])
    peak = matmul_gflops(torch.device(settings.device))
    iterations = settings.iterations
    print(f"\nWork per iteration, all scales (counted over 2 iterations per scale, per-scale set-up included); "
          f"float32 matmul rate {peak:.0f} GFLOP/s:")
    print(markdown_table(["side", "GFLOP per iteration", "GFLOP/s achieved"],
                         [[name, f"{work / 2:.1f}", f"{work / 2 * iterations / seconds:.0f}"]
                          for name, work, seconds in rows]))
    if len(rows) == 2:
        ratio = rows[1][1] / rows[0][1]
        print(f"The reference does {ratio:.2f}x our work per iteration: at equal arithmetic rates that is the speed-up.")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reference-path", help="unzipped singan-seg-polyp 1.0.7 wheel (omit: time ours only)")
    parser.add_argument("--scales", type=int, nargs="+", help="report only these scales (training stops after the "
                        "last one; the scales below it still train --iterations iterations)")
    parser.add_argument("--full-iterations", type=int, help="iterations per scale (at the coarsest, with "
                        "--full-finest-iterations) to estimate a model; default: the --recipe's (faithful: 2000)")
    parser.add_argument("--full-finest-iterations", type=int, help="the estimate's finest-scale iterations, "
                        "geometric from --full-iterations at the coarsest (0: --full-iterations everywhere); default: "
                        "the --recipe's")
    parser.add_argument("--threads", type=int, help="torch CPU threads (default: torch's own choice)")
    parser.add_argument("--count-flops", action="store_true", help="also count both sides' matmul and convolution "
                        "work (untimed runs of 2 iterations per scale) and print the speed-up that work allows")
    add_image_arguments(parser)
    add_settings_arguments(parser)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    # The estimate follows the recipe's schedule unless told otherwise. The timed runs train --iterations (20 unless
    # given) at every scale: a recipe's 1000, or its 250 at the finest scale, would not fit a short timing.
    schedule = SinGANSegSettings.from_recipe(args.recipe or "faithful")
    full_iterations = schedule.iterations if args.full_iterations is None else args.full_iterations
    full_finest = schedule.finest_iterations if args.full_finest_iterations is None else args.full_finest_iterations
    for name, timed in (("iterations", 20), ("finest_iterations", 0)):
        if getattr(args, name) is None:  # as if given, so a recipe's value does not replace it
            setattr(args, name, timed)
    settings = settings_from_arguments(args)
    device = torch.device(settings.device)
    print(describe_machine(device))
    print(f"command: {command_line()}")
    image, mask = load_benchmark_pair(args)
    print(f"image {image.shape[1]}x{image.shape[2]} + mask, settings: {settings}")
    num_scales = compute_pyramid(image.shape[1:], settings.min_size, settings.max_size, settings.scale_factor).num_scales
    if args.scales and not all(0 <= s < num_scales for s in args.scales):
        parser.error(f"--scales must lie in 0..{num_scales - 1} for this image and settings.")
    scales = sorted(set(args.scales)) if args.scales else list(range(num_scales))
    reference = import_reference(args.reference_path) if args.reference_path else None
    last_scale = max(scales)

    # Untimed: one iteration of two scales on each side pays the first-call costs (lazy imports, kernel selection).
    warm_up(device)
    train_ours(image, mask, replace(settings, iterations=1), last_scale=1)
    if reference:
        train_reference(reference, image, mask, replace(settings, iterations=1), last_scale=1)
    ours = train_ours(image, mask, settings, last_scale)
    ref = train_reference(reference, image, mask, settings, last_scale) if reference else None
    if ref and ref["shapes"] != ours["shapes"]:
        print(f"warning: pyramid shapes differ: ours {ours['shapes']}, reference {ref['shapes']}")
    report(ours, ref, scales, settings, full_iterations, full_finest)
    if args.count_flops:
        report_work(image, mask, settings, reference, last_scale, ours, ref)
    return 0


if __name__ == "__main__":
    sys.exit(main())
