"""Training budgets in optimiser updates: rows trained on sets of different sizes compare fairly only at equal
updates, not equal epochs (ten synthetic pairs per real image would otherwise make ten times the updates)."""

from __future__ import annotations

import math

__all__ = ["epochs_for_updates"]


def epochs_for_updates(updates: int | None, batches_per_epoch: int, max_epochs: int) -> int:
    """Whole epochs that make at least ``updates`` optimiser updates; ``max_epochs`` when ``updates`` is None.

    Example::

        >>> epochs_for_updates(1000, 7, 100), epochs_for_updates(None, 7, 100)
        (143, 100)

    Raises:
        ValueError: ``updates`` is not a positive integer, or the training set gives no batches.
    """
    if updates is None:
        return max_epochs
    if isinstance(updates, bool) or not isinstance(updates, int) or updates < 1:
        raise ValueError(f"updates must be a positive whole number of optimiser updates (or null for max_epochs), "
                         f"got {updates!r}.")
    if batches_per_epoch < 1:
        raise ValueError("the training set is empty: no batches to make the requested updates with.")
    return math.ceil(updates / batches_per_epoch)
