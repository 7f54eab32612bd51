"""Single-image Fréchet Inception distance (SIFID) between a real image and a generated one."""

from __future__ import annotations

import torch
from monai.metrics.regression import RegressionMetric
from monai.utils import MetricReduction

from monai_singanseg.networks.inception_sifid import InceptionSIFIDFeatures

__all__ = ["SIFIDMetric", "frechet_distance", "gaussian_statistics", "sifid"]


def gaussian_statistics(features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean and covariance of a set of feature vectors, in float64.

    The covariance has Bessel's correction (divides by ``n - 1``), as ``numpy.cov`` in the FID and SIFID references.

    Args:
        features: ``(n, D)`` vectors, ``n >= 2``.

    Returns:
        ``(D,)`` mean and ``(D, D)`` covariance.

    Raises:
        ValueError: when ``features`` is not 2-D or holds fewer than two vectors.

    Example::

        >>> mean, covariance = gaussian_statistics(torch.tensor([[0.0], [2.0]]))
        >>> mean.tolist(), covariance.tolist()
        ([1.0], [[2.0]])
    """
    if features.ndim != 2 or features.shape[0] < 2:
        raise ValueError(f"features must be (n, D) with n >= 2 vectors, got shape {tuple(features.shape)}.")
    features = features.double()
    mean = features.mean(dim=0)
    centred = features - mean
    return mean, centred.T @ centred / (features.shape[0] - 1)


def _psd_square_root(matrix: torch.Tensor) -> torch.Tensor:
    """Symmetric square root of a symmetric positive semi-definite matrix; rounding's negative eigenvalues -> 0."""
    eigenvalues, eigenvectors = torch.linalg.eigh(matrix)
    return (eigenvectors * eigenvalues.clamp_min(0).sqrt()) @ eigenvectors.T


def frechet_distance(
    mean_a: torch.Tensor, covariance_a: torch.Tensor, mean_b: torch.Tensor, covariance_b: torch.Tensor
) -> torch.Tensor:
    """Fréchet (2-Wasserstein) distance between two Gaussians: ``|m_a - m_b|^2 + tr(C_a + C_b - 2 (C_a C_b)^1/2)``.

    The FID references (and ``monai.metrics.fid``) take ``scipy.linalg.sqrtm`` of the non-symmetric product
    ``C_a C_b``, add ``1e-6`` to the diagonals when that fails, and drop an imaginary part. Here, with
    ``M = C_a^1/2 C_b^1/2`` (symmetric roots from ``eigh``), ``C_a C_b`` has the eigenvalues of
    ``C_a^1/2 C_b C_a^1/2 = M M^T``, so ``tr (C_a C_b)^1/2`` is the sum of the singular values of ``M``. This needs
    no scipy (not a dependency, so MONAI's version cannot run here), no complex numbers and no print; singular
    covariances (fewer positions than channels, dead ReLUs) need no offset, and a set compared with itself scores
    zero to about 1e-14 of its covariance trace, where square roots of rounding-level eigenvalues would leave some
    1e-7. Computed in float64.

    Args:
        mean_a: ``(D,)`` mean of the first set.
        covariance_a: ``(D, D)`` covariance of the first set.
        mean_b: ``(D,)`` mean of the second set.
        covariance_b: ``(D, D)`` covariance of the second set.

    Returns:
        Scalar float64 tensor; zero for equal statistics up to rounding, which may leave it slightly negative.

    Example::

        >>> one = torch.ones(1, 1)
        >>> float(frechet_distance(torch.zeros(1), one, torch.full((1,), 2.0), 4 * one))  # 2**2 + (1 - 2)**2
        5.0
    """
    mean_a, mean_b = mean_a.double(), mean_b.double()
    covariance_a, covariance_b = covariance_a.double(), covariance_b.double()
    trace_of_root = torch.linalg.svdvals(_psd_square_root(covariance_a) @ _psd_square_root(covariance_b)).sum()
    difference = mean_a - mean_b
    return difference @ difference + covariance_a.trace() + covariance_b.trace() - 2 * trace_of_root


def _position_statistics(feature_map: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Statistics of the ``(C,)`` vectors at every position of one ``(C, H, W)`` map (SinGAN's SIFID)."""
    if feature_map.shape[-2] * feature_map.shape[-1] < 2:
        raise ValueError(
            f"SIFID needs at least two feature positions per image; a {tuple(feature_map.shape[-2:])} map has fewer: "
            "use larger images."
        )
    return gaussian_statistics(feature_map.flatten(1).T)


def sifid(real: torch.Tensor, fake: torch.Tensor, network: InceptionSIFIDFeatures) -> torch.Tensor:
    """SIFID of each generated image against its real image.

    Shaham, Dekel and Michaeli, "SinGAN: Learning a Generative Model from a Single Natural Image", ICCV 2019: the
    Fréchet distance between the distributions of the 64-d Inception vectors at all positions of one real image
    and of one fake image. As in SinGAN's ``SIFID/sifid_score.py`` the statistics are per image (batch size 1
    there) and the covariance is ``numpy.cov``'s; see :class:`InceptionSIFIDFeatures` for the network and input.

    Args:
        real: RGB images in [0, 1], ``(N, 3, H, W)``, or ``(1, 3, H, W)`` to score every fake image against one real
            image (a SinGAN training image and its samples).
        fake: RGB images in [0, 1], ``(N, 3, H', W')``; the sizes of real and fake may differ.
        network: a built :class:`InceptionSIFIDFeatures`, on the device of the images.

    Returns:
        ``(N,)`` float64 distances.

    Raises:
        ValueError: when the batch sizes disagree, the images are not RGB, or too small for two feature positions.

    Example::

        >>> net = InceptionSIFIDFeatures(pretrained=False)
        >>> image = torch.rand(1, 3, 24, 24)
        >>> bool(sifid(image, image, net).abs().max() < 1e-6)
        True
    """
    if real.ndim != 4 or fake.ndim != 4 or real.shape[0] not in (1, fake.shape[0]):
        raise ValueError(
            f"real {tuple(real.shape)} and fake {tuple(fake.shape)} must be (N, 3, H, W) batches of one size, "
            "or real a batch of one."
        )
    real_features, fake_features = network(real), network(fake)
    real_statistics = [_position_statistics(feature_map) for feature_map in real_features]
    if len(real_statistics) == 1:
        real_statistics *= fake.shape[0]
    distances = [
        frechet_distance(*real_pair, *_position_statistics(fake_map))
        for real_pair, fake_map in zip(real_statistics, fake_features)
    ]
    return torch.stack(distances)


class SIFIDMetric(RegressionMetric):
    """SIFID (Shaham et al., ICCV 2019) of generated images (``y_pred``) against real ones (``y``), image by image.

    A MONAI cumulative metric: every call buffers one ``(N, 1)`` column of :func:`sifid` values, and
    :meth:`aggregate` reduces them (mean by default; ``"none"`` returns them all). SinGAN reports the mean SIFID of
    samples against their training images. ``y`` is a batch of the size of ``y_pred``, or a batch of one image
    for all (lists of channel-first images are instead paired item by item, as MONAI does). The Inception weights
    are the user's: see :class:`InceptionSIFIDFeatures`.

    Args:
        network: a built :class:`InceptionSIFIDFeatures`.
        reduction: a ``monai.utils.MetricReduction``.
        get_not_nans: whether :meth:`aggregate` also returns the count of non-NaN values.

    Example::

        >>> metric = SIFIDMetric(InceptionSIFIDFeatures(pretrained=False))
        >>> real = torch.rand(1, 3, 24, 24)
        >>> _ = metric(y_pred=torch.rand(3, 3, 24, 24), y=real)
        >>> tuple(metric.aggregate(reduction="none").shape)
        (3, 1)
    """

    def __init__(
        self,
        network: InceptionSIFIDFeatures,
        reduction: MetricReduction | str = MetricReduction.MEAN,
        get_not_nans: bool = False,
    ) -> None:
        super().__init__(reduction=reduction, get_not_nans=get_not_nans)
        self.network = network

    def _check_shape(self, y_pred: torch.Tensor, y: torch.Tensor) -> None:
        # Unlike pixel-wise metrics, SIFID compares distributions: the two images may differ in size.
        if y_pred.ndim != 4 or y.ndim != 4 or y.shape[0] not in (1, y_pred.shape[0]):
            raise ValueError(
                f"y_pred {tuple(y_pred.shape)} and y {tuple(y.shape)} must be (N, 3, H, W) batches of one size, "
                "or y a batch of one."
            )

    def _compute_metric(self, y_pred: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return sifid(y, y_pred, self.network).float().unsqueeze(1)
