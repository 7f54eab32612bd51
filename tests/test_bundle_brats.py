"""The BraTS MRI slices bundle end to end on tiny volumes (NIfTI cases and a DICOM case written here), its library
(`monai_singanseg.apps.mri`), its refusals of bad input, and a smoke run on the shared BraTS cases."""

from __future__ import annotations

import json
import logging
import os
import subprocess
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
import torch
from monai.bundle import ConfigWorkflow
from monai.transforms import LoadImage

from monai_singanseg.apps.mri import (
    CheckCased, CheckLabelValuesd, ChannelRange, centre_pad_or_crop, denormalise_channels, even_schedule,
    find_cases, normalise_channels, read_datalist, read_series_headers, segmentation_datalist, select_axial_slices,
    slice_affine, split_cases, write_dicom_series,
)
from monai_singanseg.data.bank import SinGANSegBank
from monai_singanseg.data.checkpoint import read_checkpoint

pydicom = pytest.importorskip("pydicom")

BUNDLE = Path(__file__).resolve().parents[1] / "bundles" / "brats_mri_slices_singanseg"
CONFIGS = BUNDLE / "configs"
SHARED_BRATS = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "brats"

LABEL_VALUES = (0, 1, 2, 4)
SHAPE = (32, 32, 8)
# Radiological storage as in BraTS: voxel axes run to patient left, posterior and superior (LPS).
AFFINE = np.array([[-1.0, 0, 0, 31], [0, -1.0, 0, 40], [0, 0, 1.5, -6], [0, 0, 0, 1]])

TINY = {
    "device": "$torch.device('cpu')",
    "channel_patterns": ["flair*", "t1c*"],
    "channel_names": ["flair", "t1c"],
    "label_pattern": "seg.nii.gz",
    "test_fraction": 0.25,
    "slice_size": [32, 32],
    "singanseg#min_size": 16,
    "singanseg#max_size": 32,
    "singanseg#iterations": 2,
    "singanseg#base_features": 8,
    "singanseg#max_features": 8,
    "ensemble_size": 2,
    "unet#num_levels": 3,
    "unet#base_filters": 8,
}
STEP_OVERRIDES = {
    "train_generators": {"generators#models_per_batch": 2},
    "generate": {"synthesis#num_samples": 4, "synthesis#tidy_labels": True, "synthesis#structure_attempts": 3},
    "train_segmentation": {"max_epochs": 1, "batch_size": 4},
}


def _phantom(seed: int) -> tuple[list[np.ndarray], np.ndarray]:
    """Two MR-like channels and a {0, 1, 2, 4} tumour label: a brain ellipse on slices 1-6 (none on 0 and 7)."""
    rng = np.random.default_rng(seed)
    x, y, z = np.meshgrid(*[np.arange(s) for s in SHAPE], indexing="ij")
    brain = (((x - 15.5) / 12) ** 2 + ((y - 15.5) / 14) ** 2 < 1) & (z >= 1) & (z <= 6)
    radius = np.sqrt((x - 14 - seed) ** 2 + (y - 17) ** 2 + ((z - 4) * 3) ** 2)
    label = np.zeros(SHAPE, np.int16)
    label[brain & (radius < 7)] = 2
    label[brain & (radius < 4.5)] = 4
    label[brain & (radius < 2.5)] = 1
    flair = np.where(brain, 300 + 150 * (label == 2) + rng.normal(0, 20, SHAPE), 0).astype(np.float32)
    t1c = np.where(brain, 0.8 + 1.5 * (label == 4) + rng.normal(0, 0.1, SHAPE), -0.2).astype(np.float32)
    return [flair, t1c], label


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> Path:
    """Three NIfTI cases and one whose channels are DICOM series (case_b_dicom), one folder per case."""
    root = tmp_path_factory.mktemp("brats_tiny")
    for seed, case_id in enumerate(["case_a", "case_b_dicom", "case_c", "case_d"]):
        folder = root / case_id
        folder.mkdir()
        channels, label = _phantom(seed)
        for name, channel in zip(("flair", "t1c"), channels):
            if case_id.endswith("dicom"):
                write_dicom_series(channel, AFFINE, folder / name, name.upper(), synthetic=False)
            else:
                nib.save(nib.Nifti1Image(channel, AFFINE), str(folder / f"{name}.nii.gz"))
        nib.save(nib.Nifti1Image(label, AFFINE), str(folder / "seg.nii.gz"))
    return root


