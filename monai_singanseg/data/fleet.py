"""Plan the training of a fleet of single-image pyramids: list the images, shard them by rank, skip the finished ones,
and batch the rest by pyramid shape.

A bank is a folder of ``<image_id>.pt`` pyramid checkpoints. Planning reads only file headers (image sizes) and
checkpoint flags; it trains nothing.
"""

from __future__ import annotations

import os
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from monai_singanseg.data.checkpoint import read_checkpoint
from monai_singanseg.data.datalist import read_datalist
from monai_singanseg.data.io import image_id_of, load_image
from monai_singanseg.settings import SinGANSegSettings
from monai_singanseg.utils.pyramid import compute_pyramid
from monai_singanseg.utils.seeds import keyed_seed

__all__ = ["CheckpointStatus", "FleetItem", "FleetPlan", "bucket_batches", "checkpoint_path", "checkpoint_status",
           "image_id_of", "image_seed", "list_training_items", "plan_fleet", "pyramid_key", "read_spatial_shape",
           "shard_items"]

# Files a folder dataset may hold; anything else (README, thumbnails.db, hidden files) is ignored.
_PHOTO_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")
_VOLUME_SUFFIXES = (".nii.gz", ".nii")
_MAX_LISTED = 10


@dataclass(frozen=True)
class FleetItem:
    """One training pair of a fleet.

    Attributes:
        image_id: the image's file stem; its pyramid is ``<bank>/<image_id>.pt``.
        image: image file.
        label: label file, or ``None`` for an RGBA PNG with the mask in alpha.
    """

    image_id: str
    image: str
    label: str | None


class CheckpointStatus(StrEnum):
    """What the bank holds for one image."""

    MISSING = "missing"
    PARTIAL = "partial"
    COMPLETE = "complete"


@dataclass(frozen=True)
class FleetPlan:
    """The work of one rank.

    Attributes:
        shard: every item of this rank, sorted by id.
        complete: items whose pyramid is already complete in the bank (skipped).
        batches: the items to train, in order; half-trained ones come first, alone, so they resume where they stopped.
    """

    shard: tuple[FleetItem, ...]
    complete: tuple[FleetItem, ...]
    batches: tuple[tuple[FleetItem, ...], ...]


def image_seed(image_id: str, base_seed: int) -> int:
    """The training seed of one image: ``base_seed`` mixed with a hash of its id
    (:func:`~monai_singanseg.utils.seeds.keyed_seed`).

    A model then depends neither on the rank, the batch nor the order it was trained in, so a resumed or resharded
    run trains the same model.
    """
    return keyed_seed(image_id, base_seed)


def checkpoint_path(bank: str | os.PathLike, image_id: str) -> Path:
    """Where a bank keeps the pyramid of image ``image_id``: ``<bank>/<image_id>.pt``."""
    return Path(bank) / f"{image_id}.pt"


def _listing(names: Sequence[str]) -> str:
    shown = ", ".join(sorted(names)[:_MAX_LISTED])
    return shown + (f" and {len(names) - _MAX_LISTED} more" if len(names) > _MAX_LISTED else "")


def _files_by_id(folder: Path) -> dict[str, Path]:
    files: dict[str, list[Path]] = {}
    for path in sorted(folder.iterdir()):
        if path.is_file() and not path.name.startswith(".") and path.name.lower().endswith(_PHOTO_SUFFIXES + _VOLUME_SUFFIXES):
            files.setdefault(image_id_of(path), []).append(path)
    clashes = [f"{k} ({', '.join(p.name for p in v)})" for k, v in files.items() if len(v) > 1]
    if clashes:
        raise ValueError(f"{folder} holds several files with the same name stem: {_listing(clashes)}; keep one each.")
    return {k: v[0] for k, v in files.items()}


