"""The lazy gradient penalty (``gradient_penalty_interval``): taken every k-th critic update at k times the weight,
skipped in between (the benchmarks' count of it: test_bench_work_count.py)."""

from __future__ import annotations

import dataclasses

import pytest
from ignite.engine import Events

from monai_singanseg.engines import SinGANSegTrainer
from monai_singanseg.settings import SinGANSegSettings
from monai_singanseg.utils.layout import ChannelLayout


def _penalties_of_scale_0(pair, settings) -> list[float]:
    layout = ChannelLayout.from_data(*pair)
    trainer = SinGANSegTrainer(layout.encode(*pair), layout, settings)
    penalties = []

    @trainer.engine.on(Events.ITERATION_COMPLETED)
    def record(engine):
        if engine.state.epoch == 1:
            penalties.append(float(engine.state.output["gradient_penalty"]))

    trainer.run()
    return penalties


def test_the_penalty_is_taken_every_interval_updates_at_interval_times_the_weight(phantom_pair, tiny_settings):
    every = dataclasses.replace(tiny_settings, critic_steps=1)
    lazy = dataclasses.replace(every, gradient_penalty_interval=3)
    eager_penalties = _penalties_of_scale_0(phantom_pair, every)
    lazy_penalties = _penalties_of_scale_0(phantom_pair, lazy)
    assert len(lazy_penalties) == tiny_settings.iterations == 6
    assert all(p > 0 for p in eager_penalties)
    # Updates 0 and 3 take the penalty, the others none.
    assert [p > 0 for p in lazy_penalties] == [True, False, False, True, False, False]
    # The first update starts from the same weights with the same mixing weight: three times the eager penalty.
    assert lazy_penalties[0] == pytest.approx(3 * eager_penalties[0], rel=1e-5)


def test_an_interval_below_one_is_refused():
    with pytest.raises(ValueError, match="gradient_penalty_interval"):
        SinGANSegSettings(gradient_penalty_interval=0)
