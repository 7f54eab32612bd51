"""LPIPS v0.1 with the AlexNet trunk, compatible with torchvision's AlexNet file and the lpips package's weights."""

from __future__ import annotations

import os
from pathlib import Path

import torch
from torch import nn

from monai_singanseg.networks.weight_files import WeightsFile, hub_checkpoint_path

__all__ = [
    "ALEXNET_WEIGHTS_FILE",
    "LPIPSAlexNet",
    "LPIPS_ALEXNET_CHANNELS",
    "LPIPS_WEIGHTS_FILE",
    "default_alexnet_weights_path",
    "default_lpips_weights_path",
]

ALEXNET_WEIGHTS_FILE = "alexnet-owt-7be5be79.pth"
ALEXNET_WEIGHTS_URL = f"https://download.pytorch.org/models/{ALEXNET_WEIGHTS_FILE}"
LPIPS_WEIGHTS_FILE = "alex.pth"
LPIPS_WEIGHTS_URL = "https://github.com/richzhang/PerceptualSimilarity/raw/master/lpips/weights/v0.1/alex.pth"
ALEXNET_WEIGHTS = WeightsFile("AlexNet ImageNet weights for LPIPS", ALEXNET_WEIGHTS_FILE, ALEXNET_WEIGHTS_URL,
                              "alexnet_weights_path")
LPIPS_WEIGHTS = WeightsFile("LPIPS v0.1 AlexNet calibration (the lpips package's weights/v0.1/alex.pth)",
                            LPIPS_WEIGHTS_FILE, LPIPS_WEIGHTS_URL, "lpips_weights_path")

# The LPIPS v0.1 scaling layer (richzhang/PerceptualSimilarity, lpips/lpips.py `ScalingLayer`): maps [-1, 1] input to
# the ImageNet-normalised input AlexNet was trained on.
_SHIFT = (-0.030, -0.088, -0.188)
_SCALE = (0.458, 0.448, 0.450)
# Channels of the five tapped ReLUs; the lpips package's `chns` for net="alex".
LPIPS_ALEXNET_CHANNELS = (64, 192, 384, 256, 256)
# Indices in torchvision's `alexnet().features` of the ReLUs whose outputs LPIPS compares: the ends of the lpips
# package's slices features[0:2], [2:5], [5:8], [8:10], [10:12].
_TAPPED_RELUS = (1, 4, 7, 9, 11)
_NORMALISATION_EPS = 1e-10  # lpips.normalize_tensor
MIN_IMAGE_SIZE = 31  # the smallest side AlexNet's two max pools accept


def default_alexnet_weights_path() -> Path:
    """Where torchvision caches the AlexNet weights: ``$TORCH_HOME/hub/checkpoints/alexnet-owt-7be5be79.pth``."""
    return hub_checkpoint_path(ALEXNET_WEIGHTS_FILE)


def default_lpips_weights_path() -> Path:
    """Where the LPIPS v0.1 AlexNet calibration is looked for: ``$TORCH_HOME/hub/checkpoints/alex.pth``."""
    return hub_checkpoint_path(LPIPS_WEIGHTS_FILE)


class _LinearCalibration(nn.Module):
    """The lpips package's ``NetLinLayer``: a 1x1 convolution without bias from ``channels`` to one.

    The reference puts ``nn.Dropout()`` first (``use_dropout=True``), which its default eval mode switches off; an
    ``nn.Identity`` keeps the convolution at index 1, so the key reads ``model.1.weight`` as in ``alex.pth``.
    """

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.model = nn.Sequential(nn.Identity(), nn.Conv2d(channels, 1, kernel_size=1, bias=False))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)


