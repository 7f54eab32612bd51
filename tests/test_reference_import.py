from __future__ import annotations

import argparse
import os
import sys
import types
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from monai_singanseg.cli import convert_reference
from monai_singanseg.data.bank import SinGANSegBank
from monai_singanseg.data.reference_import import (
    ReferenceImportError,
    convert_reference_run,
    infer_scale_factor,
    load_reference_file,
)
from monai_singanseg.networks import SinGANSeg
from monai_singanseg.utils.pyramid import compute_pyramid
from monai_singanseg.utils.resize import upsample_to_scale

# The reference's model classes (SinGAN/models.py of singan-seg-polyp 1.0.7), reduced to what pickling sees.
REFERENCE_MODELS_SOURCE = '''
import torch
import torch.nn as nn


class ConvBlock(nn.Sequential):
    def __init__(self, in_channel, out_channel, ker_size, padd, stride):
        super().__init__()
        self.add_module("conv", nn.Conv2d(in_channel, out_channel, kernel_size=ker_size, stride=stride, padding=padd))
        self.add_module("norm", nn.BatchNorm2d(out_channel))
        self.add_module("LeakyRelu", nn.LeakyReLU(0.2, inplace=True))


class GeneratorConcatSkip2CleanAdd(nn.Module):
    def __init__(self, channels, features, num_layer=5):
        super().__init__()
        self.is_cuda = False
        self.head = ConvBlock(channels, features, 3, 0, 1)
        self.body = nn.Sequential()
        for i in range(num_layer - 2):
            self.body.add_module("block%d" % (i + 1), ConvBlock(features, features, 3, 0, 1))
        self.tail = nn.Sequential(nn.Conv2d(features, channels, kernel_size=3, stride=1, padding=0), nn.Tanh())
'''

CHANNELS, FEATURES, PAD = 4, 8, 5


def reference_forward(state: dict[str, torch.Tensor], x: torch.Tensor, previous: torch.Tensor) -> torch.Tensor:
    """The reference generator computed by hand: ``G(pad(x), pad(previous))``, skip cropped back by 5 px."""
    h = F.pad(x, [PAD] * 4)
    for prefix in ("head", "body.block1", "body.block2", "body.block3"):
        h = F.conv2d(h, state[f"{prefix}.conv.weight"], state[f"{prefix}.conv.bias"])
        h = F.batch_norm(h, state[f"{prefix}.norm.running_mean"], state[f"{prefix}.norm.running_var"],
                         state[f"{prefix}.norm.weight"], state[f"{prefix}.norm.bias"], training=False, eps=1e-5)
        h = F.leaky_relu(h, 0.2)
    h = torch.tanh(F.conv2d(h, state["tail.0.weight"], state["tail.0.bias"]))
    return h + F.pad(previous, [PAD] * 4)[..., PAD:-PAD, PAD:-PAD]


def save_reference_run(folder: Path, models: types.ModuleType, legacy: bool = False) -> dict[str, list]:
    """A 3-scale SinGAN-Seg run folder as the reference's training.train saves it; returns its raw content."""
    torch.manual_seed(0)
    shapes = compute_pyramid((40, 44), min_size=30, max_size=44).scale_shapes
    run: dict[str, list] = {"Gs": [], "Zs": [], "NoiseAmp": [], "reals": []}
    for k, shape in enumerate(shapes):
        generator = models.GeneratorConcatSkip2CleanAdd(CHANNELS, FEATURES)
        for module in generator.modules():
            if isinstance(module, torch.nn.BatchNorm2d):  # trained-looking statistics, so BatchNorm matters
                module.running_mean.normal_()
                module.running_var.uniform_(0.5, 2.0)
                module.weight.data.normal_(1.0, 0.1)
                module.bias.data.normal_()
        run["Gs"].append(generator.eval())
        run["reals"].append(torch.rand(1, CHANNELS, *shape) * 2 - 1)
        # Zs: one noise channel repeated at scale 0, boolean zeros above, all padded by 5 px (as the reference).
        if k == 0:
            z = torch.randn(1, 1, *shape).expand(1, CHANNELS, *shape)
        else:
            z = torch.zeros(1, CHANNELS, *shape, dtype=torch.bool)
        run["Zs"].append(F.pad(z.float(), [PAD] * 4).to(z.dtype))
        run["NoiseAmp"].append(1 if k == 0 else torch.tensor(0.1 * k))
    folder.mkdir(parents=True, exist_ok=True)
    for name, value in run.items():
        torch.save(value, folder / f"{name}.pth", _use_new_zipfile_serialization=not legacy)
    return run


