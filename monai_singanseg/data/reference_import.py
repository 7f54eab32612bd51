"""Import of SinGAN-Seg / SinGAN reference runs (pickled whole modules) without running their pickled code."""

from __future__ import annotations

import math
import os
import pickle
import types
import warnings
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
import torch._utils

from monai_singanseg.networks.singanseg import SinGANSeg
from monai_singanseg.layout import ChannelLayout, LabelEncoding
from monai_singanseg.utils.pyramid import features_at_scale

__all__ = ["REFERENCE_FILES", "PickledModule", "ReferenceImportError", "ReferenceUnpickler", "convert_reference_run",
           "infer_scale_factor", "load_reference_file"]

# What a reference run folder holds (SinGAN's training.train saves these after every scale).
REFERENCE_FILES = ("Gs.pth", "Zs.pth", "NoiseAmp.pth", "reals.pth")
# The reference package is imported as SinGAN (the authors' repository) or inside singan_seg_polyp (PyPI).
_REFERENCE_MODULES = ("SinGAN.models", "singan_seg_polyp.SinGAN.models")
_REFERENCE_CLASSES = ("GeneratorConcatSkip2CleanAdd", "WDiscriminator", "ConvBlock")
_TORCH_LAYERS = {
    ("torch.nn.modules.conv", "Conv2d"), ("torch.nn.modules.batchnorm", "BatchNorm2d"),
    ("torch.nn.modules.activation", "LeakyReLU"), ("torch.nn.modules.activation", "Tanh"),
    ("torch.nn.modules.container", "Sequential"),
}


def _no_backend() -> None:
    """Stand-in for the ``_backend`` attribute that modules pickled by torch < 1.5 carry."""
    return None


# Plain-data constructors and torch's tensor rebuilders: the globals torch's own weights_only loader admits.
_SAFE_GLOBALS: dict[tuple[str, str], Any] = {
    ("collections", "OrderedDict"): OrderedDict,
    ("builtins", "set"): set,
    ("__builtin__", "set"): set,
    ("torch._utils", "_rebuild_tensor"): torch._utils._rebuild_tensor,
    ("torch._utils", "_rebuild_tensor_v2"): torch._utils._rebuild_tensor_v2,
    ("torch._utils", "_rebuild_parameter"): torch._utils._rebuild_parameter,
    ("torch._utils", "_rebuild_parameter_with_state"): torch._utils._rebuild_parameter_with_state,
    ("torch.nn.backends.thnn", "_get_thnn_function_backend"): _no_backend,
}


class ReferenceImportError(ValueError):
    """A reference run that cannot be imported: refused pickle content, missing files, or an unsupported model."""


class PickledModule:
    """What a pickled module was: the name of its class and its attributes. None of its class's code runs."""

    reference_class = ""

    def __setstate__(self, state: Any) -> None:
        # nn.Module pickles its __dict__; (dict, slots) is the other form pickle allows.
        self.attributes = dict(state[0] if isinstance(state, tuple) else state)

    def child(self, name: str) -> PickledModule:
        """The submodule called ``name``."""
        children = self.attributes.get("_modules", {})
        if name not in children:
            raise ReferenceImportError(f"{self.reference_class} has no submodule {name!r} (has {list(children)}).")
        return children[name]

    def children(self) -> list[PickledModule]:
        return list(self.attributes.get("_modules", {}).values())

    def tensor(self, name: str) -> torch.Tensor:
        """The parameter or buffer called ``name``, as a plain tensor."""
        for group in ("_parameters", "_buffers"):
            value = self.attributes.get(group, {}).get(name)
            if value is not None:
                return value.detach().clone() if isinstance(value, torch.Tensor) else torch.as_tensor(value)
        raise ReferenceImportError(f"{self.reference_class} has no tensor {name!r}.")


_STAND_INS: dict[str, type[PickledModule]] = {}


def _stand_in(module: str, name: str) -> type[PickledModule]:
    qualified = f"{module}.{name}"
    if qualified not in _STAND_INS:
        _STAND_INS[qualified] = type(name, (PickledModule,), {"reference_class": qualified, "__module__": __name__})
    return _STAND_INS[qualified]


class ReferenceUnpickler(pickle.Unpickler):
    """An unpickler that admits only the reference's model classes (as :class:`PickledModule` stand-ins), the
    torch layers they contain (also stand-ins), plain containers and torch's tensor rebuilders. Anything else
    (``os.system``, ``builtins.eval``, any other class) is refused before it can be called."""

    def find_class(self, module: str, name: str) -> Any:
        if (module in _REFERENCE_MODULES and name in _REFERENCE_CLASSES) or (module, name) in _TORCH_LAYERS:
            return _stand_in(module, name)
        if (module, name) in _SAFE_GLOBALS:
            return _SAFE_GLOBALS[(module, name)]
        raise pickle.UnpicklingError(
            f"refusing to load {module}.{name}: a reference run may only hold SinGAN's model classes, torch layers "
            "and tensors."
        )


def _restricted_load(file: Any, **kwargs: Any) -> Any:
    return ReferenceUnpickler(file, **kwargs).load()


