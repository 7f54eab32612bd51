"""Scale-by-scale SinGAN-Seg training on an ignite ``Engine``: one epoch per scale, one iteration per step.

One trainer trains one pyramid, or ``M`` single-image pyramids at once as grouped convolutions (the batched path
of the speed issue): the same code runs both, and ``M = 1`` is exactly the reference's single-model training.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import torch
from ignite.engine import Engine, Events

from monai_singanseg.engines.scale_trainer import ScaleResult, ScaleTrainer
from monai_singanseg.layout import ChannelLayout
from monai_singanseg.networks.blocks import init_singan_weights_
from monai_singanseg.networks.discriminator import SinGANDiscriminator
from monai_singanseg.networks.generator import SinGANGenerator
from monai_singanseg.networks.grouping import split_state_dict, stack_state_dicts
from monai_singanseg.networks.modelwise_conv import set_formulation_
from monai_singanseg.networks.singanseg import SinGANSeg, run_generators
from monai_singanseg.settings import SinGANSegSettings, available_device
from monai_singanseg.utils.noise import noise_source
from monai_singanseg.utils.pyramid import compute_pyramid, features_at_scale, smallest_scale_size
from monai_singanseg.utils.resize import resize, upsample_to_scale

__all__ = ["SinGANSegTrainer", "fingerprint", "real_pyramid"]


def real_pyramid(stack: torch.Tensor, scale_shapes: Sequence[Sequence[int]], first_shape: Sequence[int]) -> list[torch.Tensor]:
    """The training stack at every scale: shrunk to ``first_shape`` once, then to each scale from there (reference)."""
    first = resize(stack, first_shape).clamp(-1, 1)
    return [resize(first, shape).clamp(-1, 1) for shape in scale_shapes]


def fingerprint(stack: torch.Tensor) -> str:
    """A short hash of a training stack, to refuse resuming with another image."""
    return hashlib.sha256(stack.detach().cpu().float().contiguous().numpy().tobytes()).hexdigest()[:16]


class SinGANSegTrainer:
    """Trains :class:`SinGANSeg` pyramids, each on one encoded image+label stack.

    The ignite ``engine`` runs one epoch per scale (``engine.state.epoch - 1`` is the scale being trained) and one
    iteration per reference training iteration, so ignite and MONAI handlers attach as usual: a progress bar,
    loss logging (``engine.state.output`` holds the detached losses), TensorBoard, and
    :class:`monai_singanseg.handlers.PyramidCheckpoint` for a checkpoint after every scale and resume.

    Given a sequence of ``M`` stacks, it trains ``M`` independent pyramids at once with grouped convolutions; the
    stacks must give the same pyramid shapes (bucket images by :func:`compute_pyramid`) and channel count. Model ``m``
    then equals the single-model training of stack ``m`` with seed ``seeds[m]``, up to float rounding.

    Args:
        stacks: one training stack ``(C, *spatial)`` in [-1, 1] from :meth:`ChannelLayout.encode`, or a sequence.
        layouts: the channel layout of each stack (one, or one per stack).
        settings: training settings.
        seeds: one seed per stack (default: ``settings.seed`` for every stack).

    Example::

        >>> trainer = SinGANSegTrainer(layout.encode(image, label), layout, SinGANSegSettings(iterations=200))
        >>> ProgressBar().attach(trainer.engine)
        >>> model = trainer.run()
    """

    def __init__(
        self,
        stacks: torch.Tensor | Sequence[torch.Tensor],
        layouts: ChannelLayout | Sequence[ChannelLayout],
        settings: SinGANSegSettings,
        seeds: Sequence[int] | None = None,
    ) -> None:
        self.single = isinstance(stacks, torch.Tensor)
        stacks = [stacks] if self.single else list(stacks)
        layouts = [layouts] * len(stacks) if isinstance(layouts, ChannelLayout) else list(layouts)
        seeds = [settings.seed] * len(stacks) if seeds is None else list(seeds)
        if not stacks or len(layouts) != len(stacks) or len(seeds) != len(stacks):
            raise ValueError(f"need one layout and one seed per stack: {len(stacks)} stacks, {len(layouts)} layouts, "
                             f"{len(seeds)} seeds.")
        for i, (stack, layout) in enumerate(zip(stacks, layouts)):
            if stack.ndim != layout.spatial_dims + 1 or stack.shape[0] != layout.channels:
                raise ValueError(f"stack {i} {tuple(stack.shape)} does not match its layout ({layout.channels} "
                                 f"channels, {layout.spatial_dims}D).")
            if not torch.isfinite(stack).all():
                raise ValueError(f"training stack {i} contains NaN or Inf values.")
        specs = [compute_pyramid(s.shape[1:], settings.min_size, settings.max_size, settings.scale_factor) for s in stacks]
        if len({(spec.scale_shapes, layout.channels) for spec, layout in zip(specs, layouts)}) > 1:
            raise ValueError("stacks trained together need the same pyramid shapes and channel count: bucket them by "
                             "compute_pyramid(shape).scale_shapes first.")
        smallest = smallest_scale_size(settings.num_layers, settings.kernel_size)
        if min(specs[0].scale_shapes[0]) < smallest:
            # A very elongated image: its longest side shrunk to max_size leaves the short side below the critic's
            # receptive field, which would fail deep in a convolution.
            raise ValueError(f"an image of spatial shape {tuple(stacks[0].shape[1:])} gives a coarsest scale of "
                             f"{specs[0].scale_shapes[0]}, smaller than the critic's {smallest} px on a side: raise "
                             "max_size, or crop the image to a less elongated shape.")
        self.settings, self.layouts, self.seeds = settings, layouts, seeds
        self.num_models, self.channels = len(stacks), layouts[0].channels
        self.spatial_dims = layouts[0].spatial_dims
        self.device = available_device(settings.device)
        self.spec = specs[0]
        self.iterations_per_scale = settings.iterations_per_scale(self.spec.num_scales)
        self.fingerprints = [fingerprint(s) for s in stacks]
        # Training runs in torch's default dtype (float32 unless a caller sets float64, e.g. to compare paths exactly).
        dtype = torch.get_default_dtype()
        per_model = [real_pyramid(s.to(self.device, dtype).unsqueeze(0), self.spec.scale_shapes, spec.first_shape)
                     for s, spec in zip(stacks, specs)]
        self.reals = [torch.cat(scale, dim=1) for scale in zip(*per_model)]
        self.init_randoms = [torch.Generator().manual_seed(seed) for seed in seeds]
        # Training draws use seed + 1, so they never repeat the initialisation's stream.
        training_seeds = [seed + 1 for seed in seeds]
        self.randoms = [torch.Generator(self.device).manual_seed(seed) for seed in training_seeds]
        self.noise = noise_source(settings.noise, self.randoms, training_seeds, self.device)
        # The frozen, finished scales, kept grouped: generators, noise amplitudes (M,) and reconstruction noise.
        self.generators: list[SinGANGenerator] = []
        self.noise_amplitudes: list[torch.Tensor] = []
        self.reconstruction_noise: list[torch.Tensor] = []
        self.previous: ScaleResult | None = None
        self.scale_trainer: ScaleTrainer | None = None
        self.engine = Engine(self._iteration)
        self.engine.add_event_handler(Events.EPOCH_STARTED, self._start_scale)
        self.engine.add_event_handler(Events.EPOCH_COMPLETED, self._finish_scale)

    @property
    def scale(self) -> int:
        """The scale being trained (or the next one)."""
        return len(self.generators)

    # -- building ---------------------------------------------------------------------------------------------------

    def _features(self, scale: int) -> int:
        return features_at_scale(scale, self.settings.base_features, self.settings.max_features)

    def _network(self, cls: type, scale: int, num_models: int) -> Any:
        s = self.settings
        network = cls(self.spatial_dims, self.channels, self._features(scale), s.num_layers, s.kernel_size, num_models)
        return set_formulation_(network, s.batched_conv)

    def _initialised(self, cls: type, scale: int) -> Any:
        # Each model is initialised alone from its own seed, then packed: the grouped module holds the same weights.
        singles = [init_singan_weights_(self._network(cls, scale, 1), g) for g in self.init_randoms]
        grouped = self._network(cls, scale, self.num_models)
        grouped.load_state_dict(stack_state_dicts([m.state_dict() for m in singles]))
        return grouped

    def _amplitude_map(self, amplitudes: torch.Tensor) -> torch.Tensor:
        channel_amplitudes = amplitudes.repeat_interleave(self.channels)
        return channel_amplitudes.view(1, -1, *([1] * self.spatial_dims))

    def _run_frozen(self, noises: Sequence[torch.Tensor]) -> torch.Tensor:
        amplitudes = [self._amplitude_map(a) for a in self.noise_amplitudes[: len(noises)]]
        return run_generators(self.generators, amplitudes, noises, self.spec.scale_shapes, self.spec.scale_factor)

    def trained_along(self, scale: int) -> list[SinGANGenerator]:
        """The finished generators that train with ``scale`` (``settings.concurrent_scales``), the one below first."""
        first = max(0, scale - self.settings.concurrent_scales + 1)
        return self.generators[first:scale][::-1]

    def _coarser_graph(self) -> bool:
        # The finished scales keep a graph only when some of them train along, and only where the caller wants one.
        return torch.is_grad_enabled() and bool(self.trained_along(self.scale))

    def sample_coarser(self) -> torch.Tensor:
        """A random output of the finished scales (fresh noise at every one), upsampled to the current scale."""
        noises = [self.noise.normal(self.channels, shape, single_channel=k == 0)
                  for k, shape in enumerate(self.spec.scale_shapes[: self.scale])]
        with torch.set_grad_enabled(self._coarser_graph()):
            sample = self._run_frozen(noises)
            return upsample_to_scale(sample, self.spec.scale_shapes[self.scale], self.spec.scale_factor)

    def coarser_reconstruction(self) -> torch.Tensor:
        """The finished scales' reconstruction, upsampled to the current scale."""
        with torch.set_grad_enabled(self._coarser_graph()):
            rec = self._run_frozen(self.reconstruction_noise)
            return upsample_to_scale(rec, self.spec.scale_shapes[self.scale], self.spec.scale_factor)

    # -- ignite events ----------------------------------------------------------------------------------------------

    def _start_scale(self) -> None:
        scale = self.scale
        generator = self._initialised(SinGANGenerator, scale)
        critic = self._initialised(SinGANDiscriminator, scale)
        previous = self.previous
        # The reference starts a scale from the previous one's weights whenever the widths match.
        if self.settings.warm_start and previous is not None and self._features(scale - 1) == self._features(scale):
            generator.load_state_dict(previous.generator.state_dict())
            critic.load_state_dict(previous.critic.state_dict())
        generator.to(self.device).requires_grad_(True)
        critic.to(self.device).requires_grad_(True)
        first = scale == 0
        along = self.trained_along(scale)
        with torch.no_grad():
            coarser_reconstruction = None if first else self.coarser_reconstruction()
        # ConSinGAN trains the coarser generators along; their BatchNorms keep the running statistics they sample with.
        for coarser in along:
            coarser.requires_grad_(True)
        self.scale_trainer = ScaleTrainer(
            scale, self.reals[scale], generator, critic, self.settings, self.noise,
            sample_coarser=None if first else self.sample_coarser,
            coarser_reconstruction=coarser_reconstruction,
            iterations=self.iterations_per_scale[scale],
            trained_along=along,
            reconstruct_coarser=self.coarser_reconstruction if along else None,
        )

    def _iteration(self, engine: Engine, batch: Any) -> dict[str, torch.Tensor]:
        assert self.scale_trainer is not None
        losses = self.scale_trainer.step()
        # The engine's epochs are as long as the longest scale; a scale with fewer iterations ends its epoch early.
        if self.scale_trainer.iteration == self.scale_trainer.iterations < self.settings.iterations:
            engine.terminate_epoch()
        return losses

    def _finish_scale(self) -> None:
        assert self.scale_trainer is not None
        result = self.scale_trainer.result()
        for coarser in self.trained_along(self.scale):
            coarser.requires_grad_(False)
        result.generator.requires_grad_(False).train(False)
        result.critic.requires_grad_(False).train(False)
        self.generators.append(result.generator)
        self.noise_amplitudes.append(result.noise_amplitude)
        self.reconstruction_noise.append(result.reconstruction_noise)
        self.previous, self.scale_trainer = result, None

    def run(self) -> SinGANSeg | list[SinGANSeg]:
        """Train the remaining scales; returns the pyramid (a list of ``M`` pyramids when given a sequence)."""
        if self.scale < self.spec.num_scales:
            self.engine.run(data=None, max_epochs=self.spec.num_scales, epoch_length=self.settings.iterations)
        pyramids = self.pyramids()
        return pyramids[0] if self.single else pyramids

    # -- results and resume -----------------------------------------------------------------------------------------

    def pyramids(self) -> list[SinGANSeg]:
        """The finished scales as ``M`` independent :class:`SinGANSeg` modules (copies)."""
        s = self.settings
        pyramids = [
            SinGANSeg(self.spatial_dims, layout, self.spec.scale_shapes, self.spec.scale_factor, s.num_layers,
                      s.kernel_size, s.base_features, s.max_features).to(self.device)
            for layout in self.layouts
        ]
        for scale, grouped in enumerate(self.generators):
            states = split_state_dict(grouped.state_dict(), self.num_models)
            noises = self.reconstruction_noise[scale].split(self.channels, dim=1)
            for m, pyramid in enumerate(pyramids):
                generator = pyramid.build_generator(scale)
                generator.load_state_dict(states[m])
                pyramid.add_scale(generator.to(self.device), self.noise_amplitudes[scale][m], noises[m])
        return pyramids

    @property
    def pyramid(self) -> SinGANSeg:
        """The finished scales of a single-model trainer."""
        if not self.single:
            raise ValueError("this trainer trains several pyramids: use pyramids().")
        return self.pyramids()[0]

    def state_dict(self, model: int | None = None) -> dict[str, Any]:
        """Everything needed to continue after the last finished scale: plain data and tensors only.

        Args:
            model: for a trainer of several pyramids, the state of model ``model`` alone, as its own single-model
                run records it once finished (its settings with its seed, its fingerprint and seed, the batch
                size), without the resume state: a batch is saved only once it is complete.

        Raises:
            ValueError: ``model`` is not the index of one of the trained pyramids.
        """
        if model is not None:
            if isinstance(model, bool) or not isinstance(model, int) or not 0 <= model < self.num_models:
                raise ValueError(f"model must be an index in [0, {self.num_models}), got {model!r}.")
            return {
                "settings": replace(self.settings, seed=self.seeds[model]).to_dict(),
                "fingerprints": [self.fingerprints[model]],
                "seeds": [self.seeds[model]],
                "complete": self.scale == self.spec.num_scales,
                "models_in_batch": self.num_models,
            }
        previous = self.previous
        return {
            "settings": self.settings.to_dict(),
            "fingerprints": self.fingerprints,
            "seeds": self.seeds,
            "critic": None if previous is None else {k: v.cpu() for k, v in previous.critic.state_dict().items()},
            "init_random": [g.get_state() for g in self.init_randoms],
            **self.noise.state_dict(),
            "complete": self.scale == self.spec.num_scales,
        }

    def load_state_dict(self, pyramids: SinGANSeg | Sequence[SinGANSeg], state: dict[str, Any]) -> None:
        """Continue from half-trained ``pyramids`` and the trainer ``state`` saved beside them.

        Raises:
            ValueError: the checkpoint was trained on other images or with other settings.
        """
        pyramids = [pyramids] if isinstance(pyramids, SinGANSeg) else list(pyramids)
        if state["fingerprints"] != self.fingerprints:
            raise ValueError("the checkpoint was trained on another image (or label): cannot resume from it.")
        saved = SinGANSegSettings.from_dict(state["settings"])
        differing = sorted(k for k, v in saved.to_dict().items() if k != "device" and v != getattr(self.settings, k))
        if differing or state["seeds"] != self.seeds:
            raise ValueError(f"the checkpoint was trained with other settings ({', '.join(differing) or 'seeds'}): "
                             "cannot resume.")
        # A completed checkpoint (e.g. from the fleet trainer) needs no random state or critic: nothing is left to train.
        for g, saved_state in zip(self.init_randoms, state.get("init_random", [])):
            g.set_state(saved_state)
        self.noise.load_state_dict(state)
        self.generators, self.noise_amplitudes, self.reconstruction_noise = [], [], []
        for scale in range(pyramids[0].num_trained_scales):
            grouped = self._network(SinGANGenerator, scale, self.num_models)
            grouped.load_state_dict(stack_state_dicts([p.generators[scale].state_dict() for p in pyramids]))
            self.generators.append(grouped.to(self.device).requires_grad_(False).train(False))
            self.noise_amplitudes.append(torch.stack([p.noise_amplitudes[scale] for p in pyramids]).to(self.device))
            self.reconstruction_noise.append(
                torch.cat([p.reconstruction_noise[scale] for p in pyramids], dim=1).to(self.device))
        if self.scale > 0 and state.get("critic") is not None:
            critic = self._network(SinGANDiscriminator, self.scale - 1, self.num_models)
            critic.load_state_dict(state["critic"])
            self.previous = ScaleResult(self.scale - 1, self.generators[-1], critic.to(self.device),
                                        self.noise_amplitudes[-1], self.reconstruction_noise[-1])
        self.engine.load_state_dict({
            "epoch": self.scale, "max_epochs": self.spec.num_scales, "epoch_length": self.settings.iterations,
        })