def fake_reference_run(folder: Path, legacy: bool = False) -> dict[str, list]:
    """Save a run with stand-in classes importable as ``SinGAN.models`` only while saving."""
    package, models = types.ModuleType("SinGAN"), types.ModuleType("SinGAN.models")
    exec(compile(REFERENCE_MODELS_SOURCE, "SinGAN/models.py", "exec"), models.__dict__)
    package.models = models
    saved = {name: sys.modules.get(name) for name in ("SinGAN", "SinGAN.models")}
    sys.modules.update({"SinGAN": package, "SinGAN.models": models})
    try:
        run = save_reference_run(folder, models, legacy)
    finally:
        for name, module in saved.items():
            if module is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = module
    run["states"] = [{k: v.clone() for k, v in g.state_dict().items()} for g in run["Gs"]]
    return run


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> tuple[Path, dict[str, list]]:
    folder = tmp_path_factory.mktemp("TrainedModels") / "polyp_07" / "scale_factor=0.750000,alpha=10"
    return folder, fake_reference_run(folder)


def run_cli(argv: list[str]) -> int:
    """The command as ``monai-singanseg`` wires it."""
    parser = argparse.ArgumentParser()
    convert_reference.add_parser(parser.add_subparsers())
    args = parser.parse_args(argv)
    return args.run(args)


def test_converted_generators_match_a_hand_computed_forward(reference):
    folder, run = reference
    model, _ = convert_reference_run(folder)
    for k, state in enumerate(run["states"]):
        x, previous = torch.randn(2, CHANNELS, *model.scale_shapes[k]), torch.randn(2, CHANNELS, *model.scale_shapes[k])
        torch.testing.assert_close(model.generators[k](x, previous), reference_forward(state, x, previous))


def test_converted_pyramid_replays_the_reference_generation(reference):
    folder, run = reference
    model, _ = convert_reference_run(folder)
    # SinGAN_generate with fresh noise above scale 0 and the reconstruction noise at scale 0 (gen_start_scale=1):
    # padded noise and image go in, the skip is cropped, the output is carried up to the next scale.
    noises = [run["Zs"][0][..., PAD:-PAD, PAD:-PAD]]
    noises += [torch.randn(1, CHANNELS, *shape) for shape in model.scale_shapes[1:]]
    x = torch.zeros(1, CHANNELS, *model.scale_shapes[0])
    for k, z in enumerate(noises):
        if k > 0:
            x = upsample_to_scale(x, model.scale_shapes[k], model.scale_factor)
        x = reference_forward(run["states"][k], float(run["NoiseAmp"][k]) * z + x, x)
    torch.testing.assert_close(model.run_scales(noises, model.scale_shapes), x)
    torch.testing.assert_close(model.reconstruction_noise[0], noises[0])


def test_shapes_amplitudes_and_scale_factor_are_recovered(reference):
    folder, run = reference
    model, metadata = convert_reference_run(folder)
    assert model.scale_shapes == tuple(tuple(r.shape[2:]) for r in run["reals"])
    assert model.scale_factor == compute_pyramid((40, 44), min_size=30, max_size=44).scale_factor
    torch.testing.assert_close(model.noise_amplitudes, torch.tensor([1.0, 0.1, 0.2]))
    assert all(z.dtype == torch.float32 and not z.any() for z in model.reconstruction_noise[1:])
    assert model.layout.label_values == (0.0, 255.0) and model.layout.image_channels == 3
    assert metadata["image_id"] == "polyp_07" and metadata["file_format"] == "png"


