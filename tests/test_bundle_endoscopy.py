"""The endoscopy (polyp) bundle: every config run end to end through ConfigWorkflow on tiny data made here (the
model-zoo CI pattern), offline metadata validation, clear errors on bad data folders, and no fold leakage."""

from __future__ import annotations

import csv
import json
from dataclasses import fields
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from monai.bundle import ConfigWorkflow
from monai.utils import optional_import
from PIL import Image

from monai_singanseg.apps.endoscopy import (
    PolypDataError,
    build_synthetic_dataset,
    check_mask,
    epochs_for_updates,
    kfold_split,
    nested_subsets,
    pair_polyp_folder,
    read_datalist,
    split_pairs,
    training_datalist,
)
from monai_singanseg.data.bank import SinGANSegBank
from monai_singanseg.data.phantom import endoscopy_phantom
from monai_singanseg.settings import SinGANSegSettings

BUNDLE = Path(__file__).resolve().parents[1] / "bundles" / "endoscopy_polyp_singanseg"
CONFIGS = BUNDLE / "configs"
SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
ALL_CONFIGS = ("train_generators.json", "generate.json", "train_segmentation.json", "evaluate.json",
               "inference.json", "multi_gpu_train.json", "experiments.json")

# Reference settings shrunk for 2 CPU cores: a 3-scale pyramid of 16..32 px, 2 iterations a scale, 8 features.
TINY = {
    "device": "$torch.device('cpu')",
    "num_workers": 0,
    "progress": False,
    "split#num_folds": 2,
    "image_size": [32, 32],
    "singanseg#min_size": 16,
    "singanseg#max_size": 32,
    "singanseg#iterations": 2,
    "singanseg#base_features": 8,
    "singanseg#max_features": 8,
    "network_def#features": [8, 8, 8, 8, 8, 8],
    "max_epochs": 1,
    "batch_size": 2,
    "cache_rate": 0.0,
    "generate#per_image": 2,
}


def make_polyp_folder(root: Path, count: int, size: tuple[int, int] = (36, 44)) -> Path:
    """``count`` phantom pairs in the Kvasir-SEG layout: JPEG images, {0, 255} PNG masks."""
    (root / "images").mkdir(parents=True, exist_ok=True)
    (root / "masks").mkdir(parents=True, exist_ok=True)
    for index in range(count):
        image, mask = endoscopy_phantom(*size, seed=index)
        Image.fromarray(np.moveaxis(image, 0, -1)).save(root / "images" / f"polyp{index:02d}.jpg", quality=95)
        Image.fromarray(mask[0]).save(root / "masks" / f"polyp{index:02d}.png")
    return root


def run_config(configs: list[str], workspace: Path, data: Path, workflow_type: str | None = None,
               logging: bool = False, **overrides: Any) -> ConfigWorkflow:
    """initialize, run and finalize ``common.json`` + ``configs`` with the tiny settings and ``overrides``."""
    files = [CONFIGS / "common.json", *(CONFIGS / name for name in configs)]
    roots = set().union(*(json.loads(f.read_text()).keys() for f in files))
    paths = {"bundle_root": str(BUNDLE), "dataset_dir": str(data), "output_dir": str(workspace / "output"),
             "ckpt_dir": str(workspace / "models")}
    settings = {k: v for k, v in {**paths, **TINY, **overrides}.items() if k.split("#")[0] in roots}
    workflow = ConfigWorkflow(config_file=[str(f) for f in files], meta_file=str(CONFIGS / "metadata.json"),
                              logging_file=str(CONFIGS / "logging.conf") if logging else False,
                              workflow_type=workflow_type, **settings)
    workflow.initialize()
    if workflow_type is not None:
        assert workflow.check_properties() == [], f"{configs} lacks bundle properties of a {workflow_type} workflow"
    workflow.run()
    workflow.finalize()
    return workflow


@pytest.fixture(scope="module")
def polyp_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_polyp_folder(tmp_path_factory.mktemp("polyp"), 6)


