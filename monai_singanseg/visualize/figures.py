"""Pictures a person can look at: sample grids with label overlays, histograms, closest pairs, mask maps, and
multi-channel slices beside their synthetic samples.

Every function takes tensors and returns a picture (``PIL.Image.Image``, or ``H x W x 3`` uint8 for grids); saving
is left to the caller.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, ImageDraw, ImageFont


__all__ = ["channel_comparison", "closest_pairs", "histogram_chart", "label_overlay", "mask_maps", "overlay_mask", "sample_grid", "to_pil",
           "to_uint8_rgb"]

_BACKGROUND = (255, 255, 255)
_TEXT = (20, 20, 20)
_SERIES_COLOURS = [(31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40)]
_CAPTION_HEIGHT = 18
# Distinct colours for label values 1, 2, 3, ... (background is never coloured).
_PALETTE = np.array(
    [[0, 255, 0], [255, 64, 64], [64, 128, 255], [255, 220, 0], [255, 0, 255], [0, 255, 255]], dtype=np.float64
)


def to_uint8_rgb(image: torch.Tensor | np.ndarray, intensity_min: float | None = None, intensity_max: float | None = None) -> np.ndarray:
    """A channel-first 2D image as ``H x W x 3`` uint8 for viewing: RGB kept, one channel greyed, others the first.

    uint8 images are kept as they are; other dtypes are stretched from ``[intensity_min, intensity_max]`` (their own
    range by default) to [0, 255].
    """
    array = np.asarray(image.detach().cpu() if isinstance(image, torch.Tensor) else image)
    if array.dtype != np.uint8:
        low = float(array.min()) if intensity_min is None else intensity_min
        high = float(array.max()) if intensity_max is None else intensity_max
        array = np.clip((array.astype(np.float64) - low) / max(high - low, 1e-12) * 255, 0, 255).round().astype(np.uint8)
    if array.shape[0] == 3:
        return np.ascontiguousarray(np.moveaxis(array, 0, -1))
    return np.repeat(array[0][..., None], 3, axis=-1)


def _font() -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    return ImageFont.load_default()


def to_pil(image: torch.Tensor) -> Image.Image:
    """An RGB picture of a ``(C, H, W)`` image in ``[0, 1]``: one channel is shown grey, more than three cut to three.

    Args:
        image: ``(C, H, W)`` tensor.

    Returns:
        RGB image.

    Example::

        >>> to_pil(torch.zeros(1, 4, 6)).size
        (6, 4)
    """
    rgb = image[:3] if image.shape[0] >= 3 else image[:1].expand(3, *image.shape[1:])
    array = (rgb.clamp(0, 1) * 255).round().to(torch.uint8).permute(1, 2, 0).contiguous().numpy()
    return Image.fromarray(array, mode="RGB")


def overlay_mask(
    image: torch.Tensor, mask: torch.Tensor, colour: tuple[int, int, int] = (0, 255, 0), alpha: float = 0.3
) -> Image.Image:
    """The image with the mask tinted and outlined, to check that image and mask agree.

    Args:
        image: ``(C, H, W)`` image in ``[0, 1]``.
        mask: ``(1, H, W)`` binary mask.
        colour: RGB colour of the tint and outline.
        alpha: opacity of the tint.

    Returns:
        RGB image.

    Example::

        >>> mask = torch.zeros(1, 8, 8)
        >>> mask[:, 2:6, 2:6] = 1
        >>> picture = overlay_mask(torch.zeros(3, 8, 8), mask)
        >>> picture.getpixel((2, 2)), picture.getpixel((3, 3)), picture.getpixel((0, 0))
        ((0, 255, 0), (0, 76, 0), (0, 0, 0))
    """
    rgb = image[:3] if image.shape[0] >= 3 else image[:1].expand(3, *image.shape[1:])
    foreground = mask[:1].float() > 0.5
    # The outline is the foreground minus its 3x3 erosion (a max-pool of the background).
    eroded = ~(F.max_pool2d((~foreground).float()[None], 3, stride=1, padding=1)[0] > 0)
    outline = foreground & ~eroded
    tint = torch.tensor(colour, dtype=torch.float32)[:, None, None] / 255
    blended = torch.where(foreground, (1 - alpha) * rgb.float() + alpha * tint, rgb.float())
    return to_pil(torch.where(outline, tint.expand_as(blended), blended))


def _caption(canvas: Image.Image, xy: tuple[int, int], text: str) -> None:
    ImageDraw.Draw(canvas).text(xy, text, fill=_TEXT, font=_font())


def _middle_slice(x: np.ndarray) -> np.ndarray:
    # 3D stacks are shown by their middle slice along the last axis (axial for RAS volumes).
    return x[..., x.shape[-1] // 2] if x.ndim == 4 else x


def label_overlay(
    rgb: np.ndarray,
    label: np.ndarray,
    label_values: Sequence[float],
    opacity: float = 0.35,
    colours: Sequence[tuple[int, int, int]] | None = None,
) -> np.ndarray:
    """Blend each non-background label value in its own colour over ``rgb`` (``H x W x 3`` uint8), outlining it.

    Args:
        rgb: the picture, ``H x W x 3`` uint8.
        label: ``H x W`` label map.
        label_values: the layout's label values, background first (never coloured).
        opacity: of the tint inside each region.
        colours: one RGB colour per non-background value, cycled; default a palette of six.

    Returns:
        ``H x W x 3`` uint8.
    """
    palette = _PALETTE if colours is None else np.asarray(colours, dtype=np.float64)
    out = rgb.astype(np.float64)
    for i, value in enumerate(label_values[1:]):
        region = label == value
        if not region.any():
            continue
        colour = palette[i % len(palette)]
        out[region] = (1 - opacity) * out[region] + opacity * colour
        inner = region.copy()
        inner[1:-1, 1:-1] = region[1:-1, 1:-1] & region[:-2, 1:-1] & region[2:, 1:-1] & region[1:-1, :-2] & region[1:-1, 2:]
        out[region & ~inner] = colour
    return out.round().astype(np.uint8)


def sample_grid(
    images: torch.Tensor,
    labels: torch.Tensor,
    label_values: Sequence[float] = (0, 1),
    columns: int = 4,
    padding: int = 2,
    *,
    beside: bool = True,
    names: Sequence[str] | None = None,
    title: str | None = None,
    max_items: int | None = None,
    value_range: tuple[float, float] | None = None,
) -> np.ndarray:
    """A grid of image+label pairs: each cell is the image and, beside it, the image with its labels overlaid.

    The one grid of the package: sample folders, tutorials and the evaluation report draw with it. 3D stacks show
    their middle slice along the last axis.

    Args:
        images: decoded images ``(N, C, *spatial)``.
        labels: decoded labels ``(N, 1, *spatial)``.
        label_values: the layout's label values (background first).
        columns: cells per row.
        padding: white pixels between cells.
        beside: show the plain image beside its overlay (False: the overlay alone).
        names: one caption under each cell.
        title: text above the grid.
        max_items: cells at most (default all).
        value_range: ``(low, high)`` of the image values; default the batch's own range (uint8 as it is).

    Returns:
        ``H x W x 3`` uint8.

    Example::

        >>> sample_grid(torch.rand(3, 3, 8, 8), torch.ones(3, 1, 8, 8), columns=2, padding=0).shape
        (16, 32, 3)
    """
    count = len(images) if max_items is None else min(len(images), max_items)
    images_np = np.asarray(images[:count].detach().cpu())
    labels_np = np.asarray(labels[:count].detach().cpu())
    low, high = (float(images_np.min()), float(images_np.max())) if value_range is None else value_range
    cells = []
    for image, label in zip(images_np, labels_np):
        rgb = to_uint8_rgb(_middle_slice(image), low, high) if image.dtype != np.uint8 else to_uint8_rgb(_middle_slice(image))
        overlay = label_overlay(rgb, _middle_slice(label)[0], label_values)
        gap = np.full((rgb.shape[0], padding, 3), 255, np.uint8)
        cells.append(np.concatenate([rgb, gap, overlay], axis=1) if beside else overlay)
    height, width = cells[0].shape[:2]
    caption, top = (_CAPTION_HEIGHT if names is not None else 0), (_CAPTION_HEIGHT if title is not None else 0)
    rows = -(-len(cells) // columns)
    columns = min(columns, len(cells))
    grid = np.full((top + rows * (height + caption + padding) + padding, columns * (width + padding) + padding, 3),
                   255, np.uint8)
    corners = []
    for i, cell in enumerate(cells):
        r, c = divmod(i, columns)
        y, x = top + padding + r * (height + caption + padding), padding + c * (width + padding)
        grid[y : y + height, x : x + width] = cell
        corners.append((x, y + height))
    if names is None and title is None:
        return grid
    canvas = Image.fromarray(grid)
    if title is not None:
        _caption(canvas, (4, 2), title)
    for name, (x, y) in zip(names or [], corners):
        _caption(canvas, (x + 2, y + 2), name[: max(4, width // 7)])
    return np.asarray(canvas)


def histogram_chart(
    series: Mapping[str, torch.Tensor], title: str, x_label: str, size: tuple[int, int] = (640, 360)
) -> Image.Image:
    """Side-by-side bar chart of histograms, each scaled to the percentage of its own set.

    Args:
        series: legend label -> ``(num_bins,)`` counts over ``[0, 100] %``; all of one length.
        title: text above the chart.
        x_label: text below the axis.
        size: ``(width, height)`` in pixels.

    Returns:
        RGB image.

    Raises:
        ValueError: if ``series`` is empty or the histograms differ in length.

    Example::

        >>> histogram_chart({"real": torch.tensor([1, 3])}, "fractions", "foreground %").size
        (640, 360)
    """
    if not series or len({len(counts) for counts in series.values()}) != 1:
        raise ValueError("series must hold at least one histogram, all with the same number of bins.")
    percentages = {label: 100 * counts.double() / max(int(counts.sum()), 1) for label, counts in series.items()}
    num_bins = len(next(iter(percentages.values())))
    top_value = max(float(values.max()) for values in percentages.values()) or 1.0
    width, height = size
    left, right, top, bottom = 48, 12, 40, 40
    canvas = Image.new("RGB", size, _BACKGROUND)
    draw = ImageDraw.Draw(canvas)
    draw.text((left, 8), title, fill=_TEXT, font=_font())
    plot_width, plot_height = width - left - right, height - top - bottom
    bin_width = plot_width / num_bins
    bar_width = bin_width * 0.8 / len(percentages)
    for series_index, (label, values) in enumerate(percentages.items()):
        colour = _SERIES_COLOURS[series_index % len(_SERIES_COLOURS)]
        for bin_index, value in enumerate(values.tolist()):
            x0 = left + bin_index * bin_width + bin_width * 0.1 + series_index * bar_width
            bar_top = top + plot_height * (1 - value / top_value)
            draw.rectangle([x0, bar_top, x0 + bar_width - 1, top + plot_height], fill=colour)
        legend_x = width - right - 150
        draw.rectangle([legend_x, 10 + 14 * series_index, legend_x + 10, 20 + 14 * series_index], fill=colour)
        draw.text((legend_x + 14, 8 + 14 * series_index), label, fill=_TEXT, font=_font())
    draw.line([left, top, left, top + plot_height, left + plot_width, top + plot_height], fill=_TEXT)
    for tick in range(0, 101, 20):
        x = left + plot_width * tick / 100
        draw.line([x, top + plot_height, x, top + plot_height + 4], fill=_TEXT)
        draw.text((x - 8, top + plot_height + 6), f"{tick}", fill=_TEXT, font=_font())
    for fraction in (0.0, 0.5, 1.0):
        y = top + plot_height * (1 - fraction)
        draw.text((4, y - 6), f"{top_value * fraction:.0f}%", fill=_TEXT, font=_font())
    draw.text((left + plot_width // 2 - 40, height - 16), x_label, fill=_TEXT, font=_font())
    return canvas


def closest_pairs(
    synthetic: torch.Tensor, real: torch.Tensor, captions: Sequence[str], title: str
) -> Image.Image:
    """Rows of ``synthetic | real`` pairs with one caption per row, for the near-copy check.

    Args:
        synthetic: ``(K, C, H, W)`` synthetic images.
        real: ``(K, C, H, W)`` their nearest real images.
        captions: one line per pair.
        title: text above the pairs.

    Returns:
        RGB image.

    Example::

        >>> closest_pairs(torch.rand(2, 3, 8, 8), torch.rand(2, 3, 8, 8), ["a", "b"], "pairs").size[1]
        70
    """
    height, width = synthetic.shape[-2:]
    row_height = height + _CAPTION_HEIGHT
    measure = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    text_width = max(int(measure.textlength(text, font=_font())) for text in [title, *captions]) + 8
    canvas_size = (max(2 * width + 8, text_width), _CAPTION_HEIGHT + len(synthetic) * row_height)
    canvas = Image.new("RGB", canvas_size, _BACKGROUND)
    _caption(canvas, (4, 2), title)
    for index, caption in enumerate(captions):
        top = _CAPTION_HEIGHT + index * row_height
        _caption(canvas, (4, top + 2), caption)
        canvas.paste(to_pil(synthetic[index]), (0, top + _CAPTION_HEIGHT))
        canvas.paste(to_pil(real[index]), (width + 8, top + _CAPTION_HEIGHT))
    return canvas


def mask_maps(maps: Mapping[str, torch.Tensor]) -> Image.Image:
    """Grey maps side by side with captions, e.g. pixel-wise mean and std masks (SinGAN-Seg Figure 5).

    Args:
        maps: caption -> ``(1, H, W)`` map in ``[0, 1]``, all of one size.

    Returns:
        RGB image.

    Example::

        >>> mask_maps({"mean": torch.zeros(1, 8, 8), "std": torch.ones(1, 8, 8)}).size
        (16, 26)
    """
    tiles = list(maps.items())
    height, width = tiles[0][1].shape[-2:]
    canvas = Image.new("RGB", (len(tiles) * width, height + _CAPTION_HEIGHT), _BACKGROUND)
    for index, (caption, values) in enumerate(tiles):
        canvas.paste(to_pil(values), (index * width, 0))
        _caption(canvas, (index * width + 2, height + 2), caption)
    return canvas


def channel_comparison(
    real_image: np.ndarray,
    real_label: np.ndarray,
    synthetic_images: Sequence[np.ndarray],
    synthetic_labels: Sequence[np.ndarray],
    label_values: Sequence[float],
    channel_names: Sequence[str],
    title: str | None = None,
    padding: int = 2,
) -> np.ndarray:
    """A real multi-channel slice beside synthetic slices made from it: one grey row per channel (each channel at
    the real slice's own range, so brightness compares), and a row of labels over the first channel.

    Args:
        real_image: ``(C, H, W)``.
        real_label: ``(H, W)`` label values.
        synthetic_images: ``(C, H, W)`` each.
        synthetic_labels: ``(H, W)`` each.
        label_values: the label set, background first.
        channel_names: one row name per channel.
        title: text above the picture.
        padding: white pixels between tiles.

    Returns:
        ``H x W x 3`` uint8; columns "real", "synthetic 1", ...

    Example::

        >>> channel_comparison(np.zeros((2, 8, 8)), np.zeros((8, 8)), [np.ones((2, 8, 8))], [np.zeros((8, 8))],
        ...                    [0, 1], ["flair", "t1c"]).shape[2]
        3
    """
    images = [np.asarray(real_image), *map(np.asarray, synthetic_images)]
    labels = [np.asarray(real_label), *map(np.asarray, synthetic_labels)]
    if len(channel_names) != images[0].shape[0]:
        raise ValueError(f"{len(channel_names)} channel names for {images[0].shape[0]} channels.")
    ranges = [(float(c.min()), float(c.max())) for c in images[0]]
    rows = [[to_uint8_rgb(image[c : c + 1], *ranges[c]) for image in images] for c in range(len(channel_names))]
    rows.append([label_overlay(to_uint8_rgb(image[:1], *ranges[0]), label, label_values)
                 for image, label in zip(images, labels)])
    height, width = rows[0][0].shape[:2]
    name_width, top = 48, _CAPTION_HEIGHT * (2 if title else 1)
    canvas = Image.new("RGB", (name_width + len(images) * (width + padding) + padding,
                               top + len(rows) * (height + padding) + padding), _BACKGROUND)
    if title:
        _caption(canvas, (4, 2), title)
    for column, name in enumerate(["real"] + [f"synthetic {i}" for i in range(1, len(images))]):
        _caption(canvas, (name_width + padding + column * (width + padding), top - _CAPTION_HEIGHT + 2), name)
    for r, (name, tiles) in enumerate(zip([*channel_names, "labels"], rows)):
        y = top + padding + r * (height + padding)
        _caption(canvas, (2, y + height // 2 - 6), name)
        for column, tile in enumerate(tiles):
            canvas.paste(Image.fromarray(tile), (name_width + padding + column * (width + padding), y))
    return np.asarray(canvas)
