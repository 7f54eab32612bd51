from __future__ import annotations

import copy

import pytest
import torch

from monai_singanseg.data.checkpoint import CHECKPOINT_VERSION, CheckpointError, atomic_torch_save, read_checkpoint
from monai_singanseg.networks import SinGANSeg


@pytest.fixture
def trained(trained_pyramid, trained_pyramid_file):
    """The session's trained pyramid and the checkpoint its training wrote (see conftest.py)."""
    return trained_pyramid, trained_pyramid_file


def test_save_load_round_trip_gives_identical_samples(trained, tmp_path):
    model, _ = trained
    model.save(tmp_path / "copy.pt")
    loaded = SinGANSeg.load(tmp_path / "copy.pt")
    assert loaded.scale_shapes == model.scale_shapes and loaded.layout == model.layout
    for start_scale in (0, 2):
        a = model.sample(2, start_scale, torch.Generator().manual_seed(4))
        b = loaded.sample(2, start_scale, torch.Generator().manual_seed(4))
        assert torch.equal(a, b)
    assert torch.equal(model.reconstruct(), loaded.reconstruct())


def test_checkpoint_holds_only_tensors_and_plain_data(trained, tiny_settings):
    _, path = trained
    payload = torch.load(path, weights_only=True)
    assert payload["format_version"] == CHECKPOINT_VERSION
    assert payload["settings"] == tiny_settings.to_dict() and payload["training"]["complete"] is True


def test_rejects_truncated_checkpoint(trained, tmp_path):
    _, path = trained
    broken = tmp_path / "broken.pt"
    broken.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(CheckpointError, match="truncated or corrupt"):
        SinGANSeg.load(broken)


def test_rejects_corrupt_and_foreign_files(tmp_path):
    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(b"not a checkpoint at all")
    with pytest.raises(CheckpointError):
        SinGANSeg.load(garbage)
    foreign = tmp_path / "foreign.pt"
    torch.save({"state_dict": {}}, foreign)
    with pytest.raises(CheckpointError, match="not a monai_singanseg"):
        SinGANSeg.load(foreign)


def test_rejects_other_checkpoint_version(trained, tmp_path):
    _, path = trained
    payload = torch.load(path, weights_only=True)
    payload["format_version"] = CHECKPOINT_VERSION + 1
    future = tmp_path / "future.pt"
    torch.save(payload, future)
    with pytest.raises(CheckpointError, match="format version"):
        read_checkpoint(future)


def test_missing_checkpoint_names_the_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="nowhere.pt"):
        SinGANSeg.load(tmp_path / "nowhere.pt")


def test_atomic_save_leaves_the_old_file_when_writing_fails(tmp_path):
    path = tmp_path / "model.pt"
    atomic_torch_save({"a": torch.ones(1)}, path)

    class Unpicklable:
        def __reduce__(self):
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        atomic_torch_save({"a": Unpicklable()}, path)
    assert torch.equal(torch.load(path, weights_only=True)["a"], torch.ones(1))
    assert [p.name for p in tmp_path.iterdir()] == ["model.pt"]


@pytest.mark.parametrize("kwargs, message", [
    ({"num_samples": 0}, "num_samples"),
    ({"start_scale": 9}, "start_scale"),
    ({"start_scale": -1}, "start_scale"),
    ({"output_shape": (40, 40), "start_scale": 1}, "start_scale=0"),
])
def test_sampling_rejects_bad_arguments(trained, kwargs, message):
    model, _ = trained
    with pytest.raises(ValueError, match=message):
        model.sample(**kwargs)


def test_samples_at_another_output_shape(trained):
    model, _ = trained
    assert model.sample(2, output_shape=(40, 48)).shape == (2, 4, 40, 48)


def test_start_scale_keeps_samples_closer_to_the_training_image(trained):
    model, _ = trained
    reference = model.reconstruct()
    generator = torch.Generator().manual_seed(0)
    far = (model.sample(8, 0, generator) - reference).pow(2).mean()
    near = (model.sample(8, model.num_scales - 1, generator) - reference).pow(2).mean()
    assert near < far


