# %% [markdown]
# # 4. The endoscopy bundle: SinGAN-Seg's polyp pipeline, and real against synthetic training data
#
# `bundles/endoscopy_polyp_singanseg` packages the whole SinGAN-Seg pipeline (Thambawita et al., PLoS ONE 2022)
# as a MONAI bundle: JSON configs that `python -m monai.bundle run` executes, each overridable from the command
# line. The steps:
#
# 1. `train_generators.json`: one SinGAN-Seg pyramid (Shaham et al., SinGAN, ICCV 2019) per real training image;
# 2. `generate.json`: N synthetic image+mask pairs per training image (optionally restyled, tutorial 3);
# 3. `train_segmentation.json`: UNet++ (`BasicUNetPlusPlus`) trained on `real`, `synthetic`, `real+synthetic` data,
#    or real data with online SinGAN-Seg augmentation (`real+online`, tutorial 2);
# 4. `evaluate.json`: IoU, Dice, accuracy, recall and precision on held-out **real** images;
# 5. `inference.json`: one predicted mask per new image;
# 6. `experiments.json`: the paper's experiments in one command.
#
# The paper's central question: can synthetic pairs stand in for the real ones? It trained UNet++ on real images
# and on synthetic pairs only, and tested both on the same held-out real images (Table 1): synthetic data came
# close to real data, and with very few real images (5 to 50, Table 2) synthetic data helped. This tutorial runs
# every step on a tiny dataset, then asks the same question at small scale.
#
# The bundle's configs are run in-process here (`ConfigWorkflow`, which is what `python -m monai.bundle run`
# uses); the equivalent shell commands are printed. A few minutes on 2 CPU cores; `SINGANSEG_QUICK=1`: seconds.
# The numbers are for learning the workflow: models this small, trained this briefly, prove nothing about the
# paper's claims. Use real data, the reference settings and a GPU for that.

# %%
import os
from pathlib import Path

# Point DATA_DIR at a folder with images/ and masks/ (Kvasir-SEG layout; e.g. ../shared/data/polyp/endotect_dev, or
# Kvasir-SEG's 1000 images for the paper's setting); by default a folder of phantoms is written.
DATA_DIR = os.environ.get("SINGANSEG_DATA")
QUICK = os.environ.get("SINGANSEG_QUICK", "0") == "1"
OUT_DIR = Path("tutorial_outputs") / "04_endoscopy_bundle_real_vs_synthetic"
OUT_DIR.mkdir(parents=True, exist_ok=True)

# %%
import json
import shlex
import shutil

import numpy as np
from monai.bundle import ConfigWorkflow
from PIL import Image

import monai_singanseg
from monai_singanseg.apps.endoscopy import pair_polyp_folder, read_datalist
from monai_singanseg.data import endoscopy_phantom
from monai_singanseg.visualize import show_png


def find_bundle(name):
    """The bundle folder in the repository this package was installed from (pip install -e .), or above cwd."""
    roots = [Path(monai_singanseg.__file__).resolve().parents[1], Path.cwd(), *Path.cwd().parents]
    for root in roots:
        if (root / "bundles" / name / "configs").is_dir():
            return root / "bundles" / name
    raise FileNotFoundError(f"bundles/{name} not found above {roots[0]} or {Path.cwd()}: run from the repository.")


BUNDLE = find_bundle("endoscopy_polyp_singanseg")
print(f"bundle: {BUNDLE}")

# %% [markdown]
# ## The data
#
# The bundle reads a folder in the Kvasir-SEG layout: `images/<id>.jpg` and `masks/<id>.png` (or `.jpg`), one
# binary mask per image with the image's name stem. `pair_polyp_folder` pairs them and checks every mask before
# anything trains, naming every bad file at once (unpaired files, wrong sizes, non-binary masks).

# %%
if DATA_DIR:
    dataset_dir = Path(DATA_DIR).resolve()
else:
    dataset_dir = (OUT_DIR / "polyp_data").resolve()
    shutil.rmtree(dataset_dir, ignore_errors=True)
    (dataset_dir / "images").mkdir(parents=True)
    (dataset_dir / "masks").mkdir(parents=True)
    for index in range(6 if QUICK else 12):
        image, mask = endoscopy_phantom(*((36, 44) if QUICK else (64, 80)), seed=index)
        Image.fromarray(np.moveaxis(image, 0, -1)).save(dataset_dir / "images" / f"polyp{index:02d}.jpg", quality=95)
        Image.fromarray(mask[0]).save(dataset_dir / "masks" / f"polyp{index:02d}.png")
pairs = pair_polyp_folder(dataset_dir)
print(f"{len(pairs)} pairs, e.g. {json.dumps(pairs[0], indent=1)}")

