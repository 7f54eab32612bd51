# %% [markdown]
# # 5. MRI volumes in, synthetic slices out: NIfTI, DICOM and an ensemble of generators
#
# Brain tumour MRI is the other classic setting for synthetic training data. Larsson, Akbar and Eklund (*Does an
# ensemble of GANs lead to better performance when training segmentation networks with synthetic images?*)
# generated multi-channel axial slices of BraTS volumes together with their tumour labels, and found that samples
# from an **ensemble** of independently trained GANs taught a segmentation network better than samples from one
# GAN: each GAN misses different parts of the data. The bundle `bundles/brats_mri_slices_singanseg` follows their
# recipe with SinGAN-Seg pyramids (Thambawita et al., PLoS ONE 2022) in place of their GANs: one small pyramid per
# slice, K per slice for an ensemble.
#
# You will:
#
# 1. make three tiny two-channel MR-like volumes (FLAIR, T1c) with BraTS labels, two as NIfTI and one as DICOM
#    series, and load them with MONAI;
# 2. run the bundle's `prepare_slices` (volumes to normalised axial slices), `train_generators` (an ensemble of
#    2 pyramids per slice) and `generate` (synthetic slices as NIfTI and DICOM);
# 3. look at the synthetic slices and labels, read the DICOM headers that mark them synthetic, and open one pyramid.
#
# A few minutes on 2 CPU cores; `SINGANSEG_QUICK=1`: seconds. DICOM needs `pip install -e ".[dicom]"` (pydicom and
# ITK); without them the tutorial uses NIfTI only.

# %%
import os
from pathlib import Path

# Point DATA_DIR at a folder of BraTS-style case folders, e.g. ../shared/data/brats/brats2015_2ch; by default three
# tiny cases are written in the same layout. For other layouts, edit CASE_LAYOUT below.
DATA_DIR = os.environ.get("SINGANSEG_DATA")
QUICK = os.environ.get("SINGANSEG_QUICK", "0") == "1"
OUT_DIR = Path("tutorial_outputs") / "05_mri_volumes_to_slices"
OUT_DIR.mkdir(parents=True, exist_ok=True)

# %%
import importlib.util
import json
import shlex
import shutil

import nibabel as nib
import numpy as np
import torch
from monai.bundle import ConfigWorkflow
from monai.transforms import LoadImaged

import monai_singanseg
from monai_singanseg import SinGANSeg
from monai_singanseg.apps.mri import find_cases, read_datalist, read_series_headers, write_dicom_series
from monai_singanseg.data import load_image
from monai_singanseg.data.writers import write_png
from monai_singanseg.visualize import sample_grid, show_png

HAVE_DICOM = all(importlib.util.find_spec(name) for name in ("pydicom", "itk"))
# How a case folder names its files: the BraTS 2015 layout of ../shared/data/brats/brats2015_2ch. BraTS 2020 would
# be channel patterns "*_t1.nii.gz", "*_t1ce.nii.gz", "*_t2.nii.gz", "*_flair.nii.gz", label "*_seg.nii.gz", labels
# [0, 1, 2, 4] and no brain mask. A pattern may also name a DICOM series folder.
CASE_LAYOUT = {
    "channel_patterns": ["Flair_*", "T1c_*"],
    "channel_names": ["flair", "t1c"],
    "label_pattern": "OTMultiClass.nii.gz",
    "brain_mask_pattern": "brainmask.nii.gz",
    "label_values": [0, 1, 2, 3, 4],  # 1 necrosis, 2 oedema, 3 non-enhancing, 4 enhancing tumour
}



def find_bundle(name):
    """The bundle folder in the repository this package was installed from (pip install -e .), or above cwd."""
    roots = [Path(monai_singanseg.__file__).resolve().parents[1], Path.cwd(), *Path.cwd().parents]
    for root in roots:
        if (root / "bundles" / name / "configs").is_dir():
            return root / "bundles" / name
    raise FileNotFoundError(f"bundles/{name} not found above {roots[0]} or {Path.cwd()}: run from the repository.")


BUNDLE = find_bundle("brats_mri_slices_singanseg")
print(f"bundle: {BUNDLE}; DICOM support: {HAVE_DICOM}")

