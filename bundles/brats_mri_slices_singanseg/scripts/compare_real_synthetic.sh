#!/usr/bin/env bash
# Per-class Dice per subject of a DynUNet trained on real slices vs one trained on synthetic slices only (the
# ensemble paper's Table 1, rows "real" and "synthetic"), on the shared BraTS 2015 two-channel cases. Every step is a
# `python -m monai.bundle run`; sizes come from the environment so the same script runs tiny on a CPU.
#
#   bash scripts/compare_real_synthetic.sh DATA_DIR OUT_DIR [--more overrides for every step]
#
# Results: OUT_DIR/output/metrics/{real,synthetic}/dice_per_class.json.
set -euo pipefail
DATA=${1:?dataset folder, e.g. ../../../shared/data/brats/brats2015_2ch}
OUT=${2:?output folder}
cd "$(dirname "$0")/.."
: "${SLICES_PER_CASE:=16}" "${ENSEMBLE_SIZE:=1}" "${GAN_ITERATIONS:=200}" "${MODELS_PER_BATCH:=32}"
: "${SAMPLES_PER_SLICE:=10}" "${REAL_EPOCHS:=200}" "${BATCH_SIZE:=16}" "${UNET_LEVELS:=7}" "${UNET_FILTERS:=32}" "${NUM_WORKERS:=4}"
common=(--meta_file configs/metadata.json --logging_file configs/logging.conf
        --dataset_dir "$DATA" --bundle_root "$OUT" --num_workers "$NUM_WORKERS" --batch_size "$BATCH_SIZE"
        --channel_patterns "['Flair_*.nii.gz','T1c_*.nii.gz']" --channel_names "['flair','t1c']"
        --label_pattern OTMultiClass.nii.gz --brain_mask_pattern brainmask.nii.gz --label_values "[0,1,2,3,4]"
        --test_case_ids "['brats_2013_pat0005_1','brats_2013_pat0006_1']"
        --ensemble_size "$ENSEMBLE_SIZE" --unet#num_levels "$UNET_LEVELS" --unet#base_filters "$UNET_FILTERS"
        "${@:3}")
run() { python -m monai.bundle run --config_file "['configs/common.json','configs/$1.json']" "${common[@]}" "${@:2}"; }

run prepare_slices --slices#max_slices_per_case "$SLICES_PER_CASE"
num_slices=$(python -c "import json,sys; print(len(json.load(open(sys.argv[1]))['training']))" "$OUT/output/slices/slices.json")
num_samples=$((num_slices * SAMPLES_PER_SLICE))
# Equal numbers of network updates for both rows: epochs scale with the number of batches in an epoch.
real_batches=$(( (num_slices + BATCH_SIZE - 1) / BATCH_SIZE ))
synthetic_batches=$(( (num_samples + BATCH_SIZE - 1) / BATCH_SIZE ))
synthetic_epochs=$(( (REAL_EPOCHS * real_batches + synthetic_batches - 1) / synthetic_batches ))
run train_segmentation --training_data real --max_epochs "$REAL_EPOCHS"
run evaluate --training_data real
run train_generators --singanseg#iterations "$GAN_ITERATIONS" --generators#models_per_batch "$MODELS_PER_BATCH"
run generate --synthesis#num_samples "$num_samples" --synthesis#write_dicom False
run train_segmentation --training_data synthetic --max_epochs "$synthetic_epochs"
run evaluate --training_data synthetic
