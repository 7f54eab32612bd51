"""Style transfer transforms: MONAI conventions, labels untouched, metadata kept, random draws handed to the twin."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from monai.data import MetaTensor
from monai.transforms import Compose

from monai_singanseg.networks.vgg import VGG19Features
from monai_singanseg.style import StyleTransfer as GatysStyleTransfer
from monai_singanseg.transforms.style import (
    STYLE_META_KEY,
    RandStyleTransferD,
    RandStyleTransferd,
    RandStyleTransferDict,
    StyleTransfer,
    StyleTransferD,
    StyleTransferd,
    StyleTransferDict,
)


@pytest.fixture(scope="module")
def engine() -> GatysStyleTransfer:
    torch.manual_seed(0)
    return GatysStyleTransfer(VGG19Features(pretrained=False), steps=2)


def sample(low: float = 0.0, high: float = 1.0) -> dict[str, MetaTensor]:
    """A synthetic RGB + mask image, its real image and a separate label, values in [low, high]."""
    generator = torch.Generator().manual_seed(1)
    rgb = low + (high - low) * (0.25 + 0.5 * torch.rand(3, 16, 16, generator=generator))
    mask = (torch.rand(1, 16, 16, generator=generator) > 0.5).float()
    real = low + (high - low) * torch.rand(3, 20, 20, generator=generator) ** 3
    meta = {"filename_or_obj": "synthetic_0.png"}
    return {
        "image": MetaTensor(torch.cat([rgb, mask]), affine=torch.eye(4) * 2, meta=meta),
        "real": MetaTensor(real),
        "label": MetaTensor(mask.clone()),
    }


@pytest.mark.parametrize("method", ["gatys", "fourier", "histogram"])
def test_keeps_metadata_and_records_method(engine: GatysStyleTransfer, method: str) -> None:
    data = sample()
    out = StyleTransferd("image", "real", method=method, image_channels=3, engine=engine)(data)
    image = out["image"]
    assert isinstance(image, MetaTensor)
    assert image.meta["filename_or_obj"] == "synthetic_0.png"
    assert torch.equal(image.affine, data["image"].affine)
    assert image.meta[STYLE_META_KEY]["method"] == method
    assert STYLE_META_KEY not in data["image"].meta  # the input is not modified
    assert torch.equal(image[3], data["image"][3])
    assert not torch.equal(image[:3], data["image"][:3])


@pytest.mark.parametrize("method", ["gatys", "fourier", "histogram"])
def test_labels_untouched_under_other_key_and_as_channel_in_range(engine: GatysStyleTransfer, method: str) -> None:
    data = sample(low=-1.0, high=1.0)
    restyle = StyleTransferd("image", "real", method, image_channels=[0, 1, 2], intensity_range=(-1, 1), engine=engine)
    out = restyle(data)
    assert out["label"] is data["label"]
    assert torch.equal(out["image"][3], data["image"][3])
    assert out["image"][:3].min() >= -1.0 and out["image"][:3].max() <= 1.0


def test_gatys_scales_intensity_range_to_unit_interval(engine: GatysStyleTransfer) -> None:
    unit = StyleTransferd("image", "real", "gatys", image_channels=3, engine=engine)(sample(0.0, 1.0))
    wide = StyleTransferd("image", "real", "gatys", image_channels=3, intensity_range=(0, 255), engine=engine)(
        sample(0.0, 255.0)
    )
    torch.testing.assert_close(wide["image"][:3] / 255.0, unit["image"][:3], atol=1e-4, rtol=0)


def test_array_transform_takes_numpy_and_returns_numpy() -> None:
    img = np.random.default_rng(0).random((2, 8, 8)).astype(np.float64)
    out = StyleTransfer("histogram", image_channels=1)(img, img[:1] ** 2)
    assert isinstance(out, np.ndarray) and out.dtype == np.float64 and out.shape == img.shape
    assert np.array_equal(out[1], img[1])


def test_records_ratio_and_settings_of_gatys(engine: GatysStyleTransfer) -> None:
    out = StyleTransferd("image", "real", "gatys", image_channels=3, engine=engine, ratio=1000.0)(sample())
    assert out["image"].meta[STYLE_META_KEY] == {
        "method": "gatys",
        "content_weight": 1.0,
        "style_weight": 1000.0,
        "steps": 2,
        "learning_rate": 0.01,
    }


def test_missing_style_key_is_named() -> None:
    with pytest.raises(KeyError, match="'real'"):
        StyleTransferd("image", "real", "histogram")({"image": torch.rand(3, 8, 8)})


def test_gatys_without_engine_or_weights_raises_clear_error(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    with pytest.raises(FileNotFoundError, match="vgg19-dcbb9e9d.pth"):
        StyleTransferd("image", "real", method="gatys")
    with pytest.raises(FileNotFoundError, match="vgg19-dcbb9e9d.pth"):
        RandStyleTransferd("image", "real", methods=("histogram", "gatys"))
    RandStyleTransferd("image", "real", methods=("histogram", "fourier"))  # no weights needed


def test_rejects_unknown_method_and_bad_settings() -> None:
    with pytest.raises(ValueError, match="gatys"):
        StyleTransferd("image", "real", method="cyclegan")
    with pytest.raises(ValueError, match="intensity_range"):
        StyleTransfer("histogram", intensity_range=(1, 0))
    with pytest.raises(ValueError, match="ratios"):
        RandStyleTransferd("image", "real", methods=("histogram",), ratios=())


def test_same_seed_gives_same_image_and_draws_come_from_the_choices() -> None:
    def run(seed: int) -> MetaTensor:
        transform = RandStyleTransferd("image", "real", methods=("fourier", "histogram"), image_channels=3, beta=0.1)
        return transform.set_random_state(seed=seed)(sample())["image"]

    first, again = run(3), run(3)
    assert torch.equal(first, again)
    drawn = {run(seed).meta[STYLE_META_KEY]["method"] for seed in range(8)}
    assert drawn == {"fourier", "histogram"}


def test_random_draw_is_handed_to_deterministic_twin(engine: GatysStyleTransfer) -> None:
    transform = RandStyleTransferd("image", "real", methods=["gatys"], ratios=[1, 1e3], image_channels=3, engine=engine)
    transform.set_random_state(seed=0)
    out = transform(sample())["image"]
    drawn = out.meta[STYLE_META_KEY]["style_weight"]
    assert drawn in (1.0, 1000.0)
    twin = StyleTransferd("image", "real", "gatys", image_channels=3, engine=engine, ratio=drawn)(sample())["image"]
    torch.testing.assert_close(out, twin)


def test_zero_probability_leaves_images_as_they_are() -> None:
    data = sample()
    out = Compose([RandStyleTransferd("image", "real", prob=0.0, methods=("histogram",))])(data)
    assert torch.equal(out["image"], data["image"])
    assert out["image"].meta[STYLE_META_KEY]["applied"] is False  # recorded, so batches keep the key


def test_aliases_name_the_same_classes() -> None:
    assert StyleTransferD is StyleTransferDict is StyleTransferd
    assert RandStyleTransferD is RandStyleTransferDict is RandStyleTransferd
