"""Quality per compute: the reference, our faithful recipe and fast recipes trained side by side on the same images.

For every row (the reference ``singan-seg-polyp`` 1.0.7, our faithful default with several seeds, and each candidate
recipe) and every one of the K real images, one pyramid is trained with the same data and base settings, timed,
its work counted, and 50 samples drawn at start scale 0 are scored against its training image:

- Laplacian-pyramid patch SWD of the image channels (per level, finest first, and their mean; x 1e3),
- SinGAN diversity (per-pixel std over samples / std of the training image),
- mask validity: share of samples with a non-empty mask, mask-area ratio to the real mask, connected components,
- memorisation: the highest normalised cross-correlation of a sample to the training image over shifts and flips,
- finest-scale reconstruction error (MSE in [-1, 1] units, from the fixed reconstruction noise),
- sampling speed: ``RandSinGANSegd`` pairs per second, one pair at a time.

The faithful rows' seed-to-seed range is the noise floor: a candidate "holds" a figure when its mean over images lies
no further outside the faithful seeds' range, on the worse side, than that range is wide (``RULES``). Trained models and their scores are kept in
``--out`` and reused, so a long run can be stopped and restarted, or split over processes with ``--rows``.

It writes ``quality.md`` (machine, command, tables), ``quality.json``, ``quality_vs_time.png`` and one
``grids/<image>.png`` per image (real | reference | faithful | candidates, masks outlined).

Example (settings S1; see benchmarks/README.md)::

    python benchmarks/bench_quality.py --reference-path /tmp/ref/src --data ../shared/data/polyp/endotect_dev \\
        --num-images 3 --max-size 64 --iterations 2000 --out quality_s1
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import math
import sys
import tempfile
import time
from dataclasses import replace
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image, ImageDraw

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (  # noqa: E402
    command_line, counted_gflop, describe_machine, extrapolate_work, markdown_table, our_gflop,
)
from bench_sampling import time_transform  # noqa: E402
from bench_single_model import (  # noqa: E402
    _reference_options, import_reference, train_reference,
)

from monai_singanseg.cli.settings_args import add_settings_arguments, settings_from_arguments  # noqa: E402
from monai_singanseg.data.io import load_training_pair  # noqa: E402
from monai_singanseg.data.reference_import import convert_reference_run  # noqa: E402
from monai_singanseg.engines.trainer import SinGANSegTrainer, real_pyramid  # noqa: E402
from monai_singanseg.visualize.figures import overlay_mask  # noqa: E402
from monai_singanseg.metrics import SlicedWassersteinDistance, diversity_score  # noqa: E402
from monai_singanseg.metrics.mask_statistics import count_connected_components  # noqa: E402
from monai_singanseg.metrics.memorisation import nearest_real  # noqa: E402
from monai_singanseg.networks.singanseg import SinGANSeg  # noqa: E402
from monai_singanseg.settings import RECIPES, SinGANSegSettings  # noqa: E402
from monai_singanseg.layout import ChannelLayout  # noqa: E402
from monai_singanseg.utils.pyramid import compute_pyramid  # noqa: E402

METRICS = ("swd", "diversity", "nonempty", "area_ratio", "components", "max_ncc", "reconstruction_mse")
# How each figure may differ from the faithful rows: "at_most"/"at_least" = no worse than the faithful seeds' worst,
# by up to the seeds' range (lower SWD, reconstruction error and correlation to the training image are better);
# "band" = within the seeds' range widened by its width either way (too much diversity or mask area is as wrong as
# too little).
# Components "at_most": one connected polyp is the ideal, and empty masks are caught by "nonempty".
RULES = {"swd": "at_most", "diversity": "band", "nonempty": "at_least", "area_ratio": "band", "components": "at_most",
         "max_ncc": "at_most", "reconstruction_mse": "at_most"}


# -- rows ---------------------------------------------------------------------------------------------------------


def parse_candidate(text: str, base: SinGANSegSettings) -> tuple[str, SinGANSegSettings]:
    """``NAME`` of a recipe, or ``NAME=field:value,field:value`` on top of the base settings (or ``recipe:NAME``)."""
    name, _, spec = text.partition("=")
    if not spec:
        if name not in RECIPES:
            raise ValueError(f"candidate {name!r} is not a recipe ({sorted(RECIPES)}); give NAME=field:value,...")
        return name, replace(base, **RECIPES[name])
    values: dict[str, Any] = {}
    for item in spec.split(","):
        key, _, raw = item.partition(":")
        if key == "recipe":
            values.update(RECIPES[raw])
            continue
        if not hasattr(base, key):
            raise ValueError(f"candidate {name!r}: {key!r} is not a setting; settings are {sorted(base.to_dict())}.")
        current = getattr(base, key)
        values[key] = (raw.lower() in ("1", "true", "yes")) if isinstance(current, bool) else type(current)(raw)
    return name, replace(base, **values)


def list_images(folder: Path, count: int, skip: int) -> list[tuple[Path, Path]]:
    """The first ``count`` (after ``skip``) image/mask pairs of an ``images/`` + ``masks/`` folder, by file name."""
    images = sorted(p for p in (folder / "images").iterdir() if p.suffix.lower() in (".jpg", ".jpeg", ".png"))
    pairs = []
    for image in images[skip:]:
        masks = [m for m in (folder / "masks").glob(image.stem + ".*")]
        if masks:
            pairs.append((image, masks[0]))
        if len(pairs) == count:
            return pairs
    raise ValueError(f"{folder} holds {len(pairs)} image/mask pairs after skipping {skip}; {count} were asked for.")


def load_pair(image_path: Path, mask_path: Path) -> tuple[np.ndarray, np.ndarray]:
    """``(3, H, W)`` uint8 RGB and ``(1, H, W)`` uint8 mask in {0, 255}, what the reference reads."""
    image, label, _ = load_training_pair(image_path, mask_path, label_threshold=127)
    mask = np.asarray(label.as_tensor())
    mask = (mask.max(axis=0, keepdims=True) > 0).astype(np.uint8) * 255
    return np.ascontiguousarray(np.asarray(image.as_tensor())[:3]).astype(np.uint8), mask


# -- training -----------------------------------------------------------------------------------------------------


def train_ours(image: np.ndarray, mask: np.ndarray, settings: SinGANSegSettings) -> SinGANSeg:
    layout = ChannelLayout.from_data(image, mask, settings.label_encoding)
    return SinGANSegTrainer(layout.encode(image, mask), layout, settings).run()


def model_gflop(row: str, settings: SinGANSegSettings, image: np.ndarray, mask: np.ndarray, reference: Any) -> float:
    """Work of one model of ``row``: its once-per-model work plus its work per iteration times its iterations."""
    if row == "reference":
        # The reference trains every scale for the same iterations, so one pair of short trainings does for all.
        def work(iterations: int) -> float:
            short = replace(settings, iterations=iterations)
            return counted_gflop(lambda: train_reference(reference, image, mask, short, None))

        return extrapolate_work(work(2), work(4), 2, 4, settings.iterations)
    return our_gflop(image, mask, settings)


def train_unit(row: str, settings: SinGANSegSettings, image: np.ndarray, mask: np.ndarray, reference: Any,
               model_path: Path) -> dict[str, Any]:
    """Train one model, save it to ``model_path``; returns its seconds and GFLOP."""
    if row == "reference":
        with tempfile.TemporaryDirectory() as run_dir:
            start = time.perf_counter()
            train_reference(reference, image, mask, settings, None, keep_run=run_dir)
            seconds = time.perf_counter() - start
            model, _ = convert_reference_run(run_dir, image_id=model_path.stem)
    else:
        start = time.perf_counter()
        model = train_ours(image, mask, settings)
        seconds = time.perf_counter() - start
    work = model_gflop(row, settings, image, mask, reference)
    model.save(str(model_path), metadata={"image_id": model_path.stem})
    return {"seconds": seconds, "gflop": work}


# -- quality ------------------------------------------------------------------------------------------------------


def training_stack(image: np.ndarray, mask: np.ndarray, settings: SinGANSegSettings) -> torch.Tensor:
    """The real stack at the finest scale, ``(1, 4, H, W)`` in [-1, 1]: what every row's samples are scored against."""
    layout = ChannelLayout.from_data(image, mask, settings.label_encoding)
    spec = compute_pyramid(image.shape[1:], settings.min_size, settings.max_size, settings.scale_factor)
    return real_pyramid(layout.encode(image, mask).float().unsqueeze(0), spec.scale_shapes, spec.first_shape)[-1]


