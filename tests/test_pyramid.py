from __future__ import annotations

import pytest

from monai_singanseg.utils.pyramid import compute_pyramid, features_at_scale, upsampled_shape

# Shapes computed by the reference's adjust_scales2image + imresize (float64 ceil) for these inputs.
REFERENCE_PYRAMIDS = [
    ((332, 487), [(26, 37), (33, 49), (44, 64), (57, 84), (76, 110), (99, 145), (130, 190), (171, 250)]),
    ((529, 622), [(25, 30), (33, 39), (43, 51), (56, 66), (73, 86), (96, 112), (125, 147), (163, 192), (213, 250)]),
    ((576, 768), [(25, 34), (33, 43), (42, 56), (54, 71), (69, 92), (89, 118), (114, 151), (147, 195), (188, 250)]),
    ((1072, 1920), [(25, 45), (32, 58), (41, 74), (53, 94), (67, 120), (86, 154), (110, 197), (140, 251)]),
    ((100, 60), [(42, 25), (50, 30), (60, 36), (71, 43), (84, 51), (100, 60)]),
]


@pytest.mark.parametrize("input_shape, expected", REFERENCE_PYRAMIDS)
def test_pyramid_shapes_match_reference_formula(input_shape, expected):
    spec = compute_pyramid(input_shape)
    assert [tuple(s) for s in spec.scale_shapes] == expected
    assert spec.num_scales == len(expected)


def test_332x487_gives_8_scales_from_26x37_to_171x250():
    spec = compute_pyramid((332, 487))
    assert spec.num_scales == 8
    assert spec.scale_shapes[0] == (26, 37) and spec.training_shape == (171, 250)
    assert spec.scale_factor == pytest.approx(0.7598122150734499, abs=1e-15)
    assert spec.first_shape == (171, 250)


def test_3d_pyramid_uses_all_spatial_dims():
    spec = compute_pyramid((40, 30, 20), min_size=12, max_size=40)
    assert all(len(s) == 3 for s in spec.scale_shapes)
    assert min(spec.scale_shapes[0]) >= 12 and spec.training_shape == (40, 30, 20)


def test_rejects_image_smaller_than_coarsest_scale():
    with pytest.raises(ValueError, match="smaller than the coarsest scale"):
        compute_pyramid((20, 300), min_size=25)


@pytest.mark.parametrize("kwargs", [{"scale_factor": 1.2}, {"min_size": 30, "max_size": 20}])
def test_rejects_invalid_pyramid_settings(kwargs):
    with pytest.raises(ValueError):
        compute_pyramid((100, 100), **kwargs)


@pytest.mark.parametrize("scale, expected", [(0, 32), (3, 32), (4, 64), (7, 64), (8, 128), (12, 128)])
def test_features_double_every_four_scales_up_to_128(scale, expected):
    assert features_at_scale(scale) == expected


def test_upsampled_shape_is_ceil_of_shape_over_factor():
    assert upsampled_shape((26, 37), 0.7598122150734499) == (35, 49)
