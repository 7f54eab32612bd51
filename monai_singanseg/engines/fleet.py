"""Train a fleet of single-image SinGAN-Seg pyramids into a bank, in one process or sharded over torchrun ranks.

Three ways in, one code path::

    monai-singanseg train-many --data Kvasir-SEG --out bank --models-per-batch 16 --label-threshold 127
    python -m monai_singanseg train-many --data Kvasir-SEG --out bank
    torchrun --nproc_per_node 8 -m monai_singanseg train-many --data Kvasir-SEG --out bank --device cuda

Rank ``r`` of ``N`` trains every ``N``-th image (sorted by id) on ``cuda:LOCAL_RANK``, so ranks share no work and
talk only at a final barrier. Running the same command again skips finished pyramids and resumes half-trained ones
after their last finished scale; each rank records what it did in ``<bank>/fleet.rank<r>.json``.

What to train comes from :mod:`monai_singanseg.data.fleet` (listing, sharding, planning); :func:`train_fleet_batch`
is the loop both this bank trainer and the MRI slice ensemble
(:func:`~monai_singanseg.apps.mri.train_slice_ensemble`) run, and every checkpoint is written by
:class:`~monai_singanseg.handlers.PyramidCheckpoint`.
"""

from __future__ import annotations

import logging
import os
import signal
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import torch
from tqdm import tqdm
from tqdm.contrib.logging import logging_redirect_tqdm

from monai_singanseg.data.checkpoint import read_checkpoint
from monai_singanseg.data.fleet import (
    CheckpointStatus,
    FleetItem,
    checkpoint_path,
    checkpoint_status,
    image_seed,
    list_training_items,
    plan_fleet,
    pyramid_key,
)
from monai_singanseg.data.io import AUTO_THRESHOLD, load_training_pair
from monai_singanseg.data.output_path import check_output_folder
from monai_singanseg.data.writers import remove_temporaries, write_json
from monai_singanseg.engines.batched import train_batched
from monai_singanseg.engines.train import train_singanseg
from monai_singanseg.settings import SinGANSegSettings, available_device
from monai_singanseg.layout import ChannelLayout

__all__ = ["STOP_AFTER_CHECKPOINT", "FleetModel", "TrainedModel", "distributed_environment", "launch",
           "stop_after_checkpoint", "summary_path", "train_fleet_batch", "train_many"]

logger = logging.getLogger(__name__)

# Ranks finish at different times (after a resume one rank may have almost nothing left): the final barrier has to
# outwait the slowest shard, not a network hiccup.
_BARRIER_TIMEOUT = timedelta(days=7)

# The one test hook of a fleet run, read by launch() alone: a checkpoint file name (e.g. "p2.pt"); right after
# first writing a checkpoint of that name the process stops itself (SIGSTOP), so a test can kill it at exactly that
# point instead of polling the bank.
STOP_AFTER_CHECKPOINT = "MONAI_SINGANSEG_STOP_AFTER_CHECKPOINT"


@dataclass(frozen=True)
class FleetModel:
    """One pyramid to train into a bank: its loaded pair, its seed, its checkpoint and what the checkpoint records.

    Attributes:
        checkpoint: the pyramid's checkpoint file; a half-trained one there is resumed.
        seed: its training seed (``settings.seed`` is replaced by it).
        image: channel-first image, as :func:`~monai_singanseg.data.load_training_pair` loads it.
        label: its label map.
        metadata: plain provenance data kept in the checkpoint (source files, image id).
    """

    checkpoint: Path
    seed: int
    image: Any
    label: Any
    metadata: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class TrainedModel:
    """What training one :class:`FleetModel` did.

    Attributes:
        checkpoint: the checkpoint written.
        seed: its training seed.
        models_in_batch: how many models trained together with it (1: alone, checkpointed after every scale).
        batch_seconds: wall time of its batch.
        resumed_scales: scales already finished in the checkpoint when training began.
    """

    checkpoint: Path
    seed: int
    models_in_batch: int
    batch_seconds: float
    resumed_scales: int


def _train_alone(model: FleetModel, settings: SinGANSegSettings, label_values: Sequence[float] | None,
                 progress: bool, on_checkpoint: Callable[[Path], None] | None) -> TrainedModel:
    # A process killed while writing leaves its temporary file; only this process writes this checkpoint.
    remove_temporaries(model.checkpoint)
    resumed = len(read_checkpoint(model.checkpoint)["generators"]) if model.checkpoint.exists() else 0
    start = time.perf_counter()
    # Checkpointed after every scale, so an interruption loses at most the scale in progress.
    train_singanseg(model.image, model.label, replace(settings, seed=model.seed), label_values=label_values,
                    checkpoint=model.checkpoint, metadata=dict(model.metadata), progress=progress,
                    on_checkpoint=on_checkpoint)
    return TrainedModel(model.checkpoint, model.seed, 1, time.perf_counter() - start, resumed)


