# %% [markdown]
# # 6. Is a synthetic set faithful, diverse and safe to share? The evaluation report
#
# SinGAN-Seg's promise (Thambawita et al., PLoS ONE 2022) is synthetic image+mask pairs that can be shared where
# the patient images cannot, and that still teach a segmentation network. Before sharing or training on a
# synthetic set, three questions deserve numbers:
#
# 1. **Faithful?** Do the images have the real set's patch statistics, and the masks its polyp sizes? Measured by
#    the sliced Wasserstein distance (SWD) between multi-scale Laplacian patches (Karras et al., *Progressive
#    Growing of GANs*, ICLR 2018): each synthetic image against the real set, yardsticked by how far each real image
#    lies from the other real ones, with an exact test on how many synthetic images lie beyond that spread; and by an
#    exact Kolmogorov-Smirnov test on the foreground fraction of the masks (the paper's Figures 3, 6 and 10).
# 2. **Diverse?** Do the samples of one generator differ from each other, or is the model collapsed? Measured by
#    SinGAN's diversity score (Shaham et al., ICCV 2019): the pixel standard deviation across samples, relative to
#    the real image's.
# 3. **Safe to share?** Is any synthetic image a near-copy of a real one? A single-image GAN *can* memorise its
#    one training image. Every synthetic image is matched to its most correlated real image, over small shifts and
#    flips; a normalised cross-correlation (NCC) of 0.95 or more flags it.
#
# `build_report` answers them for two MONAI datalists and writes `metrics.json`, `report.md` and figures; it
# needs no network weights. The same runs from the command line:
#
# ```bash
# monai-singanseg evaluate --real real.json --synthetic synthetic/datalist.json --out report/
# ```
#
# You will build a tiny real set, train a pyramid per image, generate a synthetic set, read its report, and then
# see the privacy check catch near-copies. A few minutes on 2 CPU cores; `SINGANSEG_QUICK=1` takes seconds.

# %%
import os
from pathlib import Path

# Point DATA_DIR at a folder with images/ and masks/ (Kvasir-SEG layout, e.g. ../shared/data/polyp/kvasir_seg) to
# evaluate on your first images; by default a few phantoms are written and used.
DATA_DIR = os.environ.get("SINGANSEG_DATA")
QUICK = os.environ.get("SINGANSEG_QUICK", "0") == "1"
OUT_DIR = Path("tutorial_outputs") / "06_evaluation_and_privacy_report"
OUT_DIR.mkdir(parents=True, exist_ok=True)

# %%
import json

import torch

from monai_singanseg import SinGANSegSettings
from monai_singanseg.data import SinGANSegBank, endoscopy_phantom, generate_dataset, list_training_items
from monai_singanseg.data.writers import to_uint8_rgb, write_png
from monai_singanseg.evaluation import ImageMaskSet, build_report, evaluate_sets, load_image_mask_set
from monai_singanseg.train_many import train_many
from monai_singanseg.visualize import show_png



# %% [markdown]
# ## Real set, generators and synthetic set
#
# The real set is a MONAI datalist (`{"training": [{"image": ..., "label": ...}]}`). We train one pyramid per
# real image (`train_many`, tutorial 2) and sample the bank into a synthetic dataset with `generate_dataset`
# (as `monai-singanseg generate`), whose datalist records for every pair the real image it came from
# (`source_image`): the report then scores diversity per generator.

# %%
NUM_REAL = 3 if QUICK else 6
SAMPLES_PER_IMAGE = 3 if QUICK else 5
if DATA_DIR:
    items = list_training_items(Path(DATA_DIR).resolve())[:NUM_REAL]
else:
    data_dir = (OUT_DIR / "real").resolve()
    for seed in range(NUM_REAL):
        image, mask = endoscopy_phantom(*((32, 40) if QUICK else (48, 60)), seed=seed)
        write_png(to_uint8_rgb(image), data_dir / "images" / f"phantom_{seed}.png")
        write_png(mask[0], data_dir / "masks" / f"phantom_{seed}.png")
    items = list_training_items(data_dir)
real_datalist = OUT_DIR / "real.json"
real_datalist.write_text(json.dumps({"training": [{"image": i.image, "label": i.label} for i in items]}, indent=1))

if QUICK:
    settings = SinGANSegSettings(min_size=16, max_size=32, iterations=10, base_features=8, max_features=16, seed=0)
else:
    settings = SinGANSegSettings(min_size=20, max_size=48, iterations=100, base_features=16, max_features=32, seed=0)
bank_dir = OUT_DIR / ("bank_quick" if QUICK else "bank")
train_many(real_datalist, bank_dir, settings, models_per_batch=NUM_REAL, label_threshold=127)
bank = SinGANSegBank([bank_dir / f"{item.image_id}.pt" for item in items])
summary = generate_dataset(bank, OUT_DIR / "synthetic", per_model=SAMPLES_PER_IMAGE, start_scale=0, seed=0)
print(f"{len(bank)} generators, {summary.num_pairs} synthetic pairs; datalist {summary.datalist}")
show_png(summary.grid)

