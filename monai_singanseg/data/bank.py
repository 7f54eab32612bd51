"""A bank of trained pyramids keyed by the id of the image each was trained on, loaded lazily per process."""

from __future__ import annotations

import os
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import torch

from monai_singanseg.data.io import image_id_of
from monai_singanseg.data.checkpoint import load_pyramid, read_checkpoint
from monai_singanseg.networks.singanseg import SinGANSeg
from monai_singanseg.layout import ChannelLayout

__all__ = ["MissingPyramidError", "SinGANSegBank", "image_id_of"]


class MissingPyramidError(KeyError):
    """No pyramid in the bank for an image id. A ``KeyError`` whose message reads as a sentence."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


def _read_index(path: Path) -> tuple[str, dict[str, Any]]:
    """The image id and the model config of one checkpoint, without reading its weights.

    ``mmap=True`` maps the tensors instead of reading them, so indexing a bank of a thousand checkpoints reads only
    their small pickled headers.
    """
    payload = read_checkpoint(path, mmap=True)
    metadata = payload.get("metadata") or {}
    image_id = metadata.get("image_id") or path.stem
    return str(image_id), dict(payload["config"])


class SinGANSegBank:
    """Trained SinGAN-Seg pyramids (Thambawita et al., PLoS ONE 2022), one per training image, keyed by image id.

    The id of a checkpoint is its ``metadata["image_id"]`` (set by ``monai-singanseg train``) or, when absent, its
    file stem. Building the bank reads only the checkpoints' headers; a pyramid is loaded on first use and kept in
    a least-recently-used cache of ``cache_size`` pyramids.

    The bank is safe in ``DataLoader`` worker processes: it holds only paths and plain data until a pyramid is
    asked for, pickling it drops the cache, and a forked process starts with an empty cache of its own, so no model
    is shared between processes and every worker loads what it needs on first use. Keep ``device="cpu"`` (the
    default) in workers; a GPU device suits a bank used in the main process.

    Args:
        checkpoints: a folder of ``*.pt`` checkpoints, or a sequence of checkpoint files.
        cache_size: how many loaded pyramids each process keeps.
        device: where loaded pyramids live.

    Raises:
        FileNotFoundError: the folder or a file does not exist, or the folder has no ``*.pt`` file.
        CheckpointError: a file is not a readable checkpoint.
        ValueError: two checkpoints have the same image id, or ``cache_size < 1``.

    Example::

        >>> bank = SinGANSegBank("models/", cache_size=8)
        >>> bank.ids[:2]
        ('cju0qkwl35piu0993l0dewei2', 'cju0roawvklrq0799vmjorwfv')
        >>> stacks = bank["cju0qkwl35piu0993l0dewei2"].sample(4)
    """

    def __init__(
        self,
        checkpoints: str | os.PathLike | Sequence[str | os.PathLike],
        cache_size: int = 4,
        device: str | torch.device = "cpu",
    ) -> None:
        if cache_size < 1:
            raise ValueError(f"cache_size must be at least 1, got {cache_size}.")
        if isinstance(checkpoints, (str, os.PathLike)):
            folder = Path(checkpoints)
            if not folder.is_dir():
                raise FileNotFoundError(f"bank folder {folder} does not exist.")
            paths = sorted(folder.glob("*.pt"))
            if not paths:
                raise FileNotFoundError(f"bank folder {folder} holds no *.pt checkpoint.")
        else:
            paths = [Path(p) for p in checkpoints]
            missing = [str(p) for p in paths if not p.is_file()]
            if missing:
                raise FileNotFoundError(f"checkpoint files {missing[:5]} do not exist.")
        self.cache_size = cache_size
        self.device = str(device)
        self._paths: dict[str, Path] = {}
        self._configs: dict[str, dict[str, Any]] = {}
        for path in paths:
            image_id, config = _read_index(path)
            if image_id in self._paths:
                raise ValueError(f"image id {image_id!r} belongs to both {self._paths[image_id]} and {path}.")
            self._paths[image_id], self._configs[image_id] = path, config
        self._ids = tuple(sorted(self._paths))
        self._reset_cache()

    def _reset_cache(self) -> None:
        self._cache: OrderedDict[str, SinGANSeg] = OrderedDict()
        self._pid = os.getpid()

    def __getstate__(self) -> dict[str, Any]:
        # Paths and plain data only: a bank sent to a spawned worker carries no model.
        state = self.__dict__.copy()
        state["_cache"] = OrderedDict()
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._reset_cache()

    @property
    def ids(self) -> tuple[str, ...]:
        """The image ids, sorted."""
        return self._ids

    @property
    def cached_ids(self) -> tuple[str, ...]:
        """Ids of the pyramids loaded in this process, least recently used first."""
        return tuple(self._cache) if self._pid == os.getpid() else ()

    def __len__(self) -> int:
        return len(self._ids)

    def __iter__(self) -> Iterator[str]:
        return iter(self._ids)

    def __contains__(self, image_id: object) -> bool:
        return image_id in self._paths

    def _check(self, image_id: str) -> None:
        if image_id not in self._paths:
            some = ", ".join(repr(i) for i in self._ids[:5])
            more = f" and {len(self._ids) - 5} more" if len(self._ids) > 5 else ""
            raise MissingPyramidError(f"no pyramid for image id {image_id!r} in the bank; it has {some}{more}.")

    def path_of(self, image_id: str) -> Path:
        """The checkpoint file of ``image_id``.

        Raises:
            MissingPyramidError: ``image_id`` is not in the bank (a ``KeyError``).
        """
        self._check(image_id)
        return self._paths[image_id]

    def layout_of(self, image_id: str) -> ChannelLayout:
        """The channel layout of ``image_id``'s pyramid, read from its header (nothing is loaded).

        Raises:
            MissingPyramidError: ``image_id`` is not in the bank (a ``KeyError``).
        """
        self._check(image_id)
        return ChannelLayout.from_dict(self._configs[image_id]["layout"])

    def num_scales_of(self, image_id: str) -> int:
        """How many scales ``image_id``'s full pyramid has, read from its header (nothing is loaded).

        Raises:
            MissingPyramidError: ``image_id`` is not in the bank (a ``KeyError``).
        """
        self._check(image_id)
        return len(self._configs[image_id]["scale_shapes"])

    def require_compatible_layouts(self) -> ChannelLayout:
        """Check that every pyramid yields the same kind of pair, so any of them can stand in for any image.

        Compatible means the same spatial dimensions, image channels and label values; intensity ranges may differ.

        Returns:
            The layout of the first pyramid.

        Raises:
            ValueError: two pyramids differ, naming both and how.
        """
        first = self.layout_of(self._ids[0])
        for image_id in self._ids[1:]:
            layout = self.layout_of(image_id)
            for field in ("spatial_dims", "image_channels", "label_values"):
                if getattr(layout, field) != getattr(first, field):
                    raise ValueError(
                        f"the bank mixes channel layouts: {self._ids[0]!r} has {field}={getattr(first, field)} but "
                        f"{image_id!r} has {field}={getattr(layout, field)}; use pyramids of one kind of data."
                    )
        return first

    def __getitem__(self, image_id: str) -> SinGANSeg:
        """The pyramid trained on ``image_id``, loaded on first use in this process.

        Raises:
            MissingPyramidError: ``image_id`` is not in the bank (a ``KeyError``).
            CheckpointError: its file became unreadable since the bank was built.
        """
        self._check(image_id)
        if self._pid != os.getpid():
            # A forked worker must not reuse the parent's modules: start this process's own cache.
            self._reset_cache()
        model = self._cache.get(image_id)
        if model is None:
            model = load_pyramid(self._paths[image_id], map_location=self.device)
            self._cache[image_id] = model
            while len(self._cache) > self.cache_size:
                self._cache.popitem(last=False)
        else:
            self._cache.move_to_end(image_id)
        return model

    def clear_cache(self) -> None:
        """Drop every loaded pyramid of this process."""
        self._reset_cache()

    def __repr__(self) -> str:
        return f"SinGANSegBank({len(self)} pyramids, cache_size={self.cache_size}, device={self.device!r})"
