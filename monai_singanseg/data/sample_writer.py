"""Write samples of a trained pyramid to a folder: pairs in the input's format, a grid PNG and a datalist that
records which checkpoint (by content) and which settings made them."""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import re
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch

from monai_singanseg.data.checkpoint import pyramid_from_payload, read_checkpoint
from monai_singanseg.data.io import FileFormat
from monai_singanseg.data.writers import resized_affine, temporary_target, write_json, write_pair, write_png
from monai_singanseg.networks.singanseg import SinGANSeg
from monai_singanseg.utils.visualize import sample_grid

__all__ = ["SampleRun", "clear_sample_folder", "foreign_files", "is_sample_folder_complete", "model_sha256",
           "read_sample_run", "sample_to_folder"]

DATALIST_NAME = "datalist.json"
GRID_NAME = "grid.png"
# Top-level key of a sample folder's datalist.json: how its samples were made (MONAI's loader ignores other keys).
RUN_KEY = "sample_run"
_OUTPUT_NAME = re.compile(r"sample_\d{4,}_(image|label)\.(png|nii\.gz)|datalist\.json|grid\.png")


def model_sha256(path: str | os.PathLike) -> str:
    """The SHA-256 of a checkpoint file's bytes: what a sample folder's completion is keyed to, so samples of a
    model retrained under the same id are never taken for the new model's.

    Raises:
        FileNotFoundError: ``path`` does not exist.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint {path} does not exist.")
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@dataclass(frozen=True)
class SampleRun:
    """How a folder's samples were drawn: the checkpoint's content and the sampling settings.

    Two folders with equal runs hold the same files (sample ``i`` depends only on the model, ``seed`` and ``i``).

    Args:
        model_sha256: :func:`model_sha256` of the checkpoint.
        num_samples: how many pairs.
        start_scale: first scale with fresh noise.
        seed: the noise seed.
        output_shape: spatial shape asked for, or None for the training shape.
    """

    model_sha256: str
    num_samples: int
    start_scale: int
    seed: int
    output_shape: tuple[int, ...] | None = None

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["output_shape"] = None if self.output_shape is None else list(self.output_shape)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SampleRun:
        shape = data.get("output_shape")
        return cls(str(data["model_sha256"]), int(data["num_samples"]), int(data["start_scale"]), int(data["seed"]),
                   None if shape is None else tuple(int(s) for s in shape))

    def differences(self, other: SampleRun) -> list[str]:
        """How ``other`` differs from this run: ``"another checkpoint"`` and ``name=value`` of ``other``'s settings."""
        found = ["another checkpoint"] if other.model_sha256 != self.model_sha256 else []
        for name in ("num_samples", "start_scale", "seed", "output_shape"):
            if getattr(other, name) != getattr(self, name):
                found.append(f"{name}={getattr(other, name)}")
        return found


