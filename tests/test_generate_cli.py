from __future__ import annotations

import argparse
import copy
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from monai.data import load_decathlon_datalist
from monai.networks.nets import BasicUNet
from monai.transforms import Compose, EnsureChannelFirstd, LoadImaged, ScaleIntensityd
from PIL import Image

from monai_singanseg.cli import generate, main
from monai_singanseg.data.bank import SinGANSegBank
from monai_singanseg.data.phantom import endoscopy_phantom
from monai_singanseg.data.sample_writer import model_sha256
from monai_singanseg.engines import train_singanseg
from monai_singanseg.networks import SinGANSeg
from monai_singanseg.settings import SinGANSegSettings

ROOT = Path(__file__).resolve().parents[1]
TINY = SinGANSegSettings(min_size=24, max_size=32, iterations=10, base_features=8, max_features=8)
# The command line as a separate process, so a test can kill it.
CLI = [sys.executable, "-c", "import sys; from monai_singanseg.cli import main; sys.exit(main(sys.argv[1:]))"]


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
    with pytest.raises(ValueError, match="per_model=2"):  # other settings: another dataset, not one to resume
        generate.generate_dataset(bank, out, per_model=3)
    third = generate.generate_dataset(bank, out, per_model=3, overwrite=True)
    assert third.generated == ["polyp_a", "polyp_b"] and not any((out / "samples").glob(".*.partial"))
    assert len(json.loads((out / "datalist.json").read_text())["training"]) == 6


def _save_variant(source: Path, target: Path, image_id: str, shift: float) -> None:
    """Save ``source``'s pyramid with a shifted finest bias as ``target`` under ``image_id``: another model."""
    model = SinGANSeg.load(source)
    model.generators[-1].tail[0].conv.bias.add_(shift)
    model.save(str(target), metadata={"image_id": image_id, "file_format": "png"})


def test_model_retrained_under_the_same_id_is_sampled_again_not_skipped(bank_dir, tmp_path, capsys):
    bank_copy, out = tmp_path / "bank", tmp_path / "synthetic"
    shutil.copytree(bank_dir, bank_copy)
    argv = ["generate", "--bank", str(bank_copy), "--per-model", "2", "--out", str(out), "--quiet"]
    assert main(argv) == 0
    old = (out / "samples" / "polyp_b" / "sample_0000_image.png").read_bytes()
    _save_variant(bank_copy / "polyp_b.pt", bank_copy / "polyp_b.pt", "polyp_b", 0.5)  # retrained, same id
    capsys.readouterr()
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "sampled 1 models, 1 of them retrained" in printed and "kept 1 already complete" in printed
    assert (out / "samples" / "polyp_b" / "sample_0000_image.png").read_bytes() != old
    entries = json.loads((out / "datalist.json").read_text())["training"]
    new_sha = model_sha256(bank_copy / "polyp_b.pt")
    assert [e["model_sha256"] == new_sha for e in entries] == [False, False, True, True]
    again = generate.generate_dataset(SinGANSegBank(bank_copy), out, per_model=2)
    assert again.skipped == ["polyp_a", "polyp_b"] and again.generated == []


def test_folder_with_other_output_is_refused_until_overwrite_which_keeps_other_files(bank_dir, tmp_path, capsys):
    out = tmp_path / "synthetic"
    (out / "samples" / "polyp_gone").mkdir(parents=True)
    (out / "samples" / "polyp_gone" / "sample_0000_image.png").write_bytes(b"stale")
    (out / "notes.txt").write_text("mine")
    argv = ["generate", "--bank", str(bank_dir), "--per-model", "1", "--out", str(out), "--quiet"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert str(out) in err and "--overwrite" in err and "notes.txt" in err and "samples/polyp_gone" in err
    assert not (out / "datalist.json").exists()
    with pytest.warns(UserWarning, match="notes.txt"):
        assert main([*argv, "--overwrite"]) == 0
    assert (out / "notes.txt").read_text() == "mine"
    assert sorted(p.name for p in (out / "samples").iterdir()) == ["polyp_a", "polyp_b"]
    assert len(json.loads((out / "datalist.json").read_text())["training"]) == 2


def _tree(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_killed_generate_resumes_to_the_same_output_as_an_uninterrupted_run(bank_dir, tmp_path, capsys):
    torch.set_num_threads(1)  # as the command below runs: the same threads give the same floating-point sums
    bank = tmp_path / "bank"
    shutil.copytree(bank_dir, bank)
    for k, shift in enumerate((0.1, 0.2)):
        _save_variant(bank / "polyp_b.pt", bank / f"polyp_c{k}.pt", f"polyp_c{k}", shift)
    reference = generate.generate_dataset(SinGANSegBank(bank), tmp_path / "reference", per_model=40, seed=2)
    assert reference.num_pairs == 160

    out = tmp_path / "synthetic"
    command = [*CLI, "generate", "--bank", str(bank), "--per-model", "40", "--seed", "2", "--out", str(out), "--quiet"]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    run = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        while not (out / "samples" / "polyp_a").is_dir():
            assert run.poll() is None, f"the run ended before it could be interrupted: {run.stderr.read()[-2000:]}"
            assert time.monotonic() < deadline, "no model folder appeared within 120 s"
            time.sleep(0.01)
    finally:
        run.kill()
        run.wait()
    assert not (out / "datalist.json").exists(), "the run finished before it was killed"
    first_written = {p: p.stat().st_mtime_ns for p in (out / "samples" / "polyp_a").iterdir()}

    capsys.readouterr()
    assert main(command[len(CLI):]) == 0  # resumed in this process: starting another costs seconds of imports
    printed = capsys.readouterr().out
    assert "kept 1 already complete" in printed or "kept 2 already complete" in printed
    assert {p: p.stat().st_mtime_ns for p in (out / "samples" / "polyp_a").iterdir()} == first_written
    assert _tree(out) == _tree(tmp_path / "reference")


def test_rejects_bad_settings_naming_them(bank_dir, tmp_path):
    with pytest.raises(ValueError, match="per_model"):
        generate.generate_dataset(SinGANSegBank(bank_dir), tmp_path, per_model=0)
    with pytest.raises(ValueError, match="start_scale"):
        generate.generate_dataset(SinGANSegBank(bank_dir), tmp_path, per_model=1, start_scale=9)


def test_overwrite_with_settings_the_bank_rejects_removes_nothing(bank_dir, tmp_path):
    generate.generate_dataset(SinGANSegBank(bank_dir), tmp_path, per_model=1)
    before = _tree(tmp_path)
    with pytest.raises(ValueError, match="start_scale"):
        generate.generate_dataset(SinGANSegBank(bank_dir), tmp_path, per_model=1, start_scale=9, overwrite=True)
    assert _tree(tmp_path) == before


def test_help_describes_every_option(capsys):
    with pytest.raises(SystemExit):
        run_cli(["generate", "--help"])
    text = capsys.readouterr().out
    assert all(flag in text for flag in ("--bank", "--per-model", "--start-scale", "--seed", "--device", "--out",
                                         "--overwrite"))
