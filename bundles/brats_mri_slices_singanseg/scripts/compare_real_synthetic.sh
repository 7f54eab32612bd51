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
# TIDY_LABELS=True sets tumour labels outside the brain and tumour speckles of the synthetic labels to background.
: "${TIDY_LABELS:=False}"
# STRUCTURE_ATTEMPTS > 1 draws a synthetic slice again, up to that many times, while its label breaks the structure.
: "${STRUCTURE_ATTEMPTS:=1}"
# JOBS > 1 runs that many steps at once (the generators split by slice, the rows side by side), each with
# OMP_NUM_THREADS threads, 1 unless set, so that JOBS steps on JOBS cores do not oversubscribe them.
: "${JOBS:=1}"
for row in $ROWS; do
    [[ $row == real || $row == synthetic || $row == both ]] || { echo "ROWS: unknown row '$row' (real, synthetic or both)" >&2; exit 2; }
done
[[ -n ${ROWS// /} ]] || { echo "ROWS names no row (real, synthetic or both)" >&2; exit 2; }
[[ $TIDY_LABELS == True || $TIDY_LABELS == False ]] || { echo "TIDY_LABELS must be True or False, got '$TIDY_LABELS'" >&2; exit 2; }
[[ $STRUCTURE_ATTEMPTS =~ ^[1-9][0-9]*$ ]] || { echo "STRUCTURE_ATTEMPTS must be a whole number of at least 1, got '$STRUCTURE_ATTEMPTS'" >&2; exit 2; }
[[ $JOBS =~ ^[1-9][0-9]*$ ]] || { echo "JOBS must be a whole number of at least 1, got '$JOBS'" >&2; exit 2; }
(( JOBS == 1 )) || export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
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

# One lane: each step in turn, printing as it goes. JOBS lanes: up to JOBS steps at once, each logged to
# OUT_DIR/output/logs/<name>.log; a failed step stops the script, and the steps still running, when it is waited for.
mkdir -p "$OUT/output/logs"
trap 'kill $(jobs -rp) 2>/dev/null || true' EXIT
in_lane() {
    local name=$1
    if (( JOBS == 1 )); then "${@:2}"; return; fi
    while (( $(jobs -rp | wc -l) >= JOBS )); do wait -n; done
    echo "$name: $OUT/output/logs/$name.log"
    "${@:2}" > "$OUT/output/logs/$name.log" 2>&1 &
    lane_pids+=($!)
}
wait_lanes() { local pid; for pid in "${lane_pids[@]}"; do wait "$pid"; done; lane_pids=(); }
lane_pids=()

rm -f "$OUT/output/metrics/timings.txt"
run prepare_slices --slices#max_slices_per_case "$SLICES_PER_CASE" --slices#tumour_only "$TUMOUR_ONLY"
num_slices=$(count "$OUT/output/slices/slices.json")
num_samples=$((num_slices * SAMPLES_PER_SLICE))
declare -A size=([real]=$num_slices [synthetic]=$num_samples
                 [both]=$(( 2 * (num_slices > num_samples ? num_slices : num_samples) )))
updates=()
# At least UPDATES optimiser updates for every row, whatever the size of its training set.
epochs_for() { local batches; batches=$(batches_for "${size[$1]}"); echo $(( ($2 + batches - 1) / batches )); }
updates_for() { echo $(( $(epochs_for "$1" "$2") * $(batches_for "${size[$1]}") )); }
train_row() {  # row, updates, then overrides for both steps
    run train_segmentation --training_data "$1" --max_epochs "$(epochs_for "$1" "$2")" "${@:3}"
    run evaluate --training_data "$1" "${@:3}"
}
# The real rows need no generators, so they go first: their figures come before the generators have trained.
if [[ " $ROWS " == *" real "* ]]; then
    in_lane real train_row real "$UPDATES"
    updates+=("real=$(updates_for real "$UPDATES")")
    if [[ $CONVERGED_CHECK == 1 ]]; then
        in_lane real_half train_row real $((UPDATES / 2)) --model_file "$OUT/models/segmentation/model_real_half.pt" \
            --metrics_dir "$OUT/output/metrics/real_half"
        half_updates="real_half=$(updates_for real $((UPDATES / 2)))"
    fi
fi
if [[ " $ROWS " == *" synthetic "* || " $ROWS " == *" both "* ]]; then
    # Shard k of JOBS trains slices k, k + JOBS, ...; the generate step waits for every shard.
    for ((shard = 0; shard < JOBS; shard++)); do
        in_lane "train_generators_$shard" run train_generators ${GAN_ITERATIONS:+--singanseg#iterations "$GAN_ITERATIONS"} \
            --singanseg#max_size "$GAN_SIZE" --generators#models_per_batch "$MODELS_PER_BATCH" \
            --generators#slices "\$monai_singanseg.apps.mri.read_datalist(@slices_datalist)[$shard::$JOBS]"
    done
    wait_lanes
    run generate --synthesis#num_samples "$num_samples" --synthesis#write_dicom False --synthesis#tidy_labels "$TIDY_LABELS" \
        --synthesis#structure_attempts "$STRUCTURE_ATTEMPTS"
    run report
    for row in $ROWS; do
        [[ $row == real ]] && continue
        in_lane "$row" train_row "$row" "$UPDATES"
        updates+=("$row=$(updates_for "$row" "$UPDATES")")
    done
fi
wait_lanes
[[ -z ${half_updates:-} ]] || updates+=("$half_updates")
echo "total, JOBS=$JOBS: $SECONDS s" >> "$OUT/output/metrics/timings.txt"
python - "$OUT/output/metrics" "${updates[@]}" <<'PY'
import sys
from monai_singanseg.apps.mri.comparison import comparison_table
root, updates = sys.argv[1], dict(arg.split("=") for arg in sys.argv[2:])
print(comparison_table(root, list(updates), {row: int(n) for row, n in updates.items()}, f"{root}/comparison.md"))
PY
