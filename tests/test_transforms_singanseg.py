from __future__ import annotations

import copy
import dataclasses
import json

import numpy as np
import pytest
import torch
from monai.data import CacheDataset, DataLoader, Dataset, MetaTensor
from monai.transforms import Compose, EnsureChannelFirstd, LoadImaged, ScaleIntensityd
from monai.utils import set_determinism
from PIL import Image

from monai_singanseg.data.bank import SinGANSegBank
from monai_singanseg.data.phantom import endoscopy_phantom
from monai_singanseg.engines import train_singanseg
from monai_singanseg.networks import SinGANSeg as Pyramid
from monai_singanseg.settings import SinGANSegSettings
from monai_singanseg.transforms.singanseg import (
    SINGANSEG_META_KEY,
    RandSinGANSeg,
    RandSinGANSegD,
    RandSinGANSegd,
    RandSinGANSegDict,
    SinGANSeg,
)
from monai_singanseg.utils.layout import ChannelLayout

from conftest import shared_data

# Ten iterations: enough for samples that depend on the noise (one leaves them nearly constant).
TINY = SinGANSegSettings(min_size=24, max_size=32, iterations=10, base_features=8, max_features=8)


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    """Pyramids ``polyp_a`` (trained on a 28x32 phantom) and ``polyp_b`` (a perturbed copy), and the PNG pairs."""
    folder = tmp_path_factory.mktemp("transforms")
    image, mask = endoscopy_phantom(28, 32, seed=3)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # convolutions this small gain nothing from threads, only synchronisation
    try:
        model = train_singanseg(image, mask, TINY)
    finally:
        torch.set_num_threads(threads)
    other = copy.deepcopy(model)
    other.generators[-1].tail[0].conv.bias.add_(0.3)
    (folder / "models").mkdir()
    for name, pyramid in (("polyp_a", model), ("polyp_b", other)):
        pyramid.save(str(folder / "models" / f"{name}.pt"), metadata={"image_id": name})
        Image.fromarray(np.moveaxis(image, 0, -1)).save(folder / f"{name}.png")
        Image.fromarray(mask[0]).save(folder / f"{name}_mask.png")
    return folder


@pytest.fixture
def bank(folder) -> SinGANSegBank:
    return SinGANSegBank(folder / "models")


def pair(shape=(28, 32), dtype=torch.float32, high=1.0, filename="/data/polyp_a.png"):
    """An input pair as MONAI gives it: channel-first MetaTensors with a filename and an affine."""
    image = torch.rand(3, *shape, generator=torch.Generator().manual_seed(0)) * high
    label = torch.zeros(1, *shape)
    label[:, 5:15, 5:15] = 255
    affine = torch.diag(torch.tensor([2.0, 3.0, 1.0, 1.0], dtype=torch.float64))
    meta = {"filename_or_obj": filename, "affine": affine}
    return MetaTensor(image.to(dtype), meta=dict(meta)), MetaTensor(label.to(torch.uint8), meta=dict(meta))


def test_same_seed_gives_same_image_and_label(bank):
    first = SinGANSeg(bank["polyp_a"], start_scale=0, seed=4)()
    again = SinGANSeg(bank["polyp_a"], start_scale=0, seed=4)()
    other = SinGANSeg(bank["polyp_a"], start_scale=0, seed=5)()
    assert all(torch.equal(a, b) for a, b in zip(first, again))
    assert not torch.equal(first[0], other[0])
    assert first[0].shape == (3, 28, 32) and set(first[1].unique().tolist()) <= {0.0, 255.0}


@pytest.mark.parametrize("shape, dtype, high, intensity", [
    ((28, 32), torch.uint8, 255, "raw"),
    ((28, 32), torch.float32, 1.0, "match"),
    ((56, 64), torch.float32, 1.0, "match"),
    ((20, 23), torch.float64, 4.0, "match"),
])
def test_output_keeps_the_input_shape_dtype_range_and_label_values(bank, shape, dtype, high, intensity):
    image, label = pair(shape, dtype, high)
    out_image, out_label = SinGANSeg(bank["polyp_a"], 1, 7, intensity)(image, label)
    assert out_image.shape == image.shape and out_label.shape == label.shape
    assert out_image.dtype == dtype and out_label.dtype == torch.uint8
    assert set(out_label.unique().tolist()) <= {0, 255}
    if intensity == "match":
        assert out_image.min() == pytest.approx(float(image.min()))
        assert out_image.max() == pytest.approx(float(image.max()))


def test_input_with_swapped_spatial_axes_gets_the_transposed_pair(bank):
    # MONAI's default PILReader loads a 28x32 PNG as (W, H) = (32, 28); the pyramid is (H, W) = (28, 32).
    image, label = pair((28, 32))
    image_t, label_t = MetaTensor(image.transpose(-1, -2)), MetaTensor(label.transpose(-1, -2))
    upright = SinGANSeg(bank["polyp_a"], 0, 3)(image, label)
    swapped = SinGANSeg(bank["polyp_a"], 0, 3)(image_t, label_t)
    assert swapped[0].shape == (3, 32, 28)
    assert torch.equal(swapped[0], upright[0].transpose(-1, -2))
    assert torch.equal(swapped[1], upright[1].transpose(-1, -2))


