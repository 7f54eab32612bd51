"""One datalist reader and writer: paths relative to the datalist's folder, absolute ones kept, atomic writes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from monai_singanseg.apps import endoscopy, mri
from monai_singanseg.data.datalist import read_datalist, resolve_entry_paths, write_datalist


def test_relative_paths_are_read_against_the_datalists_folder_and_absolute_ones_kept(tmp_path):
    folder = tmp_path / "lists"
    path = write_datalist([{"image": "images/a.png", "label": "../masks/a.png", "id": 3},
                           {"image": "/data/b.png", "label": None}], folder / "datalist.json")
    first, second = read_datalist(path)
    assert first == {"image": str(folder / "images" / "a.png"), "label": str(tmp_path / "masks" / "a.png"), "id": 3}
    assert second == {"image": "/data/b.png", "label": None}


def test_a_whole_datalist_keeps_its_other_keys_and_a_list_goes_under_the_key(tmp_path):
    write_datalist({"training": [{"image": "a.png"}], "label_values": [0.0, 1.0]}, tmp_path / "whole.json")
    write_datalist([{"image": "a.png"}], tmp_path / "list.json", data_list_key="validation")
    assert json.loads((tmp_path / "whole.json").read_text())["label_values"] == [0.0, 1.0]
    assert read_datalist(tmp_path / "list.json", "validation") == [{"image": str(tmp_path / "a.png")}]


def test_writing_leaves_no_temporary_file_and_replaces_the_old_datalist(tmp_path):
    path = tmp_path / "datalist.json"
    write_datalist([{"image": "old.png"}], path)
    write_datalist([{"image": "new.png"}], path)
    assert [p.name for p in tmp_path.iterdir()] == ["datalist.json"]
    assert read_datalist(path)[0]["image"].endswith("new.png")


def test_reading_returns_copies_and_only_the_path_keys_change(tmp_path):
    entry = {"image": "a.png", "source_image": "real/a.png"}
    resolved = resolve_entry_paths(entry, tmp_path, ("image", "source_image"))
    assert resolved == {"image": str(tmp_path / "a.png"), "source_image": str(tmp_path / "real" / "a.png")}
    assert entry == {"image": "a.png", "source_image": "real/a.png"}
    assert resolve_entry_paths({"image": ["t1.nii", "/abs/t2.nii"]}, tmp_path)["image"] == [str(tmp_path / "t1.nii"),
                                                                                          "/abs/t2.nii"]


@pytest.mark.parametrize("content, error, message", [
    (None, FileNotFoundError, "does not exist"),
    ("not json", ValueError, "not a JSON file"),
    (json.dumps({"validation": []}), ValueError, "no 'training' list"),
    (json.dumps({"training": ["a.png"]}), ValueError, "must be an object"),
])
def test_rejects_datalists_it_cannot_read_naming_the_file(tmp_path, content, error, message):
    path = tmp_path / "broken.json"
    if content is not None:
        path.write_text(content)
    with pytest.raises(error, match=message) as info:
        read_datalist(path)
    assert "broken.json" in str(info.value)


def test_rejects_a_datalist_that_is_neither_entries_nor_a_mapping(tmp_path):
    with pytest.raises(TypeError, match="datalist"):
        write_datalist("a.png", tmp_path / "x.json")


def test_both_apps_read_and_write_through_the_one_owner():
    assert endoscopy.read_datalist is mri.read_datalist is read_datalist
    assert endoscopy.write_datalist is mri.write_datalist is write_datalist


def test_apps_import_the_core_never_the_cli():
    apps = Path(endoscopy.__file__).parents[1]
    offenders = [str(p) for p in apps.rglob("*.py") if "monai_singanseg.cli" in p.read_text()]
    assert offenders == []
