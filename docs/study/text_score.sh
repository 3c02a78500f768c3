#!/usr/bin/env bash
# Scores every snapshot of a natural-text training run (issue 17 item 3; docs/MODELS.md) on the
# corpus's held-out text: the loss and in-context score (interp loss), and the repeated-text test
# (interp loss --repeat). Snapshots already scored are skipped, so it can run while the run trains.
# Usage: [MAX_ROWS=N] docs/study/text_score.sh RUN CORPUS SCORES [SEQ_LEN]
# MAX_ROWS scores only the first N windows of the held-out text (interp loss --max-rows).
# Writes SCORES/loss-STEP.json and SCORES/rep-STEP.json (STEP as in RUN/snapshots/step-STEP);
# then go run docs/study/text_progress.go FIGURE.png RUN SCORES makes the table and the figure.
set -euo pipefail
run=${1:?usage: text_score.sh RUN CORPUS SCORES [SEQ_LEN]}
corpus=${2:?usage: text_score.sh RUN CORPUS SCORES [SEQ_LEN]}
scores=${3:?usage: text_score.sh RUN CORPUS SCORES [SEQ_LEN]}
seq=${4:-512}
interp=${INTERP:-go run ./cmd/interp}
rows=()
[[ -n ${MAX_ROWS:-} ]] && rows=(--max-rows "$MAX_ROWS")
mkdir -p "$scores"
for snap in "$run"/snapshots/step-*; do
  step=${snap##*/step-}
  [[ -s $scores/loss-$step.json ]] || $interp loss --model "$snap" --file "$corpus/heldout.txt" --seq-len "$seq" "${rows[@]}" --out "$scores/loss-$step.json" >/dev/null
  [[ -s $scores/rep-$step.json ]] || $interp loss --model "$snap" --file "$corpus/heldout.txt" --seq-len "$seq" "${rows[@]}" --repeat --out "$scores/rep-$step.json" >/dev/null
  echo "scored $snap"
done
