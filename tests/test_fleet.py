from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from monai_singanseg.data.checkpoint import save_pyramid
from monai_singanseg.data.fleet import (
    CheckpointStatus, FleetItem, bucket_batches, checkpoint_status, list_training_items, plan_fleet, shard_items,
)
from monai_singanseg.data.phantom import endoscopy_phantom
from monai_singanseg.engines.fleet import STOP_AFTER_CHECKPOINT
from monai_singanseg.networks import SinGANSeg
from monai_singanseg.settings import SinGANSegSettings
from monai_singanseg.train_many import main, summary_path, train_many
from monai_singanseg.utils.layout import ChannelLayout

ROOT = Path(__file__).resolve().parents[1]
# A 3-scale pyramid of 16x18 .. 28x32 that trains in well under a second.
SETTINGS = SinGANSegSettings(min_size=16, max_size=32, iterations=2, base_features=8, max_features=8, seed=5)
FLAGS = ["--min-size", "16", "--max-size", "32", "--iterations", "2", "--base-features", "8", "--max-features", "8",
         "--seed", "5", "--quiet"]


@pytest.fixture(autouse=True)
def _one_thread():
    # Tiny convolutions gain nothing from a second thread, and the subprocess tests share the two cores.
    torch.set_num_threads(1)


def _write_pair(folder: Path, image_id: str, shape: tuple[int, int] = (28, 32), seed: int = 0,
                image_suffix: str = ".png", mask_suffix: str = ".png") -> None:
    image, mask = endoscopy_phantom(*shape, seed=seed)
    (folder / "images").mkdir(parents=True, exist_ok=True)
    (folder / "masks").mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.moveaxis(image, 0, -1)).save(folder / "images" / f"{image_id}{image_suffix}")
    Image.fromarray(mask[0]).save(folder / "masks" / f"{image_id}{mask_suffix}")


def _dataset(folder: Path, ids: list[str]) -> Path:
    for seed, image_id in enumerate(ids):
        _write_pair(folder, image_id, seed=seed)
    return folder


def _subprocess_env() -> dict[str, str]:
    return {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}


def _status(bank: Path, image_id: str) -> CheckpointStatus:
    return checkpoint_status(bank / f"{image_id}.pt")


# -- planning -----------------------------------------------------------------------------------------------------


def test_pairs_images_and_masks_by_stem_across_suffixes(tmp_path):
    _write_pair(tmp_path, "b", image_suffix=".jpg", mask_suffix=".png")
    _write_pair(tmp_path, "a", image_suffix=".png", mask_suffix=".jpg")
    (tmp_path / "images" / "README.txt").write_text("not an image")
    items = list_training_items(tmp_path)
    assert [i.image_id for i in items] == ["a", "b"]
    assert items[1] == FleetItem("b", str(tmp_path / "images" / "b.jpg"), str(tmp_path / "masks" / "b.png"))


def test_unpaired_files_are_all_named_in_one_error(tmp_path):
    for image_id in ("both", "image_only_1", "image_only_2"):
        _write_pair(tmp_path, image_id)
    for image_id in ("image_only_1", "image_only_2"):
        (tmp_path / "masks" / f"{image_id}.png").unlink()
    Image.new("L", (4, 4)).save(tmp_path / "masks" / "mask_only.png")
    with pytest.raises(ValueError) as error:
        list_training_items(tmp_path)
    message = str(error.value)
    assert "image_only_1" in message and "image_only_2" in message and "mask_only" in message
    assert "both" not in message


@pytest.mark.parametrize("layout, expected", [
    ("no_subfolders", "images/ and masks/"),
    ("same_stem_twice", "same name stem"),
])
def test_rejects_folders_that_are_not_a_dataset(tmp_path, layout, expected):
    tmp_path.joinpath("other").mkdir()
    if layout == "same_stem_twice":
        _write_pair(tmp_path, "a")
        _write_pair(tmp_path, "a", image_suffix=".jpg")
    with pytest.raises(ValueError, match=expected):
        list_training_items(tmp_path)


def test_missing_data_raises_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope"):
        list_training_items(tmp_path / "nope")


