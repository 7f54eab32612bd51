"""Weight averaging (``generator_ema``): a scale's result is the exponential moving average of its generator's weights
over its updates, with TensorFlow's warm-up; off by default, as in the reference."""

from __future__ import annotations

import dataclasses

import pytest
import torch
from ignite.engine import Events

from monai_singanseg.engines import SinGANSegTrainer
from monai_singanseg.engines.scale_trainer import ema_weight
from monai_singanseg.settings import SinGANSegSettings
from monai_singanseg.utils.layout import ChannelLayout


def _train_scale_0(pair, settings) -> tuple[list[list[torch.Tensor]], list[torch.Tensor]]:
    """The scale-0 generator's weights before training and after every update, and its finished weights."""
    layout = ChannelLayout.from_data(*pair)
    trainer = SinGANSegTrainer(layout.encode(*pair), layout, dataclasses.replace(settings, concurrent_scales=1))
    path = []

    @trainer.engine.on(Events.EPOCH_STARTED)
    def record_start(engine):
        if engine.state.epoch == 1:
            path.append([p.detach().clone() for p in trainer.scale_trainer.generator.parameters()])

    @trainer.engine.on(Events.ITERATION_COMPLETED)
    def record(engine):
        if engine.state.epoch == 1:
            path.append([p.detach().clone() for p in trainer.scale_trainer.generator.parameters()])

    trainer.run()
    return path, [p.detach() for p in trainer.generators[0].parameters()]


def test_the_finished_scale_is_the_warmed_up_average_of_its_updates(phantom_pair, tiny_settings):
    path, last = _train_scale_0(phantom_pair, tiny_settings)
    averaged_path, averaged = _train_scale_0(phantom_pair, dataclasses.replace(tiny_settings, generator_ema=0.9))
    updates = tiny_settings.iterations
    assert len(path) == updates + 1
    # Averaging leaves the training itself alone: the same weights after every update but the last, where the
    # average replaces them.
    for before, after in zip(path[:-1], averaged_path[:-1]):
        assert all(torch.equal(a, b) for a, b in zip(before, after))
    assert all(torch.equal(a, b) for a, b in zip(last, path[-1]))
    expected = [p.clone() for p in path[0]]
    for n, weights in enumerate(path[1:]):
        expected = [e + (w - e) * ema_weight(0.9, n) for e, w in zip(expected, weights)]
    for got, want, plain in zip(averaged, expected, last):
        torch.testing.assert_close(got, want)
    assert not all(torch.allclose(got, plain) for got, plain in zip(averaged, last))


def test_the_warm_up_forgets_the_start_and_then_holds_the_decay():
    assert ema_weight(0.99, 0) == pytest.approx(0.9)
    assert ema_weight(0.99, 10) == pytest.approx(1 - 11 / 20)
    assert ema_weight(0.99, 10_000) == pytest.approx(0.01)


@pytest.mark.parametrize("decay", [-0.1, 1.0])
def test_a_decay_outside_zero_to_one_is_refused(decay):
    with pytest.raises(ValueError, match="generator_ema"):
        SinGANSegSettings(generator_ema=decay)
