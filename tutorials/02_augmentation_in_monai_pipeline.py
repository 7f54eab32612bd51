# %% [markdown]
# # 2. SinGAN-Seg as augmentation in a MONAI training pipeline
#
# SinGAN-Seg (Thambawita et al., PLoS ONE 2022) can be used in two ways: write a synthetic dataset to disk once
# (tutorial 1, `monai-singanseg generate`), or draw fresh synthetic pairs **during training**, as one more random
# transform. This tutorial does the second. `RandSinGANSegd` is a MONAI dictionary transform: with probability
# `prob` it replaces a sample's image *and* label by a synthetic pair from the pyramid trained on that very image,
# resized to the sample's shape, in its dtype and intensity range. Because the pair comes from the same draw, the
# label always fits the image, which is what ordinary intensity or geometric augmentation also guarantees, but the
# anatomy itself changes (the polyp moves, changes size and shape).
#
# You will:
#
# 1. write a tiny dataset of image+mask PNG files (phantoms made in code, or your own data);
# 2. train one SinGAN pyramid per training image into a *bank* folder (`train_many`, as `monai-singanseg train-many`);
# 3. put `RandSinGANSegd` in a `Compose` with MONAI's loading and intensity transforms, and look at a batch;
# 4. train a small `monai.networks.nets.BasicUNet` for a few steps with a MONAI `DataLoader`.
#
# A few minutes on 2 CPU cores; `SINGANSEG_QUICK=1` runs it in seconds.

# %%
import os
from pathlib import Path

# Point DATA_DIR at a folder with images/ and masks/ (Kvasir-SEG layout, e.g. ../shared/data/polyp/kvasir_seg);
# by default a few phantoms are written and used.
DATA_DIR = os.environ.get("SINGANSEG_DATA")
QUICK = os.environ.get("SINGANSEG_QUICK", "0") == "1"
OUT_DIR = Path("tutorial_outputs") / "02_augmentation_in_monai_pipeline"
OUT_DIR.mkdir(parents=True, exist_ok=True)

# %%
import json

import torch
from monai.data import DataLoader, Dataset
from monai.losses import DiceLoss
from monai.metrics import DiceMetric
from monai.networks.nets import BasicUNet
from monai.transforms import (
    Compose,
    EnsureChannelFirstd,
    Lambdad,
    LoadImaged,
    RandFlipd,
    Resized,
    ScaleIntensityd,
)
from monai.utils import set_determinism

from monai_singanseg import SinGANSegSettings
from monai_singanseg.data import SinGANSegBank, endoscopy_phantom, list_training_items
from monai_singanseg.data.writers import to_uint8_rgb, write_png
from monai_singanseg.train_many import train_many
from monai_singanseg.transforms import QuantizeLabeld, RandSinGANSegd
from monai_singanseg.visualize import sample_grid, show_png




# %% [markdown]
# ## A tiny dataset
#
# Four phantoms (different seeds put the polyp elsewhere), written as PNG files in the Kvasir-SEG layout:
# `images/<id>.png` and `masks/<id>.png`. The file name stem is the *image id*: it names the pyramid trained on
# that image, and it is how `RandSinGANSegd` finds the right pyramid for a sample.

# %%
NUM_IMAGES = 4
if DATA_DIR:
    items = list_training_items(Path(DATA_DIR).resolve())[:NUM_IMAGES]
else:
    data_dir = (OUT_DIR / "data").resolve()
    for seed in range(NUM_IMAGES):
        image, mask = endoscopy_phantom(*((32, 40) if QUICK else (48, 60)), seed=seed)
        write_png(to_uint8_rgb(image), data_dir / "images" / f"phantom_{seed}.png")
        write_png(mask[0], data_dir / "masks" / f"phantom_{seed}.png")
    items = list_training_items(data_dir)
data = [{"image": item.image, "label": item.label} for item in items]
datalist = OUT_DIR / "training.json"  # a MONAI datalist of exactly these pairs
datalist.write_text(json.dumps({"training": data}, indent=1))
print(f"{len(data)} training pairs:", ", ".join(item.image_id for item in items))

# %% [markdown]
# ## One pyramid per training image: the bank
#
# `train_many` trains a pyramid per image and writes `<bank>/<image id>.pt`. Images with the same pyramid shapes
# can train together as grouped convolutions (`models_per_batch`), which is much faster on a GPU and still gives
# each model its own losses and random draws. Running it again skips finished pyramids, so an interrupted run
# resumes. The settings are shrunk for a CPU, as in tutorial 1.

# %%
if QUICK:
    settings = SinGANSegSettings(min_size=16, max_size=32, iterations=10, base_features=8, max_features=16, seed=0)
else:
    settings = SinGANSegSettings(min_size=20, max_size=48, iterations=100, base_features=16, max_features=32, seed=0)
bank_dir = OUT_DIR / ("bank_quick" if QUICK else "bank")
summary = train_many(datalist, bank_dir, settings, models_per_batch=NUM_IMAGES, label_threshold=127)
# A bank is a folder of checkpoints, or (as here) a list of them: exactly the pyramids of our training images.
bank = SinGANSegBank([bank_dir / f"{item.image_id}.pt" for item in items])
print(f"trained {len(summary['trained'])}, skipped {len(summary['skipped'])} finished; bank: {bank}, ids {bank.ids}")

