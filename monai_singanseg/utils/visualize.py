"""Old home of the sample grid, kept one release for existing imports: pictures live in
:mod:`monai_singanseg.evaluation.figures` (``utils`` holds pure maths)."""

from __future__ import annotations

from monai_singanseg.visualize.figures import label_overlay, sample_grid

__all__ = ["label_overlay", "sample_grid"]