def _run(step: str, overrides: dict) -> list:
    files = [str(CONFIGS / "common.json"), str(CONFIGS / f"{step}.json")]
    present = set().union(*(json.loads(Path(f).read_text()) for f in files))
    # Nested overrides reach only the configs that have their section (slices#... is prepare_slices').
    chosen = {k: v for k, v in {**overrides, **STEP_OVERRIDES.get(step, {})}.items() if k.split("#")[0] in present
              or "#" not in k}
    workflow = ConfigWorkflow(config_file=files, meta_file=str(CONFIGS / "metadata.json"),
                              logging_file=str(CONFIGS / "logging.conf"), workflow_type=None, **chosen)
    workflow.initialize()
    try:
        return workflow.run()
    finally:
        workflow.finalize()


@pytest.fixture(scope="module")
def bundle_run(dataset, tmp_path_factory) -> dict:
    """Every config of the bundle in order, through ConfigWorkflow, at tiny settings."""
    out = tmp_path_factory.mktemp("bundle_out")
    overrides = {**TINY, "bundle_root": str(out), "dataset_dir": str(dataset)}
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # layers this small gain nothing from threads, only synchronisation
    try:
        results = {step: _run(step, overrides) for step in ("prepare_slices", "train_generators", "generate")}
        results["train_generators_again"] = _run("train_generators", overrides)
        results["report"] = _run("report", overrides)
        for training_data in ("real", "synthetic"):
            step_overrides = {**overrides, "training_data": training_data}
            results[f"train_segmentation_{training_data}"] = _run("train_segmentation", step_overrides)
            results[f"evaluate_{training_data}"] = _run("evaluate", step_overrides)
        results["inference"] = _run("inference", {**overrides, "training_data": "synthetic"})
    finally:
        torch.set_num_threads(threads)
    logging.getLogger().handlers.clear()  # logging.conf added a console handler
    return {"out": out, "dataset": dataset, "results": results}


# The library, on its own.

def test_even_schedule_gives_every_member_and_slice_an_equal_share():
    schedule = even_schedule(12, 3, 2)
    assert [sum(m == k for m, _ in schedule) for k in range(3)] == [4, 4, 4]
    assert all(sum(1 for m, s in schedule if (m, s) == (k, j)) == 2 for k in range(3) for j in range(2))
    with pytest.raises(ValueError, match="num_members"):
        even_schedule(4, 0, 2)


@pytest.mark.parametrize("size, offsets", [((36, 40), (-2, -4)), ((28, 30), (2, 1)), ((32, 32), (0, 0))])
def test_pad_or_crop_is_centred_like_monai_and_moves_the_slice_origin(size, offsets):
    from monai.transforms import ResizeWithPadOrCrop

    x = torch.arange(2 * 32 * 32, dtype=torch.float32).reshape(2, 32, 32)
    out, found = centre_pad_or_crop(x, size)
    assert found == offsets
    assert torch.equal(out, ResizeWithPadOrCrop(size)(x).as_tensor())
    # Output voxel (0, 0) lies where input voxel `offsets` lay.
    expected = AFFINE @ np.array([offsets[0], offsets[1], 5, 1.0])
    assert np.allclose(slice_affine(AFFINE, 5, found) @ np.array([0, 0, 0, 1.0]), expected)


def test_normalisation_maps_each_channel_to_unit_range_and_inverts():
    volume = torch.stack([torch.linspace(-3, 9, 64), torch.linspace(100, 2100, 64)]).reshape(2, 4, 4, 4)
    normalised, channel_range = normalise_channels(volume)
    assert torch.allclose(normalised.amin((1, 2, 3)), torch.zeros(2)) and torch.allclose(normalised.amax((1, 2, 3)), torch.ones(2))
    assert channel_range == ChannelRange((-3.0, 100.0), (9.0, 2100.0))
    assert torch.allclose(denormalise_channels(normalised, channel_range).float(), volume, atol=1e-4)


