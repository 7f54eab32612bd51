"""LPIPS: the v0.1 AlexNet pipeline, its two weight files, the pair metric and the diversity of a sample set."""

from __future__ import annotations

import pytest
import torch

from monai_singanseg.metrics import LPIPSMetric, lpips, lpips_diversity
from monai_singanseg.networks import LPIPSAlexNet
from monai_singanseg.networks.lpips import ALEXNET_WEIGHTS_FILE, LPIPS_WEIGHTS_FILE

# torchvision's alexnet().features: child index of every convolution and its (out, in, kernel), and the lpips
# package's calibration widths, written out here independently of the implementation.
TORCHVISION_ALEXNET_CONVS = {0: (64, 3, 11), 3: (192, 64, 5), 6: (384, 192, 3), 8: (256, 384, 3), 10: (256, 256, 3)}
LPIPS_CHANNELS = (64, 192, 384, 256, 256)
# The lpips package's slices of `features` (lpips/pretrained_networks.py, class alexnet).
LPIPS_SLICES = ((0, 2), (2, 5), (5, 8), (8, 10), (10, 12))


def fake_alexnet_state_dict() -> dict[str, torch.Tensor]:
    """Random tensors under torchvision's keys; a tiny classifier, which must be ignored."""
    generator = torch.Generator().manual_seed(2)
    state = {}
    for index, (out_channels, in_channels, kernel) in TORCHVISION_ALEXNET_CONVS.items():
        weight = torch.randn(out_channels, in_channels, kernel, kernel, generator=generator)
        state[f"features.{index}.weight"] = weight / (in_channels * kernel * kernel) ** 0.5
        state[f"features.{index}.bias"] = torch.randn(out_channels, generator=generator) * 0.1
    state["classifier.1.weight"] = torch.randn(4, 2)
    state["classifier.1.bias"] = torch.randn(4)
    return state


def fake_lpips_state_dict() -> dict[str, torch.Tensor]:
    """Non-negative calibration weights under the keys of lpips/weights/v0.1/alex.pth."""
    generator = torch.Generator().manual_seed(4)
    return {
        f"lin{index}.model.1.weight": torch.rand(1, channels, 1, 1, generator=generator)
        for index, channels in enumerate(LPIPS_CHANNELS)
    }


@pytest.fixture(scope="module")
def network() -> LPIPSAlexNet:
    torch.manual_seed(0)
    return LPIPSAlexNet(pretrained=False)


@pytest.fixture
def weight_files(tmp_path) -> tuple:
    alexnet_path, lpips_path = tmp_path / ALEXNET_WEIGHTS_FILE, tmp_path / LPIPS_WEIGHTS_FILE
    torch.save(fake_alexnet_state_dict(), alexnet_path)
    torch.save(fake_lpips_state_dict(), lpips_path)
    return alexnet_path, lpips_path


def reference_lpips(network: LPIPSAlexNet, images_a: torch.Tensor, images_b: torch.Tensor) -> torch.Tensor:
    """lpips.LPIPS(net="alex", version="0.1").forward(..., normalize=True), step by step on the network's layers."""
    shift = torch.tensor([-0.030, -0.088, -0.188]).view(1, 3, 1, 1)
    scale = torch.tensor([0.458, 0.448, 0.450]).view(1, 3, 1, 1)
    x, y = ((2 * images_a - 1) - shift) / scale, ((2 * images_b - 1) - shift) / scale
    total = torch.zeros(images_a.shape[0])
    for layer, (start, stop) in enumerate(LPIPS_SLICES):
        for index in range(start, stop):
            x, y = network.features[index](x), network.features[index](y)
        x_unit = x / (torch.sqrt(torch.sum(x**2, dim=1, keepdim=True)) + 1e-10)
        y_unit = y / (torch.sqrt(torch.sum(y**2, dim=1, keepdim=True)) + 1e-10)
        weight = getattr(network, f"lin{layer}").model[1].weight
        total += torch.nn.functional.conv2d((x_unit - y_unit) ** 2, weight).mean(dim=(2, 3))[:, 0]
    return total


def test_state_dict_has_exactly_torchvision_and_lpips_keys(network: LPIPSAlexNet) -> None:
    expected = {key: value.shape for key, value in fake_alexnet_state_dict().items() if key.startswith("features")}
    expected.update({key: value.shape for key, value in fake_lpips_state_dict().items()})
    assert {key: value.shape for key, value in network.state_dict().items()} == expected


def test_distance_matches_the_reference_pipeline(network: LPIPSAlexNet) -> None:
    generator = torch.Generator().manual_seed(7)
    images_a, images_b = torch.rand(2, 3, 40, 36, generator=generator), torch.rand(2, 3, 40, 36, generator=generator)
    with torch.no_grad():
        expected = reference_lpips(network, images_a, images_b)
    torch.testing.assert_close(lpips(images_a, images_b, network), expected)
    assert (expected > 0).all()


def test_identical_images_score_zero(network: LPIPSAlexNet) -> None:
    images = torch.rand(3, 3, 32, 32)
    assert lpips(images, images, network).abs().max() < 1e-7


def test_distance_is_symmetric(network: LPIPSAlexNet) -> None:
    images_a, images_b = torch.rand(2, 3, 32, 32), torch.rand(2, 3, 32, 32)
    torch.testing.assert_close(lpips(images_a, images_b, network), lpips(images_b, images_a, network))


