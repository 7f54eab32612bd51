"""The one source of truth for SinGAN-Seg training settings and their valid ranges, saved with every checkpoint."""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from enum import StrEnum
from typing import Any

import numpy as np
import torch

from monai_singanseg.layout import LabelEncoding
from monai_singanseg.networks.modelwise_conv import ConvFormulation
from monai_singanseg.utils.noise import NoiseKind
from monai_singanseg.utils.pyramid import iterations_per_scale, smallest_scale_size

__all__ = ["RECIPES", "Recipe", "SinGANSegSettings", "available_device", "setting_flag", "validate_settings"]


class Recipe(StrEnum):
    """Named training recipes, measured side by side by ``benchmarks/bench_quality.py`` (BENCHMARKS.md, "Quality per
    compute").

    ``faithful`` reproduces the reference. ``fast`` takes one critic step per iteration instead of three: about half
    the work; at 64 px its samples stayed within the faithful recipe's seed-to-seed spread in patch SWD,
    reconstruction error, mask validity and memorisation, and were slightly more varied.
    ``draft`` trains fewer iterations (1000 at the coarsest scale, falling geometrically to 250 at the finest) and
    trains the two finished scales below each new one along with it, at a tenth and a hundredth of the learning rate
    (ConSinGAN's concurrent training): 11.9x less work than the reference at 64 px. Its samples came within 1.06x of
    the reference's patch SWD, with as varied samples, valid masks and no more memorisation, and a reconstruction
    error 1.3x the faithful recipe's; without the concurrent training the same tenth of the work gave 1.19x SWD.
    It also caps the convolution width at 48 (the reference doubles it every 4 scales, to 128 at a 250 px image's
    ninth scale): at 128 px the capped pyramids' mean patch SWD (two seeds on each of two images) came within 1.01x
    of the uncapped ones' (1.03x and 0.99x per image), with their diversity, reconstruction and masks, at 1.5x less
    work; a 250 px pyramid costs 2.9x less.
    """

    FAITHFUL = "faithful"
    FAST = "fast"
    DRAFT = "draft"


# Each recipe is a set of setting values over the defaults.
RECIPES: dict[str, dict[str, Any]] = {
    Recipe.FAITHFUL: {},
    # Three critic steps cost 2.1x the work of one and bought no measurable patch quality (BENCHMARKS.md).
    Recipe.FAST: {"critic_steps": 1},
    # Of the candidates at about 10x less work than the reference, this kept the most quality (BENCHMARKS.md):
    # concurrent training bought back most of what fewer iterations lost; half-width stages, more critic steps with
    # fewer iterations, or a higher learning rate did worse. Width 48 instead of 64-128 at the fine scales cost 1 % in
    # mean SWD at 128 px (3 % and -1 % on two images); 32 cost 7 % on the first and the reconstruction.
    Recipe.DRAFT: {"critic_steps": 1, "iterations": 1000, "finest_iterations": 250, "concurrent_scales": 3,
                   "max_features": 48},
}


def _setting(default: Any, help: str) -> Any:
    return field(default=default, metadata={"help": help})


