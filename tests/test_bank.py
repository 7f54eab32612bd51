from __future__ import annotations

import pickle
import shutil

import pytest
import torch

from monai_singanseg.data import bank as bank_module
from monai_singanseg.data.bank import MissingPyramidError, SinGANSegBank, image_id_of
from monai_singanseg.data.checkpoint import CheckpointError
from monai_singanseg.networks import SinGANSeg
from monai_singanseg.utils.layout import ChannelLayout


@pytest.fixture(scope="module")
def models(tmp_path_factory, shared_pyramid):
    """A folder with a checkpoint that names its image (``polyp_a``) and one that does not (file stem ``b``)."""
    folder = tmp_path_factory.mktemp("bank")
    shared_pyramid.model.save(str(folder / "model_a.pt"), metadata={"image_id": "polyp_a"})
    shared_pyramid.model.save(str(folder / "b.pt"))
    return folder


def test_ids_come_from_the_metadata_or_else_the_file_stem(models):
    bank = SinGANSegBank(models)
    assert bank.ids == ("b", "polyp_a") and len(bank) == 2 and list(bank) == ["b", "polyp_a"]
    assert "polyp_a" in bank and "model_a" not in bank
    assert bank.path_of("polyp_a") == models / "model_a.pt"
    assert SinGANSegBank([models / "b.pt"]).ids == ("b",)


def test_image_id_of_a_file_is_its_name_up_to_the_first_dot():
    assert image_id_of("/data/cju0qkw.jpg") == "cju0qkw" and image_id_of("case_01.nii.gz") == "case_01"


def test_loads_on_first_use_and_keeps_at_most_cache_size(models):
    bank = SinGANSegBank(models, cache_size=1)
    assert bank.cached_ids == ()
    first = bank["polyp_a"]
    assert isinstance(first, SinGANSeg) and bank["polyp_a"] is first and bank.cached_ids == ("polyp_a",)
    bank["b"]
    assert bank.cached_ids == ("b",)
    assert bank["polyp_a"] is not first  # evicted, so loaded again


def test_layouts_are_read_without_loading(models):
    bank = SinGANSegBank(models)
    assert bank.layout_of("b").label_values == (0.0, 255.0) and bank.cached_ids == ()
    assert bank.require_compatible_layouts().image_channels == 3


def test_missing_id_error_names_the_id_and_some_available_ids(models):
    bank = SinGANSegBank(models)
    with pytest.raises(KeyError) as error:
        bank["nope"]
    assert isinstance(error.value, MissingPyramidError)
    assert str(error.value) == "no pyramid for image id 'nope' in the bank; it has 'b', 'polyp_a'."


def test_pickled_bank_carries_paths_not_models(models):
    bank = SinGANSegBank(models)
    bank["polyp_a"]
    copy = pickle.loads(pickle.dumps(bank))
    assert len(pickle.dumps(bank)) < 4096 and copy.cached_ids == ()
    generator = torch.Generator()
    assert torch.equal(copy["polyp_a"].sample(1, 0, generator.manual_seed(1)),
                       bank["polyp_a"].sample(1, 0, generator.manual_seed(1)))


def test_a_forked_process_loads_its_own_pyramids(models, monkeypatch):
    bank = SinGANSegBank(models)
    parent_model = bank["polyp_a"]
    monkeypatch.setattr(bank_module.os, "getpid", lambda: -1)  # as seen from a DataLoader worker after fork
    assert bank.cached_ids == ()
    assert bank["polyp_a"] is not parent_model and bank.cached_ids == ("polyp_a",)


def test_bank_of_mixed_layouts_is_reported(models, tmp_path):
    shutil.copy(models / "b.pt", tmp_path / "b.pt")
    layout = ChannelLayout(2, 1, (0.0, 1.0, 2.0), "onehot", (0.0,), (1.0,))
    SinGANSeg(2, layout, [(24, 24)], 1.0).save(str(tmp_path / "mri.pt"))
    with pytest.raises(ValueError, match="mixes channel layouts: 'b' has image_channels=3 but 'mri' has image_chan"):
        SinGANSegBank(tmp_path).require_compatible_layouts()


@pytest.mark.parametrize("case, error, message", [
    ("missing folder", FileNotFoundError, "does not exist"),
    ("empty folder", FileNotFoundError, "no \\*.pt"),
    ("duplicate id", ValueError, "image id 'polyp_a' belongs to both"),
    ("not a checkpoint", CheckpointError, "junk.pt"),
    ("cache size 0", ValueError, "cache_size"),
])
def test_rejects_bad_banks_with_a_clear_error(models, tmp_path, case, error, message):
    folder = tmp_path / "models"
    folder.mkdir()
    kwargs = {}
    if case == "missing folder":
        folder = tmp_path / "nowhere"
    elif case == "duplicate id":
        shutil.copy(models / "model_a.pt", folder / "one.pt")
        shutil.copy(models / "model_a.pt", folder / "two.pt")
    elif case == "not a checkpoint":
        (folder / "junk.pt").write_bytes(b"not a checkpoint")
    elif case == "cache size 0":
        shutil.copy(models / "b.pt", folder / "b.pt")
        kwargs["cache_size"] = 0
    with pytest.raises(error, match=message):
        SinGANSegBank(folder, **kwargs)
