"""SinGAN diversity: per-pixel std over samples divided by the std of the training image."""

from __future__ import annotations

import pytest
import torch

from monai_singanseg.metrics.diversity import DiversityMetric, diversity_score


def test_identical_samples_score_zero() -> None:
    image = torch.rand(3, 16, 16)
    assert float(diversity_score(image.expand(6, 3, 16, 16), image)) == 0.0


def test_matches_hand_computed_value() -> None:
    # Two samples, all 0 and all 2: every pixel has std 1; the reference 0, 2, 0, 2 has std 1 too.
    samples = torch.stack([torch.zeros(1, 2, 2), torch.full((1, 2, 2), 2.0)])
    reference = torch.tensor([[[0.0, 2.0], [0.0, 2.0]]])
    assert float(diversity_score(samples, reference)) == pytest.approx(1.0)
    assert float(diversity_score(samples, 2 * reference)) == pytest.approx(0.5)


def test_grows_linearly_with_sample_spread() -> None:
    image = torch.rand(3, 16, 16)
    noise = torch.randn(8, 3, 16, 16, generator=torch.Generator().manual_seed(0))
    small, large = (float(diversity_score(image + scale * noise, image)) for scale in (0.1, 0.3))
    assert large == pytest.approx(3 * small, rel=1e-4)


def test_repeated_reference_batch_equals_single_reference() -> None:
    image, samples = torch.rand(3, 8, 8), torch.rand(5, 3, 8, 8)
    assert float(diversity_score(samples, image.expand(4, 3, 8, 8))) == pytest.approx(
        float(diversity_score(samples, image))
    )


def test_metric_accumulates_batches_like_the_function() -> None:
    image, samples = torch.rand(1, 3, 8, 8), torch.rand(6, 3, 8, 8)
    metric = DiversityMetric()
    metric(y_pred=samples[:2], y=image)
    metric(y_pred=list(samples[2:]), y=[image[0]])
    assert float(metric.aggregate()) == pytest.approx(float(diversity_score(samples, image[0])))
    metric.reset()
    metric(y_pred=samples[:1].expand(3, 3, 8, 8), y=image[0])  # one channel-first training image is accepted
    assert float(metric.aggregate()) == 0.0


@pytest.mark.parametrize(
    ("samples", "reference", "match"),
    [
        (torch.rand(1, 3, 8, 8), torch.rand(3, 8, 8), "N >= 2"),
        (torch.rand(4, 3, 8, 8), torch.rand(3, 4, 4), "sample shape"),
        (torch.rand(4, 3, 8, 8), torch.ones(3, 8, 8), "constant"),
    ],
)
def test_rejects_undefined_inputs(samples: torch.Tensor, reference: torch.Tensor, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        diversity_score(samples, reference)


def test_metric_needs_data_and_a_reference() -> None:
    metric = DiversityMetric()
    with pytest.raises(RuntimeError):
        metric.aggregate()
    with pytest.raises(ValueError, match="needs y"):
        metric(y_pred=torch.rand(2, 3, 8, 8))
