# %% [markdown]
# # 7. Steer generation: an image for a given mask, edits at a chosen scale, lesion sizes on request
#
# A SinGAN-Seg pyramid samples image+mask pairs at random. SinGAN (Shaham, Dekel and Michaeli, ICCV 2019) showed
# that the same pyramid also answers conditional tasks: an image resized to scale `n` replaces the output of the
# coarser scales as the input of generator `n`, and the finer scales add their detail with fresh noise
# (paint-to-image, editing). SinGAN-Seg's stack holds the mask as channels, so injecting a stack whose mask channel
# is a mask *you* choose asks for an image of that mask.
#
# In this tutorial you will:
#
# 1. train a small pyramid (or load yours);
# 2. ask for images of masks it never saw, at every injection scale, and measure how well each followed (Dice);
# 3. move the lesion of an image and inject the edit;
# 4. draw pairs whose lesion size follows a target distribution, with a record of what each took.
#
# Coarse injection scales re-imagine the request (natural images, masks that drift back to the training lesion);
# fine scales keep it (faithful masks, images closer to a collage). `benchmarks/bench_guided.py` measures that
# trade-off on real polyp images; the README's "Steering generation" section has its figures.

# %%
import os
from pathlib import Path

# Point DATA_DIR at a folder with images/ and masks/ (the Kvasir-SEG layout) to train on its first image and
# request its other masks; by default a built-in phantom and drawn masks are used.
DATA_DIR = os.environ.get("SINGANSEG_DATA")
# QUICK shrinks the image and the iterations so that the whole tutorial runs in seconds (for tests).
QUICK = os.environ.get("SINGANSEG_QUICK", "0") == "1"
OUT_DIR = Path("tutorial_outputs") / "07_mask_guided_generation"
OUT_DIR.mkdir(parents=True, exist_ok=True)

# %%
import numpy as np
import torch
import torch.nn.functional as F

from monai_singanseg import SinGANSegSettings
from monai_singanseg.data import endoscopy_phantom, list_training_items, load_training_pair
from monai_singanseg.data.size_control import ShareTarget, foreground_share, sample_with_share
from monai_singanseg.data.writers import write_png
from monai_singanseg.engines import train_singanseg
from monai_singanseg.visualize import sample_grid, show_png

# %% [markdown]
# ## A pyramid
#
# As in tutorial 1; pass your own checkpoint to `SinGANSeg.load` instead to skip training.

# %%
if DATA_DIR:
    items = list_training_items(DATA_DIR)
    image, label, _ = load_training_pair(items[0].image, items[0].label, label_threshold=127)
    image, label = image.as_tensor(), label.as_tensor()[:1]
else:
    image, label = map(torch.as_tensor, endoscopy_phantom(*((32, 40) if QUICK else (64, 80)), seed=0))
if QUICK:
    settings = SinGANSegSettings.from_recipe("fast", min_size=16, max_size=40, iterations=20, base_features=8,
                                             max_features=16, seed=0)
else:
    settings = SinGANSegSettings.from_recipe("fast", min_size=25, max_size=64, iterations=330, seed=0)
model = train_singanseg(image, label, settings, progress=not QUICK)
shape = model.scale_shapes[-1]
background, foreground = model.layout.label_values[0], model.layout.label_values[-1]
print(f"{model.num_trained_scales} scales, finest {shape}, label values {model.layout.label_values}")

# %% [markdown]
# ## Requested masks
#
# A request is a label map of the pyramid's own values at its finest shape, `(1, H, W)`, or a batch `(N, 1, H, W)`.
# We take the other masks of your folder, or draw discs of several sizes and places.

# %%
def disc(centre_y, centre_x, radius):
    y, x = torch.meshgrid(torch.linspace(0, 1, shape[0]), torch.linspace(0, 1, shape[1]), indexing="ij")
    inside = (y - centre_y) ** 2 + (x - centre_x) ** 2 < radius**2
    return torch.where(inside, foreground, background).float()[None]


if DATA_DIR and len(items) > 1:
    requested = []
    for item in items[1:5]:
        _, other, _ = load_training_pair(item.image, item.label, label_threshold=127)
        other = F.interpolate(other.as_tensor()[:1][None].float(), size=shape, mode="nearest-exact")[0]
        requested.append(torch.where(other > 0, foreground, background))
    requested = torch.stack(requested)