def _reference_reals(reference: Any, image: np.ndarray, mask: np.ndarray, settings: SinGANSegSettings
                     ) -> tuple[list[torch.Tensor], Any]:
    rgba = np.concatenate([image, mask], axis=0).transpose(1, 2, 0)
    with tempfile.TemporaryDirectory() as folder, contextlib.redirect_stdout(io.StringIO()):
        opt = _reference_options(reference, settings, folder)
        real = reference["functions"].adjust_scales2image(reference["functions"].np2torch(rgba, opt), opt)
        return reference["functions"].creat_reals_pyramid(real, [], opt), opt


def reference_real_pyramid(reference: Any, image: np.ndarray, mask: np.ndarray, settings: SinGANSegSettings
                           ) -> list[torch.Tensor]:
    """The reference's real stack at every scale, coarsest first, as its ``creat_reals_pyramid`` builds it."""
    return _reference_reals(reference, image, mask, settings)[0]


def reference_training_stack(reference: Any, image: np.ndarray, mask: np.ndarray, settings: SinGANSegSettings
                             ) -> tuple[torch.Tensor, Callable[[torch.Tensor, Sequence[int]], torch.Tensor]]:
    """The reference's own finest real stack and its upsampling between scales (``imresize``: a uint8 round trip).

    Its generators learnt on these: scored with our resizing instead, they lose about 0.01 MSE per scale.
    """
    reals, opt = _reference_reals(reference, image, mask, settings)

    def upsample(x: torch.Tensor, shape: Sequence[int]) -> torch.Tensor:
        # Its imresize takes one image at a time.
        return torch.cat([reference["imresize"](one[None], 1 / opt.scale_factor, opt)[:, :, : shape[0], : shape[1]]
                          for one in x])

    return reals[-1], upsample


