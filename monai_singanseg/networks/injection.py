"""Injection at a chosen scale: the stack a pyramid is steered with, built from a requested mask or a user's edit.

SinGAN (Shaham et al., ICCV 2019, Sections 4.2-4.4: paint-to-image, editing, harmonisation) answers conditional
tasks with the unconditional pyramid: an image is resized to scale ``n`` and replaces the output of the coarser
scales as the input of generator ``n``; the finer scales then add their detail with fresh noise. The coarser ``n``,
the more the pyramid re-imagines the injected image; the finer, the more of it survives. SinGAN-Seg's stack holds
the mask as channels, so injecting a stack whose label channels are a requested mask asks for an image of that mask.

These are pure functions on tensors; :meth:`SinGANSeg.sample <monai_singanseg.networks.SinGANSeg.sample>` wires them.
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import StrEnum
from typing import Any

import numpy as np
import torch

from monai_singanseg.layout import ChannelLayout
from monai_singanseg.utils.resize import resize, upsample_to_scale

__all__ = ["GuideContent", "as_label_batch", "as_stack_batch", "fill_from_known", "guide_stack", "injection_input",
           "label_indices"]


class GuideContent(StrEnum):
    """Where the image channels of a mask-guided stack come from.

    ``reconstruction``: the pyramid's reconstruction of its training image, with every pixel whose label the
    request changes repainted in the mean colour of its requested label in the reconstruction (SinGAN's editing:
    a copied or moved lesion is a patch of lesion colour that the finer scales blend in).
    ``paint``: only the mean colour of each requested label (SinGAN's paint-to-image): the background's own layout
    is dropped too.
    """

    RECONSTRUCTION = "reconstruction"
    PAINT = "paint"


def _tensor(name: str, value: Any) -> torch.Tensor:
    if isinstance(value, torch.Tensor):
        return value.as_tensor() if hasattr(value, "as_tensor") else value
    if isinstance(value, np.ndarray):
        return torch.as_tensor(value)
    raise TypeError(f"{name} must be a tensor or a numpy array, got {type(value).__name__}.")


def _batched(name: str, x: torch.Tensor, channels: int, shape: Sequence[int], what: str) -> torch.Tensor:
    shape = tuple(int(s) for s in shape)
    spatial = len(shape)
    if x.ndim == spatial + 1:
        x = x.unsqueeze(0)
    if x.ndim != spatial + 2 or x.shape[0] < 1 or tuple(x.shape[1:]) != (channels, *shape):
        expected = ", ".join(map(str, (channels, *shape)))
        raise ValueError(f"{name} must be {what} of shape ({expected}) or a batch (N, {expected}) (the pyramid's "
                         f"finest trained scale), got {tuple(x.shape)}.")
    return x


def as_label_batch(label: Any, layout: ChannelLayout, shape: Sequence[int]) -> torch.Tensor:
    """A requested label map, or a batch of them, as ``(N, 1, *shape)`` float values of the layout.

    Args:
        label: ``(1, *shape)`` or ``(N, 1, *shape)`` label values (e.g. ``{0, 255}`` for a pyramid trained on such
            masks), a tensor or numpy array.
        layout: the pyramid's channel layout.
        shape: the spatial shape the pyramid generates at its finest trained scale.

    Raises:
        TypeError: ``label`` is not a tensor or array.
        ValueError: another shape, or values outside ``layout.label_values`` (NaN included).
    """
    batch = _batched("label", _tensor("label", label), 1, shape, "a label map").double()
    allowed = torch.tensor(layout.label_values, dtype=torch.float64, device=batch.device)
    # A tolerance, because float32 labels such as 0.2 are not exactly their float64 counterparts.
    tolerance = 1e-6 * float(allowed.abs().max().clamp_min(1))
    present = torch.unique(batch)
    outside = present[~((present[:, None] - allowed[None]).abs() <= tolerance).any(dim=1)]
    if len(outside):
        raise ValueError(f"label holds values {outside[:8].tolist()} outside the pyramid's label values "
                         f"{layout.label_values}; map or quantise the mask to those values first.")
    return batch


def label_indices(label: torch.Tensor, layout: ChannelLayout) -> torch.Tensor:
    """The index into ``layout.label_values`` of every value of a ``(N, 1, *shape)`` label map (long)."""
    allowed = torch.tensor(layout.label_values, dtype=torch.float64, device=label.device)
    return (label.double().unsqueeze(-1) - allowed).abs().argmin(dim=-1)


def as_stack_batch(inject: Any, layout: ChannelLayout, shape: Sequence[int]) -> torch.Tensor:
    """A user's stack to inject, or a batch of them, as ``(N, channels, *shape)`` float32 clamped to [-1, 1].

    Args:
        inject: ``(channels, *shape)`` or ``(N, channels, *shape)`` in the generator's units, as
            :meth:`ChannelLayout.encode` makes them from an image and label.
        layout: the pyramid's channel layout.
        shape: the spatial shape the pyramid generates at its finest trained scale.

    Raises:
        TypeError: ``inject`` is not a tensor or array.
        ValueError: another shape or channel count, NaN or Inf.
    """
    batch = _batched("inject", _tensor("inject", inject), layout.channels, shape, "a stack").float()
    if not bool(torch.isfinite(batch).all()):
        raise ValueError("inject holds NaN or Inf values.")
    # Clamped, as between scales: a pyramid's own outputs overshoot [-1, 1] a little, and decode clamps them too.
    return batch.clamp(-1, 1)


def _label_colours(layout: ChannelLayout, content: torch.Tensor) -> torch.Tensor:
    """Mean image colour of every label value in each content stack, ``(N, values, image_channels)``.

    A label the content does not show gets the content's overall mean colour.
    """
    image = content[:, : layout.image_channels].flatten(2)
    _, decoded = layout.decode(content)
    index = label_indices(decoded, layout).flatten(1)
    onehot = torch.nn.functional.one_hot(index, len(layout.label_values)).to(image.dtype)  # (N, P, V)
    counts = onehot.sum(dim=1)  # (N, V)
    sums = torch.einsum("ncp,npv->nvc", image, onehot)
    overall = image.mean(dim=2)[:, None, :].expand_as(sums)
    return torch.where(counts[..., None] > 0, sums / counts[..., None].clamp_min(1), overall)


def fill_from_known(image: torch.Tensor, known: torch.Tensor, max_steps: int = 256) -> torch.Tensor:
    """``image`` with its unknown pixels filled in from the known ones around them (normalised convolution,
    grown one pixel a step), so a removed lesion leaves a smooth patch of the surrounding background.

    Args:
        image: ``(N, C, *spatial)``.
        known: ``(N, 1, *spatial)`` booleans; an image with no known pixel is returned as it is.
        max_steps: at most this many growth steps.
    """
    pool = torch.nn.functional.avg_pool2d if image.ndim == 4 else torch.nn.functional.avg_pool3d
    weight, filled = known.float(), image * known
    for _ in range(max_steps):
        if bool((weight > 0).all()):
            break
        grown_weight = pool(weight, 3, stride=1, padding=1, count_include_pad=False)
        grown = pool(filled, 3, stride=1, padding=1, count_include_pad=False)
        new = (weight == 0) & (grown_weight > 0)
        filled = torch.where(new, grown / grown_weight.clamp_min(1e-12), filled)
        weight = torch.where(new, torch.ones_like(weight), weight)
    return torch.where(weight > 0, filled, image)


def _box(mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor] | None:
    """The bounding box of a ``(*spatial)`` boolean mask in normalised coordinates (align_corners=False)."""
    where = torch.nonzero(mask)
    if len(where) == 0:
        return None
    size = torch.tensor(mask.shape, dtype=torch.float32, device=mask.device)
    return 2 * where.amin(0).float() / size - 1, 2 * (where.amax(0).float() + 1) / size - 1


def _moved_lesion(image: torch.Tensor, own: torch.Tensor, requested: torch.Tensor
                  ) -> tuple[torch.Tensor, torch.Tensor]:
    """The content's own lesion (every non-background label) stretched from its bounding box onto the requested
    one's, with its label indices, so a requested lesion gets the texture of the lesion the pyramid learnt."""
    spatial = image.ndim - 2
    theta = torch.zeros(image.shape[0], spatial, spatial + 1, device=image.device)
    for b in range(image.shape[0]):
        source, target = _box(own[b, 0] > 0), _box(requested[b, 0] > 0)
        if source is None or target is None:
            theta[b, :, :spatial] = torch.eye(spatial)
            continue
        scale = (source[1] - source[0]) / (target[1] - target[0])
        shift = source[0] - scale * target[0]
        # affine_grid orders coordinates x (last axis) first.
        theta[b, :, :spatial] = torch.diag(scale.flip(0))
        theta[b, :, spatial] = shift.flip(0)
    grid = torch.nn.functional.affine_grid(theta, list(image.shape), align_corners=False)
    moved = torch.nn.functional.grid_sample(image, grid, mode="bilinear", padding_mode="border", align_corners=False)
    moved_label = torch.nn.functional.grid_sample(own.float(), grid, mode="nearest", padding_mode="zeros",
                                                  align_corners=False)
    return moved, moved_label.long()


def guide_stack(
    layout: ChannelLayout,
    content: torch.Tensor,
    label: torch.Tensor,
    mode: GuideContent | str = GuideContent.RECONSTRUCTION,
) -> torch.Tensor:
    """The stack that asks for an image of ``label``: its label channels encode ``label``, its image channels come
    from ``content`` (see :class:`GuideContent`).

    Args:
        layout: the pyramid's channel layout.
        content: ``(1 or N, channels, *shape)`` stacks in [-1, 1] whose colours are used (e.g. the reconstruction).
        label: ``(N, 1, *shape)`` label values of the layout (see :func:`as_label_batch`).
        mode: ``reconstruction`` or ``paint``.

    Returns:
        ``(N, channels, *shape)`` stacks in [-1, 1].

    Example::

        >>> stack = guide_stack(model.layout, model.reconstruct(), as_label_batch(mask, model.layout, shape))
    """
    mode = GuideContent(mode)
    content = content.float().expand(label.shape[0], *content.shape[1:])
    spatial = content.shape[2:]
    low = torch.tensor(layout.intensity_min, dtype=torch.float32, device=content.device)
    blank = low.view(1, -1, *([1] * len(spatial))).expand(label.shape[0], -1, *spatial)
    requested = label_indices(label, layout).to(content.device)  # (N, 1, *shape)
    # The layout's own values, not the request's float32 copies of them: encode compares exactly.
    values = torch.tensor(layout.label_values, dtype=torch.float64, device=content.device)[requested]
    label_channels = layout.encode(blank, values)[:, layout.image_channels:]
    colours = _label_colours(layout, content)  # (N, V, C)
    painted = torch.gather(colours, 1, requested.flatten(1)[..., None].expand(-1, -1, colours.shape[2]))
    painted = painted.transpose(1, 2).reshape(content.shape[0], layout.image_channels, *spatial)
    if mode == GuideContent.RECONSTRUCTION:
        image = content[:, : layout.image_channels]
        own = label_indices(layout.decode(content)[1], layout)
        background = fill_from_known(image, own == 0)
        lesion, lesion_label = _moved_lesion(image, own, requested)
        painted = torch.where(lesion_label == requested, lesion, painted)
        painted = torch.where(requested == 0, background, painted)
    return torch.cat([painted, label_channels.float()], dim=1).clamp(-1, 1)


def injection_input(stack: torch.Tensor, scale_shapes: Sequence[Sequence[int]], scale: int, scale_factor: float
                    ) -> torch.Tensor:
    """``stack`` as the input of generator ``scale``: shrunk to the coarser scale and carried up to this one.

    SinGAN's editing and paint-to-image do the same: the coarser scale's shape first, so the input has the blur of
    an upsampled coarser output, which is what generator ``scale`` learnt to refine; at scale 0 (whose generator
    learnt on no input at all) the stack is only resized.

    Args:
        stack: ``(N, channels, *spatial)`` in [-1, 1], any spatial shape.
        scale_shapes: shapes of the scales, coarsest first.
        scale: the injection scale.
        scale_factor: the pyramid's factor between scales.

    Returns:
        ``(N, channels, *scale_shapes[scale])`` in [-1, 1].
    """
    if scale == 0:
        return resize(stack, scale_shapes[0]).clamp(-1, 1)
    coarser = resize(stack, scale_shapes[scale - 1]).clamp(-1, 1)
    return upsample_to_scale(coarser, scale_shapes[scale], scale_factor)
