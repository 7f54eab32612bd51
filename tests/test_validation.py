"""Every public argument and setting is checked by one set of rules, in the API and on the command line alike."""

from __future__ import annotations

import argparse
import dataclasses
import math

import numpy as np
import pytest
import torch

from monai_singanseg.cli.settings_args import add_settings_arguments, settings_from_arguments
from monai_singanseg.engines.batched import train_batched
from monai_singanseg.networks import SinGANDiscriminator, SinGANGenerator, SinGANSeg
from monai_singanseg.settings import SinGANSegSettings, available_device, validate_settings
from monai_singanseg.utils.layout import ChannelLayout
from monai_singanseg.utils.pyramid import smallest_scale_size


def _parse(*flags: str) -> SinGANSegSettings:
    parser = argparse.ArgumentParser()
    add_settings_arguments(parser)
    return settings_from_arguments(parser.parse_args(list(flags)))


# -- settings: ranges ------------------------------------------------------------------------------------------------

OUT_OF_RANGE = [
    ("min_size", 0, r">= 1"),
    ("max_size", 20, r">= 25 \(min_size is 25\)"),
    ("scale_factor", 1.0, r"in \(0, 1\)"),
    ("scale_factor", 0.0, r"in \(0, 1\)"),
    ("num_layers", 2, r">= 3"),
    ("kernel_size", 4, r"odd integer >= 1"),
    ("kernel_size", 0, r">= 1"),
    ("base_features", 0, r">= 1"),
    ("max_features", 16, r">= 32 \(base_features is 32\)"),
    ("iterations", 0, r">= 1"),
    ("finest_iterations", -1, r">= 0"),
    ("finest_iterations", 2001, r"\[0, iterations\] = \[0, 2000\]"),
    ("lr_generator", 0.0, r"finite number > 0"),
    ("lr_generator", math.inf, r"finite number > 0"),
    ("lr_critic", -1e-4, r"finite number > 0"),
    ("beta1", 1.0, r"in \[0, 1\)"),
    ("beta1", -0.1, r"in \[0, 1\)"),
    ("lr_decay", 0.0, r"in \(0, 1\]"),
    ("lr_decay", 1.5, r"in \(0, 1\]"),
    ("lr_decay_fraction", 1.1, r"in \[0, 1\]"),
    ("critic_steps", 0, r">= 1"),
    ("generator_steps", 0, r">= 1"),
    ("gradient_penalty_weight", -0.1, r"finite number >= 0"),
    ("gradient_penalty_interval", 0, r">= 1"),
    ("reconstruction_interval", 0, r">= 1"),
    ("reconstruction_weight", math.nan, r"finite number >= 0"),
    ("noise_amplitude_factor", -1.0, r"finite number >= 0"),
    ("seed", 2**64, r"in \[-9223372036854775808, 18446744073709551614\]"),
    ("label_encoding", "multiclass", r"one of auto, binary, onehot, spread"),
    ("device", "gpu", r"'cpu', 'cuda', 'cuda:<index>'"),
    ("device", "cuda:x", r"'cpu', 'cuda', 'cuda:<index>'"),
    ("device", "", r"'cpu', 'cuda', 'cuda:<index>'"),
]


@pytest.mark.parametrize("name, value, valid", OUT_OF_RANGE)
def test_settings_refuse_values_out_of_range_naming_field_value_and_range(name, value, valid):
    with pytest.raises(ValueError, match=rf"^{name}={value!r}.*{name} must .*{valid}"):
        SinGANSegSettings(**{name: value})


WRONG_TYPES = [
    ("iterations", 2.5, "an integer"),
    ("iterations", "3", "an integer"),
    ("iterations", True, "an integer"),
    ("seed", 1.0, "an integer"),
    ("warm_start", "yes", "True or False"),
    ("reference_batchnorm_statistics", 1, "True or False"),
    ("lr_generator", "5e-4", "a number"),
    ("beta1", False, "a number"),
    ("label_encoding", 2, "a string"),
    ("device", 0, "a string"),
]