@torch.no_grad()
def draw(model: SinGANSeg, num_samples: int, seed: int,
         upsample: Callable[[torch.Tensor, Sequence[int]], torch.Tensor] | None = None
         ) -> tuple[torch.Tensor, torch.Tensor]:
    """``num_samples`` samples at start scale 0 and the reconstruction; ``upsample`` replaces our resizing between
    scales (for the reference's models, which learnt with its own)."""
    generator = torch.Generator().manual_seed(seed)
    if upsample is None:
        return model.sample(num_samples, start_scale=0, generator=generator).float(), model.reconstruct().float()

    def run(noises: list[torch.Tensor]) -> torch.Tensor:
        x = torch.zeros_like(noises[0])
        for k, z in enumerate(noises):
            if k > 0:
                x = upsample(x, model.scale_shapes[k])
            x = model.generators[k](model.noise_amplitudes[k] * z + x, x)
        return x

    noises = [model._draw_noise(k, num_samples, shape, generator) for k, shape in enumerate(model.scale_shapes)]
    return run(noises).float(), run(list(model.reconstruction_noise)).float()


@torch.no_grad()
def score(samples: torch.Tensor, reconstruction: torch.Tensor, real: torch.Tensor) -> dict[str, Any]:
    """The quality figures of ``samples`` and the reconstruction against the training stack ``real``."""
    if tuple(samples.shape[1:]) != tuple(real.shape[1:]):
        raise ValueError(f"samples {tuple(samples.shape[1:])} and training stack {tuple(real.shape[1:])} differ.")
    num_samples = samples.shape[0]
    image_channels = list(range(real.shape[1] - 1))
    swd = SlicedWassersteinDistance(channels=image_channels, seed=0)
    swd(y_pred=samples, y=real.expand(num_samples, *real.shape[1:]))
    per_level = [float(v) for v in swd.aggregate(per_level=True)]
    masks = (samples[:, -1:] > 0).float()
    real_area = float((real[:, -1:] > 0).float().mean())
    nearest = nearest_real(samples[:, image_channels], real[:, image_channels], max_shift=4)
    return {
        "swd": sum(per_level) / len(per_level),
        "swd_per_level": per_level,
        "diversity": float(diversity_score(samples[:, image_channels], real[0, image_channels])),
        "nonempty": float((masks.flatten(1).amax(1) > 0).float().mean()),
        "area_ratio": float(masks.mean()) / real_area if real_area > 0 else math.nan,
        "components": float(count_connected_components(masks).float().mean()),
        "max_ncc": float(nearest.ncc.max()),
        "reconstruction_mse": float(torch.mean((reconstruction - real) ** 2)),
    }


