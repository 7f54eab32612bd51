"""Helpers shared by the benchmark scripts: machine description, per-scale clocks, tables, the test image."""

from __future__ import annotations

import argparse
import itertools
import math
import os
import platform
import shlex
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from ignite.engine import Engine, Events
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils.flop_counter import flop_registry

from monai_singanseg.engines.trainer import SinGANSegTrainer
from monai_singanseg.layout import ChannelLayout
from monai_singanseg.settings import SinGANSegSettings

__all__ = ["ScaleClock", "add_image_arguments", "command_line", "counted_gflop", "describe_machine",
           "load_benchmark_pair", "markdown_table", "matmul_gflops", "our_gflop", "peak_memory_mib",
           "reset_peak_memory", "synchronize", "warm_up"]


def describe_machine(device: torch.device) -> str:
    """CPU model and cores, GPU name, torch and Python versions: enough to compare figures across runs."""
    cpu = platform.processor() or "unknown CPU"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        names = [line.split(":", 1)[1].strip() for line in cpuinfo.read_text().splitlines() if line.startswith("model name")]
        cpu = names[0] if names else cpu
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    parts = [f"CPU: {cpu}, {cores} cores available, torch threads {torch.get_num_threads()}"]
    if device.type == "cuda":
        props = torch.cuda.get_device_properties(device)
        parts.append(f"GPU: {props.name}, {props.total_memory / 2**30:.0f} GiB, CUDA {torch.version.cuda}, "
                     f"cuDNN {torch.backends.cudnn.version()}")
    parts.append(f"torch {torch.__version__}, Python {platform.python_version()}, {platform.system()} {platform.machine()}")
    return "\n".join(parts)


def command_line() -> str:
    """The command that produced the figures, to paste back."""
    return shlex.join(["python", *sys.argv])


def synchronize(device: torch.device) -> None:
    """Wait for queued GPU work, so a clock reading covers it."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def warm_up(device: torch.device) -> None:
    """One convolution forward and backward, so neither side pays the device's start-up cost in its first scale."""
    conv = torch.nn.Conv2d(4, 32, 3).to(device)
    conv(torch.randn(1, 4, 64, 64, device=device)).sum().backward()
    synchronize(device)


def reset_peak_memory(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)


def peak_memory_mib(device: torch.device) -> float | None:
    """Peak GPU memory allocated by tensors since :func:`reset_peak_memory`; ``None`` on CPU."""
    return torch.cuda.max_memory_allocated(device) / 2**20 if device.type == "cuda" else None


class ScaleClock:
    """Wall time of every scale of a :class:`SinGANSegTrainer` engine (one epoch per scale).

    Scale ``k`` runs from the end of scale ``k - 1`` (for scale 0: the engine's start) to its own end, so the
    per-scale set-up (new networks, optimisers, the coarser reconstruction) and finish count, as they do in the
    reference's loop. Registered after the trainer's own handlers, so its scale has finished when the clock reads.

    Args:
        device: synchronised before every reading.
        last_scale: stop the engine after this scale (``None``: train every scale).
    """

    def __init__(self, device: torch.device, last_scale: int | None = None) -> None:
        self.device, self.last_scale = device, last_scale
        self.seconds: list[float] = []
        self._mark = 0.0

    def attach(self, engine: Engine) -> None:
        engine.add_event_handler(Events.STARTED, self._start)
        engine.add_event_handler(Events.EPOCH_COMPLETED, self._scale_done)

    def _start(self, engine: Engine) -> None:
        synchronize(self.device)
        self._mark = time.perf_counter()

    def _scale_done(self, engine: Engine) -> None:
        synchronize(self.device)
        now = time.perf_counter()
        self.seconds.append(now - self._mark)
        self._mark = now
        if self.last_scale is not None and len(self.seconds) > self.last_scale:
            engine.terminate()


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A Markdown table with aligned columns, readable in a terminal and pasteable into BENCHMARKS.md."""
    cells = [[str(h) for h in headers]] + [[str(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = ["| " + " | ".join(c.ljust(w) for c, w in zip(row, widths)) + " |" for row in cells]
    lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines)


def add_image_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--image", help="RGB image file (default: the built-in 332x487 endoscopy phantom)")
    parser.add_argument("--label", help="its binary mask file")
    parser.add_argument("--label-threshold", type=float, default=127, help="binarise the mask at this value")


def load_benchmark_pair(args: argparse.Namespace, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``(image, mask)``: ``(3, H, W)`` uint8 RGB and ``(1, H, W)`` uint8 mask in {0, 255}, from files or the phantom.

    The reference reads 8-bit RGBA PNGs only, so this is what both sides are given.

    Raises:
        ValueError: the image is not 8-bit RGB, or only one of ``--image`` and ``--label`` is given.
    """
    from monai_singanseg.data.io import load_training_pair
    from monai_singanseg.data.phantom import endoscopy_phantom

    if args.image is None and args.label is None:
        return endoscopy_phantom(332, 487, seed=seed)
    if args.image is None or args.label is None:
        raise ValueError("give both --image and --label, or neither (then the built-in phantom is used).")
    image, label, _ = load_training_pair(args.image, args.label, args.label_threshold)
    image_np = np.asarray(image.as_tensor())
    if image_np.dtype != np.uint8 or image_np.shape[0] != 3:
        raise ValueError(f"--image must be an 8-bit RGB image (the reference reads only those), got "
                         f"{image_np.shape[0]} channels of {image_np.dtype}.")
    return image_np, (np.asarray(label.as_tensor()) > 0).astype(np.uint8) * 255


