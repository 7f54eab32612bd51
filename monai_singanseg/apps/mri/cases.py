"""Lists of MR cases: one case is several channel files (NIfTI files or DICOM series folders) and a label map.
Cases come from a MONAI datalist or from a folder per case, and split into training and test cases by subject."""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

__all__ = ["find_cases", "load_case_datalist", "split_cases"]


def _as_paths(value: Any) -> list[str]:
    return [str(v) for v in value] if isinstance(value, (list, tuple)) else [str(value)]


def _case(image: list[str], label: str | None, case_id: str, brain_mask: str | None = None) -> dict[str, Any]:
    entry: dict[str, Any] = {"image": image, "case_id": case_id}
    if label is not None:
        entry["label"] = label
    if brain_mask is not None:
        entry["brain_mask"] = brain_mask
    return entry


def load_case_datalist(path: str | os.PathLike, data_list_key: str = "training") -> list[dict[str, Any]]:
    """Read cases from a MONAI datalist JSON: ``{"training": [{"image": [files...], "label": file, "case_id": id,
    "brain_mask": file}]}`` (``label``, ``case_id`` and ``brain_mask`` optional); relative paths are relative to the
    JSON file's folder, as ``monai.data.load_decathlon_datalist`` takes them.

    Cases without a ``case_id`` are named ``case000``, ``case001``, ... in datalist order.

    Raises:
        FileNotFoundError: ``path`` does not exist.
        ValueError: no ``data_list_key`` list, an entry without ``image``, or two cases with one id.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"case datalist {path} does not exist.")
    entries = json.loads(path.read_text()).get(data_list_key)
    if not isinstance(entries, list) or not entries:
        raise ValueError(f"case datalist {path} has no non-empty {data_list_key!r} list.")

    def resolve(value: str) -> str:
        return str(value if os.path.isabs(value) else path.parent / value)

    cases = []
    for index, entry in enumerate(entries):
        if "image" not in entry:
            raise ValueError(f"entry {index} of {data_list_key!r} in {path} has no 'image'.")
        cases.append(_case([resolve(p) for p in _as_paths(entry["image"])],
                           resolve(entry["label"]) if entry.get("label") else None,
                           str(entry.get("case_id", f"case{index:03d}")),
                           resolve(entry["brain_mask"]) if entry.get("brain_mask") else None))
    ids = [case["case_id"] for case in cases]
    if len(set(ids)) != len(ids):
        raise ValueError(f"case datalist {path} repeats case ids: {sorted({i for i in ids if ids.count(i) > 1})}.")
    return cases


def _one_match(folder: Path, pattern: str, what: str) -> str:
    matches = sorted(folder.glob(pattern))
    if len(matches) != 1:
        found = ", ".join(p.name for p in matches) or "nothing"
        raise ValueError(f"case folder {folder}: {what} pattern {pattern!r} must match one file, it matched {found}.")
    return str(matches[0])


def find_cases(
    dataset_dir: str | os.PathLike,
    channel_patterns: Sequence[str],
    label_pattern: str | None = None,
    brain_mask_pattern: str | None = None,
) -> list[dict[str, Any]]:
    """Cases laid out as one folder per case (the BraTS layout), the folder name being the case id.

    Every sub-folder (at any depth) holding a match of each channel pattern is a case; the channel files are taken
    in the order of ``channel_patterns``. Patterns are ``glob`` patterns relative to the case folder and may name
    DICOM series folders.

    Args:
        dataset_dir: the root folder.
        channel_patterns: one pattern per channel, e.g. ``["*Flair*.nii.gz", "*T1c*.nii.gz"]``.
        label_pattern: the label file, e.g. ``"OTMultiClass.nii.gz"``; None for cases without labels.
        brain_mask_pattern: an optional brain mask.

    Raises:
        FileNotFoundError: ``dataset_dir`` does not exist or holds no case.
        ValueError: a case folder where a pattern matches no file or several.

    Example::

        >>> find_cases("brats2015_2ch", ["Flair_*.nii.gz", "T1c_*.nii.gz"], "OTMultiClass.nii.gz")[0]["case_id"]
        'brats_2013_pat0003_1'
    """
    root = Path(dataset_dir)
    if not root.is_dir():
        raise FileNotFoundError(f"dataset_dir {root} does not exist.")
    if not channel_patterns:
        raise ValueError("channel_patterns needs one pattern per channel.")
    folders = sorted({p.parent for p in root.rglob(channel_patterns[0])})
    folders = [f for f in folders if all(any(f.glob(p)) for p in channel_patterns)]
    if not folders:
        raise FileNotFoundError(f"no case folder under {root} matches all of {list(channel_patterns)}.")
    ids = [folder.name for folder in folders]
    if len(set(ids)) != len(ids):
        raise ValueError(f"case folders under {root} repeat names: {sorted({i for i in ids if ids.count(i) > 1})}.")
    return [_case([_one_match(f, p, "channel") for p in channel_patterns],
                  _one_match(f, label_pattern, "label") if label_pattern else None, f.name,
                  _one_match(f, brain_mask_pattern, "brain mask") if brain_mask_pattern else None)
            for f in folders]


def split_cases(
    cases: Sequence[Mapping[str, Any]], test_fraction: float = 0.25, test_case_ids: Sequence[str] | None = None
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Split cases by subject into training and test cases, never a subject on both sides.

    Args:
        cases: cases with a ``case_id``.
        test_fraction: with no ``test_case_ids``, the last ``ceil(test_fraction * n)`` cases by sorted id are
            the test cases (at least one when there are two or more cases and the fraction is positive).
        test_case_ids: the test cases by id.

    Returns:
        ``(training, test)`` cases.

    Raises:
        ValueError: ``test_fraction`` outside [0, 1), or an id in ``test_case_ids`` that is not a case.
    """
    ordered = sorted((dict(c) for c in cases), key=lambda c: c["case_id"])
    if test_case_ids is not None:
        unknown = sorted(set(test_case_ids) - {c["case_id"] for c in ordered})
        if unknown:
            raise ValueError(f"test_case_ids {unknown} are not cases; the cases are {[c['case_id'] for c in ordered]}.")
        chosen = set(test_case_ids)
    else:
        if not 0 <= test_fraction < 1:
            raise ValueError(f"test_fraction must lie in [0, 1), got {test_fraction}.")
        count = min(math.ceil(test_fraction * len(ordered)), len(ordered) - 1) if len(ordered) > 1 else 0
        chosen = {c["case_id"] for c in ordered[len(ordered) - count:]} if count else set()
    return [c for c in ordered if c["case_id"] not in chosen], [c for c in ordered if c["case_id"] in chosen]
