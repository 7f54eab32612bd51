"""One call from an image and its label map to a trained pyramid, with progress, logging and resume."""

from __future__ import annotations

import importlib.util
import logging
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch
from ignite.engine import Events

from monai_singanseg.data.output_path import check_output_file, check_output_folder
from monai_singanseg.engines.trainer import SinGANSegTrainer
from monai_singanseg.handlers.pyramid_checkpoint import PyramidCheckpoint
from monai_singanseg.networks.singanseg import SinGANSeg
from monai_singanseg.settings import SinGANSegSettings
from monai_singanseg.layout import ChannelLayout

__all__ = ["train_singanseg"]

logger = logging.getLogger(__name__)


def _losses_as_floats(output: dict[str, torch.Tensor]) -> dict[str, float]:
    return {name: float(value) for name, value in output.items()}


def train_singanseg(
    image: Any,
    label: Any,
    settings: SinGANSegSettings | None = None,
    label_values: Sequence[float] | None = None,
    intensity_range: tuple[float, float] | None = None,
    checkpoint: str | os.PathLike | None = None,
    metadata: dict[str, Any] | None = None,
    progress: bool = False,
    log_every: int = 0,
    tensorboard_dir: str | os.PathLike | None = None,
    on_checkpoint: Callable[[Path], None] | None = None,
) -> SinGANSeg:
    """Train a SinGAN-Seg pyramid on one channel-first image ``(C, *spatial)`` and label map ``(1, *spatial)``.

    Args:
        image: array, tensor or MetaTensor (e.g. from :func:`monai_singanseg.data.load_training_pair`).
        label: the label map, same spatial shape.
        settings: training settings (reference defaults when omitted).
        label_values: the valid label values (inferred from ``label`` when omitted).
        intensity_range: the image's value range (uint8: [0, 255]; otherwise each channel's own range).
        checkpoint: file written after every scale; if it exists and holds an unfinished run on the same image and
            settings, training resumes after its last finished scale.
        metadata: plain data stored in the checkpoint (source file, image id, output format, affine).
        progress: show a progress bar per scale.
        log_every: log the losses every this many iterations (0: never).
        tensorboard_dir: write the losses for TensorBoard here (needs the ``tensorboard`` package).
        on_checkpoint: called with ``checkpoint`` after every scale written to it.

    Returns:
        The trained pyramid.

    Raises:
        ValueError: invalid image, label or settings (see :meth:`ChannelLayout.from_data`), a ``checkpoint`` or
            ``tensorboard_dir`` that cannot be written, or ``tensorboard_dir`` without the tensorboard package.

    Example::

        >>> image, label, info = load_training_pair("polyp.jpg", "polyp_mask.jpg", label_threshold=127)
        >>> model = train_singanseg(image, label, SinGANSegSettings(), checkpoint="polyp.pt", progress=True)
    """
    if settings is None:
        settings = SinGANSegSettings()
    elif not isinstance(settings, SinGANSegSettings):
        raise TypeError(f"settings must be a SinGANSegSettings or None, got {type(settings).__name__} "
                        "(build one with SinGANSegSettings(**values) or SinGANSegSettings.from_dict).")
    if isinstance(log_every, bool) or not isinstance(log_every, int) or log_every < 0:
        raise ValueError(f"log_every must be an int >= 0 (0: never), got {log_every!r}.")
    if checkpoint is not None and not isinstance(checkpoint, (str, os.PathLike)):
        raise TypeError(f"checkpoint must be a str or os.PathLike, got {type(checkpoint).__name__}.")
    # Everything that could fail after hours of training is checked before the first iteration.
    if checkpoint is not None:
        check_output_file(checkpoint, "checkpoint")
    if tensorboard_dir is not None:
        check_output_folder(tensorboard_dir, "tensorboard_dir")
        if not any(importlib.util.find_spec(name) for name in ("tensorboard", "tensorboardX")):
            raise ValueError(f"tensorboard_dir={tensorboard_dir} needs the tensorboard package: "
                             "pip install tensorboard (or leave out --tensorboard).")
    layout = ChannelLayout.from_data(image, label, settings.label_encoding, label_values, intensity_range)
    trainer = SinGANSegTrainer(layout.encode(image, label), layout, settings)
    engine = trainer.engine
    if checkpoint is not None:
        handler = PyramidCheckpoint(trainer, checkpoint, metadata, on_written=on_checkpoint)
        finished = handler.resume()
        if finished:
            logger.info("resuming %s after scale %d of %d", checkpoint, finished - 1, trainer.spec.num_scales)
        handler.attach(engine)
    if progress:
        from ignite.handlers import ProgressBar

        # Refreshing every few iterations keeps the host syncs of .item() out of most steps.
        ProgressBar(persist=True, bar_format="{desc}[{n}/{total}] {percentage:3.0f}%|{bar}|{postfix} [{elapsed}<{remaining}]").attach(
            engine, output_transform=_losses_as_floats, event_name=Events.ITERATION_COMPLETED(every=10)
        )
    if log_every > 0:
        @engine.on(Events.ITERATION_COMPLETED(every=log_every))
        def _log(engine: Any) -> None:
            losses = ", ".join(f"{k} {v:.4f}" for k, v in _losses_as_floats(engine.state.output).items())
            logger.info("scale %d iteration %d: %s", trainer.scale, engine.state.iteration, losses)
    if tensorboard_dir is not None:
        from ignite.handlers.tensorboard_logger import OutputHandler, TensorboardLogger

        tb = TensorboardLogger(log_dir=str(tensorboard_dir))
        tb.attach(engine, OutputHandler("train", output_transform=_losses_as_floats),
                  event_name=Events.ITERATION_COMPLETED(every=max(log_every, 10)))
        engine.add_event_handler(Events.COMPLETED, lambda _: tb.close())
    return trainer.run()
