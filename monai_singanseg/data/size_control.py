"""Lesion-size control: synthetic pairs whose foreground share follows a target distribution.

A SinGAN-Seg pyramid draws masks about as large as its training mask, and a set of synthetic masks can come out
smaller than the real set (the endoscopy bundle's KS test). Here each pair gets a target window of foreground share,
drawn from a :class:`ShareTarget` (the real shares, or a range), and is drawn again until its share falls in the
window, within a bounded budget of attempts. With the ``guide`` strategy, an attempt after the first stretches the
last sample's lesion to the target share and asks the pyramid for an image of that mask (SinGAN's editing, see
:mod:`monai_singanseg.networks.injection`), which reaches shares plain redrawing seldom does.

The window is drawn by the caller (a random transform, or the CLI from its seed); :func:`sample_with_share` is
deterministic given the window and the seed, and returns a :class:`SizeRecord` of what it did.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from monai_singanseg.networks.injection import guide_stack, label_indices
from monai_singanseg.networks.singanseg import SinGANSeg
from monai_singanseg.layout import ChannelLayout

__all__ = ["MATCH_REAL", "ShareTarget", "SizeControl", "SizeRecord", "SizeStrategy", "as_size_control",
           "foreground_share", "resize_lesion", "sample_with_share", "training_share"]

MATCH_REAL = "match_real"


class SizeStrategy(StrEnum):
    """How an attempt that missed its window is followed: ``reject`` draws an unconditional pair again; ``guide``
    stretches the last pair's lesion to the target share and injects it (mask-guided sampling)."""

    REJECT = "reject"
    GUIDE = "guide"


def _share(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0 <= float(value) <= 1:
        raise ValueError(f"{name} must be a foreground share in [0, 1], got {value!r}.")
    return float(value)


@dataclass(frozen=True)
class ShareTarget:
    """A target distribution of foreground share (non-background pixels over all pixels).

    Either ``shares`` (draw one of them per pair, e.g. the real set's, and accept within ``tolerance`` of it), or
    the range ``low..high`` (accept any share in it); an empty ``shares`` with ``match_real`` set means "the
    training mask's share" of whichever pyramid draws the pair.

    Args:
        shares: the shares to draw targets from.
        low: lower end of an accepted range.
        high: upper end of an accepted range.
        tolerance: half-width of the window around a drawn share.
        match_real: the shares are the real ones (from ``shares``, or the training mask's when empty).

    Raises:
        ValueError: shares outside [0, 1], ``low > high``, or a negative tolerance.

    Example::

        >>> ShareTarget.parse("0.05:0.2").window(np.random.RandomState(0))
        (0.05, 0.2)
    """

    shares: tuple[float, ...] = ()
    low: float = 0.0
    high: float = 1.0
    tolerance: float = 0.02
    match_real: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "shares", tuple(_share(f"shares[{i}]", s) for i, s in enumerate(self.shares)))
        low, high = _share("low", self.low), _share("high", self.high)
        if low > high:
            raise ValueError(f"low must not exceed high, got {low}:{high}.")
        if isinstance(self.tolerance, bool) or not isinstance(self.tolerance, numbers.Real) or self.tolerance < 0:
            raise ValueError(f"tolerance must be a number >= 0, got {self.tolerance!r}.")

    @classmethod
    def parse(cls, spec: str | Sequence[float] | ShareTarget, real_shares: Sequence[float] | None = None,
              tolerance: float = 0.02) -> ShareTarget:
        """A target from ``"match_real"``, ``"low:high"``, a ``(low, high)`` pair, or a target itself.

        Args:
            spec: the target.
            real_shares: with ``match_real``, the real set's shares (default: each pyramid's training share).
            tolerance: half-width of the window around a drawn share.

        Raises:
            ValueError: any other spec, or shares out of [0, 1].
        """
        if isinstance(spec, ShareTarget):
            return spec
        if isinstance(spec, str) and spec == MATCH_REAL:
            return cls(shares=tuple(real_shares or ()), tolerance=tolerance, match_real=True)
        if isinstance(spec, str) and spec.count(":") == 1:
            try:
                low, high = (float(part) for part in spec.split(":"))
            except ValueError:
                low = high = math.nan
            if not (math.isnan(low) or math.isnan(high)):
                return cls(low=low, high=high, tolerance=tolerance)
        elif not isinstance(spec, str) and isinstance(spec, Sequence) and len(spec) == 2:
            return cls(low=spec[0], high=spec[1], tolerance=tolerance)
        raise ValueError(f"share target must be 'match_real' or a range 'low:high' of shares in [0, 1] "
                         f"(e.g. '0.05:0.25'), got {spec!r}.")

    def window(self, rng: np.random.RandomState, training_share: float | None = None) -> tuple[float, float]:
        """The accepted ``(low, high)`` share of one pair, drawn from ``rng``.

        Raises:
            ValueError: ``match_real`` without shares and without ``training_share``.
        """
        shares = self.shares
        if self.match_real and not shares:
            if training_share is None:
                raise ValueError("match_real without real shares needs the pyramid's training share.")
            shares = (training_share,)
        if not shares:
            return self.low, self.high
        centre = shares[int(rng.randint(len(shares)))]
        return max(0.0, centre - self.tolerance), min(1.0, centre + self.tolerance)


