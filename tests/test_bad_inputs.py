"""A sweep of everyday mistakes across every command: each ends in one clear line and exit code 2, never a traceback,
and leaves nothing behind."""

from __future__ import annotations

import importlib.util
import json
import re
import shutil

import numpy as np
import pytest
import torch
from PIL import Image

from monai_singanseg.cli import main
from monai_singanseg.data.io import load_training_pair
from monai_singanseg.data.output_path import check_output_file, check_output_folder
from monai_singanseg.data.phantom import endoscopy_phantom
from monai_singanseg.engines import train_singanseg
from monai_singanseg.settings import SinGANSegSettings
from monai_singanseg.train_many import train_many

TINY = SinGANSegSettings(min_size=16, max_size=24, iterations=2, base_features=8, max_features=8)


@pytest.fixture(scope="module")
def folder(tmp_path_factory, shared_pyramid):
    """Good inputs (an RGB phantom and its mask, a trained pyramid, datalists) beside broken ones."""
    d = tmp_path_factory.mktemp("bad_inputs")
    image, mask = endoscopy_phantom(24, 24, seed=0)
    Image.fromarray(np.moveaxis(image, 0, -1)).save(d / "image.png")
    Image.fromarray(mask[0]).save(d / "mask.png")
    Image.fromarray(mask[0][:20]).save(d / "small_mask.png")
    colour = np.stack([mask[0], mask[0], 255 - mask[0]], axis=-1)
    Image.fromarray(colour).save(d / "colour_mask.png")
    Image.fromarray(np.tile(np.arange(24, dtype=np.uint8) * 10, (24, 1))).save(d / "ramp_mask.png")
    (d / "empty.png").touch()
    (d / "text.png").write_text("not an image\n")
    (d / "text.pt").write_text("not a checkpoint\n")
    (d / "empty.pt").touch()
    (d / "a_folder").mkdir()
    (d / "a_file").write_text("x")
    (d / "used").mkdir()
    (d / "used" / "notes.txt").write_text("someone else's")
    (d / "bank").mkdir()
    (d / "empty_bank").mkdir()
    # Any good checkpoint does: every mistake here is refused before the model is used.
    shared_pyramid.model.save(str(d / "bank" / "image.pt"),
                              metadata={"image_id": "image", "source": str(d / "image.png")})
    shutil.copy(d / "bank" / "image.pt", d / "model.pt")
    payload = torch.load(d / "model.pt", weights_only=True)
    payload["noise_amplitudes"] = torch.full_like(payload["noise_amplitudes"], float("nan"))
    torch.save(payload, d / "nan.pt")
    pair = {"image": str(d / "image.png"), "label": str(d / "mask.png")}
    (d / "real.json").write_text(json.dumps({"training": [pair] * 3}))
    (d / "missing_file.json").write_text(json.dumps({"training": [{"image": str(d / "absent.png"),
                                                                   "label": str(d / "mask.png")}]}))
    (d / "not_json.json").write_text("{not json")
    (d / "vgg.pth").write_text("not weights")
    (d / "synthetic.json").write_text(json.dumps({"training": [{**pair, "source_image": pair["image"]}]}))
    return d


TRAIN = ["train", "--image", "{d}/image.png", "--label", "{d}/mask.png", "--quiet", "--iterations", "1",
         "--max-size", "24", "--min-size", "16"]


def _train(*changes: str, out: str = "{d}/new.pt") -> list[str]:
    """The good train command with flags replaced or added."""
    argv = [*TRAIN, "--out", out]
    for flag, value in zip(changes[::2], changes[1::2]):
        if flag in argv:
            argv[argv.index(flag) + 1] = value
        else:
            argv += [flag, value]
    return argv


SAMPLE = ["sample", "--model", "{d}/model.pt", "--num-samples", "1", "--seed", "0"]

