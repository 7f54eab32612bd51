"""Record the training losses of every scale, to look at them or to ask whether they had settled."""

from __future__ import annotations

import numpy as np
import torch
from ignite.engine import Engine, Events

__all__ = ["LossHistory"]


class LossHistory:
    """Ignite handler: the losses of every iteration of a :class:`SinGANSegTrainer` engine, scale by scale.

    It keeps the detached loss tensors a step returns (``engine.state.output``) and copies a scale's to the host once,
    when the scale ends, so a step stays free of host syncs. After a resume it holds only the scales trained since.
    With several pyramids trained together the losses are the sums over models, as the step returns them.

    Example::

        >>> history = LossHistory()
        >>> history.attach(trainer.engine)
        >>> model = trainer.run()
        >>> history.curves[0]["reconstruction"].shape  # iterations of scale 0
        (2000,)
    """

    def __init__(self) -> None:
        self.curves: dict[int, dict[str, np.ndarray]] = {}
        self._pending: list[dict[str, torch.Tensor]] = []

    def attach(self, engine: Engine) -> None:
        engine.add_event_handler(Events.ITERATION_COMPLETED, self._record)
        engine.add_event_handler(Events.EPOCH_COMPLETED, self._finish_scale)

    def _record(self, engine: Engine) -> None:
        self._pending.append(engine.state.output)

    def _finish_scale(self, engine: Engine) -> None:
        # The engine runs one epoch per scale (SinGANSegTrainer), so epoch e is scale e - 1.
        scale = engine.state.epoch - 1
        if self._pending:
            names = list(self._pending[0])
            stacked = torch.stack([torch.stack([step[name] for name in names]) for step in self._pending])
            values = stacked.detach().double().cpu().numpy()
            self.curves[scale] = {name: values[:, k] for k, name in enumerate(names)}
        self._pending = []