@dataclass(frozen=True)
class SizeControl:
    """How pairs meet a :class:`ShareTarget`.

    Args:
        target: the share distribution.
        budget: attempts per pair at most (1: no control beyond recording the share).
        strategy: ``guide`` or ``reject`` (see :class:`SizeStrategy`).
        inject_scale: the scale guided attempts enter; by default the finest trained scale.

    Raises:
        ValueError: ``budget < 1``.
    """

    target: ShareTarget
    budget: int = 4
    strategy: SizeStrategy = SizeStrategy.GUIDE
    inject_scale: int | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.target, ShareTarget):
            raise TypeError(f"target must be a ShareTarget, got {type(self.target).__name__}.")
        if isinstance(self.budget, bool) or not isinstance(self.budget, numbers.Integral) or self.budget < 1:
            raise ValueError(f"budget must be an integer >= 1 (attempts per pair), got {self.budget!r}.")
        object.__setattr__(self, "strategy", SizeStrategy(self.strategy))


@dataclass(frozen=True)
class SizeRecord:
    """What :func:`sample_with_share` did for one pair: its window, how many attempts it took, the share it kept,
    whether that share is in the window, whether the budget ran out first, and whether the kept pair was guided."""

    low: float
    high: float
    attempts: int
    share: float
    accepted: bool
    budget_exhausted: bool
    guided: bool

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def foreground_share(layout: ChannelLayout, label: torch.Tensor) -> torch.Tensor:
    """Share of non-background pixels (any label value but the first) of ``(N, 1, *spatial)`` decoded labels."""
    return (label_indices(label, layout) > 0).double().flatten(1).mean(dim=1)


def training_share(model: SinGANSeg) -> float:
    """The foreground share of the pyramid's reconstruction: its training mask's share, as far as it learnt it."""
    return float(foreground_share(model.layout, model.decode(model.reconstruct())[1])[0])


def as_size_control(
    share: str | Sequence[float] | ShareTarget | SizeControl,
    real_shares: Sequence[float] | None = None,
    tolerance: float = 0.02,
    budget: int = 4,
    strategy: SizeStrategy | str = SizeStrategy.GUIDE,
) -> SizeControl:
    """A :class:`SizeControl` from a target spec (see :meth:`ShareTarget.parse`) and its settings, or the control
    itself.

    Raises:
        ValueError: a bad spec, budget or strategy.
    """
    if isinstance(share, SizeControl):
        return share
    return SizeControl(ShareTarget.parse(share, real_shares, tolerance), budget, SizeStrategy(strategy))