def _train_together(models: Sequence[FleetModel], settings: SinGANSegSettings, label_values: Sequence[float] | None,
                    progress: bool, on_checkpoint: Callable[[Path], None] | None) -> list[TrainedModel]:
    for model in models:
        remove_temporaries(model.checkpoint)
    start = time.perf_counter()
    train_batched([m.image for m in models], [m.label for m in models], settings, seeds=[m.seed for m in models],
                  label_values=label_values, progress=progress, checkpoints=[m.checkpoint for m in models],
                  metadata=[m.metadata for m in models], on_checkpoint=on_checkpoint)
    seconds = time.perf_counter() - start
    return [TrainedModel(m.checkpoint, m.seed, len(models), seconds, 0) for m in models]


def train_fleet_batch(
    models: Sequence[FleetModel],
    settings: SinGANSegSettings,
    label_values: Sequence[float] | None = None,
    progress: bool = False,
    on_checkpoint: Callable[[Path], None] | None = None,
) -> list[TrainedModel]:
    """Train one batch of a fleet into its checkpoints: alone, or together as grouped convolutions.

    A batch of one trains alone (:func:`~monai_singanseg.engines.train_singanseg`), checkpointed after every scale
    and resumed from a half-trained checkpoint. A larger batch is split by pyramid shapes and channel count (known
    only once loaded: a grey image among RGB ones, a multi-class mask), since models trained together need both
    equal; each group of several trains at once (:func:`~monai_singanseg.engines.train_batched`) and each of its
    models is saved when the group completes, a group of one trains alone.

    Args:
        models: the pyramids to train.
        settings: training settings shared by all (each model's seed replaces ``settings.seed``).
        label_values: the valid label values of every model (one channel layout for all); inferred per model when
            omitted.
        progress: show a progress bar per scale.
        on_checkpoint: called with every checkpoint file just written.

    Returns:
        One record per model, group by group.

    Raises:
        ValueError: invalid pairs or settings, or a checkpoint trained on another image or with other settings.

    Example::

        >>> image, label, info = load_training_pair("polyp.jpg", "polyp_mask.jpg", label_threshold=127)
        >>> [record] = train_fleet_batch([FleetModel(Path("bank/polyp.pt"), 7, image, label, info)], settings)
        >>> record.models_in_batch
        1
    """
    if len(models) == 1:
        return [_train_alone(models[0], settings, label_values, progress, on_checkpoint)]
    groups: dict[Any, list[FleetModel]] = {}
    for model in models:
        layout = ChannelLayout.from_data(model.image, model.label, settings.label_encoding, label_values)
        groups.setdefault((pyramid_key(model.image.shape[1:], settings), layout.channels), []).append(model)
    records = []
    for members in groups.values():
        if len(members) == 1:
            records.append(_train_alone(members[0], settings, label_values, progress, on_checkpoint))
        else:
            records.extend(_train_together(members, settings, label_values, progress, on_checkpoint))
    return records


def distributed_environment() -> tuple[int, int, int]:
    """``(rank, world_size, local_rank)`` from the variables torchrun sets; ``(0, 1, 0)`` outside torchrun.

    Raises:
        ValueError: a variable is set but not an integer.
    """
    values = []
    for name, default in (("RANK", "0"), ("WORLD_SIZE", "1"), ("LOCAL_RANK", "0")):
        text = os.environ.get(name, default)
        if not text.isdigit():
            raise ValueError(f"environment variable {name}={text!r} must be a non-negative integer.")
        values.append(int(text))
    return values[0], values[1], values[2]


def stop_after_checkpoint(name: str) -> Callable[[Path], None]:
    """A checkpoint callback that stops this process (SIGSTOP) right after it first writes a file named ``name``.

    The parent sees the stop with ``os.waitpid(pid, os.WUNTRACED)`` and can then kill the process at a known point
    of training, as :data:`STOP_AFTER_CHECKPOINT` asks a run to.

    Raises:
        ValueError: ``name`` is empty, or this platform has no SIGSTOP.
    """
    if not name:
        raise ValueError(f"{STOP_AFTER_CHECKPOINT} must name a checkpoint file such as 'p2.pt', got {name!r}.")
    if not hasattr(signal, "SIGSTOP"):
        raise ValueError(f"{STOP_AFTER_CHECKPOINT} needs SIGSTOP, which this platform lacks.")
    stopped = []

    def _stop(path: Path) -> None:
        if path.name == name and not stopped:
            stopped.append(path)
            os.kill(os.getpid(), signal.SIGSTOP)

    return _stop


