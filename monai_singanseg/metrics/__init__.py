"""Is the synthetic data faithful, diverse and safe to share? Metrics in MONAI's cumulative style, no weights needed."""

from monai_singanseg.metrics.diversity import DiversityMetric, diversity_score
from monai_singanseg.metrics.mask_statistics import (
    MaskSetComparison,
    MaskStatistic,
    MaskStatisticsMetric,
    compare_mask_sets,
    count_connected_components,
    foreground_fraction,
    mean_and_std_masks,
)
from monai_singanseg.metrics.memorisation import MemorisationMetric, NearestReal, nearest_real
from monai_singanseg.metrics.sliced_wasserstein import SlicedWassersteinDistance, sliced_wasserstein

__all__ = [
    "DiversityMetric",
    "MaskSetComparison",
    "MaskStatistic",
    "MaskStatisticsMetric",
    "MemorisationMetric",
    "NearestReal",
    "SlicedWassersteinDistance",
    "compare_mask_sets",
    "count_connected_components",
    "diversity_score",
    "foreground_fraction",
    "mean_and_std_masks",
    "nearest_real",
    "sliced_wasserstein",
]
