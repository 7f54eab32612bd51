"""Base class of the cumulative metrics that compare a synthetic set with a real set of another size."""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Sequence
from typing import Any

import torch
from monai.metrics import CumulativeIterationMetric

__all__ = ["PairedSetMetric", "as_batch"]


def as_batch(images: torch.Tensor | Sequence[torch.Tensor]) -> torch.Tensor:
    """A batch-first tensor from either a batch or a list of channel-first tensors.

    Args:
        images: ``(B, C, ...)`` tensor, or a list of ``(C, ...)`` tensors of one shape.

    Returns:
        ``(B, C, ...)`` tensor.

    Example::

        >>> as_batch([torch.zeros(3, 4, 4), torch.ones(3, 4, 4)]).shape
        torch.Size([2, 3, 4, 4])
    """
    return images if isinstance(images, torch.Tensor) else torch.stack(list(images))


class PairedSetMetric(CumulativeIterationMetric):
    """A MONAI cumulative metric fed ``y_pred`` (synthetic samples) and ``y`` (real images) of any batch sizes.

    MONAI's ``IterationMetric`` pairs the items of list inputs one to one, as a prediction with its ground truth;
    distribution metrics instead compare two sets, so lists are stacked into batches and both sides are buffered
    separately. Subclasses turn each side of a batch into per-sample rows in :meth:`_compute_pair` and read
    them back with :meth:`_paired_buffers` (Thambawita et al., "SinGAN-Seg", PLoS ONE 2022, compare whole sets).

    Example::

        >>> class CountMetric(PairedSetMetric):
        ...     def _compute_pair(self, synthetic, real):
        ...         return synthetic.new_ones(len(synthetic)), real.new_ones(len(real))
        ...     def aggregate(self):
        ...         synthetic, real = self._paired_buffers()
        ...         return torch.tensor([len(synthetic), len(real)])
        >>> metric = CountMetric()
        >>> _ = metric(y_pred=torch.zeros(3, 1, 4, 4), y=torch.zeros(2, 1, 4, 4))
        >>> metric.aggregate().tolist()
        [3, 2]
    """

    def _compute_list(self, y_pred: Any, y: Any = None, **kwargs: Any) -> tuple[torch.Tensor, torch.Tensor]:
        return self._compute_tensor(as_batch(y_pred), None if y is None else as_batch(y), **kwargs)

    def _compute_tensor(
        self, y_pred: torch.Tensor, y: torch.Tensor | None = None, **kwargs: Any
    ) -> tuple[torch.Tensor, torch.Tensor]:
        if y is None:
            raise ValueError(f"{type(self).__name__} needs y (the real images) as well as y_pred (the synthetic ones).")
        return self._compute_pair(y_pred, y)

    @abstractmethod
    def _compute_pair(self, synthetic: torch.Tensor, real: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Per-sample rows to buffer for a synthetic batch and a real batch."""
        raise NotImplementedError

    def _paired_buffers(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The accumulated ``(synthetic, real)`` rows.

        Raises:
            RuntimeError: if nothing has been accumulated.
        """
        buffers = self.get_buffer()
        if buffers is None:
            raise RuntimeError(f"{type(self).__name__}.aggregate() called before any data was accumulated.")
        synthetic, real = buffers
        return synthetic, real
