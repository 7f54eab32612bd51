from __future__ import annotations

import nibabel as nib
import numpy as np
import pytest
from PIL import Image

from monai_singanseg.data.io import load_training_pair


def save_png(array: np.ndarray, path) -> str:
    Image.fromarray(array).save(path)
    return str(path)


def test_reads_photo_and_mask_in_row_major_order(tmp_path, phantom_pair):
    image, mask = phantom_pair
    image_path = save_png(np.moveaxis(image, 0, -1), tmp_path / "image.png")
    mask_path = save_png(np.repeat(mask[0][..., None], 3, -1), tmp_path / "mask.png")  # 3-channel mask
    loaded_image, loaded_label, info = load_training_pair(image_path, mask_path)
    assert loaded_image.shape == (3, 28, 32) and loaded_label.shape == (1, 28, 32)
    assert np.array_equal(np.asarray(loaded_image), image) and np.array_equal(np.asarray(loaded_label), mask)
    assert info["file_format"] == "png"


def test_reads_rgba_png_with_mask_in_alpha_like_the_reference(tmp_path, phantom_pair):
    image, mask = phantom_pair
    rgba = np.concatenate([np.moveaxis(image, 0, -1), mask[0][..., None]], axis=-1)
    loaded_image, loaded_label, _ = load_training_pair(save_png(rgba, tmp_path / "rgba.png"))
    assert loaded_image.shape == (3, 28, 32) and np.array_equal(np.asarray(loaded_label), mask)


def test_label_threshold_cleans_jpeg_artefacts(tmp_path, phantom_pair):
    image, mask = phantom_pair
    Image.fromarray(np.moveaxis(image, 0, -1)).save(tmp_path / "image.jpg", quality=80)
    Image.fromarray(mask[0]).save(tmp_path / "mask.jpg", quality=80)
    _, label, _ = load_training_pair(tmp_path / "image.jpg", tmp_path / "mask.jpg", label_threshold=127)
    assert set(np.unique(np.asarray(label)).tolist()) == {0, 1}


def test_reads_nifti_volumes(tmp_path):
    volume = np.random.rand(20, 18, 16).astype(np.float32)
    label = (volume > 0.8).astype(np.uint8)
    nib.save(nib.Nifti1Image(volume, np.diag([2, 2, 2, 1])), tmp_path / "t1.nii.gz")
    nib.save(nib.Nifti1Image(label, np.diag([2, 2, 2, 1])), tmp_path / "seg.nii.gz")
    image, loaded_label, info = load_training_pair(tmp_path / "t1.nii.gz", tmp_path / "seg.nii.gz")
    assert image.shape == (1, 20, 18, 16) and loaded_label.shape == (1, 20, 18, 16)
    assert info["file_format"] == "nifti"


def test_rejects_mask_with_other_shape(tmp_path, phantom_pair):
    image, mask = phantom_pair
    image_path = save_png(np.moveaxis(image, 0, -1), tmp_path / "image.png")
    mask_path = save_png(mask[0, :20], tmp_path / "mask.png")
    with pytest.raises(ValueError, match="spatial shape .* must match"):
        load_training_pair(image_path, mask_path)


def test_missing_file_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="label file .*absent.png"):
        load_training_pair(save_png(np.zeros((8, 8, 3), np.uint8), tmp_path / "i.png"), tmp_path / "absent.png")


def test_unreadable_file_is_named(tmp_path):
    (tmp_path / "broken.png").write_bytes(b"\x89PNG broken")
    with pytest.raises(ValueError, match="cannot read image file .*broken.png"):
        load_training_pair(tmp_path / "broken.png", tmp_path / "broken.png")


def test_rgb_without_label_asks_for_one(tmp_path):
    path = save_png(np.zeros((8, 8, 3), np.uint8), tmp_path / "rgb.png")
    with pytest.raises(ValueError, match="pass a label file"):
        load_training_pair(path)


def test_reads_a_single_dicom_slice_as_2d(tmp_path):
    pydicom_data = pytest.importorskip("pydicom.data")
    path = pydicom_data.get_testdata_file("MR_small.dcm")
    volume_label = np.zeros((64, 64), np.uint8)
    volume_label[20:40, 20:40] = 1
    nib.save(nib.Nifti1Image(volume_label, np.eye(4)), tmp_path / "label.nii.gz")
    image, label, info = load_training_pair(path, tmp_path / "label.nii.gz")
    assert image.shape == (1, 64, 64) and label.shape == (1, 64, 64)
    assert info["file_format"] == "nifti"


def test_threshold_that_would_empty_a_0_1_mask_is_refused(tmp_path, phantom_pair):
    image, mask = phantom_pair
    image_path = save_png(np.moveaxis(image, 0, -1), tmp_path / "image.png")
    mask_path = save_png((mask[0] > 0).astype(np.uint8), tmp_path / "mask01.png")
    with pytest.raises(ValueError, match="mask01.png .*none above label_threshold=127"):
        load_training_pair(image_path, mask_path, label_threshold=127)
    _, label, _ = load_training_pair(image_path, mask_path, label_threshold=0.5)
    assert int(label.sum()) == int((mask > 0).sum())
