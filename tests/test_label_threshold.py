from __future__ import annotations

import logging

import numpy as np
import pytest
from PIL import Image

from monai_singanseg.cli import build_parser
from monai_singanseg.data.io import load_training_pair
from monai_singanseg.data.label_threshold import near_binary_threshold
from monai_singanseg.utils.layout import ChannelLayout

from conftest import shared_data


def _disk(size: int = 48, radius: float = 12.0) -> np.ndarray:
    yy, xx = np.mgrid[:size, :size]
    return np.hypot(yy - size / 2, xx - size / 2)


def _jpeg_mask(tmp_path) -> np.ndarray:
    Image.fromarray(np.where(_disk() < 12, 255, 0).astype(np.uint8)).save(tmp_path / "m.jpg", quality=75)
    return np.asarray(Image.open(tmp_path / "m.jpg"))


def _antialiased_disk() -> np.ndarray:
    return (np.clip(12.5 - _disk(), 0, 1) * 255).astype(np.uint8)  # one-pixel ramp at the edge


def _rim(inner: int, rim: int, outer: int = 0) -> np.ndarray:
    distance = _disk()
    return np.where(distance < 10, inner, np.where(distance < 11, rim, outer)).astype(np.uint8)


def _nested_classes() -> np.ndarray:
    distance = _disk()
    return np.select([distance < 5, distance < 10, distance < 16], [4, 1, 2], 0).astype(np.uint8)


@pytest.mark.parametrize(
    ("name", "make", "expected"),
    [
        ("jpeg mask", _jpeg_mask, 127.5),
        ("antialiased edge", lambda tmp: _antialiased_disk(), 127.5),
        ("128 rim around 255", lambda tmp: _rim(255, 128), 127.5),
        ("antialiased float mask", lambda tmp: _antialiased_disk() / 255.0, 0.5),
        ("binary 0/255", lambda tmp: np.where(_disk() < 12, 255, 0).astype(np.uint8), None),
        ("binary 0/1", lambda tmp: (_disk() < 12).astype(np.uint8), None),
        ("brats-like nested classes", lambda tmp: _nested_classes(), None),
        ("small-integer class with a thin rim", lambda tmp: _rim(2, 1), None),
        ("128 as a filled region", lambda tmp: np.select([_disk() < 6, _disk() < 14], [255, 128], 0), None),
        ("soft probability map", lambda tmp: np.clip(1 - _disk() / 20, 0, 1), None),
    ],
)
def test_near_binary_threshold_tells_blurred_masks_from_class_maps(tmp_path, name, make, expected):
    assert near_binary_threshold(make(tmp_path)) == expected, name


def test_jpeg_mask_without_threshold_is_binarised_with_a_notice(tmp_path, caplog):
    Image.fromarray(np.zeros((48, 48, 3), np.uint8)).save(tmp_path / "image.png")
    _jpeg_mask(tmp_path)
    with caplog.at_level(logging.WARNING, logger="monai_singanseg"):
        image, label, info = load_training_pair(tmp_path / "image.png", tmp_path / "m.jpg")
    assert set(np.unique(np.asarray(label)).tolist()) == {0, 1}
    assert info["label_threshold"] == 127.5
    assert "binarised to {0, 1} above 127.5" in caplog.text and "m.jpg" in caplog.text
    assert ChannelLayout.from_data(image, label).channels == 4


def test_named_label_values_or_none_keep_the_label_as_it_is(tmp_path):
    Image.fromarray(np.zeros((48, 48, 3), np.uint8)).save(tmp_path / "image.png")
    raw = np.unique(_jpeg_mask(tmp_path))
    _, kept, info = load_training_pair(tmp_path / "image.png", tmp_path / "m.jpg", None)
    assert np.array_equal(np.unique(np.asarray(kept)), raw) and info["label_threshold"] is None
    _, named, _ = load_training_pair(tmp_path / "image.png", tmp_path / "m.jpg", label_values=raw.tolist())
    assert np.array_equal(np.unique(np.asarray(named)), raw)


def test_label_with_many_unnamed_values_is_refused_with_the_way_out():
    soft = np.clip(1 - _disk() / 20, 0, 1)[None]
    with pytest.raises(ValueError, match=r"distinct values .*--label-threshold.*--label-values"):
        ChannelLayout.from_data(np.zeros((3, 48, 48), np.uint8), soft)


def test_rejects_a_threshold_that_is_not_a_number(tmp_path):
    Image.fromarray(np.zeros((48, 48, 3), np.uint8)).save(tmp_path / "image.png")
    _jpeg_mask(tmp_path)
    with pytest.raises(TypeError, match="label_threshold must be a number, 'auto' or None"):
        load_training_pair(tmp_path / "image.png", tmp_path / "m.jpg", "127")


@pytest.mark.parametrize(("flag", "expected"), [([], "auto"), (["none"], None), (["AUTO"], "auto"), (["127"], 127.0)])
def test_label_threshold_flag_takes_a_number_auto_or_none(flag, expected):
    option = ["--label-threshold", *flag] if flag else []
    args = build_parser().parse_args(["train", "--image", "i.png", "--out", "m.pt", *option])
    assert args.label_threshold == expected


def test_shipped_rgba_and_kvasir_masks_become_binary_masks():
    polyp = shared_data("polyp")
    rgba = polyp / "singan_seg_rgba" / "polyp_with_4_channels.png"
    kvasir = sorted((polyp / "kvasir_seg" / "masks").glob("*.jpg"))[0]
    _, alpha, _ = load_training_pair(rgba)
    _, mask, _ = load_training_pair(polyp / "kvasir_seg" / "images" / kvasir.name, kvasir)
    for label in (alpha, mask):
        assert set(np.unique(np.asarray(label)).tolist()) == {0, 1}
