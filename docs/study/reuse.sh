#!/usr/bin/env bash
# Cross-task circuit reuse (Merullo et al. 2024; issue 17 item 4): one toy model (3 layers, 4 heads,
# d_model 64, MLPs) trained on a mixture of IOI and Colored Objects in the toy word vocabulary, with
# induction-ngram rows as a third task (they make the previous-token heads that colored-objects
# needs; without them it stays at chance, docs/STUDY_REUSE.md), each task's circuit discovered,
# their overlap measured, and the shared heads boosted on the weaker task.
# Usage: docs/study/reuse.sh OUTDIR [MODEL]   (MODEL: a trained checkpoint; default: train one)
# STEPS (default 6000) sets the training length; the run is resumable (rerun the same command).
# METHOD (default eap-ig) is the discovery method; HEADS_SHARED/HEADS_CONTROL override the heads
# boosted (layer.head,...; by default the shared heads, and as a control the heads of the
# stronger task's circuit that the weaker task's circuit lacks).
set -euo pipefail
out=${1:?usage: reuse.sh OUTDIR [MODEL]}
interp=${INTERP:-go run ./cmd/interp}
steps=${STEPS:-6000}
method=${METHOD:-eap-ig}
mkdir -p "$out"
model=${2:-$out/train/checkpoint}
if [[ -z ${2:-} ]]; then
  $interp train --task mix:ioi,colored-objects,induction-ngram --model-config docs/models/reuse-toy.json --steps "$steps" \
    --lr 1e-2 --batch 64 --eval-every 200 --snapshot-every 500 --checkpoint-every 500 --seed 0 --out "$out/train"
fi
for task in ioi colored-objects; do
  $interp discover --model "$model" --task "$task" --method "$method" --examples 40 --out "$out/$task.json" --plot "$out/$task.svg" \
    | tee "$out/$task.txt"
done
$interp discover --compare "$out/ioi.json" "$out/colored-objects.json" --plot "$out/overlap.png" | tee "$out/overlap.txt"
shared=${HEADS_SHARED:-$(sed -n 's/^shared nodes: *//p' "$out/overlap.txt" | tr ' ' '\n' | grep -E '^[0-9]+\.[0-9]+$' | paste -sd, -)}
control=${HEADS_CONTROL:-$(sed -n 's/^only in A: *//p' "$out/overlap.txt" | tr ' ' '\n' | grep -E '^[0-9]+\.[0-9]+$' | paste -sd, -)}
factors=0,0.5,1,1.5,2,3,4
for task in ioi colored-objects; do
  [[ -n $shared ]] && $interp patch --model "$model" --task "$task" -n 200 --scale-heads "$shared" --factors $factors \
    --out "$out/boost-shared-$task.json" --plot "$out/boost-shared-$task.png" | tee "$out/boost-shared-$task.txt"
  [[ -n $control ]] && $interp patch --model "$model" --task "$task" -n 200 --scale-heads "$control" --factors $factors \
    --out "$out/boost-control-$task.json" --plot "$out/boost-control-$task.png" | tee "$out/boost-control-$task.txt"
done
echo "shared heads: $shared; control heads (ioi's circuit only): $control"
