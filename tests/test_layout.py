from __future__ import annotations

import numpy as np
import pytest
import torch

from monai_singanseg.utils.layout import ChannelLayout, LabelEncoding


def brats_like_label() -> torch.Tensor:
    label = torch.zeros(1, 12, 12, dtype=torch.int16)
    label[0, 2:6, 2:6], label[0, 6:9, 6:9], label[0, 9:11, 1:4] = 1, 2, 4
    return label


def test_uint8_image_maps_0_255_to_minus_one_one_like_the_reference(phantom_pair):
    image, mask = phantom_pair
    layout = ChannelLayout.from_data(image, mask)
    stack = layout.encode(image, mask)
    expected = torch.as_tensor(image).float() / 255 * 2 - 1
    torch.testing.assert_close(stack[:3], expected)
    assert layout.label_encoding == LabelEncoding.BINARY and layout.label_values == (0.0, 255.0)
    assert set(stack[3].unique().tolist()) == {-1.0, 1.0}


@pytest.mark.parametrize("encoding, channels", [("onehot", 4), ("spread", 1)])
def test_multiclass_labels_decode_to_exactly_the_original_label_set(encoding, channels):
    torch.manual_seed(0)
    image = torch.randn(2, 12, 12)
    label = brats_like_label()
    layout = ChannelLayout.from_data(image, label, label_encoding=encoding)
    assert layout.label_values == (0, 1, 2, 4) and layout.label_channels == channels
    stack = layout.encode(image, label)
    noisy = stack + 0.02 * torch.randn_like(stack)  # generated stacks are never exact
    decoded_image, decoded_label = layout.decode(noisy)
    assert torch.equal(decoded_label, label)
    assert decoded_label.dtype == torch.int16
    torch.testing.assert_close(decoded_image, image, atol=0.1 * float(image.max() - image.min()), rtol=0)


def test_binary_mask_decodes_by_thresholding_at_zero():
    image = torch.zeros(3, 4, 4, dtype=torch.uint8)
    layout = ChannelLayout.from_data(image, torch.tensor([[[0, 255], [255, 0]]]).repeat(1, 2, 2))
    stack = torch.zeros(4, 4, 4)
    stack[3] = torch.linspace(-1, 1, 16).reshape(4, 4)
    _, label = layout.decode(stack)
    assert set(label.unique().tolist()) == {0, 255}
    assert torch.equal(label[0] == 255, stack[3] > 0)


def test_decoded_uint8_image_is_rounded_back_to_uint8(phantom_pair):
    image, mask = phantom_pair
    layout = ChannelLayout.from_data(image, mask)
    decoded_image, _ = layout.decode(layout.encode(image, mask))
    assert decoded_image.dtype == torch.uint8
    assert torch.equal(decoded_image, torch.as_tensor(image))


def test_rejects_label_values_outside_the_declared_encoding():
    with pytest.raises(ValueError, match=r"values \[3\] outside label_values"):
        ChannelLayout.from_data(torch.zeros(1, 12, 12), brats_like_label() - 1 * (brats_like_label() == 4),
                                label_values=(0, 1, 2, 4))


def test_rejects_image_label_shape_mismatch(phantom_pair):
    image, mask = phantom_pair
    layout = ChannelLayout.from_data(image, mask)
    with pytest.raises(ValueError, match="does not match image shape"):
        layout.encode(image, mask[:, :-1])


def test_rejects_wrong_channel_count_for_the_layout(phantom_pair):
    image, mask = phantom_pair
    layout = ChannelLayout.from_data(image, mask)
    with pytest.raises(ValueError, match="layout expects 3"):
        layout.encode(image[:2], mask)


def test_rejects_nan_and_inf():
    image = torch.zeros(1, 8, 8)
    image[0, 1, 1] = float("nan")
    label = torch.zeros(1, 8, 8)
    label[0, :4] = 1
    layout = ChannelLayout(2, 1, (0, 1), "binary", (0.0,), (1.0,))
    with pytest.raises(ValueError, match="NaN or Inf"):
        layout.encode(image, label)


def test_rejects_a_label_with_too_many_values_naming_the_flags():
    noisy_mask = torch.arange(64, dtype=torch.uint8).reshape(1, 8, 8)
    with pytest.raises(ValueError, match="64 distinct values.*--label-values"):
        ChannelLayout.from_data(torch.zeros(3, 8, 8), noisy_mask)


def test_empty_mask_is_allowed_with_a_warning():
    with pytest.warns(UserWarning, match="empty"):
        layout = ChannelLayout.from_data(np.zeros((3, 8, 8), np.uint8), np.zeros((1, 8, 8), np.uint8))
    assert layout.label_values == (0.0, 1.0)


def test_layout_round_trips_through_plain_data(phantom_pair):
    layout = ChannelLayout.from_data(*phantom_pair)
    assert ChannelLayout.from_dict(layout.to_dict()) == layout