else:
    requested = torch.stack([disc(0.3, 0.3, 0.15), disc(0.6, 0.7, 0.25), disc(0.5, 0.5, 0.35), disc(0.7, 0.3, 0.2)])
print(f"{len(requested)} requested masks, foreground shares "
      f"{[round(s, 3) for s in foreground_share(model.layout, requested).tolist()]}")

# %% [markdown]
# ## One image per mask, at every injection scale
#
# `model.sample(label=masks, inject_scale=n)` builds the stack for scale `n` from each mask and the pyramid's own
# colours (its reconstruction, with the pixels whose label changes repainted: the learnt lesion stretched into the
# requested one, the old lesion filled from the surrounding background), injects it, and runs the finer scales with
# fresh noise. The returned mask is the *generated* channel, decoded, so Dice says how well the sample followed.
# The figure has one line per injection scale: requested mask | generated image | generated mask, per request.

# %%
def dice(a, b):
    a, b = a.flatten(1) > background, b.flatten(1) > background
    return (2 * (a & b).sum(1) / (a.sum(1) + b.sum(1)).clamp_min(1)).float()


def as_rgb(mask):
    return ((mask > background).to(torch.uint8) * 255).expand(3, *shape)


rows = []
for scale in range(1, model.num_trained_scales):
    stacks = model.sample(1, label=requested, inject_scale=scale, generator=torch.Generator().manual_seed(0))
    images, generated = model.decode(stacks)
    print(f"inject scale {scale}: mean Dice {float(dice(requested, generated).mean()):.3f}")
    tiles = [tile for mask, image_, label_ in zip(requested, images, generated)
             for tile in (as_rgb(mask), image_.to(torch.uint8), as_rgb(label_))]
    rows.append(torch.cat(tiles, dim=2))  # one line per injection scale, side by side
write_png(torch.cat(rows, dim=1).permute(1, 2, 0).numpy(), OUT_DIR / "requested_generated_by_scale.png")
show_png(OUT_DIR / "requested_generated_by_scale.png")

# %% [markdown]
# ## An edit at a chosen scale
#
# `model.sample(inject=stack, inject_scale=n)` injects any stack in the generator's units. Here we move the lesion
# of the reconstruction to the other side (`torch.flip`) and let the finest scales blend the edit in.

# %%
reconstruction = model.reconstruct()
edit = torch.flip(reconstruction, dims=[-1])
edited = model.sample(2, inject=edit, inject_scale=model.num_trained_scales - 1,
                      generator=torch.Generator().manual_seed(1))
images, labels = model.decode(torch.cat([reconstruction, edited]))
write_png(sample_grid(images, labels, model.layout.label_values), OUT_DIR / "edit.png")
print("the reconstruction, then two samples of the moved lesion:")
show_png(OUT_DIR / "edit.png")

# %% [markdown]
# ## Lesion sizes on request
#
# `sample_with_share` draws a pair whose foreground share falls in a window, trying at most `budget` times: the
# first attempt is the plain sample of the seed, later ones stretch its lesion to the target and inject it
# (`strategy="guide"`) or only draw again (`"reject"`). A `ShareTarget` draws the windows: `"match_real"` (one of
# the real shares per pair) or a range. The record says what each pair took; `RandSinGANSegd(share=...)` and
# `monai-singanseg generate --share ...` do the same and store the record with every pair.

# %%
target = ShareTarget.parse("0.15:0.3")
rng = np.random.RandomState(0)
pairs = [sample_with_share(model, target.window(rng), seed=i, budget=4) for i in range(4 if QUICK else 8)]
for _, record in pairs:
    print(f"share {record.share:.3f} in [{record.low}, {record.high}]: accepted={record.accepted}, "
          f"attempts={record.attempts}, guided={record.guided}, budget ran out={record.budget_exhausted}")
images, labels = model.decode(torch.cat([stack for stack, _ in pairs]))
write_png(sample_grid(images, labels, model.layout.label_values), OUT_DIR / "sizes_on_request.png")
