"""Label-structure violations: plausible tumour labels pass, noise, labels past the brain and floating cores are
counted, and a synthetic set is judged against the rate of its real slices."""

from __future__ import annotations

import json

import numpy as np
import pytest

from monai_singanseg.apps.mri import (
    StructureCounts,
    compare_structure,
    count_structure_violations,
    read_slice,
    synthetic_report,
    write_slice_nifti,
)

SIZE = 64


def _tumour(centre=(32, 30)) -> tuple[np.ndarray, np.ndarray]:
    """A brain ellipse with a tumour: oedema around an enhancing ring around necrosis (labels 2, 4, 1)."""
    y, x = np.mgrid[:SIZE, :SIZE]
    brain = ((x - 32) / 26) ** 2 + ((y - 32) / 29) ** 2 < 1
    radius = np.hypot(x - centre[1], y - centre[0])
    label = np.zeros((SIZE, SIZE), np.float32)
    label[brain & (radius < 12)] = 2
    label[brain & (radius < 7)] = 4
    label[brain & (radius < 4)] = 1
    image = np.stack([np.where(brain, 0.4 + 0.3 * (label == 2), 0.0), np.where(brain, 0.3 + 0.5 * (label == 4), 0.0)])
    return image.astype(np.float32), label


def test_a_plausible_tumour_has_no_violations():
    assert count_structure_violations(*_tumour()) == StructureCounts(0, 0, 0)


def test_labels_past_the_brain_are_counted():
    image, label = _tumour()
    label[0:3, 0:5] = 2  # a corner of the background
    assert count_structure_violations(image, label).outside_brain == 15


def test_a_core_floating_in_healthy_tissue_is_counted():
    image, label = _tumour()
    label[50:54, 30:34] = 4  # enhancing tumour with no oedema or other tumour around it
    assert count_structure_violations(image, label).isolated_core == 1


def test_noise_labels_are_speckles_and_the_minimum_size_is_the_users():
    image, label = _tumour()
    rng = np.random.default_rng(0)
    noise = label.copy()
    noise[rng.random(label.shape) < 0.02] = 2
    counts = count_structure_violations(image, noise)
    assert counts.speckles > 10
    assert count_structure_violations(image, noise, min_component_pixels=1).speckles == 0


def test_rejects_an_image_and_label_of_different_sizes():
    image, label = _tumour()
    with pytest.raises(ValueError, match=r"expected an image \(C, H, W\) and a label \(H, W\) of one size"):
        count_structure_violations(image[:, :32], label)


def test_synthetic_violations_beyond_the_real_rate_fail():
    real = [StructureCounts(0, 0, 1), StructureCounts(0, 0, 0)]  # real labels have a fragment now and then
    assert all(compare_structure(real, [StructureCounts(0, 0, 0)] * 4)["passes"].values())
    assert compare_structure(real, [StructureCounts(0, 0, 1), StructureCounts(0, 0, 0)])["passes"]["speckles"]
    worse = compare_structure(real, [StructureCounts(3, 1, 2)] * 4)
    assert worse["excess"] == {"outside_brain": 12.0, "isolated_core": 4.0, "speckles": 6.0}
    assert not any(worse["passes"].values())
    with pytest.raises(ValueError, match="need real and synthetic slices"):
        compare_structure(real, [])


def _write(folder, stem, image, label, **entry):
    image_path, label_path = write_slice_nifti(image, label[None], np.eye(4), folder, stem)
    return {"image": image_path.name, "label": label_path.name, **entry}


