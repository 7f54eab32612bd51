"""Draw synthetic multi-channel slices with their labels from an ensemble of slice generators and write them as
NIfTI (normalised units, on the source slice's grid) and as DICOM MR series (scanner units, marked synthetic)."""

from __future__ import annotations

import logging
import os
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import astuple
from pathlib import Path
from typing import Any

import torch

from monai_singanseg.apps.mri.dicom import write_dicom_series
from monai_singanseg.apps.mri.ensemble import even_schedule, member_dirs
from monai_singanseg.apps.mri.label_structure import count_structure_violations, tidy_tumour_label
from monai_singanseg.apps.mri.regions import is_brats_label_set
from monai_singanseg.apps.mri.slices import ChannelRange, denormalise_channels
from monai_singanseg.apps.mri.writers import write_slice_nifti
from monai_singanseg.data.datalist import write_datalist
from monai_singanseg.utils.seeds import sample_seed  # re-exported: the seed rule's home is utils.seeds

__all__ = ["SYNTHETIC_DATALIST", "generate_synthetic", "sample_seed"]

logger = logging.getLogger(__name__)

SYNTHETIC_DATALIST = "synthetic.json"

_DERIVATION = "Synthetic MR slice drawn from a SinGAN-Seg generator (monai_singanseg); not an acquired image."


def _slice_ids(banks: Sequence[Any]) -> list[str]:
    ids = set(banks[0].ids)
    for bank in banks[1:]:
        if set(bank.ids) != ids:
            missing = sorted(ids ^ set(bank.ids))[:5]
            raise ValueError(f"ensemble members hold different slices (e.g. {missing}); finish train_generators.")
    return sorted(ids)


def _write_dicom(image: torch.Tensor, label: torch.Tensor, metadata: dict[str, Any], folder: Path,
                 number: int) -> None:
    from pydicom.uid import generate_uid

    original = denormalise_channels(image, ChannelRange(tuple(metadata["intensity_low"]),
                                                        tuple(metadata["intensity_high"])))
    names = metadata.get("channel_names") or [f"channel{c}" for c in range(image.shape[0])]
    study, frame = generate_uid(), generate_uid()
    for channel, name in enumerate(names):
        write_dicom_series(original[channel], metadata["affine"], folder / name, f"{name} sample {number}",
                           study, frame, series_number=channel + 1, derivation_description=_DERIVATION)
    write_dicom_series(label[0], metadata["affine"], folder / "label", f"label sample {number}", study, frame,
                       series_number=len(names) + 1, derivation_description=_DERIVATION)


def _draw(model: Any, start_scale: int, noise: torch.Generator, shape: tuple[int, ...],
          tidy_labels: bool) -> tuple[torch.Tensor, torch.Tensor]:
    from monai_singanseg.utils.resize import resize

    image, label = model.decode(resize(model.sample(1, start_scale, noise), shape))
    image, label = image[0].float().cpu(), label[0].cpu()
    if tidy_labels:
        label = torch.as_tensor(tidy_tumour_label(image.numpy(), label[0].numpy()))[None]
    return image, label