CASES = [
    # train: input files
    ("train image absent", _train("--image", "{d}/absent.png"), "image file {d}/absent.png does not exist"),
    ("train image empty", _train("--image", "{d}/empty.png"), "image file {d}/empty.png is empty"),
    ("train image is text", _train("--image", "{d}/text.png"), "it is not a PNG image"),
    ("train image is a folder", _train("--image", "{d}/a_folder"), "is a folder without DICOM files"),
    ("train label is a folder", _train("--label", "{d}/a_folder"), "label {d}/a_folder is a folder"),
    ("train label absent", _train("--label", "{d}/absent.png"), "label file {d}/absent.png does not exist"),
    ("train label other shape", _train("--label", "{d}/small_mask.png"), "they must match"),
    ("train label colours differ", _train("--label", "{d}/colour_mask.png"), "3 different channels; expected one"),
    ("train rgb without label", [a for a in _train() if a not in ("--label", "{d}/mask.png")], "not an RGBA PNG"),
    ("train label many values", _train("--label", "{d}/ramp_mask.png"), "--label-values"),
    ("train threshold empties label", _train("--label-threshold", "300"), "it would become empty"),
    ("train threshold not a number", _train("--label-threshold", "high"), "expected a number, 'auto' or 'none'"),
    ("train label values miss", _train("--label-values", "0", "1"), "outside label_values"),
    # train: output
    ("train out is a folder", _train(out="{d}/a_folder"), "checkpoint {d}/a_folder is a folder"),
    ("train out below a file", _train(out="{d}/a_file/m.pt"), "is a file, so nothing can be written below it"),
    ("train out unwritable", _train(out="/proc/m.pt"), "is not writable"),
    # train: settings
    ("train min size too small", _train("--min-size", "3"), "--min-size must be >= 11"),
    ("train scale factor", _train("--scale-factor", "1.5"), "--scale-factor must be a finite number in (0, 1)"),
    ("train iterations zero", _train("--iterations", "0"), "iterations"),
    ("train iterations not int", _train("--iterations", "2.5"), "invalid int value"),
    ("train negative lr", _train("--lr-generator", "-1"), "--lr-generator must be a finite number > 0"),
    ("train max below min", _train("--max-size", "12", "--min-size", "16"), "--max-size must be >= 16"),
    ("train label encoding", _train("--label-encoding", "rgb"),
     "--label-encoding must be one of auto, binary, onehot, spread"),
    ("train unknown recipe", _train("--recipe", "quick"), "invalid choice: 'quick'"),
    ("train unknown device", _train("--device", "gpu"), "gpu"),
    # sample
    ("sample model absent", [*SAMPLE[:2], "{d}/absent.pt", *SAMPLE[3:], "--out", "{d}/s1"], "does not exist"),
    ("sample model is text", [*SAMPLE[:2], "{d}/text.pt", *SAMPLE[3:], "--out", "{d}/s2"], "{d}/text.pt"),
    ("sample model empty", [*SAMPLE[:2], "{d}/empty.pt", *SAMPLE[3:], "--out", "{d}/s3"], "the file is empty"),
    ("sample model is a folder", [*SAMPLE[:2], "{d}/a_folder", *SAMPLE[3:], "--out", "{d}/s4"], "{d}/a_folder"),
    ("sample model not finite", [*SAMPLE[:2], "{d}/nan.pt", *SAMPLE[3:], "--out", "{d}/s5"], "holds NaN or Inf values"),
    ("sample zero samples", ["sample", "--model", "{d}/model.pt", "--num-samples", "0", "--out", "{d}/s6"],
     "num_samples"),
    ("sample start scale beyond", [*SAMPLE, "--start-scale", "99", "--out", "{d}/s7"], "start_scale"),
    ("sample out is a file", [*SAMPLE, "--out", "{d}/a_file"], "{d}/a_file"),
    ("sample out used", [*SAMPLE, "--out", "{d}/used"], "--overwrite"),
    ("sample unknown device", [*SAMPLE, "--device", "tpu9", "--out", "{d}/s8"], "tpu9"),
    ("sample output shape rank", [*SAMPLE, "--output-shape", "8", "--out", "{d}/s9"], "output"),
    # generate
    ("generate bank absent", ["generate", "--bank", "{d}/absent", "--per-model", "1", "--out", "{d}/g1"], "{d}/absent"),
    ("generate bank empty", ["generate", "--bank", "{d}/empty_bank", "--per-model", "1", "--out", "{d}/g2"],
     "{d}/empty_bank"),
    ("generate per model zero", ["generate", "--bank", "{d}/bank", "--per-model", "0", "--out", "{d}/g3"],
     "per"),
    ("generate out used", ["generate", "--bank", "{d}/bank", "--per-model", "1", "--out", "{d}/used"], "--overwrite"),
    # train-many
    ("train-many data absent", ["train-many", "--data", "{d}/absent", "--out", "{d}/b1"], "{d}/absent"),
    ("train-many data is json garbage", ["train-many", "--data", "{d}/not_json.json", "--out", "{d}/b2"],
     "not_json.json"),
    ("train-many batch zero", ["train-many", "--data", "{d}/real.json", "--out", "{d}/b3", "--models-per-batch", "0"],
     "models_per_batch"),
    ("train-many out is a file", ["train-many", "--data", "{d}/real.json", "--out", "{d}/a_file"], "is a file"),
    # evaluate
    ("evaluate real absent", ["evaluate", "--real", "{d}/absent.json", "--synthetic", "{d}/real.json", "--out",
                              "{d}/e1"], "{d}/absent.json"),
    ("evaluate real not json", ["evaluate", "--real", "{d}/not_json.json", "--synthetic", "{d}/real.json", "--out",
                                "{d}/e2"], "not_json.json"),
    ("evaluate listed file absent", ["evaluate", "--real", "{d}/real.json", "--synthetic", "{d}/missing_file.json",
                                     "--out", "{d}/e3"], "absent.png"),
    ("evaluate corrupt inception", ["evaluate", "--real", "{d}/real.json", "--synthetic", "{d}/real.json", "--out",
                                    "{d}/e4", "--sifid", "--inception-weights", "{d}/vgg.pth"], "{d}/vgg.pth"),
    # style
    ("style corrupt weights", ["style", "--synthetic", "{d}/synthetic.json", "--out", "{d}/st1", "--method", "gatys",
                               "--weights", "{d}/vgg.pth"], "{d}/vgg.pth"),
    ("style weights absent", ["style", "--synthetic", "{d}/synthetic.json", "--out", "{d}/st2", "--method", "gatys",
                              "--weights", "{d}/absent.pth"], "{d}/absent.pth"),
    ("style bad ratio", ["style", "--synthetic", "{d}/synthetic.json", "--out", "{d}/st3", "--method", "histogram",
                         "--ratio", "1:x"], "ratio"),
    ("style unknown method", ["style", "--synthetic", "{d}/synthetic.json", "--out", "{d}/st4", "--method", "van-gogh"],
     "invalid choice"),
    # convert-reference
    ("convert-reference absent", ["convert-reference", "{d}/absent_run", "--out", "{d}/c1.pt"], "{d}/absent_run"),
    ("convert-reference not a run", ["convert-reference", "{d}/a_folder", "--out", "{d}/c2.pt"], "{d}/a_folder"),
    # demo
    ("demo out is a file", ["demo", "--out", "{d}/a_file", "--iterations", "1"], "{d}/a_file"),
    ("demo no iterations", ["demo", "--out", "{d}/demo", "--iterations", "0"], "--iterations 0"),
    ("demo unknown recipe", ["demo", "--out", "{d}/demo", "--recipe", "quick"], "invalid choice"),
]


