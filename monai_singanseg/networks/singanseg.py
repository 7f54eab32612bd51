"""One trained SinGAN-Seg pyramid as a module: sampling and reconstruction."""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from monai_singanseg.networks.generator import SinGANGenerator
from monai_singanseg.networks.injection import (
    GuideContent, as_label_batch, as_stack_batch, guide_stack, injection_input,
)
from monai_singanseg.settings import validate_settings
from monai_singanseg.layout import ChannelLayout
from monai_singanseg.utils.pyramid import features_at_scale
from monai_singanseg.utils.resize import upsample_to_scale

__all__ = ["SinGANSeg", "run_generators"]


def _fast_memory_format(device: torch.device, spatial_dims: int) -> torch.memory_format:
    # oneDNN runs these unpadded 3x3 convolutions 6-13 % faster channels-last on CPU (benchmarks/bench_sampling.py);
    # GPUs and 3D keep the default layout, where no benchmark has shown a gain.
    return torch.channels_last if device.type == "cpu" and spatial_dims == 2 else torch.contiguous_format


def _integer(name: str, value: Any, low: int, high: int | None = None) -> int:
    """``value`` as an ``int`` in ``low..high``, or an error that names the argument and the valid range."""
    valid = f"an integer >= {low}" if high is None else f"an integer in {low}..{high}"
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be {valid}, got {value!r} ({type(value).__name__}).")
    if value < low or (high is not None and value > high):
        raise ValueError(f"{name} must be {valid}, got {value}.")
    return int(value)


def _shape(name: str, shape: Any, spatial_dims: int) -> tuple[int, ...]:
    """A spatial shape of ``spatial_dims`` sizes >= 1, or an error that names the argument."""
    if isinstance(shape, (torch.Tensor, np.ndarray)) and shape.ndim == 1:
        shape = shape.tolist()
    if isinstance(shape, (str, bytes)) or not isinstance(shape, Sequence):
        raise TypeError(f"{name} must be a sequence of {spatial_dims} sizes, got {shape!r}.")
    if len(shape) != spatial_dims:
        raise ValueError(f"{name} must have {spatial_dims} dimensions, got {tuple(shape)}.")
    return tuple(_integer(f"{name}[{i}]", size, 1) for i, size in enumerate(shape))


def run_generators(
    generators: Sequence[nn.Module],
    amplitudes: Sequence[torch.Tensor],
    noises: Sequence[torch.Tensor],
    shapes: Sequence[Sequence[int]],
    scale_factor: float,
    first_input: torch.Tensor | None = None,
    first_scale: int = 0,
) -> torch.Tensor:
    """Run generators ``first_scale .. first_scale + len(noises) - 1``:
    ``x_k = G_k(amplitude_k * z_k + up(x_{k-1}), up(x_{k-1}))``.

    ``amplitudes[k]`` is a scalar, or a per-channel map for models trained together as groups. ``first_input`` is
    the input of the first generator run (zeros by default, as scale 0 has no coarser scale); an injected stack
    replaces the coarser scales' output there (see :mod:`monai_singanseg.networks.injection`). ``shapes`` holds
    every scale's shape from scale 0.
    """
    x = torch.zeros_like(noises[0]) if first_input is None else first_input
    for i, z in enumerate(noises):
        k = first_scale + i
        if i > 0:
            x = upsample_to_scale(x, shapes[k], scale_factor)
        x = generators[k](amplitudes[k] * z + x, x)
    return x