@dataclass(frozen=True)
class SinGANSegSettings:
    """Training settings. The defaults reproduce the reference, ``singan-seg-polyp`` 1.0.7, as
    docs/reference_algorithm.md describes it.

    Deviations from the reference are settings with a reason, never silent:
    ``generator_steps=1`` is SinGAN-Seg's effective behaviour without its two wasted passes (set 3 for the original
    SinGAN's three real updates); ``lr_decay_fraction`` expresses the reference's fixed milestone 1600 of 2000 as a
    fraction so shorter runs decay too; ``reference_batchnorm_statistics`` reproduces, in one pass, the BatchNorm
    running statistics that the reference's three identical reconstruction passes (and its last sample-saving pass)
    leave behind: frozen scales sample with those statistics, so they set the reconstruction error and the noise
    amplitudes of the finer scales.
    """

    min_size: int = _setting(25, "smallest side of the coarsest scale, in pixels; at least num_layers x "
                             "(kernel_size - 1) + 1, what the critic's unpadded convolutions need")
    max_size: int = _setting(250, "longest side of the finest scale; larger images are shrunk to it")
    scale_factor: float = _setting(0.75, "requested factor between neighbouring scales")
    num_layers: int = _setting(5, "convolutions per generator and critic")
    kernel_size: int = _setting(3, "convolution kernel size")
    base_features: int = _setting(32, "convolution width at scales 0-3, doubled every 4 scales")
    max_features: int = _setting(128, "upper bound of the convolution width")
    iterations: int = _setting(2000, "training iterations per scale (of the coarsest scale with finest_iterations)")
    finest_iterations: int = _setting(
        0, "iterations of the finest scale, geometric from the coarsest's in between; 0: iterations at every scale")
    lr_generator: float = _setting(5e-4, "Adam learning rate of the generators")
    lr_critic: float = _setting(5e-4, "Adam learning rate of the critics")
    beta1: float = _setting(0.5, "Adam beta1 (beta2 is 0.999)")
    lr_decay: float = _setting(0.1, "learning-rate factor applied once, at lr_decay_fraction of the iterations")
    lr_decay_fraction: float = _setting(0.8, "when the learning rate decays (0.8 = iteration 1600 of 2000)")
    critic_steps: int = _setting(3, "critic updates per iteration, each with a fresh sample of the coarser scales")
    generator_steps: int = _setting(1, "generator updates per iteration (SinGAN-Seg: 1 effective; SinGAN: 3)")
    concurrent_scales: int = _setting(
        1, "scales trained together: the newest and the concurrent_scales - 1 finished ones below it, as ConSinGAN "
        "(Hinz et al., WACV 2021) does; 1: only the newest, as the reference")
    concurrent_lr_scale: float = _setting(
        0.1, "learning-rate factor per scale below the newest, with concurrent_scales > 1 (ConSinGAN's 0.1)")
    gradient_penalty_weight: float = _setting(0.1, "WGAN-GP weight (the reference's lambda_grad)")
    gradient_penalty_interval: int = _setting(
        1, "critic updates per gradient penalty, taken with interval x the weight (StyleGAN2's lazy "
        "regularisation, Karras et al., CVPR 2020); 1: at every update, as the reference. 4 and 8 raised the "
        "draft's patch SWD by 1.17-1.18x at 128 px for 1.1-1.3x less time (BENCHMARKS.md)")
    generator_ema: float = _setting(
        0.0, "decay of an exponential moving average of each scale's generator weights, which becomes the scale's "
        "result (weight averaging, Yazici et al., ICLR 2019); 0: the last weights, as the reference. 0.97 and 0.99 on "
        "the draft recipe at 64 px moved patch SWD by -0.8 to +1.0, no better than its seeds (BENCHMARKS.md)")
    reconstruction_weight: float = _setting(10.0, "weight of the reconstruction MSE (the reference's alpha)")
    reconstruction_interval: int = _setting(
        1, "generator updates per reconstruction loss, taken with interval x the weight (lazy, as "
        "gradient_penalty_interval); 1: at every update, as the reference. 2 and 4 raised the draft's patch SWD by "
        "1.11-1.12x and 1.21-1.29x at 64 px for 1.16x and 1.27x less work (BENCHMARKS.md)")
    noise_amplitude_factor: float = _setting(0.1, "noise amplitude = factor x RMSE of the coarser reconstruction")
    warm_start: bool = _setting(True, "start each scale from the previous scale's weights when widths match")
    reference_batchnorm_statistics: bool = _setting(
        True, "advance the generators' BatchNorm running statistics as the reference does: three passes over the "
        "reconstruction per generator update and one more after a scale's last update (off: one pass per update)")
    label_encoding: str = _setting("auto", "label channels: auto, binary, onehot or spread")
    seed: int = _setting(0, "seed of every random draw (weights, noise, penalty mixing)")
    batched_conv: str = _setting(
        "grouped", "how models trained together compute their convolutions: grouped (one grouped convolution), loop "
        "(one convolution per model) or gemm (unfolded patches and one batched matrix product); the same numbers up "
        "to rounding, at different speeds (BENCHMARKS.md)")
    fused_adam: bool = _setting(
        False, "Adam as one fused kernel per update, its learning rate a tensor: no host reads in a step, so it can be "
        "captured as a CUDA graph; rounds differently from torch's default loop (off: the default loop)")
    noise: str = _setting(
        "generator", "source of the training noise: generator (a torch generator per model, the reference's "
        "streams) or counter (a counter-based Philox stream per model: every model's noise in one call with no host "
        "work, so a step can be captured as a CUDA graph; other numbers, same distribution)")
    device: str = _setting("cpu", "torch device to train on, e.g. cpu, cuda, cuda:1")

    def __post_init__(self) -> None:
        # Every field is checked and normalised (numpy scalars, ints for floats, enums for strings) by the one owner
        # of the rules, which the command line shares.
        values = validate_settings({f.name: getattr(self, f.name) for f in fields(self)})
        for name, value in values.items():
            object.__setattr__(self, name, value)

    @property
    def lr_decay_iteration(self) -> int:
        return self.lr_decay_iteration_of(self.iterations)

    def lr_decay_iteration_of(self, iterations: int) -> int:
        """After how many of a scale's ``iterations`` the learning rate decays."""
        return round(self.lr_decay_fraction * iterations)

    def iterations_per_scale(self, num_scales: int) -> tuple[int, ...]:
        """Training iterations of every scale, coarsest first (see :func:`utils.pyramid.iterations_per_scale`)."""
        return iterations_per_scale(self.iterations, self.finest_iterations, num_scales)

    @classmethod
    def from_recipe(cls, recipe: Recipe | str = Recipe.FAITHFUL, **overrides: Any) -> SinGANSegSettings:
        """The settings of a named recipe, with ``overrides`` on top.

        Raises:
            ValueError: an unknown recipe or setting, or a value out of its range.
            TypeError: a value of the wrong type.

        Example::

            >>> SinGANSegSettings.from_recipe("fast", device="cuda").critic_steps
            1
        """
        if recipe not in RECIPES:
            raise ValueError(f"unknown recipe {recipe!r}; known recipes are {[str(r) for r in Recipe]}.")
        return cls.from_dict({**RECIPES[Recipe(recipe)], **overrides})

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SinGANSegSettings:
        """Settings from plain data; unknown keys are an error that names them.

        Raises:
            ValueError: unknown keys, or a value out of its range.
            TypeError: ``data`` is not a mapping, or a value of the wrong type.
        """
        if not isinstance(data, Mapping):
            raise TypeError(f"settings must be a mapping of setting names to values, got {type(data).__name__}.")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown settings {unknown}; known settings are {sorted(known)}.")
        return cls(**data)


