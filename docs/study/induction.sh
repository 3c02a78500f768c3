#!/usr/bin/env bash
# The induction-head formation study (issue 3): a 2-layer attention-only model (d_model 64,
# 8 heads, vocab 64, sequences of BOS + 31 random tokens repeated twice) trained with and
# without clamps. Usage: docs/study/induction.sh OUTDIR [SEEDS...]   (default seeds: 0 1 2)
# CONDS="baseline L0-off ..." runs a subset (two lanes in parallel use the two cores).
# Each run writes OUTDIR/<condition>-s<seed>/{metrics.jsonl,summary.json,progress.png,checkpoint/}.
# Rerunning resumes or skips finished runs. docs/study/summarize.go turns the folders into the
# table and figures of docs/STUDY_INDUCTION.md.
set -euo pipefail
out=${1:?usage: induction.sh OUTDIR [SEEDS...]}
shift
seeds=${*:-0 1 2}
interp=${INTERP:-go run ./cmd/interp}
steps=${STEPS:-4000}
common=(--task induction --model-config attn-only-2l --steps $steps --eval-every 50 --checkpoint-every 500)

conds=${CONDS:-baseline L0-off L0-uniform L0-prev-all L0-prev-h2 L1-QK-given L1-QK-off L1-OV-given}

run() { # condition seed clamp...
  local cond=$1 seed=$2
  shift 2
  [[ " $conds " == *" $cond "* ]] || return 0
  local clamps=()
  for c in "$@"; do clamps+=(--clamp "$c"); done
  $interp train "${common[@]}" --seed "$seed" --out "$out/$cond-s$seed" "${clamps[@]}"
}

for s in $seeds; do
  run baseline "$s"
  # Previous-token subcircuit off: layer 0 writes nothing (no head can move the previous token).
  run L0-off "$s" 'blocks.0.hook_attn_out=zero'
  # Layer 0's patterns flattened to causal-uniform (no head can prefer the previous token).
  run L0-uniform "$s" 'blocks.0.attn.hook_pattern=uniform'
  # A perfect previous-token pattern forced on every layer-0 head, or on one, from step 0.
  run L0-prev-all "$s" 'blocks.0.attn.hook_pattern=prev-token'
  run L0-prev-h2 "$s" 'blocks.0.attn.hook_pattern[head=2]=prev-token'
  # Induction match (QK) given: layer 1 attends by the perfect induction pattern; only the copy
  # (OV) and layer 0 must be learned.
  run L1-QK-given "$s" 'blocks.1.attn.hook_pattern=induction'
  # Induction match removed: layer 1 attends uniformly; its OV path alone cannot do induction.
  run L1-QK-off "$s" 'blocks.1.attn.hook_pattern=uniform'
  # Induction copy (OV) given: layer 1's values grafted from a trained model that has induction
  # heads (OV_FROM; default: the seed-0 run with previous-token patterns forced, which forms
  # them), so only the match (QK) must be learned.
  run L1-OV-given "$s" "blocks.1.attn.hook_v=graft:${OV_FROM:-$out/L0-prev-all-s0/checkpoint}"
done
