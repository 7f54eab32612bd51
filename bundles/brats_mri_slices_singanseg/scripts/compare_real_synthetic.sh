#!/usr/bin/env bash
# BraTS region Dice (WT, TC, ET) and per-label Dice per held-out subject of a DynUNet trained on real slices, on
# synthetic slices only, and on both (the ensemble paper's Table 1 rows), with equal optimiser updates for every row;
# and the synthetic slices' label-structure report. Every step is a `python -m monai.bundle run`; sizes come from the
# environment, and the defaults are the settings recorded in docs/README.md for 2 CPU cores.
#
#   bash scripts/compare_real_synthetic.sh DATA_DIR OUT_DIR [--more overrides for every step]
#
# Results: OUT_DIR/output/metrics/comparison.md (and each row's brats_regions.json, dice_per_class.json),
# OUT_DIR/output/report/{label_structure.md,slices.png}, OUT_DIR/output/metrics/timings.txt.
set -euo pipefail
DATA=${1:?dataset folder, e.g. ../../../shared/data/brats/brats2015_2ch}
OUT=${2:?output folder}
cd "$(dirname "$0")/.."
# Slices evenly spaced over the brain (TUMOUR_ONLY=False): the network is evaluated on whole volumes, so it must
# also see tumour-free brain.
: "${SLICES_PER_CASE:=8}" "${TUMOUR_ONLY:=False}" "${ENSEMBLE_SIZE:=1}" "${RECIPE:=draft}" "${GAN_SIZE:=128}"
# GAN_ITERATIONS, when set, replaces the recipe's iterations at the coarsest scale.
: "${GAN_ITERATIONS:=}" "${MODELS_PER_BATCH:=1}" "${SAMPLES_PER_SLICE:=10}" "${UPDATES:=400}"
: "${BATCH_SIZE:=16}" "${UNET_LEVELS:=5}" "${UNET_FILTERS:=16}" "${NUM_WORKERS:=0}" "${ROWS:=real synthetic both}"
# CONVERGED_CHECK=1 also trains the real row with half the updates: if that row is as good, the real row had converged.
: "${CONVERGED_CHECK:=1}"
common=(--meta_file configs/metadata.json --logging_file configs/logging.conf
        --dataset_dir "$DATA" --bundle_root "$OUT" --num_workers "$NUM_WORKERS" --batch_size "$BATCH_SIZE"
        --channel_patterns "['Flair_*.nii.gz','T1c_*.nii.gz']" --channel_names "['flair','t1c']"
        --label_pattern OTMultiClass.nii.gz --brain_mask_pattern brainmask.nii.gz --label_values "[0,1,2,3,4]"
        --test_case_ids "['brats_2013_pat0005_1','brats_2013_pat0006_1']"
        --ensemble_size "$ENSEMBLE_SIZE" --unet#num_levels "$UNET_LEVELS" --unet#base_filters "$UNET_FILTERS"
        "${@:3}")
run() {
    local step=$1 configs="'configs/common.json','configs/$1.json'"
    [[ $step == train_generators && $RECIPE != faithful ]] && configs="'configs/common.json','configs/recipe_$RECIPE.json','configs/$1.json'"
    local start=$SECONDS
    python -m monai.bundle run --config_file "[$configs]" "${common[@]}" "${@:2}"
    mkdir -p "$OUT/output/metrics"
    echo "$step ${*:2}: $((SECONDS - start)) s" >> "$OUT/output/metrics/timings.txt"
}
count() { python -c "import json,sys; print(len(json.load(open(sys.argv[1]))['training']))" "$1"; }
batches_for() { echo $(( ($1 + BATCH_SIZE - 1) / BATCH_SIZE )); }

rm -f "$OUT/output/metrics/timings.txt"
run prepare_slices --slices#max_slices_per_case "$SLICES_PER_CASE" --slices#tumour_only "$TUMOUR_ONLY"
num_slices=$(count "$OUT/output/slices/slices.json")
num_samples=$((num_slices * SAMPLES_PER_SLICE))
synthesise() {
    run train_generators ${GAN_ITERATIONS:+--singanseg#iterations "$GAN_ITERATIONS"} --singanseg#max_size "$GAN_SIZE" \
        --generators#models_per_batch "$MODELS_PER_BATCH"
    run generate --synthesis#num_samples "$num_samples" --synthesis#write_dicom False
    run report
}
declare -A size=([real]=$num_slices [synthetic]=$num_samples
                 [both]=$(( 2 * (num_slices > num_samples ? num_slices : num_samples) )))
updates=()
synthesised=false
for row in $ROWS; do
    # The real row first needs no generators: its figures come before the generators have trained.
    if [[ $row != real && $synthesised == false ]]; then synthesise; synthesised=true; fi
    # At least UPDATES optimiser updates for every row, whatever the size of its training set.
    batches=$(batches_for "${size[$row]}")
    epochs=$(( (UPDATES + batches - 1) / batches ))
    run train_segmentation --training_data "$row" --max_epochs "$epochs"
    run evaluate --training_data "$row"
    updates+=("$row=$((epochs * batches))")
done
if [[ $CONVERGED_CHECK == 1 && " $ROWS " == *" real "* ]]; then
    batches=$(batches_for "$num_slices")
    epochs=$(( (UPDATES / 2 + batches - 1) / batches ))
    half=(--training_data real --model_file "$OUT/models/segmentation/model_real_half.pt")
    run train_segmentation "${half[@]}" --max_epochs "$epochs"
    run evaluate "${half[@]}" --metrics_dir "$OUT/output/metrics/real_half"
    updates+=("real_half=$((epochs * batches))")
fi
python - "$OUT/output/metrics" "${updates[@]}" <<'PY'
import sys
from monai_singanseg.apps.mri.comparison import comparison_table
root, updates = sys.argv[1], dict(arg.split("=") for arg in sys.argv[2:])
print(comparison_table(root, list(updates), {row: int(n) for row, n in updates.items()}, f"{root}/comparison.md"))
PY
