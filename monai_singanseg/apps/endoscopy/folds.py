"""Cross-validation splits with no leakage: generators and segmentation models never see the evaluation fold."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["DataSplit", "check_no_leakage", "held_out_entries", "kfold_split", "nested_subsets", "split_pairs"]


@dataclass(frozen=True)
class DataSplit:
    """One fold of a dataset.

    Attributes:
        train: entries the generators and the segmentation model may see.
        test: held-out entries, used for evaluation only (empty when ``num_folds == 1``).
    """

    train: tuple[dict[str, Any], ...]
    test: tuple[dict[str, Any], ...]

    @property
    def train_ids(self) -> list[str]:
        return [entry["image_id"] for entry in self.train]

    @property
    def test_ids(self) -> list[str]:
        return [entry["image_id"] for entry in self.test]


def kfold_split(ids: Sequence[str], num_folds: int, seed: int = 0) -> list[tuple[list[str], list[str]]]:
    """``num_folds`` folds of ``(train_ids, test_ids)``: every id is in exactly one test fold.

    The ids are sorted, then shuffled by ``seed``, then dealt into folds of sizes differing by at most one, so the
    split depends on the set of ids and the seed, never on the order they were listed in.

    Args:
        ids: unique image ids.
        num_folds: 1 (everything is training data) or at least 2 and at most ``len(ids)``.
        seed: shuffle seed.

    Returns:
        One ``(train_ids, test_ids)`` pair per fold, each list sorted.

    Raises:
        ValueError: duplicate ids, or ``num_folds`` out of range.

    Example::

        >>> [len(test) for _, test in kfold_split([f"p{i}" for i in range(10)], 3)]
        [4, 3, 3]
    """
    ordered = sorted(ids)
    if len(set(ordered)) != len(ordered):
        raise ValueError("ids must be unique.")
    if num_folds == 1:
        return [(ordered, [])]
    if not 2 <= num_folds <= len(ordered):
        raise ValueError(f"num_folds must be 1 or lie in 2..{len(ordered)} (the number of images), got {num_folds}.")
    order = np.random.default_rng(seed).permutation(len(ordered))
    folds = [sorted(ordered[i] for i in order[k::num_folds]) for k in range(num_folds)]
    return [(sorted(set(ordered) - set(test)), test) for test in folds]


def nested_subsets(ids: Sequence[str], sizes: Iterable[int], seed: int = 0) -> dict[int, list[str]]:
    """Subsets of ``ids`` of the given sizes, each containing the smaller ones (5 real images are among the 10).

    Nesting makes the small-data curve of the paper (Table 2, Figure 11) a curve of one growing dataset rather than
    of unrelated draws.

    Raises:
        ValueError: a size below 1 or above ``len(ids)``.

    Example::

        >>> subsets = nested_subsets([f"p{i}" for i in range(10)], [2, 5])
        >>> set(subsets[2]) <= set(subsets[5])
        True
    """
    ordered = sorted(ids)
    order = [ordered[i] for i in np.random.default_rng(seed).permutation(len(ordered))]
    subsets = {}
    for size in sizes:
        if not 1 <= size <= len(ordered):
            raise ValueError(f"subset size {size} must lie in 1..{len(ordered)} (the training images).")
        subsets[int(size)] = sorted(order[:size])
    return subsets


def check_no_leakage(seen_ids: Iterable[str], evaluation_ids: Iterable[str], what: str = "generators") -> None:
    """Raise when anything trained on (``seen_ids``) is also evaluated on.

    Raises:
        ValueError: naming the shared ids.
    """
    shared = sorted(set(seen_ids) & set(evaluation_ids))
    if shared:
        shown = ", ".join(shared[:8]) + (f" and {len(shared) - 8} more" if len(shared) > 8 else "")
        raise ValueError(f"leakage: the {what} saw {len(shared)} images of the evaluation fold ({shown}).")


def split_pairs(
    pairs: Sequence[dict[str, Any]],
    num_folds: int = 3,
    fold: int = 0,
    seed: int = 0,
    num_train: int | None = None,
) -> DataSplit:
    """The training and held-out entries of fold ``fold``, optionally keeping only ``num_train`` training images.

    Args:
        pairs: entries with an ``image_id`` (from :func:`~monai_singanseg.apps.endoscopy.pair_polyp_folder`).
        num_folds: folds of the cross-validation; 1 keeps every image for training.
        fold: which fold is held out, in ``0..num_folds - 1``.
        seed: shuffle seed of the folds and of the training subset.
        num_train: keep this many training images (a nested subset, see :func:`nested_subsets`); None keeps all.

    Returns:
        The :class:`DataSplit`.

    Raises:
        ValueError: ``fold`` out of range, an entry without ``image_id``, ``num_train`` too large, or leakage.

    Example::

        >>> split = split_pairs(pair_polyp_folder("Kvasir-SEG"), num_folds=3, fold=0)
        >>> set(split.train_ids).isdisjoint(split.test_ids)
        True
    """
    if not 0 <= fold < num_folds:
        raise ValueError(f"fold must lie in 0..{num_folds - 1}, got {fold}.")
    if any("image_id" not in entry for entry in pairs):
        raise ValueError("every entry needs an 'image_id' (use pair_polyp_folder).")
    by_id = {entry["image_id"]: entry for entry in pairs}
    train_ids, test_ids = kfold_split(list(by_id), num_folds, seed)[fold]
    if num_train is not None:
        train_ids = nested_subsets(train_ids, [num_train], seed)[num_train]
    check_no_leakage(train_ids, test_ids, "training set")
    return DataSplit(train=tuple(by_id[i] for i in train_ids), test=tuple(by_id[i] for i in test_ids))


def held_out_entries(split: DataSplit) -> list[dict[str, Any]]:
    """The evaluation entries of ``split``.

    Raises:
        ValueError: the split holds no image out (``num_folds == 1``).
    """
    if not split.test:
        raise ValueError("the split holds no image out for evaluation (split#num_folds is 1): set split#num_folds to "
                         "2 or more, and split#fold to the fold to evaluate.")
    return list(split.test)
