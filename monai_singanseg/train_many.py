"""Train one SinGAN-Seg pyramid per image of a dataset into a bank, in one process or sharded over torchrun ranks.

Three ways in, one code path::

    monai-singanseg train-many --data Kvasir-SEG --out bank --models-per-batch 16 --label-threshold 127
    python -m monai_singanseg.train_many --data Kvasir-SEG --out bank
    torchrun --nproc_per_node 8 -m monai_singanseg.train_many --data Kvasir-SEG --out bank --device cuda

Rank ``r`` of ``N`` trains every ``N``-th image (sorted by id) on ``cuda:LOCAL_RANK``, so ranks share no work and
talk only at a final barrier. Running the same command again skips finished pyramids and resumes half-trained ones
after their last finished scale; each rank records what it did in ``<bank>/fleet.rank<r>.json``.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from glob import escape
from pathlib import Path
from typing import Any

import torch
from tqdm import tqdm
from tqdm.contrib.logging import logging_redirect_tqdm

from monai_singanseg.data.checkpoint import read_checkpoint
from monai_singanseg.data.fleet import (
    CheckpointStatus, FleetItem, checkpoint_status, image_seed, list_training_items, plan_fleet, pyramid_key,
)
from monai_singanseg.data.io import AUTO_THRESHOLD, load_training_pair
from monai_singanseg.data.output_path import check_output_folder
from monai_singanseg.data.writers import write_json
from monai_singanseg.engines.train import train_singanseg
from monai_singanseg.engines.trainer import fingerprint
from monai_singanseg.settings import SinGANSegSettings, available_device
from monai_singanseg.utils.layout import ChannelLayout

__all__ = ["distributed_environment", "launch", "main", "summary_path", "train_many"]

logger = logging.getLogger(__name__)

# Ranks finish at different times (after a resume one rank may have almost nothing left): the final barrier has to
# outwait the slowest shard, not a network hiccup.
_BARRIER_TIMEOUT = timedelta(days=7)

_Loaded = tuple[Any, Any, dict[str, Any]]


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


def summary_path(bank: str | os.PathLike, rank: int) -> Path:
    """Where rank ``rank`` writes its summary: ``<bank>/fleet.rank<rank>.json``."""
    return Path(bank) / f"fleet.rank{rank}.json"


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _load(item: FleetItem, label_threshold: float | str | None, label_values: Sequence[float] | None) -> _Loaded:
    image, label, info = load_training_pair(item.image, item.label, label_threshold, label_values=label_values)
    info["image_id"] = item.image_id
    return image, label, info


def _checkpoint(bank: Path, item: FleetItem) -> Path:
    path = bank / f"{item.image_id}.pt"
    # A process killed while writing leaves its temporary file; only this rank writes this id, so it may clean up.
    for stale in bank.glob(f".{escape(path.name)}.*.tmp"):
        stale.unlink(missing_ok=True)
    return path


def _record(item: FleetItem, seed: int, batch_size: int, seconds: float, resumed_scales: int) -> dict[str, Any]:
    return {"image_id": item.image_id, "seed": seed, "models_in_batch": batch_size, "batch_seconds": round(seconds, 3),
            "resumed_scales": resumed_scales}


def _train_alone(
    item: FleetItem, loaded: _Loaded, bank: Path, settings: SinGANSegSettings, progress: bool,
    label_values: Sequence[float] | None = None,
) -> dict[str, Any]:
    image, label, info = loaded
    path = _checkpoint(bank, item)
    resumed = len(read_checkpoint(path)["generators"]) if path.exists() else 0
    seed = image_seed(item.image_id, settings.seed)
    start = time.perf_counter()
    # Checkpointed after every scale, so an interruption loses at most the scale in progress.
    train_singanseg(image, label, replace(settings, seed=seed), label_values=label_values, checkpoint=path,
                    metadata=info, progress=progress)
    return _record(item, seed, 1, time.perf_counter() - start, resumed)


def _train_together(
    members: Sequence[tuple[FleetItem, _Loaded, ChannelLayout]], bank: Path, settings: SinGANSegSettings, progress: bool,
    label_values: Sequence[float] | None = None,
) -> list[dict[str, Any]]:
    # Imported when needed, so one-by-one runs (M = 1) do not depend on the batched trainer.
    from monai_singanseg.engines import train_batched

    seeds = [image_seed(item.image_id, settings.seed) for item, _, _ in members]
    images, labels = [pair[0] for _, pair, _ in members], [pair[1] for _, pair, _ in members]
    start = time.perf_counter()
    models = train_batched(images, labels, settings, seeds=seeds, label_values=label_values, progress=progress)
    seconds = time.perf_counter() - start
    records = []
    for (item, (image, label, info), layout), model, seed in zip(members, models, seeds):
        stack = layout.encode(image, label)
        model_settings = replace(settings, seed=seed).to_dict()
        # The keys a finished single-model checkpoint carries (PyramidCheckpoint), less the resume state: a batch is
        # saved only once it is complete.
        training = {"complete": True, "settings": model_settings, "fingerprints": [fingerprint(stack)],
                    "seeds": [seed], "models_in_batch": len(members)}
        model.save(str(_checkpoint(bank, item)), metadata=info, settings=model_settings, training=training)
        records.append(_record(item, seed, len(members), seconds, 0))
    return records


def _train_batch(
    batch: Sequence[FleetItem], bank: Path, settings: SinGANSegSettings, label_threshold: float | str | None,
    progress: bool,
    label_values: Sequence[float] | None = None,
) -> list[dict[str, Any]]:
    loaded = [_load(item, label_threshold, label_values) for item in batch]
    if len(batch) == 1:
        return [_train_alone(batch[0], loaded[0], bank, settings, progress, label_values)]
    # The plan grouped by header sizes; channel counts (a grey image among RGB ones, a multi-class mask) are known
    # only now, and models trained together need both equal.
    groups: dict[Any, list[tuple[FleetItem, _Loaded, ChannelLayout]]] = {}
    for item, pair in zip(batch, loaded):
        layout = ChannelLayout.from_data(pair[0], pair[1], settings.label_encoding, label_values)
        key = (pyramid_key(pair[0].shape[1:], settings), layout.channels)
        groups.setdefault(key, []).append((item, pair, layout))
    records = []
    for members in groups.values():
        if len(members) == 1:
            item, pair, _ = members[0]
            records.append(_train_alone(item, pair, bank, settings, progress, label_values))
        else:
            records.extend(_train_together(members, bank, settings, progress, label_values))
    return records


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
        label_values: the valid label values of every image (e.g. 0 1 2 4), so that images whose maps hold different
            subsets share one channel layout (and can train together); inferred per image when omitted.
        rank: this process's rank.
        world_size: number of processes sharing the dataset.
        progress: show an overall and a per-model progress bar.

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
    for stale in bank.glob(f".{escape(path.name)}.*.tmp"):
        stale.unlink(missing_ok=True)
    write_json(summary, path, indent=1)
    logger.info("rank %d/%d: %d images, %d already trained, %d to train in %d batches", rank, world_size,
                len(plan.shard), len(plan.complete), sum(map(len, plan.batches)), len(plan.batches))
    start = time.perf_counter()
    with logging_redirect_tqdm(), tqdm(total=len(plan.shard), initial=len(plan.complete), desc=f"rank {rank} models",
                                       unit="model", disable=not progress, dynamic_ncols=True) as bar:
        for batch in plan.batches:
            records = _train_batch(batch, bank, settings, label_threshold, progress, label_values)
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
    Progress bars show on rank 0; other ranks log one line per model.

    Returns:
        This rank's summary; rank 0's also has ``bank_missing``, the ids still without a complete pyramid.
    """
    settings = settings or SinGANSegSettings()
    rank, world_size, local_rank = distributed_environment()
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
                             progress=progress and rank == 0, label_values=label_values)
        if distributed and device.type == "cuda":
            dist.barrier(device_ids=[device.index])
        elif distributed:
            dist.barrier()
    finally:
        if distributed:
            dist.destroy_process_group()
    if rank == 0:
        missing = [item.image_id for item in list_training_items(data)
                   if checkpoint_status(Path(bank) / f"{item.image_id}.pt") != CheckpointStatus.COMPLETE]
        summary["bank_missing"] = missing
        write_json(summary, summary_path(bank, rank), indent=1)
        logger.info("bank %s: %s", bank, f"{len(missing)} pyramids missing" if missing else "complete")
    return summary


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m monai_singanseg.train_many``: the ``train-many`` command, for torchrun."""
    import argparse

    from monai_singanseg.cli import DefaultsHelpFormatter
    from monai_singanseg.cli import train_many as command

    parser = argparse.ArgumentParser(prog="python -m monai_singanseg.train_many", description=command.DESCRIPTION,
                                     formatter_class=DefaultsHelpFormatter)
    command.add_arguments(parser)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        return command.run(args)
    except (ValueError, TypeError, FileNotFoundError) as err:
        print(f"train_many: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("train_many: interrupted; finished pyramids and scales are kept in the bank.", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