# %% [markdown]
# ## Tiny volumes, made in code
#
# Each case is a folder with one file per MR sequence, a label map and a brain mask, on one voxel grid (the BraTS
# layout). The brain is an ellipsoid; the tumour has oedema (2) around an enhancing rim (4), a necrotic core (1)
# and a non-enhancing part (3); FLAIR shows the oedema bright, T1c the enhancing rim. The affine stores the
# voxels in LPS order like BraTS. One case is written as DICOM series (one folder per sequence), to show that
# both formats load the same way.

# %%
SHAPE = (32, 32, 8) if QUICK else (48, 48, 12)
AFFINE = np.array([[-1.0, 0, 0, SHAPE[0] - 1], [0, -1.0, 0, SHAPE[1] - 1], [0, 0, 1.5, 0], [0, 0, 0, 1]])


def brain_phantom(shape, seed):
    """FLAIR and T1c volumes, a brain mask and a BraTS 2015 label map {0, 1, 2, 3, 4}; no patient data."""
    rng = np.random.default_rng(seed)
    x, y, z = np.meshgrid(*[np.arange(s, dtype=float) for s in shape], indexing="ij")
    cx, cy, cz = (np.asarray(shape) - 1) / 2
    sx, sy, sz = shape

    def ellipsoid(x0, y0, z0, rx, ry, rz):
        return np.sqrt(((x - x0) / rx) ** 2 + ((y - y0) / ry) ** 2 + ((z - z0) / rz) ** 2)

    brain = ellipsoid(cx, cy, cz, 0.42 * sx, 0.46 * sy, 0.6 * sz) < 1
    tx, ty = cx + rng.uniform(-0.15, 0.15) * sx, cy + rng.uniform(-0.15, 0.15) * sy
    radius = ellipsoid(tx, ty, cz, 0.22 * sx, 0.2 * sy, 0.4 * sz)
    label = np.zeros(shape, np.int16)
    label[brain & (radius < 1.0)] = 2
    label[brain & (radius < 0.6)] = 4
    label[brain & (radius < 0.35)] = 1
    label[brain & (radius < 0.6) & (x > tx + 0.08 * sx)] = 3
    texture = rng.normal(0, 1, shape)
    texture = (texture + np.roll(texture, 1, 0) + np.roll(texture, 1, 1)) / 3
    flair = np.where(brain, 300 + 40 * texture + 220 * (label == 2) + 120 * np.isin(label, (1, 3, 4)), 0)
    t1c = np.where(brain, 0.8 + 0.08 * texture + 1.4 * (label == 4) - 0.3 * (label == 1), -0.2)
    return {"Flair": flair.astype(np.float32), "T1c": t1c.astype(np.float32)}, label, brain.astype(np.uint8)


if DATA_DIR:
    dataset_dir = Path(DATA_DIR).resolve()
else:
    dataset_dir = (OUT_DIR / "cases").resolve()
    shutil.rmtree(dataset_dir, ignore_errors=True)
    for seed, case_id in enumerate(["case_a", "case_b_dicom", "case_c"]):
        folder = dataset_dir / case_id
        folder.mkdir(parents=True)
        channels, label, brain = brain_phantom(SHAPE, seed)
        for name, volume in channels.items():
            if case_id.endswith("dicom") and HAVE_DICOM:
                write_dicom_series(volume, AFFINE, folder / f"{name}_dicom", name.upper(), synthetic=False)
            else:
                nib.save(nib.Nifti1Image(volume, AFFINE), str(folder / f"{name}_subtrMeanDivStd.nii.gz"))
        nib.save(nib.Nifti1Image(label, AFFINE), str(folder / "OTMultiClass.nii.gz"))
        nib.save(nib.Nifti1Image(brain, AFFINE), str(folder / "brainmask.nii.gz"))
cases = find_cases(dataset_dir, CASE_LAYOUT["channel_patterns"], CASE_LAYOUT["label_pattern"],
                   CASE_LAYOUT["brain_mask_pattern"])
for case in cases:
    print(case["case_id"], [Path(p).name for p in case["image"]], Path(case["label"]).name)

# %% [markdown]
# ## Loading a case with MONAI
#
# A case is a MONAI dictionary whose `image` is a *list* of files: `LoadImaged` loads each and stacks them as
# channels. NIfTI files and DICOM series folders (read by MONAI's ITK reader) give the same channel-first array and
# the same affine, so the rest of the pipeline never asks which format came in.

# %%
load = LoadImaged(keys=["image", "label"], ensure_channel_first=True)
for case in cases[:2]:
    loaded = load(case)
    image, label = loaded["image"], loaded["label"]
    print(f"{case['case_id']}: image {tuple(image.shape)}, label {tuple(label.shape)} values "
          f"{sorted(label.unique().int().tolist())}, affine diagonal {np.diag(image.affine.numpy()).round(2).tolist()}")

