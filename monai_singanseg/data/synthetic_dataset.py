"""A synthetic dataset from a bank of pyramids: sample pairs per model, a MONAI datalist and a grid (resumable)."""

from __future__ import annotations

import json
import os
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from tqdm import tqdm

from monai_singanseg.data.bank import SinGANSegBank
from monai_singanseg.data.io import load_image
from monai_singanseg.data.sample_writer import sample_to_folder
from monai_singanseg.data.writers import write_png
from monai_singanseg.utils.visualize import sample_grid

__all__ = ["GenerationSummary", "generate_dataset"]

DATALIST_NAME = "datalist.json"
GRID_NAME = "grid.png"
# Model folders sit one level down: MONAI's datalist loader turns any value naming an existing path under the
# datalist's folder into that path, so a folder called like an image id would garble the entries' source_id.
SAMPLES_DIR = "samples"
# How many models the overview grid shows (the first sample of each).
GRID_MODELS = 16


@dataclass
class GenerationSummary:
    """What :func:`generate_dataset` did: which models it sampled and which it found complete."""

    datalist: Path
    grid: Path
    generated: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    num_pairs: int = 0


def folder_name(image_id: str) -> str:
    """A safe folder name for an image id: characters other than letters, digits, ``-``, ``_`` and inner dots
    become ``_``."""
    name = re.sub(r"[^A-Za-z0-9._-]", "_", image_id).lstrip(".")
    return name or "_"


def _is_complete(folder: Path, per_model: int, start_scale: int, seed: int) -> bool:
    """A model's folder is complete when its datalist lists ``per_model`` pairs of these settings, all on disk."""
    try:
        entries = json.loads((folder / DATALIST_NAME).read_text())["training"]
    except (OSError, ValueError, KeyError, TypeError):
        return False
    return len(entries) == per_model and all(
        e.get("start_scale") == start_scale and e.get("seed") == seed
        and (folder / e["image"]).is_file() and (folder / e["label"]).is_file()
        for e in entries
    )


def _sample_model(bank: SinGANSegBank, image_id: str, folder: Path, per_model: int, start_scale: int, seed: int,
                  device: str) -> None:
    # Written beside the final folder and renamed when done: an interrupted run leaves no half folder behind.
    partial = folder.with_name(f".{folder.name}.partial")
    shutil.rmtree(partial, ignore_errors=True)
    sample_to_folder(bank.path_of(image_id), partial, num_samples=per_model, start_scale=start_scale, seed=seed,
                     device=device)
    shutil.rmtree(folder, ignore_errors=True)
    os.replace(partial, folder)


def _overview_grid(bank: SinGANSegBank, entries: list[dict[str, Any]], out_dir: Path) -> Path:
    """The first pair of each of the first models, read back from disk and resized to the first one's shape."""
    firsts = [e for e in entries if e["index"] == 0][:GRID_MODELS]
    images, labels = [], []
    for entry in firsts:
        image = load_image(out_dir / entry["image"]).as_tensor()
        label = load_image(out_dir / entry["label"], "label").as_tensor()[:1]
        if images and image.shape[1:] != images[0].shape[1:]:
            shape, mode = images[0].shape[1:], "bilinear" if image.ndim == 3 else "trilinear"
            resized = F.interpolate(image[None].float(), size=shape, mode=mode, align_corners=False)[0]
            image = resized.round().to(image.dtype) if not image.dtype.is_floating_point else resized
            label = F.interpolate(label[None].float(), size=shape, mode="nearest-exact")[0].to(label.dtype)
        images.append(image)
        labels.append(label)
    label_values = sorted({v for i in bank.ids for v in bank.layout_of(i).label_values})
    grid = sample_grid(torch.stack(images), torch.stack(labels), label_values)
    return write_png(grid, out_dir / GRID_NAME)


def generate_dataset(
    bank: SinGANSegBank,
    out_dir: str | os.PathLike,
    per_model: int,
    start_scale: int = 0,
    seed: int = 0,
    device: str = "cpu",
    progress: bool = False,
) -> GenerationSummary:
    """Write ``per_model`` synthetic pairs of every pyramid in ``bank`` to ``out_dir``, resumably.

    Each model's pairs go to ``out_dir/samples/<image id>/`` in its training input's format (PNG for 2D photographs,
    NIfTI for volumes) with that model's ``datalist.json`` and ``grid.png`` (see
    :func:`~monai_singanseg.data.sample_to_folder`). ``out_dir/datalist.json`` gathers every pair as
    ``{"training": [{"image", "label", "source_id", ...}]}`` with paths relative to ``out_dir``, for
    ``monai.data.load_decathlon_datalist``; ``out_dir/grid.png`` shows the first pair of up to 16 models. Running
    again skips the models whose folders are complete for the same ``per_model``, ``start_scale`` and ``seed``.

    Args:
        bank: the pyramids.
        out_dir: destination folder.
        per_model: pairs per model.
        start_scale: first scale with fresh noise (0: most varied).
        seed: noise seed; pair ``i`` of a model depends only on ``seed`` and ``i``.
        device: torch device to sample on.
        progress: show a progress bar over the models.

    Returns:
        The paths written and the models generated and skipped.

    Raises:
        ValueError: ``per_model < 1``, ``start_scale`` out of a pyramid's range, or two ids with one folder name.

    Example::

        >>> summary = generate_dataset(SinGANSegBank("models/"), "synthetic/", per_model=10)
        >>> datalist = load_decathlon_datalist(str(summary.datalist), data_list_key="training")
    """
    if per_model < 1:
        raise ValueError(f"per_model must be at least 1, got {per_model}.")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    folders = {image_id: folder_name(image_id) for image_id in bank.ids}
    if len(set(folders.values())) != len(folders):
        raise ValueError("two image ids of the bank map to one folder name; rename their checkpoints' image_id.")
    summary = GenerationSummary(datalist=out_dir / DATALIST_NAME, grid=out_dir / GRID_NAME)
    entries: list[dict[str, Any]] = []
    for image_id in tqdm(bank.ids, desc="generate", unit="model", disable=not progress):
        folder = out_dir / SAMPLES_DIR / folders[image_id]
        if _is_complete(folder, per_model, start_scale, seed):
            summary.skipped.append(image_id)
        else:
            _sample_model(bank, image_id, folder, per_model, start_scale, seed, device)
            summary.generated.append(image_id)
        for entry in json.loads((folder / DATALIST_NAME).read_text())["training"]:
            relative = f"{SAMPLES_DIR}/{folder.name}"
            entries.append({**entry, "image": f"{relative}/{entry['image']}", "label": f"{relative}/{entry['label']}",
                            "source_id": image_id})
    tmp = summary.datalist.with_name(f".{DATALIST_NAME}.tmp")
    tmp.write_text(json.dumps({"training": entries}, indent=2))
    os.replace(tmp, summary.datalist)
    _overview_grid(bank, entries, out_dir)
    summary.num_pairs = len(entries)
    return summary