def test_reads_a_datalist_relative_to_its_folder(tmp_path):
    _dataset(tmp_path, ["x", "y"])
    datalist = {"training": [{"image": "images/y.png", "label": "masks/y.png"},
                             {"image": "images/x.png", "label": "masks/x.png"}]}
    (tmp_path / "datalist.json").write_text(json.dumps(datalist))
    items = list_training_items(tmp_path / "datalist.json")
    assert [i.image_id for i in items] == ["x", "y"]
    assert items[0].image == str(tmp_path / "images" / "x.png") and items[0].label == str(tmp_path / "masks" / "x.png")


@pytest.mark.parametrize("world_size", [1, 2, 3, 8])
def test_shards_cover_every_id_exactly_once(world_size):
    items = [FleetItem(f"id{i:02d}", f"{i}.png", None) for i in (5, 3, 0, 6, 1, 4, 2)]
    shards = [shard_items(items, rank, world_size) for rank in range(world_size)]
    ids = [item.image_id for shard in shards for item in shard]
    assert sorted(ids) == sorted(i.image_id for i in items) and len(ids) == len(set(ids))
    assert max(map(len, shards)) - min(map(len, shards)) <= 1


def test_rejects_a_rank_outside_the_world():
    with pytest.raises(ValueError, match="rank"):
        shard_items([], rank=2, world_size=2)


def test_bucket_batches_keeps_equal_keys_together_up_to_m():
    items = [FleetItem(str(i), f"{i}.png", None) for i in range(7)]
    keys = ["a", "b", "a", "a", "b", "a", "c"]
    batches = bucket_batches(items, keys, models_per_batch=3)
    assert [[i.image_id for i in batch] for batch in batches] == [["0", "2", "3"], ["5"], ["1", "4"], ["6"]]


def _fake_checkpoint(path: Path, complete: bool) -> None:
    layout = ChannelLayout(2, 3, (0.0, 255.0), "binary", (0.0,) * 3, (255.0,) * 3, "uint8")
    save_pyramid(SinGANSeg(2, layout, [(16, 18), (28, 32)], 0.75), path, training={"complete": complete})


def test_plan_skips_complete_resumes_partial_first_and_buckets_the_rest_by_pyramid_shape(tmp_path):
    for seed, (image_id, shape) in enumerate([("a", (28, 32)), ("b", (28, 32)), ("c", (40, 64)), ("d", (28, 32)),
                                              ("e", (40, 64)), ("f", (28, 32))]):
        _write_pair(tmp_path / "data", image_id, shape, seed)
    bank = tmp_path / "bank"
    bank.mkdir()
    _fake_checkpoint(bank / "a.pt", complete=True)
    _fake_checkpoint(bank / "e.pt", complete=False)
    plan = plan_fleet(list_training_items(tmp_path / "data"), bank, SETTINGS, models_per_batch=2)
    assert [i.image_id for i in plan.complete] == ["a"] and _status(bank, "e") == CheckpointStatus.PARTIAL
    assert [[i.image_id for i in batch] for batch in plan.batches] == [["e"], ["b", "d"], ["f"], ["c"]]


def test_command_help_lists_fleet_and_settings_flags(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])
    text = capsys.readouterr().out
    assert exit_info.value.code == 0
    assert all(flag in text for flag in ("--data", "--out", "--models-per-batch", "--label-threshold", "--iterations"))


def test_command_reports_missing_data_in_one_line(tmp_path, capsys):
    assert main(["--data", str(tmp_path / "absent"), "--out", str(tmp_path / "bank")]) == 2
    err = capsys.readouterr().err
    assert "absent" in err and "Traceback" not in err


# -- training -----------------------------------------------------------------------------------------------------


def test_trains_every_image_into_a_bank_and_skips_them_next_time(tmp_path):
    data = _dataset(tmp_path / "data", ["p1", "p2", "p3"])
    summary = train_many(data, tmp_path / "bank", SETTINGS)
    assert sorted(r["image_id"] for r in summary["trained"]) == ["p1", "p2", "p3"]
    model = SinGANSeg.load(tmp_path / "bank" / "p2.pt")
    payload = torch.load(tmp_path / "bank" / "p2.pt", weights_only=True)
    assert model.is_complete and payload["metadata"]["image_id"] == "p2" and payload["training"]["complete"]
    # Seeds differ per image and are saved with each model.
    assert len({r["seed"] for r in summary["trained"]}) == 3 and payload["settings"]["seed"] != SETTINGS.seed

    again = train_many(data, tmp_path / "bank", SETTINGS)
    assert again["trained"] == [] and again["skipped"] == ["p1", "p2", "p3"]
    assert json.loads(summary_path(tmp_path / "bank", 0).read_text())["skipped"] == ["p1", "p2", "p3"]