# %% [markdown]
# ## Settings
#
# Every config of the bundle starts from `configs/common.json`: paths, the data split (`split#num_folds`,
# `split#fold`: the held-out fold is never seen by generators or segmentation, which the bundle checks), the
# SinGAN-Seg settings under `singanseg#...` (every field of `SinGANSegSettings`, reference defaults), UNet++ under
# `network_def`, and the image size (128x128, the paper's). We shrink them to fit a CPU. `run_step` below runs
# `common.json` plus a step's config through MONAI's `ConfigWorkflow` (initialize, run, finalize) with these
# overrides, exactly as the `--key value` arguments of the printed command would.
#
# All outputs go to a workspace here instead of the bundle folder. The generator bank goes where the
# `experiments.json` run at the end looks for it, so that run reuses these pyramids.

# %%
workspace = (OUT_DIR / "workspace").resolve()
experiments_dir = workspace / "output" / "experiments"  # where experiments.json puts its runs (experiments#out_dir)
common = {
    "bundle_root": str(BUNDLE),
    "dataset_dir": str(dataset_dir),
    "output_dir": str(workspace / "output"),
    "ckpt_dir": str(workspace / "models"),
    "bank_dir": str(experiments_dir / "generators"),
    "num_workers": 0,  # DataLoader workers only add overhead on 2 cores
    "progress": False,
    "split#num_folds": 2 if QUICK else 3,
}
if QUICK:
    common.update({
        "image_size": [32, 32], "singanseg#min_size": 16, "singanseg#max_size": 32, "singanseg#iterations": 4,
        "singanseg#base_features": 8, "singanseg#max_features": 8, "generators#models_per_batch": 4,
        "network_def#features": [8, 8, 8, 8, 8, 8], "max_epochs": 2, "batch_size": 2, "learning_rate": 1e-3,
        "cache_rate": 0.0, "generate#per_image": 2,
    })
else:
    common.update({
        "image_size": [64, 64], "singanseg#min_size": 16, "singanseg#max_size": 48, "singanseg#iterations": 60,
        "singanseg#base_features": 16, "singanseg#max_features": 32, "generators#models_per_batch": 8,
        "network_def#features": [8, 8, 16, 32, 64, 8], "max_epochs": 30, "batch_size": 4, "learning_rate": 1e-3,
        "generate#per_image": 5,
    })


def keys_of(config):
    return set(json.loads((BUNDLE / "configs" / config).read_text()))


def as_arguments(settings):
    # Lists and dicts as JSON (double quotes survive the shell quoting), numbers and booleans as Python reads them.
    def text(value):
        if isinstance(value, str):
            return value
        return json.dumps(value) if isinstance(value, (list, dict)) else repr(value)

    return " ".join(f"--{key} {shlex.quote(text(value))}" for key, value in settings.items())


# Keys of common.json mean the same to every step: on the command line they can be one shell variable.
shared = {k: v for k, v in common.items() if k.split("#")[0] in keys_of("common.json")}
print(f'$ COMMON="{as_arguments(shared)}"')


def run_step(config, **overrides):
    """Run common.json + ``config`` through ConfigWorkflow with the tutorial's settings and ``overrides``.

    Only the keys the two configs define are passed (``generators#...`` means nothing to evaluate.json), and the
    equivalent shell command, run from the bundle folder, is printed.
    """
    files = [BUNDLE / "configs" / "common.json", BUNDLE / "configs" / config]
    known = keys_of("common.json") | keys_of(config)
    settings = {k: v for k, v in {**common, **overrides}.items() if k.split("#")[0] in known}
    own = {k: v for k, v in settings.items() if k not in shared or shared[k] != v}
    print(f"$ python -m monai.bundle run --config_file \"['configs/common.json','configs/{config}']\" "
          f"--meta_file configs/metadata.json $COMMON {as_arguments(own)}")
    workflow = ConfigWorkflow(config_file=[str(f) for f in files], meta_file=str(BUNDLE / "configs" / "metadata.json"),
                              logging_file=False, workflow_type=None, **settings)
    workflow.initialize()
    workflow.run()
    workflow.finalize()
    return workflow


# %% [markdown]
# ## 1. Train the generators
#
# One pyramid per image of the training fold, in the bank folder as `<image id>.pt`. `generators#models_per_batch`
# trains several pyramids at once as grouped convolutions (fastest on a GPU); on several GPUs, `torchrun` shards
# the images. Running the step again skips finished pyramids.

# %%
run_step("train_generators.json")
bank = sorted(p.name for p in (experiments_dir / "generators").glob("*.pt"))
print(f"{len(bank)} pyramids: {bank}")

