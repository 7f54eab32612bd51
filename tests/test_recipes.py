"""Training recipes, per-scale iteration schedules and the reference's BatchNorm statistics."""

from __future__ import annotations

import argparse
import dataclasses

import pytest
import torch
from ignite.engine import Events
from torch import nn

from monai_singanseg.cli.settings_args import add_settings_arguments, settings_from_arguments
from monai_singanseg.engines import SinGANSegTrainer
from monai_singanseg.engines.scale_trainer import ScaleTrainer, repeated_batchnorm_statistics
from monai_singanseg.networks.blocks import init_singan_weights_
from monai_singanseg.networks.discriminator import SinGANDiscriminator
from monai_singanseg.networks.generator import SinGANGenerator
from monai_singanseg.settings import RECIPES, Recipe, SinGANSegSettings
from monai_singanseg.utils.layout import ChannelLayout
from monai_singanseg.utils.pyramid import iterations_per_scale


def _parse(*flags: str) -> SinGANSegSettings:
    parser = argparse.ArgumentParser()
    add_settings_arguments(parser)
    return settings_from_arguments(parser.parse_args(list(flags)))


def test_faithful_recipe_is_the_reference_default():
    assert SinGANSegSettings.from_recipe("faithful") == SinGANSegSettings()
    assert _parse("--recipe", "faithful") == SinGANSegSettings() == _parse()


def test_fast_recipe_sets_its_values_and_flags_override_them():
    fast = SinGANSegSettings.from_recipe(Recipe.FAST)
    assert fast == dataclasses.replace(SinGANSegSettings(), **RECIPES[Recipe.FAST]) != SinGANSegSettings()
    assert _parse("--recipe", "fast") == fast
    assert _parse("--recipe", "fast", "--seed", "5").seed == 5
    assert _parse("--recipe", "fast", "--iterations", "1234").iterations == 1234
    assert SinGANSegSettings.from_recipe("fast", device="cuda").device == "cuda"


def test_unknown_recipe_is_refused_with_the_known_ones():
    with pytest.raises(ValueError, match="unknown recipe 'quick'.*faithful.*fast.*draft"):
        SinGANSegSettings.from_recipe("quick")
    with pytest.raises(SystemExit):
        _parse("--recipe", "quick")


@pytest.mark.parametrize(
    "iterations, finest, num_scales, expected",
    [
        (2000, 0, 3, (2000, 2000, 2000)),
        (2000, 200, 3, (2000, 632, 200)),
        (2000, 2000, 4, (2000, 2000, 2000, 2000)),
        (100, 10, 1, (100,)),
        (8, 1, 4, (8, 4, 2, 1)),
    ],
)
def test_iterations_per_scale_is_geometric_from_coarsest_to_finest(iterations, finest, num_scales, expected):
    assert iterations_per_scale(iterations, finest, num_scales) == expected


@pytest.mark.parametrize("arguments", [(0, 0, 3), (100, -1, 3), (100, 10, 0)])
def test_iterations_per_scale_refuses_values_out_of_range(arguments):
    with pytest.raises(ValueError, match="need iterations >= 1"):
        iterations_per_scale(*arguments)


def test_finest_iterations_above_iterations_is_refused():
    with pytest.raises(ValueError, match="finest_iterations=30"):
        SinGANSegSettings(iterations=20, finest_iterations=30)


def _trainer(pair, settings) -> SinGANSegTrainer:
    layout = ChannelLayout.from_data(*pair)
    return SinGANSegTrainer(layout.encode(*pair), layout, settings)


def test_each_scale_trains_its_scheduled_iterations_and_decays_at_its_fraction(phantom_pair, tiny_settings):
    settings = dataclasses.replace(tiny_settings, iterations=8, finest_iterations=1)
    trainer = _trainer(phantom_pair, settings)
    counts: dict[int, int] = {}
    decayed: dict[int, int] = {}

    @trainer.engine.on(Events.ITERATION_COMPLETED)
    def count(engine):
        scale_trainer = trainer.scale_trainer
        counts[trainer.scale] = scale_trainer.iteration
        if scale_trainer.optimizer_g.param_groups[0]["lr"] < settings.lr_generator and trainer.scale not in decayed:
            decayed[trainer.scale] = scale_trainer.iteration

    model = trainer.run()
    assert model.is_complete
    assert tuple(counts.values()) == (8, 4, 2, 1)
    # The learning rate decays after round(0.8 * n) of a scale's n steps: 6 of 8, 3 of 4, 2 of 2, 1 of 1.
    assert decayed == {0: 6, 1: 3, 2: 2, 3: 1}


def test_a_schedule_resumes_to_the_same_pyramid(phantom_pair, tiny_settings, tmp_path):
    from monai_singanseg.handlers import PyramidCheckpoint

    settings = dataclasses.replace(tiny_settings, iterations=6, finest_iterations=2)
    whole = _trainer(phantom_pair, settings).run()
    first = _trainer(phantom_pair, settings)
    PyramidCheckpoint(first, tmp_path / "run.pt").attach(first.engine)

    @first.engine.on(Events.EPOCH_COMPLETED(once=2))
    def stop(engine):
        engine.terminate()

    first.run()
    second = _trainer(phantom_pair, settings)
    handler = PyramidCheckpoint(second, tmp_path / "run.pt")
    assert handler.resume() == 2
    resumed = second.run()
    for a, b in zip(whole.generators, resumed.generators):
        for name, tensor in a.state_dict().items():
            torch.testing.assert_close(tensor, b.state_dict()[name], rtol=0, atol=0, msg=name)