def summary_path(bank: str | os.PathLike, rank: int) -> Path:
    """Where rank ``rank`` writes its summary: ``<bank>/fleet.rank<rank>.json``."""
    return Path(bank) / f"fleet.rank{rank}.json"


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _fleet_model(item: FleetItem, bank: Path, settings: SinGANSegSettings, label_threshold: float | str | None,
                 label_values: Sequence[float] | None) -> FleetModel:
    image, label, info = load_training_pair(item.image, item.label, label_threshold, label_values=label_values)
    info["image_id"] = item.image_id
    return FleetModel(checkpoint_path(bank, item.image_id), image_seed(item.image_id, settings.seed), image, label,
                      info)


def _record(image_id: str, trained: TrainedModel) -> dict[str, Any]:
    return {"image_id": image_id, "seed": trained.seed, "models_in_batch": trained.models_in_batch,
            "batch_seconds": round(trained.batch_seconds, 3), "resumed_scales": trained.resumed_scales}


def train_many(
    data: str | os.PathLike,
    bank: str | os.PathLike,
    settings: SinGANSegSettings | None = None,
    models_per_batch: int = 1,
    label_threshold: float | str | None = AUTO_THRESHOLD,
    rank: int = 0,
    world_size: int = 1,
    progress: bool = False,
    *,
    label_values: Sequence[float] | None = None,
    on_checkpoint: Callable[[Path], None] | None = None,
) -> dict[str, Any]:
    """Train the pyramids of shard ``rank`` of a dataset into ``bank``, skipping those already complete.

    Each image trains with its own seed, derived from ``settings.seed`` and its id (:func:`image_seed`), so a model
    does not depend on the rank, the batch or the order it was trained in.

    Args:
        data: a folder with ``images/`` and ``masks/``, or a MONAI datalist JSON (see :func:`list_training_items`).
        bank: output folder of ``<image_id>.pt`` checkpoints.
        settings: training settings (``settings.device`` is used as given).
        models_per_batch: most models trained at once on the device (1: one by one, resumable after every scale;
            more: the batched trainer, each model saved when its batch completes).
        label_threshold: binarise the masks above this value (JPEG masks: 127); ``"auto"`` binarises two-level
            masks with in-between values and keeps other labels; ``None`` keeps every label as it is (see
            :func:`~monai_singanseg.data.load_training_pair`).
        rank: this process's rank.
        world_size: number of processes sharing the dataset.
        progress: show an overall and a per-model progress bar.
        label_values: the valid label values of every image (e.g. 0 1 2 4), so that images whose maps hold different
            subsets share one channel layout (and can train together); inferred per image when omitted.
        on_checkpoint: called with every checkpoint file just written (after every scale of a model trained alone,
            after every model of a batch).

    Returns:
        The summary also written to :func:`summary_path`: the shard's ids, those skipped, and one record per trained
        model (seed, batch size, batch wall time, scales resumed from a previous run).

    Raises:
        FileNotFoundError: ``data`` or a file it lists does not exist.
        ValueError: unpaired or unreadable data, a checkpoint trained on another image or with other settings, a
            ``bank`` that cannot be written, or ``models_per_batch``, ``rank``, ``world_size`` out of range.

    Example::

        >>> summary = train_many("Kvasir-SEG", "bank", SinGANSegSettings(device="cuda"), 16, label_threshold=127)
        >>> len(summary["trained"]) + len(summary["skipped"]) == len(summary["shard"])
        True
    """
    settings = settings or SinGANSegSettings()
    if isinstance(models_per_batch, bool) or not isinstance(models_per_batch, int) or models_per_batch < 1:
        raise ValueError(f"models_per_batch must be an int >= 1 (--models-per-batch), got {models_per_batch!r}.")
    if not (isinstance(world_size, int) and world_size >= 1 and isinstance(rank, int) and 0 <= rank < world_size):
        raise ValueError(f"rank must be in [0, world_size) and world_size >= 1, got rank={rank}, "
                         f"world_size={world_size}.")
    bank = check_output_folder(bank, "bank")
    items = list_training_items(data)  # before the bank is made: a wrong --data leaves no empty folder behind
    bank.mkdir(parents=True, exist_ok=True)
    plan = plan_fleet(items, bank, settings, models_per_batch, rank, world_size)
    summary: dict[str, Any] = {
        "rank": rank, "world_size": world_size, "data": str(data), "bank": str(bank), "device": settings.device,
        "models_per_batch": models_per_batch, "settings": settings.to_dict(), "started": _now(), "finished": None,
        "seconds": 0.0, "shard": [item.image_id for item in plan.shard],
        "skipped": [item.image_id for item in plan.complete], "trained": [],
    }
    path = summary_path(bank, rank)
    remove_temporaries(path)
    write_json(summary, path, indent=1)
    logger.info("rank %d/%d: %d images, %d already trained, %d to train in %d batches", rank, world_size,
                len(plan.shard), len(plan.complete), sum(map(len, plan.batches)), len(plan.batches))
    start = time.perf_counter()
    with logging_redirect_tqdm(), tqdm(total=len(plan.shard), initial=len(plan.complete), desc=f"rank {rank} models",
                                       unit="model", disable=not progress, dynamic_ncols=True) as bar:
        for batch in plan.batches:
            ids = {checkpoint_path(bank, item.image_id): item.image_id for item in batch}
            models = [_fleet_model(item, bank, settings, label_threshold, label_values) for item in batch]
            trained = train_fleet_batch(models, settings, label_values, progress, on_checkpoint)
            records = [_record(ids[t.checkpoint], t) for t in trained]
            summary["trained"].extend(records)
            summary["seconds"] = round(time.perf_counter() - start, 3)
            write_json(summary, path, indent=1)
            bar.update(len(batch))
            for record in records:
                logger.info("rank %d: trained %s (batch of %d, %.1f s)", rank, record["image_id"],
                            record["models_in_batch"], record["batch_seconds"])
    summary["finished"] = _now()
    write_json(summary, path, indent=1)
    return summary


