from __future__ import annotations

import argparse
import copy
import json
import shutil

import numpy as np
import pytest
import torch
from monai.data import load_decathlon_datalist
from monai.networks.nets import BasicUNet
from monai.transforms import Compose, EnsureChannelFirstd, LoadImaged, ScaleIntensityd
from PIL import Image

from monai_singanseg.cli import generate
from monai_singanseg.data.bank import SinGANSegBank
from monai_singanseg.data.phantom import endoscopy_phantom
from monai_singanseg.engines import train_singanseg
from monai_singanseg.settings import SinGANSegSettings

TINY = SinGANSegSettings(min_size=24, max_size=32, iterations=10, base_features=8, max_features=8)


@pytest.fixture(scope="module")
def bank_dir(tmp_path_factory):
    """Two pyramids: ``polyp_a`` trained on a 28x32 phantom, ``polyp_b`` a perturbed copy."""
    folder = tmp_path_factory.mktemp("bank")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # convolutions this small gain nothing from threads, only synchronisation
    try:
        model = train_singanseg(*endoscopy_phantom(28, 32, seed=3), TINY)
    finally:
        torch.set_num_threads(threads)
    other = copy.deepcopy(model)
    other.generators[-1].tail[0].conv.bias.add_(0.3)
    for name, pyramid in (("polyp_a", model), ("polyp_b", other)):
        pyramid.save(str(folder / f"{name}.pt"), metadata={"image_id": name, "file_format": "png"})
    return folder


def run_cli(argv: list[str]) -> int:
    """The command as ``monai-singanseg`` wires it."""
    parser = argparse.ArgumentParser()
    generate.add_parser(parser.add_subparsers())
    args = parser.parse_args(argv)
    return args.run(args)


def test_writes_pairs_a_monai_datalist_and_a_grid_that_train_a_unet(bank_dir, tmp_path):
    out = tmp_path / "synthetic"
    assert run_cli(["generate", "--bank", str(bank_dir), "--per-model", "2", "--seed", "3", "--out", str(out),
                    "--quiet"]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["datalist.json", "grid.png", "samples"]
    assert sorted(p.name for p in (out / "samples").iterdir()) == ["polyp_a", "polyp_b"]
    assert np.asarray(Image.open(out / "grid.png")).ndim == 3
    datalist = load_decathlon_datalist(str(out / "datalist.json"), data_list_key="training")
    assert [(d["source_id"], d["index"]) for d in datalist] == [("polyp_a", 0), ("polyp_a", 1), ("polyp_b", 0),
                                                                ("polyp_b", 1)]
    assert datalist[0]["image"] == str(out / "samples" / "polyp_a" / "sample_0000_image.png")

    keys = ["image", "label"]
    load = Compose([LoadImaged(keys=keys), EnsureChannelFirstd(keys=keys), ScaleIntensityd(keys="image")])
    batch = [load(item) for item in datalist]
    images = torch.stack([b["image"].as_tensor() for b in batch])
    labels = torch.stack([(b["label"] > 0).long().as_tensor()[0] for b in batch])
    assert images.shape == (4, 3, 32, 28)
    assert set(torch.stack([b["label"] for b in batch]).unique().tolist()) <= {0, 255}
    net = BasicUNet(spatial_dims=2, in_channels=3, out_channels=2, features=(4, 4, 4, 4, 4, 4))
    optimiser = torch.optim.SGD(net.parameters(), lr=0.1)
    loss = torch.nn.functional.cross_entropy(net(images), labels)
    loss.backward()
    optimiser.step()
    assert torch.isfinite(loss)


def test_rerun_redoes_only_the_models_whose_outputs_are_incomplete(bank_dir, tmp_path):
    out = tmp_path / "synthetic"
    bank = SinGANSegBank(bank_dir)
    first = generate.generate_dataset(bank, out, per_model=2)
    assert first.generated == ["polyp_a", "polyp_b"] and first.num_pairs == 4
    kept = {p: p.stat().st_mtime_ns for p in (out / "samples" / "polyp_a").iterdir()}
    redone = (out / "samples" / "polyp_b" / "sample_0001_image.png").read_bytes()
    shutil.rmtree(out / "samples" / "polyp_b")
    second = generate.generate_dataset(bank, out, per_model=2)
    assert second.generated == ["polyp_b"] and second.skipped == ["polyp_a"] and second.num_pairs == 4
    assert {p: p.stat().st_mtime_ns for p in (out / "samples" / "polyp_a").iterdir()} == kept
    assert (out / "samples" / "polyp_b" / "sample_0001_image.png").read_bytes() == redone
    assert len(json.loads((out / "datalist.json").read_text())["training"]) == 4
    third = generate.generate_dataset(bank, out, per_model=3)  # other settings: the old folders are not complete
    assert third.generated == ["polyp_a", "polyp_b"] and not any((out / "samples").glob(".*.partial"))


def test_rejects_bad_settings_naming_them(bank_dir, tmp_path):
    with pytest.raises(ValueError, match="per_model"):
        generate.generate_dataset(SinGANSegBank(bank_dir), tmp_path, per_model=0)
    with pytest.raises(ValueError, match="start_scale"):
        generate.generate_dataset(SinGANSegBank(bank_dir), tmp_path, per_model=1, start_scale=9)


def test_help_describes_every_option(capsys):
    with pytest.raises(SystemExit):
        run_cli(["generate", "--help"])
    text = capsys.readouterr().out
    assert all(flag in text for flag in ("--bank", "--per-model", "--start-scale", "--seed", "--device", "--out"))
