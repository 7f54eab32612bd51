"""Is the synthetic data faithful, diverse and safe to share? Metrics in MONAI's cumulative style.

Most need no weights. The perceptual ones, SIFID (:class:`SIFIDMetric`) and LPIPS (:class:`LPIPSMetric`,
:func:`lpips_diversity`), run only on networks built from weight files the user supplies (torchvision's Inception-v3
and AlexNet, the lpips package's calibration): see :class:`~monai_singanseg.networks.InceptionSIFIDFeatures` and
:class:`~monai_singanseg.networks.LPIPSAlexNet`.
"""

from monai_singanseg.metrics.diversity import DiversityMetric, diversity_score
from monai_singanseg.metrics.lpips import LPIPSMetric, lpips, lpips_diversity
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
from monai_singanseg.metrics.sifid import SIFIDMetric, frechet_distance, gaussian_statistics, sifid
from monai_singanseg.metrics.sliced_wasserstein import SlicedWassersteinDistance, sliced_wasserstein

__all__ = [
    "DiversityMetric",
    "LPIPSMetric",
    "MaskSetComparison",
    "MaskStatistic",
    "MaskStatisticsMetric",
    "MemorisationMetric",
    "NearestReal",
    "SIFIDMetric",
    "SlicedWassersteinDistance",
    "compare_mask_sets",
    "count_connected_components",
    "diversity_score",
    "foreground_fraction",
    "frechet_distance",
    "gaussian_statistics",
    "lpips",
    "lpips_diversity",
    "mean_and_std_masks",
    "nearest_real",
    "sifid",
    "sliced_wasserstein",
]
