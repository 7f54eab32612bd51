"""Do the evaluation report's verdicts reject bad data? Held-out real endotect_dev images against noise, blank,
pixel-shuffled and colour-inverted versions of them, and the rate at which held-out real sets are called unfaithful.

Run (from the repository root; writes image sets and datalists under --out, never commit them):

    OMP_NUM_THREADS=1 python benchmarks/bench_verdicts.py --out /tmp/verdicts --num-real 3 5
    OMP_NUM_THREADS=1 python benchmarks/bench_verdicts.py --out /tmp/verdicts --num-real --splits 3:20:300 5:20:100
"""
from __future__ import annotations

import argparse
import json
import random
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from monai_singanseg.evaluation.fidelity import leave_one_out_patch_test
from monai_singanseg.evaluation.loading import load_image_mask_set
from monai_singanseg.evaluation.report import evaluate_sets
from monai_singanseg.evaluation.verdicts import fidelity_verdicts
from monai_singanseg.metrics.mask_statistics import compare_mask_sets

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "polyp" / "endotect_dev"
SIZE = 128
OUT = Path("/tmp/verdicts")
IMAGES: list[Path] = []
HELD_OUT: list[Path] = []


def entry(image: Path) -> dict[str, str]:
    return {"image": str(image), "label": str(DATA / "masks" / f"{image.stem}.png")}


def write_datalist(name: str, entries: list[dict[str, str]]) -> Path:
    path = OUT / f"{name}.json"
    path.write_text(json.dumps({"training": entries}))
    return path


def corrupted(kind: str) -> Path:
    """The held-out images made bad in one way, each with its own real mask (so only the image test can object)."""
    rng = np.random.default_rng(0)
    folder = OUT / kind
    folder.mkdir(parents=True, exist_ok=True)
    entries = []
    for image_path in HELD_OUT:
        image = np.asarray(Image.open(image_path).convert("RGB"))
        if kind == "noise":
            image = rng.integers(0, 256, image.shape, dtype=np.uint8)
        elif kind == "blank":
            image = np.full_like(image, 128)
        elif kind == "shuffled":
            flat = image.reshape(-1, 3)
            image = flat[rng.permutation(len(flat))].reshape(image.shape)
        elif kind == "inverted":
            image = 255 - image
        out = folder / f"{image_path.stem}.png"
        Image.fromarray(image).save(out)
        entries.append({"image": str(out), "label": entry(image_path)["label"]})
    return write_datalist(kind, entries)


def verdict_tables(num_reals: list[int]) -> None:
    sets = {"held-out real": write_datalist("held_out", [entry(i) for i in HELD_OUT])}
    sets.update({kind: corrupted(kind) for kind in ("noise", "blank", "shuffled", "inverted")})
    loaded = {name: load_image_mask_set(path, SIZE, progress=False) for name, path in sets.items()}
    for num_real in num_reals:
        real_list = write_datalist(f"real_{num_real}", [entry(i) for i in IMAGES[:num_real]])
        real = load_image_mask_set(real_list, SIZE, progress=False)
        print(f"\n## {num_real} real images, {len(HELD_OUT)} per synthetic set, {SIZE}x{SIZE}")
        print("| set | faithful | images (beyond / p) | masks (KS / p) | diverse | safe (max NCC) |")
        print("|---|---|---|---|---|---|")
        for name, synthetic in loaded.items():
            metrics = evaluate_sets(real, synthetic).metrics
            verdict, fidelity = metrics["verdict"], metrics["fidelity"]
            test, masks = fidelity["patch_test"], fidelity["masks"]
            print(
                f"| {name} | {verdict['faithful']} | {verdict['faithful_images']}: {test['num_beyond']}/"
                f"{len(test['synthetic_distances'])} beyond {test['bound']:.0f} (real leave-one-out "
                f"{min(test['real_distances']):.0f}-{test['bound']:.0f}), p {test['p_value']:.3g} | "
                f"{verdict['faithful_masks']}: {masks['ks_statistic']:.2f}, p {masks['ks_p_value']:.3g}, components p "
                f"{masks['components_ks_p_value']:.3g} | "
                f"{verdict['diverse']} | {verdict['safe']} ({metrics['memorisation']['max_ncc']:.3f}) |"
            )


def false_rejections(splits: list[str]) -> None:
    everything = load_image_mask_set(write_datalist("all", [entry(i) for i in IMAGES]), SIZE, progress=False)
    for split in splits:
        n, m, trials = (int(v) for v in split.split(":"))
        rng = random.Random(0)
        rejected = {"images": 0, "masks": 0, "either": 0}
        cannot_tell = {"images": 0, "masks": 0}  # passed their tests, but judged too far off to call faithful
        for trial in range(trials):
            ids = rng.sample(range(len(IMAGES)), n + m)
            real, held = ids[:n], ids[n:]
            test = leave_one_out_patch_test(everything.images[real], everything.images[held], seed=trial)
            verdicts = fidelity_verdicts(test, compare_mask_sets(everything.masks[real], everything.masks[held]))
            for name, verdict in zip(("images", "masks"), verdicts):
                rejected[name] += verdict is False
                cannot_tell[name] += verdict is None
            rejected["either"] += False in verdicts
        print(f"{n} real, {m} held-out real, {trials} random splits: called unfaithful "
              + ", ".join(f"{k} {v / trials:.3f}" for k, v in rejected.items()) + "; cannot tell "
              + ", ".join(f"{k} {v / trials:.3f}" for k, v in cannot_tell.items()))


def main() -> None:
    global OUT, IMAGES, HELD_OUT
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DATA, help="endotect_dev folder with images/ and masks/")
    parser.add_argument("--out", type=Path, required=True, help="work folder for the image sets and datalists")
    parser.add_argument("--num-real", type=int, nargs="*", default=[3, 5], help="real set sizes of the verdict tables")
    parser.add_argument("--splits", nargs="*", default=[], help="false-rejection runs, each NUM_REAL:NUM_HELD:TRIALS")
    args = parser.parse_args()
    globals()["DATA"] = args.data
    OUT, IMAGES = args.out, sorted((args.data / "images").glob("*.jpg"))
    if len(IMAGES) < 70:
        parser.error(f"--data {args.data}: expected the 100 endotect_dev images, found {len(IMAGES)}.")
    HELD_OUT = IMAGES[50:70]
    OUT.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(1)
    verdict_tables(args.num_real)
    false_rejections(args.splits)


if __name__ == "__main__":
    main()
