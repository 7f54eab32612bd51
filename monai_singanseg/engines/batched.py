"""Train many single-image pyramids at once on one device."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from ignite.engine import Events

from monai_singanseg.data.output_path import check_output_file
from monai_singanseg.engines.trainer import SinGANSegTrainer
from monai_singanseg.handlers.pyramid_checkpoint import PyramidCheckpoint
from monai_singanseg.networks.singanseg import SinGANSeg
from monai_singanseg.settings import SinGANSegSettings, validate_settings
from monai_singanseg.layout import ChannelLayout

__all__ = ["train_batched"]


def _checked_seed(index: int, seed: Any) -> int:
    # Each seed obeys the rule of settings.seed, which owns it.
    try:
        return validate_settings({"seed": seed})["seed"]
    except (TypeError, ValueError) as err:
        raise type(err)(f"seeds[{index}]: {err}") from None


def train_batched(
    images: Sequence[Any],
    labels: Sequence[Any],
    settings: SinGANSegSettings | None = None,
    seeds: Sequence[int] | None = None,
    label_values: Sequence[float] | None = None,
    progress: bool = False,
    checkpoints: Sequence[str | os.PathLike] | None = None,
    metadata: Sequence[Mapping[str, Any]] | None = None,
    on_checkpoint: Callable[[Path], None] | None = None,
) -> list[SinGANSeg]:
    """Train one pyramid per image+label pair, all at once as grouped convolutions.

    Batching across models, not within one (batching one model's samples upsets SinGAN's min-max balance, as its
    maintainers note): each model keeps its own losses, gradient penalty, BatchNorm statistics, noise amplitudes,
    optimiser state and random draws, so model ``m`` equals ``train_singanseg(images[m], labels[m],
    replace(settings, seed=seeds[m]))`` up to float rounding. The pairs must give the same pyramid shapes.

    Args:
        images: channel-first images, one per model.
        labels: their label maps.
        settings: training settings shared by all models.
        seeds: one seed per model (default: ``settings.seed`` for all).
        label_values: the valid label values (inferred per label when omitted).
        progress: show a progress bar per scale.
        checkpoints: one file per model, written (by :class:`~monai_singanseg.handlers.PyramidCheckpoint`) once the
            batch is complete; each is an ordinary finished checkpoint, as if its model had trained alone.
        metadata: plain data kept in each model's checkpoint (source file, image id), one mapping per model.
        on_checkpoint: called with each checkpoint file just written.

    Returns:
        One trained pyramid per pair, in order.

    Raises:
        ValueError: no pairs, pairs with different pyramid shapes or channel counts, invalid pairs, not one seed
            per image, or not one writable checkpoint and one metadata mapping per image.
        TypeError: ``settings`` is not a :class:`SinGANSegSettings`, ``images``, ``labels`` or ``seeds`` is not a
            sequence, or a seed is not an integer.
    """
    if settings is None:
        settings = SinGANSegSettings()
    if not isinstance(settings, SinGANSegSettings):
        raise TypeError(f"settings must be a SinGANSegSettings or None, got {type(settings).__name__}.")
    for name, value in (("images", images), ("labels", labels), ("seeds", seeds), ("label_values", label_values)):
        if value is not None and (isinstance(value, (str, bytes)) or not hasattr(value, "__len__")):
            raise TypeError(f"{name} must be a sequence (a list or tuple), got {type(value).__name__}.")
    if len(images) == 0:
        raise ValueError("images must hold at least one image.")
    if len(images) != len(labels):
        raise ValueError(f"got {len(images)} images but {len(labels)} labels.")
    if seeds is not None:
        if len(seeds) != len(images):
            raise ValueError(f"seeds must give one seed per image: {len(seeds)} seeds for {len(images)} images.")
        seeds = [_checked_seed(index, seed) for index, seed in enumerate(seeds)]
    if checkpoints is not None:
        if isinstance(checkpoints, (str, bytes, os.PathLike)) or len(checkpoints) != len(images):
            raise ValueError(f"checkpoints must give one file per image ({len(images)}), got {checkpoints!r}.")
        # Checked before the first iteration: nothing that could fail after hours of training.
        for path in checkpoints:
            check_output_file(path, "checkpoints")
    if metadata is not None and (checkpoints is None or len(metadata) != len(images)):
        raise ValueError(f"metadata needs checkpoints and one mapping per image ({len(images)}), got "
                         f"{len(metadata)} mappings.")
    layouts = [ChannelLayout.from_data(i, lab, settings.label_encoding, label_values) for i, lab in zip(images, labels)]
    stacks = [layout.encode(i, lab) for layout, i, lab in zip(layouts, images, labels)]
    trainer = SinGANSegTrainer(stacks, layouts, settings, seeds)
    if checkpoints is not None:
        PyramidCheckpoint(trainer, checkpoints, metadata, on_written=on_checkpoint).attach(trainer.engine)
    if progress:
        from ignite.handlers import ProgressBar

        ProgressBar(persist=True).attach(trainer.engine, event_name=Events.ITERATION_COMPLETED(every=10))
    return trainer.run()
