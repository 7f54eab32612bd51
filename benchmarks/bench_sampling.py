"""Synthetic pairs per second: ``RandSinGANSegd`` one sample at a time (the DataLoader path) and batched sampling.

Pyramids with reference settings (max_size 250) and reference-initialised weights are built for square RGB + mask
images at each ``--sizes``; sampling speed does not depend on what the weights learned. Both paths run side by side:

- ``RandSinGANSegd(prob=1)`` on a MONAI dict sample (a MetaTensor image and label of that size), as inside a
  ``Compose``: one pyramid pass, the resize back to the input size, intensity matching and metadata;
- ``SinGANSeg.sample(batch)`` then ``decode``: batched generation, the path of ``monai-singanseg generate``.

Sampling is arithmetic-bound: the table also gives the convolution work per pair (multiply-adds x 2), the rate that
work runs at in the transform, and the device's measured float32 matmul rate, the ceiling that any convolution
implementation can approach. ``ceiling pairs/s`` = matmul rate / work per pair.

Example::

    python benchmarks/bench_sampling.py --sizes 128 256 --device cpu
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import torch
from monai.data import MetaTensor

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import command_line, describe_machine, markdown_table, matmul_gflops, synchronize  # noqa: E402

from monai_singanseg.data.bank import SinGANSegBank  # noqa: E402
from monai_singanseg.data.phantom import endoscopy_phantom  # noqa: E402
from monai_singanseg.networks.blocks import init_singan_weights_  # noqa: E402
from monai_singanseg.networks.singanseg import SinGANSeg  # noqa: E402
from monai_singanseg.transforms import RandSinGANSegd  # noqa: E402
from monai_singanseg.layout import ChannelLayout  # noqa: E402
from monai_singanseg.utils.pyramid import compute_pyramid  # noqa: E402


def sampling_gflop(model: SinGANSeg) -> float:
    """Convolution work of one sample through every scale: 2 x multiply-adds, in GFLOP."""
    multiply_adds = 0
    for generator, shape in zip(model.generators, model.scale_shapes):
        spatial = [s + 2 * generator.padding for s in shape]
        for conv in (m for m in generator.modules() if isinstance(m, torch.nn.Conv2d)):
            spatial = [s - conv.kernel_size[0] + 1 for s in spatial]
            multiply_adds += conv.weight.numel() * spatial[0] * spatial[1]
    return 2 * multiply_adds / 1e9


def build_pyramid(size: int, device: torch.device) -> tuple[SinGANSeg, ChannelLayout, torch.Tensor, torch.Tensor]:
    """A reference-shaped pyramid for a ``size`` x ``size`` RGB + mask phantom, with initialised weights."""
    image, mask = endoscopy_phantom(size, size)
    layout = ChannelLayout.from_data(image, mask)
    spec = compute_pyramid((size, size))
    model = SinGANSeg(2, layout, spec.scale_shapes, spec.scale_factor)
    random = torch.Generator().manual_seed(0)
    for scale, shape in enumerate(spec.scale_shapes):
        generator = init_singan_weights_(model.build_generator(scale), random)
        noise = torch.randn(1, 1, *shape, generator=random).expand(1, layout.channels, *shape) if scale == 0 else \
            torch.zeros(1, layout.channels, *shape)
        model.add_scale(generator, 1.0 if scale == 0 else 0.05, noise)
    return model.to(device), layout, torch.as_tensor(image), torch.as_tensor(mask)


def time_transform(model: SinGANSeg, image: torch.Tensor, mask: torch.Tensor, count: int, folder: Path) -> float:
    path = folder / "phantom.pt"
    model.save(str(path), metadata={"image_id": "phantom"})
    transform = RandSinGANSegd(keys=("image", "label"), bank=SinGANSegBank(folder), prob=1.0, match="any",
                                label_values=(0, 1))
    transform.set_random_state(0)
    sample = {"image": MetaTensor(image.float() / 255), "label": MetaTensor(mask.float() / 255)}
    transform(sample)  # load the pyramid into the bank's cache before timing
    start = time.perf_counter()
    for _ in range(count):
        transform(sample)
    return count / (time.perf_counter() - start)


@torch.no_grad()
def time_batched(model: SinGANSeg, batch: int, repeats: int, device: torch.device) -> float:
    generator = torch.Generator(device).manual_seed(0)
    model.decode(model.sample(batch, generator=generator))
    synchronize(device)
    start = time.perf_counter()
    for _ in range(repeats):
        model.decode(model.sample(batch, generator=generator))
    synchronize(device)
    return batch * repeats / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[128, 256], help="square image sizes")
    parser.add_argument("--device", default="cpu", help="torch device for batched sampling (default: cpu)")
    parser.add_argument("--transform-samples", type=int, default=40, help="transform calls timed per size")
    parser.add_argument("--batch", type=int, default=32, help="batch size of batched sampling")
    parser.add_argument("--repeats", type=int, default=3, help="batches timed per size")
    args = parser.parse_args()
    device = torch.device(args.device)
    print(describe_machine(device))
    print(f"command: {command_line()}\n")
    peak = matmul_gflops(torch.device("cpu"))
    print(f"CPU float32 matmul rate: {peak:.0f} GFLOP/s\n")
    rows = []
    for size in args.sizes:
        model, _, image, mask = build_pyramid(size, torch.device("cpu"))
        with tempfile.TemporaryDirectory() as folder:
            per_second = time_transform(model, image, mask, args.transform_samples, Path(folder))
        batched = time_batched(model.to(device), args.batch, args.repeats, device)
        shapes = f"{model.num_scales} scales, finest {'x'.join(map(str, model.scale_shapes[-1]))}"
        work = sampling_gflop(model)
        rows.append([f"{size}x{size}", shapes, f"{work:.1f}", f"{per_second:.1f}", f"{per_second * work:.0f}",
                     f"{peak / work:.1f}", f"{batched:.1f}", f"{batched / per_second:.1f}x"])
    print(markdown_table(["input", "pyramid", "GFLOP/pair", "RandSinGANSegd pairs/s (CPU, 1 at a time)",
                          "GFLOP/s", "ceiling pairs/s (CPU)", f"batched pairs/s ({args.device}, batch {args.batch})",
                          "ratio"], rows))


if __name__ == "__main__":
    main()