def test_distance_grows_with_the_amount_of_noise(network: LPIPSAlexNet) -> None:
    generator = torch.Generator().manual_seed(5)
    image = torch.rand(1, 3, 48, 48, generator=generator) * 0.5 + 0.25
    noise = torch.randn(1, 3, 48, 48, generator=generator)
    distances = [float(lpips(image, (image + level * noise).clamp(0, 1), network)) for level in (0.02, 0.1, 0.3)]
    assert distances == sorted(distances) and distances[0] > 0


def test_training_mode_changes_nothing_because_there_is_no_dropout() -> None:
    network = LPIPSAlexNet(pretrained=False)
    images_a, images_b = torch.rand(2, 3, 32, 32), torch.rand(2, 3, 32, 32)
    expected = network(images_a, images_b)
    network.train()
    torch.testing.assert_close(network(images_a, images_b), expected)


def test_files_with_published_keys_load_and_change_the_distance(weight_files, network: LPIPSAlexNet) -> None:
    alexnet_path, lpips_path = weight_files
    loaded = LPIPSAlexNet(alexnet_weights_path=alexnet_path, lpips_weights_path=lpips_path)
    published = {**fake_alexnet_state_dict(), **fake_lpips_state_dict()}
    for key, value in loaded.state_dict().items():
        assert torch.equal(value, published[key]), key
    images_a, images_b = torch.rand(2, 3, 32, 32), torch.rand(2, 3, 32, 32)
    assert not torch.allclose(loaded(images_a, images_b), network(images_a, images_b))


def test_default_weights_are_read_from_the_torch_hub_cache(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    folder = tmp_path / "hub" / "checkpoints"
    folder.mkdir(parents=True)
    torch.save(fake_alexnet_state_dict(), folder / ALEXNET_WEIGHTS_FILE)
    torch.save(fake_lpips_state_dict(), folder / LPIPS_WEIGHTS_FILE)
    loaded = LPIPSAlexNet()
    assert torch.equal(loaded.features[3].weight, fake_alexnet_state_dict()["features.3.weight"])
    assert torch.equal(loaded.lin4.model[1].weight, fake_lpips_state_dict()["lin4.model.1.weight"])


def test_missing_alexnet_file_error_names_the_file_and_the_folder(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    with pytest.raises(FileNotFoundError) as error:
        LPIPSAlexNet()
    assert ALEXNET_WEIGHTS_FILE in str(error.value)
    assert str(tmp_path / "hub" / "checkpoints") in str(error.value)


def test_missing_lpips_file_error_names_the_file_and_the_folder(weight_files, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    with pytest.raises(FileNotFoundError) as error:
        LPIPSAlexNet(alexnet_weights_path=weight_files[0])
    assert LPIPS_WEIGHTS_FILE in str(error.value) and "v0.1" in str(error.value)
    assert str(tmp_path / "hub" / "checkpoints") in str(error.value)


def test_rejects_a_calibration_file_of_another_network(weight_files, tmp_path) -> None:
    vgg_like = tmp_path / "vgg.pth"
    torch.save({f"lin{index}.model.1.weight": torch.rand(1, 512, 1, 1) for index in range(5)}, vgg_like)
    with pytest.raises(ValueError, match="other shapes"):
        LPIPSAlexNet(alexnet_weights_path=weight_files[0], lpips_weights_path=vgg_like)


@pytest.mark.parametrize("channels", [1, 4])
def test_rejects_images_that_are_not_rgb(network: LPIPSAlexNet, channels: int) -> None:
    images = torch.rand(1, channels, 32, 32)
    with pytest.raises(ValueError, match=r"RGB images of shape \(N, 3, H, W\)"):
        lpips(images, images, network)


def test_rejects_images_smaller_than_alexnet_accepts(network: LPIPSAlexNet) -> None:
    images = torch.rand(1, 3, 30, 64)
    with pytest.raises(ValueError, match="at least 31 x 31"):
        lpips(images, images, network)


def test_rejects_pairs_of_different_shapes(network: LPIPSAlexNet) -> None:
    with pytest.raises(ValueError, match="one shape"):
        lpips(torch.rand(1, 3, 32, 32), torch.rand(1, 3, 40, 32), network)


def test_diversity_is_the_mean_over_all_pairs_of_distinct_samples(network: LPIPSAlexNet) -> None:
    samples = torch.rand(4, 3, 32, 32)
    pairs = [(i, j) for i in range(4) for j in range(i + 1, 4)]
    expected = torch.cat([lpips(samples[i : i + 1], samples[j : j + 1], network) for i, j in pairs]).mean()
    torch.testing.assert_close(lpips_diversity(samples, network), expected)


def test_diversity_of_copies_is_zero_and_needs_two_samples(network: LPIPSAlexNet) -> None:
    image = torch.rand(1, 3, 32, 32)
    assert float(lpips_diversity(image.expand(3, -1, -1, -1), network)) < 1e-7
    with pytest.raises(ValueError, match="N >= 2"):
        lpips_diversity(image, network)


def test_metric_buffers_one_value_per_pair_and_averages(network: LPIPSAlexNet) -> None:
    generated, references = torch.rand(4, 3, 32, 32), torch.rand(4, 3, 32, 32)
    metric = LPIPSMetric(network)
    metric(y_pred=generated[:3], y=references[:3])
    metric(y_pred=[generated[3]], y=[references[3]])
    expected = lpips(generated, references, network)
    torch.testing.assert_close(metric.aggregate(reduction="none"), expected[:, None])
    assert float(metric.aggregate()) == pytest.approx(float(expected.mean()), rel=1e-5)