def test_loaded_model_rejects_wrong_channel_count(trained):
    model, _ = trained
    with pytest.raises(ValueError, match="layout expects 3"):
        model.layout.encode(torch.zeros(1, 28, 32), torch.zeros(1, 28, 32))



def test_cpu_sampling_runs_channels_last_with_the_same_samples(trained):
    model, _ = trained
    assert all(g.head.conv.weight.is_contiguous(memory_format=torch.channels_last) for g in model.generators)
    standard = copy.deepcopy(model)
    standard.generators.to(memory_format=torch.contiguous_format)
    assert standard.generators[0].head.conv.weight.is_contiguous()
    fast = model.sample(3, generator=torch.Generator().manual_seed(2))
    assert fast.is_contiguous()
    torch.testing.assert_close(fast, standard.sample(3, generator=torch.Generator().manual_seed(2)))


# -- unusable checkpoints are refused on load ------------------------------------------------------------------------

def _tiny_payload(tmp_path):
    """The payload of a small untrained two-scale pyramid with settings and a resume state, and its file."""
    from monai_singanseg.data.checkpoint import save_pyramid
    from monai_singanseg.settings import SinGANSegSettings
    from monai_singanseg.utils.layout import ChannelLayout

    layout = ChannelLayout(2, 3, (0.0, 255.0), "binary", (0.0,) * 3, (255.0,) * 3)
    model = SinGANSeg(2, layout, [(12, 12), (16, 16)], 0.75, base_features=4, max_features=4)
    for scale, shape in enumerate(model.scale_shapes):
        model.add_scale(model.build_generator(scale), 0.1, torch.randn(1, 4, *shape))
    settings = SinGANSegSettings(min_size=12, max_size=16, base_features=4, max_features=4)
    critic = {"head.conv.weight": torch.zeros(4, 4, 3, 3)}
    path = tmp_path / "tiny.pt"
    save_pyramid(model, path, settings=settings.to_dict(), training={"critic": critic, "complete": True})
    return torch.load(path, weights_only=True), path


def _nan_in_weight(p):
    p["generators"][1]["head.conv.weight"][0, 0, 0, 0] = float("nan")


def _inf_amplitude(p):
    p["noise_amplitudes"][0] = float("inf")


def _nan_noise(p):
    p["reconstruction_noise"][0][0, 0, 0, 0] = float("nan")


def _nan_in_resume_critic(p):
    p["training"]["critic"]["head.conv.weight"][0] = float("nan")


def _negative_amplitude(p):
    p["noise_amplitudes"][1] = -0.5


def _negative_variance(p):
    p["generators"][0]["head.adn.N.running_var"][0] = -1.0


def _one_noise_short(p):
    p["reconstruction_noise"].pop()


def _fewer_scales_in_config(p):
    p["config"]["scale_shapes"] = p["config"]["scale_shapes"][:1]


def _noise_of_another_shape(p):
    p["reconstruction_noise"][1] = torch.zeros(1, 4, 15, 16)


def _other_widths_in_config(p):
    p["config"]["base_features"] = p["config"]["max_features"] = 8
    p["settings"]["base_features"] = p["settings"]["max_features"] = 8


def _settings_disagree_with_config(p):
    p["settings"]["num_layers"] = 4


def _invalid_settings(p):
    p["settings"]["min_size"] = 3


def _invalid_layout(p):
    p["config"]["layout"]["label_encoding"] = "multiclass"


def _non_finite_intensity(p):
    p["config"]["layout"]["intensity_max"] = [255.0, float("inf"), 255.0]


def _missing_config_key(p):
    del p["config"]["scale_shapes"]


def _generators_not_a_list(p):
    p["generators"] = {"0": p["generators"][0]}


def _missing_generators(p):
    del p["generators"]


def _shrinking_scales(p):
    p["config"]["scale_shapes"] = [[16, 16], [12, 12]]


