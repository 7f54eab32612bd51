"""Lesion-size control: share targets, the bounded search, the transform's record and the generate command."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from monai.data import MetaTensor
from PIL import Image

from monai_singanseg.cli import main
from monai_singanseg.data.size_control import (
    ShareTarget, SizeControl, foreground_share, resize_lesion, sample_with_share,
)
from monai_singanseg.transforms.singanseg import RandSinGANSegd, SinGANSeg

from test_guided_sampling import SHAPES_2D, block_mask, layout_of, pyramid


@pytest.mark.parametrize("spec, expected", [
    ("0.05:0.2", ShareTarget(low=0.05, high=0.2)),
    ((0.1, 0.3), ShareTarget(low=0.1, high=0.3)),
    ("match_real", ShareTarget(match_real=True)),
])
def test_parses_match_real_and_ranges(spec, expected):
    assert ShareTarget.parse(spec) == expected


@pytest.mark.parametrize("spec", ["bigger", "0.3:0.1", "0.1:2", "0.1:0.2:0.3", 0.2, (0.1,)])
def test_rejects_other_share_specs(spec):
    with pytest.raises(ValueError):
        ShareTarget.parse(spec)


def test_a_range_is_its_own_window_and_match_real_centres_on_a_real_share():
    rng = np.random.RandomState(0)
    assert ShareTarget.parse("0.05:0.2").window(rng) == (0.05, 0.2)
    target = ShareTarget.parse("match_real", real_shares=[0.1, 0.3], tolerance=0.01)
    windows = sorted({target.window(rng) for _ in range(20)})
    assert windows == [(pytest.approx(0.09), pytest.approx(0.11)), (pytest.approx(0.29), pytest.approx(0.31))]
    own = ShareTarget.parse("match_real")
    assert own.window(rng, training_share=0.2) == (pytest.approx(0.18), pytest.approx(0.22))
    with pytest.raises(ValueError, match="training share"):
        own.window(rng)


@pytest.mark.parametrize("budget", [0, 1.5, True])
def test_rejects_a_budget_that_is_not_a_positive_integer(budget):
    with pytest.raises(ValueError, match="budget"):
        SizeControl(ShareTarget(), budget=budget)


def test_resize_lesion_scales_the_share_about_the_lesion():
    layout = layout_of()
    mask = block_mask((40, 40), low=0.4, high=0.6)[None]  # share 0.04
    bigger = resize_lesion(mask, layout, 0.16)
    assert float(foreground_share(layout, bigger)) == pytest.approx(0.16, abs=0.02)
    assert set(bigger.unique().tolist()) <= {0.0, 255.0}
    empty = torch.zeros(1, 1, 8, 8)
    assert torch.equal(resize_lesion(empty, layout, 0.5), empty)


def test_budget_one_is_the_unconditional_sample_of_the_seed():
    model = pyramid(layout_of())
    stack, record = sample_with_share(model, (0.0, 0.0), seed=3, budget=1)
    assert torch.equal(stack, model.sample(1, 0, torch.Generator().manual_seed(3)))
    assert record.attempts == 1 and not record.guided


def test_an_open_window_is_met_at_once_and_an_unreachable_one_runs_the_budget_out():
    model = pyramid(layout_of())
    _, met = sample_with_share(model, (0.0, 1.0), seed=0, budget=4, strategy="reject")
    assert (met.attempts, met.accepted, met.budget_exhausted) == (1, True, False)
    # An all-foreground mask never comes out of this pyramid: every attempt is spent and the nearest is kept.
    stack, missed = sample_with_share(model, (1.0, 1.0), seed=0, budget=3, strategy="reject")
    assert (missed.attempts, missed.accepted, missed.budget_exhausted) == (3, False, True)
    assert missed.share == pytest.approx(float(foreground_share(model.layout, model.decode(stack)[1])[0]))


def coarse_only_pyramid():
    """Scale 0 draws the layout, the finer scales pass their input on: a plain redraw keeps scale 0's share."""
    model = pyramid(layout_of(), seed=0)
    with torch.no_grad():
        for generator in model.generators[1:]:
            generator.tail[0].conv.weight.zero_()
            generator.tail[0].conv.bias.zero_()
    return model


def test_guided_attempts_reach_a_share_that_plain_draws_miss():
    model = coarse_only_pyramid()
    first = sample_with_share(model, (0.0, 1.0), seed=1, budget=1)[1].share
    assert first > 0
    window = (first * 0.4, first * 0.6)
    _, rejected = sample_with_share(model, window, seed=1, budget=3, strategy="reject")
    _, guided = sample_with_share(model, window, seed=1, budget=3, strategy="guide")
    assert not rejected.accepted
    assert guided.accepted and guided.guided and guided.attempts == 2


# -- the transform --------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def bank_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("bank")
    coarse_only_pyramid().save(str(folder / "polyp_a.pt"), metadata={"image_id": "polyp_a",
                                                                                     "file_format": "png"})
    return folder


