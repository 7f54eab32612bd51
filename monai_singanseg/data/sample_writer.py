"""Write samples of a trained pyramid to a folder: pairs in the input's format, a grid PNG and a datalist."""

from __future__ import annotations

import json
import os
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from monai_singanseg.data.checkpoint import pyramid_from_payload, read_checkpoint
from monai_singanseg.data.io import FileFormat
from monai_singanseg.data.writers import write_pair, write_png
from monai_singanseg.utils.visualize import sample_grid

__all__ = ["sample_to_folder"]


def sample_to_folder(
    model_path: str | os.PathLike,
    out_dir: str | os.PathLike,
    num_samples: int = 10,
    start_scale: int = 0,
    seed: int = 0,
    output_shape: Sequence[int] | None = None,
    device: torch.device | str = "cpu",
    batch_size: int = 16,
    grid_size: int = 16,
) -> list[tuple[Path, Path]]:
    """Sample ``num_samples`` pairs from the pyramid at ``model_path`` and write them to ``out_dir``.

    Writes ``sample_0000_image.*`` / ``sample_0000_label.*`` in the training input's format, ``grid.png`` (the first
    ``grid_size`` samples with their label overlays) and ``datalist.json`` (``{"training": [{"image", "label",
    "source_image", "source_id", "model", "start_scale", "seed"}]}``, readable by
    ``monai.data.load_decathlon_datalist``). Sample ``i`` depends only on ``seed`` and ``i``.

    Raises:
        FileNotFoundError, CheckpointError: unreadable model.
        ValueError: ``num_samples < 1`` or ``start_scale`` out of range.
    """
    payload = read_checkpoint(model_path)
    model = pyramid_from_payload(payload, source=str(model_path)).to(device)
    if not model.is_complete:
        warnings.warn(f"{model_path} is half-trained ({model.num_trained_scales} of {model.num_scales} scales): "
                      "samples come from its finest trained scale.")
    if num_samples < 1:
        raise ValueError(f"num_samples must be at least 1, got {num_samples}.")
    metadata: dict[str, Any] = payload.get("metadata", {})
    file_format = FileFormat(metadata.get("file_format", "png" if model.spatial_dims == 2 else "nifti"))
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths, entries, grid_images, grid_labels = [], [], [], []
    for first in range(0, num_samples, batch_size):
        count = min(batch_size, num_samples - first)
        # One generator per sample: sample i is the same whatever the batch size.
        stacks = torch.cat([
            model.sample(1, start_scale, torch.Generator().manual_seed(seed * 1_000_003 + i), output_shape)
            for i in range(first, first + count)
        ])
        images, labels = model.decode(stacks)
        for offset, (image, label) in enumerate(zip(images, labels)):
            index = first + offset
            image_path, label_path = write_pair(image, label, out_dir, f"sample_{index:04d}", file_format,
                                                metadata.get("affine"))
            paths.append((image_path, label_path))
            entries.append({
                "image": image_path.name, "label": label_path.name,
                "source_image": metadata.get("source"), "source_id": metadata.get("image_id"),
                "model": str(model_path), "start_scale": start_scale, "seed": seed, "index": index,
            })
        if len(grid_images) < grid_size:
            grid_images.extend(images[: grid_size - len(grid_images)])
            grid_labels.extend(labels[: grid_size - len(grid_labels)])
    write_png(sample_grid(torch.stack(grid_images), torch.stack(grid_labels), model.layout.label_values),
              out_dir / "grid.png")
    (out_dir / "datalist.json").write_text(json.dumps({"training": entries}, indent=2))
    return paths
