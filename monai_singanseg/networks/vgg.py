"""VGG19 convolutional trunk for perceptual and style losses, compatible with torchvision's ImageNet weights."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import torch
from torch import nn

from monai_singanseg.networks.weight_files import WeightsFile, hub_checkpoint_path

__all__ = ["VGG19Features", "VGG19_LAYER_NAMES", "VGG19_WEIGHTS_FILE", "default_vgg19_weights_path"]

VGG19_WEIGHTS_FILE = "vgg19-dcbb9e9d.pth"
VGG19_WEIGHTS_URL = f"https://download.pytorch.org/models/{VGG19_WEIGHTS_FILE}"
VGG19_WEIGHTS = WeightsFile(
    "VGG19 ImageNet weights", VGG19_WEIGHTS_FILE, VGG19_WEIGHTS_URL, "weights_path",
    "the 'fourier' and 'histogram' style methods need no weights; ",
)
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

# Convolution widths of VGG19 (configuration "E" of Simonyan and Zisserman), one inner tuple per block; every block
# ends in a 2x2 max pool. Written out so the child indices match torchvision's `vgg19().features`.
_BLOCK_WIDTHS = ((64, 64), (128, 128), (256, 256, 256, 256), (512, 512, 512, 512), (512, 512, 512, 512))


def _layer_names() -> tuple[str, ...]:
    """Names of the children of the trunk in order: ``conv{b}_{i}``, ``relu{b}_{i}``, then ``pool{b}`` per block."""
    names: list[str] = []
    for block, widths in enumerate(_BLOCK_WIDTHS, start=1):
        for index in range(1, len(widths) + 1):
            names += [f"conv{block}_{index}", f"relu{block}_{index}"]
        names.append(f"pool{block}")
    return tuple(names)


VGG19_LAYER_NAMES = _layer_names()


def default_vgg19_weights_path() -> Path:
    """Where torchvision caches the VGG19 ImageNet weights: ``$TORCH_HOME/hub/checkpoints/vgg19-dcbb9e9d.pth``."""
    return hub_checkpoint_path(VGG19_WEIGHTS_FILE)


class VGG19Features(nn.Module):
    """The convolutional trunk of VGG19, returning the activations of named layers.

    Simonyan and Zisserman, "Very Deep Convolutional Networks for Large-Scale Image Recognition", ICLR 2015; used as
    the feature extractor of Gatys, Ecker and Bethge, "A Neural Algorithm of Artistic Style", arXiv:1508.06576, 2015.

    The trunk is written here so that torchvision is not needed, but ``self.features`` has exactly the children of
    torchvision's ``vgg19().features``, so its ImageNet file ``vgg19-dcbb9e9d.pth`` loads key for key (the
    ``classifier.*`` keys are ignored). Layers are named ``conv{block}_{index}``, ``relu{block}_{index}`` and
    ``pool{block}`` (see ``VGG19_LAYER_NAMES``). The ReLUs are not in-place, so a ``conv`` layer returns the
    activation before its ReLU.

    Input: RGB images in [0, 1], shape (N, 3, H, W); the ImageNet mean and standard deviation are subtracted and
    divided inside (non-persistent buffers, so the state dict holds only ``features.*``). The parameters are frozen
    unless ``requires_grad=True``; the module is in eval mode after construction (VGG19 has no dropout or
    normalisation in its trunk, so the mode changes nothing but is set for clarity).

    Args:
        layers: names of the layers ``forward`` returns by default.
        pretrained: load the ImageNet weights; ``False`` keeps the random initialisation (for tests).
        weights_path: file with torchvision's VGG19 state dict; ``None`` uses :func:`default_vgg19_weights_path`.
        requires_grad: whether the parameters are trainable.

    Raises:
        ValueError: when a name in ``layers`` is not a VGG19 layer, or the weights file is unreadable or not
            torchvision's VGG19 state dict.
        FileNotFoundError: when ``pretrained`` and the weights file does not exist; the message names the file, the
            download address and where to put it.

    Example::

        >>> net = VGG19Features(layers=("relu1_1", "relu2_1"), pretrained=False)
        >>> out = net(torch.rand(1, 3, 32, 32))
        >>> tuple(out["relu2_1"].shape)
        (1, 128, 16, 16)
    """

    def __init__(
        self,
        layers: Sequence[str] = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1"),
        pretrained: bool = True,
        weights_path: str | os.PathLike | None = None,
        requires_grad: bool = False,
    ) -> None:
        super().__init__()
        self.layers = self._check_layers(layers)
        modules: list[nn.Module] = []
        in_channels = 3
        for widths in _BLOCK_WIDTHS:
            for width in widths:
                modules += [nn.Conv2d(in_channels, width, kernel_size=3, padding=1), nn.ReLU(inplace=False)]
                in_channels = width
            modules.append(nn.MaxPool2d(kernel_size=2, stride=2))
        self.features = nn.Sequential(*modules)
        for module in self.features:
            if isinstance(module, nn.Conv2d):
                # torchvision's VGG initialisation, so that random weights keep activations at a usable scale
                nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
                nn.init.zeros_(module.bias)
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)
        if pretrained:
            self.load_weights(default_vgg19_weights_path() if weights_path is None else weights_path)
        self.requires_grad_(requires_grad)
        self.eval()

    @staticmethod
    def _check_layers(layers: Sequence[str]) -> tuple[str, ...]:
        layers = (layers,) if isinstance(layers, str) else tuple(layers)
        unknown = [name for name in layers if name not in VGG19_LAYER_NAMES]
        if unknown or not layers:
            raise ValueError(f"layers must be a non-empty selection of {VGG19_LAYER_NAMES}, got {layers}.")
        return layers

    def load_weights(self, path: str | os.PathLike) -> None:
        """Load torchvision's VGG19 state dict (``features.*`` keys; ``classifier.*`` ignored) from ``path``.

        Args:
            path: the ``.pth`` file, read with ``torch.load(weights_only=True)``.

        Raises:
            FileNotFoundError: when ``path`` does not exist.
            ValueError: when the file is unreadable (empty, truncated, not a torch file) or lacks a ``features.*``
                tensor of VGG19, holds one of another shape or with NaN or Inf.
        """
        self.load_state_dict(VGG19_WEIGHTS.load(path, self.state_dict(), prefix="features."), strict=True)

    def forward(self, x: torch.Tensor, layers: Sequence[str] | None = None) -> dict[str, torch.Tensor]:
        """Run the trunk up to the deepest requested layer.

        Args:
            x: RGB images in [0, 1], shape (N, 3, H, W).
            layers: names of the layers to return; ``None`` uses the layers given at construction.

        Returns:
            A dict from layer name to activation, in the order of ``layers``.
        """
        layers = self.layers if layers is None else self._check_layers(layers)
        wanted = {VGG19_LAYER_NAMES.index(name): name for name in layers}
        deepest = max(wanted)
        found: dict[str, torch.Tensor] = {}
        x = (x - self.mean) / self.std
        for index, module in enumerate(self.features):
            x = module(x)
            if index in wanted:
                found[wanted[index]] = x
            if index == deepest:
                break  # the deeper layers would cost time and memory for nothing
        return {name: found[name] for name in layers}