def test_slices_are_kept_by_the_brain_fraction_rule_and_optionally_tumour_only():
    channels, label = _phantom(0)
    image, _ = normalise_channels(torch.as_tensor(np.stack(channels)))
    label_t = torch.as_tensor(label)[None]
    assert select_axial_slices(image, label_t, min_brain_fraction=0.15) == [1, 2, 3, 4, 5, 6]
    tumour = select_axial_slices(image, label_t, min_brain_fraction=0.15, tumour_only=True)
    assert tumour and all((label[..., z] > 0).any() for z in tumour) and len(tumour) < 6
    assert select_axial_slices(image, label_t, min_brain_fraction=0.15, max_slices=2) == [1, 6]


# Bad input: clear errors naming the files.

def test_rejects_channels_with_different_shapes_naming_both_files(dataset, tmp_path):
    odd = tmp_path / "t1c_small.nii.gz"
    nib.save(nib.Nifti1Image(np.zeros((32, 30, 8), np.float32), AFFINE), str(odd))
    flair = str(dataset / "case_a" / "flair.nii.gz")
    with pytest.raises(ValueError, match=r"t1c_small\.nii\.gz.*shape \(32, 30, 8\).*flair\.nii\.gz"):
        CheckCased(keys=["image", "label"])({"image": [flair, str(odd)], "label": str(dataset / "case_a" / "seg.nii.gz")})


def test_rejects_channels_with_different_orientations_and_labels_of_another_shape(dataset, tmp_path):
    flipped = tmp_path / "t1c_ras.nii.gz"
    nib.save(nib.Nifti1Image(np.zeros(SHAPE, np.float32), np.diag([1.0, 1, 1.5, 1])), str(flipped))
    flair = str(dataset / "case_a" / "flair.nii.gz")
    with pytest.raises(ValueError, match=r"t1c_ras\.nii\.gz.*orientation RAS.*orientation LPS"):
        CheckCased(keys="image")({"image": [flair, str(flipped)]})
    label = tmp_path / "seg_big.nii.gz"
    nib.save(nib.Nifti1Image(np.zeros((32, 32, 9), np.int16), AFFINE), str(label))
    with pytest.raises(ValueError, match=r"seg_big\.nii\.gz"):
        CheckCased(keys=["image", "label"])({"image": [flair], "label": str(label)})


def test_rejects_unknown_label_values_naming_the_file(dataset):
    loaded = LoadImage(image_only=True, ensure_channel_first=True)(str(dataset / "case_a" / "seg.nii.gz"))
    with pytest.raises(ValueError, match=r"seg\.nii\.gz holds values \[4\.0\] outside label_values"):
        CheckLabelValuesd("label", label_values=(0, 1, 2, 3))({"label": loaded})
    assert CheckLabelValuesd("label", label_values=LABEL_VALUES)({"label": loaded})["label"] is loaded


def test_rejects_a_dicom_folder_mixing_series_naming_them(tmp_path):
    write_dicom_series(np.ones((8, 8, 2)), AFFINE, tmp_path / "mixed", "FLAIR", synthetic=False)
    write_dicom_series(np.ones((8, 8, 1)), AFFINE, tmp_path / "other", "T1C", synthetic=False)
    (tmp_path / "other" / "IM0001.dcm").rename(tmp_path / "mixed" / "IM9999.dcm")
    with pytest.raises(ValueError, match=r"mixes 2 series.*'FLAIR' \(IM0001\.dcm, IM0002\.dcm\).*'T1C' \(IM9999\.dcm\)"):
        CheckCased(keys="image")({"image": str(tmp_path / "mixed")})


def test_dicom_headers_give_the_grid_monai_loads(dataset):
    series = read_series_headers(dataset / "case_b_dicom" / "flair")
    loaded = LoadImage(image_only=True, ensure_channel_first=True)(str(dataset / "case_b_dicom" / "flair"))
    assert series.shape == tuple(loaded.shape[1:]) == SHAPE
    assert np.allclose(series.affine, loaded.affine.numpy(), atol=1e-4) and np.allclose(series.affine, AFFINE, atol=1e-4)


