"""Sliced Wasserstein distance over Laplacian-pyramid patches (Karras et al., 2018)."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from ignite.engine import Engine
from monai.handlers import IgniteMetricHandler

from monai_singanseg.metrics.laplacian import (
    default_num_levels,
    laplacian_pyramid,
    pyramid_down,
    pyramid_up,
    sample_patch_descriptors,
)
from monai_singanseg.metrics.sliced_wasserstein import SlicedWassersteinDistance, sliced_wasserstein


def smooth_pairs(count: int = 6, size: int = 32, seed: int = 0) -> torch.Tensor:
    """RGB images of smooth noise with a binary label channel: (count, 4, size, size)."""
    generator = torch.Generator().manual_seed(seed)
    images = F.avg_pool2d(torch.rand(count, 3, size + 6, size + 6, generator=generator), 7, stride=1)
    labels = (images[:, :1] > images[:, :1].median()).float()
    return torch.cat([images, labels], dim=1)


def swd(synthetic: torch.Tensor, real: torch.Tensor, **kwargs: object) -> float:
    metric = SlicedWassersteinDistance(patches_per_image=32, num_repeats=2, directions_per_repeat=32, **kwargs)
    metric(y_pred=synthetic, y=real)
    return float(metric.aggregate())


@pytest.mark.parametrize("channels", [[0, 1, 2], [3], None])
@pytest.mark.parametrize("normalisation", ["per_set", "real"])
def test_identical_sets_score_zero(channels: list[int] | None, normalisation: str) -> None:
    pairs = smooth_pairs()
    assert swd(pairs, pairs.clone(), channels=channels, normalisation=normalisation) == 0.0


@pytest.mark.parametrize("normalisation", ["per_set", "real"])
def test_distance_grows_with_noise_level(normalisation: str) -> None:
    real = smooth_pairs(6)
    noise = torch.randn(real[:, :3].shape, generator=torch.Generator().manual_seed(1))
    distances = []
    for sigma in (0.02, 0.08, 0.3):
        synthetic = real.clone()
        synthetic[:, :3] += sigma * noise
        distances.append(swd(synthetic, real, channels=[0, 1, 2], normalisation=normalisation))
    assert 0.0 < distances[0] < distances[1] < distances[2]


def test_label_channel_ignores_image_perturbation() -> None:
    real = smooth_pairs()
    synthetic = real.clone()
    synthetic[:, :3] += 0.2
    assert swd(synthetic, real, channels=[3]) == 0.0
    assert swd(synthetic, real, channels=[0, 1, 2], normalisation="real") > 0.0


def test_per_set_normalisation_ignores_global_shift_but_real_normalisation_does_not() -> None:
    real = smooth_pairs()
    brighter = real.clone()
    brighter[:, :3] += 0.3
    assert swd(brighter, real, channels=[0, 1, 2]) < 0.01  # float rounding only, on the x1e3 scale
    assert swd(brighter, real, channels=[0, 1, 2], normalisation="real") > 100.0


def test_batching_does_not_change_the_result() -> None:
    real, synthetic = smooth_pairs(6, seed=0), smooth_pairs(6, seed=1)
    whole = swd(synthetic, real)
    metric = SlicedWassersteinDistance(patches_per_image=32, num_repeats=2, directions_per_repeat=32)
    metric(y_pred=synthetic[:2], y=real[:4])
    metric(y_pred=list(synthetic[2:]), y=list(real[4:]))
    assert float(metric.aggregate()) == pytest.approx(whole, rel=1e-5)


def test_same_seed_gives_same_value_and_reset_restarts() -> None:
    real, synthetic = smooth_pairs(4, seed=0), smooth_pairs(4, seed=1)
    metric = SlicedWassersteinDistance(patches_per_image=16, directions_per_repeat=16, seed=3)
    metric(y_pred=synthetic, y=real)
    first = float(metric.aggregate())
    metric.reset()
    metric(y_pred=synthetic, y=real)
    assert float(metric.aggregate()) == first
    assert swd(synthetic, real, seed=3) != swd(synthetic, real, seed=4)


def test_sets_of_different_sizes_are_compared_through_quantiles() -> None:
    real = smooth_pairs(6)
    assert 0.0 < swd(real[:3], real) < float("inf")
    points = torch.randn(50, 8)
    twice = torch.cat([points, points])  # the same empirical distribution with twice as many samples
    assert float(sliced_wasserstein(points, twice, 2, 8, torch.Generator().manual_seed(0))) == 0.0


def test_per_level_values_average_to_the_mean() -> None:
    metric = SlicedWassersteinDistance(patches_per_image=16)
    metric(y_pred=smooth_pairs(2, size=64, seed=1), y=smooth_pairs(2, size=64))
    per_level = metric.aggregate(per_level=True)
    assert per_level.shape == (default_num_levels(64, 64),) == (3,)
    assert float(metric.aggregate()) == pytest.approx(float(per_level.mean()))


def test_works_as_an_ignite_metric() -> None:
    real, synthetic = smooth_pairs(4, seed=0), smooth_pairs(4, seed=1)
    engine = Engine(lambda engine, batch: batch)
    IgniteMetricHandler(SlicedWassersteinDistance(patches_per_image=16)).attach(engine, "swd")
    state = engine.run([(synthetic[:2], real[:2]), (synthetic[2:], real[2:])], max_epochs=1)
    assert state.metrics["swd"] > 0.0


@pytest.mark.parametrize(
    ("call", "error"),
    [
        (lambda metric: metric(y_pred=torch.rand(2, 4, 32, 32)), ValueError),
        (lambda metric: metric(y_pred=torch.rand(2, 2, 32, 32), y=torch.rand(2, 2, 32, 32)), ValueError),
        (lambda metric: metric(y_pred=torch.rand(2, 4, 32, 32), y=torch.rand(2, 4, 16, 16)), ValueError),
        (lambda metric: metric.aggregate(), RuntimeError),
    ],
)
def test_rejects_bad_inputs(call: object, error: type[Exception]) -> None:
    with pytest.raises(error):
        call(SlicedWassersteinDistance(channels=[0, 3]))  # type: ignore[operator]


def test_rejects_even_patch_size() -> None:
    with pytest.raises(ValueError, match="patch_size"):
        SlicedWassersteinDistance(patch_size=6)


def test_unit_directions_give_mean_projected_shift() -> None:
    # Shifting every point by the same vector moves each projection by its dot product with the direction.
    points = torch.randn(200, 3, generator=torch.Generator().manual_seed(0))
    shift = torch.tensor([1.0, 0.0, 0.0])
    generator = torch.Generator().manual_seed(5)
    directions = torch.randn(3, 16, generator=torch.Generator().manual_seed(5))
    expected = (directions / directions.norm(dim=0)).T.matmul(shift).abs().mean()
    assert float(sliced_wasserstein(points, points + shift, 1, 16, generator)) == pytest.approx(float(expected))


@pytest.mark.parametrize(("size", "levels"), [((128, 128), 4), ((64, 96), 3), ((16, 16), 1), ((8, 8), 1)])
def test_default_num_levels_halves_down_to_16_pixels(size: tuple[int, int], levels: int) -> None:
    assert default_num_levels(*size) == levels


def test_laplacian_pyramid_collapses_back_to_the_image() -> None:
    images = torch.rand(2, 3, 37, 30)
    pyramid = laplacian_pyramid(images, 3)
    assert [tuple(level.shape[-2:]) for level in pyramid] == [(37, 30), (19, 15), (10, 8)]
    collapsed = pyramid[-1]
    for band in reversed(pyramid[:-1]):
        collapsed = band + pyramid_up(collapsed, (band.shape[-2], band.shape[-1]))
    assert torch.allclose(collapsed, images, atol=1e-5)


def test_pyramid_filters_keep_constant_images_constant() -> None:
    constant = torch.full((1, 2, 16, 16), 0.7)
    assert torch.allclose(pyramid_down(constant), torch.full((1, 2, 8, 8), 0.7))
    assert torch.allclose(pyramid_up(pyramid_down(constant), (16, 16)), constant)


def test_patch_descriptors_are_neighbourhoods_of_the_image() -> None:
    level = torch.arange(2 * 9 * 9, dtype=torch.float32).reshape(1, 2, 9, 9)
    descriptors = sample_patch_descriptors(level, 3, 4, torch.Generator().manual_seed(0))
    patch = descriptors[0, 0].reshape(2, 3, 3)
    row, column = divmod(int(patch[0, 1, 1]), 9)
    assert torch.equal(patch, level[0, :, row - 1 : row + 2, column - 1 : column + 2])


def _lesion_stacks(lesion_fill, background_fill, seed):
    # RGB + mask stacks (mask channel in {-1, 1}): a square lesion in a background, each of its own texture.
    g = torch.Generator().manual_seed(seed)
    stacks = torch.zeros(6, 4, 64, 64)
    stacks[:, :3] = background_fill(g, (6, 3, 64, 64))
    stacks[:, 3] = -1
    stacks[:, 3, 16:48, 16:48] = 1
    stacks[:, :3, 16:48, 16:48] = lesion_fill(g, (6, 3, 32, 32))
    return stacks


def _stripes(g, shape):
    # Vertical stripes of period 6 at a random phase per image, lightly noisy.
    phase = torch.rand(shape[0], 1, 1, 1, generator=g) * 6
    columns = torch.arange(shape[-1]).view(1, 1, 1, -1)
    return torch.sin((columns + phase) * 2 * torch.pi / 6).expand(shape) + 0.05 * torch.randn(shape, generator=g)


def _speckle(g, shape):
    return torch.rand(shape, generator=g) * 2 - 1


def test_region_swd_scores_a_lesion_and_its_background_apart():
    real = _lesion_stacks(_speckle, _stripes, 0)
    like_real = _lesion_stacks(_speckle, _stripes, 1)
    noisy_background = _lesion_stacks(_speckle, _speckle, 2)  # the same lesion, a background of noise
    blank_lesion = _lesion_stacks(lambda g, shape: torch.zeros(shape), _stripes, 3)  # the same background, blank lesion

    def swd(region, synthetic):
        metric = SlicedWassersteinDistance(channels=[0, 1, 2], patches_per_image=64, num_levels=2, region=region)
        metric(y_pred=synthetic, y=real)
        return float(metric.aggregate())

    for region in ("outside", "inside"):
        assert swd(region, real) == 0.0
    # Each figure rejects bad data in its own region and is not moved by the other region.
    assert swd("outside", noisy_background) > 3 * swd("outside", like_real)
    assert swd("outside", blank_lesion) < 1.5 * swd("outside", like_real)
    assert swd("inside", blank_lesion) > 3 * swd("inside", like_real)
    assert swd("inside", noisy_background) < 1.5 * swd("inside", like_real)


def test_region_swd_leaves_out_images_without_the_region_and_refuses_bad_input():
    real = _lesion_stacks(_speckle, _stripes, 0)
    empty = real.clone()
    empty[:, 3] = -1  # no lesion anywhere
    metric = SlicedWassersteinDistance(channels=[0, 1, 2], patches_per_image=8, num_levels=2, region="inside")
    metric(y_pred=empty, y=real)
    assert torch.isnan(metric.aggregate(per_level=True)).all() and torch.isnan(metric.aggregate())
    metric = SlicedWassersteinDistance(channels=[0, 1, 2], patches_per_image=8, num_levels=2, region="inside")
    metric(y_pred=torch.cat([empty[:3], real[:3]]), y=real)
    assert float(metric.aggregate()) == pytest.approx(float(_inside_swd(real[:3], real)), rel=0.5)
    nan = real.clone()
    nan[0, 0, 0, 0] = float("nan")
    with pytest.raises(ValueError, match="NaN or Inf"):
        SlicedWassersteinDistance(region="outside")(y_pred=nan, y=real)
    with pytest.raises(ValueError, match="region must be"):
        SlicedWassersteinDistance(region="lesion")
    with pytest.raises(ValueError, match="region_channel 7"):
        SlicedWassersteinDistance(region="inside", region_channel=7)(y_pred=real, y=real)


def _inside_swd(synthetic, real):
    metric = SlicedWassersteinDistance(channels=[0, 1, 2], patches_per_image=8, num_levels=2, region="inside")
    metric(y_pred=synthetic, y=real)
    return metric.aggregate()
