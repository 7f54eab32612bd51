"""A synthetic dataset from a bank of pyramids: sample pairs per model, a MONAI datalist and a grid (resumable)."""

from __future__ import annotations

import json
import os
import re
import shutil
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from tqdm import tqdm

from monai_singanseg.data.bank import SinGANSegBank
from monai_singanseg.data.io import load_image
from monai_singanseg.data.sample_writer import (
    SampleRun, clear_sample_folder, foreign_files, is_sample_folder_complete, model_sha256, read_sample_run,
    sample_to_folder, steering_of,
)
from monai_singanseg.data.size_control import SizeControl
from monai_singanseg.layout import ChannelLayout
from monai_singanseg.data.writers import temporary_target, write_json, write_png
from monai_singanseg.visualize.figures import sample_grid

__all__ = ["GenerationSummary", "fit_mask", "generate_dataset", "load_masks"]

DATALIST_NAME = "datalist.json"
GRID_NAME = "grid.png"
# Top-level key of out_dir/datalist.json: the settings of the run that wrote it.
RUN_KEY = "generate_run"
# Model folders sit one level down: MONAI's datalist loader turns any value naming an existing path under the
# datalist's folder into that path, so a folder called like an image id would garble the entries' source_id.
SAMPLES_DIR = "samples"
# A model's folder while it is written (renamed when done).
_PARTIAL_NAME = re.compile(r"\.(?P<name>.+)\.partial")
# How many models the overview grid shows (the first sample of each).
GRID_MODELS = 16
# How many problems a refusal lists.
_SHOWN = 5


@dataclass
class GenerationSummary:
    """What :func:`generate_dataset` did: which models it sampled and which it found complete.

    ``replaced`` lists the sampled models whose folder held the samples of an earlier checkpoint of the same id
    (retrained since): they are in ``generated`` too.
    """

    datalist: Path
    grid: Path
    generated: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    replaced: list[str] = field(default_factory=list)
    num_pairs: int = 0


def folder_name(image_id: str) -> str:
    """A safe folder name for an image id: characters other than letters, digits, ``-``, ``_`` and inner dots
    become ``_``."""
    name = re.sub(r"[^A-Za-z0-9._-]", "_", image_id).lstrip(".")
    return name or "_"


def _is_own_top_file(path: Path) -> bool:
    """``datalist.json``, ``grid.png`` or a temporary file of either."""
    return path.is_file() and (temporary_target(path.name) or path.name) in (DATALIST_NAME, GRID_NAME)


def _is_partial(path: Path) -> bool:
    return path.is_dir() and _PARTIAL_NAME.fullmatch(path.name) is not None


def _describe(settings: dict[str, Any]) -> str:
    return ", ".join(f"{name}={value}" for name, value in settings.items())


def _other_output(out_dir: Path, folder_names: set[str], settings: dict[str, int]) -> list[str]:
    """What in ``out_dir`` is not this run's own output or an interrupted part of it, one line each."""
    problems = [f"{p.name} (not written by generate)" for p in sorted(out_dir.iterdir())
                if not (_is_own_top_file(p) or (p.name == SAMPLES_DIR and p.is_dir()))]
    datalist = out_dir / DATALIST_NAME
    if datalist.is_file():
        try:
            recorded = json.loads(datalist.read_text()).get(RUN_KEY)
        except (OSError, ValueError, AttributeError):
            recorded = None
        if not isinstance(recorded, dict):
            problems.append(f"{DATALIST_NAME} (not written by generate)")
        elif recorded != settings:
            problems.append(f"{DATALIST_NAME} (of a run with {_describe(recorded)})")
    samples = out_dir / SAMPLES_DIR
    for path in sorted(samples.iterdir()) if samples.is_dir() else []:
        where = f"{SAMPLES_DIR}/{path.name}"
        if _is_partial(path):
            continue  # an interrupted model: sampled again
        if not path.is_dir() or path.name not in folder_names:
            problems.append(f"{where} (no model of the bank has this id)")
            continue
        problems.extend(f"{where}/{p.name} (not written by generate)" for p in foreign_files(path))
        previous = read_sample_run(path)
        if previous is not None:
            sampled = {"per_model": previous.num_samples, "start_scale": previous.start_scale, "seed": previous.seed}
            if previous.steering is not None:
                sampled["steering"] = previous.steering
            if sampled != settings or previous.output_shape is not None:
                problems.append(f"{where} (sampled with {_describe(sampled)})")
    return problems


