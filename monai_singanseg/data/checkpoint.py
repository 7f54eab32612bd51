"""One-file checkpoints of SinGAN-Seg pyramids: tensors and plain data only, written atomically, checked on load."""

from __future__ import annotations

import inspect
import math
import os
from collections.abc import Iterator, Mapping
from dataclasses import fields
from pathlib import Path
from typing import Any

import torch

from monai_singanseg.data.writers import write_atomically
from monai_singanseg.networks.singanseg import SinGANSeg
from monai_singanseg.networks.weight_files import read_torch_file
from monai_singanseg.settings import SinGANSegSettings, validate_settings
from monai_singanseg.layout import ChannelLayout

__all__ = ["CHECKPOINT_FORMAT", "CHECKPOINT_VERSION", "CheckpointError", "atomic_torch_save", "check_payload",
           "load_pyramid", "pyramid_from_payload", "read_checkpoint", "save_pyramid"]

CHECKPOINT_FORMAT = "monai_singanseg.pyramid"
CHECKPOINT_VERSION = 1


class CheckpointError(ValueError):
    """A file that is not a readable, usable SinGAN-Seg checkpoint of a supported version.

    A ``ValueError``, so the command line reports it in one line; the message names the file and what is wrong.
    """


def atomic_torch_save(obj: Any, path: str | os.PathLike) -> None:
    """``torch.save`` to a temporary file beside ``path``, then rename: a crash never leaves a half file."""
    write_atomically(path, lambda f: torch.save(obj, f))


def save_pyramid(model: SinGANSeg, path: str | os.PathLike, **extra: Any) -> None:
    """Write ``model`` (complete or half-trained) to ``path``.

    Args:
        model: the pyramid.
        path: destination file, conventionally ``*.pt``.
        extra: more plain data or tensors to keep beside it (training settings, resume state, provenance).
    """
    payload = {
        "format": CHECKPOINT_FORMAT,
        "format_version": CHECKPOINT_VERSION,
        "config": model.config(),
        "noise_amplitudes": model.noise_amplitudes.detach().cpu(),
        "reconstruction_noise": [z.detach().cpu() for z in model.reconstruction_noise],
        "generators": [{k: v.detach().cpu() for k, v in g.state_dict().items()} for g in model.generators],
        **extra,
    }
    atomic_torch_save(payload, path)


# The entries every pyramid payload holds, and the per-scale lists among them.
_PER_SCALE = ("generators", "noise_amplitudes", "reconstruction_noise")
_CONFIG_PARAMETERS = {name: p for name, p in inspect.signature(SinGANSeg.__init__).parameters.items() if name != "self"}
_REQUIRED_CONFIG = frozenset(name for name, p in _CONFIG_PARAMETERS.items() if p.default is inspect.Parameter.empty)
# Settings a pyramid's config repeats: both must agree.
_SHARED_SETTINGS = ("num_layers", "kernel_size", "base_features", "max_features")


def _tensors(value: Any, where: str = "") -> Iterator[tuple[str, torch.Tensor]]:
    """Every tensor in a payload, with where it sits (``generators[2]['head.conv.weight']``)."""
    if isinstance(value, torch.Tensor):
        yield where, value
    elif isinstance(value, Mapping):
        for key, item in value.items():
            yield from _tensors(item, f"{where}[{key!r}]" if where else str(key))
    elif isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            yield from _tensors(item, f"{where}[{index}]")


