"""Statistics of binary masks and their comparison between a real and a synthetic set.

These are the mask plots of SinGAN-Seg (Thambawita et al., PLoS ONE 2022): the distribution of true-pixel
percentages (Figures 3, 6 and 10, histograms with 5 % bins) and the pixel-wise mean and std of the masks generated
from one real image (Figure 5), plus the number of connected components per mask and an exact two-sample KS test
of the fractions.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from monai.utils import StrEnum
from scipy import stats

from monai_singanseg.metrics.paired_sets import PairedSetMetric

__all__ = [
    "MaskSetComparison",
    "MaskStatistic",
    "MaskStatisticsMetric",
    "compare_mask_sets",
    "count_connected_components",
    "foreground_fraction",
    "fraction_histogram",
    "histogram_intersection",
    "ks_critical_value",
    "ks_exact_p_value",
    "ks_statistic",
    "mean_and_std_masks",
]


def _foreground(masks: torch.Tensor, threshold: float) -> torch.Tensor:
    if masks.ndim != 4 or masks.shape[1] != 1:
        raise ValueError(f"masks must be a (N, 1, H, W) batch, got shape {tuple(masks.shape)}.")
    return masks.float() > threshold


def foreground_fraction(masks: torch.Tensor, threshold: float = 0.5) -> torch.Tensor:
    """Fraction of foreground pixels of each mask (the paper's true-pixel percentage, divided by 100).

    Args:
        masks: ``(N, 1, H, W)`` masks.
        threshold: values above it are foreground.

    Returns:
        ``(N,)`` float tensor in ``[0, 1]``.

    Raises:
        ValueError: if ``masks`` is not ``(N, 1, H, W)``.

    Example::

        >>> foreground_fraction(torch.tensor([[[[0.0, 1.0], [1.0, 1.0]]]])).tolist()
        [0.75]
    """
    return _foreground(masks, threshold).float().mean(dim=(1, 2, 3))


def _neighbour_pairs(foreground: torch.Tensor, connectivity: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Flat indices ``(first, second)`` of every pair of adjacent foreground pixels (each pair once)."""
    index = torch.arange(foreground.numel()).reshape(foreground.shape)
    # Right and down cover the 4 edge neighbours; down-right and down-left add the corners of 8-connectivity.
    offsets = [(0, 1), (1, 0)] + ([(1, 1), (1, -1)] if connectivity == 8 else [])
    firsts, seconds = [], []
    height, width = foreground.shape[-2:]
    for row_step, column_step in offsets:
        rows = slice(0, height - row_step)
        columns = slice(max(0, -column_step), width - max(0, column_step))
        shifted_rows = slice(row_step, height)
        shifted_columns = slice(max(0, column_step), width - max(0, -column_step))
        both = foreground[..., rows, columns] & foreground[..., shifted_rows, shifted_columns]
        firsts.append(index[..., rows, columns][both])
        seconds.append(index[..., shifted_rows, shifted_columns][both])
    return torch.cat(firsts), torch.cat(seconds)


def count_connected_components(masks: torch.Tensor, connectivity: int = 8, threshold: float = 0.5) -> torch.Tensor:
    """Number of connected foreground regions of each mask.

    A union-find over pixels, vectorised: every pixel points to a parent with a smaller index; each round hooks
    the larger of two adjacent roots under the smaller and then compresses every path to its root, until adjacent
    pixels share a root. Components are the pixels that remain their own root. No scipy or scikit-image needed,
    and the rounds stay few even for speckled masks.

    Args:
        masks: ``(N, 1, H, W)`` masks.
        connectivity: 4 (edge neighbours) or 8 (edge and corner neighbours).
        threshold: values above it are foreground.

    Returns:
        ``(N,)`` long tensor.

    Raises:
        ValueError: if ``connectivity`` is not 4 or 8, or ``masks`` is not ``(N, 1, H, W)``.

    Example::

        >>> mask = torch.tensor([[[[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 0.0]]]])
        >>> count_connected_components(mask, 8).tolist(), count_connected_components(mask, 4).tolist()
        ([1], [2])
    """
    if connectivity not in (4, 8):
        raise ValueError(f"connectivity must be 4 or 8, got {connectivity}.")
    foreground = _foreground(masks, threshold)
    first, second = _neighbour_pairs(foreground, connectivity)
    parent = torch.arange(foreground.numel())
    while True:
        first_root, second_root = parent[first], parent[second]
        if torch.equal(first_root, second_root):
            break
        # Hooking always onto the smaller index keeps parent[i] <= i, so no cycle can form.
        parent.scatter_reduce_(
            0, torch.maximum(first_root, second_root), torch.minimum(first_root, second_root), reduce="amin"
        )
        while True:
            grandparent = parent[parent]
            if torch.equal(grandparent, parent):
                break
            parent = grandparent
    is_root = parent == torch.arange(foreground.numel())
    return (foreground.flatten() & is_root).reshape(foreground.shape).sum(dim=(1, 2, 3))


def mean_and_std_masks(masks: torch.Tensor, threshold: float = 0.5) -> tuple[torch.Tensor, torch.Tensor]:
    """Pixel-wise mean and std over a set of masks (SinGAN-Seg Figure 5).

    Args:
        masks: ``(N, 1, H, W)`` masks.
        threshold: values above it are foreground.

    Returns:
        ``(mean, std)``, each ``(1, H, W)``; the std is the population std, as ``numpy.std``.

    Example::

        >>> mean, std = mean_and_std_masks(torch.tensor([[[[0.0, 1.0]]], [[[1.0, 1.0]]]]))
        >>> mean.tolist(), std.tolist()
        ([[[0.5, 1.0]]], [[[0.5, 0.0]]])
    """
    foreground = _foreground(masks, threshold).float()
    return foreground.mean(dim=0), foreground.std(dim=0, correction=0)


def fraction_histogram(fractions: torch.Tensor, bin_width: float = 0.05) -> torch.Tensor:
    """Counts of foreground fractions in bins ``[0, w), [w, 2w), ..., [1 - w, 1]`` (5 % bins in Figure 10).

    Args:
        fractions: ``(N,)`` values in ``[0, 1]``.
        bin_width: width of a bin, dividing 1 into a whole number of bins.

    Returns:
        ``(round(1 / bin_width),)`` long tensor.

    Raises:
        ValueError: if ``bin_width`` does not divide 1.

    Example::

        >>> fraction_histogram(torch.tensor([0.0, 0.3, 1.0]), 0.5).tolist()
        [2, 1]
    """
    num_bins = round(1.0 / bin_width)
    if num_bins < 1 or not math.isclose(num_bins * bin_width, 1.0, rel_tol=1e-6):
        raise ValueError(f"bin_width must divide 1 into a whole number of bins, got {bin_width}.")
    # A fraction of exactly 1 belongs to the last bin, as numpy.histogram closes its last bin.
    index = (fractions.double() * num_bins + 1e-9).floor().long().clamp(0, num_bins - 1)
    return torch.bincount(index, minlength=num_bins)


def histogram_intersection(first: torch.Tensor, second: torch.Tensor, bin_width: float = 0.05) -> float:
    """Overlap of the two normalised fraction histograms: 1 for the same distribution, 0 for disjoint ones.

    Args:
        first: ``(N,)`` fractions.
        second: ``(M,)`` fractions.
        bin_width: width of a bin.

    Returns:
        Value in ``[0, 1]``.

    Example::

        >>> histogram_intersection(torch.tensor([0.1, 0.6]), torch.tensor([0.1, 0.1]), 0.5)
        0.5
    """
    first_histogram = fraction_histogram(first, bin_width).double() / len(first)
    second_histogram = fraction_histogram(second, bin_width).double() / len(second)
    return float(torch.minimum(first_histogram, second_histogram).sum())


def ks_statistic(first: torch.Tensor, second: torch.Tensor) -> float:
    """Two-sample Kolmogorov-Smirnov statistic: the largest gap between the two empirical CDFs.

    Args:
        first: ``(N,)`` values.
        second: ``(M,)`` values.

    Returns:
        Value in ``[0, 1]``.

    Example::

        >>> ks_statistic(torch.tensor([0.1, 0.2]), torch.tensor([0.3, 0.4]))
        1.0
    """
    first_sorted, second_sorted = first.double().sort().values, second.double().sort().values
    values = torch.cat([first_sorted, second_sorted])
    first_cdf = torch.searchsorted(first_sorted, values, right=True).double() / len(first_sorted)
    second_cdf = torch.searchsorted(second_sorted, values, right=True).double() / len(second_sorted)
    return float((first_cdf - second_cdf).abs().max())


def ks_critical_value(num_first: int, num_second: int, alpha: float = 0.05) -> float:
    """Large-sample critical value of the two-sample KS statistic at level ``alpha``.

    ``c(alpha) * sqrt((n + m) / (n m))`` with ``c(alpha) = sqrt(-ln(alpha / 2) / 2)`` (1.358 at 5 %); a statistic
    above it rejects "same distribution". It is an approximation for large samples; with a handful of real
    masks use :func:`ks_exact_p_value`, which the evaluation report uses.

    Args:
        num_first: size of the first sample.
        num_second: size of the second sample.
        alpha: significance level in ``(0, 1)``.

    Returns:
        The critical value.

    Raises:
        ValueError: if a size is below one or ``alpha`` is outside ``(0, 1)``.

    Example::

        >>> round(ks_critical_value(100, 100), 3)
        0.192
    """
    if num_first < 1 or num_second < 1 or not 0.0 < alpha < 1.0:
        raise ValueError(f"need sizes >= 1 and 0 < alpha < 1, got {num_first}, {num_second}, {alpha}.")
    coefficient = math.sqrt(-math.log(alpha / 2.0) / 2.0)
    return coefficient * math.sqrt((num_first + num_second) / (num_first * num_second))


def ks_exact_p_value(first: torch.Tensor, second: torch.Tensor) -> float:
    """Exact two-sided p-value of the two-sample Kolmogorov-Smirnov test (``scipy.stats.ks_2samp``).

    Computed from the exact null distribution of the statistic, not the large-sample formula of
    :func:`ks_critical_value`, so it holds for three or five real masks. With ties (several empty masks) the
    test is conservative.

    Args:
        first: ``(N,)`` values.
        second: ``(M,)`` values.

    Returns:
        Value in ``(0, 1]``.

    Raises:
        ValueError: if a sample is empty.

    Example::

        >>> round(ks_exact_p_value(torch.zeros(3), torch.ones(10)), 4)  # disjoint: 2 / C(13, 3)
        0.007
    """
    if len(first) < 1 or len(second) < 1:
        raise ValueError(f"both samples need a value, got sizes {len(first)} and {len(second)}.")
    first_values, second_values = first.double().numpy(), second.double().numpy()
    return float(stats.ks_2samp(first_values, second_values, method="exact").pvalue)


@dataclass(frozen=True)
class MaskSetComparison:
    """Mask statistics of a real and a synthetic set, in plain numbers (fractions in ``[0, 1]``).

    ``ks_p_value`` is the exact KS p-value of the foreground fractions; ``ks_smallest_p_value`` is the one that
    disjoint fractions would get at these sample sizes, the lowest the test can reach. ``components_ks_p_value``
    is the same test of the connected-component counts per mask (conservative: counts tie), which catches speckled
    masks of the right area.
    """

    real_fraction_mean: float
    real_fraction_std: float
    synthetic_fraction_mean: float
    synthetic_fraction_std: float
    ks_statistic: float
    ks_p_value: float
    ks_smallest_p_value: float
    histogram_intersection: float
    real_components_mean: float
    synthetic_components_mean: float
    synthetic_empty_fraction: float
    components_ks_p_value: float = 1.0
    real_empty_fraction: float = 0.0


def compare_mask_sets(
    real: torch.Tensor, synthetic: torch.Tensor, bin_width: float = 0.05, connectivity: int = 8
) -> MaskSetComparison:
    """All mask statistics of a real and a synthetic set.

    Args:
        real: ``(N, 1, H, W)`` real masks.
        synthetic: ``(M, 1, H', W')`` synthetic masks.
        bin_width: histogram bin width for the intersection.
        connectivity: 4 or 8, for the component counts.

    Returns:
        A :class:`MaskSetComparison`.

    Example::

        >>> masks = (torch.rand(4, 1, 8, 8) > 0.5).float()
        >>> compare_mask_sets(masks, masks).ks_statistic
        0.0
    """
    real_fractions, synthetic_fractions = foreground_fraction(real), foreground_fraction(synthetic)
    real_components = count_connected_components(real, connectivity).double()
    synthetic_components = count_connected_components(synthetic, connectivity).double()
    return MaskSetComparison(
        real_fraction_mean=float(real_fractions.mean()),
        real_fraction_std=float(real_fractions.std(correction=0)),
        synthetic_fraction_mean=float(synthetic_fractions.mean()),
        synthetic_fraction_std=float(synthetic_fractions.std(correction=0)),
        ks_statistic=ks_statistic(real_fractions, synthetic_fractions),
        ks_p_value=ks_exact_p_value(real_fractions, synthetic_fractions),
        ks_smallest_p_value=ks_exact_p_value(torch.zeros(len(real_fractions)), torch.ones(len(synthetic_fractions))),
        histogram_intersection=histogram_intersection(real_fractions, synthetic_fractions, bin_width),
        real_components_mean=float(real_components.mean()),
        synthetic_components_mean=float(synthetic_components.mean()),
        synthetic_empty_fraction=float((synthetic_fractions == 0).double().mean()),
        components_ks_p_value=ks_exact_p_value(real_components, synthetic_components),
        real_empty_fraction=float((real_fractions == 0).double().mean()),
    )


class MaskStatistic(StrEnum):
    """Which comparison of foreground-fraction distributions :class:`MaskStatisticsMetric` reports."""

    KS = "ks"
    HISTOGRAM_INTERSECTION = "histogram_intersection"


class MaskStatisticsMetric(PairedSetMetric):
    """Compares the foreground-fraction distributions of synthetic (``y_pred``) and real (``y``) masks.

    SinGAN-Seg (Thambawita et al., "SinGAN-Seg: Synthetic training data generation for medical image
    segmentation", PLoS ONE 2022, Figures 3, 6 and 10) judges synthetic masks by their true-pixel percentage
    histogram against the real one; this metric turns that visual check into a number, the KS statistic
    (0 is best) or the histogram intersection (1 is best). Batches are ``(B, 1, H, W)`` masks of any batch size.

    Args:
        statistic: a :class:`MaskStatistic`.
        bin_width: histogram bin width, for the intersection.
        threshold: mask values above it are foreground.

    Example::

        >>> metric = MaskStatisticsMetric("histogram_intersection")
        >>> masks = (torch.rand(4, 1, 8, 8) > 0.5).float()
        >>> _ = metric(y_pred=masks, y=masks)
        >>> float(metric.aggregate())
        1.0
    """

    def __init__(
        self, statistic: MaskStatistic | str = MaskStatistic.KS, bin_width: float = 0.05, threshold: float = 0.5
    ) -> None:
        self.statistic = MaskStatistic(statistic)
        self.bin_width = bin_width
        self.threshold = threshold
        super().__init__()

    def _compute_pair(self, synthetic: torch.Tensor, real: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return foreground_fraction(synthetic, self.threshold), foreground_fraction(real, self.threshold)

    def aggregate(self) -> torch.Tensor:
        """The chosen statistic over every mask accumulated so far.

        Returns:
            Scalar tensor.

        Raises:
            RuntimeError: if nothing has been accumulated.
        """
        synthetic, real = self._paired_buffers()
        if self.statistic == MaskStatistic.KS:
            return torch.tensor(ks_statistic(real, synthetic))
        return torch.tensor(histogram_intersection(real, synthetic, self.bin_width))