def _clear_output(out_dir: Path, folder_names: set[str]) -> None:
    """Remove what generate writes in ``out_dir`` (datalist, grid, model folders' pairs), nothing else.

    Raises:
        ValueError: a model folder of the bank holds other files, or ``samples`` is a file, so the output could
            not be replaced (checked before anything is removed).
    """
    samples = out_dir / SAMPLES_DIR
    blocked = [f"{SAMPLES_DIR}/{name}/{p.name}" for name in sorted(folder_names) for p in foreign_files(samples / name)]
    if samples.exists() and not samples.is_dir():
        blocked.append(SAMPLES_DIR)
    if blocked:
        raise ValueError(f"output folder {out_dir} cannot be overwritten: it holds files generate did not write "
                         f"where its model folders go ({', '.join(blocked[:_SHOWN])}); move them out or choose an "
                         "empty folder.")
    (out_dir / DATALIST_NAME).unlink(missing_ok=True)
    kept = []
    for path in sorted(out_dir.iterdir()):
        if _is_own_top_file(path):
            path.unlink()
        elif path.name != SAMPLES_DIR:
            kept.append(path.name)
    for path in sorted(samples.iterdir()) if samples.is_dir() else []:
        if _is_partial(path):
            shutil.rmtree(path)
        elif path.is_dir():
            clear_sample_folder(path)
            if any(path.iterdir()):
                kept.append(f"{SAMPLES_DIR}/{path.name}")
            else:
                path.rmdir()
        else:
            kept.append(f"{SAMPLES_DIR}/{path.name}")
    if samples.is_dir() and not any(samples.iterdir()):
        samples.rmdir()
    if kept:
        warnings.warn(f"output folder {out_dir}: --overwrite replaces generate's own output only; kept "
                      f"{', '.join(kept[:_SHOWN])}" + (", ..." if len(kept) > _SHOWN else "") + ".")


