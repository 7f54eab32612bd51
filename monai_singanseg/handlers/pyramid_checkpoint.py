"""Checkpoint a SinGAN-Seg pyramid after every scale, and resume a half-trained one."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from ignite.engine import Engine, Events

from monai_singanseg.data.checkpoint import pyramid_from_payload, read_checkpoint, save_pyramid
from monai_singanseg.engines.trainer import SinGANSegTrainer

__all__ = ["PyramidCheckpoint"]


class PyramidCheckpoint:
    """Ignite handler: after every finished scale, write the pyramid and the trainer's resume state to ``path``.

    The file is written atomically, so an interruption leaves the previous scale's checkpoint intact. A completed
    checkpoint is an ordinary pyramid file: :meth:`SinGANSeg.load` reads it.

    Args:
        trainer: the trainer whose pyramid to save.
        path: checkpoint file.
        metadata: plain data kept in the checkpoint (e.g. the source image path, its id, the input format).

    Example::

        >>> checkpoint = PyramidCheckpoint(trainer, "polyp.pt", metadata={"image_id": "cju0qkwl35piu0993l0dewei2"})
        >>> checkpoint.attach(trainer.engine)
        >>> checkpoint.resume()  # no-op when polyp.pt does not exist yet
        >>> model = trainer.run()
    """

    def __init__(self, trainer: SinGANSegTrainer, path: str | os.PathLike, metadata: dict[str, Any] | None = None):
        self.trainer, self.path, self.metadata = trainer, Path(path), dict(metadata or {})

    def attach(self, engine: Engine) -> None:
        engine.add_event_handler(Events.EPOCH_COMPLETED, self)

    def __call__(self, engine: Engine) -> None:
        trainer = self.trainer
        save_pyramid(
            trainer.pyramid, self.path, settings=trainer.settings.to_dict(), training=trainer.state_dict(),
            metadata=self.metadata,
        )

    def resume(self) -> int:
        """Load the pyramid at ``path`` into the trainer, if there is one; returns the number of finished scales.

        Raises:
            CheckpointError: the file is not a readable checkpoint.
            ValueError: it was trained on another image or with other settings.
        """
        if not self.path.exists():
            return 0
        payload = read_checkpoint(self.path)
        if "training" not in payload:
            raise ValueError(f"{self.path} holds no training state to resume from.")
        pyramid = pyramid_from_payload(payload, source=str(self.path))
        self.trainer.load_state_dict(pyramid, payload["training"])
        return pyramid.num_trained_scales
