"""The detail energy of bench_real_pyramids: zero for a flat image, large for noise, between for a smooth one."""

from __future__ import annotations

import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

from bench_real_pyramids import detail_energy  # noqa: E402


def test_flat_image_has_no_detail_and_noise_has_the_most() -> None:
    flat = torch.full((1, 4, 40, 52), 0.3)
    y, x = torch.meshgrid(torch.linspace(-1, 1, 40), torch.linspace(-1, 1, 52), indexing="ij")
    smooth = torch.sin(2 * x + y).expand(1, 4, 40, 52).contiguous()
    noise = torch.rand(1, 4, 40, 52, generator=torch.Generator().manual_seed(0)) * 2 - 1
    flat_e, smooth_e, noise_e = (detail_energy(a, 0.75) for a in (flat, smooth, noise))
    assert flat_e < 1e-10
    assert smooth_e < 0.01 * noise_e
    assert noise_e > 0.05
