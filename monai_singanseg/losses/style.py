"""Content and Gram-matrix style losses of Gatys et al., normalised as in the SinGAN-Seg reference."""

from __future__ import annotations

from collections.abc import Mapping

import torch
from monai.utils import LossReduction

__all__ = ["gram_matrix", "content_loss", "style_loss"]


def _reduce(per_sample: torch.Tensor, reduction: LossReduction | str) -> torch.Tensor:
    reduction = LossReduction(reduction)
    if reduction == LossReduction.SUM:
        return per_sample.sum()
    if reduction == LossReduction.MEAN:
        return per_sample.mean()
    return per_sample


def gram_matrix(features: torch.Tensor) -> torch.Tensor:
    """Gram matrix of each sample's feature maps, ``F F^T`` with ``F`` the (C, H*W) flattened maps.

    Gatys, Ecker and Bethge, "A Neural Algorithm of Artistic Style", arXiv:1508.06576, 2015. As in the reference
    (``singan_seg_polyp.style_transfer.gram_matrix``) the matrix itself is not divided by anything: the division by
    ``n * c * h * w`` happens on the squared Gram error in :func:`style_loss`, which is what sets the scale of the
    content:style ratio (1:1000 in the paper). Unlike the reference, which flattens the batch into one (N*C, N*C)
    matrix, each sample gets its own, so a batch behaves as independent images. Computed in float32 because the sum
    over all pixels overflows or loses precision in half precision.

    Args:
        features: activations of shape (N, C, *spatial).

    Returns:
        Gram matrices of shape (N, C, C), float32.

    Example::

        >>> gram_matrix(torch.ones(2, 4, 3, 3)).shape
        torch.Size([2, 4, 4])
    """
    flat = features.float().flatten(start_dim=2)
    return torch.bmm(flat, flat.transpose(1, 2))


def content_loss(
    pred: torch.Tensor, target: torch.Tensor, reduction: LossReduction | str = LossReduction.SUM
) -> torch.Tensor:
    """Mean squared error between the features of the image being optimised and those of the content image.

    Gatys, Ecker and Bethge, arXiv:1508.06576, 2015; the reference uses ``F.mse_loss`` on one layer. The mean is
    taken per sample, so a batch of one equals the reference.

    Args:
        pred: features of the image being optimised, shape (N, C, *spatial).
        target: features of the content image, same shape.
        reduction: ``"sum"`` (default: summing per-sample losses keeps each sample's gradient as in a single run),
            ``"mean"`` or ``"none"`` (per-sample losses of shape (N,)).

    Returns:
        The loss, a scalar or (N,) float32 tensor.

    Raises:
        ValueError: when the shapes differ or ``reduction`` is not one of the allowed values.

    Example::

        >>> content_loss(torch.zeros(1, 2, 4, 4), torch.ones(1, 2, 4, 4))
        tensor(1.)
    """
    if pred.shape != target.shape:
        raise ValueError(f"pred and target must have the same shape, got {tuple(pred.shape)}, {tuple(target.shape)}.")
    per_sample = (pred.float() - target.float()).square().flatten(start_dim=1).mean(dim=1)
    return _reduce(per_sample, reduction)


def style_loss(
    pred_features: Mapping[str, torch.Tensor],
    target_grams: Mapping[str, torch.Tensor],
    layer_weights: Mapping[str, float],
    reduction: LossReduction | str = LossReduction.SUM,
) -> torch.Tensor:
    """Weighted sum over layers of the squared Gram-matrix error, as the SinGAN-Seg reference computes it.

    Gatys, Ecker and Bethge, arXiv:1508.06576, 2015. Per layer and sample:
    ``weight * mean((G_pred - G_target) ** 2) / (c * h * w)``, which is the reference's
    ``weight * F.mse_loss(gram(pred), gram(target)) / (n * c * h * w)`` with n = 1 per sample.

    Args:
        pred_features: activations of the image being optimised per layer name, each (N, C, *spatial).
        target_grams: :func:`gram_matrix` of the style image's activations per layer name, each (N, C, C) or
            (1, C, C) to share one style; computed once by the caller because the style image does not change.
        layer_weights: weight per layer name; only these layers enter the loss.
        reduction: ``"sum"`` (default), ``"mean"`` or ``"none"``, over samples as in :func:`content_loss`.

    Returns:
        The loss, a scalar or (N,) float32 tensor.

    Raises:
        KeyError: when a weighted layer is missing from ``pred_features`` or ``target_grams``.
        ValueError: when ``layer_weights`` is empty or ``reduction`` is not one of the allowed values.

    Example::

        >>> feats = {"relu1_1": torch.rand(2, 8, 4, 4)}
        >>> grams = {"relu1_1": gram_matrix(torch.rand(2, 8, 4, 4))}
        >>> style_loss(feats, grams, {"relu1_1": 0.75}, reduction="none").shape
        torch.Size([2])
    """
    if not layer_weights:
        raise ValueError("layer_weights must name at least one layer.")
    total: torch.Tensor | None = None
    for layer, weight in layer_weights.items():
        if layer not in pred_features or layer not in target_grams:
            raise KeyError(f"style layer '{layer}' is missing from pred_features or target_grams.")
        features = pred_features[layer]
        squared_error = (gram_matrix(features) - target_grams[layer].float()).square().flatten(start_dim=1)
        per_sample = weight * squared_error.mean(dim=1) / features[0].numel()
        total = per_sample if total is None else total + per_sample
    assert total is not None
    return _reduce(total, reduction)
