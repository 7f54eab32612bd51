"""The one source of truth for SinGAN-Seg training settings, saved with every checkpoint."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from enum import StrEnum
from typing import Any

from monai_singanseg.utils.pyramid import iterations_per_scale

__all__ = ["RECIPES", "Recipe", "SinGANSegSettings"]


class Recipe(StrEnum):
    """Named training recipes, measured side by side by ``benchmarks/bench_quality.py`` (BENCHMARKS.md, "Quality per
    compute").

    ``faithful`` reproduces the reference. ``fast`` takes one critic step per iteration instead of three: about half
    the work; at 64 px its samples stayed within the faithful recipe's seed-to-seed spread in patch SWD,
    reconstruction error, mask validity and memorisation, and were slightly more varied.
    ``draft`` also trains 400 iterations per scale instead of 2000: about a tenth of the work, but its samples vary
    more and lie further from the training image (patch SWD about 1.3-1.9x the faithful recipe's, reconstruction
    error 2-4x), a cheaper first look, not a substitute for the faithful recipe.
    """

    FAITHFUL = "faithful"
    FAST = "fast"
    DRAFT = "draft"


# Each recipe is a set of setting values over the defaults.
RECIPES: dict[str, dict[str, Any]] = {
    Recipe.FAITHFUL: {},
    # Three critic steps cost 2.1x the work of one and bought no measurable patch quality (BENCHMARKS.md).
    Recipe.FAST: {"critic_steps": 1},
    # Of the candidates at about 10x less work, one critic step with 400 iterations kept the most quality per GFLOP;
    # fewer iterations at the fine scales only, or more critic steps with fewer iterations, did worse.
    Recipe.DRAFT: {"iterations": 400, "critic_steps": 1},
}


def _setting(default: Any, help: str) -> Any:
    return field(default=default, metadata={"help": help})


@dataclass(frozen=True)
class SinGANSegSettings:
    """Training settings. The defaults reproduce the reference (``singan-seg-polyp`` 1.0.7, see REFERENCE.md).

    Deviations from the reference are settings with a reason, never silent:
    ``generator_steps=1`` is SinGAN-Seg's effective behaviour without its two wasted passes (set 3 for the original
    SinGAN's three real updates); ``lr_decay_fraction`` expresses the reference's fixed milestone 1600 of 2000 as a
    fraction so shorter runs decay too; ``reference_batchnorm_statistics`` reproduces, in one pass, the BatchNorm
    running statistics that the reference's three identical reconstruction passes (and its last sample-saving pass)
    leave behind: frozen scales sample with those statistics, so they set the reconstruction error and the noise
    amplitudes of the finer scales.
    """

    min_size: int = _setting(25, "smallest side of the coarsest scale, in pixels")
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
    gradient_penalty_weight: float = _setting(0.1, "WGAN-GP weight (the reference's lambda_grad)")
    reconstruction_weight: float = _setting(10.0, "weight of the reconstruction MSE (the reference's alpha)")
    noise_amplitude_factor: float = _setting(0.1, "noise amplitude = factor x RMSE of the coarser reconstruction")
    warm_start: bool = _setting(True, "start each scale from the previous scale's weights when widths match")
    reference_batchnorm_statistics: bool = _setting(
        True, "advance the generators' BatchNorm running statistics as the reference does: three passes over the "
        "reconstruction per generator update and one more after a scale's last update (off: one pass per update)")
    label_encoding: str = _setting("auto", "label channels: auto, binary, onehot or spread")
    seed: int = _setting(0, "seed of every random draw (weights, noise, penalty mixing)")
    device: str = _setting("cpu", "torch device to train on, e.g. cpu, cuda, cuda:1")

    def __post_init__(self) -> None:
        checks = {
            "min_size": self.min_size >= 1,
            "max_size": self.max_size >= self.min_size,
            "scale_factor": 0 < self.scale_factor < 1,
            "num_layers": self.num_layers >= 3,
            "kernel_size": self.kernel_size >= 1 and self.kernel_size % 2 == 1,
            "iterations": self.iterations >= 1,
            "finest_iterations": 0 <= self.finest_iterations <= self.iterations,
            "critic_steps": self.critic_steps >= 1,
            "generator_steps": self.generator_steps >= 1,
            "lr_decay_fraction": 0 <= self.lr_decay_fraction <= 1,
            "label_encoding": self.label_encoding in ("auto", "binary", "onehot", "spread"),
        }
        for name, ok in checks.items():
            if not ok:
                raise ValueError(f"invalid setting {name}={getattr(self, name)!r}.")

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
            ValueError: an unknown recipe or setting.

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
        """Settings from plain data; unknown keys are an error that names them."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown settings {unknown}; known settings are {sorted(known)}.")
        return cls(**data)