@pytest.fixture(scope="module")
def trained(polyp_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A workspace with a generator bank, a synthetic set and a real-trained segmentation model."""
    torch.set_num_threads(1)  # as every test runs (conftest.py): small layers gain nothing from a second thread
    workspace = tmp_path_factory.mktemp("workspace")
    run_config(["train_generators.json"], workspace, polyp_data)
    run_config(["generate.json"], workspace, polyp_data)
    run_config(["train_segmentation.json"], workspace, polyp_data, "train")
    return workspace


def test_metadata_validates_offline_against_the_bundled_schema(tmp_path: Path) -> None:
    pytest.importorskip("jsonschema", reason="verify_metadata needs jsonschema (pip install jsonschema)")
    from monai.bundle import verify_metadata

    verify_metadata(meta_file=str(CONFIGS / "metadata.json"), filepath=str(CONFIGS / "meta_schema.json"))
    broken = json.loads((CONFIGS / "metadata.json").read_text())
    del broken["network_data_format"]
    (tmp_path / "metadata.json").write_text(json.dumps(broken))
    with pytest.raises(ValueError, match="network_data_format"):
        verify_metadata(meta_file=str(tmp_path / "metadata.json"), filepath=str(CONFIGS / "meta_schema.json"))


def test_singanseg_section_mirrors_the_settings_dataclass() -> None:
    section = json.loads((CONFIGS / "common.json").read_text())["singanseg"]
    assert section["_target_"] == "monai_singanseg.settings.SinGANSegSettings"
    assert [k for k in section if not k.startswith("_")] == [f.name for f in fields(SinGANSegSettings)]


def _targets(config: Any) -> list[str]:
    if isinstance(config, dict):
        own = [config["_target_"]] if "_target_" in config else []
        return own + [t for v in config.values() for t in _targets(v)]
    return [t for v in config for t in _targets(v)] if isinstance(config, list) else []


@pytest.mark.parametrize("name", ["common.json", *ALL_CONFIGS])
def test_every_target_is_a_full_dotted_path_that_imports(name: str) -> None:
    targets = _targets(json.loads((CONFIGS / name).read_text()))
    for target in targets:
        module, _, attribute = target.rpartition(".")
        assert module, f"{name}: _target_ {target!r} is not a full dotted path"
        assert optional_import(module, name=attribute)[1], f"{name}: {target} does not import"


@pytest.mark.slow
def test_generators_see_only_the_training_fold(trained: Path, polyp_data: Path) -> None:
    split = split_pairs(pair_polyp_folder(polyp_data), num_folds=2, fold=0)
    bank = SinGANSegBank(trained / "models" / "generators")
    assert sorted(bank.ids) == sorted(split.train_ids)
    synthetic = read_datalist(trained / "output" / "synthetic" / "datalist.json")
    assert len(synthetic) == 2 * len(split.train_ids)
    assert {e["image_id"] for e in synthetic} == set(split.train_ids)
    assert all(Path(e["image"]).is_file() and Path(e["label"]).is_file() for e in synthetic)


def test_generate_meets_each_pyramids_training_share_on_request(trained: Path, polyp_data: Path,
                                                                  tmp_path: Path) -> None:
    run_config(["generate.json"], trained, polyp_data, synthetic_dir=str(tmp_path / "steered"),
               **{"generate#share": "match_real", "generate#share_budget": 3})
    generated = json.loads((tmp_path / "steered" / "generated" / "datalist.json").read_text())["training"]
    assert len(generated) == 2 * 3
    records = [entry["size_control"] for entry in generated]
    assert all(1 <= r["attempts"] <= 3 and r["low"] < r["high"] for r in records)
    assert all(r["accepted"] == (r["low"] <= r["share"] <= r["high"]) for r in records)
    # MONAI wraps a failed config expression in a RuntimeError; the user reads the cause beneath it.
    with pytest.raises(RuntimeError) as failure:
        run_config(["generate.json"], trained, polyp_data, synthetic_dir=str(tmp_path / "bad"),
                   **{"generate#share": "large"})
    assert "share target must be 'match_real' or a range" in str(failure.value.__cause__)
    assert not (tmp_path / "bad").exists()


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["synthetic", "real+synthetic", "real+online"])
def test_segmentation_trains_in_every_mode(mode: str, trained: Path, polyp_data: Path, tmp_path: Path) -> None:
    model_dir = tmp_path / "segmentation"
    workflow = run_config(["train_segmentation.json"], trained, polyp_data, "train", segmentation_dir=str(model_dir),
                          **{"train#mode": mode, "train#online#prob": 1.0})
    assert (model_dir / "model.pt").is_file()
    transforms = [type(t).__name__ for t in workflow.parser.get_parsed_content("train#preprocessing").transforms]
    assert ("RandSinGANSegd" in transforms) == (mode == "real+online")
    sizes = {"synthetic": 6, "real+synthetic": 9, "real+online": 3}
    assert len(workflow.parser.get_parsed_content("train#datalist")) == sizes[mode]


@pytest.mark.slow
def test_evaluate_reports_the_five_metrics_on_held_out_images(trained: Path, polyp_data: Path) -> None:
    workflow = run_config(["evaluate.json"], trained, polyp_data)
    summary = json.loads((trained / "output" / "metrics" / "summary.json").read_text())
    assert set(summary) == {"test_iou", "test_dice", "test_accuracy", "test_recall", "test_precision"}
    assert all(0.0 <= value <= 1.0 for value in summary.values())
    held_out = workflow.parser.get_parsed_content("validate#datalist")
    assert len(held_out) == 3
    assert not {e["image_id"] for e in held_out} & set(SinGANSegBank(trained / "models" / "generators").ids)


@pytest.mark.slow
def test_inference_writes_a_binary_mask_of_each_input_size(trained: Path, polyp_data: Path) -> None:
    run_config(["inference.json"], trained, polyp_data, "infer", logging=True)
    masks = sorted((trained / "output" / "predictions").glob("*_mask.png"))
    assert [m.name for m in masks] == [f"polyp{i:02d}_mask.png" for i in range(6)]
    with Image.open(masks[0]) as mask:
        assert mask.size == (44, 36)
        assert set(np.unique(np.asarray(mask))) <= {0, 255}


@pytest.mark.slow
def test_multi_gpu_config_trains_in_a_one_process_group(trained: Path, polyp_data: Path, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    for name, value in {"MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port), "RANK": "0", "WORLD_SIZE": "1",
                        "LOCAL_RANK": "0"}.items():
        monkeypatch.setenv(name, value)
    model_dir = tmp_path / "ddp"
    run_config(["train_segmentation.json", "multi_gpu_train.json"], trained, polyp_data, "train",
               segmentation_dir=str(model_dir), device="$torch.device('cpu')")
    assert not torch.distributed.is_initialized()
    state = torch.load(model_dir / "model.pt", weights_only=True)
    assert not any(key.startswith("module.") for key in state), "the DDP wrapper leaked into the checkpoint"


@pytest.mark.slow
def test_experiments_write_csv_markdown_and_plots(polyp_data: Path, tmp_path: Path) -> None:
    run_config(["experiments.json"], tmp_path, polyp_data, **{
        "experiments#num_folds": 2, "experiments#samples_per_image": [1], "experiments#small_data_sizes": [1, 2],
        "experiments#small_data_per_image": 1, "experiments#bank_dir": str(tmp_path / "bank"),
        "experiments#overrides": {"updates": 2, "batch_size": 2, "cache_rate": 0.0,
                                  "network_def": {"features": [8, 8, 8, 8, 8, 8]}}})
    results = tmp_path / "output" / "experiments"
    for name in ("results.csv", "results.md", "kfold_iou.png", "small_data_iou.png", "mask_sizes.png"):
        assert (results / name).is_file(), name
    assert len(SinGANSegBank(tmp_path / "bank")) == 6 and not (results / "generators").exists()
    with open(results / "results.csv", newline="") as table:
        rows = list(csv.DictReader(table))
    assert len(rows) == 4 + 4 + 4  # 2 folds x (real, synthetic), R in (1, 2) x 2, 4 synthetic sets
    # Every row trains for the same updates, whatever its set's size (R=1 real: 1 batch, 2 epochs).
    assert {row["updates"] for row in rows if row["experiment"] in ("kfold", "small_data")} == {"2"}
    markdown = (results / "results.md").read_text()
    assert "| synthetic | 1 | none | 2 |" in markdown and "| 2 | synthetic | 2 | 2 | 1 |" in markdown


def test_updates_set_the_epochs_whatever_the_training_set_size(trained: Path, polyp_data: Path, tmp_path: Path) -> None:
    # 2 folds of 6 images: 3 training images, batches of 2, so 2 batches an epoch and 3 epochs for 5 updates.
    workflow = run_config(["train_segmentation.json"], trained, polyp_data, segmentation_dir=str(tmp_path / "seg"),
                          updates=5)
    state = workflow.parser.get_parsed_content("train#trainer").state
    assert (state.epoch, state.iteration) == (3, 6)
    assert epochs_for_updates(None, 2, 7) == 7
    for bad in (0, -3, 2.5, True):
        with pytest.raises(ValueError, match="updates must be a positive whole number"):
            epochs_for_updates(bad, 2, 7)
    with pytest.raises(ValueError, match="training set is empty"):
        epochs_for_updates(5, 0, 7)


@pytest.mark.parametrize("problem, expected", [
    ("mask_without_image", "masks without an image.*polyp09.png"),
    ("image_without_mask", "images without a mask.*polyp01.jpg"),
    ("mask_of_other_size", "masks.polyp02.png is 20x20 .*its image is 44x36"),
    ("non_binary_mask", "masks.polyp03.png is not binary"),
    ("colour_mask", "masks.polyp00.png is a colour image"),
])
def test_bad_folders_fail_before_training_naming_the_files(problem: str, expected: str, tmp_path: Path) -> None:
    data = make_polyp_folder(tmp_path / "data", 4)
    if problem == "mask_without_image":
        Image.fromarray(np.zeros((36, 44), np.uint8)).save(data / "masks" / "polyp09.png")
    elif problem == "image_without_mask":
        (data / "masks" / "polyp01.png").unlink()
    elif problem == "mask_of_other_size":
        Image.fromarray(np.zeros((20, 20), np.uint8)).save(data / "masks" / "polyp02.png")
    elif problem == "non_binary_mask":
        Image.fromarray(np.tile(np.arange(44, dtype=np.uint8) * 5, (36, 1))).save(data / "masks" / "polyp03.png")
    else:
        rgb = np.zeros((36, 44, 3), np.uint8)
        rgb[..., 0] = 255
        Image.fromarray(rgb).save(data / "masks" / "polyp00.png")
    with pytest.raises(PolypDataError, match=expected):
        pair_polyp_folder(data)


@pytest.mark.parametrize("kind", ["zero_one", "jpeg", "rgb_equal_channels", "empty"])
def test_binary_masks_in_any_common_encoding_are_accepted(kind: str, tmp_path: Path) -> None:
    _, mask = endoscopy_phantom(36, 44, seed=1)
    values = {"zero_one": mask[0] // 255, "empty": np.zeros_like(mask[0])}.get(kind, mask[0])
    picture = Image.fromarray(values if kind != "rgb_equal_channels" else np.repeat(values[..., None], 3, -1))
    path = tmp_path / ("mask.jpg" if kind == "jpeg" else "mask.png")
    picture.save(path, **({"quality": 75} if kind == "jpeg" else {}))
    assert check_mask(path, (44, 36)) is None


def test_unknown_training_mode_names_the_allowed_modes(polyp_data: Path) -> None:
    with pytest.raises(ValueError, match="real\\+online"):
        training_datalist("fake", pair_polyp_folder(polyp_data))


def test_empty_folder_and_bad_config_data_fail_in_initialize(tmp_path: Path) -> None:
    (tmp_path / "data" / "images").mkdir(parents=True)
    (tmp_path / "data" / "masks").mkdir()
    with pytest.raises(PolypDataError, match="is empty"):
        pair_polyp_folder(tmp_path / "data")
    with pytest.raises(RuntimeError) as caught:
        run_config(["train_generators.json"], tmp_path, tmp_path / "data")
    assert "is empty" in str(caught.value.__cause__)
    assert not (tmp_path / "models" / "generators").exists()


def test_splits_hold_each_image_out_once_and_subsets_nest() -> None:
    ids = [f"p{i:02d}" for i in range(10)]
    folds = kfold_split(list(reversed(ids)), 3, seed=1)
    assert folds == kfold_split(ids, 3, seed=1)
    assert sorted(i for _, test in folds for i in test) == ids
    assert all(not set(train) & set(test) for train, test in folds)
    subsets = nested_subsets(ids, [2, 5, 8], seed=4)
    assert set(subsets[2]) < set(subsets[5]) < set(subsets[8])


@pytest.mark.slow
def test_synthetic_data_refuses_generators_of_held_out_images(trained: Path, polyp_data: Path) -> None:
    split = split_pairs(pair_polyp_folder(polyp_data), num_folds=2, fold=0)
    with pytest.raises(ValueError, match="leakage"):
        build_synthetic_dataset(trained / "models" / "generators", trained / "leak", split.train,
                                held_out=split.train[:1])
    with pytest.raises(ValueError, match="no pyramid"):
        build_synthetic_dataset(trained / "models" / "generators", trained / "leak", split.test)
    with pytest.raises(ValueError, match="style_weights_path"):
        build_synthetic_dataset(trained / "models" / "generators", trained / "leak", split.train, style_method="gatys")


@pytest.mark.slow
def test_minimal_run_on_endotect_dev(tmp_path: Path) -> None:
    data = SHARED_DATA / "polyp" / "endotect_dev"
    if not data.is_dir():
        pytest.skip(f"{data} is absent (real data lives in ../shared/data beside the project root)")
    torch.set_num_threads(1)  # as every test runs (conftest.py): small layers gain nothing from a second thread
    # Two training images of fold 0, one synthetic pair each, evaluated on the held-out half of the 100 images.
    run_config(["train_generators.json"], tmp_path, data, **{"split#num_train": 2})
    # The folder was checked by the first run; the next ones skip re-reading its 100 masks.
    small = {"split#num_train": 2, "generate#per_image": 1, "check_masks": False}
    run_config(["generate.json"], tmp_path, data, **small)
    run_config(["train_segmentation.json"], tmp_path, data, "train", **small, **{"train#mode": "real+synthetic"})
    run_config(["evaluate.json"], tmp_path, data, **small)
    summary = json.loads((tmp_path / "output" / "metrics" / "summary.json").read_text())
    assert 0.0 <= summary["test_iou"] <= 1.0
    assert len(SinGANSegBank(tmp_path / "models" / "generators")) == 2