@pytest.mark.parametrize("name, value, kind", WRONG_TYPES)
def test_settings_refuse_values_of_the_wrong_type(name, value, kind):
    with pytest.raises(TypeError, match=rf"^{name}={value!r}: {name} must be {kind}, got {type(value).__name__}"):
        SinGANSegSettings(**{name: value})


def test_numpy_scalars_and_ints_become_the_fields_python_types():
    settings = SinGANSegSettings(iterations=np.int64(30), reconstruction_weight=10, warm_start=np.bool_(False),
                                 device=torch.device("cpu"))
    assert type(settings.iterations) is int and type(settings.reconstruction_weight) is float
    assert settings.warm_start is False and settings.device == "cpu"
    assert settings == SinGANSegSettings(iterations=30, warm_start=False)


def test_default_settings_are_unchanged_by_validation():
    defaults = {f.name: f.default for f in dataclasses.fields(SinGANSegSettings)}
    assert SinGANSegSettings().to_dict() == defaults
    assert all(type(v) is type(defaults[k]) for k, v in SinGANSegSettings().to_dict().items())


def test_from_dict_refuses_something_other_than_a_mapping():
    with pytest.raises(TypeError, match="settings must be a mapping"):
        SinGANSegSettings.from_dict([("iterations", 3)])


# -- settings: the smallest scale ------------------------------------------------------------------------------------

@pytest.mark.parametrize("num_layers, kernel_size, smallest", [(5, 3, 11), (3, 3, 7), (4, 3, 9), (3, 5, 13), (3, 1, 2)])
def test_min_size_below_what_the_critic_needs_is_refused_naming_the_smallest_valid_value(
    num_layers, kernel_size, smallest
):
    assert smallest_scale_size(num_layers, kernel_size) == smallest
    SinGANSegSettings(min_size=smallest, num_layers=num_layers, kernel_size=kernel_size)
    with pytest.raises(ValueError, match=rf"min_size={smallest - 1} is out of range: min_size must be >= {smallest} "
                                         r"\(the critic's"):
        SinGANSegSettings(min_size=smallest - 1, num_layers=num_layers, kernel_size=kernel_size)


@pytest.mark.parametrize("num_layers, kernel_size", [(5, 3), (3, 5), (4, 3)])
def test_critic_needs_exactly_the_smallest_scale_size(num_layers, kernel_size):
    smallest = smallest_scale_size(num_layers, kernel_size)
    critic = SinGANDiscriminator(2, 4, features=4, num_layers=num_layers, kernel_size=kernel_size)
    assert critic(torch.zeros(1, 4, smallest, smallest)).shape == (1, 1, 1, 1)
    with pytest.raises(RuntimeError):
        critic(torch.zeros(1, 4, smallest - 1, smallest - 1))


def test_a_pyramid_whose_coarsest_side_is_the_smallest_valid_min_size_trains(phantom_pair):
    from monai_singanseg.engines import train_singanseg

    settings = SinGANSegSettings(min_size=11, max_size=32, iterations=1, base_features=4, max_features=4)
    model = train_singanseg(*phantom_pair, settings)
    assert model.is_complete and min(model.scale_shapes[0]) == 11


# -- settings on the command line ------------------------------------------------------------------------------------

@pytest.mark.parametrize("flags, message", [
    (("--min-size", "3"), r"^--min-size 3 is out of range: --min-size must be >= 11 \(the critic's 5 unpadded 3x3 "
                          r"convolutions need --num-layers x \(--kernel-size - 1\) \+ 1 pixels"),
    (("--max-size", "10"), r"^--max-size 10 is out of range: --max-size must be >= 25 \(--min-size is 25\)"),
    (("--beta1", "1"), r"^--beta1 1.0 is out of range: --beta1 must be a finite number in \[0, 1\)"),
    (("--lr-generator", "nan"), r"^--lr-generator nan is out of range"),
    (("--device", "gpu"), r"^--device gpu is not a torch device: --device must be 'cpu', 'cuda', 'cuda:<index>'"),
])
def test_cli_refuses_the_same_values_naming_the_flags(flags, message):
    with pytest.raises(ValueError, match=message):
        _parse(*flags)


