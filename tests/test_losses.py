from __future__ import annotations

import pytest
import torch

from monai_singanseg.engines.scale_trainer import noise_amplitude
from monai_singanseg.losses import critic_wasserstein_loss, generator_wasserstein_loss, gradient_penalty
from monai_singanseg.networks import SinGANDiscriminator


def test_gradient_penalty_equals_direct_computation():
    torch.manual_seed(0)
    critic = SinGANDiscriminator(2, 4, features=8)
    real, fake = torch.randn(1, 4, 20, 20), torch.randn(1, 4, 20, 20)
    penalty = gradient_penalty(critic, real, fake, weight=0.1, generator=torch.Generator().manual_seed(5))

    mix = torch.rand(1, generator=torch.Generator().manual_seed(5))
    x = (mix * real + (1 - mix) * fake).requires_grad_(True)
    (grad,) = torch.autograd.grad(critic(x), x, grad_outputs=torch.ones_like(critic(x)))
    per_pixel_norm = grad.pow(2).sum(dim=1).sqrt()  # norm over channels at every pixel, as the reference
    expected = 0.1 * ((per_pixel_norm - 1) ** 2).mean()
    torch.testing.assert_close(penalty, expected)


def test_gradient_penalty_reaches_the_critic_not_the_fake():
    critic = SinGANDiscriminator(2, 4, features=8)
    fake = torch.randn(1, 4, 16, 16, requires_grad=True)
    gradient_penalty(critic, torch.randn(1, 4, 16, 16), fake).backward()
    assert fake.grad is None
    assert critic.head.conv.weight.grad is not None


def test_wasserstein_losses_are_mean_score_differences():
    real, fake = torch.tensor([1.0, 3.0]).view(1, 1, 2), torch.tensor([0.5, 0.5]).view(1, 1, 2)
    assert critic_wasserstein_loss(real, fake) == pytest.approx(0.5 - 2.0)
    assert generator_wasserstein_loss(fake) == pytest.approx(-0.5)


def test_noise_amplitude_is_a_tenth_of_the_coarser_reconstruction_rmse():
    real = torch.zeros(1, 3, 8, 8)
    reconstruction = torch.full((1, 3, 8, 8), 0.5)
    assert noise_amplitude(real, reconstruction, 0.1).item() == pytest.approx(0.05)
    assert noise_amplitude(real, None).item() == 1.0