class LPIPSAlexNet(nn.Module):
    """Learned Perceptual Image Patch Similarity, version 0.1, on AlexNet features.

    Zhang, Isola, Efros, Shechtman and Wang, "The Unreasonable Effectiveness of Deep Features as a Perceptual
    Metric", CVPR 2018; reproduces ``lpips.LPIPS(net="alex", version="0.1")`` of richzhang/PerceptualSimilarity
    (``lpips/lpips.py``, ``lpips/pretrained_networks.py``, ``lpips/__init__.py``):

    1. the scaling layer ``(x - shift) / scale``, shift (-.030, -.088, -.188), scale (.458, .448, .450), on input
       in [-1, 1];
    2. torchvision's AlexNet trunk; the outputs of its five ReLUs (after conv1 .. conv5, 64, 192, 384, 256 and 256
       channels) are compared;
    3. each activation is divided by its channel-wise L2 norm at every position, plus 1e-10;
    4. the squared difference of the two images' normalised activations goes through a learned 1x1 convolution
       to one channel (no bias, non-negative weights), is averaged over positions and summed over the layers.

    ``self.features`` has the children of torchvision's ``alexnet().features`` up to the last tapped ReLU, so
    ``alexnet-owt-7be5be79.pth`` loads key for key (``features.0/3/6/8/10.weight/bias``; ``classifier.*`` ignored);
    ``lin0`` .. ``lin4`` hold the lpips calibration of ``weights/v0.1/alex.pth`` (``lin{k}.model.1.weight``).
    The parameters are frozen and there is no dropout. Random weights (``pretrained=False``) draw the calibration
    from [0, 2 / channels): non-negative, as the reference's training clamps them (``lpips/trainer.py``).

    Input: two RGB batches in [0, 1] of one shape (N, 3, H, W), H, W >= 31; mapped to [-1, 1] inside as
    ``lpips.LPIPS.forward(..., normalize=True)`` does. Output: (N,) distances (the reference returns (N, 1, 1, 1)).

    Args:
        pretrained: load both weight files; ``False`` keeps random weights (for tests).
        alexnet_weights_path: torchvision's AlexNet state dict; ``None`` uses :func:`default_alexnet_weights_path`.
        lpips_weights_path: the lpips package's ``weights/v0.1/alex.pth``; ``None`` uses
            :func:`default_lpips_weights_path`.

    Raises:
        FileNotFoundError: when ``pretrained`` and a weights file does not exist; the message names the file, its
            download address and where to put it.
        ValueError: when a file lacks the expected tensors or holds them with other shapes.

    Example::

        >>> net = LPIPSAlexNet(pretrained=False)
        >>> image = torch.rand(2, 3, 32, 32)
        >>> net(image, image).tolist()
        [0.0, 0.0]
    """

    def __init__(
        self,
        pretrained: bool = True,
        alexnet_weights_path: str | os.PathLike | None = None,
        lpips_weights_path: str | os.PathLike | None = None,
    ) -> None:
        super().__init__()
        # torchvision's AlexNet `features` children 0..11; the final max pool (12) follows the last tapped ReLU.
        self.features = nn.Sequential(
            nn.Conv2d(3, 64, kernel_size=11, stride=4, padding=2),
            nn.ReLU(),
            nn.MaxPool2d(kernel_size=3, stride=2),
            nn.Conv2d(64, 192, kernel_size=5, padding=2),
            nn.ReLU(),
            nn.MaxPool2d(kernel_size=3, stride=2),
            nn.Conv2d(192, 384, kernel_size=3, padding=1),
            nn.ReLU(),
            nn.Conv2d(384, 256, kernel_size=3, padding=1),
            nn.ReLU(),
            nn.Conv2d(256, 256, kernel_size=3, padding=1),
            nn.ReLU(),
        )
        for index, channels in enumerate(LPIPS_ALEXNET_CHANNELS):
            calibration = _LinearCalibration(channels)
            nn.init.uniform_(calibration.model[1].weight, 0.0, 2.0 / channels)
            self.add_module(f"lin{index}", calibration)
        self.register_buffer("shift", torch.tensor(_SHIFT).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("scale", torch.tensor(_SCALE).view(1, 3, 1, 1), persistent=False)
        if pretrained:
            if alexnet_weights_path is None:
                alexnet_weights_path = default_alexnet_weights_path()
            if lpips_weights_path is None:
                lpips_weights_path = default_lpips_weights_path()
            self.load_alexnet_weights(alexnet_weights_path)
            self.load_lpips_weights(lpips_weights_path)
        self.requires_grad_(False)
        self.eval()

    @property
    def calibrations(self) -> tuple[nn.Module, ...]:
        """The five 1x1 calibration layers ``lin0`` .. ``lin4``, shallowest first."""
        return tuple(getattr(self, f"lin{index}") for index in range(len(LPIPS_ALEXNET_CHANNELS)))

    def load_alexnet_weights(self, path: str | os.PathLike) -> None:
        """Load torchvision's AlexNet state dict (``features.*``; ``classifier.*`` ignored).

        Args:
            path: the ``.pth`` file, read with ``torch.load(weights_only=True)``.

        Raises:
            FileNotFoundError: when ``path`` does not exist.
            ValueError: when the file is unreadable, lacks a ``features`` tensor of AlexNet or holds one of another
                shape or with NaN or Inf.
        """
        self.load_state_dict(ALEXNET_WEIGHTS.load(path, self.state_dict(), prefix="features."), strict=False)

    def load_lpips_weights(self, path: str | os.PathLike) -> None:
        """Load the lpips package's v0.1 AlexNet calibration (``lin0.model.1.weight`` .. ``lin4.model.1.weight``).

        Args:
            path: ``lpips/weights/v0.1/alex.pth`` or a file with the same keys, read with
                ``torch.load(weights_only=True)``.

        Raises:
            FileNotFoundError: when ``path`` does not exist.
            ValueError: when the file is unreadable, lacks a ``lin`` tensor or holds one of another shape or with
                NaN or Inf.
        """
        self.load_state_dict(LPIPS_WEIGHTS.load(path, self.state_dict(), prefix="lin"), strict=False)

    def normalised_features(self, images: torch.Tensor) -> list[torch.Tensor]:
        """The five tapped activations of a batch, each divided by its channel norm at every position.

        Args:
            images: RGB images in [0, 1], shape (N, 3, H, W), H and W at least 31.

        Returns:
            Five tensors (N, C_k, H_k, W_k), shallowest first.

        Raises:
            ValueError: when ``images`` is not a batch of 3-channel images of at least 31 x 31 pixels.
        """
        if images.ndim != 4 or images.shape[1] != 3:
            raise ValueError(
                f"LPIPS needs RGB images of shape (N, 3, H, W), got {tuple(images.shape)}; repeat a grey channel "
                "three times, or select the three image channels of a stack."
            )
        if min(images.shape[-2:]) < MIN_IMAGE_SIZE:
            raise ValueError(
                f"LPIPS (AlexNet) needs images of at least {MIN_IMAGE_SIZE} x {MIN_IMAGE_SIZE} pixels, "
                f"got {tuple(images.shape)}."
            )
        x = ((2 * images - 1) - self.shift) / self.scale
        tapped = []
        for index, module in enumerate(self.features):
            x = module(x)
            if index in _TAPPED_RELUS:
                norm = x.pow(2).sum(dim=1, keepdim=True).sqrt()
                tapped.append(x / (norm + _NORMALISATION_EPS))
        return tapped

    def distance_between_features(self, features_a: list[torch.Tensor], features_b: list[torch.Tensor]) -> torch.Tensor:
        """LPIPS from :meth:`normalised_features` of two batches (broadcast against each other).

        Computing the features once lets many pairs be scored without running AlexNet again.

        Args:
            features_a: the five normalised activations of the first batch.
            features_b: those of the second batch, of the same spatial sizes.

        Returns:
            (N,) distances.
        """
        total = 0
        for calibration, feature_a, feature_b in zip(self.calibrations, features_a, features_b):
            total = total + calibration((feature_a - feature_b).pow(2)).mean(dim=(1, 2, 3))
        return total

    def forward(self, images_a: torch.Tensor, images_b: torch.Tensor) -> torch.Tensor:
        """LPIPS between two batches of RGB images in [0, 1].

        Args:
            images_a: (N, 3, H, W) images.
            images_b: (N, 3, H, W) images.

        Returns:
            (N,) distances, zero for identical images.

        Raises:
            ValueError: when the shapes differ or the images are not RGB or too small.
        """
        if images_a.shape != images_b.shape:
            raise ValueError(
                f"LPIPS compares images of one shape, got {tuple(images_a.shape)} and {tuple(images_b.shape)}."
            )
        features = self.normalised_features(torch.cat([images_a, images_b]))
        count = images_a.shape[0]
        return self.distance_between_features([f[:count] for f in features], [f[count:] for f in features])