# -- the rules ------------------------------------------------------------------------------------------------------

_FIELD_TYPES = {f.name: f.type for f in fields(SinGANSegSettings)}  # "int", "float", "bool" or "str"
_TYPE_NAMES = {"int": "an integer", "float": "a number", "bool": "True or False", "str": "a string"}


@dataclass(frozen=True)
class _Interval:
    """The numbers between ``low`` and ``high`` (``None``: unbounded), each end open or closed."""

    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False

    def __contains__(self, value: float) -> bool:
        if self.low is not None and (value <= self.low if self.low_open else value < self.low):
            return False
        return self.high is None or (value < self.high if self.high_open else value <= self.high)

    def __str__(self) -> str:
        if self.high is None:
            return f"{'>' if self.low_open else '>='} {self.low}"
        return f"in {'(' if self.low_open else '['}{self.low}, {self.high}{')' if self.high_open else ']'}"


_POSITIVE, _NON_NEGATIVE, _AT_LEAST_ONE = _Interval(0, low_open=True), _Interval(0), _Interval(1)
# Ranges of single fields; the rules that relate fields (max_size >= min_size, ...) are in validate_settings.
_INTERVALS: dict[str, _Interval] = {
    "min_size": _AT_LEAST_ONE,
    "max_size": _AT_LEAST_ONE,
    "scale_factor": _Interval(0, 1, low_open=True, high_open=True),
    "num_layers": _Interval(3),  # head, at least one body block, tail
    "kernel_size": _AT_LEAST_ONE,
    "base_features": _AT_LEAST_ONE,
    "max_features": _AT_LEAST_ONE,
    "iterations": _AT_LEAST_ONE,
    "finest_iterations": _NON_NEGATIVE,
    "lr_generator": _POSITIVE,
    "lr_critic": _POSITIVE,
    "beta1": _Interval(0, 1, high_open=True),
    "lr_decay": _Interval(0, 1, low_open=True),
    "lr_decay_fraction": _Interval(0, 1),
    "critic_steps": _AT_LEAST_ONE,
    "generator_steps": _AT_LEAST_ONE,
    "concurrent_scales": _AT_LEAST_ONE,
    "concurrent_lr_scale": _POSITIVE,
    "gradient_penalty_weight": _NON_NEGATIVE,
    "gradient_penalty_interval": _AT_LEAST_ONE,
    "generator_ema": _Interval(0, 1, high_open=True),
    "reconstruction_weight": _NON_NEGATIVE,
    "reconstruction_interval": _AT_LEAST_ONE,
    "noise_amplitude_factor": _NON_NEGATIVE,
    # torch.Generator.manual_seed takes [-2**63, 2**64 - 1]; training also seeds with seed + 1.
    "seed": _Interval(-(2**63), 2**64 - 2),
}
_CHOICES: dict[str, tuple[str, ...]] = {
    name: tuple(str(e) for e in choices)
    for name, choices in (("label_encoding", LabelEncoding), ("noise", NoiseKind), ("batched_conv", ConvFormulation))
}
_DEVICE_FORMS = "'cpu', 'cuda', 'cuda:<index>' (e.g. 'cuda:1') or 'mps', as torch.device reads them"