@pytest.mark.parametrize("name, value, valid", OUT_OF_RANGE)
def test_cli_and_dataclass_share_one_set_of_rules(name, value, valid):
    with pytest.raises(ValueError) as from_fields:
        validate_settings({**SinGANSegSettings().to_dict(), name: value})
    with pytest.raises(ValueError) as from_flags:
        validate_settings({**SinGANSegSettings().to_dict(), name: value}, as_flags=True)
    flag = "--" + name.replace("_", "-")
    assert str(from_flags.value).startswith(f"{flag} {value}")
    assert flag in str(from_flags.value) and f"{name}=" not in str(from_flags.value)
    assert str(from_fields.value).startswith(f"{name}={value!r}")


@pytest.fixture
def no_cuda(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.cuda, "is_built", lambda: False)


def test_settings_accept_a_gpu_device_this_machine_lacks(no_cuda):
    # A checkpoint trained on a GPU machine keeps settings.device="cuda" and still loads here.
    assert SinGANSegSettings(device="cuda:1").device == "cuda:1"


def test_training_on_cuda_without_cuda_is_one_clear_error(no_cuda):
    with pytest.raises(ValueError) as error:
        available_device("cuda")
    assert str(error.value) == f"device='cuda': this torch has no CUDA (torch {torch.__version__}); use device='cpu'"
    assert available_device("cpu") == torch.device("cpu")


