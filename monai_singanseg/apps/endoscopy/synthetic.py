"""Synthetic training data for the polyp bundle: sample the generators of the training images, optionally restyle the
synthetic images from their real images (SinGAN-Seg's second stage), and choose what a segmentation model trains on.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from monai_singanseg.apps.endoscopy.folds import check_no_leakage
from monai_singanseg.data.datalist import read_datalist, write_datalist
from monai_singanseg.data.writers import write_png
from monai_singanseg.style.datalist import read_rgb

if TYPE_CHECKING:
    from monai_singanseg.data.bank import SinGANSegBank
    from monai_singanseg.data.size_control import SizeControl

__all__ = ["StyleChoice", "TrainingData", "build_synthetic_dataset", "take_per_image", "training_bank",
           "training_datalist"]

SYNTHETIC_DATALIST = "datalist.json"


class TrainingData(StrEnum):
    """What the segmentation model trains on (the paper's comparisons, plus online augmentation).

    - ``real``: the real training images.
    - ``synthetic``: only synthetic pairs of the training images' generators (Table 1's synthetic rows).
    - ``real+synthetic``: both.
    - ``real+online``: the real images, each replaced with probability ``prob`` by a fresh pair of its own generator
      (:class:`~monai_singanseg.transforms.singanseg.RandSinGANSegd`).
    """

    REAL = "real"
    SYNTHETIC = "synthetic"
    REAL_AND_SYNTHETIC = "real+synthetic"
    REAL_ONLINE = "real+online"


class StyleChoice(StrEnum):
    """Style transfer of the synthetic images: ``none``, or a method of :class:`monai_singanseg.style.StyleMethod`."""

    NONE = "none"
    GATYS = "gatys"
    FOURIER = "fourier"
    HISTOGRAM = "histogram"


def _parse(enum: type[StrEnum], value: str, name: str) -> Any:
    try:
        return enum(value)
    except ValueError:
        raise ValueError(f"{name} must be one of {[m.value for m in enum]}, got {value!r}.") from None


def _plain_entry(image: str, label: str, image_id: str) -> dict[str, str]:
    # Only keys that collate: MONAI's collation fails on the None values sample datalists may hold.
    return {"image": image, "label": label, "image_id": image_id}


def training_datalist(
    mode: TrainingData | str, real: Sequence[dict[str, Any]], synthetic_datalist: str | os.PathLike | None = None
) -> list[dict[str, str]]:
    """The entries a segmentation model trains on in ``mode``.

    Args:
        mode: one of :class:`TrainingData`.
        real: the real training entries (``image``, ``label``, ``image_id``).
        synthetic_datalist: the datalist written by :func:`build_synthetic_dataset`, for the synthetic modes.

    Returns:
        ``[{"image", "label", "image_id"}]``; synthetic entries carry their generator's image id.

    Raises:
        ValueError: an unknown ``mode``, or no entries.
        FileNotFoundError: a synthetic mode whose datalist does not exist yet (run ``generate.json`` first).
    """
    mode = _parse(TrainingData, mode, "mode")
    entries = [] if mode == TrainingData.SYNTHETIC else [_plain_entry(e["image"], e["label"], e["image_id"])
                                                         for e in real]
    if mode in (TrainingData.SYNTHETIC, TrainingData.REAL_AND_SYNTHETIC):
        if synthetic_datalist is None or not Path(synthetic_datalist).is_file():
            raise FileNotFoundError(f"mode {mode.value!r} needs the synthetic datalist {synthetic_datalist}: run "
                                    "configs/generate.json first.")
        entries += [_plain_entry(e["image"], e["label"], e["image_id"]) for e in read_datalist(synthetic_datalist)]
    if not entries:
        raise ValueError(f"mode {mode.value!r} has no training images.")
    return entries


def training_bank(bank_dir: str | os.PathLike, pairs: Sequence[dict[str, Any]], cache_size: int = 8,
                  device: str = "cpu") -> SinGANSegBank:
    """The pyramids of ``pairs`` only, as a :class:`~monai_singanseg.data.bank.SinGANSegBank`.

    A bank may hold pyramids of every image of the dataset (one pyramid sees one image, so one bank serves every
    fold); a fold must use only those of its training images.

    Raises:
        ValueError: an image of ``pairs`` has no pyramid in ``bank_dir`` (run ``train_generators.json`` first).
    """
    from monai_singanseg.data.bank import SinGANSegBank

    bank = SinGANSegBank(bank_dir, cache_size=cache_size, device=device)
    ids = [entry["image_id"] for entry in pairs]
    missing = [i for i in ids if i not in bank]
    if missing:
        shown = ", ".join(missing[:8]) + (f" and {len(missing) - 8} more" if len(missing) > 8 else "")
        raise ValueError(f"bank {bank_dir} has no pyramid for {len(missing)} training images ({shown}): run "
                         "configs/train_generators.json first.")
    return SinGANSegBank([bank.path_of(i) for i in ids], cache_size=cache_size, device=device)


def _restyle(entries: list[dict[str, Any]], real_images: dict[str, str], out_dir: Path, method: StyleChoice,
             settings: dict[str, Any]) -> list[dict[str, str]]:
    """Restyle every synthetic image from the real image of its generator; labels are kept as they are."""
    from monai_singanseg.style import GatysStyleTransfer, style_transfer

    call_settings: dict[str, Any] = {}
    if method == StyleChoice.GATYS:
        # One VGG for the whole dataset (the reference loaded it again for every image).
        call_settings["engine"] = GatysStyleTransfer(
            weights_path=settings["weights_path"], content_weight=settings["content_weight"],
            style_weight=settings["style_weight"], steps=settings["steps"], device=settings["device"])
    elif method == StyleChoice.FOURIER:
        call_settings["beta"] = settings["beta"]
    by_model: dict[str, list[dict[str, Any]]] = {}
    for entry in entries:
        by_model.setdefault(entry["source_id"], []).append(entry)
    styled = []
    for image_id, group in by_model.items():
        # Samples of one pyramid share its shape: restyle them as one batch.
        content = torch.stack([read_rgb(e["image"]) for e in group])
        style = read_rgb(real_images[image_id], (content.shape[-1], content.shape[-2]))[None]
        restyled = style_transfer(content, style.expand_as(content), method.value, **call_settings)
        pixels = (restyled.clamp(0, 1) * 255).round().to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy()
        for entry, array in zip(group, pixels):
            target = write_png(array, out_dir / image_id / Path(entry["image"]).with_suffix(".png").name)
            styled.append(_plain_entry(str(target), entry["label"], image_id))
    return styled


def build_synthetic_dataset(
    bank_dir: str | os.PathLike,
    out_dir: str | os.PathLike,
    pairs: Sequence[dict[str, Any]],
    per_image: int = 10,
    start_scale: int = 0,
    seed: int = 0,
    style_method: StyleChoice | str = StyleChoice.NONE,
    style_weights_path: str | os.PathLike | None = None,
    content_weight: float = 1.0,
    style_weight: float = 1000.0,
    style_steps: int = 1000,
    fourier_beta: float = 0.01,
    held_out: Sequence[dict[str, Any]] = (),
    device: str = "cpu",
    size_control: SizeControl | None = None,
) -> Path:
    """Sample ``per_image`` synthetic pairs from the pyramid of each image of ``pairs``, optionally restyled.

    Writes ``out_dir/generated/`` (see :func:`monai_singanseg.data.generate_dataset`, resumable), the
    restyled images under ``out_dir/styled_<method>/`` when ``style_method`` is not ``none``, and
    ``out_dir/datalist.json``: ``{"training": [{"image", "label", "image_id"}]}`` with the generator's image id.

    Args:
        bank_dir: folder of pyramid checkpoints (it may hold more pyramids than ``pairs``).
        out_dir: destination folder.
        pairs: the real training entries whose generators are sampled (``image``, ``image_id``).
        per_image: synthetic pairs per real image (the paper: 1..5 for Table 1, 10 for Table 2).
        start_scale: first scale with fresh noise (0, the paper's setting, gives the most varied samples).
        seed: sampling seed.
        style_method: ``none``, ``gatys`` (needs ``style_weights_path``, VGG19 weights), ``fourier`` or
            ``histogram``.
        style_weights_path: VGG19 weights file for ``gatys``.
        content_weight: Gatys content weight (the paper compared 1:1 and 1:1000 content:style).
        style_weight: Gatys style weight.
        style_steps: Gatys optimisation steps (the reference: 1000).
        fourier_beta: Fourier window fraction.
        held_out: the evaluation entries; a generator of one of them is refused (no leakage).
        device: torch device for sampling and Gatys.
        size_control: lesion-size control of every pair (e.g. ``as_size_control("match_real")``: each pyramid's
            masks drawn again, within a budget, until their foreground share is near its training mask's); what it
            did is recorded in ``out_dir/generated/datalist.json``.

    Returns:
        The path of ``out_dir/datalist.json``.

    Raises:
        ValueError: an unknown style method, ``gatys`` without weights, leakage, or a training image without pyramid.
    """
    method = _parse(StyleChoice, style_method, "style_method")
    if method == StyleChoice.GATYS and style_weights_path is None:
        raise ValueError("style_method 'gatys' needs style_weights_path, a VGG19 weights file (torchvision's "
                         "vgg19-dcbb9e9d.pth); 'fourier' and 'histogram' need no weights.")
    check_no_leakage([e["image_id"] for e in pairs], [e["image_id"] for e in held_out])
    from monai_singanseg.data.synthetic_dataset import generate_dataset

    out_dir = Path(out_dir)
    bank = training_bank(bank_dir, pairs, device=device)
    summary = generate_dataset(bank, out_dir / "generated", per_image, start_scale, seed, device,
                               size_control=size_control)
    generated = read_datalist(summary.datalist)
    if method == StyleChoice.NONE:
        entries = [_plain_entry(e["image"], e["label"], e["source_id"]) for e in generated]
    else:
        settings = {"weights_path": style_weights_path, "content_weight": content_weight,
                    "style_weight": style_weight, "steps": style_steps, "beta": fourier_beta, "device": device}
        real_images = {e["image_id"]: e["image"] for e in pairs}
        entries = _restyle(generated, real_images, out_dir / f"styled_{method.value}", method, settings)
    return write_datalist(entries, out_dir / SYNTHETIC_DATALIST)


def take_per_image(datalist: str | os.PathLike, per_image: int, path: str | os.PathLike) -> Path:
    """Write a datalist of the first ``per_image`` synthetic pairs of each generator of ``datalist``.

    Sample ``i`` of a pyramid depends only on the seed and ``i``, so the first ``n`` of 5 samples are the samples a
    run with ``per_image=n`` would draw: one sampling serves every ``n`` of Table 1.

    Raises:
        ValueError: ``per_image < 1``.
    """
    if per_image < 1:
        raise ValueError(f"per_image must be at least 1, got {per_image}.")
    counts: dict[str, int] = {}
    kept = []
    for entry in read_datalist(datalist):
        if counts.get(entry["image_id"], 0) < per_image:
            counts[entry["image_id"]] = counts.get(entry["image_id"], 0) + 1
            kept.append(entry)
    return write_datalist(kept, path)
