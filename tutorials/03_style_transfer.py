# %% [markdown]
# # 3. Style transfer: make synthetic images look like the real one
#
# SinGAN-Seg has a second, optional stage (Thambawita et al., PLoS ONE 2022): each synthetic image is restyled
# from the real image its generator was trained on, with the neural style transfer of Gatys, Ecker and Bethge
# (*A Neural Algorithm of Artistic Style*, 2015). The content (where the polyp is, hence the mask) stays; colour
# and texture move towards the real image. In the paper, restyling narrowed the gap between UNet++ trained on
# synthetic and on real data; it compared content:style weight ratios of 1:1 and 1:1000 and kept 1:1000.
#
# Gatys needs ImageNet VGG19 weights (a 550 MB download) and an optimisation per image. This package adds two
# methods that need no weights and take milliseconds, which is why this tutorial uses them by default:
#
# - `fourier`: Fourier domain adaptation (Yang and Soatto, *FDA: Fourier Domain Adaptation for Semantic
#   Segmentation*, CVPR 2020): the low-frequency amplitude spectrum (overall colour, brightness, smooth shading)
#   comes from the style image, the phase (edges and shapes) stays the content's.
# - `histogram`: per-channel histogram matching: each channel gets exactly the style image's value distribution.
#
# Set the environment variable `VGG19_WEIGHTS` to torchvision's `vgg19-dcbb9e9d.pth` to also run Gatys.
#
# You will restyle samples with the function `style_transfer`, measure what changed, use the MONAI transforms
# `StyleTransferd` / `RandStyleTransferd`, and restyle a whole synthetic datalist as `monai-singanseg style` does.
# Under a minute on 2 CPU cores without Gatys; `SINGANSEG_QUICK=1` runs it in seconds.

# %%
import os
from pathlib import Path

# Point DATA_DIR at a folder with images/ and masks/ (Kvasir-SEG layout) to use your first image; by default the
# built-in phantom is the real image.
DATA_DIR = os.environ.get("SINGANSEG_DATA")
QUICK = os.environ.get("SINGANSEG_QUICK", "0") == "1"
# Gatys runs only when this points to torchvision's VGG19 ImageNet weights file (vgg19-dcbb9e9d.pth).
VGG19_WEIGHTS = os.environ.get("VGG19_WEIGHTS")
OUT_DIR = Path("tutorial_outputs") / "03_style_transfer"
OUT_DIR.mkdir(parents=True, exist_ok=True)

# %%
import json

import torch
from monai.data import MetaTensor
from monai.transforms import Compose

from monai_singanseg import SinGANSegSettings
from monai_singanseg.cli import main as monai_singanseg_cli
from monai_singanseg.data import endoscopy_phantom, list_training_items, load_training_pair, sample_to_folder
from monai_singanseg.data.writers import to_uint8_rgb, write_png
from monai_singanseg.engines import train_singanseg
from monai_singanseg.style import GatysStyleTransfer, style_transfer
from monai_singanseg.transforms import RandStyleTransferd, StyleTransferd
from monai_singanseg.visualize import sample_grid, show_png



# %% [markdown]
# ## A real image and some synthetic ones
#
# We train a deliberately small pyramid (few iterations), so its samples are a little off in colour and texture:
# exactly what style transfer is meant to fix. The real image is also written to disk, because the datalist of
# samples will point back to it (`source_image`).

# %%
if DATA_DIR:
    item = list_training_items(DATA_DIR)[0]
    image, label, _ = load_training_pair(item.image, item.label, label_threshold=127)
    image, label = image.as_tensor(), label.as_tensor()
else:
    image, label = map(torch.as_tensor, endoscopy_phantom(*((32, 40) if QUICK else (48, 60)), seed=0))
real_path = write_png(to_uint8_rgb(image), OUT_DIR / "real_image.png").resolve()

if QUICK:
    settings = SinGANSegSettings(min_size=16, max_size=32, iterations=10, base_features=8, max_features=16, seed=0)
else:
    settings = SinGANSegSettings(min_size=20, max_size=48, iterations=60, base_features=16, max_features=32, seed=0)
checkpoint = OUT_DIR / "pyramid.pt"
checkpoint.unlink(missing_ok=True)  # start from scratch on every run of the tutorial
model = train_singanseg(image, label, settings, checkpoint=checkpoint,
                        metadata={"image_id": "real_image", "file_format": "png", "source": str(real_path)})
images, labels = model.decode(model.sample(4, generator=torch.Generator().manual_seed(0)))
# Style methods work on float images in [0, 1]; the real image is resized to the samples' size for comparison.
synthetic = images.float() / 255
real = torch.nn.functional.interpolate(image[None].float() / 255, size=synthetic.shape[-2:], mode="area")
real_mask = torch.nn.functional.interpolate(label[None].float(), size=synthetic.shape[-2:], mode="nearest") > 0
synthetic_mask = labels > 0
print(f"synthetic {tuple(synthetic.shape)}, real {tuple(real.shape)}")

# %% [markdown]
# ## Restyle with `style_transfer`
#
# `style_transfer(content, style, method)` restyles a batch `(N, C, H, W)`, each image from its own style image
# (or all from one, as here). `beta` is FDA's window: the fraction of the spectrum taken from the style image
# (the paper used 0.01 to 0.09; tiny images need a larger one to move more than the mean colour).

# %%


def histogram_per_region(content, style, content_mask, style_mask):
    """Histogram matching of background to background and polyp to polyp, so no polyp colour leaks elsewhere."""
    out = style_transfer(content, style, method="histogram", content_mask=~content_mask, style_mask=~style_mask)
    return style_transfer(out, style, method="histogram", content_mask=content_mask, style_mask=style_mask)