@pytest.mark.parametrize("corrupt, message", [
    (_nan_in_weight, r"is not usable: generators\[1\]\['head.conv.weight'\] holds NaN or Inf"),
    (_inf_amplitude, r"is not usable: noise_amplitudes holds NaN or Inf"),
    (_nan_noise, r"is not usable: reconstruction_noise\[0\] holds NaN or Inf"),
    (_nan_in_resume_critic, r"is not usable: training\['critic'\]\['head.conv.weight'\] holds NaN or Inf"),
    (_negative_amplitude, r"noise amplitudes must be >= 0"),
    (_negative_variance, r"generator 0's head.adn.N.running_var holds negative variances"),
    (_one_noise_short, r"disagree on the number of trained scales \(generators: 2, noise_amplitudes: 2, "
                       r"reconstruction_noise: 1\)"),
    (_fewer_scales_in_config, r"holds 2 trained scales, its config only 1"),
    (_noise_of_another_shape, r"reconstruction noise of scale 1 has shape \(1, 4, 15, 16\), its config needs "
                              r"\(1, 4, 16, 16\)"),
    (_other_widths_in_config, r"generator 0's head.conv.weight has shape \(4, 4, 3, 3\), its config needs "
                              r"\(8, 4, 3, 3\)"),
    (_settings_disagree_with_config, r"its settings and its config disagree on num_layers"),
    (_invalid_settings, r"invalid training settings: min_size=3 is out of range: min_size must be >= 11"),
    (_invalid_layout, r"invalid channel layout"),
    (_non_finite_intensity, r"invalid channel layout: intensity_max .* must be finite"),
    (_missing_config_key, r"invalid config: it lacks \['scale_shapes'\]"),
    (_generators_not_a_list, r"its generators is a dict, not a list"),
    (_missing_generators, r"it lacks generators"),
    (_shrinking_scales, r"invalid config: scale_shapes must not shrink"),
])
def test_rejects_checkpoints_with_unusable_values(tmp_path, corrupt, message):
    payload, path = _tiny_payload(tmp_path)
    assert SinGANSeg.load(path).num_trained_scales == 2
    corrupt(payload)
    broken = tmp_path / "broken.pt"
    torch.save(payload, broken)
    with pytest.raises(CheckpointError, match=message) as error:
        SinGANSeg.load(broken)
    assert str(broken) in str(error.value)


def test_reading_the_header_with_mmap_leaves_values_to_the_pyramid_check(tmp_path):
    from monai_singanseg.data.checkpoint import pyramid_from_payload

    payload, _ = _tiny_payload(tmp_path)
    _nan_in_weight(payload)
    broken = tmp_path / "broken.pt"
    torch.save(payload, broken)
    with pytest.raises(CheckpointError, match="NaN or Inf"):
        read_checkpoint(broken)
    header = read_checkpoint(broken, mmap=True)
    assert len(header["generators"]) == 2
    with pytest.raises(CheckpointError, match="NaN or Inf"):
        pyramid_from_payload(header, source=str(broken))


def test_checkpoint_error_is_a_value_error_so_the_cli_prints_one_line():
    assert issubclass(CheckpointError, ValueError)


def _empty(path, marker):
    path.write_bytes(b"")


def _text(path, marker):
    path.write_text("these are not the weights you are looking for\n")


def _truncated(path, marker):
    torch.save({"a": torch.ones(100)}, path)
    path.write_bytes(path.read_bytes()[:200])


def _code(path, marker):
    import os

    class RunsCode:
        def __reduce__(self):
            return os.system, (f"touch {marker}",)

    torch.save({"format": "monai_singanseg.pyramid", "payload": RunsCode()}, path)


@pytest.mark.parametrize("write, message", [
    (_empty, "the file is empty"),
    (_text, "truncated or corrupt, or not written by torch.save"),
    (_truncated, "truncated or corrupt"),
    (_code, r"pickled Python objects \((posix|os|nt).system\) besides tensors and plain data, which are refused"),
])
def test_unreadable_checkpoints_say_why_without_torchs_weights_only_advice(tmp_path, write, message):
    path, marker = tmp_path / "bad.pt", tmp_path / "ran"
    write(path, marker)
    with pytest.raises(CheckpointError, match=message) as error:
        SinGANSeg.load(path)
    assert str(path) in str(error.value) and "weights_only" not in str(error.value)
    assert "\n" not in str(error.value)
    assert not marker.exists()


def test_checkpoint_path_of_the_wrong_type_is_a_type_error():
    with pytest.raises(TypeError, match="checkpoint path must be a str or os.PathLike, got int"):
        SinGANSeg.load(3)
