"""Names that moved keep their old import paths for one release, as the same objects."""

from __future__ import annotations

import importlib

import pytest

MOVED = [
    # (old module, old name, new module, new name)
    ("monai_singanseg.networks.discriminator", "SinGANDiscriminator", "monai_singanseg.networks.critic", "SinGANCritic"),
    ("monai_singanseg.transforms", "SinGANSeg", "monai_singanseg.transforms.singanseg.array", "SinGANSegSample"),
    ("monai_singanseg.transforms.singanseg.array", "QuantizeLabel", "monai_singanseg.transforms.quantize_label",
     "QuantizeLabel"),
    ("monai_singanseg.transforms.singanseg.dictionary", "QuantizeLabeld", "monai_singanseg.transforms.quantize_label",
     "QuantizeLabeld"),
    ("monai_singanseg.style", "StyleTransfer", "monai_singanseg.style.gatys", "GatysStyleTransfer"),
    ("monai_singanseg.utils.layout", "ChannelLayout", "monai_singanseg.layout", "ChannelLayout"),
    ("monai_singanseg.utils.layout", "MAX_LABEL_VALUES", "monai_singanseg.layout", "MAX_LABEL_VALUES"),
    ("monai_singanseg.utils", "ChannelLayout", "monai_singanseg.layout", "ChannelLayout"),
    ("monai_singanseg.utils.visualize", "sample_grid", "monai_singanseg.visualize", "sample_grid"),
    ("monai_singanseg.evaluation.figures", "histogram_chart", "monai_singanseg.visualize", "histogram_chart"),
    ("monai_singanseg.data.writers", "to_uint8_rgb", "monai_singanseg.visualize", "to_uint8_rgb"),
    ("monai_singanseg.train_many", "train_many", "monai_singanseg.engines.fleet", "train_many"),
]


@pytest.mark.parametrize(("old_module", "old_name", "new_module", "new_name"), MOVED, ids=lambda v: str(v))
def test_old_path_names_the_same_object(old_module: str, old_name: str, new_module: str, new_name: str) -> None:
    old = getattr(importlib.import_module(old_module), old_name)
    assert old is getattr(importlib.import_module(new_module), new_name)


def test_new_names_no_longer_collide() -> None:
    from monai_singanseg.networks import SinGANSeg as Network
    from monai_singanseg.style import GatysStyleTransfer
    from monai_singanseg.transforms import SinGANSegSample, StyleTransfer

    assert SinGANSegSample is not Network and StyleTransfer is not GatysStyleTransfer
