"""Perceptual scores for the report, when the user supplies network weights: SIFID (SinGAN) and LPIPS.

Both compare every synthetic image with "its" real image: the one it was generated from when the datalist says so,
else its nearest real image (the grouping the report already uses for diversity).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import torch

from monai_singanseg.metrics.lpips import lpips, lpips_diversity
from monai_singanseg.metrics.sifid import sifid
from monai_singanseg.networks.inception_sifid import InceptionSIFIDFeatures
from monai_singanseg.networks.lpips import LPIPSAlexNet

__all__ = ["PerceptualNetworks", "perceptual_scores"]


@dataclass(frozen=True)
class PerceptualNetworks:
    """The weight-dependent networks of the report; a ``None`` network leaves its score out.

    Attributes:
        sifid: Inception features for SIFID (Shaham et al., SinGAN, ICCV 2019).
        lpips: LPIPS v0.1 on AlexNet (Zhang et al., CVPR 2018).
    """

    sifid: InceptionSIFIDFeatures | None = None
    lpips: LPIPSAlexNet | None = None

    @classmethod
    def from_files(
        cls,
        sifid: bool = False,
        inception_weights: str | os.PathLike | None = None,
        lpips: bool = False,
        alexnet_weights: str | os.PathLike | None = None,
        lpips_weights: str | os.PathLike | None = None,
    ) -> PerceptualNetworks:
        """Build the networks asked for from weight files (``None`` paths: the torch hub cache).

        Raises:
            FileNotFoundError: a weight file is missing; the message names it and where to put it.
            ValueError: a file holds other weights.
        """
        return cls(
            InceptionSIFIDFeatures(weights_path=inception_weights) if sifid else None,
            LPIPSAlexNet(alexnet_weights_path=alexnet_weights, lpips_weights_path=lpips_weights) if lpips else None,
        )


def _rgb(images: torch.Tensor) -> torch.Tensor:
    # Both networks take RGB in [0, 1]; grey pictures are repeated, as torchvision's Grayscale(3) does.
    return images.expand(-1, 3, -1, -1) if images.shape[1] == 1 else images[:, :3]


def _mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


@torch.no_grad()
def perceptual_scores(
    real_images: torch.Tensor,
    synthetic_images: torch.Tensor,
    groups: dict[int, list[int]],
    networks: PerceptualNetworks,
) -> dict[str, Any]:
    """SIFID and LPIPS of every synthetic image against its real image, and LPIPS diversity within each group.

    Args:
        real_images: ``(R, C, H, W)`` in ``[0, 1]``.
        synthetic_images: ``(S, C, H, W)`` in ``[0, 1]``.
        groups: real index -> indices of the synthetic images generated from (or matched to) it.
        networks: the networks to score with.

    Returns:
        ``sifid_mean`` (lower: closer internal patch statistics; SinGAN reports about 0.09 for samples drawn from the
        coarsest scale of natural images), ``lpips_to_real_mean`` (lower: perceptually closer; near 0 means a
        copy), ``lpips_diversity`` (mean pairwise LPIPS between samples of one real image, over groups with two or
        more), each ``None`` when its network is absent.

    Example::

        >>> networks = PerceptualNetworks.from_files(lpips=True)  # doctest: +SKIP
        >>> scores = perceptual_scores(real, synthetic, {0: [0, 1]}, networks)  # doctest: +SKIP
    """
    real, synthetic = _rgb(real_images), _rgb(synthetic_images)
    sifid_values: list[float] = []
    lpips_values: list[float] = []
    diversities: list[float] = []
    for real_index, members in groups.items():
        own_real, samples = real[real_index : real_index + 1], synthetic[members]
        if networks.sifid is not None:
            sifid_values += sifid(own_real, samples, networks.sifid).tolist()
        if networks.lpips is not None:
            lpips_values += lpips(own_real.expand_as(samples), samples, networks.lpips).tolist()
            if len(members) >= 2:
                diversities.append(float(lpips_diversity(samples, networks.lpips)))
    return {
        "sifid_mean": _mean(sifid_values) if networks.sifid is not None else None,
        "lpips_to_real_mean": _mean(lpips_values) if networks.lpips is not None else None,
        "lpips_diversity": _mean(diversities) if networks.lpips is not None else None,
    }
