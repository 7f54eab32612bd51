"""Pack single-image models into one grouped module and back: state-dict maths, no copies of the networks."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch

__all__ = ["split_state_dict", "stack_state_dicts"]

# Counters are shared by all models of a group: every model sees the same number of BatchNorm updates.
_SHARED = ("num_batches_tracked",)


def stack_state_dicts(states: Sequence[Mapping[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
    """State of a ``num_models=len(states)`` module from the states of single models of the same architecture.

    Grouped convolutions keep group ``m``'s filters in rows ``m * out : (m + 1) * out`` of the weight, and per-channel
    BatchNorm tensors are laid out the same way, so every tensor is the concatenation along dimension 0.
    """
    return {
        key: states[0][key].clone() if key.endswith(_SHARED) else torch.cat([s[key] for s in states], dim=0)
        for key in states[0]
    }


def split_state_dict(state: Mapping[str, torch.Tensor], num_models: int) -> list[dict[str, torch.Tensor]]:
    """The inverse of :func:`stack_state_dicts`: one single-model state per group."""
    return [
        {
            key: value.clone() if key.endswith(_SHARED) else value.chunk(num_models, dim=0)[m].clone()
            for key, value in state.items()
        }
        for m in range(num_models)
    ]