def test_report_counts_both_sets_and_draws_real_beside_synthetic(tmp_path):
    image, label = _tumour()
    real = [_write(tmp_path, "real_a", image, label, slice_id="a")]
    noisy = label.copy()
    noisy[0:3, 0:3] = 4  # past the brain, floating, and a speckle (9 pixels)
    synthetic = [_write(tmp_path, f"synthetic_{i}", image, noisy if i else label, source_slice="a") for i in range(3)]
    (tmp_path / "slices.json").write_text(json.dumps({"training": real}))
    (tmp_path / "synthetic.json").write_text(json.dumps({"training": synthetic}))
    report = synthetic_report(tmp_path / "slices.json", tmp_path / "synthetic.json", tmp_path / "report",
                              [0, 1, 2, 4], ["flair", "t1c"])
    assert report["excess"]["outside_brain"] == pytest.approx(18.0)
    assert report["excess"]["isolated_core"] == pytest.approx(2.0)
    assert not report["passes"]["speckles"]
    assert "| outside_brain | 0.00 | 6.00 |" in (tmp_path / "report" / "label_structure.md").read_text()
    figure = np.asarray(__import__("PIL.Image", fromlist=["Image"]).open(tmp_path / "report" / "slices.png"))
    assert figure.shape[1] > 4 * SIZE and figure.shape[0] > 3 * SIZE  # real + 3 synthetic columns, 2 channels + labels


def test_report_refuses_synthetic_slices_from_unknown_sources(tmp_path):
    image, label = _tumour()
    (tmp_path / "slices.json").write_text(json.dumps({"training": [_write(tmp_path, "r", image, label, slice_id="a")]}))
    (tmp_path / "synthetic.json").write_text(json.dumps(
        {"training": [_write(tmp_path, "s", image, label, source_slice="b")]}))
    with pytest.raises(ValueError, match="no synthetic slice names a real slice"):
        synthetic_report(tmp_path / "slices.json", tmp_path / "synthetic.json", tmp_path / "out", [0, 1, 2, 4])
    assert not (tmp_path / "out" / "label_structure.json").exists()


def _one_pair(tmp_path, synthetic_label):
    image, label = _tumour()
    (tmp_path / "slices.json").write_text(json.dumps({"training": [_write(tmp_path, "r", image, label, slice_id="a")]}))
    (tmp_path / "synthetic.json").write_text(json.dumps(
        {"training": [_write(tmp_path, "s", image, synthetic_label, source_slice="a")]}))


def test_report_refuses_a_label_set_other_than_brats(tmp_path):
    # A binary tumour mask read as BraTS would call every plausible blob a floating tumour core.
    _one_pair(tmp_path, (_tumour()[1] > 0).astype(np.uint8))
    with pytest.raises(ValueError, match=r"label_values \[0, 1\] is not a BraTS label set"):
        synthetic_report(tmp_path / "slices.json", tmp_path / "synthetic.json", tmp_path / "out", [0, 1])
    assert not (tmp_path / "out").exists()


def test_report_refuses_label_values_outside_the_layout(tmp_path):
    # Values the checks do not know would count as no tumour, outside the brain or not, and pass every check.
    strange = _tumour()[1].copy()
    strange[0:3, 0:3] = 7
    _one_pair(tmp_path, strange)
    with pytest.raises(ValueError, match=r"s_label.*label values \[7.0\] outside label_values \[0, 1, 2, 4\]"):
        synthetic_report(tmp_path / "slices.json", tmp_path / "synthetic.json", tmp_path / "out", [0, 1, 2, 4])
    assert not (tmp_path / "out" / "label_structure.json").exists()


def test_tidying_removes_labels_past_the_brain_and_speckles_and_keeps_the_tumour():
    from monai_singanseg.apps.mri.label_structure import tidy_tumour_label

    image, label = _tumour()
    broken = label.copy()
    broken[0:3, 0:5] = 2  # past the brain
    broken[50, 20] = 4  # a one-pixel speckle inside the brain
    tidied = tidy_tumour_label(image, broken)
    assert count_structure_violations(image, broken) != StructureCounts(0, 0, 0)
    assert count_structure_violations(image, tidied) == StructureCounts(0, 0, 0)
    np.testing.assert_array_equal(tidied, label)
    assert broken[50, 20] == 4  # the input is not changed


