"""Read and write MONAI datalists (``{"training": [{"image": ..., "label": ...}, ...], ...}``) with one path rule.

The rule, MONAI's (:func:`monai.data.load_decathlon_datalist`): a relative path in a datalist is relative to the
datalist's own folder, an absolute path is taken as it is. Reading makes every path absolute; writing keeps the
paths as given and writes the file atomically (:func:`~monai_singanseg.data.writers.write_json`), so a killed run
never leaves half a datalist.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from monai_singanseg.data.writers import write_json

__all__ = ["DATALIST_PATH_KEYS", "read_datalist", "resolve_entry_paths", "write_datalist"]

# The entries' keys that hold file paths, as MONAI's segmentation datalists have them.
DATALIST_PATH_KEYS = ("image", "label")


def _resolved(value: Any, folder: Path) -> Any:
    if isinstance(value, str):
        return value if os.path.isabs(value) else os.path.abspath(os.path.join(folder, value))
    if isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value):
        return [_resolved(v, folder) for v in value]  # multi-file images, as MONAI allows
    return value


def resolve_entry_paths(
    entry: Mapping[str, Any], folder: str | os.PathLike, path_keys: Sequence[str] = DATALIST_PATH_KEYS
) -> dict[str, Any]:
    """A copy of a datalist entry with its paths made absolute by the datalist path rule.

    Args:
        entry: one entry of a datalist.
        folder: the datalist's folder.
        path_keys: the keys holding a path (a string) or a list of paths; other keys and values are kept.

    Returns:
        The new entry.

    Example::

        >>> resolve_entry_paths({"image": "images/a.png", "label": "/data/a.png", "id": 3}, "/lists")
        {'image': '/lists/images/a.png', 'label': '/data/a.png', 'id': 3}
    """
    folder = Path(folder)
    return {key: _resolved(value, folder) if key in path_keys else value for key, value in entry.items()}


def read_datalist(
    path: str | os.PathLike,
    data_list_key: str = "training",
    path_keys: Sequence[str] = DATALIST_PATH_KEYS,
) -> list[dict[str, Any]]:
    """The ``data_list_key`` entries of a datalist JSON file, with the ``path_keys`` paths made absolute.

    Args:
        path: the datalist file.
        data_list_key: the list to read.
        path_keys: entry keys holding paths, relative to the datalist's folder unless absolute.

    Returns:
        Copies of the entries, in file order.

    Raises:
        FileNotFoundError: ``path`` does not exist (the step that writes it has not run).
        ValueError: the file is not JSON, has no ``data_list_key`` list, or an entry is not an object.

    Example::

        >>> _ = write_datalist([{"image": "images/a.png", "label": "masks/a.png"}], "/lists/datalist.json")
        >>> read_datalist("/lists/datalist.json")[0]["image"]
        '/lists/images/a.png'
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"datalist {path} does not exist; run the step that writes it first.")
    try:
        data = json.loads(path.read_text())
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ValueError(f"datalist {path} is not a JSON file: {err}") from None
    entries = data.get(data_list_key) if isinstance(data, dict) else None
    # A malformed file, not an argument of the wrong type: ValueErrors, as for the other content errors.
    if not isinstance(entries, list):
        raise ValueError(f"datalist {path} has no {data_list_key!r} list.")  # noqa: TRY004
    if not all(isinstance(entry, dict) for entry in entries):
        raise ValueError(
            f"datalist {path}: every entry of {data_list_key!r} must be an object such as "
            '{"image": ..., "label": ...}.')
    return [resolve_entry_paths(entry, path.parent, path_keys) for entry in entries]


def write_datalist(
    datalist: Sequence[Mapping[str, Any]] | Mapping[str, Any],
    path: str | os.PathLike,
    data_list_key: str = "training",
) -> Path:
    """Write a datalist JSON file atomically; the paths inside are written as given.

    Args:
        datalist: a list of entries, written as ``{data_list_key: entries}``; or a whole datalist mapping (its
            lists and any other plain data, e.g. ``label_values``), written as it is.
        path: the file to write.
        data_list_key: the key of a list of entries.

    Returns:
        The path written.

    Raises:
        TypeError: ``datalist`` is neither a mapping nor a sequence of mappings.

    Example::

        >>> write_datalist([{"image": "/data/a.png", "label": "/data/a_mask.png"}], "datalist.json")
        PosixPath('datalist.json')
    """
    if isinstance(datalist, Mapping):
        data = dict(datalist)
    elif isinstance(datalist, (str, bytes)) or not isinstance(datalist, Sequence) or not all(
            isinstance(entry, Mapping) for entry in datalist):
        raise TypeError(f"datalist must be a mapping or a sequence of entry mappings, got {type(datalist).__name__}.")
    else:
        data = {data_list_key: [dict(entry) for entry in datalist]}
    return write_json(data, path, indent=1)
