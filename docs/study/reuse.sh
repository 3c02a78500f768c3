#!/usr/bin/env bash
# Cross-task circuit reuse (Merullo et al. 2024; issue 17 item 4): one toy model (3 layers, 4 heads,
# d_model 64, MLPs) trained on a mixture of IOI and Colored Objects in the toy word vocabulary, with
# induction-ngram rows as a third task (they make the previous-token heads that colored-objects
# needs; without them it stays at chance, docs/STUDY_REUSE.md), each task's circuit discovered,
# their overlap measured, and the shared heads boosted on the weaker task.
# Usage: docs/study/reuse.sh OUTDIR [MODEL]   (MODEL: a trained checkpoint; default: train one)
# STEPS (default 6000) sets the training length; the run is resumable (rerun the same command).
# CO (default colored-objects:color=after, each color after its object) is the colored-objects
# form; CO=colored-objects puts the color before the object, as Merullo et al.'s prompts do.
# MIX_EXTRA (default induction-ngram) is the third task of the mixture ("" for none).
# METHOD (default eap-ig) is the discovery method; HEADS_SHARED/HEADS_CONTROL override the heads
# boosted (layer.head,...; by default the shared heads, and as a control the heads of the
# stronger task's circuit that the weaker task's circuit lacks).
set -euo pipefail
out=${1:?usage: reuse.sh OUTDIR [MODEL]}
interp=${INTERP:-go run ./cmd/interp}
steps=${STEPS:-6000}
method=${METHOD:-eap-ig}
co=${CO:-colored-objects:color=after}
extra=${MIX_EXTRA-induction-ngram}
mix=mix:ioi,$co${extra:+,$extra}
mkdir -p "$out"
model=${2:-$out/train/checkpoint}
if [[ -z ${2:-} ]]; then
  $interp train --task "$mix" --model-config docs/models/reuse-toy.json --steps "$steps" \
    --lr 1e-2 --batch 64 --eval-every 200 --snapshot-every 500 --checkpoint-every 500 --seed 0 --out "$out/train"
fi
# Output files are named by task kind: ioi.* and colored-objects.* (whatever form CO names).
name() { [[ $1 == ioi ]] && echo ioi || echo colored-objects; }
for task in ioi "$co"; do
  n=$(name "$task")
  $interp discover --model "$model" --task "$task" --method "$method" --examples 40 --out "$out/$n.json" --plot "$out/$n.svg" \
    | tee "$out/$n.txt"
done
$interp discover --compare "$out/ioi.json" "$out/colored-objects.json" --plot "$out/overlap.png" | tee "$out/overlap.txt"
shared=${HEADS_SHARED:-$(sed -n 's/^shared nodes: *//p' "$out/overlap.txt" | tr ' ' '\n' | grep -E '^[0-9]+\.[0-9]+$' | paste -sd, -)}
control=${HEADS_CONTROL:-$(sed -n 's/^only in A: *//p' "$out/overlap.txt" | tr ' ' '\n' | grep -E '^[0-9]+\.[0-9]+$' | paste -sd, -)}
factors=0,0.5,1,1.5,2,3,4
for task in ioi "$co"; do
  n=$(name "$task")
  if [[ -n $shared ]]; then
    $interp patch --model "$model" --task "$task" -n 200 --scale-heads "$shared" --factors $factors \
      --out "$out/boost-shared-$n.json" --plot "$out/boost-shared-$n.png" | tee "$out/boost-shared-$n.txt"
  fi
  if [[ -n $control ]]; then
    $interp patch --model "$model" --task "$task" -n 200 --scale-heads "$control" --factors $factors \
      --out "$out/boost-control-$n.json" --plot "$out/boost-control-$n.png" | tee "$out/boost-control-$n.txt"
  fi
done
echo "shared heads: $shared; control heads (ioi's circuit only): $control"