def check_payload(payload: Any, source: str = "checkpoint", check_values: bool = True) -> dict[str, Any]:
    """Check the layout of a pyramid payload and, with ``check_values``, that every tensor in it is finite.

    Steps: the format and version; the entries and their types (``config`` a mapping, ``generators`` a list of state
    dicts, ``noise_amplitudes`` a 1D tensor, ``reconstruction_noise`` a list of tensors, ``settings`` and
    ``metadata`` mappings when present); one entry per trained scale in every per-scale list; no NaN or Inf in any
    floating tensor of the payload (weights, noise amplitudes, reconstruction noise, the resume state's critic).

    Raises:
        CheckpointError: what is wrong, naming ``source``.
    """
    if not isinstance(payload, dict) or payload.get("format") != CHECKPOINT_FORMAT:
        raise CheckpointError(f"{source} is not a monai_singanseg pyramid checkpoint.")
    if payload.get("format_version") != CHECKPOINT_VERSION:
        raise CheckpointError(
            f"{source} has checkpoint format version {payload.get('format_version')}; this version of monai_singanseg "
            f"reads version {CHECKPOINT_VERSION}."
        )
    missing = [key for key in ("config", *_PER_SCALE) if key not in payload]
    if missing:
        raise CheckpointError(f"{source} is inconsistent: it lacks {', '.join(missing)}.")
    required = {"config": Mapping, "generators": list, "noise_amplitudes": torch.Tensor, "reconstruction_noise": list}
    optional = {"settings": Mapping, "metadata": Mapping, "training": Mapping}  # absent or None is fine
    for key, kind in {**required, **optional}.items():
        value = payload.get(key)
        if (key in required or value is not None) and not isinstance(value, kind):
            raise CheckpointError(f"{source} is inconsistent: its {key} is a {type(value).__name__}, not a "
                                  f"{kind.__name__}.")
    if payload["noise_amplitudes"].ndim != 1:
        raise CheckpointError(f"{source} is inconsistent: noise_amplitudes must be one number per scale, got shape "
                              f"{tuple(payload['noise_amplitudes'].shape)}.")
    if not all(isinstance(state, Mapping) for state in payload["generators"]):
        raise CheckpointError(f"{source} is inconsistent: every entry of generators must be a state dict.")
    if not all(isinstance(noise, torch.Tensor) for noise in payload["reconstruction_noise"]):
        raise CheckpointError(f"{source} is inconsistent: every entry of reconstruction_noise must be a tensor.")
    counts = {key: len(payload[key]) for key in _PER_SCALE}
    if len(set(counts.values())) > 1:
        raise CheckpointError(f"{source} is inconsistent: the per-scale entries disagree on the number of trained "
                              f"scales ({', '.join(f'{key}: {n}' for key, n in counts.items())}).")
    if check_values:
        for where, tensor in _tensors(payload):
            if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all()):
                raise CheckpointError(f"{source} is not usable: {where} holds NaN or Inf values.")
    return payload


def read_checkpoint(
    path: str | os.PathLike, map_location: str | torch.device | None = "cpu", mmap: bool = False
) -> dict[str, Any]:
    """The raw payload of a checkpoint, checked for format, version, layout and (without ``mmap``) finite values.

    Args:
        path: the checkpoint file.
        map_location: as for ``torch.load``.
        mmap: map the tensors instead of reading them (to index many checkpoints cheaply); their values are then not
            checked here, but :func:`pyramid_from_payload` checks them.

    Raises:
        TypeError: ``path`` is not a path.
        FileNotFoundError: ``path`` does not exist.
        CheckpointError: the file is truncated, corrupt, not ours, of another version, holds pickled code (refused,
            never run), or holds inconsistent or non-finite values.
    """
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"checkpoint path must be a str or os.PathLike, got {type(path).__name__}.")
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint {path} does not exist.")
    try:
        payload = read_torch_file(path, "checkpoint", map_location, mmap)
    except ValueError as err:
        raise CheckpointError(str(err)) from None
    return check_payload(payload, str(path), check_values=not mmap)


def _check_layout(data: Any, source: str) -> ChannelLayout:
    try:
        layout = ChannelLayout.from_dict(data)
    except (KeyError, TypeError, ValueError) as err:
        raise CheckpointError(f"{source} has an invalid channel layout: {err}") from None
    value_lists = {"label_values": layout.label_values, "intensity_min": layout.intensity_min,
                   "intensity_max": layout.intensity_max}
    for name, values in value_lists.items():
        if not all(isinstance(v, (int, float)) and math.isfinite(v) for v in values):
            raise CheckpointError(f"{source} has an invalid channel layout: {name} {values} must be finite numbers.")
    if len(set(layout.label_values)) != len(layout.label_values):
        raise CheckpointError(f"{source} has an invalid channel layout: label_values {layout.label_values} repeat.")
    for name in ("image_dtype", "label_dtype"):
        if not isinstance(getattr(torch, str(getattr(layout, name)), None), torch.dtype):
            raise CheckpointError(f"{source} has an invalid channel layout: {name}={getattr(layout, name)!r} is not "
                                  "a torch dtype.")
    return layout


