"""Train many single-image pyramids at once on one device."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ignite.engine import Events

from monai_singanseg.engines.trainer import SinGANSegTrainer
from monai_singanseg.networks.singanseg import SinGANSeg
from monai_singanseg.settings import SinGANSegSettings
from monai_singanseg.utils.layout import ChannelLayout

__all__ = ["train_batched"]


def train_batched(
    images: Sequence[Any],
    labels: Sequence[Any],
    settings: SinGANSegSettings | None = None,
    seeds: Sequence[int] | None = None,
    label_values: Sequence[float] | None = None,
    progress: bool = False,
) -> list[SinGANSeg]:
    """Train one pyramid per image+label pair, all at once as grouped convolutions.

    Batching across models, not within one (batching one model's samples upsets SinGAN's min-max balance, as its
    maintainers note): each model keeps its own losses, gradient penalty, BatchNorm statistics, noise amplitudes,
    optimiser state and random draws, so model ``m`` equals ``train_singanseg(images[m], labels[m],
    replace(settings, seed=seeds[m]))`` up to float rounding. The pairs must give the same pyramid shapes.

    Args:
        images: channel-first images, one per model.
        labels: their label maps.
        settings: training settings shared by all models.
        seeds: one seed per model (default: ``settings.seed`` for all).
        label_values: the valid label values (inferred per label when omitted).
        progress: show a progress bar per scale.

    Returns:
        One trained pyramid per pair, in order.

    Raises:
        ValueError: pairs with different pyramid shapes or channel counts, or invalid pairs.
    """
    settings = settings or SinGANSegSettings()
    if len(images) != len(labels):
        raise ValueError(f"got {len(images)} images but {len(labels)} labels.")
    layouts = [ChannelLayout.from_data(i, lab, settings.label_encoding, label_values) for i, lab in zip(images, labels)]
    stacks = [layout.encode(i, lab) for layout, i, lab in zip(layouts, images, labels)]
    trainer = SinGANSegTrainer(stacks, layouts, settings, seeds)
    if progress:
        from ignite.handlers import ProgressBar

        ProgressBar(persist=True).attach(trainer.engine, event_name=Events.ITERATION_COMPLETED(every=10))
    return trainer.run()
