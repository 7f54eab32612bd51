"""Corrupt or foreign pretrained weight files (VGG19, Inception-v3, AlexNet, LPIPS) are one clear error each."""

from __future__ import annotations

import os

import pytest
import torch

from monai_singanseg.networks import InceptionSIFIDFeatures, LPIPSAlexNet, VGG19Features


def _vgg(path):
    VGG19Features(pretrained=False).load_weights(path)


def _inception(path):
    InceptionSIFIDFeatures(pretrained=False).load_weights(path)


def _alexnet(path):
    LPIPSAlexNet(pretrained=False).load_alexnet_weights(path)


def _lpips(path):
    LPIPSAlexNet(pretrained=False).load_lpips_weights(path)


# Each loader, the published file its messages name, and the prefix of the keys it needs.
LOADERS = [
    pytest.param(_vgg, "vgg19-dcbb9e9d.pth", VGG19Features, "features.", id="vgg19"),
    pytest.param(_inception, "inception_v3_google-0cc3c7bd.pth", InceptionSIFIDFeatures, "Conv2d_", id="inception"),
    pytest.param(_alexnet, "alexnet-owt-7be5be79.pth", LPIPSAlexNet, "features.", id="alexnet"),
    pytest.param(_lpips, "alex.pth", LPIPSAlexNet, "lin", id="lpips"),
]


def _own(network_class, prefix):
    return {k: v for k, v in network_class(pretrained=False).state_dict().items() if k.startswith(prefix)}


def _empty(path, own):
    path.write_bytes(b"")


def _text(path, own):
    path.write_text("<html>404 Not Found</html>\n")


def _truncated(path, own):
    torch.save({key: torch.zeros(2) for key in own}, path)
    path.write_bytes(path.read_bytes()[:300])


def _runs_code(path, own):
    class RunsCode:
        def __reduce__(self):
            return os.system, (f"touch {path.parent / 'ran'}",)

    torch.save({"weights": RunsCode()}, path)


def _wrong_keys(path, own):
    torch.save({"fc.weight": torch.zeros(2, 2)}, path)


def _wrong_shapes(path, own):
    torch.save({key: torch.zeros(1) for key in own}, path)


def _not_a_state_dict(path, own):
    torch.save([torch.zeros(2)], path)


@pytest.mark.parametrize("write, message", [
    (_empty, "is not a readable weights file: expected .*: the file is empty"),
    (_text, "is not a readable weights file: expected .*: it is truncated or corrupt"),
    (_truncated, "is not a readable weights file: expected .*: it is truncated or corrupt"),
    (_runs_code, r"pickled Python objects \((posix|os|nt).system\) .* refused so that no code in the file runs"),
    (_wrong_keys, "is not .*: it lacks "),
    (_wrong_shapes, "holds tensors of other shapes than "),
    (_not_a_state_dict, "holds a list, not a state dict"),
])
@pytest.mark.parametrize("load, file_name, network_class, prefix", LOADERS)
def test_unusable_weight_file_is_one_value_error_naming_the_file_and_the_expected_weights(
    tmp_path, load, file_name, network_class, prefix, write, message
):
    path = tmp_path / "weights.pth"
    write(path, _own(network_class, prefix))
    with pytest.raises(ValueError, match=message) as error:
        load(path)
    text = str(error.value)
    assert str(path) in text and file_name in text
    assert "weights_only" not in text and "\n" not in text
    assert not (tmp_path / "ran").exists()


@pytest.mark.parametrize("load, file_name, network_class, prefix", [LOADERS[1], LOADERS[3]])
def test_weight_file_with_nan_is_refused(tmp_path, load, file_name, network_class, prefix):
    state = {key: value.clone() for key, value in _own(network_class, prefix).items()}
    first = next(key for key, value in state.items() if value.is_floating_point())
    state[first].view(-1)[0] = float("nan")
    path = tmp_path / "weights.pth"
    torch.save(state, path)
    with pytest.raises(ValueError, match=rf"holds NaN or Inf values in {first}.*{file_name}"):
        load(path)


@pytest.mark.parametrize("load, file_name, network_class, prefix", LOADERS)
def test_missing_weight_file_still_says_where_to_get_it(tmp_path, load, file_name, network_class, prefix):
    with pytest.raises(FileNotFoundError, match=rf"Download '{file_name}'"):
        load(tmp_path / "nowhere.pth")
