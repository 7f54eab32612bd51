"""Diversity of generated samples: per-pixel spread over samples relative to the spread of the training image."""

from __future__ import annotations

import torch

from monai_singanseg.metrics.paired_sets import PairedSetMetric

__all__ = ["DiversityMetric", "diversity_score"]


def diversity_score(samples: torch.Tensor, reference: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """Mean over pixels of the std over samples, divided by the std of the reference image.

    This is the diversity measure of SinGAN (Shaham et al., ICCV 2019): zero when every sample is
    the same image, about 0.5 for SinGAN samples drawn from the coarsest scale.

    Args:
        samples: ``(N, C, *spatial)`` samples generated from one training image, ``N >= 2``.
        reference: the training image, ``(C, *spatial)``, or ``(M, C, *spatial)`` whose values together give the
            normalising std (a batch holding the same image ``M`` times gives that image's std).
        eps: smallest accepted reference std.

    Returns:
        Scalar tensor.

    Raises:
        ValueError: if there are fewer than two samples, the shapes disagree, or the reference is constant.

    Example::

        >>> image = torch.rand(3, 8, 8)
        >>> float(diversity_score(image.expand(5, 3, 8, 8), image))
        0.0
    """
    if samples.ndim < 3 or samples.shape[0] < 2:
        raise ValueError(f"samples must be (N, C, *spatial) with N >= 2, got shape {tuple(samples.shape)}.")
    if tuple(reference.shape[-(samples.ndim - 1) :]) != tuple(samples.shape[1:]):
        raise ValueError(
            f"reference {tuple(reference.shape)} must have the sample shape {tuple(samples.shape[1:])}."
        )
    reference_std = reference.float().std(correction=0)
    if reference_std < eps:
        raise ValueError("reference is constant: its std is zero, so diversity is undefined.")
    # Population std (no Bessel correction), so a set of identical samples scores exactly zero.
    pixel_std = samples.float().std(dim=0, correction=0)
    return pixel_std.mean() / reference_std


class DiversityMetric(PairedSetMetric):
    """Accumulates samples and their training image, then reports :func:`diversity_score`.

    SinGAN's diversity (Shaham et al., "SinGAN: Learning a Generative Model from a Single Natural Image",
    ICCV 2019), used by SinGAN-Seg (Thambawita et al., PLoS ONE 2022) to show that sampling from
    the coarsest scale varies the polyp. Call it with ``y_pred`` a batch of samples and ``y`` the training image
    (a batch of it, or one channel-first image); batch sizes may differ.

    Args:
        eps: smallest accepted reference std.

    Example::

        >>> metric = DiversityMetric()
        >>> image = torch.rand(1, 3, 8, 8)
        >>> _ = metric(y_pred=torch.rand(4, 3, 8, 8), y=image)
        >>> float(metric.aggregate()) > 0
        True
    """

    def __init__(self, eps: float = 1e-8) -> None:
        self.eps = eps
        super().__init__()

    def _compute_pair(self, synthetic: torch.Tensor, real: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        # One channel-first training image is accepted as a batch of one.
        reference = real if real.ndim == synthetic.ndim else real.unsqueeze(0)
        if reference.shape[1:] != synthetic.shape[1:]:
            raise ValueError(f"y {tuple(real.shape)} must match the sample shape {tuple(synthetic.shape[1:])}.")
        return synthetic.float(), reference.float()

    def aggregate(self) -> torch.Tensor:
        """Diversity of every sample accumulated so far.

        Returns:
            Scalar tensor.

        Raises:
            RuntimeError: if nothing has been accumulated.
        """
        samples, reference = self._paired_buffers()
        return diversity_score(samples, reference, self.eps)

