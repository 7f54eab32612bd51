"""Pictures a person can look at (MONAI's ``monai.visualize``): sample grids with label overlays and report figures.

Numpy, torch and PIL only, so every layer (sample folders, tutorials, the evaluation report) draws with the same code;
``show_png`` uses IPython, when present, to show a written PNG in a notebook.
"""

from __future__ import annotations

from monai_singanseg.visualize.figures import (
    channel_comparison,
    closest_pairs,
    histogram_chart,
    label_overlay,
    mask_maps,
    overlay_mask,
    sample_grid,
    to_pil,
    to_uint8_rgb,
)
from monai_singanseg.visualize.loss_chart import loss_curves_chart
from monai_singanseg.visualize.notebook import show_png

__all__ = ["channel_comparison", "closest_pairs", "histogram_chart", "label_overlay", "loss_curves_chart", "mask_maps",
           "overlay_mask", "sample_grid", "show_png", "to_pil", "to_uint8_rgb"]
