"""Are the synthetic images within the real set's own spread? A leave-one-out test on patch statistics.

A handful of real images cannot give a stable set-level yardstick (the SWD between two halves of three images is
mostly noise), so the report asks image by image instead. The patch distance of an image to a pool of images is
the sliced Wasserstein distance between its Laplacian-pyramid patches and the pool's (Karras et al., ICLR 2018),
both standardised by the pool's statistics, so a colour shift or an inversion counts. Each real image's distance
to the *other* real images is the yardstick: how far a new image from the same source lies from the set. If the
synthetic images were like the real ones, their distances to the real set would be exchangeable with these
leave-one-out distances, and the number of synthetic images beyond the farthest real one follows an exact law
(below). Each synthetic image is measured against all real images, one more than the leave-one-out pools hold;
a larger pool tends to bring an image closer, so the test errs towards "faithful".
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from scipy import stats

from monai_singanseg.metrics.laplacian import default_num_levels, laplacian_pyramid, sample_patch_descriptors
from monai_singanseg.metrics.sliced_wasserstein import normalise_descriptors, sliced_wasserstein_per_query

__all__ = ["LeaveOneOutPatchTest", "exceedance_p_value", "leave_one_out_patch_test", "patch_distances_to_pool"]


@dataclass(frozen=True)
class LeaveOneOutPatchTest:
    """The leave-one-out patch test of :func:`leave_one_out_patch_test`.

    Attributes:
        real_distances: ``(n,)`` patch distance (SWD x1e3) of each real image to the other real images.
        synthetic_distances: ``(m,)`` patch distance of each synthetic image to the real set.
        bound: the largest of ``real_distances``: the edge of the real set's own spread.
        num_beyond: synthetic images farther than ``bound``.
        p_value: :func:`exceedance_p_value` of ``num_beyond``: small when too many synthetic images lie beyond.
        smallest_p_value: the p-value when every synthetic image lies beyond; a level below it cannot be reached.
    """

    real_distances: torch.Tensor
    synthetic_distances: torch.Tensor
    bound: float
    num_beyond: int
    p_value: float
    smallest_p_value: float

    @property
    def foreign_share(self) -> float:
        """The estimated share of synthetic images that lie beyond the real spread more often than chance explains.

        An image exchangeable with the ``n`` real ones lies beyond all of them with chance ``1 / (n + 1)``, so a
        share ``e`` of foreign images (always beyond) puts ``e + (1 - e) / (n + 1)`` of the set beyond; solved for
        ``e`` from the observed share, at least 0. Unlike the p-value it does not need many real images to be
        large: with 5 real images, a set half of noise has p about 0.06 but a foreign share of 0.4.
        """
        chance = 1 / (len(self.real_distances) + 1)
        beyond = self.num_beyond / len(self.synthetic_distances)
        return max(0.0, (beyond - chance) / (1 - chance))


def exceedance_p_value(num_real: int, num_synthetic: int, num_beyond: int) -> float:
    """Chance that ``num_beyond`` or more of ``num_synthetic`` values exceed the largest of ``num_real`` others.

    When all ``n + m`` values are exchangeable (synthetic images like real ones), "``k`` or more synthetic values
    above every real value" means the ``k`` largest of the ``n + m`` values are all synthetic: a hypergeometric
    draw of ``k`` from ``m`` synthetic among ``n + m``, probability ``C(m, k) / C(n + m, k)``, exact at any size.
    Ties count against the synthetic set only when strictly beyond, so the value is exact or conservative.

    Args:
        num_real: ``n``, at least one.
        num_synthetic: ``m``, at least one.
        num_beyond: ``k`` in ``[0, m]``.

    Returns:
        The p-value in ``(0, 1]``.

    Raises:
        ValueError: if a size is below one or ``num_beyond`` is outside ``[0, num_synthetic]``.

    Example::

        >>> round(exceedance_p_value(3, 10, 10), 5)  # every synthetic value beyond: 1 / C(13, 3)
        0.0035
        >>> exceedance_p_value(3, 10, 0)
        1.0
    """
    if num_real < 1 or num_synthetic < 1 or not 0 <= num_beyond <= num_synthetic:
        raise ValueError(
            f"need num_real >= 1, num_synthetic >= 1 and 0 <= num_beyond <= num_synthetic, got "
            f"{num_real}, {num_synthetic}, {num_beyond}."
        )
    return float(stats.hypergeom(num_real + num_synthetic, num_synthetic, num_beyond).pmf(num_beyond))


def _patch_descriptors(
    images: torch.Tensor, num_levels: int, patches_per_image: int, generator: torch.Generator
) -> list[torch.Tensor]:
    """Per level, ``(N, patches_per_image, D)`` random 7x7 patches of each image's Laplacian pyramid."""
    pyramid = laplacian_pyramid(images.float(), num_levels)
    # Image by image, as SlicedWassersteinDistance draws them, so batching does not change the patches.
    return [
        torch.cat([sample_patch_descriptors(image[None], 7, patches_per_image, generator) for image in level])
        for level in pyramid
    ]