def test_scale_factor_is_recovered_even_when_the_ceil_bumped_the_coarsest_side():
    spec = compute_pyramid((332, 487))  # coarsest (26, 37) with min_size=25
    assert spec.scale_shapes[0] == (26, 37)
    assert infer_scale_factor(spec.scale_shapes) == spec.scale_factor


@pytest.mark.filterwarnings("ignore:Couldn't retrieve source code")  # saving legacy files from exec'd classes
def test_legacy_torch_files_convert_alike(tmp_path, reference):
    folder, _ = reference
    fake_reference_run(tmp_path / "legacy", legacy=True)
    new, _ = convert_reference_run(folder)
    old, _ = convert_reference_run(tmp_path / "legacy")
    for a, b in zip(new.generators, old.generators):
        assert all(torch.equal(a.state_dict()[key], b.state_dict()[key]) for key in a.state_dict())


def test_refuses_a_pickle_that_calls_os_system(tmp_path):
    marker = tmp_path / "pwned"

    class Exploit:
        def __reduce__(self):
            return os.system, (f"touch {marker}",)

    torch.save([Exploit()], tmp_path / "Gs.pth")
    with pytest.raises(ReferenceImportError, match=r"refusing to load (posix|os|nt)\.system"):
        load_reference_file(tmp_path / "Gs.pth")
    assert not marker.exists()


def test_missing_run_file_is_named(tmp_path):
    (tmp_path / "Gs.pth").write_bytes(b"")
    with pytest.raises(FileNotFoundError, match="Zs.pth"):
        convert_reference_run(tmp_path)


def test_cli_writes_a_checkpoint_that_loads_safely_into_a_bank(tmp_path, reference):
    folder, _ = reference
    out = tmp_path / "polyp.pt"
    assert run_cli(["convert-reference", str(folder), "--out", str(out), "--image-id", "polyp"]) == 0
    assert torch.load(out, weights_only=True)["metadata"]["image_id"] == "polyp"
    bank = SinGANSegBank(tmp_path)
    converted, _ = convert_reference_run(folder)
    generator = torch.Generator().manual_seed(3)
    expected = converted.sample(1, 0, generator)
    assert bank.ids == ("polyp",) and torch.equal(bank["polyp"].sample(1, 0, generator.manual_seed(3)), expected)


def test_a_run_of_the_real_reference_package_converts(tmp_path):
    wheel = os.environ.get("SINGAN_SEG_POLYP_WHEEL")  # CI downloads the wheel; its pure-Python zip imports as is
    if wheel and wheel not in sys.path:
        sys.path.append(wheel)
    models = pytest.importorskip(
        "SinGAN.models", reason="the reference package singan-seg-polyp is not installed (nor SINGAN_SEG_POLYP_WHEEL set)"
    )

    class Options:  # the reference's own option names
        nfc, min_nfc, nc_im, ker_size, padd_size, num_layer = FEATURES, FEATURES, CHANNELS, 3, 0, 5

    reference_models = types.SimpleNamespace(
        GeneratorConcatSkip2CleanAdd=lambda channels, features: models.GeneratorConcatSkip2CleanAdd(Options())
    )
    run = save_reference_run(tmp_path, reference_models)
    model: SinGANSeg = convert_reference_run(tmp_path)[0]
    for k, generator in enumerate(run["Gs"]):
        x, previous = torch.randn(1, CHANNELS, *model.scale_shapes[k]), torch.randn(1, CHANNELS, *model.scale_shapes[k])
        expected = generator(F.pad(x, [PAD] * 4), F.pad(previous, [PAD] * 4))
        torch.testing.assert_close(model.generators[k](x, previous), expected)