def test_metadata_is_kept_and_the_replacement_recorded(bank):
    image, label = pair()
    out = RandSinGANSegd(bank=bank, prob=1.0, start_scale=(1, 2)).set_random_state(0)({"image": image, "label": label})
    for key in ("image", "label"):
        assert out[key].meta["filename_or_obj"] == "/data/polyp_a.png"
        assert torch.equal(out[key].affine, image.affine)
        record = out[key].meta[SINGANSEG_META_KEY]
        assert record["replaced"] and record["model_id"] == "polyp_a" and record["start_scale"] in (1, 2)
    assert out["image"].meta[SINGANSEG_META_KEY] == out["label"].meta[SINGANSEG_META_KEY]


@pytest.mark.parametrize("prob", [0.0, 1.0])
def test_prob_zero_leaves_data_untouched_and_prob_one_always_replaces(bank, prob):
    transform = RandSinGANSegd(bank=bank, prob=prob, match="any").set_random_state(1)
    image, label = pair()
    for _ in range(3):
        out = transform({"image": image.numpy(), "label": label.numpy()})
        assert isinstance(out["image"], torch.Tensor) and out["image"].dtype == torch.float32
        assert torch.equal(out["image"], image.as_tensor()) != bool(prob)
        assert torch.equal(out["label"], label.as_tensor()) != bool(prob)


def test_match_image_id_draws_from_the_pyramid_of_that_image(bank):
    transform = RandSinGANSegd(bank=bank, prob=1.0, start_scale=(0, 2)).set_random_state(2)
    image, label = pair(filename="/data/polyp_b.png")
    out = transform({"image": image, "label": label})
    record = out["image"].meta[SINGANSEG_META_KEY]
    expected = SinGANSeg(bank["polyp_b"], record["start_scale"], record["seed"])(image, label)
    assert record["model_id"] == "polyp_b" and torch.equal(out["image"], expected[0])
    by_key = RandSinGANSegd(bank=bank, prob=1.0, id_key="case")({"image": image, "label": label, "case": "polyp_a"})
    assert by_key["image"].meta[SINGANSEG_META_KEY]["model_id"] == "polyp_a"


def test_set_random_state_makes_the_draws_reproducible(bank):
    image, label = pair()

    def draw(seed):
        transform = RandSinGANSeg(bank, prob=1.0, start_scale=(0, 2)).set_random_state(seed)
        return [transform(image, label)[0] for _ in range(2)]

    assert all(torch.equal(a, b) for a, b in zip(draw(0), draw(0)))
    assert not torch.equal(draw(0)[0], draw(1)[0])
    assert RandSinGANSegD is RandSinGANSegDict is RandSinGANSegd


