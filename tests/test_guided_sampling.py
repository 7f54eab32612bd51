"""Mask-guided sampling and edits injected at a chosen scale (SinGAN's paint-to-image and editing)."""

from __future__ import annotations

import pytest
import torch

from monai_singanseg.networks import SinGANSeg
from monai_singanseg.networks.injection import fill_from_known, guide_stack, injection_input
from monai_singanseg.utils.layout import ChannelLayout
from monai_singanseg.utils.resize import upsample_to_scale

SHAPES_2D = ((12, 14), (16, 18), (20, 24))
SHAPES_3D = ((8, 9, 10), (10, 11, 12), (12, 14, 15))


def layout_of(spatial_dims: int = 2, values: tuple[float, ...] = (0.0, 255.0), encoding: str = "binary"
              ) -> ChannelLayout:
    return ChannelLayout(spatial_dims, 3, values, encoding, (0.0,) * 3, (255.0,) * 3, "uint8", "uint8")


def pyramid(layout: ChannelLayout, shapes=SHAPES_2D, residual: bool = True, seed: int = 0) -> SinGANSeg:
    """An untrained pyramid; ``residual=False`` zeroes every generator's output, so each scale passes its input on."""
    torch.manual_seed(seed)
    model = SinGANSeg(len(shapes[0]), layout, shapes, 0.8, num_layers=3, base_features=8, max_features=8)
    for k, shape in enumerate(shapes):
        generator = model.build_generator(k)
        if not residual:
            torch.nn.init.zeros_(generator.tail[0].conv.weight)
            torch.nn.init.zeros_(generator.tail[0].conv.bias)
        model.add_scale(generator, 1.0 if k == 0 else 0.1, torch.randn(1, layout.channels, *shape))
    return model


def block_mask(shape, value: float = 255.0, low: float = 0.25, high: float = 0.75) -> torch.Tensor:
    mask = torch.zeros(1, *shape)
    mask[(slice(None), *(slice(int(s * low), int(s * high)) for s in shape))] = value
    return mask


def dice(a: torch.Tensor, b: torch.Tensor) -> float:
    a, b = a > 0, b > 0
    return float(2 * (a & b).sum() / (a.sum() + b.sum()))


LAYOUTS = {
    "binary-2d": (layout_of(), SHAPES_2D),
    "onehot-2d": (layout_of(values=(0.0, 1.0, 2.0), encoding="onehot"), SHAPES_2D),
    "spread-2d": (layout_of(values=(0.0, 1.0, 2.0), encoding="spread"), SHAPES_2D),
    "binary-3d": (layout_of(3), SHAPES_3D),
}


@pytest.mark.parametrize("name", LAYOUTS)
def test_generated_mask_follows_the_requested_one_when_finer_scales_add_nothing(name):
    layout, shapes = LAYOUTS[name]
    model = pyramid(layout, shapes, residual=False)
    mask = block_mask(shapes[-1], layout.label_values[-1])
    stacks = model.sample(2, label=mask, inject_scale=len(shapes) - 1, generator=torch.Generator().manual_seed(0))
    _, generated = model.decode(stacks)
    assert generated.shape == (2, 1, *shapes[-1])
    assert set(generated.unique().tolist()) <= set(layout.label_values)
    for one in generated:
        assert dice(one, mask) > 0.9
        # The requested label inside the lesion, not merely any foreground (spread edges blur through the others).
        inside = block_mask(shapes[-1], low=0.35, high=0.65) > 0
        assert set(one[inside].unique().tolist()) == {layout.label_values[-1]}


def test_injected_stack_enters_generator_n_through_the_coarser_scale_shape():
    model = pyramid(layout_of(), residual=False)
    stack = torch.rand(1, 4, *SHAPES_2D[-1]) * 2 - 1
    out = model.sample(1, inject=stack, inject_scale=1, generator=torch.Generator().manual_seed(0))
    expected = upsample_to_scale(injection_input(stack, SHAPES_2D, 1, 0.8), SHAPES_2D[2], 0.8)
    assert torch.allclose(out, expected, atol=1e-6)


def test_a_batch_of_masks_gives_num_samples_per_mask_in_request_order():
    model = pyramid(layout_of())
    masks = torch.stack([block_mask(SHAPES_2D[-1], low=0.1, high=0.4), block_mask(SHAPES_2D[-1], low=0.5, high=0.9)])
    out = model.sample(3, label=masks, inject_scale=2, generator=torch.Generator().manual_seed(0))
    assert out.shape == (6, 4, *SHAPES_2D[-1])
    generated = model.decode(out)[1]
    firsts, seconds = generated[:3], generated[3:]
    assert all(dice(g, masks[0]) > dice(g, masks[1]) for g in firsts)
    assert all(dice(g, masks[1]) > dice(g, masks[0]) for g in seconds)
    # Fresh noise per sample: the three samples of one mask differ.
    assert not torch.equal(out[0], out[1])