def test_cases_split_by_subject(dataset):
    cases = find_cases(dataset, ["flair*", "t1c*"], "seg.nii.gz")
    assert [c["case_id"] for c in cases] == ["case_a", "case_b_dicom", "case_c", "case_d"]
    assert cases[1]["image"][0].endswith("flair") and cases[0]["label"].endswith("seg.nii.gz")
    train, test = split_cases(cases, 0.25)
    assert [c["case_id"] for c in test] == ["case_d"] and len(train) == 3
    with pytest.raises(ValueError, match="not cases"):
        split_cases(cases, test_case_ids=["case_z"])


# The bundle.

def _without(metadata: dict, *keys: str) -> dict:
    """``metadata`` with the entry at the path ``keys`` removed."""
    broken = json.loads(json.dumps(metadata))
    parent = broken
    for key in keys[:-1]:
        parent = parent[key]
    del parent[keys[-1]]
    return broken


# Each breaks one rule of meta_schema.json: a required key, a required nested key, a pattern, a type.
SCHEMA_VIOLATIONS = [
    ("no network_data_format", lambda m: _without(m, "network_data_format"), "network_data_format"),
    ("no outputs", lambda m: _without(m, "network_data_format", "outputs"), "outputs"),
    ("version not a version", lambda m: {**m, "version": "first"}, "first"),
    ("authors a number", lambda m: {**m, "authors": 314}, "314 is not valid"),
]


@pytest.mark.parametrize(("break_metadata", "message"), [pytest.param(b, m, id=i) for i, b, m in SCHEMA_VIOLATIONS])
def test_metadata_validates_offline_and_a_violation_is_rejected(tmp_path, break_metadata, message):
    pytest.importorskip("jsonschema")
    from monai.bundle import verify_metadata

    verify_metadata(meta_file=str(CONFIGS / "metadata.json"), filepath=str(CONFIGS / "meta_schema.json"))
    broken = tmp_path / "metadata.json"
    broken.write_text(json.dumps(break_metadata(json.loads((CONFIGS / "metadata.json").read_text()))))
    with pytest.raises(ValueError, match=message):
        verify_metadata(meta_file=str(broken), filepath=str(CONFIGS / "meta_schema.json"))


def test_settings_keys_mirror_the_settings_dataclass():
    from dataclasses import fields

    from monai_singanseg.settings import SinGANSegSettings

    common = json.loads((CONFIGS / "common.json").read_text())
    assert set(common["singanseg"]) - {"_target_"} == {f.name for f in fields(SinGANSegSettings)}


@pytest.mark.slow
def test_prepare_writes_kept_slices_on_their_volume_grid(bundle_run):
    slices = read_datalist(bundle_run["out"] / "output" / "slices" / "slices.json")
    assert {e["case_id"] for e in slices} == {"case_a", "case_b_dicom", "case_c"}
    assert sorted(e["slice_index"] for e in slices if e["case_id"] == "case_a") == [1, 2, 3, 4, 5, 6]
    entry = next(e for e in slices if e["case_id"] == "case_b_dicom" and e["slice_index"] == 3)
    image = LoadImage(image_only=True, ensure_channel_first=True)(entry["image"])
    label = LoadImage(image_only=True, ensure_channel_first=True)(entry["label"])
    assert image.shape == (2, 32, 32, 1) and label.shape == (1, 32, 32, 1)
    assert np.allclose(image.affine.numpy(), slice_affine(AFFINE, 3), atol=1e-4)
    assert nib.aff2axcodes(image.affine.numpy()) == ("L", "P", "S")
    assert float(image.min()) >= 0 and float(image.max()) <= 1
    channels, phantom_label = _phantom(1)
    assert np.array_equal(label[0, ..., 0].numpy(), phantom_label[..., 3])
    flair = denormalise_channels(image[:1, ..., 0], ChannelRange(tuple(entry["intensity_low"][:1]),
                                                                 tuple(entry["intensity_high"][:1])))
    assert np.allclose(flair[0].numpy(), channels[0][..., 3], atol=0.5)  # DICOM stores 12-bit integers


