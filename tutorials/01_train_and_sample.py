# %% [markdown]
# # 1. Train a SinGAN-Seg pyramid on one image and its mask, then sample it
#
# Segmentation networks need many annotated images, and medical images are scarce and hard to share.
# **SinGAN-Seg** (Thambawita et al., *SinGAN-Seg: Synthetic training data generation for medical image
# segmentation*, PLoS ONE 17(5), 2022) trains a small GAN on **one** image stacked with its segmentation mask, so
# every sample is a new image *and* a mask that fits it. It is **SinGAN** (Shaham, Dekel and Michaeli, *SinGAN:
# Learning a Generative Model from a Single Natural Image*, ICCV 2019) with the mask as one more channel: a
# pyramid of small fully convolutional generators, coarsest first. The coarse scales decide the layout (where the
# polyp sits, how big it is); the fine scales add texture. Each scale learns only the patch statistics of the one
# training image at its resolution, which is why one image is enough.
#
# In this tutorial you will:
#
# 1. take one RGB image and its binary mask (a built-in endoscopy phantom made in code, or your own image);
# 2. see the pyramid of scales it will be trained on;
# 3. train the pyramid with `train_singanseg` (checkpointed after every scale);
# 4. draw samples, look at them, and see how `start_scale` trades variety for faithfulness;
# 5. write samples to a folder with a MONAI datalist, as `monai-singanseg sample` does.
#
# It runs in a few minutes on 2 CPU cores (`SINGANSEG_QUICK=1`: well under a minute, with worse samples).
# Install the package first: `pip install -e .` from the repository root.

# %%
import os
from pathlib import Path

# Point DATA_DIR at a folder with images/ and masks/ (the Kvasir-SEG layout, e.g. ../shared/data/polyp/kvasir_seg)
# to train on your first image instead of the built-in phantom.
DATA_DIR = os.environ.get("SINGANSEG_DATA")
# QUICK shrinks the image and the iterations so that the whole tutorial runs in seconds (for tests).
QUICK = os.environ.get("SINGANSEG_QUICK", "0") == "1"
OUT_DIR = Path("tutorial_outputs") / "01_train_and_sample"
OUT_DIR.mkdir(parents=True, exist_ok=True)

# %%
import json

import torch

from monai_singanseg import SinGANSeg, SinGANSegSettings
from monai_singanseg.data import endoscopy_phantom, list_training_items, load_training_pair, sample_to_folder
from monai_singanseg.data.writers import write_png
from monai_singanseg.engines import train_singanseg
from monai_singanseg.utils.pyramid import compute_pyramid
from monai_singanseg.visualize import sample_grid, show_png



# %% [markdown]
# ## The training pair
#
# The model needs a channel-first image `(C, H, W)` and a one-channel label map `(1, H, W)` of the same size.
# `load_training_pair` reads them through MONAI's `LoadImage` (PNG, JPEG, NIfTI, DICOM, or one RGBA PNG with the
# mask in its alpha channel, as the SinGAN-Seg reference stores its inputs). JPEG masks have compression
# artefacts, so we binarise them at 127. Without data, `endoscopy_phantom` draws a colon-like scene with one polyp.

# %%
if DATA_DIR:
    item = list_training_items(DATA_DIR)[0]
    image, label, info = load_training_pair(item.image, item.label, label_threshold=127)
    image, label, image_id = image.as_tensor(), label.as_tensor(), item.image_id
else:
    image, label = map(torch.as_tensor, endoscopy_phantom(*((32, 40) if QUICK else (64, 80)), seed=0))
    image_id = "phantom"
print(f"{image_id}: image {tuple(image.shape)} {image.dtype}, label {tuple(label.shape)}, "
      f"label values {label.unique().tolist()}")

# sample_grid shows each image beside the same image with its mask outlined in green.
write_png(sample_grid(image[None], label[None], label.unique().tolist()), OUT_DIR / "training_pair.png")
show_png(OUT_DIR / "training_pair.png")

# %% [markdown]
# ## The pyramid
#
# The image is first shrunk so its longest side is `max_size`, then repeatedly by `scale_factor` (0.75) until the
# shortest side reaches `min_size`. The reference trains 250 px images with 2000 iterations per scale, about half
# an hour per image on a GPU. To finish in minutes on a CPU we shrink the image to 64 px and use the `fast` recipe
# (one critic update per iteration instead of the reference's three) with 330 iterations per scale, as
# `monai-singanseg demo` does: the work of the reference's recipe at 150 iterations, and on the phantom its samples
# came closer to the image (BENCHMARKS.md, "The demo's recipe"). `SinGANSegSettings()` alone is the reference.
# `compute_pyramid` is pure maths, so you can see the scales before training anything.

# %%
if QUICK:
    settings = SinGANSegSettings.from_recipe("fast", min_size=16, max_size=40, iterations=20, base_features=8,
                                             max_features=16, seed=0)
else:
    settings = SinGANSegSettings.from_recipe("fast", min_size=25, max_size=64, iterations=330, seed=0)
spec = compute_pyramid(tuple(image.shape[1:]), settings.min_size, settings.max_size, settings.scale_factor)
shapes = " -> ".join("x".join(map(str, shape)) for shape in spec.scale_shapes)
print(f"{spec.num_scales} scales, factor {spec.scale_factor:.3f}: {shapes}")

# %% [markdown]
# ## Train
#
# `train_singanseg` trains one scale after the other with the reference's WGAN-GP losses and writes a checkpoint
# after every finished scale. If training is interrupted, calling it again with the same `checkpoint` resumes after
# the last finished scale. We delete the file first so that each run of this tutorial starts from scratch (remove
# that line to resume instead). On a GPU pass `SinGANSegSettings(device="cuda")` and the reference sizes.

