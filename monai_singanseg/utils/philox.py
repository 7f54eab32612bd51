"""Philox4x32-10, the counter-based random number generator of Salmon et al. (SC 2011), in plain tensor maths.

A counter-based generator maps (key, counter) to random bits with no state between draws, so a draw is a pure
function of where it is in the stream: many models' noise comes out of one vectorised call, each model's numbers
depending only on its own key, and the stream position can live on the device (no host work, so the draw can be
captured in a CUDA graph). cuRAND and torch's CUDA generator use the same algorithm; this one runs on any device.

32-bit words are held in int64 tensors; products are split in 16-bit halves so that no intermediate overflows.
"""

from __future__ import annotations

import math

import torch

__all__ = ["philox4x32", "philox_normal", "philox_uniform", "split_key"]

_MASK32 = 0xFFFFFFFF
_MULTIPLIERS = (0xD2511F53, 0xCD9E8D57)
_WEYL = (0x9E3779B9, 0xBB67AE85)  # the key schedule's increments
ROUNDS = 10


def _mulhilo(a: int, b: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """High and low 32-bit words of the 64-bit product ``a * b`` of 32-bit words."""
    low_half, high_half = a & 0xFFFF, a >> 16
    low_product, high_product = low_half * b, high_half * b  # each below 2 ** 48
    partial = ((high_product & 0xFFFF) << 16) + low_product  # below 2 ** 49
    return (high_product >> 16) + (partial >> 32), partial & _MASK32


def split_key(seed: int) -> tuple[int, int]:
    """The two 32-bit key words of a seed (any integer, taken modulo ``2 ** 64``)."""
    seed %= 2**64
    return seed & _MASK32, seed >> 32


def philox4x32(counter: torch.Tensor, key: torch.Tensor) -> torch.Tensor:
    """Philox4x32-10 of ``counter`` ``(..., 4)`` under ``key`` ``(..., 2)``, both 32-bit words in int64 tensors.

    Returns:
        Four random 32-bit words per counter, ``(..., 4)`` int64.
    """
    c0, c1, c2, c3 = counter.unbind(-1)
    k0, k1 = key.unbind(-1)
    for _ in range(ROUNDS):
        hi0, lo0 = _mulhilo(_MULTIPLIERS[0], c0)
        hi1, lo1 = _mulhilo(_MULTIPLIERS[1], c2)
        c0, c1, c2, c3 = hi1 ^ c1 ^ k0, lo1, hi0 ^ c3 ^ k1, lo0
        k0, k1 = (k0 + _WEYL[0]) & _MASK32, (k1 + _WEYL[1]) & _MASK32
    return torch.stack((c0, c1, c2, c3), dim=-1)


def _words(keys: torch.Tensor, offset: torch.Tensor, count: int) -> torch.Tensor:
    """``count`` counters per key from stream position ``offset`` on: ``(num_keys, count, 4)`` random words."""
    position = offset + torch.arange(count, device=keys.device)  # below 2 ** 63: the two low words suffice
    counter = torch.stack((position & _MASK32, position >> 32, torch.zeros_like(position), torch.zeros_like(position)), -1)
    return philox4x32(counter.unsqueeze(0), keys.unsqueeze(1).expand(-1, count, -1))


def _unit_interval(words: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    # The top 24 bits, centred in their bin: strictly inside (0, 1), exact in float32.
    return ((words >> 8).to(dtype) + 0.5) * 2.0**-24


def philox_uniform(keys: torch.Tensor, offset: torch.Tensor, count: int, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """``count`` uniform numbers in (0, 1) per key, from counters ``offset`` to ``offset + ceil(count / 4) - 1``.

    Args:
        keys: ``(num_keys, 2)`` int64 key words (:func:`split_key`).
        offset: 0-d int64 tensor, the first counter.
        count: numbers per key.

    Returns:
        ``(num_keys, count)``.
    """
    words = _words(keys, offset, math.ceil(count / 4))
    return _unit_interval(words, dtype).flatten(1)[:, :count]


def philox_normal(keys: torch.Tensor, offset: torch.Tensor, count: int, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """``count`` standard normal numbers per key by the Box-Muller transform, four per counter (as cuRAND).

    Uses counters ``offset`` to ``offset + ceil(count / 4) - 1``; arguments as :func:`philox_uniform`.
    """
    uniform = _unit_interval(_words(keys, offset, math.ceil(count / 4)), torch.float32)
    radius = torch.sqrt(-2.0 * torch.log(uniform[..., 0::2]))
    angle = 2.0 * math.pi * uniform[..., 1::2]
    normal = torch.stack((radius * torch.cos(angle), radius * torch.sin(angle)), dim=-1)  # (keys, counters, 2, 2)
    return normal.flatten(1)[:, :count].to(dtype)