def test_a_cuda_index_beyond_the_machines_devices_is_refused(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    assert available_device("cuda:1", "--device") == torch.device("cuda", 1)
    with pytest.raises(ValueError, match=r"^--device cuda:2: this machine has 2 CUDA devices, cuda:0 to cuda:1\.$"):
        available_device("cuda:2", "--device")


def test_cli_device_without_cuda_is_one_line_with_exit_status_2(no_cuda, phantom_pair, tmp_path, capsys):
    from PIL import Image

    from monai_singanseg.cli import main

    with pytest.raises(ValueError, match=r"^--device cuda: this torch has no CUDA .*; use --device cpu$"):
        _parse("--device", "cuda")
    image, mask = phantom_pair
    Image.fromarray(np.moveaxis(image, 0, -1)).save(tmp_path / "image.png")
    Image.fromarray(mask[0]).save(tmp_path / "mask.png")
    code = main(["train", "--image", str(tmp_path / "image.png"), "--label", str(tmp_path / "mask.png"),
                 "--out", str(tmp_path / "m.pt"), "--device", "cuda", "--quiet"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert err == [f"monai-singanseg train: error: --device cuda: this torch has no CUDA (torch {torch.__version__}); "
                   "use --device cpu"]


# -- the pyramid's public methods ------------------------------------------------------------------------------------

@pytest.fixture
def pyramid() -> SinGANSeg:
    """An untrained two-scale pyramid: fast, and enough to exercise every argument check."""
    layout = ChannelLayout(2, 3, (0.0, 255.0), "binary", (0.0,) * 3, (255.0,) * 3, "uint8", "uint8")
    model = SinGANSeg(2, layout, [(12, 12), (16, 16)], 0.75, base_features=4, max_features=4)
    for scale, shape in enumerate(model.scale_shapes):
        model.add_scale(model.build_generator(scale), 0.1, torch.randn(1, 4, *shape))
    return model


@pytest.mark.parametrize("kwargs, error, message", [
    ({"num_samples": 0}, ValueError, r"num_samples must be an integer >= 1, got 0"),
    ({"num_samples": -3}, ValueError, r"num_samples must be an integer >= 1"),
    ({"num_samples": 2.5}, TypeError, r"num_samples must be an integer >= 1, got 2.5 \(float\)"),
    ({"num_samples": "2"}, TypeError, r"num_samples must be an integer"),
    ({"start_scale": 2}, ValueError, r"start_scale must be an integer in 0..1, got 2"),
    ({"start_scale": -1}, ValueError, r"start_scale must be an integer in 0..1"),
    ({"start_scale": 1.0}, TypeError, r"start_scale must be an integer in 0..1"),
    ({"generator": 3}, TypeError, r"generator must be a torch.Generator or None"),
    ({"output_shape": (16,)}, ValueError, r"output_shape must have 2 dimensions"),
    ({"output_shape": (0, 16)}, ValueError, r"output_shape\[0\] must be an integer >= 1, got 0"),
    ({"output_shape": (16.5, 16)}, TypeError, r"output_shape\[0\] must be an integer >= 1"),
    ({"output_shape": "16x16"}, TypeError, r"output_shape must be a sequence of 2 sizes"),
])
def test_sample_refuses_arguments_out_of_range_naming_them(pyramid, kwargs, error, message):
    with pytest.raises(error, match=message):
        pyramid.sample(**kwargs)


def test_sample_accepts_numpy_integers(pyramid):
    assert pyramid.sample(np.int64(2), np.int64(1)).shape == (2, 4, 16, 16)


@pytest.mark.parametrize("num_scales, error", [(0, ValueError), (3, ValueError), (1.5, TypeError)])
def test_reconstruct_refuses_a_scale_count_outside_the_trained_scales(pyramid, num_scales, error):
    with pytest.raises(error, match=r"num_scales must be an integer in 1..2"):
        pyramid.reconstruct(num_scales)
    assert pyramid.reconstruct(1).shape == (1, 4, 12, 12)


def test_decode_refuses_what_is_not_a_stack(pyramid):
    with pytest.raises(TypeError, match="stack must be a tensor"):
        pyramid.decode(np.zeros((1, 4, 16, 16)))
    with pytest.raises(ValueError, match=r"stack must have shape \(N, 4, \*spatial\)"):
        pyramid.decode(torch.zeros(4, 16))
    with pytest.raises(ValueError, match="layout expects 4"):
        pyramid.decode(torch.zeros(1, 3, 16, 16))


def test_run_scales_refuses_noise_of_another_shape(pyramid):
    with pytest.raises(ValueError, match=r"noise map 0 must have shape \(N, 4, 12, 12\)"):
        pyramid.run_scales([torch.zeros(1, 4, 11, 12)], pyramid.scale_shapes)
    with pytest.raises(ValueError, match=r"noises must hold 1..2 maps"):
        pyramid.run_scales([torch.zeros(1, 4, 12, 12)] * 3, pyramid.scale_shapes)


def test_a_complete_pyramid_takes_no_more_scales(pyramid):
    with pytest.raises(ValueError, match="already has all its 2 scales"):
        pyramid.add_scale(pyramid.build_generator(1), 0.1, torch.zeros(1, 4, 16, 16))


@pytest.mark.parametrize("amplitude, noise_shape, message", [
    (0.1, (1, 4, 11, 12), r"reconstruction noise of scale 0 must have shape \(1, 4, 12, 12\)"),
    (-0.1, (1, 4, 12, 12), "noise_amplitude of scale 0 must be one finite number >= 0"),
    (math.nan, (1, 4, 12, 12), "noise_amplitude of scale 0 must be one finite number >= 0"),
    (torch.ones(2), (1, 4, 12, 12), "noise_amplitude of scale 0 must be one finite number >= 0"),
])
def test_add_scale_refuses_unusable_noise(amplitude, noise_shape, message):
    layout = ChannelLayout(2, 3, (0.0, 255.0), "binary", (0.0,) * 3, (255.0,) * 3)
    model = SinGANSeg(2, layout, [(12, 12), (16, 16)], 0.75, base_features=4, max_features=4)
    with pytest.raises(ValueError, match=message):
        model.add_scale(model.build_generator(0), amplitude, torch.zeros(noise_shape))
    assert model.num_trained_scales == 0


@pytest.mark.parametrize("kwargs, error, message", [
    ({"scale_shapes": []}, ValueError, "scale_shapes must be a non-empty sequence"),
    ({"scale_shapes": [(16, 16), (12, 12)]}, ValueError, "must not shrink from coarse to fine"),
    ({"scale_shapes": [(12, 12, 12)]}, ValueError, r"scale_shapes\[0\] must have 2 dimensions"),
    ({"scale_factor": 0.0}, ValueError, r"scale_factor must lie in \(0, 1\]"),
    ({"scale_factor": math.nan}, ValueError, r"scale_factor must lie in \(0, 1\]"),
    ({"scale_factor": "0.75"}, TypeError, "scale_factor must be a number"),
    ({"num_layers": 2}, ValueError, r"num_layers=2 is out of range: num_layers must be an integer >= 3"),
    ({"kernel_size": 2}, ValueError, r"kernel_size=2 is out of range: kernel_size must be an odd integer"),
    ({"max_features": 2}, ValueError, r"max_features=2 is out of range: max_features must be >= 4"),
    ({"spatial_dims": 1}, ValueError, "spatial_dims must be 2 or 3"),
    ({"layout": {"spatial_dims": 2}}, TypeError, "layout must be a ChannelLayout"),
])
def test_pyramid_refuses_an_unusable_config(kwargs, error, message):
    layout = ChannelLayout(2, 3, (0.0, 255.0), "binary", (0.0,) * 3, (255.0,) * 3)
    arguments = {"spatial_dims": 2, "layout": layout, "scale_shapes": [(12, 12), (16, 16)], "scale_factor": 0.75,
                 "base_features": 4, "max_features": 4, **kwargs}
    with pytest.raises(error, match=message):
        SinGANSeg(**arguments)


def test_build_generator_refuses_a_scale_beyond_the_pyramid(pyramid):
    with pytest.raises(ValueError, match=r"scale must be an integer in 0..1, got 2"):
        pyramid.build_generator(2)


@pytest.mark.parametrize("kwargs, message", [
    ({"kernel_size": 2}, "kernel_size must be an odd integer >= 1"),
    ({"features": 0}, "features must be at least 1"),
    ({"in_channels": 0}, "in_channels must be at least 1"),
    ({"num_models": 0}, "num_models must be at least 1"),
    ({"num_layers": 2}, "num_layers must be at least 3"),
])
def test_networks_refuse_sizes_out_of_range(kwargs, message):
    arguments = {"spatial_dims": 2, "in_channels": 4, "features": 4, **kwargs}
    for network in (SinGANGenerator, SinGANDiscriminator):
        with pytest.raises(ValueError, match=message):
            network(**arguments)


# -- train_batched ---------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("kwargs, error, message", [
    ({"settings": {"iterations": 3}}, TypeError, "settings must be a SinGANSegSettings or None, got dict"),
    ({"seeds": [1]}, ValueError, "seeds must give one seed per image: 1 seeds for 2 images"),
    ({"seeds": [1, 2.5]}, TypeError, r"seeds\[1\]: seed=2.5: seed must be an integer"),
    ({"seeds": 7}, TypeError, "seeds must be a sequence"),
    ({"images": []}, ValueError, "images must hold at least one image"),
])
def test_train_batched_refuses_arguments_before_training(phantom_pair, kwargs, error, message):
    arguments = {"images": [phantom_pair[0]] * 2, "labels": [phantom_pair[1]] * 2, **kwargs}
    with pytest.raises(error, match=message):
        train_batched(**arguments)