def _check_generator(state: Mapping[str, Any], own: Mapping[str, torch.Tensor], scale: int, source: str) -> None:
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    if missing or unexpected:
        raise CheckpointError(f"{source} is inconsistent: generator {scale} does not match its config (missing "
                              f"{missing[:4]}, unexpected {unexpected[:4]}).")
    for key, expected in own.items():
        if not isinstance(state[key], torch.Tensor):
            raise CheckpointError(f"{source} is inconsistent: generator {scale}'s {key} is a "
                                  f"{type(state[key]).__name__}, not a tensor.")
        if tuple(state[key].shape) != tuple(expected.shape):
            raise CheckpointError(f"{source} is inconsistent: generator {scale}'s {key} has shape "
                                  f"{tuple(state[key].shape)}, its config needs {tuple(expected.shape)}.")
        if key.endswith("running_var") and bool((state[key] < 0).any()):
            raise CheckpointError(f"{source} is not usable: generator {scale}'s {key} holds negative variances.")


def pyramid_from_payload(payload: dict[str, Any], source: str = "checkpoint") -> SinGANSeg:
    """Rebuild a :class:`SinGANSeg` from a payload of :func:`read_checkpoint`, checking that it is usable.

    Besides :func:`check_payload`'s checks: the config is valid (scale shapes, widths, layout); the trained scales
    are at most the pyramid's; every generator's tensors have the keys and shapes its config gives; noise
    amplitudes are >= 0; every reconstruction noise has the shape of its scale; the saved settings, if any, are
    valid and agree with the config.

    Raises:
        CheckpointError: what is wrong, naming ``source``.
    """
    check_payload(payload, source)
    config = dict(payload["config"])
    unknown, missing = sorted(set(config) - set(_CONFIG_PARAMETERS)), sorted(_REQUIRED_CONFIG - set(config))
    if unknown or missing:
        raise CheckpointError(f"{source} has an invalid config: it lacks {missing} and has unknown keys {unknown}; "
                              f"a config holds {sorted(_CONFIG_PARAMETERS)}.")
    config["layout"] = _check_layout(config["layout"], source)
    try:
        model = SinGANSeg(**config)
    except (TypeError, ValueError) as err:
        raise CheckpointError(f"{source} has an invalid config: {err}") from None
    if payload.get("settings") is not None:
        # Sampling needs no settings: keys of other versions are left to resuming (SinGANSegSettings.from_dict), the
        # known ones must be valid and agree with the config.
        known = {f.name for f in fields(SinGANSegSettings)}
        try:
            settings = validate_settings({k: v for k, v in payload["settings"].items() if k in known})
        except (TypeError, ValueError) as err:
            raise CheckpointError(f"{source} holds invalid training settings: {err}") from None
        differing = [name for name in _SHARED_SETTINGS if name in settings and settings[name] != getattr(model, name)]
        if differing:
            raise CheckpointError(f"{source} is inconsistent: its settings and its config disagree on "
                                  f"{', '.join(differing)}.")
    amplitudes = payload["noise_amplitudes"]
    if len(amplitudes) > model.num_scales:
        raise CheckpointError(f"{source} is inconsistent: it holds {len(amplitudes)} trained scales, its config "
                              f"only {model.num_scales}.")
    if bool((amplitudes < 0).any()):
        raise CheckpointError(f"{source} is not usable: noise amplitudes must be >= 0, got {amplitudes.tolist()}.")
    for scale, (state, amplitude, noise) in enumerate(
        zip(payload["generators"], amplitudes, payload["reconstruction_noise"])
    ):
        expected = (1, model.in_channels, *model.scale_shapes[scale])
        if tuple(noise.shape) != expected:
            raise CheckpointError(f"{source} is inconsistent: the reconstruction noise of scale {scale} has shape "
                                  f"{tuple(noise.shape)}, its config needs {expected}.")
        generator = model.build_generator(scale)
        _check_generator(state, generator.state_dict(), scale, source)
        generator.load_state_dict(state)
        model.add_scale(generator, amplitude, noise)
    return model.to(amplitudes.device)


def load_pyramid(path: str | os.PathLike, map_location: str | torch.device | None = "cpu") -> SinGANSeg:
    """Read a pyramid written by :func:`save_pyramid`, with ``torch.load(weights_only=True)``, and check it.

    Raises:
        TypeError: ``path`` is not a path.
        FileNotFoundError: ``path`` does not exist.
        CheckpointError: the file is truncated, corrupt, not ours, of another version, or not usable (see
            :func:`pyramid_from_payload`).
    """
    return pyramid_from_payload(read_checkpoint(path, map_location), source=str(path))