def _read_datalist(folder: Path) -> dict[str, Any] | None:
    try:
        data = json.loads((folder / DATALIST_NAME).read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def read_sample_run(folder: str | os.PathLike) -> SampleRun | None:
    """The run recorded in ``folder/datalist.json``, or None (no datalist, one of another program or version)."""
    data = _read_datalist(Path(folder))
    try:
        return SampleRun.from_dict(data[RUN_KEY]) if data is not None else None
    except (KeyError, TypeError, ValueError):
        return None


def is_sample_folder_complete(folder: str | os.PathLike, run: SampleRun) -> bool:
    """Whether ``folder`` holds every pair of ``run``: its datalist records ``run`` and lists them all, on disk."""
    folder = Path(folder)
    data = _read_datalist(folder)
    if data is None or read_sample_run(folder) != run:
        return False
    entries = data.get("training")
    return isinstance(entries, list) and len(entries) == run.num_samples and all(
        isinstance(e, dict) and (folder / str(e.get("image"))).is_file() and (folder / str(e.get("label"))).is_file()
        for e in entries
    )


def _is_sample_output(path: Path) -> bool:
    """A file :func:`sample_to_folder` writes (pairs, grid, datalist) or its temporary file."""
    name = temporary_target(path.name) or path.name
    return path.is_file() and _OUTPUT_NAME.fullmatch(name) is not None


def foreign_files(folder: str | os.PathLike) -> list[Path]:
    """The entries of ``folder`` that :func:`sample_to_folder` does not write (any folder among them), sorted."""
    folder = Path(folder)
    return sorted(p for p in folder.iterdir() if not _is_sample_output(p)) if folder.is_dir() else []


def clear_sample_folder(folder: str | os.PathLike) -> None:
    """Remove the files :func:`sample_to_folder` writes from ``folder``, the datalist first (so an interruption
    leaves a folder that is not complete, never one whose datalist names missing files); every other entry stays."""
    folder = Path(folder)
    if not folder.is_dir():
        return
    (folder / DATALIST_NAME).unlink(missing_ok=True)
    for path in folder.iterdir():
        if _is_sample_output(path):
            path.unlink()


def _check_folder(out_dir: Path, run: SampleRun, overwrite: bool) -> list[Path]:
    """Refuse a used ``out_dir`` unless it holds this very run or ``overwrite`` is set.

    Returns:
        The entries of ``out_dir`` that are not sample output (kept even with ``overwrite``).
    """
    if out_dir.exists() and not out_dir.is_dir():
        raise ValueError(f"output folder {out_dir} is a file; choose a folder.")
    if not out_dir.is_dir() or not any(out_dir.iterdir()):
        return []
    foreign = foreign_files(out_dir)
    if overwrite:
        return foreign
    previous = read_sample_run(out_dir)
    if foreign:
        names = ", ".join(p.name for p in foreign[:5]) + (", ..." if len(foreign) > 5 else "")
        reason = f"files this command did not write ({names})"
    elif previous is None:
        reason = "samples without a record of their model and settings (an interrupted or older run)"
    elif previous != run:
        reason = f"samples of another run ({', '.join(run.differences(previous))})"
    else:
        return []
    raise ValueError(f"output folder {out_dir} already holds {reason}; pass --overwrite (overwrite=True) to "
                     "replace the earlier samples, or choose an empty folder.")


def _source_shape(metadata: dict[str, Any], training_shape: Sequence[int]) -> list[int]:
    # The source grid's shape, when the checkpoint records it; otherwise the training grid (the source's own unless
    # max_size shrank it).
    shape = metadata.get("spatial_shape")
    return [int(s) for s in shape] if shape and len(shape) == len(training_shape) else list(training_shape)


def _sample_batches(model: SinGANSeg, num_samples: int, start_scale: int, seed: int,
                    output_shape: Sequence[int] | None, batch_size: int) -> Iterator[tuple[int, torch.Tensor]]:
    """The stacks of samples ``first .. first + batch_size - 1``, with ``first``."""
    for first in range(0, num_samples, batch_size):
        # One generator per sample: sample i is the same whatever the batch size.
        yield first, torch.cat([
            model.sample(1, start_scale, torch.Generator().manual_seed(seed * 1_000_003 + i), output_shape)
            for i in range(first, min(first + batch_size, num_samples))
        ])


def sample_to_folder(
    model_path: str | os.PathLike,
    out_dir: str | os.PathLike,
    num_samples: int = 10,
    start_scale: int = 0,
    seed: int = 0,
    output_shape: Sequence[int] | None = None,
    device: torch.device | str = "cpu",
    batch_size: int = 16,
    grid_size: int = 16,
    overwrite: bool = False,
) -> list[tuple[Path, Path]]:
    """Sample ``num_samples`` pairs from the pyramid at ``model_path`` and write them to ``out_dir``.

    Writes ``sample_0000_image.*`` / ``sample_0000_label.*`` in the training input's format, ``grid.png`` (the first
    ``grid_size`` samples with their label overlays) and, last, ``datalist.json`` (``{"training": [{"image",
    "label", "source_image", "source_id", "model", "model_sha256", "start_scale", "seed", "index"}], "sample_run":
    {...}}``, readable by ``monai.data.load_decathlon_datalist``; ``sample_run`` is the :class:`SampleRun`). Sample
    ``i`` depends only on the model, ``seed`` and ``i``. Every file is written whole or not at all.

    NIfTI samples carry the affine of their own grid: the source's, with the voxel spacing scaled by
    ``source shape / sample shape`` over the same field of view (see
    :func:`~monai_singanseg.data.writers.resized_affine`). The source shape is the checkpoint's
    ``metadata["spatial_shape"]`` when recorded, else the training shape.

    A folder that is missing, empty, or holds this very run (same checkpoint content and settings) is written; any
    other is refused unless ``overwrite``, which removes the files this function writes (earlier pairs, grid,
    datalist) and leaves every other file where it is.

    Args:
        model_path: pyramid checkpoint.
        out_dir: destination folder.
        num_samples: how many pairs.
        start_scale: first scale with fresh noise (0: most varied).
        seed: the noise seed.
        output_shape: spatial shape of the samples (default: the training shape); needs ``start_scale=0``.
        device: torch device to sample on.
        batch_size: samples decoded at once.
        grid_size: samples shown in ``grid.png``.
        overwrite: replace the earlier samples of a used folder.

    Returns:
        The image and label path of every pair.

    Raises:
        FileNotFoundError, CheckpointError: unreadable model.
        ValueError: ``num_samples < 1``, ``start_scale`` out of range, or ``out_dir`` already holds other output
            and ``overwrite`` is not set.

    Example::

        >>> pairs = sample_to_folder("polyp.pt", "synthetic/", num_samples=10, seed=3)
    """
    payload = read_checkpoint(model_path)
    model = pyramid_from_payload(payload, source=str(model_path)).to(device)
    if not model.is_complete:
        warnings.warn(f"{model_path} is half-trained ({model.num_trained_scales} of {model.num_scales} scales): "
                      "samples come from its finest trained scale.")
    if num_samples < 1:
        raise ValueError(f"num_samples must be at least 1, got {num_samples}.")
    run = SampleRun(model_sha256(model_path), num_samples, start_scale, seed,
                    None if output_shape is None else tuple(int(s) for s in output_shape))
    metadata: dict[str, Any] = payload.get("metadata", {})
    file_format = FileFormat(metadata.get("file_format", "png" if model.spatial_dims == 2 else "nifti"))
    source_shape = _source_shape(metadata, model.scale_shapes[-1])
    out_dir = Path(out_dir)
    batches = _sample_batches(model, num_samples, start_scale, seed, output_shape, batch_size)
    foreign = _check_folder(out_dir, run, overwrite)
    # Drawn before the folder is cleared, so settings the pyramid rejects remove nothing.
    first_batch = next(batches)
    clear_sample_folder(out_dir)
    if foreign:
        warnings.warn(f"output folder {out_dir}: --overwrite replaces earlier samples only; kept {len(foreign)} "
                      f"entries this command did not write ({', '.join(p.name for p in foreign[:5])}).")
    out_dir.mkdir(parents=True, exist_ok=True)
    paths, entries, grid_images, grid_labels = [], [], [], []
    for first, stacks in itertools.chain([first_batch], batches):
        images, labels = model.decode(stacks)
        affine = None
        if file_format == FileFormat.NIFTI and metadata.get("affine") is not None:
            affine = resized_affine(metadata["affine"], source_shape, stacks.shape[2:])
        for offset, (image, label) in enumerate(zip(images, labels)):
            index = first + offset
            image_path, label_path = write_pair(image, label, out_dir, f"sample_{index:04d}", file_format, affine)
            paths.append((image_path, label_path))
            entries.append({
                "image": image_path.name, "label": label_path.name,
                "source_image": metadata.get("source"), "source_id": metadata.get("image_id"),
                "model": str(model_path), "model_sha256": run.model_sha256, "start_scale": start_scale,
                "seed": seed, "index": index,
            })
        if len(grid_images) < grid_size:
            grid_images.extend(images[: grid_size - len(grid_images)])
            grid_labels.extend(labels[: grid_size - len(grid_labels)])
    write_png(sample_grid(torch.stack(grid_images), torch.stack(grid_labels), model.layout.label_values),
              out_dir / GRID_NAME)
    # Last: a folder with a datalist is a finished one.
    write_json({"training": entries, RUN_KEY: run.to_dict()}, out_dir / DATALIST_NAME)
    return paths
