from __future__ import annotations

import dataclasses

import pytest
import torch

from monai_singanseg.data.phantom import endoscopy_phantom
from monai_singanseg.engines import SinGANSegTrainer, train_batched
from monai_singanseg.networks import SinGANGenerator
from monai_singanseg.networks.grouping import split_state_dict, stack_state_dicts
from monai_singanseg.utils.layout import ChannelLayout


@pytest.fixture
def float64():
    # GAN training amplifies rounding: in float64 the grouped and single paths stay equal to many digits.
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(previous)


@pytest.mark.parametrize("recipe", [{}, {"finest_iterations": 2, "critic_steps": 2}, {"concurrent_scales": 3}],
                         ids=["faithful", "scheduled", "concurrent"])
def test_m_models_trained_together_equal_the_same_models_trained_one_by_one(tiny_settings, float64, recipe):
    tiny_settings = dataclasses.replace(tiny_settings, **recipe)
    pairs = [endoscopy_phantom(28, 32, seed=s) for s in (1, 2, 3)]
    layouts = [ChannelLayout.from_data(*pair) for pair in pairs]
    stacks = [layout.encode(*pair) for layout, pair in zip(layouts, pairs)]
    seeds = [10, 20, 30]
    together = SinGANSegTrainer(stacks, layouts, tiny_settings, seeds).run()
    for stack, layout, seed, model in zip(stacks, layouts, seeds, together):
        alone = SinGANSegTrainer(stack, layout, dataclasses.replace(tiny_settings, seed=seed)).run()
        torch.testing.assert_close(model.noise_amplitudes, alone.noise_amplitudes, rtol=1e-7, atol=1e-9)
        for scale, (g_together, g_alone) in enumerate(zip(model.generators, alone.generators)):
            for (name, a), b in zip(g_together.state_dict().items(), g_alone.state_dict().values()):
                torch.testing.assert_close(a, b, rtol=1e-6, atol=1e-8, msg=f"scale {scale} {name}")
        torch.testing.assert_close(model.reconstruct(), alone.reconstruct(), rtol=1e-6, atol=1e-8)


def test_train_batched_returns_one_pyramid_per_image(tiny_settings):
    pairs = [endoscopy_phantom(28, 32, seed=s) for s in (4, 5)]
    settings = dataclasses.replace(tiny_settings, iterations=2)
    models = train_batched([p[0] for p in pairs], [p[1] for p in pairs], settings, seeds=[0, 1])
    assert len(models) == 2 and all(m.is_complete for m in models)
    assert not torch.equal(models[0].reconstruct(), models[1].reconstruct())


def test_rejects_stacks_with_different_pyramids(tiny_settings):
    small, large = endoscopy_phantom(28, 32), endoscopy_phantom(40, 48)
    with pytest.raises(ValueError, match="same pyramid shapes"):
        train_batched([small[0], large[0]], [small[1], large[1]], tiny_settings)


def test_grouped_generator_computes_each_model_as_alone():
    torch.manual_seed(0)
    singles = [SinGANGenerator(2, 4, features=8).eval() for _ in range(3)]
    grouped = SinGANGenerator(2, 4, features=8, num_models=3).eval()
    grouped.load_state_dict(stack_state_dicts([g.state_dict() for g in singles]))
    x = torch.randn(1, 12, 20, 20)
    out = grouped(x, x)
    for m, g in enumerate(singles):
        torch.testing.assert_close(out[:, 4 * m : 4 * (m + 1)], g(x[:, 4 * m : 4 * (m + 1)], x[:, 4 * m : 4 * (m + 1)]))
    for state, g in zip(split_state_dict(grouped.state_dict(), 3), singles):
        assert all(torch.equal(state[k], v) for k, v in g.state_dict().items())
