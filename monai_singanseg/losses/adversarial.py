"""Wasserstein critic and generator losses of SinGAN (Arjovsky et al., 2017)."""

from __future__ import annotations

import torch

__all__ = ["critic_wasserstein_loss", "generator_wasserstein_loss"]


def critic_wasserstein_loss(real_scores: torch.Tensor, fake_scores: torch.Tensor) -> torch.Tensor:
    """``-mean D(real) + mean D(fake)``: the critic's ``errD_real + errD_fake`` in the reference."""
    return fake_scores.mean() - real_scores.mean()


def generator_wasserstein_loss(fake_scores: torch.Tensor) -> torch.Tensor:
    """``-mean D(G(z))``: the reference's ``errG``."""
    return -fake_scores.mean()
