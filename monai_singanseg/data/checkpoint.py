"""One-file checkpoints of SinGAN-Seg pyramids: tensors and plain data only, written atomically."""

from __future__ import annotations

import os
import pickle
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import torch

from monai_singanseg.utils.layout import ChannelLayout
from monai_singanseg.networks.singanseg import SinGANSeg

__all__ = ["CHECKPOINT_FORMAT", "CHECKPOINT_VERSION", "CheckpointError", "atomic_torch_save", "load_pyramid",
           "read_checkpoint", "save_pyramid"]

CHECKPOINT_FORMAT = "monai_singanseg.pyramid"
CHECKPOINT_VERSION = 1


class CheckpointError(ValueError):
    """A file that is not a readable SinGAN-Seg checkpoint of a supported version."""


def atomic_torch_save(obj: Any, path: str | os.PathLike) -> None:
    """``torch.save`` to a temporary file beside ``path``, then rename: a crash never leaves a half file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            torch.save(obj, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


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


def read_checkpoint(path: str | os.PathLike, map_location: str | torch.device | None = "cpu") -> dict[str, Any]:
    """The raw payload of a checkpoint, checked for format and version.

    Raises:
        FileNotFoundError: ``path`` does not exist.
        CheckpointError: the file is truncated, corrupt, not ours, or of another version.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint {path} does not exist.")
    try:
        payload = torch.load(path, map_location=map_location, weights_only=True)
    except (RuntimeError, EOFError, pickle.UnpicklingError, zipfile.BadZipFile, ValueError) as err:
        raise CheckpointError(f"{path} is not a readable checkpoint (truncated or corrupt?): {err}") from None
    if not isinstance(payload, dict) or payload.get("format") != CHECKPOINT_FORMAT:
        raise CheckpointError(f"{path} is not a monai_singanseg pyramid checkpoint.")
    if payload.get("format_version") != CHECKPOINT_VERSION:
        raise CheckpointError(
            f"{path} has checkpoint format version {payload.get('format_version')}; this version of monai_singanseg "
            f"reads version {CHECKPOINT_VERSION}."
        )
    return payload


def pyramid_from_payload(payload: dict[str, Any], source: str = "checkpoint") -> SinGANSeg:
    """Rebuild a :class:`SinGANSeg` from a payload of :func:`read_checkpoint`."""
    try:
        config = dict(payload["config"])
        config["layout"] = ChannelLayout.from_dict(config["layout"])
        model = SinGANSeg(**config)
        for scale, (state, amplitude, noise) in enumerate(
            zip(payload["generators"], payload["noise_amplitudes"], payload["reconstruction_noise"])
        ):
            generator = model.build_generator(scale)
            generator.load_state_dict(state)
            model.add_scale(generator, amplitude, noise)
    except (KeyError, TypeError, RuntimeError, AssertionError) as err:
        raise CheckpointError(f"{source} is inconsistent: {err}") from None
    return model.to(payload["noise_amplitudes"].device)


def load_pyramid(path: str | os.PathLike, map_location: str | torch.device | None = "cpu") -> SinGANSeg:
    """Read a pyramid written by :func:`save_pyramid`, with ``torch.load(weights_only=True)``.

    Raises:
        FileNotFoundError: ``path`` does not exist.
        CheckpointError: the file is truncated, corrupt, not ours, or of another version.
    """
    return pyramid_from_payload(read_checkpoint(path, map_location), source=str(path))
