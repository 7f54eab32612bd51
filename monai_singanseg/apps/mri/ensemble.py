"""Ensembles of generators per slice (Larsson et al., "Does an ensemble of GANs lead to better performance when
training segmentation networks with synthetic images?"): K independently seeded SinGAN-Seg pyramids per training
slice, and synthetic pairs drawn evenly from the K members and the slices.

An ensemble is a folder of member banks, ``<bank>/member_00/<slice_id>.pt``, ``member_01/...``: each member folder
is a :class:`~monai_singanseg.data.SinGANSegBank` keyed by slice id, so ``RandSinGANSegd(bank=<bank>/member_00)``
uses one member as online augmentation.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from monai_singanseg.data.fleet import CheckpointStatus, checkpoint_path, checkpoint_status
from monai_singanseg.data.io import load_training_pair
from monai_singanseg.engines.fleet import FleetModel, train_fleet_batch
from monai_singanseg.settings import SinGANSegSettings
from monai_singanseg.utils.seeds import keyed_seed

__all__ = ["EnsembleItem", "even_schedule", "member_dir", "member_dirs", "member_seed", "train_slice_ensemble"]

logger = logging.getLogger(__name__)


def member_dir(bank_dir: str | os.PathLike, member: int) -> Path:
    """The bank folder of ensemble member ``member``: ``<bank_dir>/member_<member:02d>``."""
    return Path(bank_dir) / f"member_{member:02d}"


def member_dirs(bank_dir: str | os.PathLike) -> list[Path]:
    """The member folders of an ensemble, in member order.

    Raises:
        FileNotFoundError: ``bank_dir`` holds no ``member_*`` folder.
    """
    found = sorted(p for p in Path(bank_dir).glob("member_*") if p.is_dir())
    if not found:
        raise FileNotFoundError(f"ensemble folder {bank_dir} holds no member_* bank; run train_generators first.")
    return found


def member_seed(slice_id: str, member: int, base_seed: int) -> int:
    """The training seed of member ``member`` for slice ``slice_id``.

    A hash of both, so members differ from each other and from other slices, and a model depends on neither the
    order nor the batch it was trained in (a resumed run trains the same models); the rule of
    :func:`~monai_singanseg.utils.seeds.keyed_seed`, keyed by ``"<slice_id>/<member>"``.
    """
    return keyed_seed(f"{slice_id}/{member}", base_seed)


def even_schedule(num_samples: int, num_members: int, num_slices: int) -> list[tuple[int, int]]:
    """Which member and which slice each synthetic sample comes from, spread evenly.

    Sample ``i`` comes from member ``i % K`` and, within that member, from its ``(i // K)``-th draw, which cycles
    through the slices: every member gives ``num_samples / K`` samples (the paper's 20,000 from each of 5 GANs), and
    every slice of a member as many as the others, give or take one.

    Args:
        num_samples: how many samples.
        num_members: ensemble size K.
        num_slices: slices per member.

    Returns:
        ``(member, slice_position)`` per sample.

    Raises:
        ValueError: a count below 1.

    Example::

        >>> even_schedule(6, 2, 3)
        [(0, 0), (1, 0), (0, 1), (1, 1), (0, 2), (1, 2)]
    """
    for name, value in (("num_samples", num_samples), ("num_members", num_members), ("num_slices", num_slices)):
        if value < 1:
            raise ValueError(f"{name} must be at least 1, got {value}.")
    return [(i % num_members, (i // num_members) % num_slices) for i in range(num_samples)]


@dataclass(frozen=True)
class EnsembleItem:
    """One generator to train: a slice, a member, its seed and its checkpoint."""

    entry: Mapping[str, Any]
    member: int
    seed: int
    checkpoint: Path

    @property
    def slice_id(self) -> str:
        return str(self.entry["slice_id"])

    def metadata(self, label_values: Sequence[float], channel_names: Sequence[str]) -> dict[str, Any]:
        """Plain provenance data kept in the checkpoint; the generate step reads it back."""
        entry = self.entry
        return {
            "image_id": self.slice_id, "source": str(entry["image"]), "label_source": str(entry["label"]),
            "file_format": "nifti", "affine": entry["affine"], "case_id": entry["case_id"],
            "slice_index": entry["slice_index"], "slice_shape": entry["slice_shape"], "intensity_low": entry["intensity_low"],
            "intensity_high": entry["intensity_high"], "channel_names": list(channel_names),
            "label_values": [float(v) for v in label_values], "ensemble_member": self.member, "seed": self.seed,
        }


def _fleet_model(item: EnsembleItem, label_values: Sequence[float], channel_names: Sequence[str]) -> FleetModel:
    image, label, _ = load_training_pair(item.entry["image"], item.entry["label"])
    return FleetModel(item.checkpoint, item.seed, image, label, item.metadata(label_values, channel_names))


def train_slice_ensemble(
    slices: Sequence[Mapping[str, Any]],
    bank_dir: str | os.PathLike,
    settings: SinGANSegSettings,
    label_values: Sequence[float],
    ensemble_size: int = 1,
    models_per_batch: int = 1,
    channel_names: Sequence[str] = (),
    progress: bool = False,
) -> dict[str, list[str]]:
    """Train ``ensemble_size`` independently seeded pyramids per slice into ``<bank_dir>/member_<k>/``.

    Pyramids already complete are skipped and half-trained ones resume, so the same call finishes an interrupted
    run. Every pyramid sees the full ``label_values``, so all share one channel layout and can be batched.

    Args:
        slices: entries of the slices datalist (``image``, ``label``, ``slice_id``, ``case_id``, ``slice_index``,
            ``slice_shape``, ``affine``, ``intensity_low``, ``intensity_high``), as :func:`prepare_slices` writes them.
        bank_dir: the ensemble folder.
        settings: SinGAN-Seg settings; each pyramid trains with its own seed (:func:`member_seed` of
            ``settings.seed``).
        label_values: the valid label values.
        ensemble_size: K, generators per slice (the paper compares 1, 5, 10 and 20).
        models_per_batch: 1 trains pyramids one by one, resumable after every scale; more trains that many at once
            as grouped convolutions (:func:`monai_singanseg.engines.train_batched`), each saved when its batch ends.
        channel_names: recorded in the checkpoints for the DICOM series descriptions.
        progress: show progress bars.

    Returns:
        ``{"trained": [...], "skipped": [...]}``: checkpoint paths.

    Raises:
        ValueError: ``ensemble_size`` or ``models_per_batch`` below 1, no slices, or slices with repeated ids.
    """
    if ensemble_size < 1 or models_per_batch < 1:
        raise ValueError(f"ensemble_size and models_per_batch must be at least 1, got {ensemble_size} and "
                         f"{models_per_batch}.")
    if not slices:
        raise ValueError("no slices to train on; run prepare_slices first.")
    ids = [str(entry["slice_id"]) for entry in slices]
    if len(set(ids)) != len(ids):
        raise ValueError(f"slice ids repeat: {sorted({i for i in ids if ids.count(i) > 1})[:5]}.")
    items = [EnsembleItem(entry, member, member_seed(str(entry["slice_id"]), member, settings.seed),
                          checkpoint_path(member_dir(bank_dir, member), str(entry["slice_id"])))
             for member in range(ensemble_size) for entry in slices]
    for member in range(ensemble_size):
        member_dir(bank_dir, member).mkdir(parents=True, exist_ok=True)
    status = {item.checkpoint: checkpoint_status(item.checkpoint) for item in items}
    skipped = [item for item in items if status[item.checkpoint] == CheckpointStatus.COMPLETE]
    # Half-trained pyramids resume alone; the rest train in batches (all slices have one size, so one pyramid shape).
    partial = [item for item in items if status[item.checkpoint] == CheckpointStatus.PARTIAL]
    fresh = [item for item in items if status[item.checkpoint] == CheckpointStatus.MISSING]
    # Loaded batch by batch, so a large ensemble never holds every slice in memory.
    batches = [[item] for item in partial]
    batches += [fresh[first:first + models_per_batch] for first in range(0, len(fresh), models_per_batch)]
    done = 0
    for batch in batches:
        train_fleet_batch([_fleet_model(item, label_values, channel_names) for item in batch], settings, label_values,
                          progress)
        done += len(batch)
        logger.info("trained %d of %d generators", done, len(partial) + len(fresh))
    return {"trained": [str(i.checkpoint) for i in partial + fresh], "skipped": [str(i.checkpoint) for i in skipped]}