# %%
checkpoint = OUT_DIR / "pyramid.pt"
checkpoint.unlink(missing_ok=True)
metadata = {"image_id": image_id, "file_format": "png", "source": item.image if DATA_DIR else "endoscopy_phantom"}
model = train_singanseg(image, label, settings, checkpoint=checkpoint, metadata=metadata, progress=not QUICK)
print(f"trained {model.num_trained_scales} scales; checkpoint {checkpoint} ({checkpoint.stat().st_size // 1024} KiB)")

# %% [markdown]
# ## Sample and look
#
# `model.sample(n)` returns `n` stacks in the generator's units ([-1, 1] per channel): three image channels and
# one mask channel. `model.decode` turns them back into an image in the input's range and dtype (uint8 here) and a
# label map holding only the valid label values. A seeded `torch.Generator` makes the samples reproducible.

# %%
num_samples = 8 if QUICK else 16
stacks = model.sample(num_samples, start_scale=0, generator=torch.Generator().manual_seed(0))
images, labels = model.decode(stacks)
print(f"stacks {tuple(stacks.shape)} -> images {tuple(images.shape)} {images.dtype}, labels {labels.unique().tolist()}")
write_png(sample_grid(images, labels, model.layout.label_values), OUT_DIR / "samples.png")
show_png(OUT_DIR / "samples.png")

# %% [markdown]
# Check what you see: each sample should look like the training image rearranged (the polyp moved, resized or
# duplicated), and the green mask outline should follow the polyp in the image. That agreement is the point of
# SinGAN-Seg: the mask is generated *with* the image, so it needs no annotation. With `SINGANSEG_QUICK=1` the
# pyramid is barely trained and the samples are blurry.
#
# ## Variety against faithfulness: `start_scale`
#
# Scales below `start_scale` replay the fixed noise that reconstructs the training image; fresh noise enters only
# from `start_scale` on. `start_scale=0` (the paper's setting) changes the layout; higher values keep the layout
# and vary only finer details. Each row below uses one start scale. The last row is `model.reconstruct()`, the
# training image rebuilt from its fixed noise: if it looks wrong, training went wrong.

# %%
rows = [model.sample(4, start_scale=k, generator=torch.Generator().manual_seed(1))
        for k in range(model.num_trained_scales)]
rows.append(model.reconstruct().expand(4, -1, -1, -1))
images, labels = model.decode(torch.cat(rows))
write_png(sample_grid(images, labels, model.layout.label_values, columns=4), OUT_DIR / "start_scales.png")
show_png(OUT_DIR / "start_scales.png")

# How far each start scale strays from the training image: mean absolute difference of the decoded images.
real = model.decode(model.reconstruct())[0].float()
for start_scale in range(model.num_trained_scales):
    sample = model.decode(model.sample(8, start_scale, torch.Generator().manual_seed(2)))[0].float()
    print(f"start_scale {start_scale}: mean |sample - reconstruction| = {(sample - real).abs().mean():.1f} grey levels")

# %% [markdown]
# The generators are fully convolutional, so they can also produce other sizes: `output_shape` scales every noise
# map by the same ratio (needs `start_scale=0`). Wider samples get more room, and often more polyps.

# %%
height, width = model.scale_shapes[-1]
wide = model.sample(2, start_scale=0, generator=torch.Generator().manual_seed(3), output_shape=(height, 2 * width))
images, labels = model.decode(wide)
write_png(sample_grid(images, labels, model.layout.label_values, columns=1), OUT_DIR / "wide_samples.png")
show_png(OUT_DIR / "wide_samples.png")

# %% [markdown]
# ## Save, load and write a synthetic dataset
#
# The checkpoint is one file of tensors and plain data (settings, channel layout, metadata), loadable with
# `torch.load(weights_only=True)`, so it is safe to share and to load. `sample_to_folder` writes image+label files
# in the training input's format (PNG here, NIfTI for volumes), a `grid.png`, and a `datalist.json` that
# `monai.data.load_decathlon_datalist` reads. Sample `i` depends only on the seed and `i`, so datasets are
# reproducible. The command line does the same:
#
# ```bash
# monai-singanseg train --image polyp.jpg --label polyp_mask.jpg --label-threshold 127 --out polyp.pt
# monai-singanseg sample --model polyp.pt --num-samples 10 --seed 0 --out synthetic/
# ```

# %%
loaded = SinGANSeg.load(str(checkpoint))
same = torch.equal(loaded.sample(2, generator=torch.Generator().manual_seed(0)),
                   model.sample(2, generator=torch.Generator().manual_seed(0)))
print(f"loaded {loaded.num_scales} scales; same samples as before saving: {same}")

pairs = sample_to_folder(checkpoint, OUT_DIR / "synthetic", num_samples=4 if QUICK else 10, seed=0)
datalist = json.loads((OUT_DIR / "synthetic" / "datalist.json").read_text())
print(f"wrote {len(pairs)} pairs, e.g. {pairs[0][0].name} + {pairs[0][1].name}; datalist entry:")
print(json.dumps(datalist["training"][0], indent=1))
show_png(OUT_DIR / "synthetic" / "grid.png")

# %% [markdown]
# ## Where next
#
# - Tutorial 2 uses pyramids as random augmentation inside a MONAI training pipeline (`RandSinGANSegd`).
# - Tutorial 3 restyles synthetic images from the real image (the paper's second stage).
# - Tutorial 6 checks whether a synthetic set is faithful, diverse and safe to share.
#
# For your own data, train with the reference settings (`SinGANSegSettings()`, 250 px, 2000 iterations) on a GPU;
# for a whole dataset, `monai-singanseg train-many` trains one pyramid per image into a bank folder.