def _items_from_folder(folder: Path) -> list[FleetItem]:
    images_dir, masks_dir = folder / "images", folder / "masks"
    if not images_dir.is_dir() or not masks_dir.is_dir():
        raise ValueError(f"data folder {folder} must hold images/ and masks/ (the Kvasir-SEG layout, a mask per image "
                         f"with the same name stem), or pass a datalist JSON file.")
    images, masks = _files_by_id(images_dir), _files_by_id(masks_dir)
    problems = []
    if masks.keys() - images.keys():
        problems.append(f"masks without an image in {images_dir}: {_listing(list(masks.keys() - images.keys()))}")
    if images.keys() - masks.keys():
        problems.append(f"images without a mask in {masks_dir}: {_listing(list(images.keys() - masks.keys()))}")
    if problems:
        raise ValueError(f"data folder {folder} does not pair up; " + "; ".join(problems) + ".")
    if not images:
        raise ValueError(f"data folder {folder} holds no images ({', '.join(_PHOTO_SUFFIXES + _VOLUME_SUFFIXES)}).")
    return [FleetItem(k, str(images[k]), str(masks[k])) for k in images]


def _items_from_datalist(path: Path, data_list_key: str) -> list[FleetItem]:
    try:
        entries = read_datalist(path, data_list_key)
    except ValueError as err:
        raise ValueError(f"cannot read datalist {path}: {err}") from None
    if not entries or any("image" not in e for e in entries):
        raise ValueError(f"datalist {path} needs a non-empty {data_list_key!r} list of {{'image', 'label'}} entries.")
    items = [FleetItem(image_id_of(e["image"]), str(e["image"]), str(e["label"]) if e.get("label") else None)
             for e in entries]
    ids = [item.image_id for item in items]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        raise ValueError(f"datalist {path} has several images with the same name stem (the bank's model id): "
                         f"{_listing(duplicates)}.")
    return items


def list_training_items(data: str | os.PathLike, data_list_key: str = "training") -> list[FleetItem]:
    """Every training pair of a dataset, sorted by image id.

    Args:
        data: a folder with ``images/`` and ``masks/`` (Kvasir-SEG layout: each mask has its image's name stem, any
            of PNG, JPEG, BMP, TIFF, NIfTI), or a MONAI datalist JSON file whose entries have ``image`` and ``label``
            (relative paths are relative to the JSON file; omit ``label`` for RGBA PNGs with the mask in alpha).
        data_list_key: the datalist's list to read.

    Returns:
        The pairs, sorted by ``image_id`` (the image's file stem).

    Raises:
        FileNotFoundError: ``data`` does not exist.
        ValueError: unpaired images or masks (all listed), duplicate ids, or an unreadable datalist.

    Example::

        >>> items = list_training_items("Kvasir-SEG")  # Kvasir-SEG/images/*.jpg + Kvasir-SEG/masks/*.jpg
        >>> items[0].image_id
        'cju0qkwl35piu0993l0dewei2'
    """
    path = Path(data)
    if not path.exists():
        raise FileNotFoundError(f"data {path} does not exist.")
    items = _items_from_folder(path) if path.is_dir() else _items_from_datalist(path, data_list_key)
    return sorted(items, key=lambda item: item.image_id)


def shard_items(items: Sequence[FleetItem], rank: int, world_size: int) -> list[FleetItem]:
    """The items of ``rank`` out of ``world_size``: every ``world_size``-th item of the list sorted by id.

    Every item lands on exactly one rank, and the split does not depend on the order ``items`` came in.

    Raises:
        ValueError: ``world_size < 1`` or ``rank`` outside ``0..world_size - 1``.
    """
    if world_size < 1 or not 0 <= rank < world_size:
        raise ValueError(f"need 0 <= rank < world_size, got rank={rank}, world_size={world_size}.")
    return sorted(items, key=lambda item: item.image_id)[rank::world_size]


def checkpoint_status(path: str | os.PathLike) -> CheckpointStatus:
    """Whether ``path`` is missing, a half-trained checkpoint, or a complete pyramid.

    Raises:
        CheckpointError: the file exists but is not a readable checkpoint.
    """
    if not Path(path).exists():
        return CheckpointStatus.MISSING
    payload = read_checkpoint(path)
    training = payload.get("training") or {}
    # Files saved without trainer state are complete when every scale has its generator.
    complete = training.get("complete", len(payload["generators"]) == len(payload["config"]["scale_shapes"]))
    return CheckpointStatus.COMPLETE if complete else CheckpointStatus.PARTIAL


