"""Reading image+mask files for the evaluation report: every value range read as the file means it, and files that
would be read as something else (NaN, a label map, a mask of another size) refused with their path."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from monai_singanseg.cli import main
from monai_singanseg.evaluation.loading import load_image_mask_set

from test_evaluation_report import ellipse_mask, smooth_rgb


def _datalist(folder: Path, pairs: list[tuple[str, str]]) -> Path:
    datalist = folder / f"set_{len(list(folder.glob('set_*.json')))}.json"
    datalist.write_text(json.dumps({"training": [{"image": image, "label": label} for image, label in pairs]}))
    return datalist


def _mask_png(folder: Path, name: str = "mask.png", size: tuple[int, int] = (32, 32)) -> str:
    Image.fromarray(ellipse_mask(0, size)).save(folder / name)
    return name


def _load(datalist: Path):
    return load_image_mask_set(datalist, size=32, progress=False)


def test_jpeg_masks_are_thresholded_and_one_channel_is_kept(tmp_path: Path) -> None:
    image = smooth_rgb(0, (32, 32))
    mask = np.random.default_rng(0).integers(0, 100, (32, 32, 3)).astype(np.uint8)  # JPEG-like ringing below 127
    mask[8:24, 8:16] = 200
    Image.fromarray(image).save(tmp_path / "image.jpg")
    Image.fromarray(mask).save(tmp_path / "mask.png")
    loaded = _load(_datalist(tmp_path, [("image.jpg", "mask.png")]))
    assert loaded.images.shape == (1, 3, 32, 32) and loaded.masks.shape == (1, 1, 32, 32)
    assert float(loaded.masks.mean()) == pytest.approx(16 * 8 / 32**2)
    assert 0.0 <= float(loaded.images.min()) and float(loaded.images.max()) <= 1.0


def test_sixteen_bit_images_are_scaled_by_their_bit_depth(tmp_path: Path) -> None:
    grey = smooth_rgb(0, (32, 32))[..., 0]
    Image.fromarray(grey).save(tmp_path / "eight.png")
    Image.fromarray(grey.astype(np.uint16) * 257).save(tmp_path / "sixteen.png")  # PIL mode I;16
    assert Image.open(tmp_path / "sixteen.png").mode == "I;16"
    mask = _mask_png(tmp_path)
    eight, sixteen = _load(_datalist(tmp_path, [("eight.png", mask), ("sixteen.png", mask)])).images
    assert float(sixteen.max()) < 1.0  # not all white, as a division by 255 and a clamp made it
    assert np.allclose(eight.numpy(), sixteen.numpy(), atol=1e-6)


def test_copies_of_sixteen_bit_images_are_not_safe_to_share(tmp_path: Path) -> None:
    folder = tmp_path / "data"
    folder.mkdir()
    pairs = []
    for seed in range(4):
        Image.fromarray(smooth_rgb(seed)[..., 0].astype(np.uint16) * 257).save(folder / f"real_{seed}.png")
        pairs.append((f"real_{seed}.png", _mask_png(folder, f"real_{seed}_mask.png", (48, 40))))
    real = _datalist(folder, pairs)
    out = tmp_path / "report"
    assert main(["evaluate", "--real", str(real), "--synthetic", str(real), "--out", str(out), "--size", "32",
                 "--no-progress"]) == 0
    assert json.loads((out / "metrics.json").read_text())["verdict"]["safe"] is False


@pytest.mark.parametrize(
    ("values", "expected"),
    [(np.float32([0.0, 0.5, 1.0]), "float [0, 1]"), (np.float32([0.0, 127.5, 255.0]), "float [0, 255]")],
)
def test_float_images_in_either_range_read_alike(tmp_path: Path, values: np.ndarray, expected: str) -> None:
    Image.fromarray(np.resize(values, (32, 32)).astype(np.float32)).save(tmp_path / "image.tif")
    loaded = _load(_datalist(tmp_path, [("image.tif", _mask_png(tmp_path))]))
    assert float(loaded.images.min()) == pytest.approx(0) and float(loaded.images.max()) == pytest.approx(1)


@pytest.mark.parametrize(
    ("values", "message"),
    [
        (np.float32([0.0, np.nan]), "NaN or Inf"),
        (np.float32([0.0, np.inf]), "NaN or Inf"),
        (np.float32([-0.5, 0.5]), "expected [0, 1] or [0, 255]"),
        (np.float32([0.0, 4000.0]), "expected [0, 1] or [0, 255]"),
    ],
)
def test_images_with_values_no_range_explains_are_refused(tmp_path: Path, values: np.ndarray, message: str) -> None:
    Image.fromarray(np.resize(values, (32, 32)).astype(np.float32)).save(tmp_path / "image.tif")
    with pytest.raises(ValueError, match=re.escape(message)) as raised:
        _load(_datalist(tmp_path, [("image.tif", _mask_png(tmp_path))]))
    assert "image.tif" in str(raised.value)


def test_a_set_mixing_float_ranges_is_refused(tmp_path: Path) -> None:
    unit = np.resize(np.float32([0.0, 0.9]), (32, 32))
    Image.fromarray(unit).save(tmp_path / "unit.tif")
    Image.fromarray(unit * 255).save(tmp_path / "byte.tif")
    mask = _mask_png(tmp_path)
    with pytest.raises(ValueError, match="mixes float images") as raised:
        _load(_datalist(tmp_path, [("unit.tif", mask), ("byte.tif", mask)]))
    assert "unit.tif" in str(raised.value) and "byte.tif" in str(raised.value)


def _label_map() -> np.ndarray:
    labels = np.zeros((32, 32), np.uint8)
    labels[4:12, 4:12], labels[16:28, 16:28] = 1, 2
    return labels


def _disagreeing_channels() -> np.ndarray:
    mask = np.zeros((32, 32, 3), np.uint8)
    mask[8:24, 8:24, 1] = 255  # the foreground in green only: the red channel alone would read as empty
    return mask


@pytest.mark.parametrize(
    ("mask", "message"),
    [
        (_label_map(), "not a label map"),
        (_disagreeing_channels(), "channels whose foregrounds differ"),
        (ellipse_mask(0, (40, 20)), "a mask must have its image's size"),
    ],
)
def test_masks_that_would_be_misread_are_refused(tmp_path: Path, mask: np.ndarray, message: str) -> None:
    Image.fromarray(smooth_rgb(0, (32, 32))).save(tmp_path / "image.png")
    Image.fromarray(mask).save(tmp_path / "mask.png")
    with pytest.raises(ValueError, match=message) as raised:
        _load(_datalist(tmp_path, [("image.png", "mask.png")]))
    assert "mask.png" in str(raised.value)


def test_masks_stored_as_zero_one_are_read(tmp_path: Path) -> None:
    Image.fromarray(smooth_rgb(0, (32, 32))).save(tmp_path / "image.png")
    Image.fromarray((_label_map() > 0).astype(np.uint8)).save(tmp_path / "mask.png")
    loaded = _load(_datalist(tmp_path, [("image.png", "mask.png")]))
    assert float(loaded.masks.sum()) == 8 * 8 + 12 * 12
