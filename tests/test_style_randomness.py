"""The random style transforms follow MONAI's randomness pattern and always leave a record that collates."""

from __future__ import annotations

import math

import torch
from monai.data import MetaTensor, list_data_collate

from monai_singanseg.transforms import STYLE_META_KEY, RandStyleTransfer, RandStyleTransferd


def sample(seed: int = 0) -> dict[str, MetaTensor]:
    g = torch.Generator().manual_seed(seed)
    return {"image": MetaTensor(torch.rand(4, 16, 16, generator=g)), "real": torch.rand(3, 16, 16, generator=g)}


def test_dictionary_owns_prob_and_runs_the_array_transform_always() -> None:
    transform = RandStyleTransferd("image", "real", prob=0.0, methods=("histogram",), image_channels=3)
    assert transform.rand_style.prob == 1.0
    transform.prob = 1.0  # set after construction: it must take effect
    out = transform(sample())["image"]
    assert out.meta[STYLE_META_KEY]["applied"] is True
    assert out.meta[STYLE_META_KEY]["method"] == "histogram"


def test_no_op_path_writes_the_record_with_the_same_keys() -> None:
    kept = RandStyleTransferd("image", "real", prob=0.0, methods=("fourier",), image_channels=3)(sample())["image"]
    done = RandStyleTransferd("image", "real", prob=1.0, methods=("fourier",), image_channels=3)(sample())["image"]
    assert kept.meta[STYLE_META_KEY]["applied"] is False and kept.meta[STYLE_META_KEY]["method"] == ""
    assert set(kept.meta[STYLE_META_KEY]) == set(done.meta[STYLE_META_KEY])
    assert done.meta[STYLE_META_KEY]["beta"] == 0.01 and math.isnan(done.meta[STYLE_META_KEY]["style_weight"])


def test_batches_of_mixed_draws_collate_with_the_record() -> None:
    transform = RandStyleTransferd("image", "real", prob=0.5, methods=("fourier", "histogram"), image_channels=3)
    transform.set_random_state(seed=1)
    items = [transform(sample(i)) for i in range(12)]
    records = [item["image"].meta[STYLE_META_KEY] for item in items]
    assert {r["applied"] for r in records} == {True, False}
    assert {r["method"] for r in records} == {"", "fourier", "histogram"}
    batch = list_data_collate(items)
    applied = batch["image"].meta[STYLE_META_KEY]["applied"]
    assert [bool(a) for a in applied] == [r["applied"] for r in records]


def test_seeded_dictionary_and_array_transforms_repeat_their_draws() -> None:
    def run(seed: int) -> list[str]:
        transform = RandStyleTransferd("image", "real", prob=0.5, methods=("fourier", "histogram"), image_channels=3)
        transform.set_random_state(seed=seed)
        return [transform(sample(i))["image"].meta[STYLE_META_KEY]["method"] for i in range(8)]

    assert run(4) == run(4)
    array = RandStyleTransfer(prob=1.0, methods=("fourier", "histogram"), image_channels=3).set_random_state(seed=2)
    again = RandStyleTransfer(prob=1.0, methods=("fourier", "histogram"), image_channels=3).set_random_state(seed=2)
    data = sample()
    assert torch.equal(array(data["image"], data["real"]), again(data["image"], data["real"]))
