"""Where pretrained weight files are looked for, and the error that says where to put a missing one.

Nothing is downloaded at run time (hospital machines are often offline): files come from an explicit path or from
torchvision's cache folder, ``$TORCH_HOME/hub/checkpoints``, under the name torchvision (or the owning package) gives
them.
"""

from __future__ import annotations

from pathlib import Path

import torch

__all__ = ["hub_checkpoint_path", "missing_weights_message"]


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