def generate_synthetic(
    bank_dir: str | os.PathLike,
    out_dir: str | os.PathLike,
    num_samples: int,
    start_scale: int = 0,
    seed: int = 0,
    write_dicom: bool = True,
    device: str | torch.device = "cpu",
    tidy_labels: bool = False,
    structure_attempts: int = 1,
) -> list[dict[str, Any]]:
    """Draw ``num_samples`` synthetic slices from the ensemble in ``bank_dir``, evenly over members and slices.

    Writes ``<out_dir>/synthetic_<i>_image.nii.gz`` (``(X, Y, 1, C)`` in the normalised units of the real slices,
    on the grid of the slice the generator was trained on, so it overlays that slice), ``..._label.nii.gz`` (values
    of the label set only), with ``write_dicom`` ``<out_dir>/dicom/synthetic_<i>/<channel>/IM0001.dcm`` (one MR
    series per channel in the source case's units, and one for the label, in one study; see
    :func:`~monai_singanseg.apps.mri.dicom.write_dicom_series`), and ``<out_dir>/synthetic.json``, a datalist
    recording each sample's slice, member and seed.

    Samples of a pyramid trained smaller than the slice (``max_size`` below the slice size) are resized to the
    slice (image and label channels alike, before decoding, so the labels stay in the label set).

    Args:
        bank_dir: the ensemble folder written by :func:`~monai_singanseg.apps.mri.ensemble.train_slice_ensemble`.
        out_dir: destination folder.
        num_samples: how many samples.
        start_scale: first scale with fresh noise (0: most varied).
        seed: sample ``i`` uses noise seed :func:`sample_seed` of ``seed`` and ``i``.
        write_dicom: also write DICOM series.
        device: where the generators run.
        tidy_labels: set tumour labels outside the brain and tumour speckles to background
            (:func:`~monai_singanseg.apps.mri.label_structure.tidy_tumour_label`); BraTS label sets only.
        structure_attempts: draws at most per sample: a sample whose (tidied) label still breaks a check of
            :func:`~monai_singanseg.apps.mri.label_structure.count_structure_violations` (a tumour core floating
            in healthy tissue, which tidying cannot mend) is drawn again, from the same noise generator, until
            one passes or the budget is spent, when the last draw is kept; 1: every first draw, as plain
            sampling, unchecked. BraTS label sets only, when above 1; each entry then records its ``attempts`` and
            whether the kept draw passes (``structure_ok``).

    Returns:
        The datalist entries, paths absolute.

    Raises:
        FileNotFoundError: no member bank in ``bank_dir``.
        ValueError: members with different slices, ``num_samples < 1``, ``start_scale`` out of range,
            ``structure_attempts < 1``, or ``tidy_labels`` or ``structure_attempts > 1`` with a label set that is not
            BraTS's.
    """
    from monai_singanseg.data.bank import SinGANSegBank
    from monai_singanseg.data.checkpoint import pyramid_from_payload, read_checkpoint

    if isinstance(structure_attempts, bool) or not isinstance(structure_attempts, int) or structure_attempts < 1:
        raise ValueError(f"structure_attempts must be an integer >= 1 (draws per sample), got {structure_attempts!r}.")
    banks = [SinGANSegBank(folder) for folder in member_dirs(bank_dir)]
    slice_ids = _slice_ids(banks)
    schedule = even_schedule(num_samples, len(banks), len(slice_ids))
    by_generator: dict[tuple[int, int], list[int]] = defaultdict(list)
    for index, key in enumerate(schedule):
        by_generator[key].append(index)
    out_dir = Path(out_dir)
    entries: dict[int, dict[str, Any]] = {}
    # One generator at a time, loaded once for all its samples; a sample's noise depends on its index alone.
    for (member, position), indices in sorted(by_generator.items()):
        path = banks[member].path_of(slice_ids[position])
        payload = read_checkpoint(path, map_location=device)
        model, metadata = pyramid_from_payload(payload, source=str(path)), payload.get("metadata", {})
        shape = tuple(metadata.get("slice_shape") or model.scale_shapes[-1])
        for name, wanted in (("tidy_labels", tidy_labels), ("structure_attempts > 1", structure_attempts > 1)):
            if wanted and not is_brats_label_set(model.layout.label_values):
                raise ValueError(f"{name} needs a BraTS label set, but {path} has label values "
                                 f"{list(model.layout.label_values)}.")
        for index in indices:
            noise = torch.Generator().manual_seed(sample_seed(seed, index))
            structure: dict[str, Any] = {}
            for attempt in range(1, structure_attempts + 1):
                image, label = _draw(model, start_scale, noise, shape, tidy_labels)
                if structure_attempts == 1:
                    break
                structure = {"attempts": attempt, "structure_ok": not any(
                    astuple(count_structure_violations(image.numpy(), label[0].numpy())))}
                if structure["structure_ok"]:
                    break
            stem = f"synthetic_{index:05d}"
            image_path, label_path = write_slice_nifti(image, label, metadata["affine"], out_dir, stem)
            entry = {"image": str(image_path), "label": str(label_path), "source_slice": slice_ids[position],
                     "case_id": metadata.get("case_id", ""), "member": member, "seed": sample_seed(seed, index),
                     "start_scale": start_scale, "model": str(path), "tidy_labels": tidy_labels,
                     **structure}
            if write_dicom:
                _write_dicom(image, label, metadata, out_dir / "dicom" / stem, index)
                entry["dicom"] = str(out_dir / "dicom" / stem)
            entries[index] = entry
    ordered = [entries[i] for i in range(num_samples)]
    if structure_attempts > 1:
        logger.info("structure: %d of %d samples redrawn, %d still break a check after %d draws",
                    sum(e["attempts"] > 1 for e in ordered), num_samples,
                    sum(not e["structure_ok"] for e in ordered), structure_attempts)
    relative = [{**e, "image": Path(e["image"]).name, "label": Path(e["label"]).name,
                 **({"dicom": str(Path(e["dicom"]).relative_to(out_dir))} if "dicom" in e else {})} for e in ordered]
    write_datalist({"training": relative, "num_members": len(banks), "num_slices": len(slice_ids)},
                   out_dir / SYNTHETIC_DATALIST)
    logger.info("wrote %d synthetic slices from %d members x %d slices to %s", num_samples, len(banks),
                len(slice_ids), out_dir)
    return ordered
