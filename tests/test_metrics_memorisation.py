"""Memorisation: planted copies (also shifted and flipped) are flagged, different images pass."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from monai_singanseg.metrics.memorisation import (
    Flip,
    MemorisationMetric,
    flip_images,
    nearest_real,
    normalised_cross_correlation,
    patch_nearest_neighbour_distance,
    shifted_normalised_cross_correlation,
)


def smooth_images(count: int, seed: int, size: int = 32) -> torch.Tensor:
    """Smooth random RGB images, (count, 3, size, size), the texture scale of a downsized endoscopy frame."""
    generator = torch.Generator().manual_seed(seed)
    return F.avg_pool2d(torch.rand(count, 3, size + 6, size + 6, generator=generator), 7, stride=1)


def shifted(image: torch.Tensor, rows: int, columns: int, seed: int = 9) -> torch.Tensor:
    """The image moved down by ``rows`` and right by ``columns``; uncovered borders get unrelated content."""
    moved = smooth_images(1, seed, image.shape[-1])[0]
    height, width = image.shape[-2:]
    moved[:, max(0, rows) : height + min(0, rows), max(0, columns) : width + min(0, columns)] = image[
        :, max(0, -rows) : height - max(0, rows), max(0, -columns) : width - max(0, columns)
    ]
    return moved


REAL = smooth_images(5, seed=0)


@pytest.mark.parametrize(
    ("planted", "real_index", "flip", "shift"),
    [
        (REAL[2], 2, "none", [0, 0]),
        (0.5 * REAL[1] + 0.2, 1, "none", [0, 0]),  # contrast and brightness change
        (shifted(REAL[3], 2, -3), 3, "none", [2, -3]),
        (flip_images(REAL[0], "horizontal"), 0, "horizontal", [0, 0]),
        (flip_images(REAL[4], "vertical"), 4, "vertical", [0, 0]),
        (flip_images(shifted(REAL[1], -1, 2), "both"), 1, "both", [-1, 2]),  # shift of the flipped-back image
    ],
)
def test_planted_copies_are_found_with_their_flip_and_shift(
    planted: torch.Tensor, real_index: int, flip: str, shift: list[int]
) -> None:
    result = nearest_real(planted[None], REAL, max_shift=4)
    assert result.index.tolist() == [real_index]
    assert float(result.ncc[0]) > 0.999
    assert result.flip == [Flip(flip)]
    assert result.shift.tolist() == [shift]


def test_genuinely_different_images_pass() -> None:
    others = smooth_images(6, seed=1)
    result = nearest_real(others, REAL, max_shift=4)
    assert float(result.ncc.max()) < 0.95
    assert bool((result.patch_distance > 0.01).all())


def test_constant_sample_is_not_a_copy() -> None:
    result = nearest_real(torch.full((1, 3, 32, 32), 0.4), REAL, max_shift=2)
    assert float(result.ncc[0]) == 0.0


def test_metric_flags_exactly_the_planted_copies() -> None:
    copies = torch.stack([REAL[0], flip_images(REAL[1], "horizontal"), shifted(REAL[2], 3, 3)])
    synthetic = torch.cat([copies, smooth_images(5, seed=2)])
    metric = MemorisationMetric(threshold=0.95, max_shift=4)
    metric(y_pred=synthetic[:4], y=REAL[:2])
    metric(y_pred=synthetic[4:], y=REAL[2:])
    assert float(metric.aggregate()) == pytest.approx(3 / 8)
    flagged = (metric.nearest().ncc >= 0.95).nonzero().flatten().tolist()
    assert flagged == [0, 1, 2]


@pytest.mark.parametrize(("rows", "columns"), [(0, 0), (2, -1), (-3, 3), (1, 0)])
def test_shifted_correlation_equals_correlation_of_the_overlap(rows: int, columns: int) -> None:
    synthetic, real = smooth_images(3, seed=3, size=16), smooth_images(2, seed=4, size=16)
    fast = shifted_normalised_cross_correlation(synthetic, real, 3)[:, :, 3 + rows, 3 + columns]
    synthetic_crop = synthetic[..., max(0, rows) : 16 + min(0, rows), max(0, columns) : 16 + min(0, columns)]
    real_crop = real[..., max(0, -rows) : 16 - max(0, rows), max(0, -columns) : 16 - max(0, columns)]
    assert torch.allclose(fast.double(), normalised_cross_correlation(synthetic_crop, real_crop), atol=1e-4)


def test_real_set_against_itself_skips_identity() -> None:
    result = nearest_real(REAL, REAL, max_shift=2, exclude_same_index=True)
    assert bool((result.index != torch.arange(len(REAL))).all())
    assert float(result.ncc.max()) < 0.95


def test_patch_distance_is_zero_for_copies_and_positive_otherwise() -> None:
    copies = patch_nearest_neighbour_distance(REAL, REAL, stride=1)
    others = patch_nearest_neighbour_distance(smooth_images(3, seed=5), REAL, stride=1)
    assert torch.allclose(copies, torch.zeros(len(REAL)), atol=1e-6)
    assert bool((others > 0.01).all())
    leave_one_out = patch_nearest_neighbour_distance(REAL, REAL, stride=1, exclude_same_index=True)
    assert bool((leave_one_out > 0.01).all())


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: nearest_real(torch.rand(2, 3, 16, 16), torch.rand(2, 1, 16, 16)), "alike"),
        (lambda: nearest_real(torch.rand(2, 3, 16, 16), torch.rand(2, 3, 16, 16), max_shift=8), "max_shift"),
        (lambda: nearest_real(torch.rand(2, 3, 16, 16), torch.rand(2, 3, 16, 16), flips=[]), "flips"),
        (lambda: nearest_real(torch.rand(2, 3, 16, 16), torch.rand(3, 3, 16, 16), exclude_same_index=True), "equally"),
        (lambda: MemorisationMetric(threshold=1.5), "threshold"),
    ],
)
def test_rejects_bad_arguments(call: object, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        call()  # type: ignore[operator]