def _run(argv: list[str], capsys) -> tuple[int, str]:
    try:
        code = main(argv)
    except SystemExit as exit_:  # argparse's own errors
        code = exit_.code
    return code, capsys.readouterr().err


@pytest.mark.parametrize(("argv", "message"), [pytest.param(a, m, id=i) for i, a, m in CASES])
def test_mistake_gives_one_clear_line_and_exit_code_2(folder, capsys, argv, message):
    before = sorted(p.relative_to(folder) for p in folder.rglob("*"))
    code, err = _run([a.format(d=folder) for a in argv], capsys)
    assert code == 2, err
    assert message.format(d=folder) in err, err
    assert "Traceback" not in err and "weights_only" not in err
    # Nothing half-written is left behind.
    assert sorted(p.relative_to(folder) for p in folder.rglob("*")) == before


@pytest.mark.skipif(torch.cuda.is_available(), reason="this torch has CUDA")
@pytest.mark.parametrize("command", [_train("--device", "cuda"), [*SAMPLE, "--device", "cuda", "--out", "{d}/s10"]])
def test_cuda_on_a_cpu_only_torch_says_so(folder, capsys, command):
    code, err = _run([a.format(d=folder) for a in command], capsys)
    assert code == 2 and "CUDA" in err and "Traceback" not in err, err