def setting_flag(name: str) -> str:
    """The command-line flag of a setting: ``min_size`` -> ``--min-size``."""
    return "--" + name.replace("_", "-")


class _Names:
    """How a message names a setting: as a field (``min_size=3``) or as a command-line flag (``--min-size 3``)."""

    def __init__(self, as_flags: bool) -> None:
        self.as_flags = as_flags

    def __call__(self, name: str) -> str:
        return setting_flag(name) if self.as_flags else name

    def given(self, name: str, value: Any) -> str:
        return f"{setting_flag(name)} {value}" if self.as_flags else f"{name}={value!r}"


def _typed(name: str, value: Any, names: _Names) -> Any:
    """``value`` as the Python type of field ``name``, or a TypeError that names the field and the type."""
    kind = _FIELD_TYPES[name]
    if kind == "bool" and isinstance(value, (bool, np.bool_)):
        return bool(value)
    if kind == "int" and isinstance(value, numbers.Integral) and not isinstance(value, bool):
        return int(value)
    if kind == "float" and isinstance(value, numbers.Real) and not isinstance(value, bool):
        return float(value)
    if kind == "str" and isinstance(value, str):
        return str(value)  # a plain str: StrEnum members would not load with torch.load(weights_only=True)
    if kind == "str" and name == "device" and isinstance(value, torch.device):
        return str(value)
    raise TypeError(f"{names.given(name, value)}: {names(name)} must be {_TYPE_NAMES[kind]}, got "
                    f"{type(value).__name__}.")


def _checked_field(name: str, value: Any, names: _Names) -> Any:
    """One field typed and checked against its own range or choices."""
    value = _typed(name, value, names)
    interval = _INTERVALS.get(name)
    if interval is not None:
        finite = "a finite number " if _FIELD_TYPES[name] == "float" else "an integer "
        if not (math.isfinite(value) and value in interval):
            raise ValueError(f"{names.given(name, value)} is out of range: {names(name)} must be {finite}{interval}.")
    if name == "kernel_size" and value % 2 == 0:
        raise ValueError(f"{names.given(name, value)} is out of range: {names(name)} must be an odd integer >= 1 "
                         "(the generator pads by (kernel_size - 1) / 2 per layer to keep its input's size).")
    if name in _CHOICES and value not in _CHOICES[name]:
        raise ValueError(f"{names.given(name, value)} is not a choice: {names(name)} must be one of "
                         f"{', '.join(_CHOICES[name])}.")
    if name == "device":
        try:
            torch.device(value)
        except (RuntimeError, ValueError):
            raise ValueError(f"{names.given(name, value)} is not a torch device: {names(name)} must be "
                             f"{_DEVICE_FORMS}.") from None
    return value


