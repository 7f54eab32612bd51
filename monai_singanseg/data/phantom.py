"""A built-in endoscopy-like phantom, so the demo and tutorials run with no data at all."""

from __future__ import annotations

import numpy as np

__all__ = ["endoscopy_phantom"]


def endoscopy_phantom(height: int = 64, width: int = 80, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """An RGB colon-like scene with one polyp, and the polyp's mask.

    Pink mucosa with a dark lumen, vignetting, haustral folds and specular glints, and a raised, redder lesion
    with its own texture. Made in code from ``seed``: no patient data.

    Args:
        height: image height.
        width: image width.
        seed: random seed of the texture and the lesion's place.

    Returns:
        ``(image, mask)``: ``(3, H, W)`` uint8 RGB and ``(1, H, W)`` uint8 mask with values {0, 255}.
    """
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float64)
    cy, cx = height / 2, width / 2
    r = np.hypot((y - cy) / height, (x - cx) / width)
    lumen = np.exp(-(np.hypot((y - cy * 0.9) / height, (x - cx * 1.1) / width) / 0.12) ** 2)
    folds = 0.5 + 0.5 * np.sin(2 * np.pi * r * 9 + rng.uniform(0, np.pi))
    texture = rng.normal(0, 1, (height, width))
    texture = (texture + np.roll(texture, 1, 0) + np.roll(texture, 1, 1) + np.roll(texture, -1, 0)) / 4
    vignette = np.clip(1.1 - 1.4 * r, 0.2, 1.0)
    base = np.stack([0.85 + 0.05 * folds, 0.45 + 0.08 * folds, 0.42 + 0.06 * folds]) + 0.03 * texture
    image = base * vignette * (1 - 0.8 * lumen)

    ly, lx = rng.uniform(0.3, 0.7) * height, rng.uniform(0.25, 0.45) * width
    ry, rx = rng.uniform(0.12, 0.18) * height, rng.uniform(0.12, 0.18) * width
    angle = np.arctan2(y - ly, x - lx)
    edge = 1 + 0.12 * np.sin(3 * angle + rng.uniform(0, np.pi))
    d = np.hypot((y - ly) / ry, (x - lx) / rx) / edge
    mask = d < 1
    dome = np.clip(1 - d**2, 0, 1)
    lesion = np.stack([0.95 - 0.1 * dome, 0.35 + 0.1 * dome, 0.33 + 0.05 * dome]) + 0.05 * texture
    image = np.where(mask, lesion * (0.75 + 0.35 * dome), image)

    glints = (rng.random((height, width)) > 0.997) | ((d < 0.35) & (rng.random((height, width)) > 0.9))
    image = np.where(glints, 1.0, image)
    image_u8 = (np.clip(image, 0, 1) * 255).round().astype(np.uint8)
    return image_u8, (mask[None] * 255).astype(np.uint8)