styled = {
    "fourier": style_transfer(synthetic, real, method="fourier", beta=0.1).clamp(0, 1),
    "histogram": style_transfer(synthetic, real, method="histogram"),
    "histogram per region": histogram_per_region(synthetic, real, synthetic_mask, real_mask),
}
if VGG19_WEIGHTS:
    # One engine, built once: loading the VGG is the slow part (the reference reloaded it for every image).
    engine = GatysStyleTransfer(weights_path=VGG19_WEIGHTS, content_weight=1, style_weight=1000, steps=20 if QUICK else 300)
    styled["gatys"] = style_transfer(synthetic, real, method="gatys", engine=engine)
else:
    print("VGG19_WEIGHTS is not set: skipping Gatys (set it to torchvision's vgg19-dcbb9e9d.pth to run it).")


def colour_gap(x):
    """Mean absolute difference of per-channel mean and standard deviation from the real image, in grey levels."""
    mean_gap = (x.mean(dim=(-2, -1)) - real.mean(dim=(-2, -1))).abs().mean()
    std_gap = (x.std(dim=(-2, -1)) - real.std(dim=(-2, -1))).abs().mean()
    return f"mean gap {255 * mean_gap:5.1f}, std gap {255 * std_gap:5.1f}"


print(f"{'synthetic':>20}: {colour_gap(synthetic)}")
for method, out in styled.items():
    print(f"{method:>20}: {colour_gap(out)}")

# One row per method (synthetic first); the masks are the synthetic ones, untouched by every method.
rows = torch.cat([synthetic, *styled.values()])
write_png(sample_grid(rows, labels.repeat(len(styled) + 1, 1, 1, 1), model.layout.label_values), OUT_DIR / "styled.png")
show_png(OUT_DIR / "styled.png")

# %% [markdown]
# Both weight-free methods close most of the colour gap. Fourier adaptation copies the mean colour exactly (the
# zero frequency) and the coarse shading, and keeps the sample's own detail. Histogram matching copies each
# channel's whole value distribution, blind to content: a sample whose polyp is small or missing still receives
# the real image's share of polyp-red pixels, scattered over the mucosa. The synthetic mask fixes that: matching
# background to background and polyp to polyp (`content_mask`, `style_mask`) keeps each colour in its region
# (its global colour gap stays larger, honestly so: the sample has another share of polyp than the real image).
# None of the methods changes the geometry, so the masks still fit. Gatys also transfers texture, at the price of
# weights and minutes of optimisation per batch.
#
# Masks must never be restyled. When image and mask travel as one stack, `image_channels=3` restyles only the
# first three channels and copies the others bit for bit:

# %%
stack = torch.cat([synthetic, labels.float() / 255], dim=1)  # (N, 4, H, W): RGB + mask
out = style_transfer(stack, real, method="fourier", beta=0.1, image_channels=3)
print("mask channel unchanged:", torch.equal(out[:, 3], stack[:, 3]))

# %% [markdown]
# ## As MONAI transforms
#
# `StyleTransferd` restyles the image under `keys` from the image under `style_key` (e.g. the real image the
# sample came from). `RandStyleTransferd` draws whether to restyle and which method per sample, from its own
# random state, and records the draw in the output's metadata: a style augmentation for synthetic data.

# %%
sample = {"image": MetaTensor(synthetic[0]), "label": labels[0], "real": real[0]}
restyle = Compose([StyleTransferd(keys="image", style_key="real", method="histogram")])
print("StyleTransferd:", colour_gap(restyle(sample)["image"][None]))

augment = RandStyleTransferd(keys="image", style_key="real", prob=0.8, methods=("fourier", "histogram"), beta=0.1)
augment.set_random_state(seed=1)
for i in range(4):
    out = augment(sample)["image"]
    record = out.meta["style_transfer"]  # written restyled or not, so collated batches keep it
    print(f"draw {i}:", f"{record['method']} (beta {record['beta']})" if record["applied"] else "not restyled")

# %% [markdown]
# ## A whole synthetic dataset: `monai-singanseg style`
#
# `sample_to_folder` (tutorial 1) writes a datalist whose entries name their `source_image`, the real image of the
# pyramid. The `style` command restyles every entry from its source and writes a new datalist with the labels
# copied untouched. We call the command line in-process here; in a shell it reads
#
# ```bash
# monai-singanseg style --synthetic synthetic/datalist.json --method histogram --out styled/
# monai-singanseg style --synthetic synthetic/datalist.json --method gatys --ratio 1:1000 \
#     --weights vgg19-dcbb9e9d.pth --out styled_gatys/
# ```

# %%
sample_to_folder(checkpoint, OUT_DIR / "synthetic", num_samples=4, seed=0)
status = monai_singanseg_cli(["style", "--synthetic", str(OUT_DIR / "synthetic" / "datalist.json"),
                              "--method", "histogram", "--out", str(OUT_DIR / "styled")])
entry = json.loads((OUT_DIR / "styled" / "datalist.json").read_text())["training"][0]
print(f"exit status {status}; first entry: image {entry['image']}, label {entry['label']}, style {entry['style']}")

# %% [markdown]
# ## Which method when?
#
# - To reproduce the paper, use `gatys` with the 1:1000 ratio and 1000 steps (on a GPU: seconds per image).
# - Without weights, or for large datasets, `fourier` keeps the sample's own detail and only shifts the global
#   appearance; `histogram` (per region, with the masks) is the strongest colour correction. Both work for any
#   channel count and for volumes.
# - The same tools adapt a real dataset to another scanner or endoscope (FDA's original use): restyle from an
#   image of the target domain instead of the source image.