@torch.no_grad()
def matmul_gflops(device: torch.device, size: int = 4096, repeats: int = 5) -> float:
    """The device's float32 matrix-multiply rate, an upper bound for convolutions."""
    a, b = torch.randn(size, size, device=device), torch.randn(size, size, device=device)
    a @ b
    synchronize(device)
    start = time.perf_counter()
    for _ in range(repeats):
        a @ b
    synchronize(device)
    return 2 * size**3 * repeats / (time.perf_counter() - start) / 1e9


class _FlopCount(TorchDispatchMode):
    """Adds up torch's own FLOP formulas (matmuls, convolutions and their gradients) for every op that runs.

    ``FlopCounterMode`` would do it, but its module tracker refuses the penalty's ``autograd.grad`` (torch 2.13).
    """

    def __init__(self) -> None:
        super().__init__()
        self.flops = 0

    def __torch_dispatch__(self, func: Any, types: Any, args: tuple = (), kwargs: dict | None = None) -> Any:
        out = func(*args, **(kwargs or {}))
        formula = flop_registry.get(func._overloadpacket)
        if formula is not None:
            self.flops += formula(*args, **(kwargs or {}), out_val=out)
        return out


def counted_gflop(train: Callable[[], Any]) -> float:
    """Matmul and convolution work (forward, backward and the penalty's double backward) of ``train()``, in GFLOP."""
    with _FlopCount() as counter:
        train()
    return counter.flops / 1e9


def _gflop_per_scale(image: np.ndarray, mask: np.ndarray, settings: SinGANSegSettings, iterations: int) -> list[float]:
    """Work of each scale of a training with ``iterations`` at every scale."""
    layout = ChannelLayout.from_data(image, mask, settings.label_encoding)
    counted = replace(settings, iterations=iterations, finest_iterations=0)
    trainer = SinGANSegTrainer(layout.encode(image, mask), layout, counted)
    marks = [0.0]
    with _FlopCount() as counter:
        trainer.engine.add_event_handler(Events.EPOCH_COMPLETED, lambda _: marks.append(counter.flops / 1e9))
        trainer.run()
    return [b - a for a, b in itertools.pairwise(marks)]


def extrapolate_work(short: float, long: float, short_iterations: int, long_iterations: int, iterations: int) -> float:
    """Work of a training of ``iterations`` from two shorter ones: their difference is the work per iteration, the
    rest is work done once (set-up, the coarser scales' reconstruction, a final BatchNorm pass)."""
    per_iteration = (long - short) / (long_iterations - short_iterations)
    return short + per_iteration * (iterations - short_iterations)


def our_gflop(image: np.ndarray, mask: np.ndarray, settings: SinGANSegSettings) -> float:
    """Work of one model, each scale extrapolated from two short trainings, of one period and of two.

    A period is 2 iterations, or one whole cycle of a lazy gradient penalty and a lazy reconstruction when that is
    longer.
    """
    penalty_period = math.lcm(settings.gradient_penalty_interval, settings.critic_steps) // settings.critic_steps
    reconstruction_period = (math.lcm(settings.reconstruction_interval, settings.generator_steps)
                             // settings.generator_steps)
    period = max(2, math.lcm(penalty_period, reconstruction_period))
    once = _gflop_per_scale(image, mask, settings, period)
    twice = _gflop_per_scale(image, mask, settings, 2 * period)
    schedule = settings.iterations_per_scale(len(once))
    return sum(extrapolate_work(a, b, period, 2 * period, n) for a, b, n in zip(once, twice, schedule))
