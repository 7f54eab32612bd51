"""The seed rules: how one model's training seed and one sample's noise seed derive from a base seed.

Pure functions, so that a model or a sample depends only on the base seed and its own key or index, never on the
rank, batch, order or batch size it was produced in; a resumed or resharded run then produces the same files.
"""

from __future__ import annotations

import hashlib

__all__ = ["keyed_seed", "sample_seed"]

# A prime stride keeps the seeds of consecutive samples of neighbouring base seeds apart (seed s, sample i vs seed
# s + 1, sample i - 1 would collide with a stride of 1).
_SAMPLE_STRIDE = 1_000_003


def keyed_seed(key: str, base_seed: int) -> int:
    """The training seed of the model named ``key``: ``base_seed`` plus a hash of the key, below ``2**31``.

    Args:
        key: what names the model, e.g. an image id (a bank) or ``"<slice_id>/<member>"`` (an ensemble).
        base_seed: the run's seed (``SinGANSegSettings.seed``).

    Returns:
        A seed in ``[0, 2**31)``.

    Example::

        >>> keyed_seed("cju0qkwl35piu0993l0dewei2", 0) == keyed_seed("cju0qkwl35piu0993l0dewei2", 0)
        True
    """
    digest = int(hashlib.sha256(key.encode()).hexdigest()[:8], 16)
    return (base_seed + digest) % 2**31


def sample_seed(seed: int, index: int) -> int:
    """The noise seed of sample ``index`` of a sampling run with ``seed``: sample ``i`` depends only on both.

    Args:
        seed: the sampling run's seed.
        index: the sample's position in the run.

    Returns:
        ``seed * 1_000_003 + index``.

    Example::

        >>> sample_seed(2, 5)
        2000011
    """
    return seed * _SAMPLE_STRIDE + index
