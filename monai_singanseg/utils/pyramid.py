"""Pyramid maths of SinGAN (Shaham et al., ICCV 2019) as used by SinGAN-Seg, reproduced exactly.

The reference computes the scales in `functions.adjust_scales2image` and the shapes in `imresize`
(`ceil(shape * scale)` in float64). The float arithmetic is kept bit for bit: a 332x487 image must give
26x37 at the coarsest scale, not 25x37, and only the same operations in the same order do that.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = [
    "PyramidSpec",
    "compute_pyramid",
    "features_at_scale",
    "iterations_per_scale",
    "smallest_scale_size",
    "upsampled_shape",
]


@dataclass(frozen=True)
class PyramidSpec:
    """The scales of one SinGAN pyramid.

    Attributes:
        scale_shapes: spatial shape of every scale, coarsest first (scale 0) to finest (the training size).
        scale_factor: the actual factor between neighbouring scales (close to, not equal to, the requested one).
        first_scale: resize factor applied to the input so its longest side fits ``max_size``.
        input_shape: the spatial shape of the input before any resizing.
    """

    scale_shapes: tuple[tuple[int, ...], ...]
    scale_factor: float
    first_scale: float
    input_shape: tuple[int, ...]

    @property
    def num_scales(self) -> int:
        return len(self.scale_shapes)

    @property
    def training_shape(self) -> tuple[int, ...]:
        return self.scale_shapes[-1]

    @property
    def first_shape(self) -> tuple[int, ...]:
        """The input's shape after ``first_scale``: every scale is shrunk from this one."""
        return _resized_shape(self.input_shape, self.first_scale)


def _resized_shape(shape: Sequence[int], scale: float) -> tuple[int, ...]:
    # imresize: output_shape = ceil(input_shape * scale_factor), in float64 like numpy.
    return tuple(int(math.ceil(float(size) * scale)) for size in shape)


def compute_pyramid(
    spatial_shape: Sequence[int], min_size: int = 25, max_size: int = 250, scale_factor: float = 0.75
) -> PyramidSpec:
    """Scale shapes of the reference pyramid for an image of ``spatial_shape`` (2D or 3D).

    Steps, as in SinGAN's ``adjust_scales2image`` and ``creat_reals_pyramid``:

    1. ``num_scales = ceil(log_{scale_factor}(min_size / min(shape))) + 1``;
    2. ``stop_scale = num_scales - ceil(log_{scale_factor}(min(max_size, max(shape)) / max(shape)))``;
    3. the image is resized by ``first_scale = min(max_size / max(shape), 1)``;
    4. the actual factor is ``(min_size / min(resized shape)) ** (1 / stop_scale)``;
    5. scale ``k`` is the resized image shrunk by ``factor ** (stop_scale - k)``.

    Args:
        spatial_shape: spatial size of the training image, e.g. ``(332, 487)``.
        min_size: smallest side at the coarsest scale.
        max_size: longest side at the finest scale.
        scale_factor: requested factor between scales (< 1).

    Returns:
        The pyramid; ``compute_pyramid((332, 487)).scale_shapes`` runs from ``(26, 37)`` to ``(171, 250)``.

    Raises:
        ValueError: if the image is smaller than ``min_size`` or the settings are out of range.

    Example::

        >>> compute_pyramid((332, 487)).num_scales
        8
    """
    shape = tuple(int(s) for s in spatial_shape)
    if len(shape) not in (2, 3):
        raise ValueError(f"spatial_shape must have 2 or 3 dimensions, got {shape}.")
    if not 0.0 < scale_factor < 1.0:
        raise ValueError(f"scale_factor must lie in (0, 1), got {scale_factor}.")
    if min_size < 1 or max_size < min_size:
        raise ValueError(f"need 1 <= min_size <= max_size, got min_size={min_size}, max_size={max_size}.")
    if min(shape) < min_size:
        raise ValueError(
            f"the image ({'x'.join(map(str, shape))}) is smaller than the coarsest scale: its shortest side must be "
            f"at least min_size={min_size}; lower min_size or use a larger image."
        )
    num_scales = math.ceil(math.log(math.pow(min_size / min(shape), 1), scale_factor)) + 1
    scales_to_stop = math.ceil(math.log(min(max_size, max(shape)) / max(shape), scale_factor))
    stop_scale = num_scales - scales_to_stop
    first_scale = min(max_size / max(shape), 1)
    resized = _resized_shape(shape, first_scale)
    if stop_scale < 1:
        # The image already fits min_size at full size: a single-scale pyramid.
        return PyramidSpec((resized,), 1.0, first_scale, shape)
    factor = math.pow(min_size / min(resized), 1 / stop_scale)
    scale_shapes = tuple(_resized_shape(resized, math.pow(factor, stop_scale - k)) for k in range(stop_scale + 1))
    return PyramidSpec(scale_shapes, factor, first_scale, shape)


def features_at_scale(scale: int, base_features: int = 32, max_features: int = 128) -> int:
    """Convolution width at ``scale``: ``min(base * 2 ** (scale // 4), max)``, the reference's ``nfc`` rule."""
    if scale < 0:
        raise ValueError(f"scale must be >= 0, got {scale}.")
    return min(base_features * 2 ** (scale // 4), max_features)


def smallest_scale_size(num_layers: int = 5, kernel_size: int = 3) -> int:
    """The smallest side a scale can have for the critic: ``max(num_layers * (kernel_size - 1) + 1, 2)``.

    The critic stacks ``num_layers`` unpadded convolutions, each taking ``kernel_size - 1`` pixels off every side
    length, and needs one output pixel (11 px with the reference's 5 layers of 3x3). Its BatchNorm layers, trained on
    a batch of one, also need more than one value per channel, which only matters for ``kernel_size=1``. The
    generator pads its input by the same amount, so it runs at any size.

    Example::

        >>> smallest_scale_size(5, 3)
        11
    """
    return max(num_layers * (kernel_size - 1) + 1, 2)


def iterations_per_scale(iterations: int, finest_iterations: int, num_scales: int) -> tuple[int, ...]:
    """Training iterations of every scale, coarsest first: ``iterations`` at the coarsest, ``finest_iterations`` at
    the finest, geometric in between; ``finest_iterations=0`` gives ``iterations`` everywhere (the reference).

    Example::

        >>> iterations_per_scale(2000, 200, 3)
        (2000, 632, 200)
    """
    if iterations < 1 or finest_iterations < 0 or num_scales < 1:
        raise ValueError(f"need iterations >= 1, finest_iterations >= 0 and num_scales >= 1, got {iterations}, "
                         f"{finest_iterations}, {num_scales}.")
    if finest_iterations == 0 or num_scales == 1:
        return (iterations,) * num_scales
    ratio = finest_iterations / iterations
    return tuple(max(1, round(iterations * ratio ** (k / (num_scales - 1)))) for k in range(num_scales))


def upsampled_shape(shape: Sequence[int], scale_factor: float) -> tuple[int, ...]:
    """Shape of ``shape`` enlarged by ``1 / scale_factor``, before the reference crops it to the next scale."""
    return _resized_shape(shape, 1 / scale_factor)
