"""Scale-by-scale SinGAN-Seg training on an ignite ``Engine``: one epoch per scale, one iteration per step."""

from __future__ import annotations

import hashlib
from typing import Any

import torch
from ignite.engine import Engine, Events

from monai_singanseg.engines.scale_trainer import ScaleResult, ScaleTrainer
from monai_singanseg.networks.blocks import init_singan_weights_
from monai_singanseg.networks.discriminator import SinGANDiscriminator
from monai_singanseg.networks.singanseg import SinGANSeg
from monai_singanseg.settings import SinGANSegSettings
from monai_singanseg.utils.layout import ChannelLayout
from monai_singanseg.utils.pyramid import compute_pyramid, features_at_scale
from monai_singanseg.utils.resize import resize

__all__ = ["SinGANSegTrainer", "fingerprint", "real_pyramid"]


def real_pyramid(stack: torch.Tensor, scale_shapes: list[tuple[int, ...]], first_shape: tuple[int, ...]) -> list[torch.Tensor]:
    """The training stack at every scale: shrunk to ``first_shape`` once, then to each scale from there (reference)."""
    first = resize(stack, first_shape).clamp(-1, 1)
    return [resize(first, shape).clamp(-1, 1) for shape in scale_shapes]


def fingerprint(stack: torch.Tensor) -> str:
    """A short hash of the training stack, to refuse resuming with another image."""
    return hashlib.sha256(stack.detach().cpu().float().contiguous().numpy().tobytes()).hexdigest()[:16]


