"""Wasserstein critic and generator losses of SinGAN (Arjovsky et al., 2017), per model and summed."""

from __future__ import annotations

import torch

__all__ = ["critic_wasserstein_loss", "generator_wasserstein_loss", "per_model_mean"]


def per_model_mean(x: torch.Tensor, num_models: int = 1) -> torch.Tensor:
    """Mean of each model's part of ``x`` ``(N, num_models * C, *spatial)``: shape ``(num_models,)``.

    Models trained together as groups are scored separately and their losses summed, so each model's gradient is
    exactly what it would be alone.
    """
    return x.transpose(0, 1).reshape(num_models, -1).mean(dim=1)


def critic_wasserstein_loss(real_scores: torch.Tensor, fake_scores: torch.Tensor) -> torch.Tensor:
    """``-mean D(real) + mean D(fake)`` per model (one score channel each), summed: the reference's
    ``errD_real + errD_fake``."""
    num_models = real_scores.shape[1]
    return (per_model_mean(fake_scores, num_models) - per_model_mean(real_scores, num_models)).sum()


def generator_wasserstein_loss(fake_scores: torch.Tensor) -> torch.Tensor:
    """``-mean D(G(z))`` per model, summed: the reference's ``errG``."""
    return -per_model_mean(fake_scores, fake_scores.shape[1]).sum()
