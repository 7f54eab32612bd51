"""Mask statistics (SinGAN-Seg Figures 3, 5, 6, 10) against hand-computed values."""

from __future__ import annotations

import collections
import math

import pytest
import torch

from monai_singanseg.metrics.mask_statistics import (
    MaskStatisticsMetric,
    compare_mask_sets,
    count_connected_components,
    foreground_fraction,
    fraction_histogram,
    histogram_intersection,
    ks_critical_value,
    ks_statistic,
    mean_and_std_masks,
)


def mask(*rows: str) -> torch.Tensor:
    """A (1, 1, H, W) mask drawn as text: '#' is foreground."""
    return torch.tensor([[[[float(cell == "#") for cell in row] for row in rows]]])


DIAGONAL = mask("#..", ".#.", "..#")
TWO_BLOBS = mask("##..", "##..", "..##")
RING = mask("###", "#.#", "###")


def breadth_first_count(foreground: torch.Tensor, connectivity: int) -> int:
    """Reference component count by breadth-first search."""
    height, width = foreground.shape
    steps = [(0, 1), (1, 0), (0, -1), (-1, 0)]
    steps += [(1, 1), (1, -1), (-1, 1), (-1, -1)] if connectivity == 8 else []
    seen, count = set(), 0
    for start in zip(*torch.nonzero(foreground, as_tuple=True)):
        start = (int(start[0]), int(start[1]))
        if start in seen:
            continue
        count += 1
        queue = collections.deque([start])
        seen.add(start)
        while queue:
            row, column = queue.popleft()
            for row_step, column_step in steps:
                neighbour = (row + row_step, column + column_step)
                if (
                    0 <= neighbour[0] < height
                    and 0 <= neighbour[1] < width
                    and bool(foreground[neighbour])
                    and neighbour not in seen
                ):
                    seen.add(neighbour)
                    queue.append(neighbour)
    return count


def test_foreground_fraction_counts_pixels() -> None:
    masks = torch.cat([DIAGONAL, RING, torch.zeros(1, 1, 3, 3)])
    assert foreground_fraction(masks).tolist() == pytest.approx([3 / 9, 8 / 9, 0.0])


@pytest.mark.parametrize(
    ("masks", "connectivity", "expected"),
    [
        (DIAGONAL, 8, 1),
        (DIAGONAL, 4, 3),
        (TWO_BLOBS, 4, 2),
        (TWO_BLOBS, 8, 1),  # the blobs touch at a corner
        (RING, 4, 1),
        (torch.zeros(1, 1, 4, 4), 8, 0),
        (torch.ones(1, 1, 4, 4), 4, 1),
        (mask("#.#.#", ".....", "#.#.#"), 8, 6),
    ],
)
def test_component_count_matches_hand_count(masks: torch.Tensor, connectivity: int, expected: int) -> None:
    assert count_connected_components(masks, connectivity).tolist() == [expected]


@pytest.mark.parametrize("connectivity", [4, 8])
def test_component_count_matches_breadth_first_search_on_speckle(connectivity: int) -> None:
    speckle = (torch.rand(5, 1, 20, 20, generator=torch.Generator().manual_seed(connectivity)) > 0.55).float()
    expected = [breadth_first_count(single[0] > 0.5, connectivity) for single in speckle]
    assert count_connected_components(speckle, connectivity).tolist() == expected


def test_mean_and_std_masks_are_pixelwise() -> None:
    masks = torch.cat([mask("#.", ".."), mask("##", ".."), mask("##", "#.")])
    mean, std = mean_and_std_masks(masks)
    assert torch.allclose(mean, torch.tensor([[[1.0, 2 / 3], [1 / 3, 0.0]]]))
    assert torch.allclose(std, torch.tensor([[[0.0, math.sqrt(2) / 3], [math.sqrt(2) / 3, 0.0]]]))


def test_fraction_histogram_uses_5_percent_bins_with_closed_last_bin() -> None:
    counts = fraction_histogram(torch.tensor([0.0, 0.049, 0.05, 0.5, 0.999, 1.0]))
    assert counts.shape == (20,)
    assert counts[0] == 2 and counts[1] == 1 and counts[10] == 1 and counts[19] == 2 and counts.sum() == 6


def test_ks_statistic_matches_hand_computed_cdf_gap() -> None:
    # CDF gaps at 0.1, 0.2, 0.25, 0.3, 0.35: 1/3, 2/3, 1/6, 1/2, 0.
    assert ks_statistic(torch.tensor([0.1, 0.2, 0.3]), torch.tensor([0.25, 0.35])) == pytest.approx(2 / 3)
    assert ks_statistic(torch.tensor([0.2, 0.1]), torch.tensor([0.1, 0.2, 0.2, 0.1])) == 0.0


def test_ks_critical_value_follows_the_asymptotic_formula() -> None:
    assert ks_critical_value(100, 100) == pytest.approx(1.3581 * math.sqrt(0.02), rel=1e-4)
    with pytest.raises(ValueError):
        ks_critical_value(0, 10)


def test_histogram_intersection_of_hand_histograms() -> None:
    # Halves: [0.1, 0.6] puts one in each bin, [0.1, 0.1, 0.1, 0.7] puts 3/4 and 1/4: overlap 1/2 + 1/4.
    assert histogram_intersection(torch.tensor([0.1, 0.6]), torch.tensor([0.1, 0.1, 0.1, 0.7]), 0.5) == 0.75
    with pytest.raises(ValueError, match="bin_width"):
        fraction_histogram(torch.tensor([0.5]), 0.3)


def test_compare_mask_sets_reports_every_statistic() -> None:
    real = torch.cat([DIAGONAL, RING])
    comparison = compare_mask_sets(real, torch.cat([RING, RING, torch.zeros(1, 1, 3, 3)]))
    assert comparison.real_fraction_mean == pytest.approx((3 / 9 + 8 / 9) / 2)
    assert comparison.synthetic_empty_fraction == pytest.approx(1 / 3)
    assert comparison.real_components_mean == 1.0
    assert comparison.synthetic_components_mean == pytest.approx(2 / 3)
    assert comparison.ks_statistic == pytest.approx(1 / 3)


def test_metric_scores_identical_and_disjoint_distributions() -> None:
    small, large = DIAGONAL.expand(4, 1, 3, 3), RING.expand(3, 1, 3, 3)
    for statistic, same, different in (("ks", 0.0, 1.0), ("histogram_intersection", 1.0, 0.0)):
        metric = MaskStatisticsMetric(statistic)
        metric(y_pred=small, y=small[:2])
        assert float(metric.aggregate()) == same
        metric.reset()
        metric(y_pred=large, y=small)
        assert float(metric.aggregate()) == different


@pytest.mark.parametrize(
    ("call", "error"),
    [
        (lambda: foreground_fraction(torch.zeros(2, 3, 4, 4)), ValueError),
        (lambda: count_connected_components(DIAGONAL, 6), ValueError),
        (lambda: MaskStatisticsMetric("median"), ValueError),
        (lambda: MaskStatisticsMetric().aggregate(), RuntimeError),
    ],
)
def test_rejects_bad_inputs(call: object, error: type[Exception]) -> None:
    with pytest.raises(error):
        call()  # type: ignore[operator]
