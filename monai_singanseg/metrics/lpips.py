"""LPIPS distance between image pairs, and the mean pairwise LPIPS of a sample set as a diversity measure."""

from __future__ import annotations

import torch
from monai.metrics.regression import RegressionMetric
from monai.utils import MetricReduction

from monai_singanseg.networks.lpips import LPIPSAlexNet

__all__ = ["LPIPSMetric", "lpips", "lpips_diversity"]


def lpips(images_a: torch.Tensor, images_b: torch.Tensor, network: LPIPSAlexNet) -> torch.Tensor:
    """LPIPS v0.1 (Zhang et al., CVPR 2018) between paired images: zero for identical images, larger when less alike.

    Args:
        images_a: RGB images in [0, 1], ``(N, 3, H, W)``, H and W at least 31.
        images_b: RGB images in [0, 1] of the same shape.
        network: a built :class:`LPIPSAlexNet`, on the device of the images.

    Returns:
        ``(N,)`` distances.

    Raises:
        ValueError: when the shapes differ, or the images are not RGB or too small for AlexNet.

    Example::

        >>> net = LPIPSAlexNet(pretrained=False)
        >>> image = torch.rand(1, 3, 32, 32)
        >>> lpips(image, image, net).tolist()
        [0.0]
    """
    return network(images_a, images_b)


def lpips_diversity(samples: torch.Tensor, network: LPIPSAlexNet) -> torch.Tensor:
    """Mean LPIPS over all pairs of distinct samples: zero when every sample is the same image.

    The diversity measure of Zhu et al., "Toward Multimodal Image-to-Image Translation" (BicycleGAN), NeurIPS 2017,
    used since by single-image GAN papers next to SIFID. LPIPS is symmetric, so each unordered pair counts once;
    AlexNet runs once per sample, and the pairs are scored on the stored features.

    Args:
        samples: RGB images in [0, 1], ``(N, 3, H, W)``, ``N >= 2``, H and W at least 31.
        network: a built :class:`LPIPSAlexNet`.

    Returns:
        Scalar tensor.

    Raises:
        ValueError: when there are fewer than two samples, or they are not RGB or too small.

    Example::

        >>> net = LPIPSAlexNet(pretrained=False)
        >>> image = torch.rand(1, 3, 32, 32)
        >>> float(lpips_diversity(image.expand(4, 3, 32, 32), net))
        0.0
    """
    if samples.ndim != 4 or samples.shape[0] < 2:
        raise ValueError(f"samples must be (N, 3, H, W) with N >= 2, got shape {tuple(samples.shape)}.")
    features = network.normalised_features(samples)
    distances = [
        network.distance_between_features([f[index : index + 1] for f in features], [f[index + 1 :] for f in features])
        for index in range(samples.shape[0] - 1)
    ]
    return torch.cat(distances).mean()


class LPIPSMetric(RegressionMetric):
    """LPIPS (Zhang et al., CVPR 2018) between generated images (``y_pred``) and references (``y``), pair by pair.

    A MONAI cumulative metric: every call buffers one ``(N, 1)`` column of :func:`lpips` values, and
    :meth:`aggregate` reduces them (mean by default; ``"none"`` returns them all). The AlexNet and lpips weights
    are the user's: see :class:`LPIPSAlexNet`. For the diversity of a sample set use :func:`lpips_diversity`.

    Args:
        network: a built :class:`LPIPSAlexNet`.
        reduction: a ``monai.utils.MetricReduction``.
        get_not_nans: whether :meth:`aggregate` also returns the count of non-NaN values.

    Example::

        >>> metric = LPIPSMetric(LPIPSAlexNet(pretrained=False))
        >>> images = torch.rand(2, 3, 32, 32)
        >>> _ = metric(y_pred=images, y=images)
        >>> float(metric.aggregate())
        0.0
    """

    def __init__(
        self, network: LPIPSAlexNet, reduction: MetricReduction | str = MetricReduction.MEAN, get_not_nans: bool = False
    ) -> None:
        super().__init__(reduction=reduction, get_not_nans=get_not_nans)
        self.network = network

    def _compute_metric(self, y_pred: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return lpips(y_pred, y, self.network).unsqueeze(1)