# torch.load reads legacy files with pickle_module.load and both formats with pickle_module.Unpickler.
_RESTRICTED_PICKLE = types.SimpleNamespace(__name__=__name__, Unpickler=ReferenceUnpickler, load=_restricted_load)


def load_reference_file(path: str | os.PathLike) -> Any:
    """Read one file of a reference run (zip or legacy ``torch.save`` format) with :class:`ReferenceUnpickler`.

    Raises:
        FileNotFoundError: ``path`` does not exist.
        ReferenceImportError: the file holds anything but the admitted classes, or is not a torch file.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"reference file {path} does not exist.")
    try:
        with warnings.catch_warnings():
            # Legacy files compare the pickled class source with the stand-in's; the difference is expected.
            warnings.simplefilter("ignore")
            return torch.load(path, map_location="cpu", pickle_module=_RESTRICTED_PICKLE, weights_only=False)
    except pickle.UnpicklingError as err:
        raise ReferenceImportError(f"{path}: {err}") from None
    except (RuntimeError, EOFError, ValueError, AttributeError) as err:
        raise ReferenceImportError(f"{path} is not a readable reference file: {err}") from None


def _conv(layer: PickledModule, where: str) -> tuple[torch.Tensor, torch.Tensor]:
    padding = layer.attributes.get("padding", 0)
    stride = layer.attributes.get("stride", 1)
    if any(p != 0 for p in (padding if isinstance(padding, Sequence) else [padding])) or \
            any(s != 1 for s in (stride if isinstance(stride, Sequence) else [stride])):
        raise ReferenceImportError(f"{where} has padding {padding} and stride {stride}; only SinGAN-Seg's unpadded, "
                                   "stride-1 convolutions (padd_size=0) can be imported.")
    return layer.tensor("weight"), layer.tensor("bias")


def _generator_state(generator: PickledModule, scale: int) -> tuple[dict[str, torch.Tensor], int]:
    """Our :class:`SinGANGenerator` state dict for one reference generator, and its width."""
    if not generator.reference_class.endswith("GeneratorConcatSkip2CleanAdd"):
        raise ReferenceImportError(f"Gs[{scale}] is a {generator.reference_class or type(generator).__name__}, "
                                   "not a GeneratorConcatSkip2CleanAdd.")
    blocks = [("head", generator.child("head"))]
    blocks += [(f"body.{i}", block) for i, block in enumerate(generator.child("body").children())]
    state: dict[str, torch.Tensor] = {}
    for prefix, block in blocks:
        slope = block.child("LeakyRelu").attributes.get("negative_slope")
        if slope != 0.2:
            raise ReferenceImportError(f"Gs[{scale}].{prefix} has LeakyReLU slope {slope}; SinGAN uses 0.2.")
        weight, bias = _conv(block.child("conv"), f"Gs[{scale}].{prefix}")
        state[f"{prefix}.conv.weight"], state[f"{prefix}.conv.bias"] = weight, bias
        norm = block.child("norm")
        for name in ("weight", "bias", "running_mean", "running_var"):
            state[f"{prefix}.adn.N.{name}"] = norm.tensor(name)
        # torch < 0.4.1 did not count batches; the count is unused in eval mode.
        tracked = norm.attributes.get("_buffers", {}).get("num_batches_tracked")
        state[f"{prefix}.adn.N.num_batches_tracked"] = torch.as_tensor(tracked or 0, dtype=torch.long)
    weight, bias = _conv(generator.child("tail").child("0"), f"Gs[{scale}].tail")
    state["tail.0.conv.weight"], state["tail.0.conv.bias"] = weight, bias
    widths = {state[f"{prefix}.conv.weight"].shape[0] for prefix, _ in blocks}
    if len(widths) != 1:
        raise ReferenceImportError(f"Gs[{scale}] has layers of widths {sorted(widths)}; only runs with nfc == min_nfc "
                                   "(SinGAN-Seg's setting) have one width per scale.")
    return state, widths.pop()


def infer_scale_factor(scale_shapes: Sequence[Sequence[int]]) -> float:
    """The pyramid's actual scale factor, recovered from its shapes.

    The reference sets ``factor = (min_size / min(finest)) ** (1 / (num_scales - 1))`` and makes scale ``k`` as
    ``ceil(finest * factor ** (num_scales - 1 - k))``, so the coarsest side is ``min_size`` or, through the ceil,
    one more. Both candidates are tried; the first that rebuilds every shape is the factor.

    Raises:
        ReferenceImportError: no candidate rebuilds the shapes (pass the factor explicitly).
    """
    shapes = [tuple(int(s) for s in shape) for shape in scale_shapes]
    if len(shapes) == 1:
        return 1.0
    stop_scale, finest = len(shapes) - 1, shapes[-1]
    for min_size in (min(shapes[0]), min(shapes[0]) - 1):
        factor = math.pow(min_size / min(finest), 1 / stop_scale)
        rebuilt = [tuple(math.ceil(float(s) * math.pow(factor, stop_scale - k)) for s in finest)
                   for k in range(len(shapes))]
        if rebuilt == shapes:
            return factor
    raise ReferenceImportError(f"cannot recover the scale factor from the scale shapes {shapes}; give it explicitly.")


def _default_image_id(run_dir: Path) -> str:
    # SinGAN stores runs as TrainedModels/<image name>/scale_factor=0.750000,alpha=10.
    return run_dir.parent.name if run_dir.name.startswith("scale_factor=") else run_dir.name


def convert_reference_run(
    run_dir: str | os.PathLike, image_id: str | None = None, scale_factor: float | None = None
) -> tuple[SinGANSeg, dict[str, Any]]:
    """Rebuild a reference SinGAN-Seg run (``Gs.pth``, ``Zs.pth``, ``NoiseAmp.pth``, ``reals.pth``) as our pyramid.

    Every file is read with :class:`ReferenceUnpickler`, so no pickled code runs. Per scale: the generator's conv
    and BatchNorm weights go into a :class:`SinGANGenerator`, the noise amplitude is kept, the reconstruction noise
    is cropped of the reference's 5 px padding, and the shape comes from the real image of that scale. Channels
    are RGB plus a binary mask of values (0, 255), in 8-bit units, as SinGAN-Seg trains on RGBA PNGs. A run that
    stopped early gives a half-trained pyramid.

    Args:
        run_dir: the reference run folder.
        image_id: the id of the training image; by default the folder's name (its parent's for SinGAN's
            ``scale_factor=...`` folders).
        scale_factor: the pyramid's actual factor between scales; by default recovered from the shapes.

    Returns:
        The pyramid and metadata for its checkpoint (``source``, ``image_id``, ``file_format``, ``affine``).

    Raises:
        FileNotFoundError: a file of the run is missing.
        ReferenceImportError: refused pickle content, inconsistent files, or a model our generator cannot hold.

    Example::

        >>> model, metadata = convert_reference_run("TrainedModels/polyp_01/scale_factor=0.750000,alpha=10")
        >>> model.save("polyp_01.pt", metadata=metadata)
    """
    run_dir = Path(run_dir)
    missing = [name for name in REFERENCE_FILES if not (run_dir / name).is_file()]
    if missing:
        raise FileNotFoundError(f"reference run {run_dir} lacks {missing}; it needs {list(REFERENCE_FILES)}.")
    generators, noises, amplitudes, reals = (load_reference_file(run_dir / name) for name in REFERENCE_FILES)
    if not (isinstance(generators, list) and len(generators) == len(noises) == len(amplitudes) <= len(reals)):
        raise ReferenceImportError(f"{run_dir}: Gs, Zs and NoiseAmp must be lists of one entry per trained scale and "
                                   "reals one per scale.")
    if not generators:
        raise ReferenceImportError(f"{run_dir} holds no trained scale.")
    shapes = [tuple(int(s) for s in real.shape[2:]) for real in reals]
    channels = int(reals[0].shape[1])
    if channels < 2:
        raise ReferenceImportError(f"{run_dir} was trained on {channels} channel(s): no mask channel to import.")
    states, widths = zip(*(_generator_state(g, k) for k, g in enumerate(generators)))
    kernel_size = int(states[0]["head.conv.weight"].shape[-1])
    num_layers = 2 + sum(key.endswith(".conv.weight") and key.startswith("body.") for key in states[0])
    base, top = widths[0], max(widths)
    if any(features_at_scale(k, base, top) != w for k, w in enumerate(widths)):
        raise ReferenceImportError(f"{run_dir}: widths per scale {list(widths)} do not follow nfc = min(nfc_init * "
                                   "2 ** (scale // 4), max).")
    layout = ChannelLayout(spatial_dims=2, image_channels=channels - 1, label_values=(0.0, 255.0),
                           label_encoding=LabelEncoding.BINARY, intensity_min=(0.0,) * (channels - 1),
                           intensity_max=(255.0,) * (channels - 1), image_dtype="uint8", label_dtype="uint8")
    factor = infer_scale_factor(shapes) if scale_factor is None else float(scale_factor)
    model = SinGANSeg(2, layout, shapes, factor, num_layers, kernel_size, base, top)
    pad = (kernel_size - 1) * num_layers // 2
    for k, (state, amplitude, noise) in enumerate(zip(states, amplitudes, noises)):
        generator = model.build_generator(k)
        try:
            generator.load_state_dict(state)
        except RuntimeError as err:
            raise ReferenceImportError(f"{run_dir}: Gs[{k}] does not fit our generator: {err}") from None
        # Zs are stored padded by the generator's margin; the finer ones are boolean zeros in SinGAN-Seg.
        noise = noise.float()[..., pad : noise.shape[-2] - pad, pad : noise.shape[-1] - pad]
        if tuple(noise.shape) != (1, channels, *shapes[k]):
            raise ReferenceImportError(f"{run_dir}: Zs[{k}] has shape {tuple(noise.shape)} after removing the {pad} px "
                                       f"padding; scale {k} is {shapes[k]} with {channels} channels.")
        model.add_scale(generator, float(amplitude), noise)
    metadata = {"source": str(run_dir), "image_id": image_id or _default_image_id(run_dir), "file_format": "png",
                "affine": torch.eye(4, dtype=torch.float64).tolist()}
    return model, metadata
