"""Pictures a person can look at: sample grids with label overlays."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from monai_singanseg.data.writers import to_uint8_rgb

__all__ = ["label_overlay", "sample_grid"]

# Distinct colours for label values 1, 2, 3, ... (background is never coloured).
_PALETTE = np.array(
    [[0, 255, 0], [255, 64, 64], [64, 128, 255], [255, 220, 0], [255, 0, 255], [0, 255, 255]], dtype=np.float64
)


def _middle_slice(x: np.ndarray) -> np.ndarray:
    # 3D stacks are shown by their middle slice along the last axis (axial for RAS volumes).
    return x[..., x.shape[-1] // 2] if x.ndim == 4 else x


def label_overlay(rgb: np.ndarray, label: np.ndarray, label_values: Sequence[float], opacity: float = 0.35) -> np.ndarray:
    """Blend each non-background label value in its own colour over ``rgb`` (``H x W x 3`` uint8), outlining it."""
    out = rgb.astype(np.float64)
    for i, value in enumerate(label_values[1:]):
        region = label == value
        if not region.any():
            continue
        colour = _PALETTE[i % len(_PALETTE)]
        out[region] = (1 - opacity) * out[region] + opacity * colour
        inner = region.copy()
        inner[1:-1, 1:-1] = region[1:-1, 1:-1] & region[:-2, 1:-1] & region[2:, 1:-1] & region[1:-1, :-2] & region[1:-1, 2:]
        out[region & ~inner] = colour
    return out.round().astype(np.uint8)


def sample_grid(
    images: torch.Tensor,
    labels: torch.Tensor,
    label_values: Sequence[float],
    columns: int = 4,
    padding: int = 2,
) -> np.ndarray:
    """A grid of decoded samples: each cell is the image and, beside it, the image with its label overlaid.

    Args:
        images: decoded images ``(N, C, *spatial)``.
        labels: decoded labels ``(N, 1, *spatial)``.
        label_values: the layout's label values (background first).
        columns: pairs per row.
        padding: white pixels between cells.

    Returns:
        ``H x W x 3`` uint8.
    """
    images_np = np.asarray(images.detach().cpu())
    labels_np = np.asarray(labels.detach().cpu())
    low, high = float(images_np.min()), float(images_np.max())
    cells = []
    for image, label in zip(images_np, labels_np):
        rgb = to_uint8_rgb(_middle_slice(image), low, high) if image.dtype != np.uint8 else to_uint8_rgb(_middle_slice(image))
        overlay = label_overlay(rgb, _middle_slice(label)[0], label_values)
        gap = np.full((rgb.shape[0], padding, 3), 255, np.uint8)
        cells.append(np.concatenate([rgb, gap, overlay], axis=1))
    height, width = cells[0].shape[:2]
    rows = -(-len(cells) // columns)
    columns = min(columns, len(cells))
    grid = np.full((rows * (height + padding) + padding, columns * (width + padding) + padding, 3), 255, np.uint8)
    for i, cell in enumerate(cells):
        r, c = divmod(i, columns)
        y, x = padding + r * (height + padding), padding + c * (width + padding)
        grid[y : y + height, x : x + width] = cell
    return grid
