"""ConSinGAN's concurrent training (``concurrent_scales``): finished scales train along with the newest at a scaled
learning rate, and stay frozen otherwise (resume: tests/test_training.py)."""

from __future__ import annotations

import dataclasses

import pytest
import torch
from ignite.engine import Events

from monai_singanseg.engines import SinGANSegTrainer
from monai_singanseg.settings import SinGANSegSettings
from monai_singanseg.utils.layout import ChannelLayout


def _trainer(pair, settings) -> SinGANSegTrainer:
    layout = ChannelLayout.from_data(*pair)
    return SinGANSegTrainer(layout.encode(*pair), layout, settings)


def _weights_after_each_scale(trainer) -> list[list[dict[str, torch.Tensor]]]:
    """For every finished scale, a copy of every finished generator's weights."""
    snapshots = []

    @trainer.engine.on(Events.EPOCH_COMPLETED)
    def snapshot(engine):
        snapshots.append([{k: v.clone() for k, v in g.state_dict().items()} for g in trainer.generators])

    trainer.run()
    return snapshots


def _same(a, b) -> bool:
    return all(torch.equal(a[k], b[k]) for k in a)


@pytest.mark.parametrize("concurrent_scales", [1, 2])
def test_a_finished_scale_trains_along_only_inside_the_concurrent_window(phantom_pair, tiny_settings, concurrent_scales):
    settings = dataclasses.replace(tiny_settings, concurrent_scales=concurrent_scales)
    snapshots = _weights_after_each_scale(_trainer(phantom_pair, settings))
    # Scale 0's weights as scale 0 finished, after scale 1, after scale 2.
    after_0, after_1, after_2 = (snapshots[k][0] for k in range(3))
    assert _same(after_0, after_1) is (concurrent_scales == 1)  # trained along with scale 1 in a window of 2
    assert _same(after_1, after_2)  # never with scale 2: outside the window
    assert _same(snapshots[1][1], snapshots[2][1]) is (concurrent_scales == 1)


def test_coarser_scales_learn_at_the_scaled_learning_rate(phantom_pair, tiny_settings):
    settings = dataclasses.replace(tiny_settings, concurrent_scales=3, concurrent_lr_scale=0.5)
    trainer = _trainer(phantom_pair, settings)
    rates = {}

    @trainer.engine.on(Events.ITERATION_STARTED(once=2 * settings.iterations + 1))
    def record(engine):
        rates["scale 2"] = [g["lr"] for g in trainer.scale_trainer.optimizer_g.param_groups]
        along = trainer.trained_along(trainer.scale)
        rates["groups"] = [list(g["params"]) for g in trainer.scale_trainer.optimizer_g.param_groups[1:]]
        rates["along"] = [list(g.parameters()) for g in along]

    trainer.run()
    lr = settings.lr_generator
    assert rates["scale 2"] == pytest.approx([lr, lr * 0.5, lr * 0.25])
    assert all(all(a is b for a, b in zip(group, params)) for group, params in zip(rates["groups"], rates["along"]))
    assert len(rates["along"]) == 2  # scale 1, then scale 0


def test_coarser_scales_are_frozen_again_when_training_ends(phantom_pair, tiny_settings):
    trainer = _trainer(phantom_pair, dataclasses.replace(tiny_settings, concurrent_scales=3))
    model = trainer.run()
    assert not any(p.requires_grad for g in trainer.generators for p in g.parameters())
    assert not any(g.training for g in model.generators)


@pytest.mark.parametrize(("overrides", "message"), [
    ({"concurrent_scales": 0}, r"concurrent_scales=0 is out of range"),
    ({"concurrent_lr_scale": 0.0}, r"concurrent_lr_scale=0.0 is out of range"),
    ({"concurrent_scales": 2, "generator_steps": 3},
     r"concurrent_scales=2 trains the coarser scales along, which needs generator_steps 1, got 3"),
])
def test_rejects_concurrent_settings_out_of_range(overrides, message):
    with pytest.raises(ValueError, match=message):
        SinGANSegSettings(**overrides)


def test_a_3d_pyramid_trains_its_scales_concurrently():
    from monai_singanseg.engines import train_singanseg

    image = torch.rand(2, 16, 16, 16)  # two channels, a label beside them
    label = (torch.rand(1, 16, 16, 16) > 0.7).to(torch.uint8)
    settings = SinGANSegSettings(min_size=11, max_size=16, iterations=2, base_features=4, max_features=4,
                                 concurrent_scales=2)
    model = train_singanseg(image, label, settings)
    assert model.num_scales >= 2
    assert model.sample(1, generator=torch.Generator().manual_seed(0)).shape == (1, 3, 16, 16, 16)
