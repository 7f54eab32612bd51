"""Recognise masks that are binary in intent but not in value (JPEG artefacts, antialiased edges)."""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import ndimage

__all__ = ["CLASS_LABEL_LIMIT", "near_binary_threshold"]

# Integer label maps below this value are class maps (BraTS {0, 1, 2, 4}), never a noisy binary mask.
CLASS_LABEL_LIMIT = 32
# How close to either extreme a value must lie to count as that extreme (JPEG noise stays within a few levels).
_CLUSTER_WIDTH = 1 / 8
# Antialiasing puts in-between values on the edge between the two extremes, and on little else.
_EDGE_DISTANCE = 2
_MIN_SHARE_ON_EDGE = 0.95
_MAX_SHARE_IN_BETWEEN = 0.05


def near_binary_threshold(label: Any) -> float | None:
    """The threshold that binarises ``label`` when it is a two-level mask blurred by compression or antialiasing.

    A label qualifies when it has more than two values, is not a small-integer class map, and nearly every voxel
    lies within an eighth of the value range of its minimum or maximum, the few in between sitting on the edge
    between the two (Kvasir-SEG's JPEG masks; the SinGAN-Seg reference's RGBA input, whose alpha is antialiased;
    PNG masks with a 128 rim). Class maps whose middle values fill regions (tumour sub-regions) never qualify.

    Args:
        label: a label map of any shape (channel dimension included or not).

    Returns:
        the midpoint between the two levels, or ``None`` when ``label`` is binary already or not a two-level mask.
    """
    values = np.asarray(label, dtype=np.float64)
    present = np.unique(values)
    if present.size <= 2:
        return None
    integral = bool(np.all(present == np.round(present)))
    if integral and present.max() < CLASS_LABEL_LIMIT and present.min() >= 0:
        return None
    low_level, high_level = float(present[0]), float(present[-1])
    width = _CLUSTER_WIDTH * (high_level - low_level)
    low, high = values <= low_level + width, values >= high_level - width
    in_between = ~(low | high)
    count = int(in_between.sum())
    if count:
        if count > _MAX_SHARE_IN_BETWEEN * values.size:
            return None
        structure = ndimage.generate_binary_structure(values.ndim, values.ndim)
        near_low = ndimage.binary_dilation(low, structure, iterations=_EDGE_DISTANCE)
        near_high = ndimage.binary_dilation(high, structure, iterations=_EDGE_DISTANCE)
        if (in_between & near_low & near_high).sum() < _MIN_SHARE_ON_EDGE * count:
            return None
    return (low_level + high_level) / 2