# %% [markdown]
# ## The bundle, step by step
#
# The configs are run in-process through MONAI's `ConfigWorkflow`; the printed commands do the same from the
# bundle folder. Settings are shrunk for a CPU: small pyramids, a few slices per case, an ensemble of K = 2.
# `test_case_ids` holds one case out: slices and generators come from the training cases only.

# %%
workspace = (OUT_DIR / "workspace").resolve()
common = {
    "bundle_root": str(BUNDLE),
    "dataset_dir": str(dataset_dir),
    "output_dir": str(workspace / "output"),
    "ckpt_dir": str(workspace / "models"),
    **CASE_LAYOUT,
    "test_case_ids": None if DATA_DIR else ["case_c"],
    "slice_size": [256, 256] if DATA_DIR else list(SHAPE[:2]),
    "slices#tumour_only": True,
    "slices#max_slices_per_case": 2 if QUICK else 3,
    "singanseg#min_size": 16,
    "singanseg#max_size": 32 if QUICK else 48,
    "singanseg#iterations": 4 if QUICK else 60,
    "singanseg#base_features": 8 if QUICK else 16,
    "singanseg#max_features": 8 if QUICK else 32,
    "ensemble_size": 2,
    "generators#models_per_batch": 16,
    "synthesis#num_samples": 4 if QUICK else 12,
    "synthesis#write_dicom": HAVE_DICOM,
}


def keys_of(config):
    return set(json.loads((BUNDLE / "configs" / config).read_text()))


def as_arguments(settings):
    # Lists as JSON (double quotes survive the shell quoting), numbers, booleans and None as Python reads them.
    def text(value):
        if isinstance(value, str):
            return value
        return json.dumps(value) if isinstance(value, (list, dict)) else repr(value)

    return " ".join(f"--{key} {shlex.quote(text(value))}" for key, value in settings.items())


def run_step(config):
    """Run common.json + ``config`` through ConfigWorkflow with the settings above that the two configs define."""
    files = [BUNDLE / "configs" / "common.json", BUNDLE / "configs" / config]
    known = keys_of("common.json") | keys_of(config)
    settings = {k: v for k, v in common.items() if k.split("#")[0] in known}
    print(f"$ python -m monai.bundle run --config_file \"['configs/common.json','configs/{config}']\" "
          f"--meta_file configs/metadata.json {as_arguments(settings)}")
    workflow = ConfigWorkflow(config_file=[str(f) for f in files], meta_file=str(BUNDLE / "configs" / "metadata.json"),
                              logging_file=False, workflow_type=None, **settings)
    workflow.initialize()
    result = workflow.run()
    workflow.finalize()
    return result


# %% [markdown]
# ### 1. Volumes to slices
#
# Following the ensemble paper: each channel is mapped from its volume's minimum and maximum to [0, 1]; an axial
# slice is kept when enough of it is brain (here, and with `slices#tumour_only`, only slices showing tumour);
# slices are padded or cropped, centred, to `slice_size` (BraTS: 240 -> 256), and keep their affine, so every
# written slice lies where it lay in its volume. The per-channel ranges are recorded in `slices.json` to map
# synthetic slices back to scanner units.

# %%
run_step("prepare_slices.json")
slices = read_datalist(workspace / "output" / "slices" / "slices.json")
print(f"{len(slices)} slices:", ", ".join(entry["slice_id"] for entry in slices))

# %% [markdown]
# ### 2. An ensemble of generators
#
# K = `ensemble_size` pyramids per slice, each with its own seed, in `models/generators/member_<k>/<slice id>.pt`.
# Each member folder is a `SinGANSegBank`, so `RandSinGANSegd` (tutorial 2) can use it for online augmentation.
# The labels are one-hot channels (`singanseg#label_encoding: onehot`), so a pyramid of a two-channel slice with
# five label values generates 2 + 5 channels.

# %%
run_step("train_generators.json")
members = sorted((workspace / "models" / "generators").glob("member_*"))
print(", ".join(f"{m.name}: {len(list(m.glob('*.pt')))} pyramids" for m in members))

# %% [markdown]
# ### 3. Synthetic slices, as NIfTI and DICOM
#
# Samples are drawn evenly from the members and the slices (sample i from member i mod K), and decoded to exactly
# the label set. NIfTI slices stay in the normalised units of the real slices, on the grid of the slice their
# generator was trained on. DICOM series come in the source case's units, one series per channel plus the label,
# marked synthetic and carrying no patient identifiers.

