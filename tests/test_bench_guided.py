"""The steering benchmark's figures on the session's tiny pyramid: the self-injection baseline (the training stack
itself injected at each scale) is reported beside the guided figures at every injection scale."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch
from conftest import TINY_SETTINGS

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

import bench_guided
from bench_quality import training_stack


def test_self_injection_figures_are_those_of_the_training_stack_injected_at_each_scale(trained_pyramid, phantom_pair):
    model = trained_pyramid
    real = training_stack(*phantom_pair, TINY_SETTINGS)
    mask = torch.as_tensor(phantom_pair[1]).float()
    masks = torch.stack([torch.roll(mask, shifts=shift, dims=-1) for shift in (-4, 4)])  # lesions moved aside
    figures = bench_guided.guided_figures(model, real, masks, num_samples=4)
    assert sorted(figures["scales"]) == list(range(1, model.num_trained_scales))
    reconstruction = model.reconstruct().float()
    for scale, found in figures["scales"].items():
        own = model.sample(4, inject=real, inject_scale=scale, generator=torch.Generator().manual_seed(3000))
        expected = bench_guided._swd_figures(own.float(), reconstruction, real)
        # nan_ok: the tiny phantom's lesion may hold no whole patch, and then both lesion figures are NaN.
        assert {key: found[f"{key}_self"] for key in expected} == pytest.approx(expected, nan_ok=True)
        assert found["swd_self"] != pytest.approx(found["swd"])  # not the guided samples' figure
