"""``monai-singanseg style``: restyle a datalist of tiny PNGs, labels copied, a new datalist written."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from monai_singanseg.cli.style import add_parser, parse_ratio, run
from monai_singanseg.networks.vgg import VGG19Features


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="monai-singanseg")
    add_parser(parser.add_subparsers(dest="command", required=True))
    return parser.parse_args(argv)


def make_datalist(root: Path, count: int = 3) -> Path:
    """Synthetic 24x24 greyish PNGs with labels, each with a reddish real image of another size; relative paths."""
    rng = np.random.default_rng(0)
    (root / "synthetic").mkdir()
    (root / "real").mkdir()
    items = []
    for index in range(count):
        synthetic = (rng.random((24, 24, 3)) * 100 + 80).astype(np.uint8)
        real = np.stack([rng.integers(low, high, (28, 30)) for low, high in ((180, 255), (40, 90), (0, 60))])
        label = (rng.random((24, 24)) > 0.5).astype(np.uint8) * 255
        Image.fromarray(synthetic).save(root / "synthetic" / f"sample_{index}.png")
        Image.fromarray(label).save(root / "synthetic" / f"sample_{index}_mask.png")
        Image.fromarray(real.transpose(1, 2, 0).astype(np.uint8)).save(root / "real" / f"real_{index}.png")
        items.append(
            {
                "image": f"synthetic/sample_{index}.png",
                "label": f"synthetic/sample_{index}_mask.png",
                "source_image": f"real/real_{index}.png",
                "generator": index,
            }
        )
    path = root / "synthetic.json"
    path.write_text(json.dumps({"training": items}))
    return path


def red_excess(path: Path) -> float:
    """Mean of red minus blue, high for the real images."""
    pixels = np.asarray(Image.open(path).convert("RGB"), dtype=np.float64)
    return float((pixels[..., 0] - pixels[..., 2]).mean())


def test_histogram_run_writes_restyled_images_copied_labels_and_datalist(tmp_path: Path) -> None:
    datalist = make_datalist(tmp_path)
    out = tmp_path / "styled"
    assert run(parse(["style", "--synthetic", str(datalist), "--method", "histogram", "--out", str(out)])) == 0
    items = json.loads((out / "datalist.json").read_text())["training"]
    assert len(items) == 3
    for index, item in enumerate(items):
        assert set(item) == {"image", "label", "source_image", "generator", "style"}
        assert item["style"] == {"method": "histogram"}
        assert item["generator"] == index
        assert Path(item["source_image"]) == (tmp_path / "real" / f"real_{index}.png").resolve()
        label = (out / item["label"]).read_bytes()
        assert label == (tmp_path / "synthetic" / f"sample_{index}_mask.png").read_bytes()
        image = out / item["image"]
        assert Image.open(image).size == (24, 24)
        assert red_excess(image) > red_excess(tmp_path / "synthetic" / f"sample_{index}.png") + 50


def test_gatys_run_with_fake_weights_file(tmp_path: Path) -> None:
    datalist = make_datalist(tmp_path, count=2)
    weights = tmp_path / "vgg19_fake.pth"
    torch.manual_seed(0)
    torch.save(VGG19Features(pretrained=False).state_dict(), weights)
    argv = ["style", "--synthetic", str(datalist), "--out", str(tmp_path / "out"), "--weights", str(weights)]
    args = parse(argv + ["--ratio", "1:1000", "--steps", "2", "--device", "cpu", "--batch-size", "2"])
    assert run(args) == 0
    items = json.loads((tmp_path / "out" / "datalist.json").read_text())["training"]
    assert items[0]["style"] == {
        "method": "gatys",
        "content_weight": 1.0,
        "style_weight": 1000.0,
        "steps": 2,
        "learning_rate": 0.01,
    }
    for index, item in enumerate(items):
        styled = np.asarray(Image.open(tmp_path / "out" / item["image"]))
        original = np.asarray(Image.open(tmp_path / "synthetic" / f"sample_{index}.png"))
        assert styled.shape == original.shape and not np.array_equal(styled, original)


def test_gatys_without_weights_names_the_missing_file(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    datalist = make_datalist(tmp_path, count=1)
    with pytest.raises(FileNotFoundError, match="vgg19-dcbb9e9d.pth"):
        run(parse(["style", "--synthetic", str(datalist), "--out", str(tmp_path / "out"), "--device", "cpu"]))


@pytest.mark.parametrize("key, expected", [("source_image", "real_0.png"), ("label", "sample_0_mask.png")])
def test_missing_input_file_is_named_before_any_work(tmp_path: Path, key: str, expected: str) -> None:
    datalist = make_datalist(tmp_path, count=2)
    item = json.loads(datalist.read_text())["training"][0]
    (tmp_path / item[key]).unlink()
    with pytest.raises(FileNotFoundError, match=expected):
        run(parse(["style", "--synthetic", str(datalist), "--method", "histogram", "--out", str(tmp_path / "out")]))
    assert not (tmp_path / "out").exists()


def test_item_without_source_image_and_missing_datalist_are_reported(tmp_path: Path) -> None:
    datalist = make_datalist(tmp_path, count=1)
    content = json.loads(datalist.read_text())
    del content["training"][0]["source_image"]
    datalist.write_text(json.dumps(content))
    with pytest.raises(ValueError, match="source_image"):
        run(parse(["style", "--synthetic", str(datalist), "--method", "fourier", "--out", str(tmp_path / "out")]))
    with pytest.raises(FileNotFoundError, match="absent.json"):
        run(parse(["style", "--synthetic", str(tmp_path / "absent.json"), "--out", str(tmp_path / "out")]))


@pytest.mark.parametrize("text, expected", [("1:1000", (1.0, 1000.0)), ("1:1", (1.0, 1.0)), ("0.5:2", (0.5, 2.0))])
def test_ratio_parses_content_then_style(text: str, expected: tuple[float, float]) -> None:
    assert parse_ratio(text) == expected


@pytest.mark.parametrize("text", ["1000", "a:b", "-1:5", "0:0", "1:2:3"])
def test_ratio_rejects_malformed_text(text: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError, match="ratio"):
        parse_ratio(text)


def test_style_from_pairs_items_with_real_images_by_source_id(tmp_path: Path) -> None:
    datalist = make_datalist(tmp_path)
    data = json.loads(datalist.read_text())
    for index, item in enumerate(data["training"]):
        del item["source_image"]
        item["source_id"] = f"real_{index}"
    datalist.write_text(json.dumps(data))
    out = tmp_path / "styled"
    argv = ["style", "--synthetic", str(datalist), "--method", "histogram", "--style-from", str(tmp_path / "real"),
            "--out", str(out)]
    assert run(parse(argv)) == 0
    items = json.loads((out / "datalist.json").read_text())["training"]
    assert [Path(item["source_image"]).name for item in items] == ["real_0.png", "real_1.png", "real_2.png"]
    assert red_excess(out / items[0]["image"]) > red_excess(tmp_path / "synthetic" / "sample_0.png")


def test_style_from_names_a_missing_id(tmp_path: Path) -> None:
    datalist = make_datalist(tmp_path, count=1)
    data = json.loads(datalist.read_text())
    data["training"][0]["source_id"] = "nobody"
    datalist.write_text(json.dumps(data))
    argv = ["style", "--synthetic", str(datalist), "--style-from", str(tmp_path / "real"), "--out", str(tmp_path / "o")]
    with pytest.raises(FileNotFoundError, match="'nobody'"):
        run(parse(argv))