def test_one_pass_with_repeated_statistics_equals_identical_passes():
    torch.manual_seed(0)
    x = torch.randn(4, 3, 6, 6)
    repeated, once = nn.BatchNorm2d(3), nn.BatchNorm2d(3)
    repeated.running_mean.fill_(0.5)
    once.running_mean.fill_(0.5)
    for _ in range(3):
        expected = repeated(x)
    with repeated_batchnorm_statistics(once, 3):
        output = once(x)
    torch.testing.assert_close(output, expected)
    torch.testing.assert_close(once.running_mean, repeated.running_mean)
    torch.testing.assert_close(once.running_var, repeated.running_var)
    assert once.momentum == 0.1  # restored


def _coarsest_scale_trainer(settings: SinGANSegSettings, pair) -> ScaleTrainer:
    layout = ChannelLayout.from_data(*pair)
    real = layout.encode(*pair).float().unsqueeze(0)
    init = torch.Generator().manual_seed(0)
    generator = init_singan_weights_(SinGANGenerator(2, layout.channels, 8), init)
    critic = init_singan_weights_(SinGANDiscriminator(2, layout.channels, 8), init)
    return ScaleTrainer(0, real, generator, critic, settings, [torch.Generator().manual_seed(1)])


@pytest.mark.parametrize("iterations", [1, 3])
def test_reference_statistics_change_running_statistics_only(phantom_pair, iterations):
    settings = SinGANSegSettings(iterations=iterations, seed=0)
    on = _coarsest_scale_trainer(settings, phantom_pair)
    off = _coarsest_scale_trainer(dataclasses.replace(settings, reference_batchnorm_statistics=False), phantom_pair)
    for _ in range(iterations):
        on.step(), off.step()
    for (name, a), b in zip(on.generator.named_parameters(), off.generator.parameters()):
        torch.testing.assert_close(a, b, msg=name)
    means = [(a.running_mean, b.running_mean) for a, b in zip(on.generator.modules(), off.generator.modules())
             if isinstance(a, nn.BatchNorm2d)]
    assert means and all(not torch.allclose(a, b) for a, b in means)


@pytest.mark.parametrize("recipe", [Recipe.FAST, Recipe.DRAFT])
@pytest.mark.parametrize("bundle", ["endoscopy_polyp_singanseg", "brats_mri_slices_singanseg"])
def test_bundle_recipe_file_sets_exactly_the_recipe(bundle, recipe):
    import json
    from pathlib import Path

    from monai.bundle import ConfigParser

    configs = Path(__file__).resolve().parents[1] / "bundles" / bundle / "configs"
    overrides = json.loads((configs / f"recipe_{recipe}.json").read_text())
    assert overrides == {f"singanseg#{key}": value for key, value in RECIPES[recipe].items()}
    parser = ConfigParser()
    parser.read_config([str(configs / "common.json"), str(configs / f"recipe_{recipe}.json")])
    settings = parser.get_parsed_content("singanseg")
    assert all(getattr(settings, key) == value for key, value in RECIPES[recipe].items())
    listed = parser.config["singanseg"]
    unchanged = [f.name for f in dataclasses.fields(SinGANSegSettings) if f.name not in RECIPES[recipe]]
    assert all(getattr(settings, key) == listed[key] for key in unchanged if not str(listed[key]).startswith(("@", "$")))


def test_fast_recipe_trains_a_multichannel_3d_pyramid():
    from monai_singanseg.engines import train_singanseg

    image = torch.rand(2, 16, 16, 16)
    label = torch.randint(0, 3, (1, 16, 16, 16))
    settings = SinGANSegSettings.from_recipe("fast", min_size=12, max_size=16, iterations=3, finest_iterations=1,
                                             base_features=4, max_features=4, label_encoding="onehot")
    model = train_singanseg(image, label, settings)
    assert model.is_complete and model.in_channels == 2 + 3
    sampled_image, sampled_label = model.decode(model.sample(2, generator=torch.Generator().manual_seed(0)))
    assert sampled_image.shape == (2, 2, 16, 16, 16)
    assert set(sampled_label.unique().tolist()) <= {0, 1, 2}


@pytest.mark.parametrize("bundle", ["endoscopy_polyp_singanseg", "brats_mri_slices_singanseg"])
@pytest.mark.parametrize("recipe", [Recipe.FAST, Recipe.DRAFT])
def test_bundle_recipe_configs_mirror_the_named_recipes(bundle, recipe):
    import json
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "bundles" / bundle / "configs" / f"recipe_{recipe}.json"
    config = json.loads(path.read_text())
    assert {key.removeprefix("singanseg#"): value for key, value in config.items()} == RECIPES[recipe], path
