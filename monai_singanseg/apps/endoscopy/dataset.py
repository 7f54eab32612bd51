"""Pair a polyp folder (Kvasir-SEG / HyperKvasir layout: ``images/*.jpg`` + ``masks/*``) and check it before training.

Every problem a user can fix is found in one pass and reported together, naming the files, so that a bad folder
fails in seconds instead of after hours of generator training.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image, ImageChops

from monai_singanseg.data.datalist import read_datalist, write_datalist  # re-exported for one release

__all__ = ["PolypDataError", "check_mask", "list_images", "pair_polyp_folder", "read_datalist", "write_datalist"]

# What PIL reads: photographs and masks of the public polyp sets (JPEG, PNG) and a few more.
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff")
# A mask is binary when almost every pixel is near 0 or near its maximum; JPEG masks have a thin band of
# in-between values along the polyp's border, which the label threshold (127) removes.
MAX_IN_BETWEEN_FRACTION = 0.02
# Colour masks (e.g. an image saved as a mask by mistake) differ between channels; grey masks saved as RGB do not,
# apart from JPEG chroma noise.
MAX_CHANNEL_SPREAD = 48
_MAX_LISTED = 8


class PolypDataError(ValueError):
    """A polyp folder that cannot be trained on: unpaired files, masks of the wrong size, non-binary masks."""


def _listing(names: Sequence[str]) -> str:
    names = sorted(names)
    shown = ", ".join(names[:_MAX_LISTED])
    return shown + (f" and {len(names) - _MAX_LISTED} more" if len(names) > _MAX_LISTED else "")


def _files_by_id(folder: Path) -> dict[str, Path]:
    """Image files of ``folder`` by id (the file name before its suffix); ids with an inner dot are refused,
    because the transforms and the bank cut ids at the first dot and the fleet trainer at the last."""
    files: dict[str, list[Path]] = {}
    for path in sorted(folder.iterdir()):
        if path.is_file() and not path.name.startswith(".") and path.suffix.lower() in IMAGE_SUFFIXES:
            files.setdefault(path.stem, []).append(path)
    problems = []
    clashes = [f"{k} ({', '.join(p.name for p in v)})" for k, v in files.items() if len(v) > 1]
    if clashes:
        problems.append(f"several files with one name stem in {folder}: {_listing(clashes)}")
    dotted = [k for k in files if "." in k]
    if dotted:
        problems.append(f"file names with an inner dot in {folder} (the image id is the name before the suffix; "
                        f"rename them): {_listing(dotted)}")
    if problems:
        raise PolypDataError("; ".join(problems) + ".")
    return {k: v[0] for k, v in files.items()}


def check_mask(mask_path: str | os.PathLike, image_size: tuple[int, int] | None = None) -> str | None:
    """What is wrong with one mask file, or ``None`` when it is a usable binary mask.

    Args:
        mask_path: the mask file (grey, or RGB with equal channels as in EndoTect).
        image_size: ``(width, height)`` of its image, to compare with the mask's.

    Returns:
        A sentence naming the file and the problem, or ``None``.

    Example::

        >>> check_mask("masks/cju0qkwl35piu0993l0dewei2.jpg", (622, 529)) is None
        True
    """
    path = Path(mask_path)
    try:
        with Image.open(path) as mask:
            size = mask.size
            if image_size is not None and tuple(size) != tuple(image_size):
                return (f"mask {path} is {size[0]}x{size[1]} (width x height) but its image is "
                        f"{image_size[0]}x{image_size[1]}")
            mask.load()
            if mask.mode in ("RGB", "RGBA"):
                red, green, blue = mask.convert("RGB").split()
                # Histograms of the channel differences: PIL's C loops, about 20x faster than numpy arrays here.
                spread = sum(sum(ImageChops.difference(a, b).histogram()[MAX_CHANNEL_SPREAD + 1:])
                             for a, b in ((red, green), (green, blue), (red, blue)))
                if spread > MAX_IN_BETWEEN_FRACTION * size[0] * size[1]:
                    return f"mask {path} is a colour image (its channels differ); save masks as grey {{0, 255}} images"
            if mask.mode in ("I", "I;16", "F"):  # 16-bit and float masks: count their rounded values
                counts = np.bincount(np.asarray(mask, dtype=np.float64).round().clip(0).astype(np.int64).ravel())
            else:
                counts = np.asarray(mask.convert("L").histogram())
    except OSError as err:
        return f"mask {path} cannot be read: {err}"
    values = np.nonzero(counts)[0]
    top = values.max()
    if top <= 0:
        return None  # an empty mask is binary: an image without a polyp
    relative = np.arange(len(counts)) / top
    in_between = counts[(relative > 0.25) & (relative < 0.75)].sum() / counts.sum()
    if in_between > MAX_IN_BETWEEN_FRACTION:
        shown = ", ".join(f"{v:g}" for v in values[:_MAX_LISTED]) + (" ..." if len(values) > _MAX_LISTED else "")
        return (f"mask {path} is not binary: {100 * in_between:.1f} % of its pixels lie between background "
                f"and foreground (values {shown}); masks must hold two values such as {{0, 255}} or {{0, 1}}")
    return None


def pair_polyp_folder(
    data_dir: str | os.PathLike,
    images: str = "images",
    masks: str = "masks",
    check_masks: bool = True,
) -> list[dict[str, str]]:
    """Pair every image of ``data_dir/images`` with the mask of the same name stem in ``data_dir/masks``.

    All problems are gathered and raised at once: masks without an image, images without a mask, masks whose size
    differs from their image's, non-binary or colour masks, unreadable files, an empty folder.

    Args:
        data_dir: folder holding the image and mask folders (Kvasir-SEG, HyperKvasir segmented images, EndoTect).
        images: name of the image folder.
        masks: name of the mask folder.
        check_masks: read every mask and check its size and values (about 10 ms a pair).

    Returns:
        ``[{"image", "label", "image_id"}]`` sorted by ``image_id``, with absolute paths: a MONAI datalist.

    Raises:
        FileNotFoundError: ``data_dir`` or one of its two folders does not exist.
        PolypDataError: (a ``ValueError``) naming every unpaired or bad file.

    Example::

        >>> pairs = pair_polyp_folder("Kvasir-SEG")
        >>> pairs[0]["image_id"], Path(pairs[0]["label"]).name
        ('cju0qkwl35piu0993l0dewei2', 'cju0qkwl35piu0993l0dewei2.jpg')
    """
    root = Path(data_dir)
    if not root.is_dir():
        raise FileNotFoundError(f"data folder {root} does not exist.")
    image_dir, mask_dir = root / images, root / masks
    missing = [str(d) for d in (image_dir, mask_dir) if not d.is_dir()]
    if missing:
        raise FileNotFoundError(f"data folder {root} must hold {images}/ and {masks}/ (a mask per image with the same "
                                f"name stem); missing: {', '.join(missing)}.")
    image_files, mask_files = _files_by_id(image_dir), _files_by_id(mask_dir)
    if not image_files and not mask_files:
        raise PolypDataError(f"data folder {root} is empty: {image_dir} and {mask_dir} hold no "
                             f"{'/'.join(IMAGE_SUFFIXES)} files.")
    problems = []
    orphans = sorted(mask_files.keys() - image_files.keys())
    if orphans:
        problems.append(f"masks without an image in {image_dir}: {_listing([mask_files[k].name for k in orphans])}")
    lonely = sorted(image_files.keys() - mask_files.keys())
    if lonely:
        problems.append(f"images without a mask in {mask_dir}: {_listing([image_files[k].name for k in lonely])}")
    paired = sorted(image_files.keys() & mask_files.keys())
    if check_masks:
        for image_id in paired:
            try:
                with Image.open(image_files[image_id]) as image:
                    size = image.size
            except OSError as err:
                problems.append(f"image {image_files[image_id]} cannot be read: {err}")
                continue
            problem = check_mask(mask_files[image_id], size)
            if problem:
                problems.append(problem)
    if problems:
        raise PolypDataError(f"data folder {root} cannot be used:\n- " + "\n- ".join(problems))
    return [{"image": str(image_files[k].resolve()), "label": str(mask_files[k].resolve()), "image_id": k}
            for k in paired]


def list_images(folder: str | os.PathLike) -> list[dict[str, str]]:
    """``[{"image"}]`` for every image file of ``folder``, sorted by name: the input of inference.

    Raises:
        FileNotFoundError: ``folder`` does not exist or holds no image file.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"input folder {folder} does not exist.")
    files = sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith(".")
                   and p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise FileNotFoundError(f"input folder {folder} holds no {'/'.join(IMAGE_SUFFIXES)} image.")
    return [{"image": str(p.resolve())} for p in files]