@pytest.mark.slow
def test_generators_form_an_ensemble_of_banks_with_independent_seeds_and_are_not_trained_twice(bundle_run):
    bank_dir = bundle_run["out"] / "models" / "generators"
    banks = [SinGANSegBank(bank_dir / f"member_{k:02d}") for k in range(2)]
    assert banks[0].ids == banks[1].ids and len(banks[0]) == 18
    summary = bundle_run["results"]["train_generators"][0]
    assert len(summary["trained"]) == 36 and summary["skipped"] == []
    again = bundle_run["results"]["train_generators_again"][0]
    assert again["trained"] == [] and sorted(again["skipped"]) == sorted(summary["trained"])
    slice_id = banks[0].ids[0]
    first, second = (read_checkpoint(bank.path_of(slice_id)) for bank in banks)
    assert first["metadata"]["seed"] != second["metadata"]["seed"]
    assert any(not torch.equal(a, b) for a, b in zip(first["generators"][0].values(), second["generators"][0].values()))
    assert banks[0].layout_of(slice_id).label_values == tuple(float(v) for v in LABEL_VALUES)


@pytest.mark.slow
def test_an_ensemble_member_serves_as_online_augmentation_of_its_slices(bundle_run):
    from monai.transforms import Compose, LoadImaged, SqueezeDimd

    from monai_singanseg.transforms.singanseg import RandSinGANSegd

    entry = read_datalist(bundle_run["out"] / "output" / "slices" / "slices.json")[0]
    member = bundle_run["out"] / "models" / "generators" / "member_01"
    augment = Compose([
        LoadImaged(["image", "label"], ensure_channel_first=True), SqueezeDimd(["image", "label"], dim=-1),
        RandSinGANSegd(["image", "label"], bank=member, prob=1.0, id_key="slice_id", reverse_indexing=False),
    ]).set_random_state(0)
    out = augment(dict(entry))
    assert out["image"].shape == (2, 32, 32) and out["label"].shape == (1, 32, 32)
    assert out["image"].meta["singanseg"]["model_id"] == entry["slice_id"]
    assert set(np.unique(out["label"].numpy()).tolist()) <= set(LABEL_VALUES)


@pytest.mark.slow
def test_synthetic_labels_hold_only_the_valid_label_values(bundle_run):
    synthetic = read_datalist(bundle_run["out"] / "output" / "synthetic" / "synthetic.json")
    assert [e["member"] for e in synthetic] == [0, 1, 0, 1]
    values = set()
    for entry in synthetic:
        label = nib.load(entry["label"]).get_fdata()
        values |= set(np.unique(label).tolist())
    assert values <= set(LABEL_VALUES) and 0 in values


@pytest.mark.slow
def test_report_holds_synthetic_label_structure_against_the_real_slices_and_draws_them(bundle_run):
    report = bundle_run["out"] / "output" / "report"
    structure = json.loads((report / "label_structure.json").read_text())
    assert structure["num_synthetic"] == 4 and structure["num_real"] > 0
    assert set(structure["passes"]) == {"outside_brain", "isolated_core", "speckles"}
    # The synthetic labels were tidied: nothing past the brain, no speckles.
    assert structure["synthetic"]["outside_brain"]["total"] == structure["synthetic"]["speckles"]["total"] == 0
    synthetic = read_datalist(bundle_run["out"] / "output" / "synthetic" / "synthetic.json")
    assert all(entry["tidy_labels"] for entry in synthetic)
    # Drawn again while a floating core was left, up to 3 times: the report's count of them agrees with the draws'.
    assert all(1 <= entry["attempts"] <= 3 for entry in synthetic)
    all_pass = all(entry["structure_ok"] for entry in synthetic)
    assert (structure["synthetic"]["isolated_core"]["total"] == 0) is all_pass
    assert (report / "label_structure.md").is_file() and (report / "slices.png").stat().st_size > 0


