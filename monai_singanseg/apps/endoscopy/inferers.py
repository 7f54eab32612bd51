"""An inferer for networks that return a list of outputs, such as MONAI's UNet++ (``BasicUNetPlusPlus``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from monai.inferers import Inferer

__all__ = ["FinalOutputInferer"]


class FinalOutputInferer(Inferer):
    """Run the network on the whole input and keep its final output.

    ``monai.networks.nets.BasicUNetPlusPlus`` returns a list (one output, or one per depth with deep supervision,
    the full-depth output first), which MONAI's losses, metrics and post-transforms cannot take. This inferer
    returns ``outputs[0]`` and leaves tensors as they are.

    Example::

        >>> net = BasicUNetPlusPlus(spatial_dims=2, in_channels=3, out_channels=1, features=(8, 8, 8, 8, 8, 8))
        >>> FinalOutputInferer()(torch.rand(1, 3, 32, 32), net).shape
        torch.Size([1, 1, 32, 32])
    """

    def __call__(self, inputs: torch.Tensor, network: Callable[..., Any], *args: Any, **kwargs: Any) -> torch.Tensor:
        outputs = network(inputs, *args, **kwargs)
        return outputs[0] if isinstance(outputs, (list, tuple)) else outputs
