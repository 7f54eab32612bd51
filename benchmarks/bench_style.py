"""Style transfer throughput: ours (batched, VGG built once) vs the reference's ``transfer_style``, side by side.

Both restyle the same ``--images`` synthetic images (phantoms, 171x250 like the reference's samples) from their
own real images (other phantoms) for ``--steps`` Adam steps with the paper's 1:1000 ratio. The reference builds
torchvision's VGG19 for every image and styles one image at a time; ours builds :class:`VGG19Features` once and
styles ``--batch`` images at once. Speed does not depend on the VGG's weights, and a benchmark machine may have no
internet, so both sides use randomly initialised VGG19 weights (the reference's ``pretrained=True`` is switched
off by wrapping torchvision's constructor).

The reference column needs torchvision and the unzipped ``singan-seg-polyp`` 1.0.7 wheel (``--reference-path``).

Each step is one VGG19 forward to the deepest loss layer and one backward to the pixels (no weight gradients), about
twice the forward's convolution work: the table prints that work and the device's float32 matmul rate, whose ratio
is the fastest a step can run on that device whatever the implementation.

Example::

    python benchmarks/bench_style.py --reference-path /tmp/ref/src --device cuda --images 8 --steps 200
"""

from __future__ import annotations

import argparse
import contextlib
import io
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import command_line, describe_machine, markdown_table, matmul_gflops, synchronize  # noqa: E402

from monai_singanseg.data.phantom import endoscopy_phantom  # noqa: E402
from monai_singanseg.networks.vgg import VGG19Features  # noqa: E402
from monai_singanseg.style import REFERENCE_CONTENT_LAYER, REFERENCE_STYLE_LAYERS, StyleTransfer  # noqa: E402


def make_pairs(folder: Path, count: int) -> list[tuple[Path, Path]]:
    """``count`` (synthetic, real) PNG pairs of 171x250 phantoms."""
    pairs = []
    for i in range(count):
        paths = []
        for kind, seed in (("synthetic", i), ("real", 1000 + i)):
            image, _ = endoscopy_phantom(171, 250, seed=seed)
            path = folder / f"{kind}_{i}.png"
            Image.fromarray(np.moveaxis(image, 0, -1)).save(path)
            paths.append(path)
        pairs.append((paths[0], paths[1]))
    return pairs


def as_batch(paths: list[Path]) -> torch.Tensor:
    return torch.stack([torch.from_numpy(np.asarray(Image.open(p).convert("RGB"), np.float32) / 255).permute(2, 0, 1)
                        for p in paths])


@torch.no_grad()
def step_gflop(network: VGG19Features, height: int, width: int) -> float:
    """Convolution work of one step on a ``height`` x ``width`` image: forward plus input-gradient backward."""
    multiply_adds = []

    def count(conv: torch.nn.Conv2d, _: tuple, output: torch.Tensor) -> None:
        multiply_adds.append(output.numel() * conv.in_channels * conv.kernel_size[0] * conv.kernel_size[1])

    hooks = [m.register_forward_hook(count) for m in network.modules() if isinstance(m, torch.nn.Conv2d)]
    network(torch.zeros(1, 3, height, width))
    for hook in hooks:
        hook.remove()
    return 2 * 2 * sum(multiply_adds) / 1e9


def time_ours(pairs: list[tuple[Path, Path]], steps: int, batch: int, device: torch.device) -> float:
    layers = tuple(dict.fromkeys([REFERENCE_CONTENT_LAYER, *REFERENCE_STYLE_LAYERS]))
    synchronize(device)
    start = time.perf_counter()
    engine = StyleTransfer(VGG19Features(layers=layers, pretrained=False), steps=steps, device=device)
    for first in range(0, len(pairs), batch):
        chunk = pairs[first : first + batch]
        engine(as_batch([c for c, _ in chunk]).to(device), as_batch([s for _, s in chunk]).to(device))
    synchronize(device)
    return (time.perf_counter() - start) / len(pairs)


def time_reference(pairs: list[tuple[Path, Path]], steps: int, device: torch.device, reference_path: str) -> float:
    sys.path.insert(0, reference_path)
    import torchvision.models

    original = torchvision.models.vgg19
    torchvision.models.vgg19 = lambda *args, pretrained=False, **kwargs: original(weights=None)
    from singan_seg_polyp.style_transfer import transfer_style

    synchronize(device)
    start = time.perf_counter()
    with contextlib.redirect_stderr(io.StringIO()):  # its progress bar redraws every step
        for content, style in pairs:
            transfer_style(str(content), str(style), steps, 1, 1000, device, "vgg19", verbose=False)
    synchronize(device)
    return (time.perf_counter() - start) / len(pairs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=8, help="images to restyle (default: 8)")
    parser.add_argument("--steps", type=int, default=200, help="Adam steps per image (paper: 1000)")
    parser.add_argument("--batch", type=int, default=8, help="images styled at once by ours (default: 8)")
    parser.add_argument("--device", default="cpu", help="torch device (default: cpu)")
    parser.add_argument("--reference-path", help="unzipped singan-seg-polyp 1.0.7 wheel (omit: time ours only)")
    args = parser.parse_args()
    device = torch.device(args.device)
    print(describe_machine(device))
    print(f"command: {command_line()}\n")
    with tempfile.TemporaryDirectory() as folder:
        pairs = make_pairs(Path(folder), args.images)
        time_ours(pairs[:1], 2, 1, device)  # first-call costs (CUDA context, kernel choice) out of the timing
        ours = time_ours(pairs, args.steps, args.batch, device)
        reference = time_reference(pairs, args.steps, device, args.reference_path) if args.reference_path else None
    layers = tuple(dict.fromkeys([REFERENCE_CONTENT_LAYER, *REFERENCE_STYLE_LAYERS]))
    work = step_gflop(VGG19Features(layers=layers, pretrained=False), 171, 250)
    peak = matmul_gflops(device)
    rows = [["ours (batch %d, VGG built once)" % args.batch, f"{ours:.3f}", f"{args.steps / ours:.2f}",
             f"{work * args.steps / ours:.0f}"]]
    if reference is not None:
        rows.append(["reference transfer_style", f"{reference:.3f}", f"{args.steps / reference:.2f}",
                     f"{work * args.steps / reference:.0f}"])
    rows.append([f"ceiling: {work:.1f} GFLOP per step at the matmul rate", f"{work * args.steps / peak:.3f}",
                 f"{peak / work:.2f}", f"{peak:.0f}"])
    print(markdown_table(["method", "s per image", "image-steps per s", "GFLOP/s"], rows))
    if reference is not None:
        bound = reference * peak / (work * args.steps)
        print(f"\nspeed-up at {args.steps} steps: {reference / ours:.1f}x (at most {bound:.1f}x on this device)")


if __name__ == "__main__":
    main()
