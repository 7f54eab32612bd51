"""The first block of Inception-v3, whose 64-channel maps are the features of SinGAN's SIFID."""

from __future__ import annotations

import os
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from monai_singanseg.networks.weight_files import WeightsFile, hub_checkpoint_path

__all__ = [
    "INCEPTION_WEIGHTS_FILE",
    "InceptionSIFIDFeatures",
    "PYTORCH_FID_INCEPTION_WEIGHTS_FILE",
    "default_inception_weights_path",
]

# torchvision's ImageNet Inception-v3, which SinGAN's SIFID loads through `models.inception_v3(pretrained=True)`
# (torchvision releases before 0.13 named the same state dict `inception_v3_google-1a9a5a14.pth`).
INCEPTION_WEIGHTS_FILE = "inception_v3_google-0cc3c7bd.pth"
INCEPTION_WEIGHTS_URL = f"https://download.pytorch.org/models/{INCEPTION_WEIGHTS_FILE}"
# pytorch-fid's port of the TensorFlow FID Inception: same key layout for this block, other values.
PYTORCH_FID_INCEPTION_WEIGHTS_FILE = "pt_inception-2015-12-05-6726825d.pth"
PYTORCH_FID_INCEPTION_WEIGHTS_URL = (
    f"https://github.com/mseitzer/pytorch-fid/releases/download/fid_weights/{PYTORCH_FID_INCEPTION_WEIGHTS_FILE}"
)
INCEPTION_WEIGHTS = WeightsFile(
    "Inception-v3 weights for SIFID", INCEPTION_WEIGHTS_FILE, INCEPTION_WEIGHTS_URL, "weights_path",
    f"pytorch-fid's '{PYTORCH_FID_INCEPTION_WEIGHTS_FILE}' ({PYTORCH_FID_INCEPTION_WEIGHTS_URL}) also loads through "
    "weights_path; ",
)

# (name, in, out, stride, padding) of the three 3x3 convolutions before Inception-v3's first max pool, named as
# the attributes of torchvision's `Inception3`, so that their state-dict keys match its files.
_CONVOLUTIONS = (
    ("Conv2d_1a_3x3", 3, 32, 2, 0),
    ("Conv2d_2a_3x3", 32, 32, 1, 0),
    ("Conv2d_2b_3x3", 32, 64, 1, 1),
)
_BATCH_NORM_EPS = 0.001  # torchvision's BasicConv2d, as in the TensorFlow original
_BATCH_NORM_TENSORS = ("weight", "bias", "running_mean", "running_var")
MIN_IMAGE_SIZE = 7  # the smallest side that leaves one position after the three convolutions


def default_inception_weights_path() -> Path:
    """Where torchvision caches its Inception-v3 weights: ``$TORCH_HOME/hub/checkpoints/inception_v3_google-...``."""
    return hub_checkpoint_path(INCEPTION_WEIGHTS_FILE)


class _ConvBatchNormReLU(nn.Module):
    """torchvision's ``BasicConv2d``: convolution without bias, batch norm (eps 0.001), ReLU.

    The children are called ``conv`` and ``bn`` so that the keys read ``<block>.conv.weight``, ``<block>.bn.*``.
    """

    def __init__(self, in_channels: int, out_channels: int, stride: int, padding: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size=3, stride=stride, padding=padding, bias=False)
        self.bn = nn.BatchNorm2d(out_channels, eps=_BATCH_NORM_EPS)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        bn = self.bn
        # Always the stored ImageNet statistics: a feature extractor for a metric must not depend on the batch, nor
        # update its statistics, even when a parent module is put in training mode.
        x = F.batch_norm(self.conv(x), bn.running_mean, bn.running_var, bn.weight, bn.bias, False, 0.0, bn.eps)
        return F.relu(x)