def launch(
    data: str | os.PathLike,
    bank: str | os.PathLike,
    settings: SinGANSegSettings | None = None,
    models_per_batch: int = 1,
    label_threshold: float | str | None = AUTO_THRESHOLD,
    progress: bool = True,
    *,
    label_values: Sequence[float] | None = None,
) -> dict[str, Any]:
    """:func:`train_many` for this process: rank and device from torchrun's variables, a barrier at the end.

    Under torchrun (``WORLD_SIZE > 1``) a CUDA ``settings.device`` becomes ``cuda:LOCAL_RANK`` and a process group
    (NCCL on GPU, gloo on CPU) is opened for the final barrier only; after it rank 0 checks that the bank is complete.
    Progress bars show on rank 0; other ranks log one line per model. The environment variable
    :data:`STOP_AFTER_CHECKPOINT`, if set, stops the process after that checkpoint is written (a test hook).

    Returns:
        This rank's summary; rank 0's also has ``bank_missing``, the ids still without a complete pyramid.

    Raises:
        ValueError: as :func:`train_many`, or a torchrun variable that is not an integer.
    """
    settings = settings or SinGANSegSettings()
    rank, world_size, local_rank = distributed_environment()
    stop_name = os.environ.get(STOP_AFTER_CHECKPOINT)
    on_checkpoint = stop_after_checkpoint(stop_name) if stop_name is not None else None
    device = available_device(settings.device)
    if device.type == "cuda":
        if "LOCAL_RANK" in os.environ:
            device = torch.device("cuda", local_rank)
        if device.index is not None:
            torch.cuda.set_device(device)
        settings = replace(settings, device=str(device))
    distributed = world_size > 1
    if distributed:
        import torch.distributed as dist

        dist.init_process_group("nccl" if device.type == "cuda" else "gloo", timeout=_BARRIER_TIMEOUT)
    try:
        summary = train_many(data, bank, settings, models_per_batch, label_threshold, rank, world_size,
                             progress=progress and rank == 0, label_values=label_values, on_checkpoint=on_checkpoint)
        if distributed and device.type == "cuda":
            dist.barrier(device_ids=[device.index])
        elif distributed:
            dist.barrier()
    finally:
        if distributed:
            dist.destroy_process_group()
    if rank == 0:
        missing = [item.image_id for item in list_training_items(data)
                   if checkpoint_status(checkpoint_path(bank, item.image_id)) != CheckpointStatus.COMPLETE]
        summary["bank_missing"] = missing
        write_json(summary, summary_path(bank, rank), indent=1)
        logger.info("bank %s: %s", bank, f"{len(missing)} pyramids missing" if missing else "complete")
    return summary
