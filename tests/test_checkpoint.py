from __future__ import annotations

import copy

import pytest
import torch

from monai_singanseg.data.checkpoint import CHECKPOINT_VERSION, CheckpointError, atomic_torch_save, read_checkpoint
from monai_singanseg.engines import train_singanseg
from monai_singanseg.networks import SinGANSeg


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    from monai_singanseg.data.phantom import endoscopy_phantom
    from monai_singanseg.settings import SinGANSegSettings

    settings = SinGANSegSettings(min_size=16, max_size=32, iterations=3, base_features=8, max_features=8, seed=1)
    path = tmp_path_factory.mktemp("model") / "model.pt"
    model = train_singanseg(*endoscopy_phantom(28, 32, seed=3), settings, checkpoint=path)
    return model, path


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


def test_checkpoint_holds_only_tensors_and_plain_data(trained):
    _, path = trained
    payload = torch.load(path, weights_only=True)
    assert payload["format_version"] == CHECKPOINT_VERSION
    assert payload["settings"]["iterations"] == 3 and payload["training"]["complete"] is True


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