def test_same_seed_gives_same_guided_samples_and_another_seed_others():
    model = pyramid(layout_of())
    mask = block_mask(SHAPES_2D[-1])

    def draw(seed):
        return model.sample(2, label=mask, inject_scale=1, generator=torch.Generator().manual_seed(seed))

    assert torch.equal(draw(4), draw(4))
    assert not torch.equal(draw(4), draw(5))


def test_start_scale_above_the_injection_scale_replays_the_reconstruction_noise_there():
    model = pyramid(layout_of())
    mask = block_mask(SHAPES_2D[-1])
    first, second = (model.sample(1, start_scale=2, label=mask, inject_scale=1, generator=torch.Generator().manual_seed(s))
                     for s in (1, 2))
    fresh = model.sample(1, start_scale=0, label=mask, inject_scale=1, generator=torch.Generator().manual_seed(1))
    assert not torch.equal(first, second)  # scale 2 still has fresh noise
    assert not torch.equal(first, fresh)


def test_paint_uses_one_colour_per_label_and_reconstruction_keeps_agreeing_pixels():
    layout = layout_of()
    content = torch.full((1, 4, 8, 8), -1.0)
    content[:, :3] = torch.linspace(-1, 0, 64).view(1, 1, 8, 8)
    content[:, 3, :4] = 1.0  # top half is foreground
    label = torch.zeros(1, 1, 8, 8)
    label[..., :, :4] = 255.0  # left half is requested
    painted = guide_stack(layout, content, label, "paint")
    for value in (0.0, 255.0):
        colours = painted[0, :3][:, (label[0, 0] == value)]
        assert torch.allclose(colours, colours[:, :1].expand_as(colours))
    kept = guide_stack(layout, content, label, "reconstruction")
    agree = (label[0, 0] > 0) == (content[0, 3] > 0)
    assert torch.equal(kept[0, :3][:, agree & (label[0, 0] == 0)], content[0, :3][:, agree & (label[0, 0] == 0)])
    assert torch.equal(kept[0, 3] > 0, label[0, 0] > 0)


def test_fill_from_known_spreads_the_known_pixels_into_the_hole():
    image = torch.full((1, 3, 9, 9), 0.5)
    image[..., 3:6, 3:6] = -1.0
    known = torch.ones(1, 1, 9, 9, dtype=torch.bool)
    known[..., 3:6, 3:6] = False
    assert torch.allclose(fill_from_known(image, known), torch.full_like(image, 0.5))


# -- bad requests ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("kwargs, match", [
    ({"label": block_mask((20, 20)), "inject_scale": 1}, "label must be a label map of shape"),
    ({"label": torch.zeros(2, 20, 24), "inject_scale": 1}, "label must be a label map of shape"),
    ({"label": block_mask((20, 24), value=7.0), "inject_scale": 1}, "outside the pyramid's label values"),
    ({"label": block_mask((20, 24)) * float("nan"), "inject_scale": 1}, "outside the pyramid's label values"),
    ({"label": block_mask((20, 24)), "inject_scale": 3}, "inject_scale must be an integer in 1..2"),
    ({"label": block_mask((20, 24)), "inject_scale": 0}, "inject_scale must be an integer in 1..2"),
    ({"label": block_mask((20, 24))}, "need inject_scale"),
    ({"inject_scale": 1}, "not neither"),
    ({"label": block_mask((20, 24)), "inject": torch.zeros(4, 20, 24), "inject_scale": 1}, "not both"),
    ({"inject": torch.zeros(3, 20, 24), "inject_scale": 1}, "inject must be a stack of shape"),
    ({"inject": torch.full((4, 20, 24), float("inf")), "inject_scale": 1}, "NaN or Inf"),
    ({"label": block_mask((20, 24)), "inject_scale": 1, "output_shape": (20, 24)}, "cannot be steered"),
])
def test_rejects_bad_requests_with_the_argument_named(kwargs, match):
    model = pyramid(layout_of())
    with pytest.raises(ValueError, match=match):
        model.sample(1, **kwargs)


@pytest.mark.parametrize("kwargs, error", [
    ({"label": [[0, 255]], "inject_scale": 1}, TypeError),
    ({"label": block_mask((20, 24)), "inject_scale": 1.5}, TypeError),
    ({"label": block_mask((20, 24)), "inject_scale": 1, "content": "collage"}, ValueError),
])
def test_rejects_requests_of_the_wrong_type_or_mode(kwargs, error):
    with pytest.raises(error):
        pyramid(layout_of()).sample(1, **kwargs)


def test_rejects_steering_a_one_scale_pyramid():
    model = pyramid(layout_of(), shapes=((20, 24),))
    with pytest.raises(ValueError, match="at least 2 trained scales"):
        model.sample(1, label=block_mask((20, 24)), inject_scale=0)
