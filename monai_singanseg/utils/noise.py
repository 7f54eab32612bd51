"""Where training draws its random numbers: per-model torch generators, or per-model counter-based streams.

Training ``M`` models at once needs each model's draws to be the ones it would make alone. Both sources give that;
they differ in how the draws are made:

- :class:`GeneratorNoise` (the default) draws from one ``torch.Generator`` per model, one call per model: the
  reference's streams, bit for bit.
- :class:`CounterNoise` computes every model's numbers in one vectorised Philox call from (model key, stream
  position), with the position held on the device: no host work and static shapes, so a training step can be
  captured as a CUDA graph. Its numbers differ from a generator's.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from enum import StrEnum
from typing import Any, Protocol

import torch

from monai_singanseg.utils.philox import philox_normal, philox_uniform, split_key

__all__ = ["CounterNoise", "GeneratorNoise", "NoiseKind", "NoiseSource", "draw_noise", "generator_uniform",
           "noise_source"]


class NoiseKind(StrEnum):
    """Where training noise comes from (``settings.noise``)."""

    GENERATOR = "generator"
    COUNTER = "counter"


class NoiseSource(Protocol):
    """Random draws for ``num_models`` models trained together, each model's draws independent of the others."""

    num_models: int

    def normal(self, channels: int, shape: Sequence[int], single_channel: bool = False) -> torch.Tensor:
        """One standard normal map per model, stacked model by model: ``(1, M * channels, *shape)``.

        ``single_channel`` draws one channel repeated over all channels (the reference's coarsest-scale noise).
        """

    def uniform(self) -> torch.Tensor:
        """One number in [0, 1) per model, ``(M,)``."""

    def state_dict(self) -> dict[str, Any]:
        """Where the streams stand, as plain data under keys of this source's own (a trainer saves them beside its own)."""

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Continue from :meth:`state_dict`; a state without this source's keys (a finished checkpoint) changes nothing."""


def draw_noise(
    generators: Sequence[torch.Generator], channels: int, shape: Sequence[int], single_channel: bool, device: torch.device
) -> torch.Tensor:
    """One noise map per model, each from its own generator, stacked model by model: ``(1, M * channels, *shape)``.

    Noise is drawn on each generator's device and moved, so a CPU seed gives the same noise anywhere.
    """
    maps = []
    for g in generators:
        z = torch.randn(1, 1 if single_channel else channels, *shape, generator=g, device=g.device)
        maps.append(z.expand(1, channels, *shape).to(device))
    return torch.cat(maps, dim=1)


def generator_uniform(generators: Sequence[torch.Generator | None], device: torch.device) -> torch.Tensor:
    """One ``U(0, 1)`` number per generator (``None``: torch's global generator), ``(len(generators),)``."""
    draws = [torch.rand(1, generator=g, device=g.device if g is not None else None) for g in generators]
    return torch.cat([d.to(device) for d in draws])


class GeneratorNoise:
    """Draws from one ``torch.Generator`` per model, in the single-model order (the default, the reference's)."""

    def __init__(self, generators: Sequence[torch.Generator], device: torch.device | str) -> None:
        self.generators, self.device = list(generators), torch.device(device)
        self.num_models = len(self.generators)

    def normal(self, channels: int, shape: Sequence[int], single_channel: bool = False) -> torch.Tensor:
        return draw_noise(self.generators, channels, shape, single_channel, self.device)

    def uniform(self) -> torch.Tensor:
        return generator_uniform(self.generators, self.device)

    def state_dict(self) -> dict[str, Any]:
        return {"random": [g.get_state() for g in self.generators]}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        for g, saved in zip(self.generators, state.get("random", [])):
            g.set_state(saved)


class CounterNoise:
    """Counter-based draws: model ``m``'s numbers are Philox4x32-10 under the key of ``seeds[m]``.

    Every draw takes the next counters of the stream, the same for all models, so model ``m`` gets the same numbers
    whether it trains alone or with others. The stream position is a 0-d int64 tensor on ``device`` advanced in
    place: a draw makes no host-device transfer, no host synchronisation and no call to a torch generator.

    Args:
        seeds: one seed per model (any integers).
        device: where the numbers are made.
    """

    def __init__(self, seeds: Sequence[int], device: torch.device | str) -> None:
        self.device = torch.device(device)
        self.num_models = len(seeds)
        self.keys = torch.tensor([split_key(int(s)) for s in seeds], dtype=torch.int64, device=self.device)
        self.offset = torch.zeros((), dtype=torch.int64, device=self.device)

    def _advance(self, count: int) -> torch.Tensor:
        start = self.offset.clone()
        self.offset += math.ceil(count / 4)  # four numbers per counter
        return start

    def normal(self, channels: int, shape: Sequence[int], single_channel: bool = False) -> torch.Tensor:
        drawn = 1 if single_channel else channels
        count = drawn * math.prod(shape)
        z = philox_normal(self.keys, self._advance(count), count, torch.get_default_dtype())
        z = z.view(self.num_models, drawn, *shape).expand(self.num_models, channels, *shape)
        return z.reshape(1, self.num_models * channels, *shape)

    def uniform(self) -> torch.Tensor:
        return philox_uniform(self.keys, self._advance(1), 1, torch.get_default_dtype()).view(self.num_models)

    def state_dict(self) -> dict[str, Any]:
        return {"noise_offset": int(self.offset)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if "noise_offset" in state:
            self.offset.fill_(int(state["noise_offset"]))


def noise_source(kind: str, generators: Sequence[torch.Generator], seeds: Sequence[int], device: torch.device) -> NoiseSource:
    """The training noise of ``settings.noise``: ``"generator"`` draws from ``generators``, ``"counter"`` from ``seeds``."""
    if kind == NoiseKind.GENERATOR:
        return GeneratorNoise(generators, device)
    if kind == NoiseKind.COUNTER:
        return CounterNoise(seeds, device)
    raise ValueError(f"noise must be one of {[str(k) for k in NoiseKind]}, got {kind!r}.")