def patch_distances_to_pool(
    queries: list[torch.Tensor], pool: list[torch.Tensor], directions: list[torch.Tensor]
) -> torch.Tensor:
    """Patch distance (SWD x1e3, mean over levels) of every query image to a pool of images.

    Args:
        queries: per level, ``(Q, P, D)`` patch descriptors of the query images.
        pool: per level, ``(K, P, D)`` patch descriptors of the pool images; both are standardised by the pool's
            mean and std (``DescriptorNormalisation.REAL``), so an intensity or colour change counts.
        directions: per level, ``(D, num_directions)`` unit projection directions.

    Returns:
        ``(Q,)`` distances.

    Example::

        >>> levels = [torch.rand(3, 16, 5)]
        >>> directions = [torch.nn.functional.normalize(torch.randn(5, 8), dim=0)]
        >>> patch_distances_to_pool(levels, levels, directions).shape
        torch.Size([3])
    """
    per_level = []
    for query_level, pool_level, level_directions in zip(queries, pool, directions):
        flat_pool = pool_level.reshape(-1, pool_level.shape[-1])
        flat_pool, flat_queries = normalise_descriptors(
            flat_pool, query_level.reshape(-1, query_level.shape[-1]), "real"
        )
        per_query = flat_queries.reshape(query_level.shape)
        per_level.append(sliced_wasserstein_per_query(flat_pool, per_query, level_directions) * 1e3)
    return torch.stack(per_level).mean(dim=0)


def leave_one_out_patch_test(
    real: torch.Tensor,
    synthetic: torch.Tensor,
    patches_per_image: int = 128,
    num_directions: int = 256,
    max_real: int = 20,
    seed: int = 0,
) -> LeaveOneOutPatchTest:
    """Leave-one-out patch distances of the real images, distances of the synthetic ones, and the exceedance test.

    1. Draw ``patches_per_image`` random 7x7 patches from every level of every image's Laplacian pyramid.
    2. For each real image (at most ``max_real`` of them, a seeded random choice, to bound the cost), its
       distance to the pool of the other real images: the real set's own spread.
    3. For each synthetic image, its distance to the pool of all real images.
    4. Count the synthetic images beyond the largest real distance and take :func:`exceedance_p_value`.

    Args:
        real: ``(n, C, H, W)`` real images in ``[0, 1]``, ``n >= 2``.
        synthetic: ``(m, C, H, W)`` synthetic images of the same channels and size.
        patches_per_image: patches per image and pyramid level.
        num_directions: random projection directions per level.
        max_real: real images left out in turn, at most.
        seed: seed of the patch positions, the directions and the choice of real images.

    Returns:
        A :class:`LeaveOneOutPatchTest`.

    Raises:
        ValueError: if there are fewer than two real images, no synthetic image, or the shapes differ.

    Example::

        >>> test = leave_one_out_patch_test(torch.rand(4, 3, 32, 32), torch.zeros(6, 3, 32, 32))
        >>> test.num_beyond, round(test.p_value, 4)  # blank images lie far beyond random-noise "real" images
        (6, 0.0048)
    """
    if real.ndim != 4 or real.shape[0] < 2:
        raise ValueError(f"real must be a (n, C, H, W) batch with n >= 2, got shape {tuple(real.shape)}.")
    if synthetic.ndim != 4 or synthetic.shape[0] < 1 or synthetic.shape[1:] != real.shape[1:]:
        raise ValueError(
            f"synthetic {tuple(synthetic.shape)} must be a non-empty batch shaped like real {tuple(real.shape)}."
        )
    if max_real < 2:
        raise ValueError(f"max_real must be at least 2, got {max_real}.")
    generator = torch.Generator().manual_seed(seed)
    num_levels = default_num_levels(*real.shape[-2:])
    real_levels = _patch_descriptors(real, num_levels, patches_per_image, generator)
    synthetic_levels = _patch_descriptors(synthetic, num_levels, patches_per_image, generator)
    # One set of directions for every distance, so real and synthetic images are measured with the same ruler.
    directions = [
        torch.nn.functional.normalize(torch.randn(level.shape[-1], num_directions, generator=generator), dim=0)
        for level in real_levels
    ]
    num_real = len(real)
    left_out = torch.randperm(num_real, generator=generator)[:max_real].sort().values.tolist()
    real_distances = torch.cat([
        patch_distances_to_pool(
            [level[i : i + 1] for level in real_levels],
            [torch.cat([level[:i], level[i + 1 :]]) for level in real_levels],
            directions,
        )
        for i in left_out
    ])
    synthetic_distances = patch_distances_to_pool(synthetic_levels, real_levels, directions)
    bound = float(real_distances.max())
    num_beyond = int((synthetic_distances > bound).sum())
    return LeaveOneOutPatchTest(
        real_distances=real_distances,
        synthetic_distances=synthetic_distances,
        bound=bound,
        num_beyond=num_beyond,
        p_value=exceedance_p_value(len(left_out), len(synthetic), num_beyond),
        smallest_p_value=exceedance_p_value(len(left_out), len(synthetic), len(synthetic)),
    )