# %% [markdown]
# ## The report
#
# Every image and mask is resized to `size` x `size` (128 by default; smaller here for speed) before comparing.
# The returned dictionary is what `metrics.json` holds; `report.md` says the same in words, with the figures.

# %%
report_dir = OUT_DIR / "report"
metrics = build_report(real_datalist, summary.datalist, report_dir, size=32 if QUICK else 48, progress=False)
print(json.dumps(metrics["verdict"], indent=1))
print((report_dir / "report.md").read_text())
for figure in ("samples_synthetic.png", "foreground_fraction_histogram.png", "closest_pairs.png"):
    show_png(report_dir / figure)

# %% [markdown]
# How to read it:
#
# - **Faithful**: how many synthetic images lie farther from the real set than any real image lies from the other
#   real ones, and how likely that many would be for images like the real ones (an exact p-value; below 0.025 the
#   images are unfaithful); the masks get an exact KS test at the same level. With very few images the report says
#   "cannot tell" rather than guess. Tiny, briefly trained pyramids often fail here: their samples are blurrier than
#   the real images. More iterations and the reference sizes close the gap.
# - **Diverse**: SinGAN reports about 0.5 for samples drawn from the coarsest scale; values near 0 mean every sample
#   is the same image.
# - **Safe**: the closest pairs figure shows each synthetic image beside its best-matching real image. With so few
#   real images, the best NCC of *distinct* real images (the phantoms share a layout) is also shown, to tell how
#   high correlations run in this data anyway.
#
# ## The privacy check at work
#
# Two synthetic sets that should **not** be shared. First, a leaky set: real images slipped in, flipped and shifted
# by a few pixels. Second, samples drawn from the finest scale only (`start_scale` = last scale): they replay the
# reconstruction noise at every coarser scale, so all of them are the pyramid's reconstruction of its training
# image with a little fine noise. That is why the paper samples from `start_scale=0`. `evaluate_sets` computes
# the same numbers as the report from tensors, without writing files.

# %%
size = 32 if QUICK else 48
real = load_image_mask_set(real_datalist, size, progress=False)
synthetic = load_image_mask_set(summary.datalist, size, progress=False)

# 1. Real images mirrored left-right and moved two pixels down, among the synthetic ones.
copies = torch.roll(real.images.flip(-1), shifts=2, dims=-2)
leaky = ImageMaskSet(
    images=torch.cat([synthetic.images, copies]),
    masks=torch.cat([synthetic.masks, torch.roll(real.masks.flip(-1), shifts=2, dims=-2)]),
    names=synthetic.names + [f"copy_of_{name}" for name in real.names],
    paths=synthetic.paths + real.paths,
    sources=synthetic.sources + real.paths,
)
evaluation = evaluate_sets(real, leaky)
memorisation = evaluation.metrics["memorisation"]
print(f"leaky set: safe = {evaluation.metrics['verdict']['safe']}, {memorisation['num_flagged']} flagged")
for flagged in memorisation["flagged"][:4]:
    print(f"  {flagged['synthetic']} ~ {flagged['real']}: NCC {flagged['ncc']:.3f}, {flagged['flip']} flip, "
          f"shift {flagged['shift']}")

# 2. Samples from the finest scale only.
finest = min(bank[image_id].num_scales for image_id in bank.ids) - 1
fine = generate_dataset(bank, OUT_DIR / "synthetic_finest_scale", SAMPLES_PER_IMAGE, start_scale=finest, seed=0)
evaluation = evaluate_sets(real, load_image_mask_set(fine.datalist, size, progress=False))
memorisation = evaluation.metrics["memorisation"]
print(f"start_scale={finest}: safe = {evaluation.metrics['verdict']['safe']}, max NCC {memorisation['max_ncc']:.3f}, "
      f"diversity {evaluation.metrics['diversity']['singan_diversity']:.3f}")
print(f"start_scale=0: max NCC {metrics['memorisation']['max_ncc']:.3f}, "
      f"diversity {metrics['diversity']['singan_diversity']:.3f}")

# %% [markdown]
# The flipped and shifted copies are found, with their flip and shift. The finest-scale samples hardly differ
# from each other (diversity near 0) and correlate more with their training images than the `start_scale=0`
# samples do. Whether they cross the copy threshold depends on how well the pyramid reconstructs its image: these
# briefly trained pyramids still blur it, while a fully trained one, whose reconstruction loss drives it to the
# training image, reproduces it closely. The thresholds behind the three verdicts are a `ReportThresholds`
# (`copy_ncc`, `max_shift`, `fidelity_alpha`, `min_diversity`): tighten `copy_ncc` for data under stricter
# sharing rules, and compare with the correlation that distinct real images already reach.
#
# A report is evidence, not a guarantee: a synthetic image below the copy threshold may still reveal a rare,
# identifiable feature of its patient. Use the report to catch the obvious failures before a human looks.
