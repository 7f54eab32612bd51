"""How the convolutions of ``M`` models trained as one module are computed: the same numbers, three kernels.

A batched generator or critic holds model ``m``'s filters in group ``m`` of a grouped convolution
(:mod:`monai_singanseg.networks.grouping`). Which kernel computes that fastest depends on the device and the
widths: cuDNN's and oneDNN's grouped kernels are slow for few wide groups (BENCHMARKS.md), where one ordinary
convolution per model, or one batched matrix product over unfolded patches, can win. The weights, their layout
and the state dict are the same in every formulation, so a module can change formulation at any time.

- ``grouped``: one grouped convolution (torch's).
- ``loop``: one ordinary convolution per model, outputs concatenated.
- ``gemm``: the patches unfolded (im2col) and one batched matrix product over models (``torch.baddbmm``).
"""

from __future__ import annotations

import math
from enum import StrEnum

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["ConvFormulation", "ModelwiseConv2d", "ModelwiseConv3d", "modelwise_conv", "set_formulation_"]


class ConvFormulation(StrEnum):
    """The kernels a grouped convolution of many models can be computed by (see the module)."""

    GROUPED = "grouped"
    LOOP = "loop"
    GEMM = "gemm"


_FORMULATIONS = tuple(str(f) for f in ConvFormulation)
_CONV = {2: F.conv2d, 3: F.conv3d}


def modelwise_conv(
    x: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor | None,
    models: int,
    formulation: ConvFormulation | str = ConvFormulation.GROUPED,
) -> torch.Tensor:
    """An unpadded, stride-1 convolution of ``models`` groups, ``(N, M * C, *S)`` to ``(N, M * O, *S')``.

    Args:
        x: input, channels laid out model by model.
        weight: ``(M * O, C, *kernel)``, as a grouped convolution holds it.
        bias: ``(M * O,)`` or ``None``.
        models: the number of groups ``M``.
        formulation: a :class:`ConvFormulation`.
    """
    spatial_dims = x.ndim - 2
    if formulation == "grouped" or models == 1:
        return _CONV[spatial_dims](x, weight, bias, groups=models)
    if formulation == "loop":
        biases = [None] * models if bias is None else bias.chunk(models)
        return torch.cat([_CONV[spatial_dims](xm, wm, bm) for xm, wm, bm in zip(x.chunk(models, 1), weight.chunk(models), biases)], 1)
    if formulation != "gemm":
        raise ValueError(f"formulation must be one of {_FORMULATIONS}, got {formulation!r}.")
    n, channels, kernel = x.shape[0], x.shape[1] // models, weight.shape[2:]
    out_channels = weight.shape[0] // models
    patches = x.view(n, models, channels, *x.shape[2:])
    for d, size in enumerate(kernel):
        patches = patches.unfold(3 + d, size, 1)  # (N, M, C, *S', *kernel)
    out_shape = patches.shape[3 : 3 + spatial_dims]
    spatial, window = range(3, 3 + spatial_dims), range(3 + spatial_dims, 3 + 2 * spatial_dims)
    columns = patches.permute(1, 0, *spatial, 2, *window).reshape(models, -1, channels * math.prod(kernel))
    filters = weight.reshape(models, out_channels, -1).transpose(1, 2)
    if bias is None:
        y = torch.bmm(columns, filters)
    else:
        y = torch.baddbmm(bias.view(models, 1, out_channels), columns, filters)
    y = y.view(models, n, *out_shape, out_channels)  # (M, N, *S', O)
    return y.permute(1, 0, 2 + spatial_dims, *range(2, 2 + spatial_dims)).reshape(n, models * out_channels, *out_shape)


class _Modelwise:
    """A grouped convolution of ``groups`` models computed by :func:`modelwise_conv` with ``self.formulation``."""

    formulation = "grouped"

    def _conv_forward(self, input: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
        return modelwise_conv(input, weight, bias, self.groups, self.formulation)


class ModelwiseConv2d(_Modelwise, nn.Conv2d):
    """``nn.Conv2d`` of ``groups`` models, computed by ``formulation`` (see the module)."""


class ModelwiseConv3d(_Modelwise, nn.Conv3d):
    """``nn.Conv3d`` of ``groups`` models, computed by ``formulation`` (see the module)."""


_MODELWISE = {nn.Conv2d: ModelwiseConv2d, nn.Conv3d: ModelwiseConv3d}


def set_formulation_(module: nn.Module, formulation: ConvFormulation | str) -> nn.Module:
    """Make every grouped convolution in ``module`` compute with ``formulation``; weights and state dict unchanged.

    The convolutions change class in place (``nn.Conv2d`` to :class:`ModelwiseConv2d`), so parameters, optimiser
    state and hooks that refer to them stay valid.

    Raises:
        ValueError: an unknown formulation, or a grouped convolution that is not unpadded, stride-1 and undilated.
    """
    if formulation not in _FORMULATIONS:
        raise ValueError(f"formulation must be one of {_FORMULATIONS}, got {formulation!r}.")
    for conv in module.modules():
        kind = next((k for k in _MODELWISE if type(conv) in (k, _MODELWISE[k])), None)
        if kind is None or conv.groups == 1:
            continue
        if any(p != 0 for p in conv.padding) or any(s != 1 for s in conv.stride) or any(d != 1 for d in conv.dilation):
            raise ValueError(f"{type(conv).__name__} with padding {conv.padding}, stride {conv.stride} and dilation "
                             f"{conv.dilation}: modelwise formulations need unpadded, stride-1, undilated convolutions.")
        conv.__class__ = _MODELWISE[kind]
        conv.formulation = str(ConvFormulation(formulation))
    return module
