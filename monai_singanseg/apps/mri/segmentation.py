"""What the 2D segmentation network trains on: real slices, synthetic slices, or both (the ensemble paper's rows)."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from enum import StrEnum
from typing import Any

from monai_singanseg.data.datalist import read_datalist

__all__ = ["TrainingData", "segmentation_datalist"]


class TrainingData(StrEnum):
    """What the segmentation network trains on (the rows of the paper's Table 1).

    ``real``: the real training slices. ``synthetic``: only synthetic slices. ``both``: real and synthetic slices,
    sampled equally often (the smaller set is repeated), as the paper does.
    """

    REAL = "real"
    SYNTHETIC = "synthetic"
    BOTH = "both"


def _pairs(entries: Sequence[Mapping[str, Any]], source: str) -> list[dict[str, str]]:
    # Only keys that collate into batches.
    return [{"image": str(e["image"]), "label": str(e["label"]), "source": source} for e in entries]


def segmentation_datalist(
    slices_datalist: str | os.PathLike,
    synthetic_datalist: str | os.PathLike | None = None,
    training_data: TrainingData | str = TrainingData.REAL,
) -> list[dict[str, str]]:
    """The slices the segmentation network trains on.

    Args:
        slices_datalist: the real slices' datalist (``slices.json`` of ``prepare_slices``).
        synthetic_datalist: the synthetic slices' datalist (``synthetic.json`` of ``generate``).
        training_data: ``real``, ``synthetic`` or ``both`` (see :class:`TrainingData`).

    Returns:
        ``{"image", "label", "source"}`` entries; with ``both`` the smaller set is repeated cyclically to the size
        of the larger, so each batch draws real and synthetic slices equally often.

    Raises:
        ValueError: an unknown ``training_data``, or synthetic data asked for without ``synthetic_datalist``.
        FileNotFoundError: a datalist that does not exist yet.
    """
    try:
        choice = TrainingData(training_data)
    except ValueError:
        raise ValueError(f"training_data must be one of {[t.value for t in TrainingData]}, got {training_data!r}.") from None
    real = _pairs(read_datalist(slices_datalist), "real") if choice != TrainingData.SYNTHETIC else []
    if choice == TrainingData.REAL:
        return real
    if synthetic_datalist is None:
        raise ValueError(f"training_data={choice.value!r} needs synthetic_datalist (run generate first).")
    synthetic = _pairs(read_datalist(synthetic_datalist), "synthetic")
    if choice == TrainingData.SYNTHETIC:
        return synthetic
    size = max(len(real), len(synthetic))
    return [real[i % len(real)] for i in range(size)] + [synthetic[i % len(synthetic)] for i in range(size)]
