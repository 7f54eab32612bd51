"""Old home of the report figures, kept one release for existing imports: see :mod:`monai_singanseg.visualize`."""

from __future__ import annotations

from monai_singanseg.visualize.figures import (
    closest_pairs,
    histogram_chart,
    label_overlay,
    mask_maps,
    overlay_mask,
    sample_grid,
    to_pil,
    to_uint8_rgb,
)

__all__ = ["closest_pairs", "histogram_chart", "label_overlay", "mask_maps", "overlay_mask", "sample_grid", "to_pil",
           "to_uint8_rgb"]