def test_batched_run_writes_complete_checkpoints(tmp_path):
    data = _dataset(tmp_path / "data", ["p1", "p2", "p3"])
    summary = train_many(data, tmp_path / "bank", SETTINGS, models_per_batch=3)
    assert [r["models_in_batch"] for r in summary["trained"]] == [3, 3, 3]
    for image_id in ("p1", "p2", "p3"):
        assert _status(tmp_path / "bank", image_id) == CheckpointStatus.COMPLETE
        assert SinGANSeg.load(tmp_path / "bank" / f"{image_id}.pt").is_complete


def test_label_values_give_images_with_different_labels_one_layout(tmp_path):
    data = _dataset(tmp_path / "data", ["p1", "p2"])
    # p2's map holds labels {0, 2} instead of {0, 255}: alone, each would get its own binary layout.
    mask_path = data / "masks" / "p2.png"
    mask = np.asarray(Image.open(mask_path))
    Image.fromarray(np.where(mask > 0, 2, 0).astype(np.uint8)).save(mask_path)
    summary = train_many(data, tmp_path / "bank", SETTINGS, models_per_batch=2, label_values=[0, 2, 255])
    assert [r["models_in_batch"] for r in summary["trained"]] == [2, 2]
    layouts = {SinGANSeg.load(tmp_path / "bank" / f"{i}.pt").layout.label_values for i in ("p1", "p2")}
    assert layouts == {(0.0, 2.0, 255.0)}


def test_two_torchrun_ranks_train_every_image_exactly_once(tmp_path):
    ids = ["p1", "p2", "p3", "p4"]
    data, bank = _dataset(tmp_path / "data", ids), tmp_path / "bank"
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
               "-m", "monai_singanseg.train_many", "--data", str(data), "--out", str(bank), *FLAGS]
    done = subprocess.run(command, env=_subprocess_env(), cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    summaries = [json.loads(summary_path(bank, rank).read_text()) for rank in (0, 1)]
    trained = [r["image_id"] for s in summaries for r in s["trained"]]
    assert sorted(trained) == ids and all(s["world_size"] == 2 for s in summaries)
    assert summaries[0]["bank_missing"] == []
    assert all(_status(bank, i) == CheckpointStatus.COMPLETE for i in ids)


def test_killed_run_resumes_without_losing_or_retraining_models(tmp_path):
    data, bank = _dataset(tmp_path / "data", ["p1", "p2", "p3"]), tmp_path / "bank"
    command = [sys.executable, "-m", "monai_singanseg.train_many", "--data", str(data), "--out", str(bank), *FLAGS]
    # The run stops itself right after writing p2's first scale (p1 then complete): killed at exactly that point.
    env = {**_subprocess_env(), STOP_AFTER_CHECKPOINT: "p2.pt"}
    log = tmp_path / "stderr.txt"
    with log.open("w") as stderr:
        run = subprocess.Popen(command, env=env, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=stderr)
    watchdog = threading.Timer(120, run.kill)  # a run that never reaches p2 fails the test instead of hanging it
    watchdog.start()
    try:
        _, status = os.waitpid(run.pid, os.WUNTRACED)
        assert os.WIFSTOPPED(status), f"the run ended before it could be interrupted: {log.read_text()[-2000:]}"
    finally:
        watchdog.cancel()
        run.kill()
        run.wait()
    first_written = (bank / "p1.pt").stat().st_mtime_ns
    interrupted = _status(bank, "p2")

    resumed = subprocess.run(command, env=_subprocess_env(), cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    summary = json.loads(summary_path(bank, 0).read_text())
    assert "p1" in summary["skipped"] and (bank / "p1.pt").stat().st_mtime_ns == first_written
    assert interrupted == CheckpointStatus.PARTIAL
    assert next(r for r in summary["trained"] if r["image_id"] == "p2")["resumed_scales"] >= 1
    assert "p3" in [r["image_id"] for r in summary["trained"]]
    assert all(_status(bank, i) == CheckpointStatus.COMPLETE for i in ("p1", "p2", "p3"))
    assert not list(bank.glob(".*.tmp"))
