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

import numpy as np
import torch

from monai_singanseg.data.checkpoint import pyramid_from_payload, read_checkpoint
from monai_singanseg.data.io import FileFormat
from monai_singanseg.data.size_control import MATCH_REAL, SizeControl, sample_with_share, training_share
from monai_singanseg.data.writers import resized_affine, temporary_target, write_json, write_pair, write_png
from monai_singanseg.networks.singanseg import SinGANSeg
from monai_singanseg.utils.seeds import sample_seed
from monai_singanseg.visualize.figures import sample_grid

__all__ = ["SampleRun", "clear_sample_folder", "foreign_files", "is_sample_folder_complete", "model_sha256",
           "read_sample_run", "sample_to_folder", "steering_of"]

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
        steering: plain data of how the samples were steered (:func:`steering_of`), or None.
    """

    model_sha256: str
    num_samples: int
    start_scale: int
    seed: int
    output_shape: tuple[int, ...] | None = None
    steering: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["output_shape"] = None if self.output_shape is None else list(self.output_shape)
        if self.steering is None:
            del data["steering"]  # so the record of an unsteered run reads as before
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SampleRun:
        shape, steering = data.get("output_shape"), data.get("steering")
        return cls(str(data["model_sha256"]), int(data["num_samples"]), int(data["start_scale"]), int(data["seed"]),
                   None if shape is None else tuple(int(s) for s in shape),
                   dict(steering) if isinstance(steering, dict) else None)

    def differences(self, other: SampleRun) -> list[str]:
        """How ``other`` differs from this run: ``"another checkpoint"`` and ``name=value`` of ``other``'s settings."""
        found = ["another checkpoint"] if other.model_sha256 != self.model_sha256 else []
        for name in ("num_samples", "start_scale", "seed", "output_shape", "steering"):
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


def steering_of(size_control: SizeControl | None = None, masks: Sequence[torch.Tensor] | None = None,
                inject_scale: int | None = None) -> dict[str, Any] | None:
    """Plain data of how samples are steered, for their :class:`SampleRun`: the size control's target and
    settings, or the requested masks (by content) and their injection scale; None when unsteered."""
    if masks is not None:
        digest = hashlib.sha256()
        for mask in masks:
            digest.update(torch.as_tensor(mask).double().contiguous().numpy().tobytes())
        return {"masks_sha256": digest.hexdigest(), "num_masks": len(masks), "inject_scale": inject_scale}
    if size_control is not None:
        target = size_control.target
        return {"share": MATCH_REAL if target.match_real else f"{target.low}:{target.high}",
                "real_shares": len(target.shares), "tolerance": target.tolerance, "budget": size_control.budget,
                "strategy": str(size_control.strategy), "inject_scale": size_control.inject_scale}
    return None


def _sample_batches(model: SinGANSeg, num_samples: int, start_scale: int, seed: int,
                    output_shape: Sequence[int] | None, batch_size: int, size_control: SizeControl | None = None,
                    masks: Sequence[torch.Tensor] | None = None, inject_scale: int | None = None
                    ) -> Iterator[tuple[int, torch.Tensor, list[dict[str, Any]]]]:
    """The stacks of samples ``first .. first + batch_size - 1``, with ``first`` and each sample's steering record."""
    training = training_share(model) if size_control is not None and size_control.target.match_real else None
    for first in range(0, num_samples, batch_size):
        stacks, records = [], []
        for i in range(first, min(first + batch_size, num_samples)):
            # One generator per sample: sample i is the same whatever the batch size.
            noise_seed = sample_seed(seed, i)
            generator = torch.Generator().manual_seed(noise_seed)
            if masks is not None:
                stacks.append(model.sample(1, start_scale, generator, label=masks[i], inject_scale=inject_scale))
                records.append({"mask_index": i, "inject_scale": inject_scale})
            elif size_control is not None:
                window = size_control.target.window(np.random.RandomState(noise_seed % 2**32), training)
                stack, record = sample_with_share(model, window, noise_seed, start_scale, size_control.budget,
                                                  size_control.strategy, size_control.inject_scale)
                stacks.append(stack)
                records.append({"size_control": record.to_dict()})
            else:
                stacks.append(model.sample(1, start_scale, generator, output_shape))
                records.append({})
        yield first, torch.cat(stacks), records


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
    size_control: SizeControl | None = None,
    masks: Sequence[torch.Tensor] | None = None,
    inject_scale: int | None = None,
    steering: dict[str, Any] | None = None,
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
        size_control: lesion-size control: sample ``i`` draws its share window from its own seed and meets it as
            :func:`~monai_singanseg.data.size_control.sample_with_share` does; its entry records what it did
            (``size_control``).
        masks: requested ``(1, *shape)`` label maps of the pyramid's values and finest shape: one mask-guided
            sample per mask (``num_samples`` is ignored), injected at ``inject_scale``; its entry records
            ``mask_index``.
        inject_scale: the scale requested masks enter.
        steering: the record of the steering in ``sample_run`` (default: :func:`steering_of` these settings), e.g.
            the digest of the masks before they were fitted to this model.

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
    if masks is not None:
        if size_control is not None or output_shape is not None:
            raise ValueError("masks cannot be combined with size_control or output_shape.")
        if len(masks) < 1:
            raise ValueError("masks must hold at least one requested mask.")
        num_samples = len(masks)
    if num_samples < 1:
        raise ValueError(f"num_samples must be at least 1, got {num_samples}.")
    if size_control is not None and output_shape is not None:
        raise ValueError("size_control needs the training shape (output_shape=None).")
    run = SampleRun(model_sha256(model_path), num_samples, start_scale, seed,
                    None if output_shape is None else tuple(int(s) for s in output_shape),
                    steering if steering is not None else steering_of(size_control, masks, inject_scale))
    metadata: dict[str, Any] = payload.get("metadata", {})
    file_format = FileFormat(metadata.get("file_format", "png" if model.spatial_dims == 2 else "nifti"))
    source_shape = _source_shape(metadata, model.scale_shapes[-1])
    out_dir = Path(out_dir)
    batches = _sample_batches(model, num_samples, start_scale, seed, output_shape, batch_size, size_control, masks,
                              inject_scale)
    foreign = _check_folder(out_dir, run, overwrite)
    # Drawn before the folder is cleared, so settings the pyramid rejects remove nothing.
    first_batch = next(batches)
    clear_sample_folder(out_dir)
    if foreign:
        warnings.warn(f"output folder {out_dir}: --overwrite replaces earlier samples only; kept {len(foreign)} "
                      f"entries this command did not write ({', '.join(p.name for p in foreign[:5])}).")
    out_dir.mkdir(parents=True, exist_ok=True)
    paths, entries, grid_images, grid_labels = [], [], [], []
    for first, stacks, records in itertools.chain([first_batch], batches):
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
                "seed": seed, "index": index, **records[offset],
            })
        if len(grid_images) < grid_size:
            grid_images.extend(images[: grid_size - len(grid_images)])
            grid_labels.extend(labels[: grid_size - len(grid_labels)])
    write_png(sample_grid(torch.stack(grid_images), torch.stack(grid_labels), model.layout.label_values),
              out_dir / GRID_NAME)
    # Last: a folder with a datalist is a finished one.
    write_json({"training": entries, RUN_KEY: run.to_dict()}, out_dir / DATALIST_NAME)
    return paths