# %% [markdown]
# ## The pipeline
#
# `RandSinGANSegd` goes where the image and label are loaded and channel-first, before resizing and intensity
# scaling, so that it sees the images the pyramids were trained on:
#
# - `LoadImaged` + `EnsureChannelFirstd`: MONAI's default PNG reader gives `(C, W, H)`, while pyramids are
#   `(C, H, W)`; `reverse_indexing=True` tells the transform (for non-square images it would also guess right).
# - Masks must hold only values the pyramid knows. The pyramids saw masks binarised at 127 into {0, 1};
#   `QuantizeLabeld` maps the stored {0, 255} (with JPEG noise) to the nearest valid value, then to {0, 1}.
# - `match="image_id"` (the default) takes the pyramid trained on the sample's own image, found by the file name
#   (`id_key=` names a data key instead); `match="any"` draws any pyramid of the bank.
# - `start_scale=(0, 1)` draws the start scale per sample: 0 changes the layout, 1 stays closer to the real image.
#
# All randomness comes from the transform's own random state, so `set_determinism` and MONAI's DataLoader
# seeding make runs reproducible. The bank loads pyramids lazily and per process, so `num_workers > 0` works too.

# %%
size = (32, 32) if QUICK else (64, 64)
train_transforms = Compose([
    LoadImaged(keys=["image", "label"]),
    EnsureChannelFirstd(keys=["image", "label"]),
    Lambdad(keys="label", func=lambda label: label[:1]),  # some datasets store masks as RGB: keep one channel
    QuantizeLabeld(keys="label", values=(0, 255), output_values=(0, 1)),
    RandSinGANSegd(keys=("image", "label"), bank=bank, prob=0.5, start_scale=(0, 1), reverse_indexing=True),
    Resized(keys=["image", "label"], spatial_size=size, mode=("bilinear", "nearest")),
    ScaleIntensityd(keys="image"),
    RandFlipd(keys=["image", "label"], prob=0.5, spatial_axis=0),
])
set_determinism(seed=0)  # seeds the DataLoader, which in turn seeds the transforms' random states
loader = DataLoader(Dataset(data, train_transforms), batch_size=len(data), shuffle=True, num_workers=0)

# %% [markdown]
# Every output records in its metadata whether it was replaced and how (`meta["singanseg"]`), so you can check
# the augmentation rate and trace a sample back to its pyramid. Two passes over the data show the real and the
# synthetic samples side by side (MONAI images are `(C, W, H)`: transposed back for viewing).

# %%
images, labels = [], []
for epoch in range(2):
    batch = next(iter(loader))
    record = batch["image"].meta["singanseg"]
    replaced = [bool(r) for r in record["replaced"]]
    print(f"pass {epoch}: replaced {replaced}, start scales {[int(s) for s in record['start_scale']]}")
    images.append(batch["image"].as_tensor().transpose(-1, -2))
    labels.append(batch["label"].as_tensor().transpose(-1, -2))
grid = sample_grid(torch.cat(images), torch.cat(labels), (0, 1), columns=len(data))
write_png(grid, OUT_DIR / "augmented_batches.png")
show_png(OUT_DIR / "augmented_batches.png")

# %% [markdown]
# ## Train a segmentation network
#
# An ordinary MONAI training loop: `BasicUNet` (small features to fit a CPU), Dice loss on the sigmoid output,
# Adam. Nothing in the loop knows about SinGAN-Seg: the augmentation lives entirely in the transforms. For the
# paper's experiments (UNet++ on real, synthetic and real+synthetic data) see tutorial 4 and the endoscopy bundle.

# %%
net = BasicUNet(spatial_dims=2, in_channels=3, out_channels=1, features=(8, 8, 16, 32, 64, 8))
loss_function = DiceLoss(sigmoid=True)
optimizer = torch.optim.Adam(net.parameters(), lr=1e-2)
num_steps = 3 if QUICK else 60
step = 0
while step < num_steps:
    for batch in loader:
        optimizer.zero_grad()
        loss = loss_function(net(batch["image"]), batch["label"])
        loss.backward()
        optimizer.step()
        step += 1
        if step == 1 or step % 10 == 0 or step == num_steps:
            print(f"step {step}: Dice loss {loss.item():.3f}")
        if step == num_steps:
            break

# %% [markdown]
# Finally, the Dice score on the real images without augmentation (on the training images themselves: this is a
# demonstration of the plumbing, not an evaluation; tutorial 4 holds images out).

# %%
eval_transforms = Compose([t for t in train_transforms.transforms if not isinstance(t, (RandSinGANSegd, RandFlipd))])
dice = DiceMetric(include_background=True)
net.eval()
with torch.no_grad():
    for batch in DataLoader(Dataset(data, eval_transforms), batch_size=len(data)):
        dice(y_pred=(torch.sigmoid(net(batch["image"])) > 0.5).float(), y=batch["label"])
print(f"Dice on the real training images after {num_steps} steps: {dice.aggregate().item():.3f}")

# %% [markdown]
# ## Where next
#
# - `RandSinGANSegd(..., intensity="raw")` keeps the pyramid's own units for pipelines that do not rescale.
# - Volumes work the same way: pyramids trained on 3D stacks replace 3D samples (see tutorial 5 for MRI).
# - The bank in `monai-singanseg train-many --data <folder> --out <bank>` is exactly what `bank=` takes.