def test_tidying_refuses_a_bank_whose_labels_are_not_brats_naming_the_checkpoint(trained_pyramid_file, tmp_path):
    import shutil

    from monai_singanseg.apps.mri import generate_synthetic

    member = tmp_path / "bank" / "member_000"
    member.mkdir(parents=True)
    checkpoint = member / "slice_a.pt"
    shutil.copy(trained_pyramid_file, checkpoint)  # a binary {0, 255} mask pyramid, not a BraTS label set
    with pytest.raises(ValueError, match=r"tidy_labels needs a BraTS label set, but .*slice_a\.pt has label values "
                                         r"\[0(\.0)?, 255(\.0)?\]"):
        generate_synthetic(tmp_path / "bank", tmp_path / "out", num_samples=2, write_dicom=False, tidy_labels=True)
    assert not (tmp_path / "out").exists()  # nothing half-written


def _bank_of_one(trained_pyramid_file, tmp_path):
    import shutil

    member = tmp_path / "bank" / "member_000"
    member.mkdir(parents=True)
    shutil.copy(trained_pyramid_file, member / "slice_a.pt")
    return tmp_path / "bank"


@pytest.mark.parametrize("budget, attempts, structure_ok", [(1, 1, None), (2, 2, False), (3, 3, True), (5, 3, True)])
def test_a_sample_whose_label_breaks_the_structure_is_drawn_again_within_the_budget(
        trained_pyramid_file, tmp_path, monkeypatch, budget, attempts, structure_ok):
    import torch

    from monai_singanseg.apps.mri import generate as generate_module

    image, label = _tumour()
    floating = label.copy()
    floating[50:54, 19:23] = 4  # a core with no tumour around it, and no speckle
    assert count_structure_violations(image, floating) == StructureCounts(0, 1, 0)
    draws = iter([floating, floating, label, label, label])
    seen = []

    def scripted_draw(model, start_scale, noise, shape, tidy_labels):
        seen.append(noise)
        return torch.as_tensor(image), torch.as_tensor(next(draws))[None]

    from monai_singanseg.data import checkpoint

    real_read = checkpoint.read_checkpoint

    def as_slice(path, **kwargs):  # the slice metadata the written NIfTI needs
        payload = real_read(path, **kwargs)
        payload["metadata"] = {**payload.get("metadata", {}), "affine": np.eye(4).tolist(), "slice_shape": [SIZE, SIZE]}
        return payload

    monkeypatch.setattr(checkpoint, "read_checkpoint", as_slice)
    monkeypatch.setattr(generate_module, "_draw", scripted_draw)
    monkeypatch.setattr(generate_module, "is_brats_label_set", lambda values: True)
    entries = generate_module.generate_synthetic(_bank_of_one(trained_pyramid_file, tmp_path), tmp_path / "out", 1,
                                                 write_dicom=False, structure_attempts=budget)
    # Budget 1 is plain sampling: the first draw, unchecked and not said to pass. Otherwise the first passing
    # draw, or the last one.
    assert (entries[0].get("attempts", 1), entries[0].get("structure_ok")) == (attempts, structure_ok)
    assert len(seen) == attempts and all(noise is seen[0] for noise in seen)  # later draws go on from one generator
    written = read_slice(entries[0]["image"], entries[0]["label"])[1]
    np.testing.assert_array_equal(written, floating if attempts < 3 else label)


@pytest.mark.parametrize("budget", [0, 1.5, True])
def test_a_structure_budget_below_one_draw_is_refused(trained_pyramid_file, tmp_path, budget):
    from monai_singanseg.apps.mri import generate_synthetic

    with pytest.raises(ValueError, match="structure_attempts must be an integer >= 1"):
        generate_synthetic(_bank_of_one(trained_pyramid_file, tmp_path), tmp_path / "out", 1, write_dicom=False,
                           structure_attempts=budget)
    assert not (tmp_path / "out").exists()


def test_a_structure_budget_refuses_a_bank_whose_labels_are_not_brats(trained_pyramid_file, tmp_path):
    from monai_singanseg.apps.mri import generate_synthetic

    with pytest.raises(ValueError, match=r"structure_attempts > 1 needs a BraTS label set, but .*slice_a\.pt"):
        generate_synthetic(_bank_of_one(trained_pyramid_file, tmp_path), tmp_path / "out", 1, write_dicom=False,
                           structure_attempts=2)
    assert not (tmp_path / "out").exists()