@pytest.mark.slow
def test_synthetic_nifti_and_dicom_reload_with_the_right_shape_and_orientation(bundle_run):
    synthetic_dir = bundle_run["out"] / "output" / "synthetic"
    entry = read_datalist(synthetic_dir / "synthetic.json")[1]
    source = read_checkpoint(entry["model"])["metadata"]
    image = LoadImage(image_only=True, ensure_channel_first=True)(entry["image"])
    assert image.shape == (2, 32, 32, 1) and np.allclose(image.affine.numpy(), source["affine"], atol=1e-4)
    series = synthetic_dir / entry["dicom"]
    assert sorted(p.name for p in series.iterdir()) == ["flair", "label", "t1c"]
    uids = set()
    for channel, name in enumerate(["flair", "t1c"]):
        loaded = LoadImage(image_only=True, ensure_channel_first=True)(str(series / name))
        assert loaded.shape == (1, 32, 32, 1)
        assert np.allclose(loaded.affine.numpy(), source["affine"], atol=1e-3)
        assert nib.aff2axcodes(loaded.affine.numpy()) == ("L", "P", "S")
        # DICOM holds the source case's units: the inverse of the slice normalisation.
        original = denormalise_channels(image[channel:channel + 1, ..., 0], ChannelRange(
            (source["intensity_low"][channel],), (source["intensity_high"][channel],)))
        span = source["intensity_high"][channel] - source["intensity_low"][channel]
        assert np.allclose(loaded[0, ..., 0].numpy(), original[0].numpy(), atol=span / 4095)
        header = pydicom.dcmread(next((series / name).iterdir()))
        assert header.SOPClassUID == pydicom.uid.MRImageStorage
        assert list(header.ImageType)[:1] == ["DERIVED"] and "SYNTHETIC" in header.ImageType
        assert header.SeriesDescription.startswith("SYNTHETIC") and header.BurnedInAnnotation == "NO"
        assert str(header.PatientName) == "" and header.PatientID == "" and header.PatientIdentityRemoved == "YES"
        uids.add(header.SeriesInstanceUID)
    assert len(uids) == 2
    label = LoadImage(image_only=True, ensure_channel_first=True)(str(series / "label"))
    assert set(np.unique(label.numpy()).tolist()) <= set(LABEL_VALUES)


@pytest.mark.slow
def test_segmentation_trains_on_real_and_synthetic_and_reports_per_class_and_region_metrics(bundle_run):
    models = bundle_run["out"] / "models" / "segmentation"
    assert (models / "model_real.pt").is_file() and (models / "model_synthetic.pt").is_file()
    for training_data in ("real", "synthetic"):
        summary = json.loads((bundle_run["out"] / "output" / "metrics" / training_data / "dice_per_class.json").read_text())
        assert list(summary["per_subject"]) == ["case_d"]
        assert set(summary["per_subject"]["case_d"]) == {"1", "2", "4"}
        assert all(np.isnan(v) or 0 <= v <= 1 for v in summary["per_subject"]["case_d"].values())
        regions = json.loads((bundle_run["out"] / "output" / "metrics" / training_data / "brats_regions.json").read_text())
        assert list(regions["per_subject"]["case_d"]) == ["WT", "TC", "ET"]
        for region in regions["per_subject"]["case_d"].values():
            assert np.isnan(region["dice"]) or 0 <= region["dice"] <= 1
            assert np.isnan(region["hd95"]) or region["hd95"] >= 0


@pytest.mark.slow
def test_both_sets_are_sampled_equally_often(bundle_run):
    out = bundle_run["out"] / "output"
    both = segmentation_datalist(out / "slices" / "slices.json", out / "synthetic" / "synthetic.json", "both")
    assert [e["source"] for e in both].count("real") == [e["source"] for e in both].count("synthetic") == 18
    with pytest.raises(ValueError, match="training_data must be one of"):
        segmentation_datalist(out / "slices" / "slices.json", None, "fake")


@pytest.mark.slow
def test_inference_writes_a_label_map_on_the_volume_grid(bundle_run):
    prediction = bundle_run["out"] / "output" / "inference" / "case_d_seg.nii.gz"
    loaded = LoadImage(image_only=True, ensure_channel_first=True)(str(prediction))
    assert loaded.shape == (1, *SHAPE)
    assert np.allclose(loaded.affine.numpy(), AFFINE, atol=1e-4)
    assert set(np.unique(loaded.numpy()).tolist()) <= set(LABEL_VALUES)


