#!/usr/bin/env bash
# The sweeps behind docs/which-surrogate.md and its heatmaps (docs/img/which-surrogate-*.png).
# Reduced grid (see the page for why): override STEEPNESS, SEEDS, BUDGET for the full sweep,
# e.g. STEEPNESS=0.316,1,3.16,10,31.6,100,316 SEEDS=0,1,2.
set -euo pipefail
cd "$(dirname "$0")/.."
STEEPNESS=${STEEPNESS:-0.3,3,30,300}
SEEDS=${SEEDS:-0}
BUDGET=${BUDGET:-12}
PROCESSES=${PROCESSES:-2}
OUT=${OUT:-sweeps}
mkdir -p "$OUT"
for task in "randman hard" "digits default"; do
  set -- $task
  time sc-neurocore sweep --task "$1" --preset "$2" --steepness "$STEEPNESS" --seeds "$SEEDS" \
    --time-budget "$BUDGET" --processes "$PROCESSES" --out "$OUT/$1.jsonl" \
    --heatmap "docs/img/which-surrogate-$1.png"
done