def sampling_rate(model: SinGANSeg, image: np.ndarray, mask: np.ndarray, count: int) -> float:
    with tempfile.TemporaryDirectory() as folder:
        return time_transform(model, torch.as_tensor(image), torch.as_tensor(mask), count, Path(folder))


# -- report -------------------------------------------------------------------------------------------------------


def _mean(values: list[float]) -> float:
    finite = [v for v in values if not math.isnan(v)]
    return sum(finite) / len(finite) if finite else math.nan


def summarise(results: dict[str, dict[str, Any]], rows: list[str], faithful_rows: list[str]) -> dict[str, dict[str, Any]]:
    """Per row: the mean over images of every figure, seconds and GFLOP per model, pairs/s."""
    summary = {}
    for row in rows:
        units = list(results[row].values())
        entry = {key: _mean([u["quality"][key] for u in units]) for key in METRICS}
        levels = len(units[0]["quality"]["swd_per_level"])
        entry["swd_per_level"] = [_mean([u["quality"]["swd_per_level"][i] for u in units]) for i in range(levels)]
        for key in ("seconds", "gflop", "pairs_per_second"):
            entry[key] = _mean([u[key] for u in units])
        entry["images"] = len(units)
        summary[row] = entry
    faithful = [summary[r] for r in faithful_rows]
    seconds = _mean([f["seconds"] for f in faithful])
    for row, entry in summary.items():
        entry["speedup"] = seconds / entry["seconds"]
        entry["holds"] = {key: holds(entry[key], [f[key] for f in faithful], RULES[key]) for key in METRICS}
    return summary


def holds(value: float, faithful: list[float], rule: str) -> bool:
    """Whether ``value`` stays within the faithful seeds' noise floor under ``rule`` (see ``RULES``)."""
    low, high = min(faithful), max(faithful)
    width = high - low
    if rule == "at_least":
        return value >= low - width
    if rule == "at_most":
        return value <= high + width
    return low - width <= value <= high + width


def _f(value: float, digits: int = 3) -> str:
    return "n/a" if value is None or math.isnan(value) else f"{value:.{digits}f}"


def tables(summary: dict[str, dict[str, Any]], faithful_rows: list[str], settings: dict[str, SinGANSegSettings],
           base_name: str = "faithful") -> str:
    headers = ["row", "s/model", "GFLOP/model", "speed-up", "SWD mean", "SWD per level", "diversity", "non-empty",
               "area ratio", "components", "max NCC", "rec. MSE", "pairs/s", "holds"]
    lines = []
    for row, e in summary.items():
        kept = f"{base_name} seed" if row in faithful_rows else (
            "all" if all(e["holds"].values()) else "fails " + ", ".join(k for k, ok in e["holds"].items() if not ok))
        lines.append([row, f"{e['seconds']:.0f}", f"{e['gflop']:.0f}", f"{e['speedup']:.1f}x", _f(e["swd"], 1),
                      " / ".join(_f(v, 1) for v in e["swd_per_level"]), _f(e["diversity"]), _f(e["nonempty"], 2),
                      _f(e["area_ratio"], 2), _f(e["components"], 2), _f(e["max_ncc"]), _f(e["reconstruction_mse"], 4),
                      _f(e["pairs_per_second"], 1), kept])
    faithful = [summary[r] for r in faithful_rows]
    spread = [f"{base_name} seed range", "", "", "", *(
        f"{_f(min(f[k] for f in faithful), 3)}-{_f(max(f[k] for f in faithful), 3)}"
        for k in ("swd", "diversity", "nonempty", "area_ratio", "components", "max_ncc", "reconstruction_mse")
    )]
    spread.insert(5, "")
    spread += ["", ""]
    lines.append(spread)
    text = markdown_table(headers, lines)
    differing = {row: {k: v for k, v in s.to_dict().items() if v != settings[faithful_rows[0]].to_dict()[k]}
                 for row, s in settings.items() if row not in faithful_rows}
    text += f"\n\nSettings of each row beyond the {base_name} base:\n" + "\n".join(
        f"- {row}: {d or '(the base settings)'}" for row, d in differing.items())
    return text


