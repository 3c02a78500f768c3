#!/usr/bin/env bash
# Singh et al. (2024)'s own setting (issue 17 item 1): bursty few-shot classification with labels
# relabelled per sequence (--task icl-classify, tasks/icl_classify.go), a 2-layer x 8-head
# attention-only model (d_model 64), trained with and without clamps.
# Usage: docs/study/singh.sh OUTDIR [SEEDS...]   (default seeds: 0 1 2 3 4)
# CONDS="baseline ..." runs a subset; STEPS (default 2500) sets the run length. Every run writes
# OUTDIR/<condition>-s<seed>/ and is resumable: rerunning the same command continues or skips it,
# so the seeds can be spread over several sessions.
set -euo pipefail
out=${1:?usage: singh.sh OUTDIR [SEEDS...]}
shift
seeds=${*:-0 1 2 3 4}
interp=${INTERP:-go run ./cmd/interp}
steps=${STEPS:-2500}
common=(--model-config attn-only-2l --steps "$steps" --eval-every 50 --checkpoint-every 500)
conds=${CONDS:-baseline L1-half-off L1-one-left L0-uniform L1-QK-off L1-OV-off L0-off L0-prev-forced labels-2 labels-8}

run() { # condition seed task clamp...
  local cond=$1 seed=$2 task=$3
  shift 3
  [[ " $conds " == *" $cond "* ]] || return 0
  local dir=$out/$cond-s$seed clamps=()
  for c in "$@"; do clamps+=(--clamp "$c"); done
  [[ -f $dir/summary.json ]] && return 0 # finished
  # The same command resumes an interrupted run from its last checkpoint.
  $interp train --task "$task" "${common[@]}" --seed "$seed" --out "$dir" "${clamps[@]}"
}

t=icl-classify
for s in $seeds; do
  run baseline "$s" $t
  # Induction heads are additive and redundant: half of layer 1's heads, or all but one, clamped
  # off (their output zeroed) through training.
  run L1-half-off "$s" $t 'blocks.1.attn.hook_z[head=0,1,2,3]=zero'
  run L1-one-left "$s" $t 'blocks.1.attn.hook_z[head=1,2,3,4,5,6,7]=zero'
  # The three subcircuits: previous-token attention in layer 0 (flattened), the QK match in
  # layer 1 (flattened), the OV copy in layer 1 (values zeroed).
  run L0-uniform "$s" $t 'blocks.0.attn.hook_pattern=uniform'
  run L1-QK-off "$s" $t 'blocks.1.attn.hook_pattern=uniform'
  run L1-OV-off "$s" $t 'blocks.1.attn.hook_v=zero'
  # The previous-token step, two more ways: layer 0's output removed (no movement in layer 0 at
  # all), and one layer-0 head forced to a perfect previous-token pattern from step 0.
  run L0-off "$s" $t 'blocks.0.attn.hook_z=zero'
  run L0-prev-forced "$s" $t 'blocks.0.attn.hook_pattern[head=0]=prev-token'
  # The data property: the number of classes (and labels) in each sequence, 4 in the baseline.
  run labels-2 "$s" $t:labels=2
  run labels-8 "$s" $t:labels=8
done