def test_tensorboard_without_the_package_is_refused_before_training(folder, capsys):
    if importlib.util.find_spec("tensorboard") or importlib.util.find_spec("tensorboardX"):
        pytest.skip("tensorboard is installed here")
    code, err = _run([a.format(d=folder) for a in _train("--tensorboard", "{d}/tb", out="{d}/tb.pt")], capsys)
    assert code == 2 and "pip install tensorboard" in err and not (folder / "tb.pt").exists()



API_CASES = [
    ("load absent image", lambda d: load_training_pair(d / "absent.png", d / "mask.png"), FileNotFoundError,
     "does not exist"),
    ("load empty image", lambda d: load_training_pair(d / "empty.png", d / "mask.png"), ValueError, "is empty"),
    ("load text as png", lambda d: load_training_pair(d / "text.png", d / "mask.png"), ValueError,
     "not a PNG image"),
    ("load folder as label", lambda d: load_training_pair(d / "image.png", d / "a_folder"), ValueError,
     "folder without DICOM files"),
    ("load threshold text", lambda d: load_training_pair(d / "image.png", d / "mask.png", "127"), TypeError,
     "label_threshold must be a number"),
    ("output file is folder", lambda d: check_output_file(d / "a_folder", "checkpoint"), ValueError, "is a folder"),
    ("output folder is file", lambda d: check_output_folder(d / "a_file", "bank"), ValueError, "is a file"),
    ("output below a file", lambda d: check_output_file(d / "a_file" / "x.pt", "checkpoint"), ValueError,
     "is a file, so nothing"),
    ("train_many batch zero", lambda d: train_many(d / "real.json", d / "b9", TINY, 0), ValueError,
     "models_per_batch must be an int >= 1"),
    ("train_many batch float", lambda d: train_many(d / "real.json", d / "b9", TINY, 1.5), ValueError,
     "models_per_batch must be an int >= 1"),
    ("train_many rank beyond", lambda d: train_many(d / "real.json", d / "b9", TINY, 1, rank=2, world_size=2),
     ValueError, "rank must be in [0, world_size)"),
    ("train checkpoint folder",
     lambda d: train_singanseg(*endoscopy_phantom(24, 24), TINY, checkpoint=d / "a_folder"), ValueError,
     "is a folder"),
    ("train very elongated image",
     lambda d: train_singanseg(np.zeros((3, 30, 1000), np.uint8), np.zeros((1, 30, 1000), np.uint8), TINY),
     ValueError, "smaller than the critic's 11 px on a side"),
    ("train settings as dict", lambda d: train_singanseg(*endoscopy_phantom(24, 24), {"iterations": 1}), TypeError,
     "settings must be a SinGANSegSettings or None"),
    ("train log_every negative", lambda d: train_singanseg(*endoscopy_phantom(24, 24), TINY, log_every=-1),
     ValueError, "log_every must be an int >= 0"),
    ("train checkpoint of wrong type", lambda d: train_singanseg(*endoscopy_phantom(24, 24), TINY, checkpoint=3),
     TypeError, "checkpoint must be a str or os.PathLike"),
]


@pytest.mark.parametrize(("call", "error", "message"), [pytest.param(c, e, m, id=i) for i, c, e, m in API_CASES])
def test_api_mistake_raises_a_clear_error_naming_the_argument(folder, call, error, message):
    with pytest.raises(error, match=re.escape(message)):
        call(folder)
    assert not (folder / "b9").exists()
