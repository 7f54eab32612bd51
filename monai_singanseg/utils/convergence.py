"""When a loss curve stops changing: the test a per-scale stopping rule would apply."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["settled_iteration"]


def settled_iteration(values: Sequence[float] | np.ndarray, window: int, tolerance: float) -> int | None:
    """The first iteration after which a loss has settled, or ``None`` if it never does.

    The curve is cut into consecutive windows of ``window`` iterations. It has settled at the end of window ``k``
    (``k >= 1``) when the mean of window ``k`` differs from the mean of window ``k - 1`` by at most ``tolerance``
    times the mean absolute value of window ``k - 1``: a scale that keeps the relative size of the loss, also for a
    loss that changes sign (a critic's Wasserstein estimate). A last, incomplete window is not looked at.

    Args:
        values: the loss at every iteration, in order.
        window: iterations per window, at least 1.
        tolerance: the largest relative change of the window mean that counts as settled, at least 0.

    Returns:
        The number of iterations after which the loss had settled (a multiple of ``window``), or ``None``.

    Raises:
        ValueError: ``window`` below 1 or ``tolerance`` below 0.

    Example::

        >>> settled_iteration([4, 4, 2, 2, 1.9, 1.9, 1.9, 1.9], window=2, tolerance=0.1)
        6
    """
    if window < 1:
        raise ValueError(f"window must be at least 1 iteration, got {window}.")
    if tolerance < 0:
        raise ValueError(f"tolerance must be at least 0, got {tolerance}.")
    values = np.asarray(values, dtype=np.float64)
    num_windows = len(values) // window
    windows = values[: num_windows * window].reshape(num_windows, window)
    means, magnitudes = windows.mean(axis=1), np.abs(windows).mean(axis=1)
    for k in range(1, num_windows):
        if abs(means[k] - means[k - 1]) <= tolerance * magnitudes[k - 1]:
            return (k + 1) * window
    return None