# %%
run_step("generate.json")
synthetic = read_datalist(workspace / "output" / "synthetic" / "synthetic.json")
print(f"{len(synthetic)} synthetic slices; first entry:")
print(json.dumps({k: v for k, v in synthetic[0].items() if k != "affine"}, indent=1))

# %% [markdown]
# ## Look at them
#
# Real training slices first, then synthetic ones; the FLAIR channel with the labels overlaid (green 1, red 2,
# blue 3, yellow 4). MONAI arrays are `(X, Y)`: transposed for viewing. Every synthetic label holds only valid values.

# %%
label_values = CASE_LAYOUT["label_values"]


def load_pairs(entries):
    images = torch.stack([load_image(e["image"]).as_tensor().float() for e in entries])
    labels = torch.stack([load_image(e["label"], "label").as_tensor()[:1] for e in entries])
    return images.transpose(-1, -2), labels.transpose(-1, -2)


real_images, real_labels = load_pairs(slices[:4])
synthetic_images, synthetic_labels = load_pairs(synthetic[:8])
print("synthetic label values:", sorted(synthetic_labels.unique().int().tolist()), "of", label_values)
for name, (images, labels) in {"real_slices": (real_images, real_labels),
                               "synthetic_slices": (synthetic_images, synthetic_labels)}.items():
    for channel, channel_name in enumerate(CASE_LAYOUT["channel_names"]):
        path = OUT_DIR / f"{name}_{channel_name}.png"
        write_png(sample_grid(images[:, channel : channel + 1], labels, label_values), path)
    show_png(OUT_DIR / f"{name}_flair.png")

# %% [markdown]
# The DICOM headers say what the files are: derived, secondary, synthetic images, with no patient name or ID.

# %%
if HAVE_DICOM:
    import pydicom

    dicom_dir = workspace / "output" / "synthetic" / synthetic[0]["dicom"]  # relative to the datalist's folder
    for series_dir in sorted(p for p in dicom_dir.iterdir() if p.is_dir()):
        series = read_series_headers(series_dir)
        print(f"{series_dir.name}: {series.series_description!r}, shape {series.shape}")
    header = pydicom.dcmread(series.files[0], stop_before_pixels=True)
    print("ImageType:", list(header.ImageType), "| PatientName:", repr(str(header.PatientName)),
          "| PatientIdentityRemoved:", header.PatientIdentityRemoved)
else:
    print("pydicom or itk is not installed: no DICOM output (pip install -e '.[dicom]').")

# %% [markdown]
# ## One pyramid of the ensemble
#
# A checkpoint is an ordinary `SinGANSeg` (tutorial 1). Its channel layout tells how the stack is built: two image
# channels, then one channel per label value. `decode` takes the argmax over the label channels, so labels are
# always valid. With `label_encoding: spread` (one channel, the paper's 0/51/102/204 intensities) decoding rounds
# to the nearest valid value instead, the rule `QuantizeLabeld` implements for any generated label map.

# %%
checkpoint = sorted(members[0].glob("*.pt"))[0]
model = SinGANSeg.load(str(checkpoint))
layout = model.layout
print(f"{checkpoint.name}: {layout.image_channels} image + {layout.label_channels} label channels "
      f"({layout.label_encoding}), label values {layout.label_values}, scales {model.scale_shapes}")
images, labels = model.decode(model.sample(4, generator=torch.Generator().manual_seed(0)))
print(f"samples {tuple(images.shape)}, label values {sorted(labels.unique().int().tolist())}")

# %% [markdown]
# ## Where next
#
# - The bundle's `train_segmentation.json` trains a 2D nnU-Net-like `DynUNet` on `real`, `synthetic` or `both`
#   (`--training_data`), and `evaluate.json` reports Dice per tumour class per subject on the held-out volumes,
#   slice by slice: the ensemble paper's comparison. `scripts/compare_real_synthetic.sh` runs it end to end.
# - Try `--ensemble_size 5` or more: the paper's gains came from 10 to 20 members.
# - Pyramids are not limited to slices: `train_singanseg` takes a `(C, X, Y, Z)` volume and trains a 3D pyramid
#   (`spatial_dims=3`), at a much higher cost per iteration.
# - The bundle's `docs/README.md` lists every key, the DICOM details and the data licences.
