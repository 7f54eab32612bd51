"""Report figures drawn with PIL alone: sample grids with mask overlays, histograms, closest pairs, mask maps.

Every function takes tensors and returns a ``PIL.Image.Image``; saving is left to the caller.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
import torch.nn.functional as F
from PIL import Image, ImageDraw, ImageFont

__all__ = ["closest_pairs", "histogram_chart", "mask_maps", "overlay_mask", "sample_grid", "to_pil"]

_BACKGROUND = (255, 255, 255)
_TEXT = (20, 20, 20)
_SERIES_COLOURS = [(31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40)]
_CAPTION_HEIGHT = 18


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


def sample_grid(
    images: torch.Tensor, masks: torch.Tensor, names: Sequence[str], title: str, columns: int = 4, max_items: int = 8
) -> Image.Image:
    """The first ``max_items`` images with their masks overlaid, in a titled grid.

    Args:
        images: ``(N, C, H, W)`` images in ``[0, 1]``.
        masks: ``(N, 1, H, W)`` masks.
        names: one caption per image.
        title: text above the grid.
        columns: tiles per row.
        max_items: tiles at most.

    Returns:
        RGB image.

    Example::

        >>> sample_grid(torch.rand(3, 3, 8, 8), torch.ones(3, 1, 8, 8), ["a", "b", "c"], "real", 2).size[0]
        16
    """
    count = min(len(images), max_items)
    columns = max(1, min(columns, count))
    rows = -(-count // columns)
    height, width = images.shape[-2:]
    canvas = Image.new("RGB", (columns * width, _CAPTION_HEIGHT + rows * (height + _CAPTION_HEIGHT)), _BACKGROUND)
    _caption(canvas, (4, 2), title)
    for index in range(count):
        left = (index % columns) * width
        top = _CAPTION_HEIGHT + (index // columns) * (height + _CAPTION_HEIGHT)
        canvas.paste(overlay_mask(images[index], masks[index]), (left, top))
        _caption(canvas, (left + 2, top + height + 2), names[index][: max(4, width // 7)])
    return canvas


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