def read_spatial_shape(path: str | os.PathLike) -> tuple[int, ...]:
    """The spatial shape an image will load with, read from the file header where the format allows.

    Photographs give ``(H, W)`` as :func:`load_image` reads them, NIfTI the first three axes; other formats (DICOM
    series) are loaded.
    """
    name = str(path).lower()
    if name.endswith(_PHOTO_SUFFIXES):
        from PIL import Image

        with Image.open(path) as image:
            width, height = image.size
        return height, width
    if name.endswith(_VOLUME_SUFFIXES):
        import nibabel

        shape = tuple(int(s) for s in nibabel.load(str(path)).shape)
        return shape[:3]
    return tuple(load_image(path).shape[1:])


def pyramid_key(spatial_shape: Sequence[int], settings: SinGANSegSettings) -> tuple[tuple[int, ...], ...]:
    """Images with equal keys have the same pyramid shapes under ``settings`` and can train in one batch."""
    return compute_pyramid(spatial_shape, settings.min_size, settings.max_size, settings.scale_factor).scale_shapes


def bucket_batches(
    items: Sequence[FleetItem], keys: Sequence[Hashable], models_per_batch: int
) -> list[tuple[FleetItem, ...]]:
    """Group items with equal keys into batches of at most ``models_per_batch``, keeping the items' order.

    Raises:
        ValueError: ``models_per_batch < 1`` or one key per item missing.
    """
    if models_per_batch < 1:
        raise ValueError(f"models_per_batch must be at least 1, got {models_per_batch}.")
    if len(keys) != len(items):
        raise ValueError(f"need one key per item: {len(items)} items, {len(keys)} keys.")
    buckets: dict[Hashable, list[FleetItem]] = {}
    for item, key in zip(items, keys):
        buckets.setdefault(key, []).append(item)
    return [tuple(bucket[i : i + models_per_batch]) for bucket in buckets.values()
            for i in range(0, len(bucket), models_per_batch)]


def plan_fleet(
    items: Sequence[FleetItem],
    bank: str | os.PathLike,
    settings: SinGANSegSettings,
    models_per_batch: int = 1,
    rank: int = 0,
    world_size: int = 1,
) -> FleetPlan:
    """The work of ``rank``: its shard, less the pyramids already complete in ``bank``, batched by pyramid shape.

    Args:
        items: the whole dataset (from :func:`list_training_items`).
        bank: folder of ``<image_id>.pt`` checkpoints.
        settings: the training settings (they decide the pyramid shapes).
        models_per_batch: most models trained at once.
        rank: this process's rank.
        world_size: number of processes sharing the dataset.

    Returns:
        The plan; half-trained pyramids come first as batches of one, so they resume after their last scale.

    Example::

        >>> plan = plan_fleet(list_training_items("Kvasir-SEG"), "bank", SinGANSegSettings(), models_per_batch=16)
        >>> len(plan.complete), [len(b) for b in plan.batches][:3]
        (0, [16, 16, 16])
    """
    shard = shard_items(items, rank, world_size)
    status = {item.image_id: checkpoint_status(checkpoint_path(bank, item.image_id)) for item in shard}
    partial = [(item,) for item in shard if status[item.image_id] == CheckpointStatus.PARTIAL]
    fresh = [item for item in shard if status[item.image_id] == CheckpointStatus.MISSING]
    keys = [pyramid_key(read_spatial_shape(item.image), settings) for item in fresh]
    return FleetPlan(
        shard=tuple(shard),
        complete=tuple(item for item in shard if status[item.image_id] == CheckpointStatus.COMPLETE),
        batches=tuple(partial + bucket_batches(fresh, keys, models_per_batch)),
    )
