"""WGAN-GP gradient penalty as SinGAN computes it (Gulrajani et al., NeurIPS 2017)."""

from __future__ import annotations

from collections.abc import Callable

import torch

__all__ = ["gradient_penalty"]


def gradient_penalty(
    critic: Callable[[torch.Tensor], torch.Tensor],
    real: torch.Tensor,
    fake: torch.Tensor,
    weight: float = 0.1,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """``weight * mean((||grad_x D(x)||_2 - 1) ** 2)`` at ``x = a * real + (1 - a) * fake``.

    As in the reference's ``calc_gradient_penalty``: one mixing weight ``a ~ U(0, 1)`` for the whole image (not
    one per pixel), and the gradient norm taken over channels at every pixel, so the critic is held 1-Lipschitz
    per patch rather than over the whole image. The penalty is differentiable (``create_graph=True``).

    Args:
        critic: the critic, mapping ``(N, C, *spatial)`` to patch scores.
        real: the real stack.
        fake: the generated stack, same shape (detached or not: the penalty never reaches the generator).
        weight: the reference's ``lambda_grad``.
        generator: source of the mixing weight.

    Returns:
        A scalar tensor.
    """
    mix = torch.rand(1, generator=generator, device=generator.device if generator is not None else None)
    mix = mix.to(real.device)
    interpolates = (mix * real + (1 - mix) * fake.detach()).requires_grad_(True)
    scores = critic(interpolates)
    (gradients,) = torch.autograd.grad(scores.sum(), interpolates, create_graph=True)
    return ((gradients.norm(2, dim=1) - 1) ** 2).mean() * weight
