"""A chart of the training losses, scale after scale, one panel per loss."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from PIL import Image, ImageDraw

from monai_singanseg.visualize.figures import _BACKGROUND, _SERIES_COLOURS, _TEXT, _font

__all__ = ["loss_curves_chart"]

_PANEL_HEIGHT = 150
_LEFT, _RIGHT, _TOP, _GAP = 12, 12, 28, 30


def _running_mean(values: np.ndarray, window: int) -> np.ndarray:
    """The mean of each point and the ``window - 1`` before it (fewer at the start)."""
    sums = np.cumsum(values)
    sums[window:] = sums[window:] - sums[:-window]
    return sums / np.minimum(np.arange(1, len(values) + 1), window)


def loss_curves_chart(
    curves: Mapping[int, Mapping[str, np.ndarray]],
    names: Sequence[str] | None = None,
    smoothing: int = 25,
    width: int = 900,
) -> Image.Image:
    """The losses of every scale side by side along one axis of iterations, smoothed by a running mean.

    Args:
        curves: scale -> loss name -> the loss at every iteration of that scale (``LossHistory.curves``).
        names: the losses to draw, one panel each (default: every loss of the first scale).
        smoothing: iterations in the running mean.
        width: picture width in pixels.

    Returns:
        RGB image, one panel per loss; scales alternate in colour, each drawn on its own vertical range, whose
        top and bottom values it is labelled with.

    Raises:
        ValueError: no curves, or a name that a scale lacks.

    Example::

        >>> loss_curves_chart({0: {"critic": np.zeros(100)}}).size
        (900, 208)
    """
    if not curves:
        raise ValueError("curves must hold at least one scale.")
    scales = sorted(curves)
    names = list(curves[scales[0]]) if names is None else list(names)
    for scale in scales:
        missing = [n for n in names if n not in curves[scale]]
        if missing:
            raise ValueError(f"scale {scale} has no loss {missing}; it has {sorted(curves[scale])}.")
    lengths = [len(curves[s][names[0]]) for s in scales]
    total = max(sum(lengths), 1)
    height = _TOP + len(names) * (_PANEL_HEIGHT + _GAP)
    canvas = Image.new("RGB", (width, height), _BACKGROUND)
    draw = ImageDraw.Draw(canvas)
    plot_width = width - _LEFT - _RIGHT
    for panel, name in enumerate(names):
        top = _TOP + panel * (_PANEL_HEIGHT + _GAP)
        smoothed = [_running_mean(np.asarray(curves[s][name], dtype=np.float64), smoothing) for s in scales]
        draw.text((_LEFT, top - 16), f"{name} (running mean of {smoothing}; each scale spans its own range)",
                  fill=_TEXT, font=_font())
        draw.rectangle([_LEFT, top, _LEFT + plot_width, top + _PANEL_HEIGHT], outline=_TEXT)
        start = 0
        for index, (scale, values) in enumerate(zip(scales, smoothed)):
            # Each scale on its own vertical range: the finer scales' losses are far smaller, and whether a curve
            # has flattened is a question about its own shape.
            low, high = float(values.min()), float(values.max())
            colour = _SERIES_COLOURS[index % 2]
            xs = _LEFT + (start + np.arange(len(values))) / total * plot_width
            ys = top + 4 + (_PANEL_HEIGHT - 8) * (1 - (values - low) / (high - low or 1.0))
            if len(values) > 1:
                draw.line(list(zip(xs.tolist(), ys.tolist())), fill=colour, width=1)
            if index:
                draw.line([xs[0], top, xs[0], top + _PANEL_HEIGHT], fill=(200, 200, 200))
            caption = f"scale {scale}: " if panel == 0 else ""
            draw.text((xs[0] + 2, top + 2), f"{caption}{high:.3g}", fill=colour, font=_font())
            draw.text((xs[0] + 2, top + _PANEL_HEIGHT - 12), f"{low:.3g}", fill=colour, font=_font())
            start += len(values)
    return canvas
