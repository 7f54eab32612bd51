"""VGG19Features: torchvision weight layout, named layers, weight loading and its errors."""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

from monai_singanseg.networks.vgg import VGG19_WEIGHTS_FILE, VGG19Features

# torchvision's vgg19().features: child index of every convolution and its (out, in) channels, written out here
# independently of the implementation so that a change of layout fails.
TORCHVISION_CONVS = {
    **{0: (64, 3), 2: (64, 64), 5: (128, 64), 7: (128, 128), 10: (256, 128), 19: (512, 256)},
    **{index: (256, 256) for index in (12, 14, 16)},
    **{index: (512, 512) for index in (21, 23, 25, 28, 30, 32, 34)},
}


def fake_torchvision_state_dict() -> dict[str, torch.Tensor]:
    """Random tensors under torchvision's keys; the classifier, which must be ignored, is kept tiny."""
    state = {}
    for index, (out_channels, in_channels) in TORCHVISION_CONVS.items():
        state[f"features.{index}.weight"] = torch.randn(out_channels, in_channels, 3, 3) * 0.01
        state[f"features.{index}.bias"] = torch.randn(out_channels) * 0.01
    state["classifier.0.weight"] = torch.randn(4, 2)
    state["classifier.0.bias"] = torch.randn(4)
    return state


@pytest.fixture(scope="module")
def network() -> VGG19Features:
    torch.manual_seed(0)
    return VGG19Features(pretrained=False)


def test_state_dict_has_exactly_torchvision_feature_keys_and_shapes(network: VGG19Features) -> None:
    expected = {key: value.shape for key, value in fake_torchvision_state_dict().items() if key.startswith("features")}
    assert {key: value.shape for key, value in network.state_dict().items()} == expected
    assert len(network.features) == 37


def test_fake_torchvision_file_loads_by_path(tmp_path) -> None:
    state = fake_torchvision_state_dict()
    path = tmp_path / "my_vgg19.pth"
    torch.save(state, path)
    network = VGG19Features(weights_path=path)
    for key, value in network.state_dict().items():
        assert torch.equal(value, state[key]), key


def test_missing_weights_error_names_file_and_where_to_put_it(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    expected_location = tmp_path / "hub" / "checkpoints" / VGG19_WEIGHTS_FILE
    with pytest.raises(FileNotFoundError) as error:
        VGG19Features()
    assert VGG19_WEIGHTS_FILE in str(error.value)
    assert str(expected_location) in str(error.value)


def test_missing_explicit_weights_path_is_named(tmp_path) -> None:
    with pytest.raises(FileNotFoundError, match="nowhere.pth"):
        VGG19Features(weights_path=tmp_path / "nowhere.pth")


def test_rejects_file_without_feature_tensors(tmp_path) -> None:
    path = tmp_path / "other.pth"
    torch.save({"classifier.0.weight": torch.zeros(2, 2)}, path)
    with pytest.raises(ValueError, match="features"):
        VGG19Features(weights_path=path)


@pytest.mark.parametrize(
    "layer, channels, size",
    [("conv1_1", 64, 32), ("relu2_1", 128, 16), ("conv3_4", 256, 8), ("relu4_2", 512, 4), ("relu5_1", 512, 2)],
)
def test_named_layers_have_vgg_channels_and_resolution(
    network: VGG19Features, layer: str, channels: int, size: int
) -> None:
    out = network(torch.rand(2, 3, 32, 32), [layer])
    assert list(out) == [layer]
    assert tuple(out[layer].shape) == (2, channels, size, size)


def test_stops_computing_after_deepest_requested_layer(network: VGG19Features) -> None:
    called: list[int] = []
    handles = [m.register_forward_hook(lambda *_, i=i: called.append(i)) for i, m in enumerate(network.features)]
    try:
        network(torch.rand(1, 3, 16, 16), ["conv1_2", "relu2_1"])
    finally:
        for handle in handles:
            handle.remove()
    assert called == list(range(7))


def test_conv_layer_is_before_relu_and_relu_is_not_negative(network: VGG19Features) -> None:
    out = network(torch.rand(1, 3, 16, 16), ["conv1_1", "relu1_1"])
    assert (out["conv1_1"] < 0).any()
    assert torch.equal(out["relu1_1"], out["conv1_1"].clamp(min=0))


def test_reference_conv_names_read_post_relu_activations(network: VGG19Features) -> None:
    # The reference loops over torchvision's children, whose ReLUs are in-place, and keeps the tensor at the conv
    # indices: the ReLU then overwrites it. Our relu{k}_1 defaults must equal what it really used.
    reference_features = copy.deepcopy(network.features)
    for module in reference_features:
        if isinstance(module, nn.ReLU):
            module.inplace = True
    image = torch.rand(1, 3, 32, 32)
    x = (image - network.mean) / network.std
    stored = {}
    with torch.no_grad():
        for index, module in enumerate(reference_features):
            x = module(x)
            if index in (0, 5, 10, 19, 28):
                stored[index] = x
        ours = network(image, ["relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1"])
    for index, name in zip((0, 5, 10, 19, 28), ours):
        torch.testing.assert_close(stored[index], ours[name])


def test_rejects_unknown_layer_names(network: VGG19Features) -> None:
    with pytest.raises(ValueError, match="conv6_1"):
        network(torch.rand(1, 3, 8, 8), ["conv6_1"])


def test_parameters_frozen_unless_asked(network: VGG19Features) -> None:
    assert not any(p.requires_grad for p in network.parameters())
    assert all(p.requires_grad for p in VGG19Features(pretrained=False, requires_grad=True).parameters())
