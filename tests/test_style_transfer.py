"""Style transfer methods: Gatys optimisation, Fourier domain adaptation, histogram matching, and their dispatch."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from monai_singanseg.losses.style import content_loss
from monai_singanseg.networks.vgg import VGG19Features
from monai_singanseg.style import (
    StyleMethod,
    StyleTransfer,
    fourier_domain_adaptation,
    match_histograms,
    style_transfer,
)


@pytest.fixture(scope="module")
def network() -> VGG19Features:
    torch.manual_seed(0)
    return VGG19Features(pretrained=False)


def content_image(batch: int = 1, size: int = 32, seed: int = 0) -> torch.Tensor:
    """Mid-grey noisy RGB images in [0, 1]."""
    generator = torch.Generator().manual_seed(seed)
    return torch.rand(batch, 3, size, size, generator=generator) * 0.5 + 0.25


def style_image(batch: int = 1, size: int = 32) -> torch.Tensor:
    """A reddish striped image: colour statistics far from :func:`content_image`."""
    y, x = torch.meshgrid(torch.linspace(0, 1, size), torch.linspace(0, 1, size), indexing="ij")
    image = torch.stack([0.8 + 0.1 * torch.sin(20 * x), 0.3 + 0.1 * y, 0.2 + 0.0 * x])
    return image.expand(batch, -1, -1, -1).clone()


def colour_distance(a: torch.Tensor, b: torch.Tensor) -> float:
    """Mean absolute difference of per-channel means and standard deviations."""
    stats = [torch.cat([x.mean(dim=(2, 3)), x.std(dim=(2, 3))], dim=1) for x in (a, b)]
    return (stats[0] - stats[1]).abs().mean().item()


def with_mask(image: torch.Tensor) -> torch.Tensor:
    mask = (torch.rand(image.shape[0], 1, *image.shape[2:]) > 0.5).float()
    return torch.cat([image, mask], dim=1)


def test_style_loss_falls_while_content_stays_bounded(network: VGG19Features) -> None:
    content, style = content_image(), style_image()
    losses: list[tuple[float, float]] = []
    transfer = StyleTransfer(network, steps=10, learning_rate=0.05)  # a larger step than the default shows it sooner
    transfer(content, style, callback=lambda step, c, s: losses.append((c.item(), s.item())))
    assert len(losses) == 10
    assert all(later < earlier for (_, earlier), (_, later) in zip(losses, losses[1:]))
    assert losses[-1][1] < 0.85 * losses[0][1]
    # bounded: the result stays closer to the content in content features than the style image is
    features = network(torch.cat([content, style]), [transfer.content_layer])[transfer.content_layer]
    assert max(c for c, _ in losses) < content_loss(features[:1], features[1:]).item()


def test_larger_style_weight_moves_colour_statistics_closer(network: VGG19Features) -> None:
    content, style = content_image(), style_image()
    transfers = [StyleTransfer(network, steps=10, learning_rate=0.05, style_weight=weight) for weight in (1e-3, 1e3)]
    distances = [colour_distance(transfer(content, style), style) for transfer in transfers]
    assert distances[1] < distances[0] < colour_distance(content, style)


def test_batch_equals_single_runs(network: VGG19Features) -> None:
    content = content_image(batch=3, size=16)
    style = torch.cat([style_image(size=16), style_image(size=16).flip(1), style_image(size=16).flip(-1)])
    transfer = StyleTransfer(network, steps=3)
    batched = transfer(content, style)
    singles = torch.cat([transfer(content[i : i + 1], style[i : i + 1]) for i in range(3)])
    torch.testing.assert_close(batched, singles, atol=1e-4, rtol=0)


@pytest.mark.parametrize("method, settings", [("gatys", {"steps": 2}), ("fourier", {"beta": 0.1}), ("histogram", {})])
@pytest.mark.parametrize("image_channels", [3, (0, 1, 2)])
def test_label_channel_is_bit_identical(
    network: VGG19Features, method: str, settings: dict, image_channels: int | tuple[int, ...]
) -> None:
    content = with_mask(content_image(batch=2))
    if method == "gatys":
        settings = dict(settings, engine=StyleTransfer(network))
    out = style_transfer(content, style_image(batch=2), method, image_channels=image_channels, **settings)
    assert torch.equal(out[:, 3], content[:, 3])
    assert not torch.equal(out[:, :3], content[:, :3])


def test_style_with_label_channel_and_other_size_is_accepted(network: VGG19Features) -> None:
    content = with_mask(content_image(batch=2))
    style = with_mask(style_image(batch=1, size=40))
    out = StyleTransfer(network, steps=1)(content, style, image_channels=3)
    assert out.shape == content.shape


def test_grey_image_is_styled_through_rgb_features(network: VGG19Features) -> None:
    content = content_image()[:, :1]
    out = StyleTransfer(network, steps=3)(content, style_image()[:, :1])
    assert out.shape == content.shape and not torch.equal(out, content)


@pytest.mark.parametrize(
    "content, image_channels, match",
    [(torch.rand(1, 3, 8, 8, 8), None, "2D"), (torch.rand(1, 4, 16, 16), None, "3 \\(RGB\\) or 1")],
)
def test_gatys_rejects_3d_and_other_channel_counts(
    network: VGG19Features, content: torch.Tensor, image_channels: int | None, match: str
) -> None:
    with pytest.raises(ValueError, match=match):
        StyleTransfer(network, steps=1)(content, content, image_channels=image_channels)


def test_gatys_rejects_unknown_layer_and_negative_weight(network: VGG19Features) -> None:
    with pytest.raises(ValueError, match="conv9_9"):
        StyleTransfer(network, content_layer="conv9_9")
    with pytest.raises(ValueError, match="style_weight"):
        StyleTransfer(network, style_weight=-1.0)


@pytest.mark.parametrize("beta", [0.05, 0.2])
def test_fourier_moves_colour_statistics_toward_style(beta: float) -> None:
    content, style = content_image(batch=2), style_image(batch=2)
    out = fourier_domain_adaptation(content, style, beta=beta)
    assert colour_distance(out, style) < 0.5 * colour_distance(content, style)


def test_fourier_beta_zero_swaps_only_the_mean_of_positive_images() -> None:
    content, style = content_image(), style_image()
    out = fourier_domain_adaptation(content, style, beta=0.0)
    torch.testing.assert_close(out.mean(dim=(2, 3)), style.mean(dim=(2, 3)), atol=1e-5, rtol=0)
    centred = [x - x.mean(dim=(2, 3), keepdim=True) for x in (out, content)]
    torch.testing.assert_close(*centred)


@pytest.mark.parametrize("shape", [(2, 5, 16, 16), (1, 2, 8, 10, 12)])
def test_fourier_takes_any_channel_count_and_3d(shape: tuple[int, ...]) -> None:
    content, style = torch.rand(shape), torch.rand(shape) + 2.0
    out = fourier_domain_adaptation(content, style, beta=0.1)
    assert out.shape == content.shape
    assert abs(out.mean() - style.mean()) < 0.1 * abs(content.mean() - style.mean())


def test_fourier_rejects_beta_out_of_range() -> None:
    with pytest.raises(ValueError, match="beta"):
        fourier_domain_adaptation(torch.rand(1, 1, 8, 8), torch.rand(1, 1, 8, 8), beta=0.7)


def test_histogram_gives_each_channel_the_style_distribution() -> None:
    content, style = torch.rand(2, 3, 16, 16), torch.rand(2, 3, 16, 16) ** 3
    out = match_histograms(content, style)
    for sample in range(2):
        for channel in range(3):
            matched = out[sample, channel].flatten().sort().values
            torch.testing.assert_close(matched, style[sample, channel].flatten().sort().values)
    assert torch.equal(out.flatten(2).argsort(), content.flatten(2).argsort())  # the order of values is kept


def test_histogram_takes_numpy_and_masks_and_moves_statistics_toward_style() -> None:
    rng = np.random.default_rng(0)
    content, style = content_image(batch=1).numpy().astype(np.float64), style_image(size=24).numpy()
    content_mask = np.zeros((1, 1, 32, 32), dtype=bool)
    content_mask[..., :16] = True
    out = match_histograms(content, style, content_mask=content_mask, style_mask=rng.random((1, 1, 24, 24)) > 0.3)
    assert isinstance(out, np.ndarray) and out.dtype == np.float64
    assert np.array_equal(out[..., 16:], content[..., 16:])
    moved = colour_distance(torch.from_numpy(out[..., :16]).float(), torch.from_numpy(style))
    assert moved < 0.5 * colour_distance(torch.from_numpy(content[..., :16]).float(), torch.from_numpy(style))


def test_style_transfer_rejects_unknown_method_naming_the_choices() -> None:
    with pytest.raises(ValueError, match="histogram"):
        style_transfer(torch.rand(1, 3, 8, 8), torch.rand(1, 3, 8, 8), method="cyclegan")
    assert [m.value for m in StyleMethod] == ["gatys", "fourier", "histogram"]


def test_style_transfer_builds_gatys_engine_from_settings(network: VGG19Features) -> None:
    content, style = content_image(), style_image()
    built = style_transfer(content, style, "gatys", network=network, steps=3)
    reused = style_transfer(content, style, "gatys", engine=StyleTransfer(network, steps=100), steps=3)
    torch.testing.assert_close(built, reused)
