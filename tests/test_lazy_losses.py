"""The lazy losses: the gradient penalty (``gradient_penalty_interval``), taken every k-th critic update at k times
the weight, and the reconstruction (``reconstruction_interval``), every k-th generator update at k times the weight
with the BatchNorm running statistics advanced as the skipped passes would have; skipped in between (the
benchmarks' count of them: test_bench_work_count.py)."""

from __future__ import annotations

import dataclasses

import pytest
from ignite.engine import Events

from monai_singanseg.engines import SinGANSegTrainer
from monai_singanseg.engines.scale_trainer import ScaleTrainer
from monai_singanseg.settings import SinGANSegSettings
from monai_singanseg.utils.layout import ChannelLayout


def _losses_of_scale_0(pair, settings, name: str) -> list[float]:
    layout = ChannelLayout.from_data(*pair)
    trainer = SinGANSegTrainer(layout.encode(*pair), layout, settings)
    losses = []

    @trainer.engine.on(Events.ITERATION_COMPLETED)
    def record(engine):
        if engine.state.epoch == 1:
            losses.append(float(engine.state.output[name]))

    trainer.run()
    return losses


def test_the_penalty_is_taken_every_interval_updates_at_interval_times_the_weight(phantom_pair, tiny_settings):
    every = dataclasses.replace(tiny_settings, critic_steps=1)
    lazy = dataclasses.replace(every, gradient_penalty_interval=3)
    eager_penalties = _losses_of_scale_0(phantom_pair, every, "gradient_penalty")
    lazy_penalties = _losses_of_scale_0(phantom_pair, lazy, "gradient_penalty")
    assert len(lazy_penalties) == tiny_settings.iterations == 6
    assert all(p > 0 for p in eager_penalties)
    # Updates 0 and 3 take the penalty, the others none.
    assert [p > 0 for p in lazy_penalties] == [True, False, False, True, False, False]
    # The first update starts from the same weights with the same mixing weight: three times the eager penalty.
    assert lazy_penalties[0] == pytest.approx(3 * eager_penalties[0], rel=1e-5)


def test_a_penalty_interval_below_one_is_refused():
    with pytest.raises(ValueError, match="gradient_penalty_interval"):
        SinGANSegSettings(gradient_penalty_interval=0)


@pytest.mark.parametrize("generator_steps", [1, 2])
def test_the_reconstruction_is_taken_every_interval_updates_at_interval_times_the_weight(
        phantom_pair, tiny_settings, generator_steps):
    every = dataclasses.replace(tiny_settings, critic_steps=1, generator_steps=generator_steps)
    lazy = dataclasses.replace(every, reconstruction_interval=3)
    eager_losses = _losses_of_scale_0(phantom_pair, every, "reconstruction")
    lazy_losses = _losses_of_scale_0(phantom_pair, lazy, "reconstruction")
    assert len(lazy_losses) == tiny_settings.iterations == 6
    assert all(loss > 0 for loss in eager_losses)
    # The loss recorded is the last generator update's: with one update per iteration, updates 0 and 3 take it;
    # with two, updates 0, 3, 6 and 9 are the first of iterations 0 and 3 and the last of iterations 1 and 4.
    taken = [True, False, False, True, False, False]
    if generator_steps == 2:
        taken = [False, True, False, False, True, False]
    assert [loss > 0 for loss in lazy_losses] == taken
    if generator_steps == 1:
        # The first update starts from the same weights with the same noise: three times the eager loss.
        assert lazy_losses[0] == pytest.approx(3 * eager_losses[0], rel=1e-5)


@pytest.mark.parametrize("reference_statistics, passes", [(True, 3 * 4), (False, 4)])
def test_a_lazy_reconstruction_advances_the_batchnorm_statistics_as_the_skipped_passes_would(
        phantom_pair, tiny_settings, monkeypatch, reference_statistics, passes):
    settings = dataclasses.replace(tiny_settings, critic_steps=1, reconstruction_interval=4,
                                   reference_batchnorm_statistics=reference_statistics)
    counted = []
    reconstruction = ScaleTrainer._reconstruction

    def counting(self, passes=1):
        counted.append(passes)
        return reconstruction(self, passes)

    monkeypatch.setattr(ScaleTrainer, "_reconstruction", counting)
    _losses_of_scale_0(phantom_pair, settings, "reconstruction")
    # Updates 0 and 4 of each scale's 6 take the loss, as 4 updates' passes; with the reference's statistics each
    # scale ends with one more pass through the updated weights.
    per_scale = [passes, passes] + ([1] if reference_statistics else [])
    assert counted == per_scale * (len(counted) // len(per_scale)) and counted


def test_a_reconstruction_interval_below_one_is_refused():
    with pytest.raises(ValueError, match="reconstruction_interval"):
        SinGANSegSettings(reconstruction_interval=0)
