"""What the sample writers put on disk: NIfTI pairs whose affine matches their own grid, image and label with the same
header geometry, and files written whole or not at all."""

from __future__ import annotations

import json
import os

import nibabel as nib
import numpy as np
import pytest
import torch

from monai_singanseg.data.io import load_image, load_training_pair
from monai_singanseg.data.sample_writer import sample_to_folder
from monai_singanseg.data.writers import resized_affine, temporary_target, write_bytes, write_pair
from monai_singanseg.engines import train_singanseg
from monai_singanseg.settings import SinGANSegSettings

# An oblique-free but flipped, anisotropic, off-origin grid: any mistake in spacing, axis order or origin shows.
SOURCE_AFFINE = np.array([[-1.5, 0, 0, 30.0], [0, 2.0, 0, -20.0], [0, 0, 3.0, 5.0], [0, 0, 0, 1.0]])
SOURCE_SHAPE = (16, 18, 14)
# Three scales of 14x16x12 .. 16x18x14 with 3-layer generators: trains in about a second.
TINY_3D = SinGANSegSettings(min_size=12, max_size=18, iterations=2, num_layers=3, base_features=4, max_features=4)


@pytest.fixture(scope="module")
def volume_pyramid(tmp_path_factory):
    """A tiny 3D pyramid trained on a NIfTI volume and label written here, saved with its training metadata."""
    folder = tmp_path_factory.mktemp("volume")
    rng = np.random.default_rng(0)
    volume = rng.normal(size=SOURCE_SHAPE).astype(np.float32)
    nib.save(nib.Nifti1Image(volume, SOURCE_AFFINE), str(folder / "brain.nii.gz"))
    nib.save(nib.Nifti1Image((volume > 0.5).astype(np.uint8), SOURCE_AFFINE), str(folder / "brain_seg.nii.gz"))
    image, label, info = load_training_pair(folder / "brain.nii.gz", folder / "brain_seg.nii.gz", label_threshold=None)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        model = train_singanseg(image, label, TINY_3D)
    finally:
        torch.set_num_threads(threads)
    assert model.scale_shapes[-1] == SOURCE_SHAPE
    info["image_id"] = "brain"
    path = folder / "brain.pt"
    model.save(str(path), metadata=info)
    return path, info


