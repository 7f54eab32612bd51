"""Steering generation on real images: mask-guided sampling per injection scale, and lesion-size control.

For every trained pyramid (one per real image, e.g. the S1 models of ``bench_quality.py``):

- mask-guided: ``--num-masks`` masks of *other* images of the data folder, resized to the model's shape, are
  requested at every injection scale; the figures are the mean Dice between requested and generated masks and the
  image patch SWD to the training image (``bench_quality.score``, x 1e3) relative to unconditional samples', for the
  whole image and, apart, for the background (patches wholly outside each stack's own mask) and the lesion (wholly
  inside; and the background away from the training image's lesion too): a requested lesion of another size
  changes the whole-image patch mix without any loss of texture. The training stack itself injected at the same
  scale ("self-injection") measures what the injection path loses when nothing is asked to change;
- size control: ``--num-pairs`` pairs per model with ``share="match_real"`` against the foreground shares of all
  masks of the data folder (strategies guide and reject), pooled over models, against the real shares by the exact
  two-sample KS test (``metrics.mask_statistics.ks_exact_p_value``), with the sampling time per pair relative to
  unconditional pairs.

Example (the S1 models; see benchmarks/README.md)::

    python benchmarks/bench_guided.py --data ../shared/data/polyp/endotect_dev \\
        --models /work/bench_runs/s1/models/faithful_seed_0 /work/bench_runs/s1/models/it2000-cs1 --threads 1
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import command_line, describe_machine, markdown_table  # noqa: E402
from bench_quality import load_pair, score, training_stack  # noqa: E402

from monai_singanseg.data.size_control import ShareTarget, foreground_share, sample_with_share  # noqa: E402
from monai_singanseg.metrics.mask_statistics import ks_exact_p_value  # noqa: E402
from monai_singanseg.metrics.sliced_wasserstein import SlicedWassersteinDistance  # noqa: E402
from monai_singanseg.networks.singanseg import SinGANSeg  # noqa: E402
from monai_singanseg.settings import SinGANSegSettings  # noqa: E402


def requested_masks(paths: list[Path], shape: tuple[int, ...]) -> torch.Tensor:
    """``(N, 1, *shape)`` masks in {0, 255}: each resized by area averaging and thresholded at half."""
    masks = []
    for path in paths:
        _, mask = load_pair(path, path)  # the mask as the reference reads it, (1, H, W) in {0, 255}
        resized = F.interpolate(torch.as_tensor(mask).float()[None], size=shape, mode="area")[0]
        masks.append((resized > 127).float() * 255)
    return torch.stack(masks)


def dice(requested: torch.Tensor, generated: torch.Tensor) -> torch.Tensor:
    """Dice of the foregrounds of each pair; 1 where both are empty."""
    a, b = requested.flatten(1) > 0, generated.flatten(1) > 0
    total = a.sum(1) + b.sum(1)
    return torch.where(total > 0, 2 * (a & b).sum(1) / total.clamp_min(1), torch.ones(len(a)))


def region_swd(samples: torch.Tensor, real: torch.Tensor, region: str) -> float:
    """Image patch SWD x 1e3 of the patches wholly outside (or inside) each stack's own mask: a sample is scored
    on its background against the real background, whatever the size of its lesion."""
    metric = SlicedWassersteinDistance(channels=list(range(real.shape[1] - 1)), seed=0, region=region)
    metric(y_pred=samples, y=real.expand(samples.shape[0], *real.shape[1:]))
    return float(metric.aggregate())


def _swd_figures(stacks: torch.Tensor, reconstruction: torch.Tensor, real: torch.Tensor) -> dict[str, float]:
    # The background away from the training lesion too: where the requested mask says background but the training
    # image had its polyp is left out, to tell that area's share of the background figure.
    away = stacks.clone()
    away[:, -1] = torch.maximum(away[:, -1], real[:, -1].expand_as(away[:, -1]))
    return {"swd": score(stacks, reconstruction, real)["swd"], "swd_background": region_swd(stacks, real, "outside"),
            "swd_background_away": region_swd(away, real, "outside"), "swd_lesion": region_swd(stacks, real, "inside")}


def guided_figures(model: SinGANSeg, real: torch.Tensor, masks: torch.Tensor, num_samples: int) -> dict[str, Any]:
    """Dice and SWD (whole image, background, lesion) per injection scale, and the unconditional SWDs."""
    reconstruction = model.reconstruct().float()
    unconditional = model.sample(num_samples, generator=torch.Generator().manual_seed(1000)).float()
    figures: dict[str, Any] = {f"{key}_unconditional": value
                               for key, value in _swd_figures(unconditional, reconstruction, real).items()}
    figures["scales"] = {}
    for scale in range(1, model.num_trained_scales):
        stacks = model.sample(1, label=masks, inject_scale=scale, generator=torch.Generator().manual_seed(2000))
        generated = model.decode(stacks)[1]
        # The training stack itself injected at the same scale: what the injection path loses with nothing to change.
        own = model.sample(num_samples, inject=real, inject_scale=scale, generator=torch.Generator().manual_seed(3000))
        figures["scales"][scale] = {"dice": float(dice(masks, generated).mean()),
                                    **_swd_figures(stacks.float(), reconstruction, real),
                                    **{f"{key}_self": value
                                       for key, value in _swd_figures(own.float(), reconstruction, real).items()}}
    return figures


def size_figures(model: SinGANSeg, target: ShareTarget, num_pairs: int, budget: int) -> dict[str, Any]:
    """Shares and seconds per pair of unconditional pairs and of pairs under size control (guide, reject)."""
    out: dict[str, Any] = {}
    start = time.perf_counter()
    shares = []
    for i in range(num_pairs):
        stack = model.sample(1, generator=torch.Generator().manual_seed(i))
        shares.append(float(foreground_share(model.layout, model.decode(stack)[1])[0]))
    out["unconditional"] = {"shares": shares, "seconds": (time.perf_counter() - start) / num_pairs}
    for strategy in ("guide", "reject"):
        rng = np.random.RandomState(0)
        start = time.perf_counter()
        records = [sample_with_share(model, target.window(rng), i, budget=budget, strategy=strategy)[1]
                   for i in range(num_pairs)]
        out[strategy] = {"shares": [r.share for r in records], "seconds": (time.perf_counter() - start) / num_pairs,
                         "accepted": float(np.mean([r.accepted for r in records])),
                         "attempts": float(np.mean([r.attempts for r in records]))}
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", required=True, help="folder with images/ and masks/ (e.g. endotect_dev)")
    parser.add_argument("--models", nargs="+", required=True, help="folders of pyramids named by image id")
    parser.add_argument("--num-masks", type=int, default=20, help="requested masks (of other images) per model")
    parser.add_argument("--num-samples", type=int, default=20, help="unconditional samples for the SWD baseline")
    parser.add_argument("--num-pairs", type=int, default=30, help="size-controlled pairs per model and strategy")
    parser.add_argument("--budget", type=int, default=4, help="attempts per size-controlled pair")
    parser.add_argument("--threads", type=int, help="torch CPU threads")
    parser.add_argument("--out", help="write guided.md and guided.json here")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    header = f"{describe_machine(torch.device('cpu'))}\ncommand: {command_line()}"
    print(header, flush=True)
    all_masks = sorted(p for p in (Path(args.data) / "masks").iterdir() if p.is_file())
    results: dict[str, Any] = {}
    lines_guided, lines_size = [], []
    for folder in map(Path, args.models):
        models = sorted(folder.glob("*.pt"))
        shape = SinGANSeg.load(str(models[0])).scale_shapes[-1]
        real_shares = foreground_share_of(requested_masks(all_masks, shape))
        target = ShareTarget(shares=tuple(real_shares), match_real=True)
        per_model, pooled = {}, {"unconditional": [], "guide": [], "reject": []}
        seconds: dict[str, list[float]] = {key: [] for key in pooled}
        for model_path in models:
            model = SinGANSeg.load(str(model_path))
            settings = SinGANSegSettings.from_dict(json.loads(model_path.with_suffix(".json").read_text())["settings"])
            image_path = next((Path(args.data) / "images").glob(model_path.stem + ".*"))
            mask_path = next(p for p in all_masks if p.stem == model_path.stem)
            real = training_stack(*load_pair(image_path, mask_path), settings)
            others = [p for p in all_masks if p.stem != model_path.stem][: args.num_masks]
            figures = guided_figures(model, real, requested_masks(others, model.scale_shapes[-1]), args.num_samples)
            figures["size"] = size_figures(model, target, args.num_pairs, args.budget)
            per_model[model_path.stem] = figures
            for key in pooled:
                pooled[key] += figures["size"][key]["shares"]
                seconds[key].append(figures["size"][key]["seconds"])
            print(f"{folder.name}/{model_path.stem}: {json.dumps({k: v for k, v in figures.items() if k != 'size'})}",
                  flush=True)
        results[folder.name] = per_model
        scales = sorted({s for f in per_model.values() for s in f["scales"]})
        for scale in scales:
            dices = [f["scales"][scale]["dice"] for f in per_model.values()]
            ratios = {key: [f["scales"][scale][key] / f[f"{key}_unconditional"] for f in per_model.values()]
                      for key in ("swd", "swd_background", "swd_background_away", "swd_lesion")}
            ratios["swd_self"] = [f["scales"][scale]["swd_self"] / f["swd_unconditional"] for f in per_model.values()]
            ratios["swd_to_self"] = [f["scales"][scale]["swd"] / f["scales"][scale]["swd_self"]
                                     for f in per_model.values()]
            lines_guided.append([folder.name, str(scale), f"{np.mean(dices):.3f}", " / ".join(f"{d:.2f}" for d in dices),
                                 *(f"{np.mean(r):.2f} ({' / '.join(f'{x:.2f}' for x in r)})" for r in ratios.values())])
        base = np.mean(seconds["unconditional"])
        for key in pooled:
            shares = torch.tensor(pooled[key])
            p_value = ks_exact_p_value(torch.tensor(real_shares), shares)
            extra = (f"{np.mean([f['size'][key]['accepted'] for f in per_model.values()]):.2f}",
                     f"{np.mean([f['size'][key]['attempts'] for f in per_model.values()]):.2f}") \
                if key != "unconditional" else ("", "")
            lines_size.append([folder.name, key, f"{float(shares.mean()):.3f}", f"{np.mean(real_shares):.3f}",
                               f"{p_value:.3g}", "pass" if p_value >= 0.05 else "fail", *extra,
                               f"{np.mean(seconds[key]) / base:.2f}x"])
    text = (f"{header}\n\nMask-guided sampling, {args.num_masks} requested masks of other images per model "
            f"(mean over models; per model):\n\n"
            + markdown_table(["models", "inject scale", "Dice", "Dice per model", "SWD / unconditional (per model)",
                              "background SWD / unconditional", "background away from the training lesion",
                              "lesion SWD / unconditional", "self-injection SWD / unconditional",
                              "SWD / self-injection"], lines_guided)
            + f"\n\nSize control with match_real (shares of all {len(all_masks)} masks), {args.num_pairs} pairs per "
              f"model, budget {args.budget}, pooled over models:\n\n"
            + markdown_table(["models", "sampling", "mean share", "real mean share", "KS p", "KS 5 %", "accepted",
                              "attempts", "time / unconditional"], lines_size) + "\n")
    print("\n" + text)
    if args.out:
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        (out / "guided.md").write_text(text)
        (out / "guided.json").write_text(json.dumps(results, indent=1))
    return 0


def foreground_share_of(masks: torch.Tensor) -> list[float]:
    return (masks > 0).double().flatten(1).mean(1).tolist()


if __name__ == "__main__":
    sys.exit(main())
