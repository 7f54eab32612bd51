"""WGAN-GP gradient penalty as SinGAN computes it (Gulrajani et al., NeurIPS 2017)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch

from monai_singanseg.utils.noise import generator_uniform

__all__ = ["gradient_penalty"]


def gradient_penalty(
    critic: Callable[[torch.Tensor], torch.Tensor],
    real: torch.Tensor,
    fake: torch.Tensor,
    weight: float = 0.1,
    generator: torch.Generator | Sequence[torch.Generator] | None = None,
    mix: torch.Tensor | None = None,
) -> torch.Tensor:
    """``weight * mean((||grad_x D(x)||_2 - 1) ** 2)`` at ``x = a * real + (1 - a) * fake``.

    As in the reference's ``calc_gradient_penalty``: one mixing weight ``a ~ U(0, 1)`` for the whole image (not
    one per pixel), and the gradient norm taken over channels at every pixel, so the critic is held 1-Lipschitz
    per patch rather than over the whole image. The penalty is differentiable (``create_graph=True``).

    For ``M`` models trained together (a grouped critic with ``M`` score channels, stacks of ``M * C`` channels),
    each model gets its own mixing weight from its own generator, its own per-pixel norms over its ``C`` channels,
    and its own mean; the penalties are summed.

    Args:
        critic: the critic, mapping ``(N, M * C, *spatial)`` to ``(N, M, *patches)`` scores.
        real: the real stack.
        fake: the generated stack, same shape (detached or not: the penalty never reaches the generator).
        weight: the reference's ``lambda_grad``.
        generator: source of the mixing weight; a sequence gives one generator per model.
        mix: the mixing weights ``(M,)``, drawn by the caller (e.g. from a
            :class:`~monai_singanseg.utils.noise.NoiseSource`); ``generator`` is then not used.

    Returns:
        A scalar tensor.
    """
    if mix is None:
        mix = generator_uniform(list(generator) if isinstance(generator, Sequence) else [generator], real.device)
    num_models = mix.numel()
    mix = mix.repeat_interleave(real.shape[1] // num_models)
    mix = mix.view(1, -1, *([1] * (real.ndim - 2)))
    interpolates = (mix * real + (1 - mix) * fake.detach()).requires_grad_(True)
    scores = critic(interpolates)
    (gradients,) = torch.autograd.grad(scores.sum(), interpolates, create_graph=True)
    per_model = gradients.unflatten(1, (num_models, -1))  # (N, M, C, *spatial)
    norms = per_model.norm(2, dim=2)  # (N, M, *spatial)
    penalties = ((norms - 1) ** 2).transpose(0, 1).reshape(num_models, -1).mean(dim=1)
    return penalties.sum() * weight