class SinGANSeg(nn.Module):
    """A SinGAN pyramid trained on one image stacked with its label map (Thambawita et al., "SinGAN-Seg:
    Synthetic training data generation for medical image segmentation", PLoS ONE 2022; Shaham et al., ICCV 2019).

    Scale ``k`` (0 = coarsest) turns ``noise_amplitudes[k] * z + up(x_{k-1})`` into ``x_k``. The coarsest noise has
    one channel repeated over all channels, as in the reference. The pyramid is inference-only: its generators stay
    in eval mode (BatchNorm running statistics), as the reference uses its frozen scales.

    Args:
        spatial_dims: 2 or 3.
        layout: which channels are image and label, and how to decode them.
        scale_shapes: spatial shape of every scale, coarsest first.
        scale_factor: the pyramid's actual factor between scales.
        num_layers: convolutions per generator.
        kernel_size: convolution kernel size.
        base_features: width at scales 0-3 (doubles every 4 scales).
        max_features: upper bound of the width.

    Example::

        >>> model = SinGANSeg.load("polyp.pt")
        >>> stacks = model.sample(8, start_scale=0, generator=torch.Generator().manual_seed(0))
        >>> image, label = model.decode(stacks)
    """

    def __init__(
        self,
        spatial_dims: int,
        layout: ChannelLayout,
        scale_shapes: Sequence[Sequence[int]],
        scale_factor: float,
        num_layers: int = 5,
        kernel_size: int = 3,
        base_features: int = 32,
        max_features: int = 128,
    ) -> None:
        super().__init__()
        if spatial_dims not in (2, 3) or isinstance(spatial_dims, bool):
            raise ValueError(f"spatial_dims must be 2 or 3, got {spatial_dims!r}.")
        if not isinstance(layout, ChannelLayout):
            raise TypeError(f"layout must be a ChannelLayout, got {type(layout).__name__}.")
        if layout.spatial_dims != spatial_dims:
            raise ValueError(f"layout is {layout.spatial_dims}D but spatial_dims={spatial_dims}.")
        self.spatial_dims = spatial_dims
        self.layout = layout
        self.scale_shapes = self._checked_scale_shapes(scale_shapes)
        if isinstance(scale_factor, bool) or not isinstance(scale_factor, numbers.Real):
            raise TypeError(f"scale_factor must be a number in (0, 1], got {scale_factor!r}.")
        if not (math.isfinite(scale_factor) and 0 < scale_factor <= 1):
            raise ValueError(f"scale_factor must lie in (0, 1] (1 for a one-scale pyramid), got {scale_factor}.")
        self.scale_factor = float(scale_factor)
        # The same rules as the training settings these come from.
        widths = validate_settings({"num_layers": num_layers, "kernel_size": kernel_size,
                                    "base_features": base_features, "max_features": max_features})
        self.num_layers, self.kernel_size = widths["num_layers"], widths["kernel_size"]
        self.base_features, self.max_features = widths["base_features"], widths["max_features"]
        self.generators = nn.ModuleList()
        self.register_buffer("noise_amplitudes", torch.zeros(0))
        self.reconstruction_noise: list[torch.Tensor] = []
        self.train(False)

    def _checked_scale_shapes(self, scale_shapes: Any) -> tuple[tuple[int, ...], ...]:
        if isinstance(scale_shapes, (str, bytes)) or not isinstance(scale_shapes, Sequence) or not scale_shapes:
            raise ValueError(f"scale_shapes must be a non-empty sequence of shapes, coarsest first, got "
                             f"{scale_shapes!r}.")
        shapes = tuple(_shape(f"scale_shapes[{k}]", shape, self.spatial_dims) for k, shape in enumerate(scale_shapes))
        for k in range(1, len(shapes)):
            if any(fine < coarse for fine, coarse in zip(shapes[k], shapes[k - 1])):
                raise ValueError(f"scale_shapes must not shrink from coarse to fine, got {shapes[k - 1]} at scale "
                                 f"{k - 1} and {shapes[k]} at scale {k}.")
        return shapes

    @property
    def in_channels(self) -> int:
        return self.layout.channels

    @property
    def num_scales(self) -> int:
        """Scales of the full pyramid, trained or not."""
        return len(self.scale_shapes)

    @property
    def num_trained_scales(self) -> int:
        return len(self.generators)

    @property
    def is_complete(self) -> bool:
        return self.num_trained_scales == self.num_scales

    def build_generator(self, scale: int) -> SinGANGenerator:
        """A fresh generator with the width of ``scale``, in ``0..num_scales - 1``."""
        scale = _integer("scale", scale, 0, self.num_scales - 1)
        features = features_at_scale(scale, self.base_features, self.max_features)
        return SinGANGenerator(self.spatial_dims, self.in_channels, features, self.num_layers, self.kernel_size)

    def add_scale(self, generator: SinGANGenerator, noise_amplitude: float | torch.Tensor, noise: torch.Tensor) -> None:
        """Freeze ``generator`` as the next scale, with its noise amplitude and reconstruction noise.

        Raises:
            ValueError: the pyramid is complete, the noise has another shape than ``(1, channels, *scale shape)``,
                or the amplitude is not one finite number >= 0.
            TypeError: ``generator`` is not a :class:`SinGANGenerator` or ``noise`` not a tensor.
        """
        scale = self.num_trained_scales
        if scale == self.num_scales:
            raise ValueError(f"the pyramid already has all its {self.num_scales} scales.")
        if not isinstance(generator, SinGANGenerator):
            raise TypeError(f"generator must be a SinGANGenerator, got {type(generator).__name__}.")
        if not isinstance(noise, torch.Tensor):
            raise TypeError(f"noise must be a tensor, got {type(noise).__name__}.")
        expected = (1, self.in_channels, *self.scale_shapes[scale])
        if tuple(noise.shape) != expected:
            raise ValueError(f"reconstruction noise of scale {scale} must have shape {expected}, got "
                             f"{tuple(noise.shape)}.")
        checked = torch.as_tensor(noise_amplitude).detach()
        if checked.numel() != 1 or not bool(torch.isfinite(checked).all()) or float(checked) < 0:
            raise ValueError(f"noise_amplitude of scale {scale} must be one finite number >= 0, got "
                             f"{checked.tolist()}.")
        generator.requires_grad_(False).train(False)
        self.generators.append(generator.to(memory_format=_fast_memory_format(next(generator.parameters()).device,
                                                                              self.spatial_dims)))
        amplitude = torch.as_tensor(noise_amplitude, dtype=torch.float32, device=self.noise_amplitudes.device)
        self.noise_amplitudes = torch.cat([self.noise_amplitudes, amplitude.reshape(1)])
        name = f"reconstruction_noise_{scale}"
        self.register_buffer(name, noise.detach().to(self.noise_amplitudes.device).clone())
        self.reconstruction_noise.append(getattr(self, name))

    def _apply(self, fn: Any, recurse: bool = True) -> SinGANSeg:
        super()._apply(fn, recurse)
        self.generators.to(memory_format=_fast_memory_format(self.noise_amplitudes.device, self.spatial_dims))
        self.reconstruction_noise = [getattr(self, f"reconstruction_noise_{k}") for k in range(self.num_trained_scales)]
        return self

    def train(self, mode: bool = True) -> SinGANSeg:
        # A trained pyramid always samples with BatchNorm running statistics, as the reference's frozen scales.
        return super().train(False)

    def _shapes_for(self, output_shape: Sequence[int] | None) -> list[tuple[int, ...]]:
        if output_shape is None:
            return list(self.scale_shapes)
        output_shape = _shape("output_shape", output_shape, self.spatial_dims)
        # Fully convolutional: every scale's noise map grows by the same ratio (the reference's scale_v, scale_h).
        ratios = [o / s for o, s in zip(output_shape, self.scale_shapes[-1])]
        shapes = [tuple(max(1, round(s * r)) for s, r in zip(shape, ratios)) for shape in self.scale_shapes]
        shapes[-1] = output_shape
        return shapes

    def _draw_noise(
        self, scale: int, num_samples: int, shape: Sequence[int], generator: torch.Generator | None
    ) -> torch.Tensor:
        # Noise is drawn on the generator's device and then moved, so a CPU seed gives the same samples anywhere.
        draw_device = generator.device if generator is not None else self.noise_amplitudes.device
        channels = 1 if scale == 0 else self.in_channels
        z = torch.randn(num_samples, channels, *shape, generator=generator, device=draw_device)
        if scale == 0:
            z = z.expand(num_samples, self.in_channels, *shape)
        return z.to(self.noise_amplitudes.device)

    @torch.no_grad()
    def sample(
        self,
        num_samples: int = 1,
        start_scale: int = 0,
        generator: torch.Generator | None = None,
        output_shape: Sequence[int] | None = None,
        *,
        label: torch.Tensor | np.ndarray | None = None,
        inject: torch.Tensor | np.ndarray | None = None,
        inject_scale: int | None = None,
        content: GuideContent | str = GuideContent.RECONSTRUCTION,
    ) -> torch.Tensor:
        """Draw synthetic image+label stacks, unconditionally or steered by a mask or an edit injected at a scale.

        Scales below ``start_scale`` replay the reconstruction noise (close to the training image); scales from
        ``start_scale`` on get fresh noise. ``start_scale=0`` gives the most varied samples (the paper's setting).

        Steering (SinGAN's paint-to-image and editing): ``label`` (a requested mask) or ``inject`` (any stack, such
        as an encoded image with a moved lesion) is resized to scale ``inject_scale`` and replaces the output of
        the coarser scales as the input of generator ``inject_scale``; the finer scales run as above. A ``label``
        becomes a stack with the pyramid's own colours (see
        :class:`~monai_singanseg.networks.injection.GuideContent`). The returned label channels are the generated
        ones: decode them to measure how well a sample followed the request.

        Args:
            num_samples: how many stacks to draw (per requested mask or stack when steering).
            start_scale: first scale with fresh noise, in ``0..num_scales - 1``.
            generator: source of the noise, for reproducible samples.
            output_shape: spatial shape of the samples; by default the training shape. Other shapes scale every
                noise map by the same ratio and need ``start_scale=0`` and no steering.
            label: ``(1, *shape)`` or ``(N, 1, *shape)`` label values of the layout at the finest trained scale's
                shape.
            inject: ``(channels, *shape)`` or ``(N, channels, *shape)`` stacks in [-1, 1] (see
                :meth:`ChannelLayout.encode`), instead of ``label``.
            inject_scale: the scale the request enters, in ``1..num_trained_scales - 1``; needed with ``label`` or
                ``inject``. Coarser scales re-imagine more of it, finer scales keep more of it.
            content: with ``label``, where the image channels come from (``reconstruction`` or ``paint``).

        Returns:
            ``(num_samples * N, channels, *shape)`` stacks in [-1, 1] channels, request-major; decode them with
            :meth:`decode`.

        Raises:
            ValueError: ``num_samples < 1``, ``start_scale`` or ``inject_scale`` out of range, an ``output_shape``
                of other dimensions or sizes below 1, an untrained pyramid, a ``label`` or ``inject`` of another
                shape, labels outside the layout, both or none of them with ``inject_scale``.
            TypeError: a count or scale that is not an integer, a ``generator`` that is not a ``torch.Generator``.

        Example::

            >>> stacks = model.sample(4, label=mask, inject_scale=1, generator=torch.Generator().manual_seed(0))
            >>> image, generated_mask = model.decode(stacks)
        """
        num_samples = _integer("num_samples", num_samples, 1)
        if self.num_trained_scales == 0:
            raise ValueError("the pyramid has no trained scale yet.")
        start_scale = _integer("start_scale", start_scale, 0, self.num_trained_scales - 1)
        if generator is not None and not isinstance(generator, torch.Generator):
            raise TypeError(f"generator must be a torch.Generator or None, got {type(generator).__name__}.")
        if label is not None or inject is not None or inject_scale is not None:
            if output_shape is not None:
                raise ValueError("output_shape other than the training shape cannot be steered (label, inject).")
            return self._sample_injected(num_samples, start_scale, generator, label, inject, inject_scale, content)
        if output_shape is not None and start_scale != 0:
            raise ValueError("output_shape other than the training shape needs start_scale=0.")
        shapes = self._shapes_for(output_shape)
        return self.run_scales(self._noise_maps(0, num_samples, start_scale, shapes, generator), shapes)

    def _noise_maps(self, first_scale: int, num_samples: int, start_scale: int, shapes: Sequence[Sequence[int]],
                    generator: torch.Generator | None) -> list[torch.Tensor]:
        """Noise of scales ``first_scale..``: the reconstruction's below ``start_scale``, fresh from it on."""
        return [self.reconstruction_noise[k].expand(num_samples, *self.reconstruction_noise[k].shape[1:])
                if k < start_scale else self._draw_noise(k, num_samples, shapes[k], generator)
                for k in range(first_scale, self.num_trained_scales)]

    def _sample_injected(
        self,
        num_samples: int,
        start_scale: int,
        generator: torch.Generator | None,
        label: Any,
        inject: Any,
        inject_scale: Any,
        content: GuideContent | str,
    ) -> torch.Tensor:
        if (label is None) == (inject is None):
            raise ValueError("give one of label (a requested mask) or inject (a stack) with inject_scale, not "
                             f"{'both' if label is not None else 'neither'}.")
        if self.num_trained_scales < 2:
            raise ValueError("steering needs a pyramid of at least 2 trained scales: the request enters a scale "
                             "above the coarsest.")
        if inject_scale is None:
            raise ValueError(f"label and inject need inject_scale, the scale the request enters (1.."
                             f"{self.num_trained_scales - 1}).")
        # Scale 0's generator learnt on no input at all (it adds its output to zeros): a request enters above it.
        inject_scale = _integer("inject_scale", inject_scale, 1, self.num_trained_scales - 1)
        finest, device = self.scale_shapes[self.num_trained_scales - 1], self.noise_amplitudes.device
        if label is not None:
            stacks = guide_stack(self.layout, self.reconstruct(), as_label_batch(label, self.layout, finest), content)
        else:
            stacks = as_stack_batch(inject, self.layout, finest)
        first_input = injection_input(stacks.to(device), self.scale_shapes, inject_scale, self.scale_factor)
        first_input = first_input.repeat_interleave(num_samples, dim=0)
        noises = self._noise_maps(inject_scale, first_input.shape[0], start_scale, self.scale_shapes, generator)
        stack = run_generators(self.generators, self.noise_amplitudes, noises, self.scale_shapes, self.scale_factor,
                               first_input=first_input, first_scale=inject_scale)
        return stack.contiguous()

    @torch.no_grad()
    def reconstruct(self, num_scales: int | None = None) -> torch.Tensor:
        """The reconstruction of the training stack from the fixed noise, ``(1, channels, *shape of the last scale)``.

        Args:
            num_scales: run the coarsest this many scales, in ``1..num_trained_scales`` (default: all trained).

        Raises:
            ValueError: an untrained pyramid or ``num_scales`` out of range.
            TypeError: ``num_scales`` is not an integer.
        """
        if self.num_trained_scales == 0:
            raise ValueError("the pyramid has no trained scale yet.")
        if num_scales is None:
            num_scales = self.num_trained_scales
        num_scales = _integer("num_scales", num_scales, 1, self.num_trained_scales)
        return self.run_scales(self.reconstruction_noise[:num_scales], self.scale_shapes[:num_scales])

    def run_scales(self, noises: Sequence[torch.Tensor], shapes: Sequence[Sequence[int]]) -> torch.Tensor:
        """Run the coarsest ``len(noises)`` generators on the given noise maps.

        Args:
            noises: one ``(N, channels, *shapes[k])`` map per scale, at most ``num_trained_scales``.
            shapes: the spatial shape of every scale run.

        Raises:
            ValueError: more noise maps than trained scales, fewer shapes than maps, or a map of another shape.
        """
        if not 1 <= len(noises) <= self.num_trained_scales:
            raise ValueError(f"noises must hold 1..{self.num_trained_scales} maps (one per trained scale), got "
                             f"{len(noises)}.")
        if len(shapes) < len(noises):
            raise ValueError(f"shapes must give one shape per noise map: {len(shapes)} shapes, {len(noises)} maps.")
        for k, z in enumerate(noises):
            expected = (self.in_channels, *(int(s) for s in shapes[k]))
            if z.ndim != self.spatial_dims + 2 or tuple(z.shape[1:]) != expected:
                raise ValueError(f"noise map {k} must have shape (N, {', '.join(map(str, expected))}), got "
                                 f"{tuple(z.shape)}.")
        stack = run_generators(self.generators, self.noise_amplitudes, noises, shapes, self.scale_factor)
        return stack.contiguous()

    def decode(self, stack: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Image in the input's range and dtype, label map of valid values (see :meth:`ChannelLayout.decode`).

        Args:
            stack: ``(N, channels, *spatial)`` or ``(channels, *spatial)`` stacks from :meth:`sample`.

        Raises:
            TypeError: ``stack`` is not a tensor.
            ValueError: ``stack`` has another number of dimensions or channels.
        """
        if not isinstance(stack, torch.Tensor):
            raise TypeError(f"stack must be a tensor from sample(), got {type(stack).__name__}.")
        if stack.ndim not in (self.spatial_dims + 1, self.spatial_dims + 2):
            raise ValueError(f"stack must have shape (N, {self.in_channels}, *spatial) or ({self.in_channels}, "
                             f"*spatial) with {self.spatial_dims} spatial dimensions, got {tuple(stack.shape)}.")
        return self.layout.decode(stack)

    def config(self) -> dict[str, Any]:
        """Plain data that rebuilds this module (without weights)."""
        return {
            "spatial_dims": self.spatial_dims,
            "layout": self.layout.to_dict(),
            "scale_shapes": [list(s) for s in self.scale_shapes],
            "scale_factor": self.scale_factor,
            "num_layers": self.num_layers,
            "kernel_size": self.kernel_size,
            "base_features": self.base_features,
            "max_features": self.max_features,
        }

    def save(self, path: str, **extra: Any) -> None:
        """Write the pyramid to one file atomically (see :func:`monai_singanseg.data.checkpoint.save_pyramid`)."""
        from monai_singanseg.data.checkpoint import save_pyramid

        save_pyramid(self, path, **extra)

    @classmethod
    def load(cls, path: str, map_location: str | torch.device | None = "cpu") -> SinGANSeg:
        """Read a pyramid written by :meth:`save` (see :func:`monai_singanseg.data.checkpoint.load_pyramid`)."""
        from monai_singanseg.data.checkpoint import load_pyramid

        return load_pyramid(path, map_location=map_location)
