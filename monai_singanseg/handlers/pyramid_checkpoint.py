"""Checkpoint SinGAN-Seg pyramids while they train, and resume a half-trained one: the one writer of training
checkpoints (one pyramid trained alone, after every scale; a batch trained together, each model once complete)."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ignite.engine import Engine, Events

from monai_singanseg.data.checkpoint import pyramid_from_payload, read_checkpoint, save_pyramid

if TYPE_CHECKING:
    # Only a type: importing the trainer here at run time would close the engines -> handlers -> engines circle.
    from monai_singanseg.engines.trainer import SinGANSegTrainer

__all__ = ["PyramidCheckpoint"]


class PyramidCheckpoint:
    """Ignite handler: write the trainer's pyramids and resume state to their checkpoint files.

    A trainer of one pyramid is written after every finished scale, with everything needed to resume it. A trainer
    of ``M`` pyramids (grouped convolutions) writes ``M`` files, one per model, once the last scale is finished: a
    batch is not resumed, and each file holds what that model's own single-model run records when complete
    (:meth:`SinGANSegTrainer.state_dict` with ``model``). Every file is written atomically, so an interruption
    leaves the previous checkpoint intact; a completed checkpoint is an ordinary pyramid file that
    :meth:`SinGANSeg.load` reads.

    Args:
        trainer: the trainer whose pyramids to save.
        path: checkpoint file, or one per pyramid for a trainer of several.
        metadata: plain data kept in the checkpoint (e.g. the source image path, its id, the input format), or one
            mapping per pyramid.
        on_written: called with the path of every checkpoint file just written (progress reports, test hooks).

    Raises:
        ValueError: not one path and one metadata mapping per pyramid.

    Example::

        >>> checkpoint = PyramidCheckpoint(trainer, "polyp.pt", metadata={"image_id": "cju0qkwl35piu0993l0dewei2"})
        >>> checkpoint.attach(trainer.engine)
        >>> checkpoint.resume()  # no-op when polyp.pt does not exist yet
        >>> model = trainer.run()
    """

    def __init__(
        self,
        trainer: SinGANSegTrainer,
        path: str | os.PathLike | Sequence[str | os.PathLike],
        metadata: Mapping[str, Any] | Sequence[Mapping[str, Any]] | None = None,
        on_written: Callable[[Path], None] | None = None,
    ) -> None:
        paths = [path] if isinstance(path, (str, os.PathLike)) else list(path)
        if metadata is None or isinstance(metadata, Mapping):
            metadata = [metadata or {}] * len(paths)
        if len(paths) != trainer.num_models or len(metadata) != trainer.num_models:
            raise ValueError(f"need one checkpoint path and one metadata mapping per pyramid: {trainer.num_models} "
                             f"pyramids, {len(paths)} paths, {len(metadata)} metadata mappings.")
        self.trainer, self.on_written = trainer, on_written
        self.paths = [Path(p) for p in paths]
        self.metadatas = [dict(m) for m in metadata]

    @property
    def path(self) -> Path:
        """The checkpoint file of a single-pyramid trainer."""
        return self.paths[0]

    @property
    def metadata(self) -> dict[str, Any]:
        """The metadata of a single-pyramid trainer's checkpoint."""
        return self.metadatas[0]

    def attach(self, engine: Engine) -> None:
        engine.add_event_handler(Events.EPOCH_COMPLETED, self)

    def __call__(self, engine: Engine) -> None:
        trainer = self.trainer
        if trainer.single:
            self._write(self.path, trainer.pyramid, trainer.state_dict(), self.metadata)
        elif trainer.scale == trainer.spec.num_scales:
            for index, (path, pyramid, metadata) in enumerate(zip(self.paths, trainer.pyramids(), self.metadatas)):
                self._write(path, pyramid, trainer.state_dict(index), metadata)

    def _write(self, path: Path, pyramid: Any, training: dict[str, Any], metadata: dict[str, Any]) -> None:
        # The checkpoint schema: the pyramid (save_pyramid), the settings it trained with, the trainer's state and
        # the caller's plain metadata.
        save_pyramid(pyramid, path, settings=training["settings"], training=training, metadata=metadata)
        if self.on_written is not None:
            self.on_written(path)

    def resume(self) -> int:
        """Load the pyramid at ``path`` into a single-pyramid trainer, if there is one; returns the number of
        finished scales.

        Raises:
            CheckpointError: the file is not a readable checkpoint.
            ValueError: it was trained on another image or with other settings, or the trainer trains several
                pyramids (a batch is not resumed).
        """
        if not self.trainer.single:
            raise ValueError("a trainer of several pyramids does not resume: train half-trained pyramids alone.")
        if not self.path.exists():
            return 0
        payload = read_checkpoint(self.path)
        if "training" not in payload:
            raise ValueError(f"{self.path} holds no training state to resume from.")
        pyramid = pyramid_from_payload(payload, source=str(self.path))
        self.trainer.load_state_dict(pyramid, payload["training"])
        return pyramid.num_trained_scales