def validate_settings(values: Mapping[str, Any], as_flags: bool = False) -> dict[str, Any]:
    """Check settings against their rules; the one owner of those rules, for the dataclass and the command line.

    Any subset of the fields can be checked: each given field against its type and range, and the rules between
    fields whose fields are all given (``max_size >= min_size``, ``finest_iterations <= iterations``,
    ``max_features >= base_features``, ``min_size >= num_layers x (kernel_size - 1) + 1``).

    Args:
        values: setting names and values.
        as_flags: name the settings as command-line flags (``--min-size 3``) instead of fields (``min_size=3``).

    Returns:
        The values as the fields' Python types (``int``, ``float``, ``bool``, ``str``).

    Raises:
        ValueError: an unknown setting, or a value out of its range or choices; the message names the setting,
            the value and the valid range.
        TypeError: a value of the wrong type (``iterations=2.5``, ``warm_start="yes"``).

    Example::

        >>> validate_settings({"num_layers": 5, "kernel_size": 3, "min_size": 11})
        {'num_layers': 5, 'kernel_size': 3, 'min_size': 11}
    """
    names = _Names(as_flags)
    unknown = sorted(set(values) - set(_FIELD_TYPES))
    if unknown:
        raise ValueError(f"unknown settings {unknown}; known settings are {sorted(_FIELD_TYPES)}.")
    checked = {name: _checked_field(name, value, names) for name, value in values.items()}

    def at_least(name: str, bound: int, reason: str) -> None:
        if name in checked and checked[name] < bound:
            raise ValueError(f"{names.given(name, checked[name])} is out of range: {names(name)} must be >= "
                             f"{bound} ({reason}).")

    if {"num_layers", "kernel_size"} <= set(checked):
        layers, kernel = checked["num_layers"], checked["kernel_size"]
        reason = (f"the critic's {layers} unpadded {kernel}x{kernel} convolutions need {names('num_layers')} x "
                  f"({names('kernel_size')} - 1) + 1 pixels at the coarsest scale")
        if kernel == 1:
            reason = "the critic's BatchNorm, trained on one image, needs more than one pixel"
        at_least("min_size", smallest_scale_size(layers, kernel), reason)
    if "min_size" in checked:
        at_least("max_size", checked["min_size"], f"{names('min_size')} is {checked['min_size']}")
    if "base_features" in checked:
        at_least("max_features", checked["base_features"], f"{names('base_features')} is {checked['base_features']}")
    if "iterations" in checked and checked.get("finest_iterations", 0) > checked["iterations"]:
        raise ValueError(f"{names.given('finest_iterations', checked['finest_iterations'])} is out of range: "
                         f"{names('finest_iterations')} must lie in [0, {names('iterations')}] = "
                         f"[0, {checked['iterations']}].")
    if checked.get("concurrent_scales", 1) > 1 and checked.get("generator_steps", 1) > 1:
        # A second generator update would need the coarser scales' graph again, after the first moved their weights.
        raise ValueError(f"{names.given('concurrent_scales', checked['concurrent_scales'])} trains the coarser "
                         f"scales along, which needs {names('generator_steps')} 1, got "
                         f"{checked['generator_steps']}.")
    return checked


def available_device(device: str | torch.device, argument: str = "device") -> torch.device:
    """``device`` as a ``torch.device`` this machine can train on; where training starts, not in the settings.

    The settings accept any device string (a checkpoint trained on a GPU machine loads on one without); this check
    is for the machine that runs.

    Args:
        device: e.g. ``"cpu"``, ``"cuda"``, ``"cuda:1"``, ``"mps"``.
        argument: how the message names the device: ``"device"`` or a flag, ``"--device"``.

    Raises:
        ValueError: not a device string, or a device this torch or machine does not have.

    Example::

        >>> available_device("cpu")
        device(type='cpu')
    """
    as_flags = argument.startswith("--")
    given = f"{argument} {device}" if as_flags else f"{argument}={str(device)!r}"
    use_cpu = f"{argument} cpu" if as_flags else f"{argument}='cpu'"
    if not isinstance(device, (str, torch.device)):
        raise TypeError(f"{argument} must be a device string or torch.device, got {type(device).__name__}.")
    try:
        parsed = torch.device(device)
    except (RuntimeError, ValueError):
        raise ValueError(f"{given} is not a torch device: {argument} must be {_DEVICE_FORMS}.") from None
    if parsed.type == "cuda":
        if not torch.cuda.is_available():
            why = "this torch has no CUDA" if not torch.backends.cuda.is_built() else "no CUDA device is visible"
            raise ValueError(f"{given}: {why} (torch {torch.__version__}); use {use_cpu}")
        count = torch.cuda.device_count()
        if parsed.index is not None and parsed.index >= count:
            raise ValueError(f"{given}: this machine has {count} CUDA device{'s' * (count != 1)}, cuda:0 to "
                             f"cuda:{count - 1}.")
    if parsed.type == "mps" and not torch.backends.mps.is_available():
        raise ValueError(f"{given}: this torch or machine has no MPS (torch {torch.__version__}); use {use_cpu}")
    return parsed
