"""SIFID: Fréchet distance, SinGAN's Inception block and its weight files, the per-image metric."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from monai_singanseg.metrics import SIFIDMetric, frechet_distance, gaussian_statistics, sifid
from monai_singanseg.networks import InceptionSIFIDFeatures
from monai_singanseg.networks.inception_sifid import INCEPTION_WEIGHTS_FILE, PYTORCH_FID_INCEPTION_WEIGHTS_FILE

# torchvision's Inception3 layers before its first max pool: (name, in, out, stride, padding), written out here
# independently of the implementation so that a change of layout fails.
REFERENCE_CONVS = [("Conv2d_1a_3x3", 3, 32, 2, 0), ("Conv2d_2a_3x3", 32, 32, 1, 0), ("Conv2d_2b_3x3", 32, 64, 1, 1)]


def fake_inception_state_dict(with_batch_counts: bool) -> dict[str, torch.Tensor]:
    """Random tensors under the published keys, plus deeper layers and a classifier that must be ignored."""
    generator = torch.Generator().manual_seed(1)
    state = {}
    for name, in_channels, out_channels, _, _ in REFERENCE_CONVS:
        state[f"{name}.conv.weight"] = torch.randn(out_channels, in_channels, 3, 3, generator=generator) * 0.2
        state[f"{name}.bn.weight"] = torch.rand(out_channels, generator=generator) + 0.5
        state[f"{name}.bn.bias"] = torch.randn(out_channels, generator=generator) * 0.1
        state[f"{name}.bn.running_mean"] = torch.randn(out_channels, generator=generator) * 0.1
        state[f"{name}.bn.running_var"] = torch.rand(out_channels, generator=generator) + 0.5
        if with_batch_counts:
            state[f"{name}.bn.num_batches_tracked"] = torch.tensor(0)
    state["Conv2d_3b_1x1.conv.weight"] = torch.randn(80, 64, 1, 1)
    state["Mixed_5b.branch1x1.conv.weight"] = torch.randn(64, 192, 1, 1)
    state["fc.weight"] = torch.randn(10, 2048)
    return state


@pytest.fixture(scope="module")
def network() -> InceptionSIFIDFeatures:
    torch.manual_seed(0)
    return InceptionSIFIDFeatures(pretrained=False)


def test_gaussian_statistics_use_bessel_corrected_covariance_like_numpy_cov() -> None:
    mean, covariance = gaussian_statistics(torch.tensor([[0.0, 1.0], [2.0, 1.0], [4.0, 4.0]]))
    # mean (2, 2); deviations (-2, -1), (0, -1), (2, 2); sums of products (8, 6, 6) / (3 - 1)
    assert mean.tolist() == [2.0, 2.0]
    assert covariance.tolist() == [[4.0, 3.0], [3.0, 3.0]]


def test_frechet_distance_of_two_one_dimensional_sets_matches_hand_computation() -> None:
    # {0, 2}: mean 1, variance 2; {1, 5}: mean 3, variance 8 -> (1 - 3)^2 + 2 + 8 - 2 sqrt(2 * 8) = 6
    first, second = gaussian_statistics(torch.tensor([[0.0], [2.0]])), gaussian_statistics(torch.tensor([[1.0], [5.0]]))
    distance = frechet_distance(*first, *second)
    assert float(distance) == pytest.approx(6.0, abs=1e-12)


def test_frechet_distance_with_diagonal_covariances_is_mean_gap_plus_std_gap() -> None:
    mean_a, mean_b = torch.tensor([0.0, 1.0, -2.0]), torch.tensor([1.0, 1.0, 0.5])
    variances_a, variances_b = torch.tensor([1.0, 4.0, 0.25]), torch.tensor([9.0, 1.0, 0.25])
    expected = ((mean_a - mean_b) ** 2).sum() + ((variances_a.sqrt() - variances_b.sqrt()) ** 2).sum()
    distance = frechet_distance(mean_a, torch.diag(variances_a), mean_b, torch.diag(variances_b))
    assert float(distance) == pytest.approx(float(expected), abs=1e-10)


def test_frechet_distance_matches_trace_from_eigenvalues_of_the_unsymmetrised_product() -> None:
    generator = torch.Generator().manual_seed(3)
    mixing = torch.randn(5, 5, generator=generator, dtype=torch.float64)
    features_a = torch.randn(40, 5, generator=generator, dtype=torch.float64) @ mixing
    features_b = torch.randn(30, 5, generator=generator, dtype=torch.float64) + 0.7
    mean_a, covariance_a = features_a.mean(0), torch.cov(features_a.T)
    mean_b, covariance_b = features_b.mean(0), torch.cov(features_b.T)
    # The reference's tr(sqrtm(C_a C_b)): the eigenvalues of the non-symmetric product, a different route.
    trace_of_root = torch.linalg.eigvals(covariance_a @ covariance_b).sqrt().real.sum()
    expected = (mean_a - mean_b) @ (mean_a - mean_b) + covariance_a.trace() + covariance_b.trace() - 2 * trace_of_root
    assert float(frechet_distance(mean_a, covariance_a, mean_b, covariance_b)) == pytest.approx(float(expected))
    assert float(expected) > 1.0


def test_frechet_distance_of_a_set_with_itself_is_zero_even_with_singular_covariance() -> None:
    features = torch.randn(4, 16)  # 4 vectors in 16 dimensions: covariance of rank 3
    statistics = gaussian_statistics(features)
    assert abs(float(frechet_distance(*statistics, *statistics))) < 1e-9


def test_state_dict_has_exactly_torchvision_keys_of_the_first_block(network: InceptionSIFIDFeatures) -> None:
    expected = {key: value.shape for key, value in fake_inception_state_dict(True).items() if key.startswith("Conv2d_")}
    del expected["Conv2d_3b_1x1.conv.weight"]
    assert {key: value.shape for key, value in network.state_dict().items()} == expected


def test_features_match_torch_layers_fed_as_singan_feeds_them(tmp_path) -> None:
    # SinGAN's SIFID/inception.py: [0, 1] -> 2x - 1, no resize, then torchvision's BasicConv2d blocks, no max pool.
    # Loaded batch-norm statistics far from (0, 1), so that their use and eps = 0.001 both matter.
    torch.save(fake_inception_state_dict(True), tmp_path / "weights.pth")
    network = InceptionSIFIDFeatures(weights_path=tmp_path / "weights.pth")
    layers: list[nn.Module] = []
    for name, in_channels, out_channels, stride, padding in REFERENCE_CONVS:
        conv = nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=padding, bias=False)
        norm = nn.BatchNorm2d(out_channels, eps=0.001)
        conv.weight.data.copy_(getattr(network, name).conv.weight)
        norm.load_state_dict(getattr(network, name).bn.state_dict())
        layers += [conv, norm, nn.ReLU()]
    reference = nn.Sequential(*layers).eval()
    images = torch.rand(2, 3, 29, 35)
    with torch.no_grad():
        expected = reference(2 * images - 1)
    torch.testing.assert_close(network(images), expected)
    assert tuple(expected.shape) == (2, 64, 12, 15)


def test_training_mode_still_uses_stored_batch_norm_statistics() -> None:
    network = InceptionSIFIDFeatures(pretrained=False)
    images = torch.rand(2, 3, 24, 24)
    expected = network(images)
    network.train()
    torch.testing.assert_close(network(images), expected)
    assert torch.equal(network.Conv2d_1a_3x3.bn.running_mean, torch.zeros(32))


@pytest.mark.parametrize("with_batch_counts", [False, True])
def test_file_with_published_keys_loads_and_changes_the_features(tmp_path, with_batch_counts: bool) -> None:
    state = fake_inception_state_dict(with_batch_counts)
    path = tmp_path / PYTORCH_FID_INCEPTION_WEIGHTS_FILE
    torch.save(state, path)
    loaded = InceptionSIFIDFeatures(weights_path=path)
    for key, value in loaded.state_dict().items():
        if not key.endswith("num_batches_tracked"):
            assert torch.equal(value, state[key]), key
    images = torch.rand(1, 3, 24, 24)
    assert not torch.allclose(loaded(images), InceptionSIFIDFeatures(pretrained=False)(images))


def test_default_weights_are_read_from_the_torch_hub_cache(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    folder = tmp_path / "hub" / "checkpoints"
    folder.mkdir(parents=True)
    state = fake_inception_state_dict(True)
    torch.save(state, folder / INCEPTION_WEIGHTS_FILE)
    assert torch.equal(InceptionSIFIDFeatures().Conv2d_2b_3x3.conv.weight, state["Conv2d_2b_3x3.conv.weight"])


def test_missing_weights_error_names_the_file_and_the_folder(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    with pytest.raises(FileNotFoundError) as error:
        InceptionSIFIDFeatures()
    assert INCEPTION_WEIGHTS_FILE in str(error.value)
    assert str(tmp_path / "hub" / "checkpoints") in str(error.value)


def test_rejects_a_file_without_the_first_block(tmp_path) -> None:
    path = tmp_path / "other.pth"
    torch.save({"fc.weight": torch.zeros(2, 2)}, path)
    with pytest.raises(ValueError, match="Conv2d_1a_3x3.conv.weight"):
        InceptionSIFIDFeatures(weights_path=path)


@pytest.mark.parametrize("channels", [1, 4])
def test_rejects_images_that_are_not_rgb(network: InceptionSIFIDFeatures, channels: int) -> None:
    images = torch.rand(1, channels, 24, 24)
    with pytest.raises(ValueError, match=r"RGB images of shape \(N, 3, H, W\)"):
        sifid(images, images, network)


def test_rejects_images_too_small_for_two_feature_positions(network: InceptionSIFIDFeatures) -> None:
    images = torch.rand(1, 3, 8, 8)  # one 64-d vector after the three convolutions
    with pytest.raises(ValueError, match="two feature positions"):
        sifid(images, images, network)


def test_identical_images_score_zero(network: InceptionSIFIDFeatures) -> None:
    images = torch.rand(3, 3, 32, 32)
    assert sifid(images, images, network).abs().max() < 1e-6


def test_sifid_grows_with_the_amount_of_noise(network: InceptionSIFIDFeatures) -> None:
    generator = torch.Generator().manual_seed(5)
    real = torch.rand(1, 3, 32, 32, generator=generator) * 0.5 + 0.25
    noise = torch.randn(1, 3, 32, 32, generator=generator)
    scores = [float(sifid(real, (real + level * noise).clamp(0, 1), network)) for level in (0.0, 0.05, 0.15, 0.4)]
    assert scores[0] < 1e-6
    assert scores == sorted(scores) and scores[1] > 1e-4


def test_one_real_image_is_compared_with_every_fake_image(network: InceptionSIFIDFeatures) -> None:
    real, fakes = torch.rand(1, 3, 28, 28), torch.rand(3, 3, 24, 32)
    broadcast = sifid(real, fakes, network)
    one_by_one = torch.cat([sifid(real, fake[None], network) for fake in fakes])
    torch.testing.assert_close(broadcast, one_by_one)
    torch.testing.assert_close(broadcast, sifid(real.expand(3, -1, -1, -1), fakes, network))


def test_metric_buffers_one_value_per_fake_image_and_averages(network: InceptionSIFIDFeatures) -> None:
    real, fakes = torch.rand(2, 3, 24, 24), torch.rand(4, 3, 24, 24)
    metric = SIFIDMetric(network)
    metric(y_pred=fakes[:2], y=real)
    metric(y_pred=fakes[2:], y=real[:1])
    expected = torch.cat([sifid(real, fakes[:2], network), sifid(real[:1], fakes[2:], network)]).float()
    torch.testing.assert_close(metric.aggregate(reduction="none"), expected[:, None])
    assert float(metric.aggregate()) == pytest.approx(float(expected.mean()), rel=1e-5)


def test_metric_rejects_batches_of_different_sizes(network: InceptionSIFIDFeatures) -> None:
    with pytest.raises(ValueError, match="batches of one size"):
        SIFIDMetric(network)(y_pred=torch.rand(3, 3, 24, 24), y=torch.rand(2, 3, 24, 24))
