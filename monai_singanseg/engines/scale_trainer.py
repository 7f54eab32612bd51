"""WGAN-GP training of one SinGAN scale, one reference iteration per ``step()``."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import torch
from torch import nn

from monai_singanseg.losses.adversarial import critic_wasserstein_loss, generator_wasserstein_loss, per_model_mean
from monai_singanseg.losses.gradient_penalty import gradient_penalty
from monai_singanseg.networks.discriminator import SinGANDiscriminator
from monai_singanseg.networks.generator import SinGANGenerator
from monai_singanseg.settings import SinGANSegSettings
from monai_singanseg.utils.noise import GeneratorNoise, NoiseSource, draw_noise

__all__ = [
    "ScaleResult", "ScaleTrainer", "draw_noise", "ema_weight", "noise_amplitude", "repeated_batchnorm_statistics",
]

# The reference's generator loop runs three passes over the reconstruction for its one update
# (docs/reference_algorithm.md, "The generator-step quirk").
REFERENCE_RECONSTRUCTION_PASSES = 3


@contextlib.contextmanager
def repeated_batchnorm_statistics(module: nn.Module, passes: int) -> Iterator[None]:
    """One forward pass inside updates BatchNorm running statistics as ``passes`` identical passes would.

    ``passes`` updates ``r <- (1 - m) r + m b`` with the same batch statistics ``b`` equal one update with momentum
    ``1 - (1 - m) ** passes``; the outputs and gradients of a training-mode pass do not depend on the momentum.
    """
    norms = [m for m in module.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.momentum is not None]
    saved = [m.momentum for m in norms]
    for m in norms:
        m.momentum = 1 - (1 - m.momentum) ** passes
    try:
        yield
    finally:
        for m, momentum in zip(norms, saved):
            m.momentum = momentum


def noise_amplitude(
    real: torch.Tensor, coarser_reconstruction: torch.Tensor | None, factor: float = 0.1, num_models: int = 1
) -> torch.Tensor:
    """The reference's noise amplitude per model: ``factor * RMSE(real, up(reconstruction of the coarser scales))``.

    The coarsest scale (no coarser reconstruction) has amplitude 1: its input is pure noise.

    Returns:
        Shape ``(num_models,)``.
    """
    if coarser_reconstruction is None:
        return torch.ones(num_models, device=real.device)
    squared_error = (coarser_reconstruction - real) ** 2
    return factor * torch.sqrt(per_model_mean(squared_error, num_models))


def ema_weight(decay: float, updates: int) -> float:
    """How much of the newest weights an exponential moving average takes in at its ``updates``-th update (from 0):
    ``1 - min(decay, (1 + updates) / (10 + updates))``, TensorFlow's ``ExponentialMovingAverage`` warm-up, so the average of a
    short scale forgets its starting weights."""
    return 1 - min(decay, (1 + updates) / (10 + updates))


@dataclass
class ScaleResult:
    """What one trained scale leaves behind."""

    scale: int
    generator: SinGANGenerator
    critic: SinGANDiscriminator
    noise_amplitude: torch.Tensor
    reconstruction_noise: torch.Tensor


class ScaleTrainer:
    """Trains generator and critic of one scale against the frozen coarser scales, for one or many models.

    One :meth:`step` is one reference iteration (``training.train_single_scale``):

    1. draw this iteration's noise map (at the coarsest scale also a new reconstruction noise: the reference
       redraws ``z_opt`` there every iteration and keeps the last one);
    2. ``critic_steps`` critic updates, each with a fresh random sample through the frozen coarser scales, loss
       ``-D(real) + D(fake) + gradient penalty`` (the penalty every ``gradient_penalty_interval`` updates);
    3. ``generator_steps`` generator updates on ``-D(fake) + alpha * MSE(G(z_opt), real)`` (the reconstruction
       every ``reconstruction_interval`` updates). With one step the generator reuses the last critic step's fake, as
       the reference; more steps redraw the fake each time.
    4. the learning-rate schedules advance (x ``lr_decay`` once, after ``lr_decay_fraction`` of this scale's
       iterations).

    With ``reference_batchnorm_statistics`` the reconstruction pass of step 3 advances the generator's BatchNorm
    running statistics as the reference's three identical passes do, and after the scale's last update one more
    pass over the reconstruction advances them through the updated weights, as the reference's sample-saving pass at
    its last iteration does. Only these statistics change: frozen scales sample with them.

    With ``generator_ema`` the weights of every generator the scale updates are averaged over its updates
    (:func:`ema_weight`), and the average replaces them after the last update, before that last BatchNorm pass.

    ``M = len(randoms)`` models train at once when ``generator`` and ``critic`` are grouped (``num_models=M``) and
    stacks hold ``M * C`` channels: every loss is taken per model and summed, every random draw comes from the
    model's own generator in the single-model order, and Adam is elementwise, so each model follows exactly the
    path it would follow alone.

    Args:
        scale: index of this scale (0 = coarsest).
        real: the training stack(s) at this scale, ``(1, M * C, *shape)``.
        generator: fresh or warm-started generator of this scale, on ``real``'s device.
        critic: fresh or warm-started critic of this scale.
        settings: the training settings.
        randoms: the random draws: one torch generator per model, or a
            :class:`~monai_singanseg.utils.noise.NoiseSource` of all models.
        sample_coarser: draws a random output of the frozen coarser scales, upsampled to this scale
            (``None`` at the coarsest scale).
        coarser_reconstruction: the coarser scales' reconstruction upsampled to this scale (``None`` at the coarsest).
        iterations: the iterations this scale trains for (default ``settings.iterations``): the learning rate
            decays at ``settings.lr_decay_fraction`` of them.
        trained_along: finished coarser generators that train with this scale (ConSinGAN's concurrent training),
            the one just below first; generator ``k - 1`` of them learns at ``settings.concurrent_lr_scale ** k``
            times the learning rate. ``sample_coarser`` must then keep their graph, and ``reconstruct_coarser``
            gives their reconstruction, with its graph, for every generator update; the noise amplitude stays the
            one of ``coarser_reconstruction``, as in ConSinGAN.
        reconstruct_coarser: see ``trained_along``.
    """

    def __init__(
        self,
        scale: int,
        real: torch.Tensor,
        generator: SinGANGenerator,
        critic: SinGANDiscriminator,
        settings: SinGANSegSettings,
        randoms: Sequence[torch.Generator] | NoiseSource,
        sample_coarser: Callable[[], torch.Tensor] | None = None,
        coarser_reconstruction: torch.Tensor | None = None,
        iterations: int | None = None,
        trained_along: Sequence[nn.Module] = (),
        reconstruct_coarser: Callable[[], torch.Tensor] | None = None,
    ) -> None:
        if trained_along and reconstruct_coarser is None:
            raise ValueError("coarser generators trained along need reconstruct_coarser.")
        self.scale, self.real, self.settings = scale, real, settings
        self.noise = GeneratorNoise(randoms, real.device) if isinstance(randoms, Sequence) else randoms
        self.reconstruct_coarser = reconstruct_coarser if trained_along else None
        self.iterations = settings.iterations if iterations is None else iterations
        self.num_models = self.noise.num_models
        self.channels = real.shape[1] // self.num_models
        self.generator, self.critic = generator.train(), critic.train()
        self.shape = tuple(real.shape[2:])
        self.sample_coarser = sample_coarser
        groups = [{"params": list(generator.parameters()), "lr": settings.lr_generator}]
        groups += [{"params": list(g.parameters()), "lr": settings.lr_generator * settings.concurrent_lr_scale ** k}
                   for k, g in enumerate(trained_along, start=1)]
        self.optimizer_g = self._adam(groups)
        # Every generator this scale updates: the new one and those trained along.
        self._updated_generators = nn.ModuleList([generator, *trained_along])
        # torch's AveragedModel keeps its update count on the device and reads it back at every update; the count
        # is the host's iteration here, so a step stays free of host syncs.
        self.weight_average = ([p.detach().clone() for p in self._updated_generators.parameters()]
                               if settings.generator_ema > 0 else None)
        self.optimizer_d = self._adam([{"params": list(critic.parameters()), "lr": settings.lr_critic}])
        milestones = [settings.lr_decay_iteration_of(self.iterations)]
        self.scheduler_g = torch.optim.lr_scheduler.MultiStepLR(self.optimizer_g, milestones, settings.lr_decay)
        self.scheduler_d = torch.optim.lr_scheduler.MultiStepLR(self.optimizer_d, milestones, settings.lr_decay)
        # Work that is constant within a scale, done once: the coarser reconstruction and the noise amplitude.
        amplitude = noise_amplitude(real, coarser_reconstruction, settings.noise_amplitude_factor, self.num_models)
        self.noise_amplitude = amplitude
        self._amplitude_map = amplitude.repeat_interleave(self.channels).view(1, -1, *([1] * len(self.shape)))
        self.coarser_reconstruction = torch.zeros_like(real) if coarser_reconstruction is None else coarser_reconstruction
        self.reconstruction_noise = self._noise() if scale == 0 else torch.zeros_like(real)
        self.iteration = 0  # iterations done at this scale
        self.critic_updates = 0  # critic updates done at this scale

    def _adam(self, groups: list[dict]) -> torch.optim.Adam:
        betas = (self.settings.beta1, 0.999)
        if not self.settings.fused_adam:
            return torch.optim.Adam(groups, betas=betas)
        # A tensor learning rate, which the schedulers update in place, and a fused kernel keep the host out of a step.
        for group in groups:
            group["lr"] = torch.tensor(group["lr"], device=self.real.device)
        return torch.optim.Adam(groups, betas=betas, fused=True)

    def _noise(self) -> torch.Tensor:
        return self.noise.normal(self.channels, self.shape, single_channel=self.scale == 0)

    def _coarser_sample(self) -> torch.Tensor:
        return torch.zeros_like(self.real) if self.sample_coarser is None else self.sample_coarser()

    def _reconstruction(self, passes: int = 1) -> torch.Tensor:
        # Coarser scales that train along change every update, so their reconstruction is taken afresh.
        coarser = self.coarser_reconstruction if self.reconstruct_coarser is None else self.reconstruct_coarser()
        rec_input = self._amplitude_map * self.reconstruction_noise + coarser
        with repeated_batchnorm_statistics(self.generator, passes):
            return self.generator(rec_input, coarser)

    def _reconstruction_loss(self) -> torch.Tensor:
        # Lazy, as the penalty: every ``interval`` generator updates, ``interval`` times as strong, and advancing
        # the BatchNorm statistics as the skipped passes would have.
        interval = self.settings.reconstruction_interval
        passes = REFERENCE_RECONSTRUCTION_PASSES if self.settings.reference_batchnorm_statistics else 1
        rec = self._reconstruction(passes * interval)
        squared_error = (rec - self.real) ** 2
        weight = self.settings.reconstruction_weight * interval
        return weight * per_model_mean(squared_error, self.num_models).sum()

    def _reconstruction_due(self, generator_update: int) -> bool:
        return (self.settings.reconstruction_weight != 0
                and generator_update % self.settings.reconstruction_interval == 0)

    def _penalty(self, fake: torch.Tensor) -> torch.Tensor:
        # Lazy regularisation: the penalty every ``interval`` critic updates, ``interval`` times as strong. Its
        # double backward is about a sixth of a finest-scale step; interval 1 draws and computes as the reference
        # does.
        interval = self.settings.gradient_penalty_interval
        due = self.critic_updates % interval == 0
        self.critic_updates += 1
        if not due:
            return torch.zeros((), device=self.real.device)
        weight = self.settings.gradient_penalty_weight * interval
        return gradient_penalty(self.critic, self.real, fake, weight, mix=self.noise.uniform())

    def step(self) -> dict[str, torch.Tensor]:
        """One training iteration; returns its losses (summed over models) as detached tensors, with no host sync."""
        if self.scale == 0:
            self.reconstruction_noise = self._noise()
        noise = self._noise()
        for j in range(self.settings.critic_steps):
            # Only the last critic step's fake feeds the generator update: the others need no graph.
            with torch.set_grad_enabled(j == self.settings.critic_steps - 1):
                previous = self._coarser_sample()
                fake = self.generator(self._amplitude_map * noise + previous, previous)
            penalty = self._penalty(fake)
            critic_loss = critic_wasserstein_loss(self.critic(self.real), self.critic(fake.detach())) + penalty
            self.optimizer_d.zero_grad(set_to_none=True)
            critic_loss.backward()
            self.optimizer_d.step()

        self.critic.requires_grad_(False)
        for s in range(self.settings.generator_steps):
            if s > 0:
                fake = self.generator(self._amplitude_map * noise + previous, previous)
            adversarial = generator_wasserstein_loss(self.critic(fake))
            reconstruction = torch.zeros((), device=self.real.device)
            if self._reconstruction_due(self.iteration * self.settings.generator_steps + s):
                reconstruction = self._reconstruction_loss()
            self.optimizer_g.zero_grad(set_to_none=True)
            (adversarial + reconstruction).backward()
            self.optimizer_g.step()
        self.critic.requires_grad_(True)

        self.iteration += 1
        if self.weight_average is not None:
            self._average_weights()
        if self.settings.reference_batchnorm_statistics and self.iteration == self.iterations:
            with torch.no_grad():
                self._reconstruction()
        self.scheduler_d.step()
        self.scheduler_g.step()
        return {
            "critic": critic_loss.detach(),
            "gradient_penalty": penalty.detach(),
            "generator": adversarial.detach(),
            "reconstruction": reconstruction.detach(),
        }

    @torch.no_grad()
    def _average_weights(self) -> None:
        weight = ema_weight(self.settings.generator_ema, self.iteration - 1)
        last = self.iteration == self.iterations
        for average, live in zip(self.weight_average, self._updated_generators.parameters()):
            average.lerp_(live, weight)
            # The average becomes the scale's result: the generators sample and reconstruct with it from here on.
            if last:
                live.copy_(average)

    def result(self) -> ScaleResult:
        return ScaleResult(
            self.scale, self.generator, self.critic, self.noise_amplitude.detach(), self.reconstruction_noise.detach()
        )
