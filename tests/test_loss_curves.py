"""Loss curves: ``LossHistory`` records every iteration of every scale, ``settled_iteration`` tells when a curve
stopped changing, ``loss_curves_chart`` draws them, and the benchmark turns them into savable iterations."""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from ignite.engine import Events

from monai_singanseg.engines import SinGANSegTrainer
from monai_singanseg.handlers import LossHistory
from monai_singanseg.layout import ChannelLayout
from monai_singanseg.utils.convergence import settled_iteration
from monai_singanseg.visualize import loss_curves_chart

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import bench_loss_curves  # noqa: E402


def test_records_every_iteration_of_every_scale_as_the_step_returned_it(phantom_pair, tiny_settings):
    settings = dataclasses.replace(tiny_settings, iterations=6, finest_iterations=3)
    layout = ChannelLayout.from_data(*phantom_pair)
    trainer = SinGANSegTrainer(layout.encode(*phantom_pair), layout, settings)
    history = LossHistory()
    history.attach(trainer.engine)
    returned = {}

    @trainer.engine.on(Events.ITERATION_COMPLETED)
    def keep(engine):
        returned.setdefault(engine.state.epoch - 1, []).append(float(engine.state.output["reconstruction"]))

    trainer.run()
    assert sorted(history.curves) == list(range(trainer.spec.num_scales))
    assert [len(c["reconstruction"]) for c in history.curves.values()] == list(trainer.iterations_per_scale)
    assert set(history.curves[0]) == {"critic", "gradient_penalty", "generator", "reconstruction"}
    for scale, values in returned.items():
        np.testing.assert_allclose(history.curves[scale]["reconstruction"], values, rtol=1e-6)


@pytest.mark.parametrize(("values", "window", "tolerance", "expected"), [
    ([4, 4, 2, 2, 1.9, 1.9, 1.9, 1.9], 2, 0.1, 6),
    ([1.0] * 10, 5, 0.0, 10),
    (2.0 ** -np.arange(40), 5, 0.05, None),  # halving every iteration never settles
    ([1, -1, 1, -1, 1, -1.05], 2, 0.1, 4),  # a sign-changing loss with a steady mean settles
    ([5, 4, 3], 4, 0.5, None),  # shorter than two windows
])
def test_settled_iteration(values, window, tolerance, expected):
    assert settled_iteration(values, window, tolerance) == expected


@pytest.mark.parametrize(("window", "tolerance"), [(0, 0.1), (5, -0.1)])
def test_settled_iteration_rejects_bad_arguments(window, tolerance):
    with pytest.raises(ValueError, match="window|tolerance"):
        settled_iteration([1.0, 2.0], window, tolerance)


def test_chart_has_one_panel_per_loss_and_refuses_missing_losses():
    curves = {0: {"critic": np.linspace(-1, 0, 50), "reconstruction": np.linspace(2, 1, 50)},
              1: {"critic": np.zeros(30), "reconstruction": np.linspace(1, 0.5, 30)}}
    one, two = loss_curves_chart(curves, ["critic"]), loss_curves_chart(curves)
    assert one.width == two.width and two.height > one.height
    assert len(np.unique(np.asarray(two).reshape(-1, 3), axis=0)) > 2  # curves were drawn, not a blank panel
    with pytest.raises(ValueError, match="no loss"):
        loss_curves_chart(curves, ["generator"])
    with pytest.raises(ValueError, match="at least one scale"):
        loss_curves_chart({})


def test_a_rule_saves_the_iterations_between_settling_and_the_decay_only_when_every_loss_settled():
    flat, falling = np.ones(100), 2.0 ** -np.arange(100, dtype=np.float64)
    curves = {"critic": flat, "reconstruction": flat}
    assert bench_loss_curves.savable_iterations(curves, ["critic", "reconstruction"], 10, 0.01, 80) == (20, 60)
    curves["reconstruction"] = falling
    assert bench_loss_curves.savable_iterations(curves, ["critic", "reconstruction"], 10, 0.01, 80) == (None, 0)
    assert bench_loss_curves.savable_iterations(curves, ["critic"], 10, 0.01, 80) == (20, 60)


def test_history_syncs_a_scale_once_not_every_iteration(monkeypatch, phantom_pair, tiny_settings):
    # The copy to the host happens when the scale ends: a step itself reads nothing back.
    layout = ChannelLayout.from_data(*phantom_pair)
    trainer = SinGANSegTrainer(layout.encode(*phantom_pair), layout, dataclasses.replace(tiny_settings, iterations=4))
    history = LossHistory()
    history.attach(trainer.engine)
    copies = []
    original = torch.Tensor.cpu

    def counting_cpu(self, *args, **kwargs):
        copies.append(self.shape)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(torch.Tensor, "cpu", counting_cpu)
    trainer.run()
    assert len([c for c in copies if c == (4, 4)]) == trainer.spec.num_scales


def test_running_mean_averages_the_last_window_points():
    from monai_singanseg.visualize.loss_chart import _running_mean

    np.testing.assert_allclose(_running_mean(np.array([2.0, 4.0, 6.0, 8.0]), 2), [2.0, 3.0, 5.0, 7.0])


@pytest.mark.parametrize("flags", [("--window", "0"), ("--tolerance", "-0.1"), ("--losses", "style")])
def test_benchmark_refuses_bad_arguments_before_training(monkeypatch, capsys, flags):
    monkeypatch.setattr(sys, "argv", ["bench_loss_curves.py", *flags])
    with pytest.raises(SystemExit):
        bench_loss_curves.main()
    assert flags[0] in capsys.readouterr().err
