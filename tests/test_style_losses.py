"""Gram matrix, content and style losses against direct computations of the reference formulas."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from monai_singanseg.losses.style import content_loss, gram_matrix, style_loss

LAYER_WEIGHTS = {"a": 0.75, "b": 0.25}


def reference_gram(x: torch.Tensor) -> torch.Tensor:
    """``singan_seg_polyp.style_transfer.gram_matrix``, for one image."""
    n, c, h, w = x.size()
    flat = x.view(n * c, h * w)
    return torch.mm(flat, flat.t())


def reference_style_loss(pred: dict[str, torch.Tensor], target: dict[str, torch.Tensor]) -> torch.Tensor:
    """``singan_seg_polyp.style_transfer.get_style_loss``, for one image."""
    loss = torch.zeros(())
    for layer, weight in LAYER_WEIGHTS.items():
        n, c, h, w = pred[layer].shape
        loss = loss + weight * F.mse_loss(reference_gram(pred[layer]), reference_gram(target[layer])) / (n * c * h * w)
    return loss


def features(batch: int, seed: int) -> dict[str, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    return {
        "a": torch.randn(batch, 4, 6, 5, generator=generator),
        "b": torch.randn(batch, 8, 3, 3, generator=generator),
    }


def test_gram_matrix_is_per_sample_feature_product() -> None:
    x = torch.randn(3, 4, 5, 6)
    gram = gram_matrix(x)
    assert gram.shape == (3, 4, 4)
    for sample in range(3):
        torch.testing.assert_close(gram[sample], reference_gram(x[sample : sample + 1]))


def test_gram_matrix_of_half_precision_features_is_float32() -> None:
    x = torch.randn(1, 2, 4, 4).to(torch.bfloat16)
    assert gram_matrix(x).dtype == torch.float32


def test_content_loss_is_mse_for_one_image_and_sums_over_samples() -> None:
    pred, target = torch.randn(3, 4, 5, 5), torch.randn(3, 4, 5, 5)
    per_sample = torch.stack([F.mse_loss(pred[i], target[i]) for i in range(3)])
    torch.testing.assert_close(content_loss(pred[:1], target[:1]), F.mse_loss(pred[:1], target[:1]))
    torch.testing.assert_close(content_loss(pred, target, reduction="none"), per_sample)
    torch.testing.assert_close(content_loss(pred, target), per_sample.sum())
    torch.testing.assert_close(content_loss(pred, target, reduction="mean"), per_sample.mean())


def test_style_loss_equals_reference_formula_per_sample() -> None:
    pred, target = features(3, seed=1), features(3, seed=2)
    target_grams = {layer: gram_matrix(value) for layer, value in target.items()}
    per_sample = style_loss(pred, target_grams, LAYER_WEIGHTS, reduction="none")
    def one(features: dict[str, torch.Tensor], i: int) -> dict[str, torch.Tensor]:
        return {layer: value[i : i + 1] for layer, value in features.items()}

    expected = torch.stack([reference_style_loss(one(pred, i), one(target, i)) for i in range(3)])
    torch.testing.assert_close(per_sample, expected)
    torch.testing.assert_close(style_loss(pred, target_grams, LAYER_WEIGHTS), expected.sum())


def test_style_loss_shares_a_single_style_over_the_batch() -> None:
    pred, target = features(2, seed=3), features(1, seed=4)
    target_grams = {layer: gram_matrix(value) for layer, value in target.items()}
    shared = style_loss(pred, target_grams, LAYER_WEIGHTS, reduction="none")
    repeated = {layer: gram.expand(2, -1, -1) for layer, gram in target_grams.items()}
    torch.testing.assert_close(shared, style_loss(pred, repeated, LAYER_WEIGHTS, reduction="none"))


def test_style_loss_is_zero_for_the_style_itself_and_ignores_unweighted_layers() -> None:
    target = features(1, seed=5)
    target_grams = {layer: gram_matrix(value) for layer, value in target.items()}
    pred = dict(target, c=torch.randn(1, 2, 3, 3))
    assert style_loss(pred, target_grams, LAYER_WEIGHTS).item() == pytest.approx(0.0, abs=1e-6)


def test_style_loss_rejects_missing_layer_and_unknown_reduction() -> None:
    pred = features(1, seed=6)
    grams = {layer: gram_matrix(value) for layer, value in pred.items()}
    with pytest.raises(KeyError, match="'c'"):
        style_loss(pred, grams, {"c": 1.0})
    with pytest.raises(ValueError):
        style_loss(pred, grams, LAYER_WEIGHTS, reduction="max")


def test_content_loss_rejects_shape_mismatch() -> None:
    with pytest.raises(ValueError, match="same shape"):
        content_loss(torch.zeros(1, 2, 4, 4), torch.zeros(1, 2, 4, 5))
