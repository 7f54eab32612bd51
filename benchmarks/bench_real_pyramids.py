"""How far our real pyramid lies from the reference's, and how much fine detail each keeps, on the same images.

The reference builds every scale of the real image through its ``imresize`` (a MATLAB-style cubic kernel and a uint8
round trip that truncates); we resize in float with torch's antialiased bicubic. A model's reconstruction error is
measured against its own real pyramid, so a smoother pyramid is easier to reconstruct. This prints, per scale and
image: the MSE between the two pyramids, and each pyramid's detail energy (the MSE between a scale and itself
shrunk by the scale factor and enlarged back, i.e. what a coarser scale cannot carry and the generator of this scale
must add). Run with the reference's venv (see ``bench_single_model.py``)::

    python benchmarks/bench_real_pyramids.py --reference-path /tmp/ref/src \
        --data ../shared/data/polyp/endotect_dev --num-images 3 --max-size 64
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import command_line, markdown_table  # noqa: E402
from bench_quality import list_images, load_pair, reference_real_pyramid  # noqa: E402
from bench_single_model import import_reference  # noqa: E402

from monai_singanseg.engines.trainer import real_pyramid  # noqa: E402
from monai_singanseg.settings import SinGANSegSettings  # noqa: E402
from monai_singanseg.layout import ChannelLayout  # noqa: E402
from monai_singanseg.utils.pyramid import compute_pyramid  # noqa: E402
from monai_singanseg.utils.resize import resize  # noqa: E402


def detail_energy(real: torch.Tensor, scale_factor: float) -> float:
    """MSE between a scale and its own round trip through the next coarser size."""
    shape = real.shape[2:]
    coarser = [max(1, round(s * scale_factor)) for s in shape]
    return float(((resize(resize(real, coarser), shape) - real) ** 2).mean())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reference-path", required=True, help="unzipped singan-seg-polyp 1.0.7 wheel")
    parser.add_argument("--data", type=Path, required=True, help="folder with images/ and masks/")
    parser.add_argument("--num-images", type=int, default=3)
    parser.add_argument("--max-size", type=int, default=64)
    args = parser.parse_args()
    settings = SinGANSegSettings(max_size=args.max_size)
    reference = import_reference(args.reference_path)
    rows = []
    for image_path, mask_path in list_images(args.data, args.num_images, 0):
        image, mask = load_pair(image_path, mask_path)
        layout = ChannelLayout.from_data(image, mask, settings.label_encoding)
        spec = compute_pyramid(image.shape[1:], settings.min_size, settings.max_size, settings.scale_factor)
        ours = real_pyramid(layout.encode(image, mask).float().unsqueeze(0), spec.scale_shapes, spec.first_shape)
        theirs = reference_real_pyramid(reference, image, mask, settings)
        for scale, (a, b) in enumerate(zip(ours, theirs)):
            if tuple(a.shape) != tuple(b.shape):
                raise RuntimeError(f"scale {scale}: our shape {tuple(a.shape)} vs the reference's {tuple(b.shape)}")
            rows.append([image_path.stem[:8], scale, "x".join(map(str, a.shape[2:])),
                         f"{float(((a - b) ** 2).mean()):.4f}", f"{float((b - a).mean()):+.4f}",
                         f"{detail_energy(a, spec.scale_factor):.4f}", f"{detail_energy(b, spec.scale_factor):.4f}"])
    print(command_line())
    print(markdown_table(["image", "scale", "shape", "MSE ours-ref", "mean ref-ours", "detail ours", "detail ref"],
                         rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