SHARED_CASES = {
    "brats2015_2ch": {
        "channel_patterns": ["Flair_*.nii.gz", "T1c_*.nii.gz"], "channel_names": ["flair", "t1c"],
        "label_pattern": "OTMultiClass.nii.gz", "brain_mask_pattern": "brainmask.nii.gz",
        "label_values": [0, 1, 2, 3, 4], "test_case_ids": ["brats_2013_pat0006_1"],
    },
    "tcga_lgg_4ch": {
        "channel_patterns": ["*_t1_bet.nii.gz", "*_t1c_bet.nii.gz", "*_t2_bet.nii.gz", "*_fla_bet.nii.gz"],
        "channel_names": ["t1", "t1c", "t2", "flair"], "label_pattern": "seg_fused_mav.nii.gz",
        "label_values": [0, 1, 2, 4], "test_case_ids": [],
    },
}


@pytest.mark.slow
@pytest.mark.parametrize("collection, num_cases, num_channels", [("brats2015_2ch", 3, 2), ("tcga_lgg_4ch", 1, 4)])
def test_smoke_run_on_the_shared_brats_cases(collection, num_cases, num_channels, tmp_path):
    """The first three steps on real 240x240x155 cases: one tumour slice per case, tiny generators, two samples."""
    if not SHARED_BRATS.is_dir():
        pytest.skip(f"{SHARED_BRATS} is absent (real data lives in ../shared/data beside the project root)")
    overrides = {
        **{k: v for k, v in TINY.items() if not k.startswith("channel") and k != "label_pattern"},
        **SHARED_CASES[collection], "bundle_root": str(tmp_path), "dataset_dir": str(SHARED_BRATS / collection),
        "slice_size": [256, 256], "ensemble_size": 1, "slices#max_slices_per_case": 1, "slices#tumour_only": True,
    }
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        for step in ("prepare_slices", "train_generators", "generate"):
            _run(step, overrides)
    finally:
        torch.set_num_threads(threads)
        logging.getLogger().handlers.clear()
    slices = read_datalist(tmp_path / "output" / "slices" / "slices.json")
    assert len(slices) == num_cases and all(e["slice_shape"] == [256, 256] for e in slices)
    synthetic = read_datalist(tmp_path / "output" / "synthetic" / "synthetic.json")
    image = LoadImage(image_only=True, ensure_channel_first=True)(synthetic[0]["image"])
    assert image.shape == (num_channels, 256, 256, 1)
    label_values = set(SHARED_CASES[collection]["label_values"])
    assert set(np.unique(nib.load(synthetic[0]["label"]).get_fdata()).tolist()) <= label_values


@pytest.mark.parametrize("label_values, has_regions", [([0, 1, 2, 4], True), ([0, 1, 2, 3, 4], True), ([0, 1], False)])
def test_region_metrics_are_evaluated_for_brats_label_sets_only(label_values, has_regions):
    from monai.bundle import ConfigParser

    parser = ConfigParser()
    parser.read_config([str(CONFIGS / "common.json"), str(CONFIGS / "evaluate.json")])
    parser["label_values"] = label_values
    parser["device"] = "$torch.device('cpu')"
    metrics = parser.get_parsed_content("validate#region_metrics")
    transforms = parser.get_parsed_content("validate#postprocessing").transforms
    assert sorted(metrics) == (["region_dice", "region_hd95"] if has_regions else [])
    assert any(type(t).__name__ == "BratsRegionsd" for t in transforms) is has_regions


# scripts/compare_real_synthetic.sh, on tiny volumes laid out as the shared BraTS 2015 cases.

COMPARISON_SCRIPT = BUNDLE / "scripts" / "compare_real_synthetic.sh"
TINY_COMPARISON = {"SLICES_PER_CASE": "2", "GAN_SIZE": "32", "GAN_ITERATIONS": "2", "SAMPLES_PER_SLICE": "1",
                   "UPDATES": "2", "BATCH_SIZE": "4", "UNET_LEVELS": "3", "UNET_FILTERS": "8"}


