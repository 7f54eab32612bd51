"""One trained SinGAN-Seg pyramid as a module: sampling and reconstruction."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from monai_singanseg.utils.layout import ChannelLayout
from monai_singanseg.networks.generator import SinGANGenerator
from monai_singanseg.utils.pyramid import features_at_scale
from monai_singanseg.utils.resize import upsample_to_scale

__all__ = ["SinGANSeg", "run_generators"]


def _fast_memory_format(device: torch.device, spatial_dims: int) -> torch.memory_format:
    # oneDNN runs these unpadded 3x3 convolutions 6-13 % faster channels-last on CPU (benchmarks/bench_sampling.py);
    # GPUs and 3D keep the default layout, where no benchmark has shown a gain.
    return torch.channels_last if device.type == "cpu" and spatial_dims == 2 else torch.contiguous_format


def run_generators(
    generators: Sequence[nn.Module],
    amplitudes: Sequence[torch.Tensor],
    noises: Sequence[torch.Tensor],
    shapes: Sequence[Sequence[int]],
    scale_factor: float,
) -> torch.Tensor:
    """Run the coarsest ``len(noises)`` generators: ``x_k = G_k(amplitude_k * z_k + up(x_{k-1}), up(x_{k-1}))``.

    ``amplitudes[k]`` is a scalar, or a per-channel map for models trained together as groups.
    """
    x = torch.zeros_like(noises[0])
    for k, z in enumerate(noises):
        if k > 0:
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
        if layout.spatial_dims != spatial_dims:
            raise ValueError(f"layout is {layout.spatial_dims}D but spatial_dims={spatial_dims}.")
        self.spatial_dims = spatial_dims
        self.layout = layout
        self.scale_shapes = tuple(tuple(int(s) for s in shape) for shape in scale_shapes)
        self.scale_factor = float(scale_factor)
        self.num_layers, self.kernel_size = num_layers, kernel_size
        self.base_features, self.max_features = base_features, max_features
        self.generators = nn.ModuleList()
        self.register_buffer("noise_amplitudes", torch.zeros(0))
        self.reconstruction_noise: list[torch.Tensor] = []
        self.train(False)

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
        """A fresh generator with the width of ``scale``."""
        features = features_at_scale(scale, self.base_features, self.max_features)
        return SinGANGenerator(self.spatial_dims, self.in_channels, features, self.num_layers, self.kernel_size)

    def add_scale(self, generator: SinGANGenerator, noise_amplitude: float | torch.Tensor, noise: torch.Tensor) -> None:
        """Freeze ``generator`` as the next scale, with its noise amplitude and reconstruction noise."""
        scale = self.num_trained_scales
        expected = (1, self.in_channels, *self.scale_shapes[scale])
        assert tuple(noise.shape) == expected, f"reconstruction noise {tuple(noise.shape)} != {expected}"
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
        output_shape = tuple(int(s) for s in output_shape)
        if len(output_shape) != self.spatial_dims:
            raise ValueError(f"output_shape must have {self.spatial_dims} dimensions, got {output_shape}.")
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
    ) -> torch.Tensor:
        """Draw synthetic image+label stacks.

        Scales below ``start_scale`` replay the reconstruction noise (close to the training image); scales from
        ``start_scale`` on get fresh noise. ``start_scale=0`` gives the most varied samples (the paper's setting).

        Args:
            num_samples: how many stacks to draw.
            start_scale: first scale with fresh noise, in ``0..num_scales - 1``.
            generator: source of the noise, for reproducible samples.
            output_shape: spatial shape of the samples; by default the training shape. Other shapes scale every
                noise map by the same ratio and need ``start_scale=0``.

        Returns:
            ``(num_samples, channels, *shape)`` stacks in [-1, 1] channels; decode them with :meth:`decode`.

        Raises:
            ValueError: ``num_samples < 1``, ``start_scale`` out of range, or an untrained pyramid.
        """
        if num_samples < 1:
            raise ValueError(f"num_samples must be at least 1, got {num_samples}.")
        if self.num_trained_scales == 0:
            raise ValueError("the pyramid has no trained scale yet.")
        if not 0 <= start_scale < self.num_trained_scales:
            raise ValueError(f"start_scale must lie in 0..{self.num_trained_scales - 1}, got {start_scale}.")
        if output_shape is not None and start_scale != 0:
            raise ValueError("output_shape other than the training shape needs start_scale=0.")
        shapes = self._shapes_for(output_shape)
        noises = []
        for k in range(self.num_trained_scales):
            if k < start_scale:
                noises.append(self.reconstruction_noise[k].expand(num_samples, *self.reconstruction_noise[k].shape[1:]))
            else:
                noises.append(self._draw_noise(k, num_samples, shapes[k], generator))
        return self.run_scales(noises, shapes)

    @torch.no_grad()
    def reconstruct(self, num_scales: int | None = None) -> torch.Tensor:
        """The reconstruction of the training stack from the fixed noise, ``(1, channels, *training_shape)``."""
        num_scales = self.num_trained_scales if num_scales is None else num_scales
        if num_scales < 1:
            raise ValueError("the pyramid has no trained scale yet.")
        return self.run_scales(self.reconstruction_noise[:num_scales], self.scale_shapes[:num_scales])

    def run_scales(self, noises: Sequence[torch.Tensor], shapes: Sequence[Sequence[int]]) -> torch.Tensor:
        """Run the coarsest ``len(noises)`` generators on the given noise maps."""
        stack = run_generators(self.generators, self.noise_amplitudes, noises, shapes, self.scale_factor)
        return stack.contiguous()

    def decode(self, stack: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Image in the input's range and dtype, label map of valid values (see :meth:`ChannelLayout.decode`)."""
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
