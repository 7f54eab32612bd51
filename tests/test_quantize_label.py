from __future__ import annotations

import numpy as np
import pytest
import torch
from monai.data import MetaTensor

from monai_singanseg.transforms.singanseg import QuantizeLabel, QuantizeLabelD, QuantizeLabeld, QuantizeLabelDict

BRATS = (0, 51, 102, 204)  # BraTS labels (0, 1, 2, 4) rescaled to 8 bits, as in the ensemble-of-GANs paper


@pytest.mark.parametrize("value, expected", [
    (0.0, 0), (20.0, 0), (25.5, 0), (26.0, 51), (76.0, 51), (77.0, 102), (152.0, 102), (153.0, 102), (154.0, 204),
    (255.0, 204), (-30.0, 0), (400.0, 204),
])
def test_each_value_goes_to_the_nearest_valid_value_ties_to_the_smaller(value, expected):
    assert QuantizeLabel(BRATS)(torch.tensor([[[value]]])).item() == expected


def test_output_values_rename_the_valid_values():
    label = torch.tensor([[[3.0, 60.0, 180.0, 110.0]]])
    assert QuantizeLabel(BRATS, output_values=(0, 1, 2, 4))(label).tolist() == [[[0.0, 1.0, 4.0, 2.0]]]


def test_unsorted_values_pair_with_their_output_values():
    assert QuantizeLabel((255, 0), output_values=(1, 0))(torch.tensor([[[10.0, 200.0]]])).tolist() == [[[0.0, 1.0]]]


def test_keeps_the_input_type_dtype_and_metadata_unless_a_dtype_is_given():
    array = np.array([[[12, 140]]], dtype=np.uint8)
    out = QuantizeLabel((0, 255))(array)
    assert isinstance(out, np.ndarray) and out.dtype == np.uint8 and out.tolist() == [[[0, 255]]]
    meta = MetaTensor(torch.tensor([[[0.4, 0.6]]]), meta={"filename_or_obj": "x.nii.gz"})
    out = QuantizeLabel((0, 1), dtype=torch.int64)(meta)
    assert out.dtype == torch.int64 and out.meta["filename_or_obj"] == "x.nii.gz" and out.tolist() == [[[0, 1]]]


def test_dictionary_version_and_its_aliases():
    data = {"label": torch.tensor([[[12.0, 140.0]]]), "image": torch.tensor([[[12.0, 140.0]]])}
    out = QuantizeLabeld("label", values=(0, 255))(data)
    assert out["label"].tolist() == [[[0.0, 255.0]]] and torch.equal(out["image"], data["image"])
    assert QuantizeLabelD is QuantizeLabelDict is QuantizeLabeld


@pytest.mark.parametrize("values, output_values, message", [
    ((), None, "at least one"),
    ((0, 255), (0,), "one value per value"),
])
def test_rejects_bad_settings(values, output_values, message):
    with pytest.raises(ValueError, match=message):
        QuantizeLabel(values, output_values)


def test_rejects_nan_labels():
    with pytest.raises(ValueError, match="NaN"):
        QuantizeLabel((0, 1))(torch.tensor([[[float("nan")]]]))
