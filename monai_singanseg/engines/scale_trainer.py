"""WGAN-GP training of one SinGAN scale, one reference iteration per ``step()``."""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from monai_singanseg.losses.adversarial import critic_wasserstein_loss, generator_wasserstein_loss
from monai_singanseg.losses.gradient_penalty import gradient_penalty
from monai_singanseg.networks.discriminator import SinGANDiscriminator
from monai_singanseg.networks.generator import SinGANGenerator
from monai_singanseg.networks.singanseg import SinGANSeg
from monai_singanseg.settings import SinGANSegSettings
from monai_singanseg.utils.resize import upsample_to_scale

__all__ = ["ScaleResult", "ScaleTrainer", "noise_amplitude"]


def noise_amplitude(real: torch.Tensor, coarser_reconstruction: torch.Tensor | None, factor: float = 0.1) -> torch.Tensor:
    """The reference's noise amplitude: ``factor * RMSE(real, up(reconstruction of the coarser scales))``.

    The coarsest scale (no coarser reconstruction) has amplitude 1: its input is pure noise.
    """
    if coarser_reconstruction is None:
        return torch.ones((), device=real.device)
    return factor * torch.sqrt(F.mse_loss(coarser_reconstruction, real))


@dataclass
class ScaleResult:
    """What one trained scale leaves behind."""

    scale: int
    generator: SinGANGenerator
    critic: SinGANDiscriminator
    noise_amplitude: torch.Tensor
    reconstruction_noise: torch.Tensor


class ScaleTrainer:
    """Trains generator and critic of scale ``pyramid.num_trained_scales`` against the frozen coarser scales.

    One :meth:`step` is one reference iteration (``training.train_single_scale``):

    1. draw this iteration's noise map (at the coarsest scale also a new reconstruction noise: the reference
       redraws ``z_opt`` there every iteration and keeps the last one);
    2. ``critic_steps`` critic updates, each with a fresh random sample through the frozen coarser scales, loss
       ``-D(real) + D(fake) + gradient penalty``;
    3. ``generator_steps`` generator updates on ``-D(fake) + alpha * MSE(G(z_opt), real)``. With one step the
       generator reuses the last critic step's fake, as the reference; more steps redraw the fake each time.
    4. the learning-rate schedules advance (x ``lr_decay`` once, at ``lr_decay_iteration``).

    Args:
        pyramid: the pyramid with its coarser scales trained (eval mode).
        real: the training stack at this scale, ``(1, C, *shape)``.
        generator: fresh or warm-started generator of this scale, on ``real``'s device.
        critic: fresh or warm-started critic of this scale.
        settings: the training settings.
        random: source of every random draw.
    """

    def __init__(
        self,
        pyramid: SinGANSeg,
        real: torch.Tensor,
        generator: SinGANGenerator,
        critic: SinGANDiscriminator,
        settings: SinGANSegSettings,
        random: torch.Generator,
    ) -> None:
        self.scale = pyramid.num_trained_scales
        self.pyramid, self.real, self.settings, self.random = pyramid, real, settings, random
        self.generator, self.critic = generator.train(), critic.train()
        self.shape = tuple(real.shape[2:])
        betas = (settings.beta1, 0.999)
        self.optimizer_g = torch.optim.Adam(generator.parameters(), lr=settings.lr_generator, betas=betas)
        self.optimizer_d = torch.optim.Adam(critic.parameters(), lr=settings.lr_critic, betas=betas)
        milestones = [settings.lr_decay_iteration]
        self.scheduler_g = torch.optim.lr_scheduler.MultiStepLR(self.optimizer_g, milestones, settings.lr_decay)
        self.scheduler_d = torch.optim.lr_scheduler.MultiStepLR(self.optimizer_d, milestones, settings.lr_decay)
        # Work that is constant within a scale, done once: the coarser reconstruction and the noise amplitude.
        if self.scale == 0:
            self.coarser_reconstruction = torch.zeros_like(real)
            self.noise_amplitude = noise_amplitude(real, None)
            self.reconstruction_noise = self._noise()
        else:
            self.coarser_reconstruction = upsample_to_scale(pyramid.reconstruct(), self.shape, pyramid.scale_factor)
            self.noise_amplitude = noise_amplitude(real, self.coarser_reconstruction, settings.noise_amplitude_factor)
            self.reconstruction_noise = torch.zeros_like(real)

    def _noise(self) -> torch.Tensor:
        # The coarsest scale draws one noise channel repeated over all channels, as the reference.
        channels = 1 if self.scale == 0 else self.real.shape[1]
        z = torch.randn(1, channels, *self.shape, generator=self.random, device=self.random.device)
        return z.expand_as(self.real).to(self.real.device)

    def _coarser_sample(self) -> torch.Tensor:
        if self.scale == 0:
            return torch.zeros_like(self.real)
        coarser = self.pyramid.sample(1, generator=self.random, num_scales=self.scale)
        return upsample_to_scale(coarser, self.shape, self.pyramid.scale_factor)

    def step(self) -> dict[str, torch.Tensor]:
        """One training iteration; returns its losses as detached tensors (no host sync)."""
        if self.scale == 0:
            self.reconstruction_noise = self._noise()
        noise = self._noise()
        for j in range(self.settings.critic_steps):
            previous = self._coarser_sample()
            # Only the last critic step's fake feeds the generator update: the others need no graph.
            with torch.set_grad_enabled(j == self.settings.critic_steps - 1):
                fake = self.generator(self.noise_amplitude * noise + previous, previous)
            penalty = gradient_penalty(
                self.critic, self.real, fake, self.settings.gradient_penalty_weight, generator=self.random
            )
            critic_loss = critic_wasserstein_loss(self.critic(self.real), self.critic(fake.detach())) + penalty
            self.optimizer_d.zero_grad(set_to_none=True)
            critic_loss.backward()
            self.optimizer_d.step()

        self.critic.requires_grad_(False)
        for s in range(self.settings.generator_steps):
            if s > 0:
                fake = self.generator(self.noise_amplitude * noise + previous, previous)
            adversarial = generator_wasserstein_loss(self.critic(fake))
            reconstruction = torch.zeros((), device=self.real.device)
            if self.settings.reconstruction_weight != 0:
                rec_input = self.noise_amplitude * self.reconstruction_noise + self.coarser_reconstruction
                rec = self.generator(rec_input, self.coarser_reconstruction)
                reconstruction = self.settings.reconstruction_weight * F.mse_loss(rec, self.real)
            self.optimizer_g.zero_grad(set_to_none=True)
            (adversarial + reconstruction).backward()
            self.optimizer_g.step()
        self.critic.requires_grad_(True)

        self.scheduler_d.step()
        self.scheduler_g.step()
        return {
            "critic": critic_loss.detach(),
            "gradient_penalty": penalty.detach(),
            "generator": adversarial.detach(),
            "reconstruction": reconstruction.detach(),
        }

    def result(self) -> ScaleResult:
        return ScaleResult(
            self.scale, self.generator, self.critic, self.noise_amplitude.detach(), self.reconstruction_noise.detach()
        )