class InceptionSIFIDFeatures(nn.Module):
    """Inception-v3 up to its first max pool: the 64-channel feature maps of SIFID.

    Szegedy et al., "Rethinking the Inception Architecture for Computer Vision", CVPR 2016; SIFID is defined in
    Shaham, Dekel and Michaeli, "SinGAN: Learning a Generative Model from a Single Natural Image", ICCV 2019.

    What SinGAN's reference does (``tamarott/SinGAN``, ``SIFID/sifid_score.py`` and ``SIFID/inception.py``),
    reproduced here:

    1. the network is torchvision's ``inception_v3(pretrained=True)`` (ImageNet weights, not pytorch-fid's FID
       port), cut into pytorch-fid-style blocks; ``dims=64`` selects block 0, which in SinGAN's copy holds only
       ``Conv2d_1a_3x3``, ``Conv2d_2a_3x3`` and ``Conv2d_2b_3x3`` (its max pool opens block 1, unlike pytorch-fid's
       own block 0, which ends with it);
    2. images are read as 8-bit RGB, divided by 255 into [0, 1], not resized (``resize_input=False``), and scaled
       to [-1, 1] by ``2 * x - 1`` (``normalize_input=True``); torchvision's ``transform_input`` is not applied,
       because only the sub-modules are called.

    The state dict has exactly torchvision's keys for these layers (``Conv2d_1a_3x3.conv.weight``,
    ``Conv2d_1a_3x3.bn.weight`` / ``bias`` / ``running_mean`` / ``running_var``, ...), so torchvision's
    ``inception_v3_google-0cc3c7bd.pth`` loads, and so does pytorch-fid's ``pt_inception-2015-12-05-6726825d.pth``
    (same keys, other values: the features, hence the scores, then differ from SinGAN's). Every other key of the
    file is ignored. The parameters are frozen and the batch norms always use their stored statistics.

    Input: RGB images in [0, 1], shape (N, 3, H, W) with H, W >= 7, as SinGAN's reference reads them.
    Output: (N, 64, (H - 3) // 2 - 1, (W - 3) // 2 - 1).

    Args:
        pretrained: load the weights; ``False`` keeps a random initialisation (for tests).
        weights_path: a file with Inception-v3 weights in torchvision's layout; ``None`` uses
            :func:`default_inception_weights_path`.

    Raises:
        FileNotFoundError: when ``pretrained`` and the weights file does not exist; the message names the file, the
            download address and where to put it.
        ValueError: when the file is unreadable or lacks a tensor of these layers.

    Example::

        >>> net = InceptionSIFIDFeatures(pretrained=False)
        >>> tuple(net(torch.rand(2, 3, 32, 32)).shape)
        (2, 64, 13, 13)
    """

    def __init__(self, pretrained: bool = True, weights_path: str | os.PathLike | None = None) -> None:
        super().__init__()
        for name, in_channels, out_channels, stride, padding in _CONVOLUTIONS:
            self.add_module(name, _ConvBatchNormReLU(in_channels, out_channels, stride, padding))
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                # torchvision's Inception3 initialisation, so that random weights keep activations at a usable scale
                nn.init.trunc_normal_(module.weight, mean=0.0, std=0.1, a=-2.0, b=2.0)
        if pretrained:
            self.load_weights(default_inception_weights_path() if weights_path is None else weights_path)
        self.requires_grad_(False)
        self.eval()

    def load_weights(self, path: str | os.PathLike) -> None:
        """Load the tensors of the three convolutions from an Inception-v3 state dict; other keys are ignored.

        Args:
            path: torchvision's ``inception_v3_google-0cc3c7bd.pth``, pytorch-fid's
                ``pt_inception-2015-12-05-6726825d.pth`` or any file with the same keys, read with
                ``torch.load(weights_only=True)``.

        Raises:
            FileNotFoundError: when ``path`` does not exist.
            ValueError: when the file is unreadable, lacks a tensor of these layers or holds one of another shape or
                with NaN or Inf.
        """
        # Files saved before PyTorch 0.4.1 have no `num_batches_tracked`, which the frozen batch norms never read.
        state = INCEPTION_WEIGHTS.load(path, self.state_dict(), optional=("num_batches_tracked",))
        self.load_state_dict(state, strict=False)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """The 64-channel feature maps of a batch.

        Args:
            images: RGB images in [0, 1], shape (N, 3, H, W), H and W at least 7.

        Returns:
            (N, 64, H', W') activations after ``Conv2d_2b_3x3``'s ReLU.

        Raises:
            ValueError: when ``images`` is not a batch of 3-channel images of at least 7 x 7 pixels.
        """
        if images.ndim != 4 or images.shape[1] != 3:
            raise ValueError(
                f"InceptionSIFIDFeatures needs RGB images of shape (N, 3, H, W), got {tuple(images.shape)}; "
                "repeat a grey channel three times, or select the three image channels of a stack."
            )
        if min(images.shape[-2:]) < MIN_IMAGE_SIZE:
            raise ValueError(f"images must be at least {MIN_IMAGE_SIZE} x {MIN_IMAGE_SIZE}, got {tuple(images.shape)}.")
        x = 2 * images - 1  # SinGAN's reference: [0, 1] -> [-1, 1], the range of the ported TensorFlow weights
        for name, *_ in _CONVOLUTIONS:
            x = getattr(self, name)(x)
        return x