def load_masks(folder: str | os.PathLike) -> tuple[list[str], list[torch.Tensor]]:
    """The names and ``(1, *spatial)`` label maps of every image file in ``folder``, sorted by name.

    Raises:
        FileNotFoundError: ``folder`` is not a folder.
        ValueError: it holds no image file, or one that cannot be read.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"masks folder {folder} does not exist.")
    paths = sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith("."))
    if not paths:
        raise ValueError(f"masks folder {folder} holds no mask files.")
    return [p.name for p in paths], [load_image(p, "mask").as_tensor()[:1].float() for p in paths]


def fit_mask(mask: torch.Tensor, layout: ChannelLayout, shape: tuple[int, ...], name: str = "mask") -> torch.Tensor:
    """A requested ``(1, *spatial)`` mask as a label map of ``layout`` at ``shape`` (nearest neighbour).

    A mask holding the layout's values is kept as it is; a mask of a binary layout may hold any two levels (e.g.
    {0, 1} or a JPEG's near-0 and near-255): above their midpoint is foreground.

    Raises:
        ValueError: a mask of other dimensions, or values the layout cannot take.
    """
    if mask.ndim != len(shape) + 1:
        raise ValueError(f"{name} has shape {tuple(mask.shape)}; the pyramids need {len(shape)}D masks.")
    mask = F.interpolate(mask[None].float(), size=tuple(shape), mode="nearest-exact")[0]
    values = torch.tensor(layout.label_values, dtype=mask.dtype)
    if bool((mask[..., None] == values).any(-1).all()):
        return mask
    if len(layout.label_values) == 2:
        middle = (float(mask.min()) + float(mask.max())) / 2
        return torch.where(mask > middle, values[1], values[0]) if float(mask.max()) > middle else mask * 0 + values[0]
    raise ValueError(f"{name} holds values other than the pyramids' label values {layout.label_values}.")


def _sample_model(bank: SinGANSegBank, image_id: str, folder: Path, per_model: int, start_scale: int, seed: int,
                  device: str, size_control: SizeControl | None = None, masks: list[torch.Tensor] | None = None,
                  inject_scale: int | None = None, steering: dict[str, Any] | None = None) -> None:
    # Written beside the final folder and renamed when done: an interrupted run leaves no half folder behind.
    partial = folder.with_name(f".{folder.name}.partial")
    shutil.rmtree(partial, ignore_errors=True)
    sample_to_folder(bank.path_of(image_id), partial, num_samples=per_model, start_scale=start_scale, seed=seed,
                     device=device, size_control=size_control, masks=masks, inject_scale=inject_scale,
                     steering=steering)
    if folder.is_dir():
        # Only our files are in it (checked up front), so it empties; its datalist goes first.
        clear_sample_folder(folder)
        folder.rmdir()
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
    overwrite: bool = False,
    size_control: SizeControl | None = None,
    masks: list[torch.Tensor] | None = None,
    inject_scale: int | None = None,
) -> GenerationSummary:
    """Write ``per_model`` synthetic pairs of every pyramid in ``bank`` to ``out_dir``, resumably.

    Each model's pairs go to ``out_dir/samples/<image id>/`` in its training input's format (PNG for 2D photographs,
    NIfTI for volumes) with that model's ``datalist.json`` and ``grid.png`` (see
    :func:`~monai_singanseg.data.sample_to_folder`). ``out_dir/datalist.json`` gathers every pair as
    ``{"training": [{"image", "label", "source_id", ...}], "generate_run": {"per_model", "start_scale", "seed"}}``
    with paths relative to ``out_dir``, for ``monai.data.load_decathlon_datalist``; ``out_dir/grid.png`` shows the
    first pair of up to 16 models. Every file is written whole or not at all, a model's folder is renamed into place
    when all its pairs are written, and the datalist is written last.

    Running again with the same settings resumes: a model is skipped when its folder is complete and was sampled
    from a checkpoint with the same content (:func:`~monai_singanseg.data.sample_writer.model_sha256`), and sampled
    again otherwise (e.g. retrained under the same id: listed in ``replaced``). Any other content of ``out_dir``
    (files generate does not write, folders of ids not in the bank, samples drawn with other settings) is refused
    unless ``overwrite``, which removes generate's own output (datalist, grid, model folders' pairs) and samples
    every model afresh, leaving every other file where it is.

    Args:
        bank: the pyramids.
        out_dir: destination folder.
        per_model: pairs per model.
        start_scale: first scale with fresh noise (0: most varied).
        seed: noise seed; pair ``i`` of a model depends only on the model, ``seed`` and ``i``.
        device: torch device to sample on.
        progress: show a progress bar over the models.
        overwrite: replace the output of another run instead of refusing it.
        size_control: lesion-size control of every pair (see :func:`~monai_singanseg.data.sample_to_folder`).
        masks: requested ``(1, *spatial)`` masks: every model makes one image per mask (``per_model`` is their
            number), each mask fitted to the model's shape and values (:func:`fit_mask`) and injected at
            ``inject_scale``.
        inject_scale: the scale requested masks enter.

    Returns:
        The paths written and the models generated, replaced and skipped.

    Raises:
        ValueError: ``per_model < 1``, ``start_scale`` out of a pyramid's range, two ids with one folder name,
            ``out_dir`` is a file, or ``out_dir`` holds other output and ``overwrite`` is not set.

    Example::

        >>> summary = generate_dataset(SinGANSegBank("models/"), "synthetic/", per_model=10)
        >>> datalist = load_decathlon_datalist(str(summary.datalist), data_list_key="training")
    """
    if masks is not None:
        per_model = len(masks)
    if per_model < 1:
        raise ValueError(f"per_model must be at least 1, got {per_model}.")
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise ValueError(f"output folder {out_dir} is a file; choose a folder.")
    folders = {image_id: folder_name(image_id) for image_id in bank.ids}
    if len(set(folders.values())) != len(folders):
        raise ValueError("two image ids of the bank map to one folder name; rename their checkpoints' image_id.")
    # Checked from the headers before anything on disk changes (half-trained pyramids are checked when sampled).
    fewest = min(bank.num_scales_of(image_id) for image_id in bank.ids)
    if not 0 <= start_scale < fewest:
        raise ValueError(f"start_scale must lie in 0..{fewest - 1} (the bank's smallest pyramid has {fewest} "
                         f"scales), got {start_scale}.")
    fitted = {}
    if masks is not None:
        if inject_scale is None or not 1 <= inject_scale < fewest:
            raise ValueError(f"masks need inject_scale (--inject-scale) in 1..{fewest - 1}, the scale the requested "
                             f"masks enter (the bank's smallest pyramid has {fewest} scales), got {inject_scale}.")
        for image_id in bank.ids:
            model = bank[image_id]
            shape = model.scale_shapes[model.num_trained_scales - 1]
            fitted[image_id] = [fit_mask(m, model.layout, shape, f"mask {i}") for i, m in enumerate(masks)]
    settings: dict[str, Any] = {"per_model": per_model, "start_scale": start_scale, "seed": seed}
    steering = steering_of(size_control, masks, inject_scale)
    if steering is not None:
        settings["steering"] = steering
    if out_dir.is_dir():
        if overwrite:
            _clear_output(out_dir, set(folders.values()))
        elif problems := _other_output(out_dir, set(folders.values()), settings):
            more = f" and {len(problems) - _SHOWN} more" if len(problems) > _SHOWN else ""
            raise ValueError(f"output folder {out_dir} holds other output: {'; '.join(problems[:_SHOWN])}{more}. "
                             "Pass --overwrite (overwrite=True) to replace it, or choose an empty folder.")
    out_dir.mkdir(parents=True, exist_ok=True)
    summary = GenerationSummary(datalist=out_dir / DATALIST_NAME, grid=out_dir / GRID_NAME)
    entries: list[dict[str, Any]] = []
    for image_id in tqdm(bank.ids, desc="generate", unit="model", disable=not progress):
        folder = out_dir / SAMPLES_DIR / folders[image_id]
        run = SampleRun(model_sha256(bank.path_of(image_id)), per_model, start_scale, seed, None, steering)
        if is_sample_folder_complete(folder, run):
            summary.skipped.append(image_id)
        else:
            previous = read_sample_run(folder)
            if previous is not None and previous.model_sha256 != run.model_sha256:
                summary.replaced.append(image_id)
            # The dataset is about to change: until it is whole again, no datalist names it.
            summary.datalist.unlink(missing_ok=True)
            _sample_model(bank, image_id, folder, per_model, start_scale, seed, device, size_control,
                          fitted.get(image_id), inject_scale, steering)
            summary.generated.append(image_id)
        relative = f"{SAMPLES_DIR}/{folder.name}"
        for entry in json.loads((folder / DATALIST_NAME).read_text())["training"]:
            entries.append({**entry, "image": f"{relative}/{entry['image']}", "label": f"{relative}/{entry['label']}",
                            "source_id": image_id, "model": str(bank.path_of(image_id))})
    _overview_grid(bank, entries, out_dir)
    # Last: the datalist names only finished model folders.
    write_json({"training": entries, RUN_KEY: settings}, summary.datalist)
    summary.num_pairs = len(entries)
    return summary