# %% [markdown]
# ## 2. Generate synthetic pairs
#
# `generate#per_image` pairs per training image, from `start_scale` 0 (the most varied, as in the paper), written
# with a MONAI datalist. `generate#style_method` restyles them (`fourier`, `histogram`, or `gatys` with
# `generate#style_weights_path`, tutorial 3); the default `none` downloads nothing.

# %%
run_step("generate.json")
synthetic_datalist = workspace / "output" / "synthetic" / "datalist.json"
print(f"{len(read_datalist(synthetic_datalist))} synthetic pairs in {synthetic_datalist}")
show_png(workspace / "output" / "synthetic" / "generated" / "grid.png")

# %% [markdown]
# ## 3-4. Train UNet++ on real, then on synthetic data, and evaluate both on the same held-out real images
#
# This is the paper's Table 1 for one fold. `train#mode` picks the training data; everything else is the same.
# Each run gets its own output folder (`output_dir`, `segmentation_dir`), and both read the one synthetic datalist.

# %%
results = {}
for mode in ("real", "synthetic"):
    run_dir = workspace / "runs" / mode
    paths = {"output_dir": str(run_dir), "segmentation_dir": str(run_dir / "model"),
             "synthetic_datalist": str(synthetic_datalist), "train#mode": mode}
    run_step("train_segmentation.json", **paths)
    run_step("evaluate.json", **paths)
    results[mode] = json.loads((run_dir / "metrics" / "summary.json").read_text())
print(f"{'trained on':>10} | " + " | ".join(f"{name:>14}" for name in results["real"]))
for mode, metrics in results.items():
    print(f"{mode:>10} | " + " | ".join(f"{value:14.3f}" for value in metrics.values()))

# %% [markdown]
# ## 5. Inference on new images
#
# `inference.json` segments every image of `input_dir` (by default the dataset's images) and writes one
# {0, 255} PNG mask per image, at the image's own size.

# %%
run_dir = workspace / "runs" / "synthetic"
run_step("inference.json", output_dir=str(run_dir), segmentation_dir=str(run_dir / "model"))
predictions = sorted((run_dir / "predictions").glob("*.png"))
print(f"{len(predictions)} predicted masks, e.g. {predictions[0].name}")

# %% [markdown]
# ## 6. The paper's experiments in one command
#
# `experiments.json` drives the same configs through every run of an experiment and writes tables and charts:
# `kfold` (Table 1: real against N = 1..5 synthetic pairs per image, every fold), `small_data` (Table 2 /
# Figure 11: R real images against 10 synthetic pairs per real image from those R generators), and `mask_sizes`
# (Figures 3, 6 and 10: is the polyp's share of the image distributed alike in real and synthetic masks?).
# Settings of `common.json` are given at the top level; those of the other configs (epochs, network, generation)
# go into `experiments#overrides`. Here: `small_data` with two small R, and `mask_sizes`.

# %%
num_train = len(read_datalist(experiments_dir / "generators" / "training_images.json"))
sizes = [max(1, num_train // 2), num_train]
segmentation_settings = ("max_epochs", "batch_size", "learning_rate", "cache_rate")
overrides = {"ckpt_dir": common["ckpt_dir"], "network_def": {"features": common["network_def#features"]},
             **{key: common[key] for key in segmentation_settings if key in common}}
run_step("experiments.json", **{
    "experiments#names": ["small_data", "mask_sizes"],
    "experiments#num_folds": common["split#num_folds"],
    "experiments#small_data_sizes": sizes,
    "experiments#small_data_per_image": 2 if QUICK else 5,
    "experiments#overrides": overrides,
})
print((experiments_dir / "results.md").read_text())
show_png(experiments_dir / "small_data_iou.png")
show_png(experiments_dir / "mask_sizes.png")

# %% [markdown]
# ## Reading the results, and scaling up
#
# `results.md` lists IoU and Dice per R for real and synthetic training, and the Kolmogorov-Smirnov statistic
# between real and synthetic polyp sizes. With a handful of phantoms and a few epochs the differences are noise.
# To reproduce the paper, point the bundle at Kvasir-SEG's 1000 images with the reference settings on GPUs:
#
# ```bash
# cd bundles/endoscopy_polyp_singanseg
# BASE="--meta_file configs/metadata.json --logging_file configs/logging.conf --dataset_dir /data/Kvasir-SEG"
# torchrun --nproc_per_node 8 -m monai.bundle run \
#     --config_file "['configs/common.json','configs/train_generators.json']" $BASE
# python -m monai.bundle run --config_file "['configs/common.json','configs/experiments.json']" $BASE
# ```
#
# The bundle's `docs/README.md` describes every key, the expected runtimes and the multi-GPU configs.
