from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from monai.data import load_decathlon_datalist
from PIL import Image

from monai_singanseg.cli import main
from monai_singanseg.networks import SinGANSeg

TINY = ["--min-size", "16", "--max-size", "32", "--iterations", "2", "--base-features", "8", "--max-features", "8"]


@pytest.fixture
def pair_files(tmp_path, phantom_pair):
    image, mask = phantom_pair
    Image.fromarray(np.moveaxis(image, 0, -1)).save(tmp_path / "polyp.png")
    Image.fromarray(mask[0]).save(tmp_path / "polyp_mask.png")
    return tmp_path / "polyp.png", tmp_path / "polyp_mask.png"


def test_train_then_sample_writes_pairs_grid_and_datalist(tmp_path, pair_files):
    image, mask = pair_files
    model_path = tmp_path / "polyp.pt"
    assert main(["train", "--image", str(image), "--label", str(mask), "--out", str(model_path), "--quiet",
                 "--seed", "3", *TINY]) == 0
    model = SinGANSeg.load(model_path)
    assert model.is_complete and torch.load(model_path, weights_only=True)["settings"]["seed"] == 3

    out = tmp_path / "samples"
    assert main(["sample", "--model", str(model_path), "--num-samples", "3", "--seed", "1", "--out", str(out)]) == 0
    written = sorted(p.name for p in out.iterdir())
    assert written == ["datalist.json", "grid.png", *[f"sample_{i:04d}_{k}.png" for i in range(3) for k in ("image", "label")]]
    label = np.asarray(Image.open(out / "sample_0000_label.png"))
    assert set(np.unique(label).tolist()) <= {0, 255}
    assert np.asarray(Image.open(out / "sample_0000_image.png")).shape == (28, 32, 3)
    datalist = load_decathlon_datalist(str(out / "datalist.json"), data_list_key="training", base_dir=str(out))
    assert len(datalist) == 3 and datalist[0]["source_id"] == "polyp"
    assert json.loads((out / "datalist.json").read_text())["training"][0]["source_image"] == str(image)


def test_same_seed_gives_same_files(tmp_path, pair_files):
    image, mask = pair_files
    model_path = tmp_path / "m.pt"
    main(["train", "--image", str(image), "--label", str(mask), "--out", str(model_path), "--quiet", *TINY])
    for name in ("a", "b"):
        main(["sample", "--model", str(model_path), "--num-samples", "2", "--seed", "5", "--out", str(tmp_path / name)])
    for f in ("sample_0001_image.png", "sample_0001_label.png"):
        assert (tmp_path / "a" / f).read_bytes() == (tmp_path / "b" / f).read_bytes()


def test_bad_input_prints_one_clear_line(tmp_path, pair_files, capsys):
    image, _ = pair_files
    code = main(["train", "--image", str(image), "--label", str(tmp_path / "nope.png"), "--out", str(tmp_path / "m.pt")])
    assert code == 2
    err = capsys.readouterr().err
    assert "label file" in err and "nope.png" in err and "Traceback" not in err


def test_rejects_invalid_setting_with_its_name(tmp_path, pair_files, capsys):
    image, mask = pair_files
    code = main(["train", "--image", str(image), "--label", str(mask), "--out", str(tmp_path / "m.pt"),
                 "--scale-factor", "1.5"])
    assert code == 2 and "scale_factor" in capsys.readouterr().err


@pytest.mark.parametrize("command", ["train", "sample", "demo"])
def test_help_describes_every_option(command, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main([command, "--help"])
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    if command == "train":
        for flag in ("--iterations", "--max-size", "--min-size", "--scale-factor", "--seed", "--device",
                     "--generator-steps", "--label-threshold"):
            assert flag in text


def test_demo_runs_end_to_end(tmp_path):
    out = tmp_path / "demo"
    assert main(["demo", "--out", str(out), "--iterations", "2", "--num-samples", "4"]) == 0
    assert (out / "samples" / "grid.png").exists() and (out / "phantom_pyramid.pt").exists()
    assert len(list((out / "samples").glob("*_label.png"))) == 4