class SinGANSegTrainer:
    """Trains a :class:`SinGANSeg` pyramid on one encoded image+label stack.

    The ignite ``engine`` runs one epoch per scale (``engine.state.epoch - 1`` is the scale being trained) and one
    iteration per reference training iteration, so ignite and MONAI handlers attach as usual: a progress bar,
    loss logging (``engine.state.output`` holds the detached losses), TensorBoard, and
    :class:`monai_singanseg.handlers.PyramidCheckpoint` for a checkpoint after every scale and resume.

    Args:
        stack: the training stack ``(C, *spatial)`` in [-1, 1], from :meth:`ChannelLayout.encode`.
        layout: the channel layout of ``stack``.
        settings: training settings.

    Example::

        >>> trainer = SinGANSegTrainer(layout.encode(image, label), layout, SinGANSegSettings(iterations=200))
        >>> ProgressBar().attach(trainer.engine)
        >>> model = trainer.run()
    """

    def __init__(self, stack: torch.Tensor, layout: ChannelLayout, settings: SinGANSegSettings) -> None:
        if stack.ndim != layout.spatial_dims + 1 or stack.shape[0] != layout.channels:
            raise ValueError(f"stack {tuple(stack.shape)} does not match the layout ({layout.channels} channels, "
                             f"{layout.spatial_dims}D).")
        if not torch.isfinite(stack).all():
            raise ValueError("the training stack contains NaN or Inf values.")
        self.settings, self.layout = settings, layout
        self.device = torch.device(settings.device)
        self.spec = compute_pyramid(stack.shape[1:], settings.min_size, settings.max_size, settings.scale_factor)
        self.fingerprint = fingerprint(stack)
        batch = stack.float().unsqueeze(0).to(self.device)
        self.reals = real_pyramid(batch, list(self.spec.scale_shapes), self.spec.first_shape)
        self.pyramid = SinGANSeg(
            layout.spatial_dims, layout, self.spec.scale_shapes, self.spec.scale_factor,
            settings.num_layers, settings.kernel_size, settings.base_features, settings.max_features,
        ).to(self.device)
        self.init_random = torch.Generator().manual_seed(settings.seed)
        self.random = torch.Generator(self.device).manual_seed(settings.seed + 1)
        self.previous: ScaleResult | None = None
        self.scale_trainer: ScaleTrainer | None = None
        self.engine = Engine(self._iteration)
        self.engine.add_event_handler(Events.EPOCH_STARTED, self._start_scale)
        self.engine.add_event_handler(Events.EPOCH_COMPLETED, self._finish_scale)

    @property
    def scale(self) -> int:
        """The scale being trained (or the next one)."""
        return self.pyramid.num_trained_scales

    def _features(self, scale: int) -> int:
        return features_at_scale(scale, self.settings.base_features, self.settings.max_features)

    def _build_critic(self, scale: int) -> SinGANDiscriminator:
        return SinGANDiscriminator(self.layout.spatial_dims, self.layout.channels, self._features(scale),
                                   self.settings.num_layers, self.settings.kernel_size)

    def _start_scale(self) -> None:
        scale = self.scale
        generator, critic = self.pyramid.build_generator(scale), self._build_critic(scale)
        init_singan_weights_(generator, self.init_random)
        init_singan_weights_(critic, self.init_random)
        previous = self.previous
        # The reference starts a scale from the previous one's weights whenever the widths match.
        if self.settings.warm_start and previous is not None and self._features(scale - 1) == self._features(scale):
            generator.load_state_dict(previous.generator.state_dict())
            critic.load_state_dict(previous.critic.state_dict())
        generator.to(self.device).requires_grad_(True)
        critic.to(self.device).requires_grad_(True)
        self.scale_trainer = ScaleTrainer(
            self.pyramid, self.reals[scale], generator, critic, self.settings, self.random
        )

    def _iteration(self, engine: Engine, batch: Any) -> dict[str, torch.Tensor]:
        assert self.scale_trainer is not None
        return self.scale_trainer.step()

    def _finish_scale(self) -> None:
        assert self.scale_trainer is not None
        result = self.scale_trainer.result()
        self.pyramid.add_scale(result.generator, result.noise_amplitude, result.reconstruction_noise)
        result.critic.requires_grad_(False).train(False)
        self.previous, self.scale_trainer = result, None

    def run(self) -> SinGANSeg:
        """Train the remaining scales and return the pyramid."""
        remaining = self.spec.num_scales - self.scale
        if remaining > 0:
            self.engine.run(data=None, max_epochs=self.spec.num_scales, epoch_length=self.settings.iterations)
        return self.pyramid

    # -- resume -------------------------------------------------------------------------------------------------

    def state_dict(self) -> dict[str, Any]:
        """Everything needed to continue after the last finished scale: plain data and tensors only."""
        previous = self.previous
        return {
            "settings": self.settings.to_dict(),
            "fingerprint": self.fingerprint,
            "critic": None if previous is None else {k: v.cpu() for k, v in previous.critic.state_dict().items()},
            "init_random": self.init_random.get_state(),
            "random": self.random.get_state(),
            "complete": self.pyramid.is_complete,
        }

    def load_state_dict(self, pyramid: SinGANSeg, state: dict[str, Any]) -> None:
        """Continue from a half-trained ``pyramid`` and the trainer ``state`` saved beside it.

        Raises:
            ValueError: the checkpoint was trained on another image or with other settings.
        """
        if state["fingerprint"] != self.fingerprint:
            raise ValueError("the checkpoint was trained on another image (or label): cannot resume from it.")
        saved = SinGANSegSettings.from_dict(state["settings"])
        differing = sorted(k for k, v in saved.to_dict().items() if k != "device" and v != getattr(self.settings, k))
        if differing:
            raise ValueError(f"the checkpoint was trained with other settings ({', '.join(differing)}): cannot resume.")
        self.pyramid = pyramid.to(self.device)
        self.init_random.set_state(state["init_random"])
        self.random.set_state(state["random"])
        if pyramid.num_trained_scales > 0:
            scale = pyramid.num_trained_scales - 1
            critic = self._build_critic(scale)
            critic.load_state_dict(state["critic"])
            self.previous = ScaleResult(scale, pyramid.generators[scale], critic.to(self.device),
                                        pyramid.noise_amplitudes[scale], pyramid.reconstruction_noise[scale])
        self.engine.load_state_dict({
            "epoch": pyramid.num_trained_scales,
            "max_epochs": self.spec.num_scales,
            "epoch_length": self.settings.iterations,
        })
