"""Sliced Wasserstein distance between Laplacian-pyramid patch distributions (Karras et al., 2018)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from monai.utils import StrEnum

from monai_singanseg.metrics.laplacian import default_num_levels, laplacian_pyramid, sample_patch_descriptors
from monai_singanseg.metrics.paired_sets import PairedSetMetric

__all__ = [
    "DescriptorNormalisation",
    "SlicedWassersteinDistance",
    "normalise_descriptors",
    "sliced_wasserstein",
    "sliced_wasserstein_per_query",
]


class DescriptorNormalisation(StrEnum):
    """How descriptor components are standardised before projection.

    ``PER_SET``: each set by its own mean and std, as the reference code does; blind to a global intensity shift.
    ``REAL``: both sets by the real set's mean and std, so a shift in brightness or colour also counts.
    """

    PER_SET = "per_set"
    REAL = "real"


def normalise_descriptors(
    real: torch.Tensor, synthetic: torch.Tensor, mode: DescriptorNormalisation | str, eps: float = 1e-8
) -> tuple[torch.Tensor, torch.Tensor]:
    """Standardise each descriptor component to zero mean and unit std.

    Args:
        real: ``(n, D)`` real descriptors.
        synthetic: ``(m, D)`` synthetic descriptors.
        mode: a :class:`DescriptorNormalisation`.
        eps: floor of the std, so constant components (background of a label channel) map to zero, not NaN.

    Returns:
        The normalised ``(real, synthetic)`` pair.

    Example::

        >>> real, synthetic = normalise_descriptors(torch.rand(10, 4), torch.rand(8, 4), "per_set")
        >>> bool(real.mean(0).abs().max() < 1e-5)
        True
    """
    mode = DescriptorNormalisation(mode)
    real_mean, real_std = real.mean(0, keepdim=True), real.std(0, correction=0, keepdim=True).clamp_min(eps)
    if mode == DescriptorNormalisation.REAL:
        return (real - real_mean) / real_std, (synthetic - real_mean) / real_std
    synthetic_mean = synthetic.mean(0, keepdim=True)
    synthetic_std = synthetic.std(0, correction=0, keepdim=True).clamp_min(eps)
    return (real - real_mean) / real_std, (synthetic - synthetic_mean) / synthetic_std


def sliced_wasserstein(
    real: torch.Tensor,
    synthetic: torch.Tensor,
    num_repeats: int,
    directions_per_repeat: int,
    generator: torch.Generator,
) -> torch.Tensor:
    """Mean 1-D Wasserstein-1 distance between the two descriptor sets projected on random unit directions.

    Sets of unequal size are compared through their quantile functions at ``max(n, m)`` evenly spaced levels,
    which for equal sizes is the reference's sort-and-subtract.

    Args:
        real: ``(n, D)`` descriptors.
        synthetic: ``(m, D)`` descriptors.
        num_repeats: batches of directions (4 in Karras et al.).
        directions_per_repeat: directions per batch (128 in Karras et al.).
        generator: source of the directions.

    Returns:
        Scalar tensor.

    Example::

        >>> x = torch.rand(50, 6)
        >>> float(sliced_wasserstein(x, x, 2, 8, torch.Generator().manual_seed(0)))
        0.0
    """
    num_real, num_synthetic = real.shape[0], synthetic.shape[0]
    num_quantiles = max(num_real, num_synthetic)
    levels = (torch.arange(num_quantiles, dtype=torch.float64) + 0.5) / num_quantiles
    real_index = (levels * num_real).long().clamp_max(num_real - 1).to(real.device)
    synthetic_index = (levels * num_synthetic).long().clamp_max(num_synthetic - 1).to(real.device)
    # Drawn per repeat as the reference does, then projected together: one sort instead of one per repeat, and
    # the mean over all directions equals the reference's mean of per-repeat means.
    directions = torch.cat(
        [torch.randn(real.shape[1], directions_per_repeat, generator=generator) for _ in range(num_repeats)], dim=1
    ).to(real)
    directions = directions / directions.norm(dim=0, keepdim=True)
    real_sorted = (directions.T @ real.T).sort(dim=1).values[:, real_index]
    synthetic_sorted = (directions.T @ synthetic.T).sort(dim=1).values[:, synthetic_index]
    return (real_sorted - synthetic_sorted).abs().mean()


def sliced_wasserstein_per_query(
    reference: torch.Tensor, queries: torch.Tensor, directions: torch.Tensor, chunk_size: int = 64
) -> torch.Tensor:
    """:func:`sliced_wasserstein` of many small descriptor sets (one image each) to one reference set.

    Each query's ``P`` sorted projections are compared with the reference's quantiles at the same ``P`` levels
    (the midpoints ``(k + 0.5) / P``), so the reference is projected and sorted once for every query. For a
    reference of ``P`` descriptors this is :func:`sliced_wasserstein` exactly; for a larger one it is the distance
    to the reference's quantile function sampled at the query's levels.

    Args:
        reference: ``(K, D)`` descriptors, e.g. the patches of a pool of real images.
        queries: ``(Q, P, D)`` descriptors, ``P`` per query image.
        directions: ``(D, num_directions)`` unit projection directions, shared by every query.
        chunk_size: queries projected at once, bounding the memory of the ``(Q, P, num_directions)`` projections.

    Returns:
        ``(Q,)`` mean 1-D Wasserstein-1 distances over the directions.

    Raises:
        ValueError: if ``reference`` is not 2-D or ``queries`` not 3-D, or their descriptor lengths and that of
            ``directions`` differ.

    Example::

        >>> x = torch.rand(50, 6)
        >>> directions = torch.nn.functional.normalize(torch.randn(6, 8), dim=0)
        >>> sliced_wasserstein_per_query(x, x[None], directions).tolist()
        [0.0]
    """
    if reference.ndim != 2 or queries.ndim != 3 or not reference.shape[-1] == queries.shape[-1] == directions.shape[0]:
        raise ValueError(
            f"reference {tuple(reference.shape)}, queries {tuple(queries.shape)} and directions "
            f"{tuple(directions.shape)} must share the descriptor length."
        )
    num_points = queries.shape[1]
    levels = (torch.arange(num_points, dtype=torch.float64) + 0.5) / num_points
    reference_index = (levels * reference.shape[0]).long().clamp_max(reference.shape[0] - 1).to(reference.device)
    reference_quantiles = (reference @ directions).sort(dim=0).values[reference_index]  # (P, num_directions)
    distances = [
        ((chunk @ directions).sort(dim=1).values - reference_quantiles).abs().mean(dim=(1, 2))
        for chunk in queries.split(chunk_size)
    ]
    return torch.cat(distances)


def _drawn(descriptors: torch.Tensor, by_region: bool) -> torch.Tensor:
    """``(B, P, D)`` descriptors as ``(n, D)`` rows; by region, without the NaN rows of images with no patch there
    (their inputs were checked finite, so NaN means only that)."""
    rows = descriptors.reshape(-1, descriptors.shape[-1])
    return rows[~torch.isnan(rows).any(1)] if by_region else rows


class SlicedWassersteinDistance(PairedSetMetric):
    """Sliced Wasserstein distance (SWD) between the patch statistics of a real and a synthetic image set.

    Each image is decomposed into a Laplacian pyramid; random 7x7 neighbourhoods of each level, over the selected
    channels, are the descriptors; per level, the SWD between real and synthetic descriptors is reported times
    1e3, as in Karras et al., "Progressive Growing of GANs for Improved Quality, Stability, and Variation",
    ICLR 2018, section 5. Selecting image channels, label channels or both scores the images, the masks, or how
    they co-occur. Patch positions and projection directions are seeded, so a result is reproducible; real and
    synthetic images share the position stream, so identical sets score exactly zero.

    Call it with ``y_pred`` a batch of synthetic images and ``y`` a batch of real ones (batch sizes may differ).

    Args:
        channels: channel indices to score; ``None`` scores all channels.
        patch_size: odd side of the neighbourhood.
        patches_per_image: neighbourhoods per image and level.
        num_levels: pyramid levels; ``None`` halves the resolution while the shorter side stays >= 16 pixels.
        num_repeats: batches of projection directions.
        directions_per_repeat: projection directions per batch.
        normalisation: a :class:`DescriptorNormalisation`.
        seed: seed of the patch positions and directions.
        region: ``"inside"`` or ``"outside"`` scores only patches that lie wholly inside, or wholly outside, each
            image's region (``region_channel > 0``, e.g. the lesion mask), so that a lesion and its surroundings
            are scored apart: a sample whose lesion differs in size from the real one is not charged for it in
            the background's figure. ``None`` (default): patches anywhere. Images without such a patch (an empty
            mask, for ``"inside"``) contribute none; a level where one set has none is NaN, and the mean is taken
            over the other levels.
        region_channel: the channel holding the region, counted in the images as given (before ``channels``).

    Example::

        >>> metric = SlicedWassersteinDistance(channels=[0, 1, 2], patches_per_image=16)
        >>> images = torch.rand(4, 4, 32, 32)
        >>> _ = metric(y_pred=images, y=images)
        >>> float(metric.aggregate())
        0.0
    """

    def __init__(
        self,
        channels: Sequence[int] | None = None,
        patch_size: int = 7,
        patches_per_image: int = 128,
        num_levels: int | None = None,
        num_repeats: int = 4,
        directions_per_repeat: int = 128,
        normalisation: DescriptorNormalisation | str = DescriptorNormalisation.PER_SET,
        seed: int = 0,
        region: str | None = None,
        region_channel: int = -1,
    ) -> None:
        if region not in (None, "inside", "outside"):
            raise ValueError(f"region must be None, 'inside' or 'outside', got {region!r}.")
        if patch_size < 1 or patch_size % 2 == 0:
            raise ValueError(f"patch_size must be a positive odd integer, got {patch_size}.")
        if patches_per_image < 1 or num_repeats < 1 or directions_per_repeat < 1:
            raise ValueError("patches_per_image, num_repeats and directions_per_repeat must be positive.")
        self.channels = None if channels is None else [int(channel) for channel in channels]
        self.patch_size = patch_size
        self.patches_per_image = patches_per_image
        self.num_levels = num_levels
        self.num_repeats = num_repeats
        self.directions_per_repeat = directions_per_repeat
        self.normalisation = DescriptorNormalisation(normalisation)
        self.seed = seed
        self.region, self.region_channel = region, int(region_channel)
        super().__init__()

    def reset(self) -> None:
        """Empty the buffers and restart both patch-position streams from the seed."""
        super().reset()
        self._real_generator = torch.Generator().manual_seed(self.seed)
        self._synthetic_generator = torch.Generator().manual_seed(self.seed)

    def _select(self, images: torch.Tensor, name: str) -> torch.Tensor:
        if images.ndim != 4:
            raise ValueError(f"{name} must be a (B, C, H, W) batch, got shape {tuple(images.shape)}.")
        if self.channels is None:
            return images.float()
        if any(not -images.shape[1] <= channel < images.shape[1] for channel in self.channels):
            raise ValueError(f"channels {self.channels} do not exist in {name} with {images.shape[1]} channels.")
        return images[:, self.channels].float()

    def _regions(self, images: torch.Tensor, name: str) -> torch.Tensor | None:
        """``(B, H, W)`` where patches may be drawn, or ``None`` for anywhere."""
        if self.region is None:
            return None
        if not torch.isfinite(images).all():
            raise ValueError(f"{name} holds NaN or Inf values: a region's patches cannot be scored.")
        if images.ndim != 4 or not -images.shape[1] <= self.region_channel < images.shape[1]:
            raise ValueError(f"region_channel {self.region_channel} does not exist in {name} of shape "
                             f"{tuple(images.shape)}.")
        inside = images[:, self.region_channel] > 0
        return inside if self.region == "inside" else ~inside

    def _describe(self, images: torch.Tensor, generator: torch.Generator, regions: torch.Tensor | None) -> torch.Tensor:
        """``(B, num_levels, patches_per_image, D)`` descriptors of one batch."""
        num_levels = self.num_levels or default_num_levels(*images.shape[-2:])
        pyramid = laplacian_pyramid(images, num_levels)
        # A coarser level's region: the pixels that are mostly region at that resolution.
        level_regions = [None if regions is None else
                         F.interpolate(regions[:, None].float(), size=level.shape[-2:], mode="area")[:, 0] > 0.5
                         for level in pyramid]
        per_image = []
        for index in range(images.shape[0]):
            # Image by image, level by level, so the draws do not depend on how the set was batched.
            descriptors = [
                sample_patch_descriptors(level[index : index + 1], self.patch_size, self.patches_per_image, generator,
                                         None if region is None else region[index : index + 1])
                for level, region in zip(pyramid, level_regions)
            ]
            per_image.append(torch.cat(descriptors))
        return torch.stack(per_image)

    def _compute_pair(self, synthetic: torch.Tensor, real: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        synthetic_regions, real_regions = self._regions(synthetic, "y_pred"), self._regions(real, "y")
        synthetic, real = self._select(synthetic, "y_pred"), self._select(real, "y")
        if synthetic.shape[1:] != real.shape[1:]:
            raise ValueError(
                f"y_pred {tuple(synthetic.shape[1:])} and y {tuple(real.shape[1:])} must share channels and size."
            )
        return (self._describe(synthetic, self._synthetic_generator, synthetic_regions),
                self._describe(real, self._real_generator, real_regions))

    def aggregate(self, per_level: bool = False) -> torch.Tensor:
        """SWD x 1e3 between everything accumulated so far.

        Args:
            per_level: return one value per pyramid level (finest first) instead of their mean.

        Returns:
            Scalar tensor, or ``(num_levels,)`` tensor when ``per_level``.

        Raises:
            RuntimeError: if nothing has been accumulated.
        """
        synthetic, real = self._paired_buffers()
        generator = torch.Generator().manual_seed(self.seed)
        distances = []
        for level in range(real.shape[1]):
            real_level, synthetic_level = (_drawn(x[:, level], self.region is not None) for x in (real, synthetic))
            if len(real_level) == 0 or len(synthetic_level) == 0:  # no patch of the region at this level
                distances.append(torch.tensor(float("nan")))
                continue
            real_level, synthetic_level = normalise_descriptors(real_level, synthetic_level, self.normalisation)
            swd = sliced_wasserstein(
                real_level, synthetic_level, self.num_repeats, self.directions_per_repeat, generator
            )
            distances.append(swd * 1e3)  # the reference reports SWD x 10^3
        per_level_distances = torch.stack(distances)
        if per_level:
            return per_level_distances
        return per_level_distances.nanmean() if self.region is not None else per_level_distances.mean()
