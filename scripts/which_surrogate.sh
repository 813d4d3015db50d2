#!/usr/bin/env bash
# The sweeps behind docs/which-surrogate.md and its heatmaps (docs/img/which-surrogate-*.png):
# the full default grid (every registered surrogate x 7 steepness values x seeds 0, 1, 2,
# plus the controls) on Randman `hard` (~22 min on an idle 2-core machine) and the digits.
# Override STEEPNESS, SEEDS or BUDGET (seconds of training per run) for a smaller sweep, e.g.
# STEEPNESS=0.3,3,30,300 SEEDS=0 BUDGET=12 as for the page's reduced stork sweep.
set -euo pipefail
cd "$(dirname "$0")/.."
PROCESSES=${PROCESSES:-2}
OUT=${OUT:-sweeps}
options=()
[ -n "${STEEPNESS:-}" ] && options+=(--steepness "$STEEPNESS")
[ -n "${SEEDS:-}" ] && options+=(--seeds "$SEEDS")
[ -n "${BUDGET:-}" ] && options+=(--time-budget "$BUDGET")
mkdir -p "$OUT"
for task in "randman hard" "digits default"; do
  set -- $task
  time sc-neurocore sweep --task "$1" --preset "$2" "${options[@]}" --processes "$PROCESSES" \
    --out "$OUT/$1.jsonl" --heatmap "docs/img/which-surrogate-$1-$2.png"
done
