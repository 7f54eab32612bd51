"""Where pretrained weight files are looked for, how a user-supplied torch file is read safely, and the errors
that say what is wrong with one.

Nothing is downloaded at run time (hospital machines are often offline): files come from an explicit path or from
torchvision's cache folder, ``$TORCH_HOME/hub/checkpoints``, under the name torchvision (or the owning package) gives
them. Every file is read with ``torch.load(weights_only=True)``, so no code in it runs; a file it refuses is reported
in one sentence, never with torch's advice to load it with ``weights_only=False``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

__all__ = ["WeightsFile", "hub_checkpoint_path", "missing_weights_message", "read_torch_file"]

# torch names the refused global in its UnpicklingError: "Trying to load unsupported GLOBAL posix.system whose ...".
_REFUSED_GLOBAL = re.compile(r"GLOBAL ([\w.]+)")
# c10's assertion prefix, "[enforce fail at inline_container.cc:180] . ", says nothing to a reader.
_ENFORCE_PREFIX = re.compile(r"^\[enforce fail at [^\]]*\][\s.]*")
_SHOWN_KEYS = 5


def hub_checkpoint_path(file_name: str) -> Path:
    """``$TORCH_HOME/hub/checkpoints/<file_name>``, read from :func:`torch.hub.get_dir` at call time.

    Example::

        >>> hub_checkpoint_path("vgg19-dcbb9e9d.pth").parent.name
        'checkpoints'
    """
    return Path(torch.hub.get_dir()) / "checkpoints" / file_name


def missing_weights_message(path: Path, what: str, file_name: str, url: str, argument: str, extra: str = "") -> str:
    """The message of a missing weight file: what it is, where to get it, where to put it, how to do without.

    Example::

        >>> missing_weights_message(Path("x.pth"), "VGG19 weights", "vgg19-dcbb9e9d.pth", "URL", "weights_path")[:34]
        "VGG19 weights not found at 'x.pth'"
    """
    return (
        f"{what} not found at '{path}'. Download '{file_name}' from {url} and put it in "
        f"'{hub_checkpoint_path(file_name).parent}' (the torch hub cache, $TORCH_HOME/hub/checkpoints) or pass its "
        f"location as {argument}; {extra}pretrained=False gives random weights."
    )


def _why_unreadable(path: Path, err: BaseException) -> str:
    """Why ``torch.load(weights_only=True)`` failed, in our words: torch's own advice to retry with
    ``weights_only=False`` would run whatever code the file holds."""
    message = str(err)
    refused = _REFUSED_GLOBAL.search(message)
    if refused:
        return (f"it holds pickled Python objects ({refused.group(1)}) besides tensors and plain data, which are "
                "refused so that no code in the file runs")
    if "weights_only" in message:
        # The restricted unpickler met bytes that are no pickle at all (an HTML page, a text file): torch's first
        # sentences are its weights_only advice, the unpickler's own words follow "WeightsUnpickler error:".
        words = message.partition("WeightsUnpickler error:")[2].strip().splitlines()
        detail = words[0].strip() if words else ""
        return "it is truncated or corrupt, or not written by torch.save" + (f" ({detail})" if detail else "")
    if isinstance(err, OSError):
        return f"it cannot be read ({err.strerror or err})"
    try:
        if path.stat().st_size == 0:
            return "the file is empty"
    except OSError:
        pass
    first_line = message.strip().splitlines()[0] if message.strip() else ""
    detail = _ENFORCE_PREFIX.sub("", first_line).split(". ")[0].rstrip(".")
    # Short messages (a KeyError's "101") say nothing to a reader; torch's longer first sentences do.
    return "it is truncated or corrupt, or not written by torch.save" + (f" ({detail})" if len(detail) >= 20 else "")


def read_torch_file(
    path: str | os.PathLike, what: str, map_location: str | torch.device | None = "cpu", mmap: bool = False
) -> Any:
    """``torch.load(path, weights_only=True)``, with every way it can fail turned into one ``ValueError``.

    Args:
        path: the file; its existence is the caller's check, with the caller's message.
        what: what the file should be, for the message (``"checkpoint"``, ``"VGG19 state dict ..."``).
        map_location: as for ``torch.load``.
        mmap: map the tensors instead of reading them (files in torch's zip format only).

    Returns:
        The loaded object: tensors, containers and plain data only.

    Raises:
        ValueError: the file is empty, truncated, corrupt, not written by ``torch.save``, or holds pickled objects
            other than tensors and plain data (refused, never run); the message names the file and ``what``.

    Example::

        >>> state = read_torch_file("vgg19-dcbb9e9d.pth", "torchvision's VGG19 state dict")
    """
    path = Path(path)
    try:
        return torch.load(path, map_location=map_location, weights_only=True, mmap=mmap)
    except Exception as err:  # torch.load raises a dozen types (RuntimeError, EOFError, KeyError, UnpicklingError...)
        raise ValueError(f"'{path}' is not a readable {what}: {_why_unreadable(path, err)}.") from None


def _listed(keys: Sequence[str]) -> str:
    shown = ", ".join(keys[:_SHOWN_KEYS])
    return shown + (f" and {len(keys) - _SHOWN_KEYS} more" if len(keys) > _SHOWN_KEYS else "")


@dataclass(frozen=True)
class WeightsFile:
    """A pretrained state-dict file that the user supplies: what it is, where it is published, which argument
    takes its path. :meth:`load` reads one such file and checks it against the network's own state dict.

    Args:
        what: what the weights are, e.g. ``"VGG19 ImageNet weights"``.
        file_name: the published file name, e.g. ``"vgg19-dcbb9e9d.pth"``.
        url: where to download it.
        argument: the argument that takes its path, e.g. ``"weights_path"``.
        extra: a sentence for the missing-file message on how to do without (ending in ``"; "``).

    Example::

        >>> VGG19 = WeightsFile("VGG19 ImageNet weights", "vgg19-dcbb9e9d.pth", "https://...", "weights_path")
        >>> state = VGG19.load("vgg19-dcbb9e9d.pth", network.state_dict(), prefix="features.")
    """

    what: str
    file_name: str
    url: str
    argument: str
    extra: str = ""

    @property
    def expected(self) -> str:
        """What the file should be, as messages say it: ``VGG19 ImageNet weights ('vgg19-dcbb9e9d.pth' from ...)``."""
        return f"{self.what} ('{self.file_name}' from {self.url})"

    def load(
        self,
        path: str | os.PathLike,
        own: Mapping[str, torch.Tensor],
        prefix: str = "",
        optional: Sequence[str] = (),
    ) -> dict[str, torch.Tensor]:
        """The tensors for the keys of ``own`` that start with ``prefix``, read from ``path`` and checked.

        Args:
            path: the ``.pth`` file, read with ``torch.load(weights_only=True)``.
            own: the network's state dict, the keys and shapes the file must provide (other keys are ignored).
            prefix: only keys starting with it are needed.
            optional: key endings the file may lack (``num_batches_tracked`` of files saved before PyTorch 0.4.1).

        Returns:
            The file's tensors for those keys, ready for ``load_state_dict(..., strict=False)``.

        Raises:
            FileNotFoundError: ``path`` does not exist; the message says where to download it and put it.
            ValueError: the file is unreadable (empty, text, truncated, unsafe pickle), is not a state dict, lacks
                a needed key, or holds one of another shape or with NaN or Inf; the message names the file and the
                expected weights.
        """
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(
                missing_weights_message(path, self.what, self.file_name, self.url, self.argument, self.extra))
        state = read_torch_file(path, f"weights file: expected {self.expected}")
        if not isinstance(state, Mapping):
            raise ValueError(f"'{path}' holds a {type(state).__name__}, not a state dict: expected {self.expected}.")
        needed = [key for key in own if key.startswith(prefix)]
        missing = [key for key in needed if key not in state and not key.endswith(tuple(optional))]
        if missing:
            raise ValueError(f"'{path}' is not {self.expected}: it lacks {_listed(missing)}.")
        present = [key for key in needed if key in state]
        wrong = [key for key in present
                 if not isinstance(state[key], torch.Tensor) or state[key].shape != own[key].shape]
        if wrong:
            raise ValueError(f"'{path}' holds tensors of other shapes than {self.expected} for {_listed(wrong)}.")
        broken = [key for key in present if state[key].is_floating_point() and not torch.isfinite(state[key]).all()]
        if broken:
            raise ValueError(f"'{path}' holds NaN or Inf values in {_listed(broken)}: it is not usable as "
                             f"{self.expected}.")
        return {key: state[key] for key in present}
