"""Experiment results as files: CSV rows, a markdown table of means over folds, and PNG charts drawn with PIL alone.
Every file is written atomically (:func:`~monai_singanseg.data.writers.write_atomically`)."""

from __future__ import annotations

import csv
import io
import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from PIL import Image, ImageDraw, ImageFont

from monai_singanseg.data.writers import write_bytes, write_json

__all__ = ["bar_chart", "line_chart", "summarise", "write_csv", "write_markdown", "write_metrics"]

METRICS = ("iou", "dice", "accuracy", "recall", "precision")
_COLOURS = [(31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189), (140, 86, 75)]
_TEXT = (20, 20, 20)
_GRID = (225, 225, 225)


def _plain(value: Any) -> Any:
    if hasattr(value, "item"):
        value = value.item()
    return value


def write_metrics(metrics: Mapping[str, Any], path: str | os.PathLike) -> Path:
    """Write an engine's metrics (``engine.state.metrics``) as JSON; tensors become numbers.

    Returns:
        The path written.
    """
    return write_json({k: _plain(v) for k, v in metrics.items()}, path, indent=1)


def write_csv(rows: Sequence[Mapping[str, Any]], path: str | os.PathLike) -> Path:
    """Write ``rows`` as CSV with the union of their keys, in first-seen order."""
    columns = list(dict.fromkeys(key for row in rows for key in row))
    text = io.StringIO(newline="")
    writer = csv.DictWriter(text, fieldnames=columns)
    writer.writeheader()
    writer.writerows(rows)
    return write_bytes(text.getvalue().encode(), path)


def summarise(rows: Sequence[Mapping[str, Any]], group_by: Sequence[str],
              metrics: Sequence[str] = METRICS) -> list[dict[str, Any]]:
    """Mean and standard deviation of ``metrics`` over the rows of each group (e.g. over folds).

    Returns:
        One dict per group, in first-seen order: the group's keys, ``runs``, and ``<metric>_mean``/``<metric>_std``.
    """
    groups: dict[tuple[Any, ...], list[Mapping[str, Any]]] = {}
    for row in rows:
        groups.setdefault(tuple(row.get(k) for k in group_by), []).append(row)
    summary = []
    for key, members in groups.items():
        entry: dict[str, Any] = dict(zip(group_by, key))
        entry["runs"] = len(members)
        for metric in metrics:
            values = [float(m[metric]) for m in members if m.get(metric) is not None]
            if values:
                mean = sum(values) / len(values)
                entry[f"{metric}_mean"] = mean
                entry[f"{metric}_std"] = math.sqrt(sum((v - mean) ** 2 for v in values) / len(values))
        summary.append(entry)
    return summary