def plot(summary: dict[str, dict[str, Any]], faithful_rows: list[str], path: Path, base_name: str = "faithful") -> None:
    """SWD mean against seconds per model (log scale), the faithful seeds' SWD range shaded."""
    width, height, margin = 720, 440, 60
    canvas = Image.new("RGB", (width, height), (255, 255, 255))
    draw = ImageDraw.Draw(canvas)
    seconds = [e["seconds"] for e in summary.values()]
    swds = [e["swd"] for e in summary.values()]
    x_low, x_high = math.log10(min(seconds) / 1.5), math.log10(max(seconds) * 1.5)
    y_low, y_high = min(swds) * 0.8, max(swds) * 1.2

    def xy(s: float, v: float) -> tuple[float, float]:
        x = margin + (math.log10(s) - x_low) / (x_high - x_low) * (width - 2 * margin)
        return x, height - margin - (v - y_low) / (y_high - y_low) * (height - 2 * margin)

    band = [summary[r]["swd"] for r in faithful_rows]
    top, bottom = xy(max(seconds), max(band) + (max(band) - min(band)))[1], xy(max(seconds), min(band) - (max(band) - min(band)))[1]
    draw.rectangle([margin, top, width - margin, bottom], fill=(225, 240, 225))
    draw.rectangle([margin, margin, width - margin, height - margin], outline=(0, 0, 0))
    for decade in range(math.floor(x_low), math.ceil(x_high) + 1):
        for mantissa in (1, 2, 5):
            s = mantissa * 10**decade
            if x_low <= math.log10(s) <= x_high:
                x = xy(s, y_low)[0]
                draw.line([x, height - margin, x, height - margin + 5], fill=(0, 0, 0))
                draw.text((x - 10, height - margin + 8), f"{s:g}", fill=(0, 0, 0))
    for i in range(5):
        v = y_low + i * (y_high - y_low) / 4
        y = xy(min(seconds), v)[1]
        draw.text((8, y - 6), f"{v:.1f}", fill=(0, 0, 0))
    draw.text((width // 2 - 110, height - 22), "seconds per model (log scale)", fill=(0, 0, 0))
    draw.text((margin, 20), f"image SWD x1e3 (lower is closer to the real image); green: {base_name} seed band",
              fill=(0, 0, 0))
    for row, entry in summary.items():
        x, y = xy(entry["seconds"], entry["swd"])
        colour = (214, 39, 40) if row == "reference" else (44, 160, 44) if row in faithful_rows else (31, 119, 180)
        draw.ellipse([x - 5, y - 5, x + 5, y + 5], fill=colour)
        draw.text((x + 7, y - 6), row, fill=colour)
    canvas.save(path)


def grid(real: torch.Tensor, samples: dict[str, torch.Tensor], per_row: int, path: Path) -> None:
    """One line per row: the real image, then ``per_row`` samples, masks outlined; the row's name above it."""
    height, width = real.shape[-2:]
    scale = max(1, 128 // max(height, width))
    tile_h, tile_w, caption = height * scale, width * scale, 14
    canvas = Image.new("RGB", ((per_row + 1) * (tile_w + 4), len(samples) * (tile_h + caption + 4)), (255, 255, 255))
    draw = ImageDraw.Draw(canvas)

    def tile(stack: torch.Tensor) -> Image.Image:
        unit = ((stack.clamp(-1, 1) + 1) / 2).cpu()
        return overlay_mask(unit[:-1], (stack[-1:] > 0).float().cpu()).resize((tile_w, tile_h), Image.NEAREST)

    for line, (row, stacks) in enumerate(samples.items()):
        top = line * (tile_h + caption + 4)
        draw.text((2, top), "real" if line == 0 else "", fill=(0, 0, 0))
        draw.text((tile_w + 6, top), row, fill=(0, 0, 0))
        canvas.paste(tile(real[0]), (0, top + caption))
        for i, stack in enumerate(stacks[:per_row]):
            canvas.paste(tile(stack), ((i + 1) * (tile_w + 4), top + caption))
    canvas.save(path)


def work_table(settings: dict[str, SinGANSegSettings], pairs: Sequence[tuple[Path, Path]], reference: Any) -> str:
    """GFLOP per model of every row on every image, and each row's work against the first row's."""
    header = ["row"] + [image.stem[:8] for image, _ in pairs] + ["mean", "vs first row"]
    loaded = [load_pair(image, mask) for image, mask in pairs]
    lines, first = [], None
    for row, row_settings in settings.items():
        counts = [model_gflop(row, row_settings, image, mask, reference) for image, mask in loaded]
        mean = sum(counts) / len(counts)
        ratio = "1x" if first is None else f"{first / mean:.1f}x less"
        first = mean if first is None else first
        lines.append([row] + [f"{c:.0f}" for c in counts] + [f"{mean:.0f}", ratio])
    return markdown_table(header, lines)


# -- main ---------------------------------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", required=True, help="work folder: trained models and scores are kept and reused")
    parser.add_argument("--data", required=True, help="folder with images/ and masks/ (e.g. endotect_dev)")
    parser.add_argument("--num-images", type=int, default=3, help="K real images, one model per image and row")
    parser.add_argument("--skip-images", type=int, default=0, help="start after this many images (by file name)")
    parser.add_argument("--reference-path", help="unzipped singan-seg-polyp 1.0.7 wheel (omit: no reference row)")
    parser.add_argument("--faithful-seeds", type=int, nargs="+", default=[0, 1], help="seeds of the base rows: the "
                        "faithful recipe, or the --recipe given, whose seed spread is the noise floor")
    parser.add_argument("--candidate", action="append", default=[], help="a fast row: a recipe name (e.g. fast) or "
                        "NAME=field:value,... on top of the base settings (recipe:NAME applies a recipe first)")
    parser.add_argument("--rows", nargs="+", help="train only these rows now (to split the work over processes), by "
                        "name or model folder name (faithful_seed_0), or none; the report then covers the rows whose "
                        "models all exist")
    parser.add_argument("--num-samples", type=int, default=50, help="samples per model for the quality figures")
    parser.add_argument("--sampling-pairs", type=int, default=20, help="RandSinGANSegd pairs timed per model")
    parser.add_argument("--grid-samples", type=int, default=5, help="samples per row in the grids")
    parser.add_argument("--threads", type=int, help="torch CPU threads (default: torch's own choice)")
    parser.add_argument("--no-report", action="store_true", help="train and score only")
    parser.add_argument("--count-only", action="store_true", help="print each row's GFLOP per model on each image "
                        "(2 iterations per scale are run and counted) and train nothing")
    add_settings_arguments(parser)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    base = settings_from_arguments(args)
    out = Path(args.out)
    (out / "models").mkdir(parents=True, exist_ok=True)
    settings = {}
    if args.reference_path:
        settings["reference"] = base
    # The seed rows train the base settings: the faithful recipe, or a --recipe when its own noise floor is wanted
    # (at sizes where faithful models cost too much).
    base_name = args.recipe or "faithful"
    for seed in args.faithful_seeds:
        settings[f"{base_name} seed {seed}"] = replace(base, seed=seed)
    for text in args.candidate:
        name, candidate = parse_candidate(text, base)
        settings[name] = candidate
    faithful_rows = [f"{base_name} seed {seed}" for seed in args.faithful_seeds]
    if args.rows:
        # A row by its name or its model folder's ("faithful_seed_0"); "none" trains nothing (report only).
        by_folder = {row.replace(" ", "_"): row for row in settings}
        unknown = [r for r in args.rows if r not in settings and r not in by_folder and r != "none"]
        if unknown:
            parser.error(f"--rows {' '.join(unknown)}: no such row; the rows are {sorted(settings)} "
                         "(or their folder names, with _ for spaces), or none to train nothing.")
        args.rows = [by_folder.get(r, r) for r in args.rows]
    if len(faithful_rows) < 2:
        parser.error("give at least two --faithful-seeds: their spread is the noise floor.")
    reference = import_reference(args.reference_path) if args.reference_path else None
    pairs = list_images(Path(args.data), args.num_images, args.skip_images)
    header = f"{describe_machine(torch.device(base.device))}\ncommand: {command_line()}\nbase settings: {base}"
    print(header, flush=True)

    if args.count_only:
        print(work_table(settings, pairs, reference))
        return 0

    results: dict[str, dict[str, Any]] = {row: {} for row in settings}
    samples: dict[str, dict[str, torch.Tensor]] = {p[0].stem: {} for p in pairs}
    reals = {}
    for image_path, mask_path in pairs:
        image, mask = load_pair(image_path, mask_path)
        real = reals[image_path.stem] = training_stack(image, mask, base)
        for row, row_settings in settings.items():
            folder = out / "models" / row.replace(" ", "_")
            folder.mkdir(exist_ok=True)
            model_path, record_path = folder / f"{image_path.stem}.pt", folder / f"{image_path.stem}.json"
            record = json.loads(record_path.read_text()) if record_path.exists() else None
            # Settings saved before a field existed read back with its default.
            if record is None or SinGANSegSettings.from_dict(record["settings"]) != row_settings:
                if args.rows and row not in args.rows:
                    continue
                print(f"training {row} on {image_path.stem} ...", flush=True)
                record = train_unit(row, row_settings, image, mask, reference, model_path)
                record["settings"] = row_settings.to_dict()
                record["pairs_per_second"] = sampling_rate(SinGANSeg.load(str(model_path)), image, mask,
                                                           args.sampling_pairs)
                tmp = record_path.with_suffix(".json.tmp")
                tmp.write_text(json.dumps(record, indent=1))
                tmp.replace(record_path)
                print(f"  {row}: {record['seconds']:.0f} s", flush=True)
            if args.no_report:
                continue
            # Scored anew at every report (seconds), so every row is scored by the same code: each model against
            # its own training image, the reference's sampled with its own resizing.
            model = SinGANSeg.load(str(model_path))
            own_real, upsample = (reference_training_stack(reference, image, mask, row_settings) if row == "reference"
                                  else (real, None))
            drawn, reconstruction = draw(model, args.num_samples, seed=1000, upsample=upsample)
            record["quality"] = score(drawn, reconstruction, own_real)
            results[row][image_path.stem] = record
            samples[image_path.stem][row] = drawn[: args.grid_samples]
    if args.no_report:
        return 0
    complete = [row for row in settings if len(results[row]) == len(pairs)]
    if not all(r in complete for r in faithful_rows):
        print(f"the {base_name} seed rows are not trained on every image yet: no report.")
        return 0
    summary = summarise(results, complete, faithful_rows)
    text = (f"{header}\n\n{len(pairs)} images ({', '.join(p[0].stem for p in pairs)}), {args.num_samples} samples "
            f"per model at start scale 0; means over images:\n\n"
            f"{tables(summary, faithful_rows, {r: settings[r] for r in complete}, base_name)}\n")
    print("\n" + text)
    (out / "quality.md").write_text(text)
    (out / "quality.json").write_text(json.dumps({"summary": summary, "per_image": results}, indent=1))
    plot(summary, faithful_rows, out / "quality_vs_time.png", base_name)
    (out / "grids").mkdir(exist_ok=True)
    for stem, by_row in samples.items():
        grid(reals[stem], {r: by_row[r] for r in complete}, args.grid_samples, out / "grids" / f"{stem}.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
