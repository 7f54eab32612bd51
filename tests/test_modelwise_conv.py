"""The batched formulations of many models' convolutions (loop, gemm) against grouped convolutions: the same
outputs, gradients and gradient-penalty double backward in 2D and 3D, and the same trained models."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from monai_singanseg.data.phantom import endoscopy_phantom
from monai_singanseg.engines import SinGANSegTrainer
from monai_singanseg.layout import ChannelLayout
from monai_singanseg.networks import SinGANDiscriminator, SinGANGenerator
from monai_singanseg.networks.modelwise_conv import ModelwiseConv2d, modelwise_conv, set_formulation_
from monai_singanseg.settings import SinGANSegSettings


def _penalised(x, weight, bias, models, formulation):
    # Output, and the gradient of a gradient-norm penalty: what WGAN-GP differentiates twice.
    x = x.clone().requires_grad_(True)
    y = modelwise_conv(x, weight, bias, models, formulation)
    (grad,) = torch.autograd.grad((y**2).sum(), x, create_graph=True)
    penalty = (grad.norm(dim=1) - 1).pow(2).mean()
    return y, torch.autograd.grad(penalty + y.mean(), (x, weight, bias))


@pytest.mark.parametrize("formulation", ["loop", "gemm"])
@pytest.mark.parametrize("spatial_dims, kernel", [(2, 3), (2, 1), (3, 3)])
def test_a_formulation_computes_what_the_grouped_convolution_does(formulation, spatial_dims, kernel):
    torch.manual_seed(0)
    models, channels, out = 3, 4, 5
    x = torch.randn(2, models * channels, *([9] * spatial_dims), dtype=torch.float64)
    weight = torch.randn(models * out, channels, *([kernel] * spatial_dims), dtype=torch.float64, requires_grad=True)
    bias = torch.randn(models * out, dtype=torch.float64, requires_grad=True)
    expected, expected_grads = _penalised(x, weight, bias, models, "grouped")
    got, got_grads = _penalised(x, weight, bias, models, formulation)
    torch.testing.assert_close(got, expected, rtol=1e-12, atol=1e-12)
    for name, a, b in zip(("input", "weight", "bias"), got_grads, expected_grads):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12, msg=name)
    # The comparison can fail: the models' filters swapped give other outputs.
    swapped = torch.cat(weight.detach().chunk(models)[::-1])
    assert not torch.allclose(modelwise_conv(x, swapped, bias, models, formulation), expected)


def test_set_formulation_keeps_parameters_and_state_and_refuses_what_it_cannot_compute():
    critic = SinGANDiscriminator(2, 4, 8, num_models=3)
    state = {k: v.clone() for k, v in critic.state_dict().items()}
    parameters = list(critic.parameters())
    x = torch.randn(1, 12, 20, 20)
    expected = critic(x)
    set_formulation_(critic, "gemm")
    assert {type(m) for m in critic.modules() if isinstance(m, torch.nn.Conv2d)} == {ModelwiseConv2d}
    assert list(critic.parameters()) == parameters and critic.state_dict().keys() == state.keys()
    torch.testing.assert_close(critic(x), expected, rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="formulation must be one of"):
        set_formulation_(critic, "winograd")
    padded = torch.nn.Conv2d(4, 4, 3, padding=1, groups=2)
    with pytest.raises(ValueError, match="unpadded, stride-1"):
        set_formulation_(padded, "loop")
    with pytest.raises(ValueError, match="batched_conv"):
        SinGANSegSettings(batched_conv="winograd")


def test_a_single_model_keeps_the_plain_convolution():
    generator = set_formulation_(SinGANGenerator(2, 4, 8), "loop")
    assert all(type(m) is torch.nn.Conv2d for m in generator.modules() if isinstance(m, torch.nn.Conv2d))


@pytest.mark.parametrize("formulation", ["loop", "gemm"])
def test_models_trained_together_with_a_formulation_equal_the_models_trained_alone(tiny_settings, formulation):
    # One iteration per scale: Adam turns the rounding of mathematically-zero gradients (a conv bias before
    # BatchNorm) into learning-rate-sized steps, so other kernels than the grouped one drift apart with iterations.
    settings = dataclasses.replace(tiny_settings, batched_conv=formulation, iterations=1)
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)  # GAN training amplifies rounding; in float64 the paths agree closely
    try:
        pairs = [endoscopy_phantom(28, 32, seed=s) for s in (1, 2)]
        layouts = [ChannelLayout.from_data(*pair) for pair in pairs]
        stacks = [layout.encode(*pair) for layout, pair in zip(layouts, pairs)]
        trainer = SinGANSegTrainer(stacks, layouts, settings, [10, 20])
        together = trainer.run()
        alone = SinGANSegTrainer(stacks[1], layouts[1], dataclasses.replace(settings, seed=20)).run()
    finally:
        torch.set_default_dtype(previous)
    assert any(getattr(m, "formulation", None) == formulation for m in trainer.generators[0].modules())
    torch.testing.assert_close(together[1].noise_amplitudes, alone.noise_amplitudes, rtol=1e-7, atol=1e-9)
    torch.testing.assert_close(together[1].reconstruct(), alone.reconstruct(), rtol=0, atol=1e-6)
    assert (together[0].reconstruct() - alone.reconstruct()).abs().max() > 1e-2, "the comparison cannot fail"

