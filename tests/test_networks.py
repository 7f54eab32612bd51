from __future__ import annotations

import pytest
import torch

from monai_singanseg.networks import SinGANCritic, SinGANGenerator
from monai_singanseg.networks.blocks import init_singan_weights_


@pytest.mark.parametrize("spatial_dims, shape", [(2, (26, 37)), (3, (14, 12, 16))])
def test_generator_keeps_shape_and_adds_previous(spatial_dims, shape):
    g = SinGANGenerator(spatial_dims, in_channels=4, features=8).eval()
    previous = torch.randn(2, 4, *shape)
    out = g(previous + torch.randn_like(previous), previous)
    assert out.shape == previous.shape
    # The residual is a tanh: the output never leaves previous +- 1.
    assert ((out - previous).abs() <= 1).all()


@pytest.mark.parametrize("spatial_dims, shape, expected", [(2, (26, 37), (16, 27)), (3, (14, 12, 16), (4, 2, 6))])
def test_critic_scores_every_11_pixel_patch(spatial_dims, shape, expected):
    d = SinGANCritic(spatial_dims, in_channels=4, features=8)
    assert d(torch.randn(2, 4, *shape)).shape == (2, 1, *expected)


def test_five_layers_of_equal_width_like_the_reference():
    g = SinGANGenerator(2, in_channels=4, features=32)
    convs = [m for m in g.modules() if isinstance(m, torch.nn.Conv2d)]
    assert [(c.in_channels, c.out_channels) for c in convs] == [(4, 32), (32, 32), (32, 32), (32, 32), (32, 4)]
    assert all(c.padding == (0, 0) and c.kernel_size == (3, 3) for c in convs)


def test_reference_initialisation_statistics():
    g = init_singan_weights_(SinGANGenerator(2, 3, features=128), torch.Generator().manual_seed(0))
    conv = g.body[0].conv.weight.detach()
    norm = g.body[0].adn.N.requires_grad_(False)
    assert conv.mean().abs() < 2e-3 and conv.std() == pytest.approx(0.02, rel=0.05)
    assert norm.weight.mean() == pytest.approx(1.0, abs=0.01) and (norm.bias == 0).all()


def test_rejects_unsupported_spatial_dims():
    with pytest.raises(ValueError, match="spatial_dims"):
        SinGANGenerator(1, 3)


def test_old_names_of_the_critic_still_import() -> None:
    from monai_singanseg.networks import SinGANDiscriminator
    from monai_singanseg.networks.discriminator import SinGANDiscriminator as old_module_name

    assert SinGANDiscriminator is old_module_name is SinGANCritic