def test_bad_input_raises_a_clear_error(bank, folder, tmp_path):
    image, label = pair()
    transform = RandSinGANSegd(bank=bank, prob=1.0)
    with pytest.raises(KeyError, match="'label' is missing"):
        transform({"image": image})
    with pytest.raises(KeyError, match="no pyramid for image id 'polyp_z'.*'polyp_a', 'polyp_b'"):
        transform({"image": pair(filename="/data/polyp_z.png")[0], "label": label})
    with pytest.raises(ValueError, match=r"values \[1.0\] the pyramid never saw"):
        transform({"image": image, "label": label // 255})
    with pytest.raises(ValueError, match="set id_key= or match='any'"):
        transform({"image": image.as_tensor(), "label": label})
    with pytest.raises(ValueError, match="3 channels"):
        transform({"image": image[:2], "label": label})
    with pytest.raises(ValueError, match="inclusive \\(low, high\\) range"):
        RandSinGANSegd(bank=bank, start_scale=(2, 1))
    with pytest.raises(ValueError, match="start_scale=5 is out of range for pyramid 'polyp_a'"):
        RandSinGANSegd(bank=bank, prob=1.0, start_scale=5)({"image": image, "label": label})
    mapped = RandSinGANSegd(bank=bank, prob=1.0, label_values=(0, 1))({"image": image, "label": label // 255})
    assert set(mapped["label"].unique().tolist()) <= {0, 1}
    mixed = tmp_path / "mixed"
    mixed.mkdir()
    (mixed / "a.pt").write_bytes((folder / "models" / "polyp_a.pt").read_bytes())
    Pyramid(2, ChannelLayout(2, 1, (0.0, 1.0), "binary", (0.0,), (1.0,)), [(24, 24)], 1.0).save(str(mixed / "mri.pt"))
    with pytest.raises(ValueError, match="mixes channel layouts"):
        RandSinGANSegd(bank=str(mixed), match="any")


def pipeline(bank: SinGANSegBank) -> Compose:
    keys = ["image", "label"]
    return Compose([
        LoadImaged(keys=keys), EnsureChannelFirstd(keys=keys), ScaleIntensityd(keys="image"),
        RandSinGANSegd(keys=keys, bank=bank, prob=1.0, start_scale=(0, 2)),
    ])


def files(folder):
    names = ("polyp_a", "polyp_b") * 2
    return [{"image": str(folder / f"{n}.png"), "label": str(folder / f"{n}_mask.png")} for n in names]


def test_pipeline_through_a_dataloader_with_two_workers_is_reproducible(bank, folder):
    def batches():
        set_determinism(seed=0)
        loader = DataLoader(Dataset(files(folder), pipeline(bank)), batch_size=2, num_workers=2)
        return list(loader)

    try:
        first, second = batches(), batches()
    finally:
        set_determinism(seed=None)
    for a, b in zip(first, second):
        assert torch.equal(a["image"], b["image"]) and torch.equal(a["label"], b["label"])
    batch = first[0]
    assert batch["image"].shape == (2, 3, 32, 28) and batch["image"].dtype == torch.float32
    assert set(batch["label"].unique().tolist()) <= {0.0, 255.0} and float(batch["image"].max()) <= 1.0
    assert batch["image"].meta["filename_or_obj"][1].endswith("polyp_b.png")
    assert batch["image"].meta[SINGANSEG_META_KEY]["model_id"] == ["polyp_a", "polyp_b"]
    # The same file in the other worker's batch got a different synthetic pair.
    assert not torch.equal(first[0]["image"][0], first[1]["image"][0])


def test_cache_dataset_caches_up_to_the_random_transform(bank, folder):
    dataset = CacheDataset(files(folder)[:2], pipeline(bank), progress=False)
    first, second = dataset[0], dataset[0]
    assert SINGANSEG_META_KEY not in dataset._cache[0]["image"].meta
    assert first["image"].shape == (3, 32, 28) and not torch.equal(first["image"], second["image"])


def test_colour_mask_is_accepted_and_returned_in_its_colour_channels(bank):
    image, label = pair()
    colour = MetaTensor(label.as_tensor().repeat(3, 1, 1), meta=dict(label.meta))
    out = RandSinGANSegd(bank=bank, prob=1.0).set_random_state(0)({"image": image, "label": colour})
    assert out["label"].shape == (3, 28, 32) and out["label"].dtype == torch.uint8
    assert torch.equal(out["label"][0], out["label"][1]) and torch.equal(out["label"][0], out["label"][2])
    assert set(out["label"].unique().tolist()) <= {0, 255} and out["label"].max() == 255
    different = colour.clone()
    different[1, 0, 0] = 255
    with pytest.raises(ValueError, match="3 different channels"):
        RandSinGANSegd(bank=bank, prob=1.0)({"image": image, "label": different})


def test_readme_pipeline_runs_on_kvasir_seg_rgb_jpeg_masks(tmp_path):
    from monai.transforms import AsDiscreted

    from monai_singanseg.train_many import train_many

    kvasir = shared_data("polyp", "kvasir_seg")
    name = sorted((kvasir / "images").glob("*.jpg"))[0].stem
    datalist = [{"image": str(kvasir / "images" / f"{name}.jpg"), "label": str(kvasir / "masks" / f"{name}.jpg")}]
    (tmp_path / "datalist.json").write_text(json.dumps({"training": datalist}))
    # As the README: masks read without a threshold are binarised (JPEG artefacts), the pipeline thresholds too.
    train_many(tmp_path / "datalist.json", tmp_path / "bank", dataclasses.replace(TINY, iterations=2))
    keys = ("image", "label")
    transforms = Compose([
        LoadImaged(keys=keys), EnsureChannelFirstd(keys=keys), ScaleIntensityd(keys="image"),
        AsDiscreted(keys="label", threshold=127),
        RandSinGANSegd(keys=keys, bank=SinGANSegBank(tmp_path / "bank"), prob=1.0, start_scale=(0, 1)),
    ])
    for item in Dataset(datalist * 2, transforms):
        assert item["label"].shape[0] == 3 and set(item["label"].unique().tolist()) <= {0.0, 1.0}
        assert item["image"].shape[1:] == item["label"].shape[1:]
        assert item["image"].meta[SINGANSEG_META_KEY]["replaced"]


def test_the_dictionary_wrapper_owns_prob_so_changing_it_later_takes_effect(bank):
    image, label = pair()
    transform = RandSinGANSegd(bank=bank, prob=0.0).set_random_state(0)
    assert transform.rand_singanseg.prob == 1.0
    transform.prob = 1.0
    out = transform({"image": image, "label": label})
    assert out["image"].meta[SINGANSEG_META_KEY]["replaced"] and not torch.equal(out["image"], image)
    transform.prob = 0.0
    kept = transform({"image": image, "label": label})
    assert not kept["image"].meta[SINGANSEG_META_KEY]["replaced"] and torch.equal(kept["image"], image)