def write_markdown(summary: Sequence[Mapping[str, Any]], group_by: Sequence[str], path: str | os.PathLike,
                   title: str, metrics: Sequence[str] = METRICS, notes: str = "") -> Path:
    """A markdown table of :func:`summarise`'s output: ``mean ± std`` per metric (std over folds or repeats; the
    mean alone for groups of one run)."""
    header = [*group_by, "runs", *metrics]
    lines = [f"# {title}", "", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for entry in summary:
        cells = [str(entry.get(k)) for k in group_by] + [str(entry["runs"])]
        for metric in metrics:
            mean = entry.get(f"{metric}_mean")
            if mean is None:
                cells.append("")
            else:  # a spread only where there is one: over folds or repeats
                cells.append(f"{mean:.4f}" if entry["runs"] == 1 else f"{mean:.4f} ± {entry[f'{metric}_std']:.4f}")
        lines.append("| " + " | ".join(cells) + " |")
    if notes:
        lines += ["", notes]
    return write_bytes(("\n".join(lines) + "\n").encode(), path)


def _frame(size: tuple[int, int], title: str, y_label: str) -> tuple[Image.Image, ImageDraw.ImageDraw, tuple[int, ...]]:
    canvas = Image.new("RGB", size, (255, 255, 255))
    draw = ImageDraw.Draw(canvas)
    font = ImageFont.load_default()
    draw.text((56, 8), title, fill=_TEXT, font=font)
    draw.text((4, 24), y_label, fill=_TEXT, font=font)
    left, top, right, bottom = 56, 40, size[0] - 16, size[1] - 44
    for fraction in (0.0, 0.25, 0.5, 0.75, 1.0):
        y = bottom - (bottom - top) * fraction
        draw.line([left, y, right, y], fill=_GRID)
        draw.text((20, y - 6), f"{fraction:.2f}", fill=_TEXT, font=font)
    draw.line([left, top, left, bottom, right, bottom], fill=_TEXT)
    return canvas, draw, (left, top, right, bottom)


def _legend(draw: ImageDraw.ImageDraw, names: Sequence[str], right: int) -> None:
    for index, name in enumerate(names):
        x, y = right - 150, 8 + 14 * index
        draw.rectangle([x, y + 2, x + 10, y + 12], fill=_COLOURS[index % len(_COLOURS)])
        draw.text((x + 14, y), name, fill=_TEXT, font=ImageFont.load_default())


def bar_chart(values: Mapping[str, Mapping[str, tuple[float, float]]], title: str, y_label: str = "IoU",
              size: tuple[int, int] = (720, 360)) -> Image.Image:
    """Grouped bars with error bars on a [0, 1] axis: ``values[group][series] = (mean, std)``.

    Example::

        >>> bar_chart({"fold mean": {"real": (0.8, 0.02), "synthetic": (0.78, 0.03)}}, "Table 1").size
        (720, 360)
    """
    if not values:
        raise ValueError("values must hold at least one group.")
    series = list(dict.fromkeys(name for group in values.values() for name in group))
    canvas, draw, (left, top, right, bottom) = _frame(size, title, y_label)
    group_width = (right - left) / len(values)
    bar_width = group_width * 0.8 / len(series)
    for group_index, (group, members) in enumerate(values.items()):
        x0 = left + group_index * group_width + group_width * 0.1
        for series_index, name in enumerate(series):
            if name not in members:
                continue
            mean, std = members[name]
            x = x0 + series_index * bar_width
            y = bottom - (bottom - top) * min(max(mean, 0.0), 1.0)
            draw.rectangle([x, y, x + bar_width - 2, bottom], fill=_COLOURS[series_index % len(_COLOURS)])
            centre = x + bar_width / 2
            low = bottom - (bottom - top) * min(max(mean - std, 0.0), 1.0)
            high = bottom - (bottom - top) * min(max(mean + std, 0.0), 1.0)
            draw.line([centre, low, centre, high], fill=_TEXT)
        draw.text((x0, bottom + 6), str(group)[: int(group_width // 6)], fill=_TEXT, font=ImageFont.load_default())
    _legend(draw, series, right)
    return canvas


def line_chart(series: Mapping[str, Sequence[tuple[float, float]]], title: str, x_label: str, y_label: str = "IoU",
               size: tuple[int, int] = (720, 360)) -> Image.Image:
    """Lines of ``(x, y)`` points on a [0, 1] y axis, one per series (Figure 11 of the paper: IoU against R).

    Example::

        >>> line_chart({"real": [(5, 0.46), (10, 0.6)], "synthetic": [(5, 0.6), (10, 0.65)]}, "small data", "R").size
        (720, 360)
    """
    points = [p for line in series.values() for p in line]
    if not points:
        raise ValueError("series must hold at least one point.")
    canvas, draw, (left, top, right, bottom) = _frame(size, title, y_label)
    font = ImageFont.load_default()
    x_min, x_max = min(p[0] for p in points), max(p[0] for p in points)
    span = (x_max - x_min) or 1.0

    def to_xy(x: float, y: float) -> tuple[float, float]:
        return (left + 12 + (right - left - 24) * (x - x_min) / span,
                bottom - (bottom - top) * min(max(y, 0.0), 1.0))

    for x in sorted({p[0] for p in points}):
        px, _ = to_xy(x, 0.0)
        draw.line([px, bottom, px, bottom + 4], fill=_TEXT)
        draw.text((px - 6, bottom + 6), f"{x:g}", fill=_TEXT, font=font)
    draw.text(((left + right) // 2 - 20, size[1] - 16), x_label, fill=_TEXT, font=font)
    for index, line in enumerate(series.values()):
        colour = _COLOURS[index % len(_COLOURS)]
        xy = [to_xy(x, y) for x, y in sorted(line)]
        if len(xy) > 1:
            draw.line(xy, fill=colour, width=2)
        for px, py in xy:
            draw.ellipse([px - 3, py - 3, px + 3, py + 3], fill=colour)
    _legend(draw, list(series), right)
    return canvas
