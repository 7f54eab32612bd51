"""Memorisation check: is a synthetic image a (shifted, flipped) copy of a real training image?"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from monai.utils import StrEnum

from monai_singanseg.metrics.laplacian import sample_patch_descriptors
from monai_singanseg.metrics.paired_sets import PairedSetMetric

__all__ = [
    "Flip",
    "MemorisationMetric",
    "NearestReal",
    "flip_images",
    "nearest_real",
    "normalised_cross_correlation",
    "shifted_normalised_cross_correlation",
    "patch_nearest_neighbour_distance",
]


class Flip(StrEnum):
    """Flips tried when matching a synthetic image against the real ones."""

    NONE = "none"
    HORIZONTAL = "horizontal"
    VERTICAL = "vertical"
    BOTH = "both"


_FLIP_DIMS: dict[Flip, tuple[int, ...]] = {
    Flip.NONE: (),
    Flip.HORIZONTAL: (-1,),
    Flip.VERTICAL: (-2,),
    Flip.BOTH: (-2, -1),
}


def flip_images(images: torch.Tensor, flip: Flip | str) -> torch.Tensor:
    """Flip a ``(..., H, W)`` tensor left-right, up-down, both, or not at all.

    Args:
        images: tensor whose last two dimensions are rows and columns.
        flip: a :class:`Flip`.

    Returns:
        The flipped tensor.

    Example::

        >>> flip_images(torch.tensor([[1, 2]]), "horizontal").tolist()
        [[2, 1]]
    """
    dims = _FLIP_DIMS[Flip(flip)]
    return images.flip(dims) if dims else images


def normalised_cross_correlation(first: torch.Tensor, second: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """Zero-mean normalised cross-correlation of every image of ``first`` with every image of ``second``.

    Each channel's mean is removed, so a copy with a brightness or colour offset still scores one.

    Args:
        first: ``(N, C, H, W)`` images.
        second: ``(M, C, H, W)`` images.
        eps: floor of the norm; a constant image correlates zero with everything.

    Returns:
        ``(N, M)`` values in ``[-1, 1]``.

    Example::

        >>> image = torch.rand(1, 3, 8, 8)
        >>> round(float(normalised_cross_correlation(image, 2 * image + 1)), 4)
        1.0
    """

    def unit_vectors(images: torch.Tensor) -> torch.Tensor:
        centred = (images - images.mean(dim=(-2, -1), keepdim=True)).flatten(1)
        return centred / centred.norm(dim=1, keepdim=True).clamp_min(eps)

    return unit_vectors(first.double()) @ unit_vectors(second.double()).T


def shifted_normalised_cross_correlation(
    synthetic: torch.Tensor, real: torch.Tensor, max_shift: int, chunk_size: int = 8
) -> torch.Tensor:
    """:func:`normalised_cross_correlation` over the overlap of the two images, for every shift up to ``max_shift``.

    Entry ``[n, m, s + dy, s + dx]`` correlates the rows and columns where synthetic image ``n`` lies ``dy``
    down and ``dx`` right of real image ``m``, each channel centred on its own overlap mean. Rather than crop
    ``(2s + 1)**2`` pairs of images, the sums over every overlap come from cross-correlations computed with FFTs
    of the zero-padded images (padded by ``s``, so no shift wraps around): ``sum(x * y)`` from synthetic against
    real, ``sum(x)``, ``sum(x**2)``, ``sum(y)`` and ``sum(y**2)`` against ones; then
    ``ncc = (sum(xy) - sum(x) sum(y) / n) / sqrt(var_x var_y)``. The cost hardly grows with ``s``, so copies
    moved by a good part of the image are found too.

    Args:
        synthetic: ``(N, C, H, W)`` images.
        real: ``(M, C, H, W)`` images.
        max_shift: ``s``, the largest shift along rows and columns.
        chunk_size: synthetic images per batch of FFTs, bounding the memory of the ``(chunk, M, ...)`` spectra.

    Returns:
        ``(N, M, 2s + 1, 2s + 1)`` correlations.

    Example::

        >>> real = torch.rand(1, 1, 12, 12)
        >>> moved = torch.rand(1, 1, 12, 12)
        >>> moved[..., 1:, :] = real[..., :-1, :]  # the real image, one row lower
        >>> round(float(shifted_normalised_cross_correlation(moved, real, 2)[0, 0, 3, 2]), 4)
        1.0
    """
    height, width = real.shape[-2:]
    size = (height + max_shift, width + max_shift)
    offsets = torch.arange(-max_shift, max_shift + 1)
    rows, columns = (offsets % size[0])[:, None], (offsets % size[1])[None, :]
    overlap_size = ((height - offsets.abs())[:, None] * (width - offsets.abs())[None, :]).double()

    def spectrum(images: torch.Tensor) -> torch.Tensor:
        return torch.fft.rfft2(images, s=size)

    def at_shifts(product: torch.Tensor) -> torch.Tensor:
        # sum_k x(k + d) y(k) for the kept shifts d, from the spectrum product X conj(Y).
        return torch.fft.irfft2(product, s=size)[..., rows, columns]

    # Centring on the whole-image mean first keeps the sums small; the overlap centring below stays exact.
    synthetic = (synthetic - synthetic.mean(dim=(-2, -1), keepdim=True)).double()
    real = (real - real.mean(dim=(-2, -1), keepdim=True)).double()
    ones = spectrum(real.new_ones(1, 1, height, width))
    real_conjugate = spectrum(real).conj()
    real_sum = at_shifts(ones * real_conjugate)  # (M, C, rows, columns)
    real_square_sum = at_shifts(ones * spectrum(real**2).conj())
    real_variance = (real_square_sum - real_sum**2 / overlap_size).sum(dim=1)
    correlations = []
    for chunk in synthetic.split(chunk_size):
        chunk_spectrum = spectrum(chunk)
        cross = at_shifts(torch.einsum("ncpq,mcpq->nmpq", chunk_spectrum, real_conjugate))
        synthetic_sum = at_shifts(chunk_spectrum * ones.conj())
        synthetic_square_sum = at_shifts(spectrum(chunk**2) * ones.conj())
        synthetic_variance = (synthetic_square_sum - synthetic_sum**2 / overlap_size).sum(dim=1)
        covariance = cross - torch.einsum("ncuv,mcuv->nmuv", synthetic_sum, real_sum) / overlap_size
        norm = (synthetic_variance[:, None] * real_variance[None]).clamp_min(0.0).sqrt()
        # A flat overlap (a collapsed, constant sample) correlates with nothing; rounding must not make it a copy.
        flat = norm <= 1e-8 * overlap_size
        correlations.append(torch.where(flat, 0.0, covariance / norm.clamp_min(1e-30)).clamp(-1.0, 1.0).float())
    return torch.cat(correlations)


def patch_nearest_neighbour_distance(
    queries: torch.Tensor,
    references: torch.Tensor,
    patch_size: int = 7,
    stride: int = 4,
    patches_per_query: int = 32,
    exclude_same_index: bool = False,
    seed: int = 0,
    chunk_size: int = 16,
) -> torch.Tensor:
    """Mean distance from random patches of each query image to their nearest patch in any reference image.

    A small value means the query is built from real patches even when no whole-image copy exists, e.g. a real
    polyp pasted on another background. Distances are root-mean-square per pixel, in intensity units.

    Args:
        queries: ``(N, C, H, W)`` images, e.g. synthetic.
        references: ``(M, C, H, W)`` images, e.g. real, cut into patches every ``stride`` pixels.
        patch_size: odd side of the square patches.
        stride: step between reference patches.
        patches_per_query: patches drawn at random positions of each query image.
        exclude_same_index: ignore reference ``i`` for query ``i`` (real-versus-real leave-one-out baseline).
        seed: seed of the query patch positions.
        chunk_size: query images per distance matrix, bounding its memory.

    Returns:
        ``(N,)`` distances.

    Raises:
        ValueError: if ``exclude_same_index`` leaves no reference image, or ``patch_size`` is even.

    Example::

        >>> images = torch.rand(2, 1, 16, 16)
        >>> patch_nearest_neighbour_distance(images, images, stride=1).tolist()
        [0.0, 0.0]
    """
    if exclude_same_index and references.shape[0] < 2:
        raise ValueError("exclude_same_index needs at least two reference images.")
    # float64, because cdist's matrix-product shortcut leaves float32 copies some 1e-4 apart instead of 0.
    reference_patches = F.unfold(references.double(), patch_size, stride=stride)  # (M, D, L)
    patches_per_reference = reference_patches.shape[-1]
    reference_patches = reference_patches.permute(0, 2, 1).reshape(-1, reference_patches.shape[1])
    owner = torch.arange(references.shape[0]).repeat_interleave(patches_per_reference)
    generator = torch.Generator().manual_seed(seed)
    query_patches = sample_patch_descriptors(queries.double(), patch_size, patches_per_query, generator)
    distances = []
    # Several query images per distance matrix: one large product is much faster than many thin ones.
    for first in range(0, len(query_patches), chunk_size):
        chunk = query_patches[first : first + chunk_size]
        nearest = torch.cdist(chunk.reshape(-1, chunk.shape[-1]), reference_patches).reshape(*chunk.shape[:2], -1)
        if exclude_same_index:
            query_owner = torch.arange(first, first + len(chunk))
            nearest.masked_fill_((query_owner[:, None] == owner[None, :])[:, None, :], torch.inf)
        distances.append(nearest.min(dim=2).values.mean(dim=1) / chunk.shape[-1] ** 0.5)
    return torch.cat(distances).float()


@dataclass(frozen=True)
class NearestReal:
    """For each synthetic image: the closest real image and how it was matched.

    Attributes:
        index: ``(N,)`` index of the nearest real image.
        ncc: ``(N,)`` best normalised cross-correlation with it, over shifts and flips.
        flip: the :class:`Flip` of the synthetic image that gave ``ncc``.
        shift: ``(N, 2)`` rows and columns by which the (flipped) synthetic image lies down and right of the real
            one when they match best.
        patch_distance: ``(N,)`` mean nearest-patch distance to the whole real set.
    """

    index: torch.Tensor
    ncc: torch.Tensor
    flip: list[Flip]
    shift: torch.Tensor
    patch_distance: torch.Tensor


def nearest_real(
    synthetic: torch.Tensor,
    real: torch.Tensor,
    max_shift: int = 4,
    flips: Sequence[Flip | str] = tuple(Flip),
    exclude_same_index: bool = False,
    patch_size: int = 7,
    patch_stride: int = 4,
    patches_per_query: int = 32,
    seed: int = 0,
) -> NearestReal:
    """Match every synthetic image to its most correlated real image, allowing small shifts and flips.

    The correlation (:func:`shifted_normalised_cross_correlation`) is computed for every shift in
    ``[-max_shift, max_shift]^2`` and every flip, so a copy moved by a few pixels or mirrored still scores near one.

    Args:
        synthetic: ``(N, C, H, W)`` images.
        real: ``(M, C, H, W)`` training images of the same size.
        max_shift: largest shift tried, in pixels, along rows and columns.
        flips: the flips tried.
        exclude_same_index: skip real image ``i`` for synthetic image ``i`` (to compare the real set with itself).
        patch_size: side of the patches of :func:`patch_nearest_neighbour_distance`.
        patch_stride: step between real patches.
        patches_per_query: patches drawn from each synthetic image.
        seed: seed of the patch positions.

    Returns:
        A :class:`NearestReal`.

    Raises:
        ValueError: if the shapes disagree, ``max_shift`` is negative or too large, or ``flips`` is empty.

    Example::

        >>> real = torch.rand(3, 1, 16, 16)
        >>> result = nearest_real(real[1:2].flip(-1), real, max_shift=1)
        >>> result.index.tolist(), [str(flip) for flip in result.flip], round(float(result.ncc), 4)
        ([1], ['horizontal'], 1.0)
    """
    if synthetic.ndim != 4 or synthetic.shape[1:] != real.shape[1:]:
        raise ValueError(f"synthetic {tuple(synthetic.shape)} and real {tuple(real.shape)} must be (N, C, H, W) alike.")
    height, width = real.shape[-2:]
    if not 0 <= max_shift < min(height, width) // 2:
        raise ValueError(f"max_shift must be in [0, {min(height, width) // 2}), got {max_shift}.")
    flips = [Flip(flip) for flip in flips]
    if not flips:
        raise ValueError("flips must name at least one Flip.")
    if exclude_same_index and len(synthetic) != len(real):
        raise ValueError("exclude_same_index compares a set with itself: synthetic and real must be equally many.")
    per_flip = torch.stack(
        [shifted_normalised_cross_correlation(flip_images(synthetic, flip), real, max_shift) for flip in flips], dim=2
    )  # (N, M, flips, rows, columns)
    best, best_transform = per_flip.flatten(2).max(dim=2)
    if exclude_same_index:
        best.fill_diagonal_(-torch.inf)
    ncc, index = best.max(dim=1)
    side = 2 * max_shift + 1
    transform = best_transform.gather(1, index[:, None]).squeeze(1)  # flattened (flip, row shift, column shift)
    flip_index, shift_index = transform // side**2, transform % side**2
    shift = torch.stack([shift_index // side, shift_index % side], dim=1) - max_shift
    return NearestReal(
        index=index,
        ncc=ncc,
        flip=[flips[int(position)] for position in flip_index],
        shift=shift,
        patch_distance=patch_nearest_neighbour_distance(
            synthetic, real, patch_size, patch_stride, patches_per_query, exclude_same_index, seed
        ),
    )


class MemorisationMetric(PairedSetMetric):
    """Fraction of synthetic images (``y_pred``) that are near-copies of a real training image (``y``).

    Small training sets let generative models memorise: Akbar et al., "Brain tumor segmentation using synthetic MR
    images - A comparison of GANs and diffusion models", 2024, found diffusion models reproducing
    training images. A synthetic image is flagged when its best normalised cross-correlation with a real image,
    over shifts of up to ``max_shift`` pixels and flips, reaches ``threshold``. SinGAN-Seg (Thambawita et al.,
    PLoS ONE 2022) trains one model per image, so copies of the training image are the failure to look for.

    Args:
        threshold: correlation at or above which a synthetic image counts as a copy.
        max_shift: largest shift tried, in pixels.
        flips: the flips tried.

    Example::

        >>> metric = MemorisationMetric(threshold=0.95, max_shift=2)
        >>> real = torch.rand(4, 3, 16, 16)
        >>> _ = metric(y_pred=torch.cat([real[:1], torch.rand(3, 3, 16, 16)]), y=real)
        >>> float(metric.aggregate())
        0.25
    """

    def __init__(self, threshold: float = 0.95, max_shift: int = 4, flips: Sequence[Flip | str] = tuple(Flip)) -> None:
        if not -1.0 <= threshold <= 1.0:
            raise ValueError(f"threshold must be a correlation in [-1, 1], got {threshold}.")
        self.threshold = threshold
        self.max_shift = max_shift
        self.flips = [Flip(flip) for flip in flips]
        super().__init__()

    def _compute_pair(self, synthetic: torch.Tensor, real: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return synthetic.float(), real.float()

    def nearest(self) -> NearestReal:
        """The full :func:`nearest_real` result for everything accumulated so far."""
        synthetic, real = self._paired_buffers()
        return nearest_real(synthetic, real, self.max_shift, self.flips)

    def aggregate(self) -> torch.Tensor:
        """Fraction of accumulated synthetic images whose correlation reaches ``threshold``.

        Returns:
            Scalar tensor.

        Raises:
            RuntimeError: if nothing has been accumulated.
        """
        return (self.nearest().ncc >= self.threshold).float().mean()
