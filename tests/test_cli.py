from __future__ import annotations

import json
import re

import numpy as np
import pytest
import torch
from monai.data import load_decathlon_datalist
from PIL import Image

from monai_singanseg import SinGANSegSettings
from monai_singanseg.cli import main
from monai_singanseg.cli.demo import DEMO_ITERATIONS, demo_settings
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
    pairs = [f"sample_{i:04d}_{k}.png" for i in range(3) for k in ("image", "label")]
    assert written == ["datalist.json", "grid.png", *pairs]
    label = np.asarray(Image.open(out / "sample_0000_label.png"))
    assert set(np.unique(label).tolist()) <= {0, 255}
    assert np.asarray(Image.open(out / "sample_0000_image.png")).shape == (28, 32, 3)
    datalist = load_decathlon_datalist(str(out / "datalist.json"), data_list_key="training", base_dir=str(out))
    assert len(datalist) == 3 and datalist[0]["source_id"] == "polyp"
    assert json.loads((out / "datalist.json").read_text())["training"][0]["source_image"] == str(image)


def test_same_seed_gives_same_files(tmp_path, model_path):
    for name in ("a", "b"):
        assert main(["sample", "--model", str(model_path), "--num-samples", "2", "--seed", "5",
                     "--out", str(tmp_path / name)]) == 0
    for f in ("sample_0001_image.png", "sample_0001_label.png"):
        assert (tmp_path / "a" / f).read_bytes() == (tmp_path / "b" / f).read_bytes()


@pytest.fixture
def model_path(trained_pyramid_file):
    """The session's trained pyramid (see conftest.py), shared by the tests that only sample it."""
    return trained_pyramid_file


def test_sample_refuses_a_used_folder_and_overwrite_leaves_no_stale_pairs(tmp_path, model_path, capsys):
    out = tmp_path / "samples"
    sample = ["sample", "--model", str(model_path), "--seed", "1", "--out", str(out)]
    assert main([*sample, "--num-samples", "3"]) == 0
    assert main([*sample, "--num-samples", "3"]) == 0  # the very same run may be repeated in place
    capsys.readouterr()
    assert main([*sample, "--num-samples", "2"]) == 2
    err = capsys.readouterr().err
    assert str(out) in err and "--overwrite" in err and "num_samples=3" in err and "Traceback" not in err
    (out / "notes.txt").write_text("mine")
    with pytest.warns(UserWarning, match="notes.txt"):
        assert main([*sample, "--num-samples", "2", "--overwrite"]) == 0
    assert sorted(p.name for p in out.glob("sample_*")) == [f"sample_{i:04d}_{k}.png" for i in range(2)
                                                             for k in ("image", "label")]
    assert (out / "notes.txt").read_text() == "mine"
    assert len(json.loads((out / "datalist.json").read_text())["training"]) == 2
    assert main(["sample", "--model", str(model_path), "--seed", "1", "--num-samples", "2", "--out", str(out)]) == 2


def test_sample_without_seed_prints_and_records_a_fresh_seed_that_repeats_the_run(tmp_path, model_path, capsys):
    seeds = []
    for name in ("a", "b"):
        capsys.readouterr()
        assert main(["sample", "--model", str(model_path), "--num-samples", "2", "--out", str(tmp_path / name)]) == 0
        printed = capsys.readouterr().out
        seed = int(re.search(r"--seed (\d+)", printed)[1])
        recorded = json.loads((tmp_path / name / "datalist.json").read_text())
        assert {e["seed"] for e in recorded["training"]} == {seed} and recorded["sample_run"]["seed"] == seed
        seeds.append(seed)
    assert seeds[0] != seeds[1]
    assert main(["sample", "--model", str(model_path), "--num-samples", "2", "--seed", str(seeds[0]),
                 "--out", str(tmp_path / "again")]) == 0
    for f in ("sample_0001_image.png", "sample_0001_label.png", "datalist.json"):
        assert (tmp_path / "a" / f).read_bytes() == (tmp_path / "again" / f).read_bytes()


def test_bad_input_prints_one_clear_line(tmp_path, pair_files, capsys):
    image, _ = pair_files
    code = main(["train", "--image", str(image), "--label", str(tmp_path / "nope.png"),
                 "--out", str(tmp_path / "m.pt")])
    assert code == 2
    err = capsys.readouterr().err
    assert "label file" in err and "nope.png" in err and "Traceback" not in err


def test_rejects_invalid_setting_with_its_name(tmp_path, pair_files, capsys):
    image, mask = pair_files
    code = main(["train", "--image", str(image), "--label", str(mask), "--out", str(tmp_path / "m.pt"),
                 "--scale-factor", "1.5"])
    err = capsys.readouterr().err
    assert code == 2 and ("--scale-factor" in err or "scale_factor" in err)  # the flag, or the setting it sets


@pytest.mark.parametrize("command", ["train", "sample", "demo"])
def test_help_describes_every_option(command, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main([command, "--help"])
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    if command == "sample":
        for flag in ("--model", "--num-samples", "--start-scale", "--seed", "--output-shape", "--out", "--overwrite"):
            assert flag in text
    if command == "train":
        for flag in ("--iterations", "--max-size", "--min-size", "--scale-factor", "--seed", "--device",
                     "--generator-steps", "--label-threshold"):
            assert flag in text


@pytest.mark.parametrize("recipe", ["faithful", "fast", "draft"])
def test_demo_trains_its_recipe_with_the_same_iterations_at_every_scale(recipe):
    settings = demo_settings(recipe, None, seed=0, device="cpu")
    expected = SinGANSegSettings.from_recipe(recipe)
    assert (settings.critic_steps, settings.concurrent_scales) == (expected.critic_steps, expected.concurrent_scales)
    assert settings.iterations == DEMO_ITERATIONS[recipe] and settings.finest_iterations == 0
    assert demo_settings(recipe, 7, seed=0, device="cpu").iterations == 7


@pytest.mark.slow
def test_demo_runs_end_to_end(tmp_path):
    out = tmp_path / "demo"
    assert main(["demo", "--out", str(out), "--iterations", "2", "--num-samples", "4"]) == 0
    assert (out / "samples" / "grid.png").exists() and (out / "phantom_pyramid.pt").exists()
    assert len(list((out / "samples").glob("*_label.png"))) == 4