def resize_lesion(label: torch.Tensor, layout: ChannelLayout, share: float) -> torch.Tensor:
    """A ``(1, 1, *spatial)`` label map with its lesion (every non-background label) scaled about its centre so
    it covers about ``share`` of the image (less where it leaves the image); an empty map is returned as it is."""
    index = label_indices(label, layout)
    current = float((index > 0).double().mean())
    if current == 0:
        return label
    spatial = label.ndim - 2
    zoom = (share / current) ** (1 / spatial)
    where = torch.nonzero(index[0, 0] > 0).double()
    size = torch.tensor(label.shape[2:], dtype=torch.float64)
    centre = (2 * (where.mean(0) + 0.5) / size - 1).float()
    # Output point p reads input point centre + (p - centre) / zoom; affine_grid orders coordinates x first.
    theta = torch.zeros(1, spatial, spatial + 1)
    theta[0, :, :spatial] = torch.eye(spatial) / zoom
    theta[0, :, spatial] = (centre - centre / zoom).flip(0)
    grid = F.affine_grid(theta, list(index.shape), align_corners=False).to(label.device)
    moved = F.grid_sample(index.float(), grid, mode="nearest", padding_mode="zeros", align_corners=False).long()
    values = torch.tensor(layout.label_values, dtype=torch.float64, device=label.device)
    return values[moved]


@torch.no_grad()
def sample_with_share(
    model: SinGANSeg,
    window: tuple[float, float],
    seed: int,
    start_scale: int = 0,
    budget: int = 4,
    strategy: SizeStrategy | str = SizeStrategy.GUIDE,
    inject_scale: int | None = None,
) -> tuple[torch.Tensor, SizeRecord]:
    """One ``(1, channels, *shape)`` stack whose foreground share falls in ``window``, if ``budget`` attempts reach
    it; otherwise the attempt nearest to the window (``budget_exhausted``).

    The first attempt is the unconditional sample of ``seed`` (so ``budget=1`` gives what plain sampling gives);
    later ones draw on from the same generator. With ``guide``, a later attempt stretches the previous attempt's
    lesion to the window's centre and injects it at ``inject_scale`` with the previous image's colours.

    Args:
        model: the pyramid.
        window: the accepted ``(low, high)`` share.
        seed: seed of the noise.
        start_scale: first scale with fresh noise of unconditional attempts.
        budget: attempts at most.
        strategy: ``guide`` or ``reject``.
        inject_scale: the scale guided attempts enter (default: the finest trained scale).

    Returns:
        The stack and its :class:`SizeRecord`.

    Example::

        >>> stack, record = sample_with_share(model, (0.10, 0.14), seed=3)
    """
    control = SizeControl(ShareTarget(low=window[0], high=window[1]), budget, strategy, inject_scale)
    low, high = control.target.low, control.target.high
    scale = model.num_trained_scales - 1 if inject_scale is None else inject_scale
    generator = torch.Generator().manual_seed(int(seed))
    best: tuple[float, torch.Tensor, float, bool] | None = None
    previous: torch.Tensor | None = None
    for attempt in range(1, control.budget + 1):
        guided = control.strategy == SizeStrategy.GUIDE and previous is not None and model.num_trained_scales > 1
        if guided:
            mask = resize_lesion(model.decode(previous)[1], model.layout, (low + high) / 2)
            request = guide_stack(model.layout, previous, mask.to(previous.device))
            stack = model.sample(1, start_scale, generator, inject=request, inject_scale=max(scale, 1))
        else:
            stack = model.sample(1, start_scale, generator)
        share = float(foreground_share(model.layout, model.decode(stack)[1])[0])
        distance = max(low - share, share - high, 0.0)
        if best is None or distance < best[0]:
            best = (distance, stack, share, guided)
        if distance == 0:
            return stack, SizeRecord(low, high, attempt, share, True, False, guided)
        # Stretch the unconditional lesion, not an already stretched one, so errors do not pile up.
        previous = stack if not guided else previous
    assert best is not None
    return best[1], SizeRecord(low, high, control.budget, best[2], False, True, best[3])