def _field_of_view_centre(affine: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    return (affine @ np.array([*((np.array(shape) - 1) / 2), 1.0]))[:3]


@pytest.mark.parametrize("source_shape, shape, spacing", [
    ((64, 64, 32), (32, 32, 32), (2.0, 2.0, 1.0)),
    ((10, 20, 30), (20, 10, 30), (0.5, 2.0, 1.0)),
    ((10, 20), (5, 40), (2.0, 0.5, 1.0)),
    ((7, 7, 7), (7, 7, 7), (1.0, 1.0, 1.0)),
])
def test_resized_affine_scales_spacing_and_keeps_orientation_and_field_of_view(source_shape, shape, spacing):
    affine = np.diag([1.0, 1.0, 1.0, 1.0])
    affine[:3, 3] = (4.0, -2.0, 9.0)
    resized = resized_affine(affine, source_shape, shape)
    assert np.allclose(np.linalg.norm(resized[:3, :3], axis=0), spacing)
    assert nib.aff2axcodes(resized) == nib.aff2axcodes(affine)
    padded = lambda s: tuple(s) + (1,) * (3 - len(s))  # noqa: E731
    assert np.allclose(_field_of_view_centre(resized, padded(shape)),
                       _field_of_view_centre(affine, padded(source_shape)))


def test_resized_affine_rejects_shapes_of_other_lengths():
    with pytest.raises(ValueError, match="source_shape"):
        resized_affine(np.eye(4), (8, 8, 8), (8, 8))
    with pytest.raises(ValueError, match="4x4"):
        resized_affine(np.eye(3), (8, 8), (8, 8))


def test_volume_samples_at_another_size_carry_the_affine_of_their_grid(volume_pyramid, tmp_path):
    path, _ = volume_pyramid
    shape = (24, 9, 14)
    sample_to_folder(path, tmp_path, num_samples=1, output_shape=shape)
    image = nib.load(tmp_path / "sample_0000_image.nii.gz")
    label = nib.load(tmp_path / "sample_0000_label.nii.gz")
    assert image.shape == label.shape == shape
    assert np.array_equal(image.affine, label.affine)
    expected_spacing = np.abs(np.diag(SOURCE_AFFINE)[:3]) * np.array(SOURCE_SHAPE) / np.array(shape)
    assert np.allclose(image.header.get_zooms(), expected_spacing) and np.allclose(label.header.get_zooms(),
                                                                                   expected_spacing)
    assert nib.aff2axcodes(image.affine) == nib.aff2axcodes(SOURCE_AFFINE) == ("L", "A", "S")
    assert np.allclose(_field_of_view_centre(image.affine, shape), _field_of_view_centre(SOURCE_AFFINE, SOURCE_SHAPE),
                       atol=1e-4)
    # As MONAI reads them: one channel each, on the same grid.
    loaded_image, loaded_label = load_image(image.get_filename()), load_image(label.get_filename(), "label")
    assert loaded_image.shape == loaded_label.shape == (1, *shape)
    assert torch.allclose(loaded_image.affine, loaded_label.affine)


def test_volume_samples_at_the_training_size_keep_the_source_affine(volume_pyramid, tmp_path):
    path, _ = volume_pyramid
    sample_to_folder(path, tmp_path, num_samples=1)
    for kind in ("image", "label"):
        written = nib.load(tmp_path / f"sample_0000_{kind}.nii.gz")
        assert written.shape == SOURCE_SHAPE and np.allclose(written.affine, SOURCE_AFFINE, atol=1e-5)


def test_recorded_source_shape_scales_the_affine_of_a_pyramid_trained_smaller(volume_pyramid, tmp_path):
    # A pyramid trained at half the source's size (max_size below it): its samples' voxels are twice as big.
    path, info = volume_pyramid
    payload = torch.load(path, weights_only=True)
    payload["metadata"] = {**info, "spatial_shape": [2 * s for s in SOURCE_SHAPE]}
    torch.save(payload, tmp_path / "half.pt")
    sample_to_folder(tmp_path / "half.pt", tmp_path / "out", num_samples=1)
    written = nib.load(tmp_path / "out" / "sample_0000_image.nii.gz")
    assert written.shape == SOURCE_SHAPE
    assert np.allclose(written.header.get_zooms(), 2 * np.abs(np.diag(SOURCE_AFFINE)[:3]))


def test_overwrite_with_settings_the_pyramid_rejects_removes_nothing(volume_pyramid, tmp_path):
    path, _ = volume_pyramid
    sample_to_folder(path, tmp_path, num_samples=1)
    before = sorted(p.name for p in tmp_path.iterdir())
    with pytest.raises(ValueError, match="start_scale"):
        sample_to_folder(path, tmp_path, num_samples=1, start_scale=99, overwrite=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == before


@pytest.mark.parametrize("channels, spatial, image_shape, label_shape", [
    (1, (6, 5, 4), (6, 5, 4), (6, 5, 4)),
    (2, (6, 5, 4), (6, 5, 4, 2), (6, 5, 4)),
    (1, (6, 5), (6, 5), (6, 5)),
    (3, (6, 5), (6, 5, 1, 3), (6, 5, 1)),
])
def test_nifti_pairs_share_affine_and_spatial_axes(channels, spatial, image_shape, label_shape, tmp_path):
    image = torch.rand(channels, *spatial)
    label = (torch.rand(1, *spatial) > 0.5).float()
    image_path, label_path = write_pair(image, label, tmp_path, "pair", "nifti", SOURCE_AFFINE)
    image_nii, label_nii = nib.load(image_path), nib.load(label_path)
    assert image_nii.shape == image_shape and label_nii.shape == label_shape
    assert np.array_equal(image_nii.affine, label_nii.affine) and np.allclose(image_nii.affine, SOURCE_AFFINE)
    assert load_image(image_path).shape == (channels, *spatial)
    assert load_image(label_path, "label").shape == (1, *spatial)
    assert np.allclose(np.moveaxis(np.asarray(image_nii.dataobj).reshape(*spatial, channels), -1, 0), image.numpy())


def test_same_pair_gives_the_same_nifti_bytes(tmp_path):
    image, label = torch.rand(1, 5, 5, 5), torch.zeros(1, 5, 5, 5)
    first = [p.read_bytes() for p in write_pair(image, label, tmp_path / "a", "pair", "nifti")]
    second = [p.read_bytes() for p in write_pair(image, label, tmp_path / "b", "pair", "nifti")]
    assert first == second


def test_interrupted_write_keeps_the_previous_file_and_no_temporary(tmp_path, monkeypatch):
    path = write_bytes(b"previous", tmp_path / "datalist.json")

    def crash(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(KeyboardInterrupt):
        write_bytes(json.dumps({"training": []}).encode(), path)
    assert path.read_bytes() == b"previous" and [p.name for p in tmp_path.iterdir()] == ["datalist.json"]


def test_temporary_names_map_back_to_their_file():
    assert temporary_target(".grid.png.k2x9_q.tmp") == "grid.png"
    assert temporary_target(".sample_0001_image.nii.gz.abc123.tmp") == "sample_0001_image.nii.gz"
    assert temporary_target("grid.png") is None and temporary_target(".hidden") is None