def _brats2015_layout(root: Path) -> Path:
    for seed, patient in enumerate((3, 4, 5, 6)):
        folder = root / f"brats_2013_pat000{patient}_1"
        folder.mkdir(parents=True)
        (flair, t1c), label = _phantom(seed)
        for name, volume in (("Flair_1.nii.gz", flair), ("T1c_1.nii.gz", t1c), ("OTMultiClass.nii.gz", label),
                             ("brainmask.nii.gz", (flair > 0).astype(np.uint8))):
            nib.save(nib.Nifti1Image(volume, AFFINE), str(folder / name))
    return root


def _compare(data: Path, out: Path, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", str(COMPARISON_SCRIPT), str(data), str(out), "--slice_size", "[32,32]",
                           "--singanseg#min_size", "16", "--singanseg#finest_iterations", "2",
                           "--singanseg#base_features", "8", "--singanseg#max_features", "8"],
                          env={**os.environ, **TINY_COMPARISON, **env}, capture_output=True, text=True, timeout=900)


@pytest.mark.slow
def test_comparison_script_runs_its_rows_in_two_lanes_and_tabulates_them(tmp_path):
    out = tmp_path / "out"
    result = _compare(_brats2015_layout(tmp_path / "data"), out, JOBS="2", ROWS="real both", TIDY_LABELS="True",
                      STRUCTURE_ATTEMPTS="2")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    table = (out / "output" / "metrics" / "comparison.md").read_text()
    means = [line.split(" | ")[0].strip("| ") for line in table.splitlines() if " | mean | " in line]
    assert means == ["real", "both", "real_half"]
    # The two generator shards split the four training slices between them, each slice trained once.
    logs = out / "output" / "logs"
    trained = [line for shard in (0, 1) for line in (logs / f"train_generators_{shard}.log").read_text().splitlines()
               if "trained 2 of 2 generators" in line]
    assert len(trained) == 2
    assert len(SinGANSegBank(out / "models" / "generators" / "member_00")) == 4


@pytest.mark.parametrize("env, message", [({"ROWS": "real synthtic"}, "unknown row 'synthtic'"),
                                          ({"ROWS": " "}, "ROWS names no row"), ({"JOBS": "0"}, "JOBS must be"),
                                          ({"TIDY_LABELS": "yes"}, "TIDY_LABELS must be True or False"),
                                          ({"STRUCTURE_ATTEMPTS": "0"}, "STRUCTURE_ATTEMPTS must be")])
def test_comparison_script_refuses_bad_settings_before_any_work(tmp_path, env, message):
    result = _compare(tmp_path / "data", tmp_path / "out", **env)
    assert result.returncode == 2 and message in result.stderr
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("step, key", [("evaluate", "validate#postprocessing"), ("inference", "infer#postprocessing")])
@pytest.mark.parametrize("keep_largest", [False, True])
def test_keep_largest_tumour_drops_every_tumour_but_the_largest_in_3d(step, key, keep_largest):
    from monai.bundle import ConfigParser

    parser = ConfigParser()
    parser.read_config([str(CONFIGS / "common.json"), str(CONFIGS / f"{step}.json")])
    parser["label_values"], parser["keep_largest_tumour"] = [0, 1, 2, 4], keep_largest
    after_argmax = parser.get_parsed_content(key).transforms[2]
    assert type(after_argmax).__name__ == ("KeepLargestConnectedComponentd" if keep_largest else "Identityd")
    classes = torch.zeros(1, 12, 12, 6)
    classes[0, 1:6, 1:6, 1:4] = 1  # one tumour: necrosis beside oedema is one component of the whole tumour
    classes[0, 6:8, 1:6, 1:4] = 2
    classes[0, 10, 10, 4] = 3  # a speckle far from it
    expected = classes.clone()
    if keep_largest:
        expected[0, 10, 10, 4] = 0
    assert torch.equal(torch.as_tensor(after_argmax({"pred": classes.clone()})["pred"]), expected)
