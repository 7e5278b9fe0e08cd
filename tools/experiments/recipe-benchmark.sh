#!/usr/bin/env bash
# The realistic propagation benchmark of docs/recipes.md, for one recipe, in one command:
#   tools/experiments/recipe-benchmark.sh RECIPE TRAIN_SET [key=value ...]
#   e.g. tools/experiments/recipe-benchmark.sh next-frame-warp-cycle-reseed hard-train stop.time_budget_s=360
# RECIPE is a file of configs/recipes/ without .yaml; TRAIN_SET one of easy-train, hard-train,
# mix-train (easy and hard motion, alternating). The data sets (64x64 endoscopy, one key frame
# per video) are rendered into $BENCH_DIR (default /tmp/stillmotion-recipes) on first use; the
# run goes to $BENCH_DIR/runs/<recipe>-<train set>[-<overrides>]; the table of Dice (model,
# copy-key, flow) and next-frame PSNR (model, copy-last) on the easy, hard, sweep and shake test
# sets is printed and kept in the run's recipe.json.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
PY=${STILLMOTION_PYTHON:-/usr/bin/python3}
BENCH_DIR=${BENCH_DIR:-/tmp/stillmotion-recipes}
recipe=$1 train=$2
shift 2
cd "$ROOT/python-trainer"

synth() { # name videos frames seed motion
  [[ -f "$BENCH_DIR/$1/manifest.json" ]] && return
  "$PY" -m stillmotion_trainer synth --size 64 --out "$BENCH_DIR/$1" --videos "$2" --frames "$3" \
    --seed "$4" --motion "$5" >/dev/null
}
synth easy-train 24 16 0 easy
synth hard-train 32 16 0 hard
synth mix-train 48 16 0 easy,hard
for m in easy hard sweep shake; do synth "$m-test" 6 24 100 "$m"; done

name="$recipe-$train"
sets=(--set "data.dataset=$BENCH_DIR/$train/manifest.json" --set data.size=64)  # the synthetic sets are 64x64
for kv in "$@"; do
  sets+=(--set "$kv")
  name+="-${kv//[^A-Za-z0-9.=_]/_}"
done
evals=()
for m in easy hard sweep shake; do evals+=(--eval "$m=$BENCH_DIR/$m-test/manifest.json"); done
run_dir="$BENCH_DIR/runs/$name"
rm -rf "$run_dir"
mkdir -p "$BENCH_DIR/runs"
PYTHONPATH=.:../tools/experiments "$PY" ../tools/experiments/run_recipe.py \
  --config "../configs/recipes/$recipe.yaml" --run-dir "$run_dir" "${sets[@]}" "${evals[@]}" \
  >"$run_dir.log" 2>&1 || { tail -20 "$run_dir.log" >&2; exit 1; }
"$PY" - "$run_dir/recipe.json" <<'PY'
import json
import sys

r = json.load(open(sys.argv[1]))
print(f"{sys.argv[1]}: {r['steps']} steps in {r['train_seconds']} s, "
      f"{len(r['collapse_warnings'])} collapse warnings")
print("test   Dice model  copy-key  flow   | PSNR model  copy-last | mask mean  gt")
for k, v in r["eval"].items():
    print(f"{k:6s} {v['dice_model']:10.3f} {v['dice_copy_key']:9.3f} {v['dice_flow']:6.3f} | "
          f"{v['psnr_model']:10.2f} {v['psnr_copy_last']:10.2f} | {v['mask_mean']:9.3f} "
          f"{v['gt_fraction']:5.3f}")
PY
