"""The fleet engine: every checkpoint written through PyramidCheckpoint, reported to a callback, one schema."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from monai_singanseg.data.checkpoint import read_checkpoint
from monai_singanseg.data.io import load_training_pair
from monai_singanseg.data.phantom import endoscopy_phantom
from monai_singanseg.engines import SinGANSegTrainer, train_batched
from monai_singanseg.engines.fleet import FleetModel, train_fleet_batch, train_many
from monai_singanseg.handlers import PyramidCheckpoint
from monai_singanseg.settings import SinGANSegSettings
from monai_singanseg.utils.layout import ChannelLayout
from monai_singanseg.utils.pyramid import compute_pyramid

# A pyramid of 16x18 .. 28x32 that trains in well under a second.
SETTINGS = SinGANSegSettings(min_size=16, max_size=32, iterations=2, base_features=8, max_features=8, seed=5)
NUM_SCALES = compute_pyramid((28, 32), SETTINGS.min_size, SETTINGS.max_size, SETTINGS.scale_factor).num_scales


@pytest.fixture(autouse=True)
def _one_thread():
    torch.set_num_threads(1)


def _dataset(folder: Path, ids: list[str]) -> Path:
    (folder / "images").mkdir(parents=True)
    (folder / "masks").mkdir()
    for seed, image_id in enumerate(ids):
        image, mask = endoscopy_phantom(28, 32, seed=seed)
        Image.fromarray(np.moveaxis(image, 0, -1)).save(folder / "images" / f"{image_id}.png")
        Image.fromarray(mask[0]).save(folder / "masks" / f"{image_id}.png")
    return folder


@pytest.mark.parametrize("models_per_batch, writes", [
    (1, ["p1.pt"] * NUM_SCALES + ["p2.pt"] * NUM_SCALES),  # alone: after every scale, resumable
    (2, ["p1.pt", "p2.pt"]),  # together: each model once, complete
], ids=["alone", "together"])
def test_callback_sees_every_checkpoint_write_in_order(tmp_path, models_per_batch, writes):
    written: list[Path] = []
    train_many(_dataset(tmp_path / "data", ["p1", "p2"]), tmp_path / "bank", SETTINGS, models_per_batch,
               on_checkpoint=written.append)
    assert [p.name for p in written] == writes


def test_a_model_trained_in_a_batch_is_saved_as_its_own_finished_run(tmp_path):
    pairs = [endoscopy_phantom(28, 32, seed=s) for s in (1, 2)]
    paths = [tmp_path / "a.pt", tmp_path / "b.pt"]
    train_batched([p[0] for p in pairs], [p[1] for p in pairs], SETTINGS, seeds=[11, 12], checkpoints=paths,
                  metadata=[{"image_id": "a"}, {"image_id": "b"}])
    payload = read_checkpoint(paths[1])
    assert payload["metadata"] == {"image_id": "b"} and payload["settings"]["seed"] == 12
    assert payload["training"]["seeds"] == [12] and payload["training"]["models_in_batch"] == 2
    assert payload["training"]["complete"] is True and payload["training"]["settings"] == payload["settings"]
    # The single-model trainer of that image and seed accepts the file as its own finished run.
    layout = ChannelLayout.from_data(*pairs[1])
    alone = SinGANSegTrainer(layout.encode(*pairs[1]), layout, replace(SETTINGS, seed=12))
    assert PyramidCheckpoint(alone, paths[1]).resume() == NUM_SCALES


def test_fleet_batch_groups_by_channel_count_and_trains_lone_members_alone(tmp_path):
    image, mask = endoscopy_phantom(28, 32, seed=3)
    Image.fromarray(np.moveaxis(image, 0, -1)).save(tmp_path / "rgb.png")
    Image.fromarray(image[0]).save(tmp_path / "grey.png")
    Image.fromarray(mask[0]).save(tmp_path / "mask.png")
    models = [FleetModel(tmp_path / f"{name}.pt", seed, *load_training_pair(tmp_path / f"{name}.png",
                                                                            tmp_path / "mask.png")[:2])
              for seed, name in enumerate(["rgb", "grey", "rgb"])]
    models[2] = replace(models[2], checkpoint=tmp_path / "rgb2.pt")
    records = train_fleet_batch(models, SETTINGS)
    assert [(r.checkpoint.name, r.models_in_batch) for r in records] == [("rgb.pt", 2), ("rgb2.pt", 2), ("grey.pt", 1)]


def test_rejects_checkpoints_that_do_not_match_the_models(tmp_path):
    pairs = [endoscopy_phantom(28, 32, seed=s) for s in (1, 2)]
    with pytest.raises(ValueError, match="one file per image"):
        train_batched([p[0] for p in pairs], [p[1] for p in pairs], SETTINGS, checkpoints=[tmp_path / "a.pt"])
    layouts = [ChannelLayout.from_data(*p) for p in pairs]
    trainer = SinGANSegTrainer([lay.encode(*p) for lay, p in zip(layouts, pairs)], layouts, SETTINGS)
    with pytest.raises(ValueError, match="one checkpoint path"):
        PyramidCheckpoint(trainer, tmp_path / "a.pt")
    with pytest.raises(ValueError, match="model must be an index"):
        trainer.state_dict(2)