def sample_pair():
    image = torch.rand(3, *SHAPES_2D[-1], generator=torch.Generator().manual_seed(0)) * 255
    image = MetaTensor(image, meta={"filename_or_obj": "/data/polyp_a.png"})
    return {"image": image, "label": MetaTensor(block_mask(SHAPES_2D[-1]))}


def test_transform_records_what_size_control_did_and_draws_reproducibly(bank_dir):
    def run(seed):
        transform = RandSinGANSegd(bank=str(bank_dir), prob=1.0, share="0.2:0.3", share_budget=3)
        return transform.set_random_state(seed)(sample_pair())

    out = run(0)
    record = out["image"].meta["singanseg"]["size_control"]
    assert set(record) == {"low", "high", "attempts", "share", "accepted", "budget_exhausted", "guided"}
    assert (record["low"], record["high"]) == (0.2, 0.3) and 1 <= record["attempts"] <= 3
    share = float((out["label"] > 0).double().mean())
    assert share == pytest.approx(record["share"], abs=1e-9)
    assert record["accepted"] == (0.2 <= share <= 0.3)
    assert torch.equal(out["image"], run(0)["image"])
    assert out["label"].meta["singanseg"] == out["image"].meta["singanseg"]


def test_transform_without_share_keeps_its_old_record_and_pairs(bank_dir):
    transform = RandSinGANSegd(bank=str(bank_dir), prob=1.0).set_random_state(0)
    out = transform(sample_pair())
    record = out["image"].meta["singanseg"]
    assert set(record) == {"replaced", "model_id", "start_scale", "seed"}
    pyramid_ = transform.bank["polyp_a"]
    assert torch.equal(out["image"], SinGANSeg(pyramid_, 0, record["seed"])(**sample_pair())[0])


def test_transform_kept_outputs_carry_the_same_record_keys(bank_dir):
    out = RandSinGANSegd(bank=str(bank_dir), prob=0.0, share="match_real").set_random_state(0)(sample_pair())
    record = out["image"].meta["singanseg"]
    assert not record["replaced"] and record["size_control"]["attempts"] == 0


# -- the generate command -------------------------------------------------------------------------------------------


def write_masks(folder, count=3):
    folder.mkdir()
    for i in range(count):
        mask = np.zeros((40, 48), np.uint8)
        mask[5 + 3 * i: 25 + 3 * i, 10:30] = 255
        Image.fromarray(mask).save(folder / f"mask_{i}.png")
    return folder


def test_generate_makes_one_image_per_given_mask_and_records_it(bank_dir, tmp_path):
    masks = write_masks(tmp_path / "masks")
    out = tmp_path / "out"
    assert main(["generate", "--bank", str(bank_dir), "--masks", str(masks), "--inject-scale", "2", "--out",
                 str(out), "--quiet"]) == 0
    datalist = json.loads((out / "datalist.json").read_text())
    assert [e["mask_index"] for e in datalist["training"]] == [0, 1, 2]
    assert datalist["generate_run"]["steering"]["num_masks"] == 3
    for entry, i in zip(datalist["training"], range(3)):
        generated = np.asarray(Image.open(out / entry["label"])) > 0
        requested = np.asarray(Image.open(masks / f"mask_{i}.png").resize(generated.shape[::-1], Image.NEAREST)) > 0
        assert 2 * (generated & requested).sum() / (generated.sum() + requested.sum()) > 0.8
    # The same run again resumes instead of refusing its own output.
    assert main(["generate", "--bank", str(bank_dir), "--masks", str(masks), "--inject-scale", "2", "--out",
                 str(out), "--quiet"]) == 0


def test_generate_with_a_share_target_records_every_pair(bank_dir, tmp_path):
    out = tmp_path / "out"
    assert main(["generate", "--bank", str(bank_dir), "--per-model", "2", "--share", "0.1:0.5", "--out", str(out),
                 "--quiet"]) == 0
    entries = json.loads((out / "datalist.json").read_text())["training"]
    assert all(e["size_control"]["low"] == 0.1 and e["size_control"]["attempts"] >= 1 for e in entries)


@pytest.mark.parametrize("argv, message", [
    (["--masks", "MASKS", "--inject-scale", "5"], "inject_scale"),
    (["--masks", "MASKS"], "inject_scale"),
    (["--masks", "MASKS", "--inject-scale", "2", "--share", "match_real"], "cannot be combined"),
    (["--per-model", "1", "--share", "large"], "share target"),
    (["--per-model", "1", "--inject-scale", "1"], "needs --masks"),
    (["--share", "0.1:0.2"], "--per-model is required"),
])
def test_generate_rejects_bad_steering_requests(bank_dir, tmp_path, capsys, argv, message):
    masks = write_masks(tmp_path / "masks")
    argv = [str(masks) if a == "MASKS" else a for a in argv]
    assert main(["generate", "--bank", str(bank_dir), "--out", str(tmp_path / "out"), "--quiet", *argv]) != 0
    assert message in capsys.readouterr().err
