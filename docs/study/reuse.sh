#!/usr/bin/env bash
# Cross-task circuit reuse (Merullo et al. 2024; issue 17 item 4): one toy model (attn-only-2l:
# 2 layers, 8 heads, d_model 64, vocabulary 127, 64 positions) trained on a mixture of IOI and
# Colored Objects in the toy word vocabulary, with a three-color palette and rows of bare
# object-color pairs as a third task (they make the look-up that colored-objects needs; without
# them it stays at chance, docs/STUDY_REUSE.md), each task's circuit discovered, their overlap
# measured, and the shared heads boosted on both tasks.
# Usage: docs/study/reuse.sh OUTDIR [MODEL]   (MODEL: a trained checkpoint; default: train one)
# STEPS (default 4000) sets the training length; the run is resumable (rerun the same command).
# CO (default colored-objects:colors=3: Merullo et al.'s order, the color before the object, three
# colors) is the colored-objects form that is discovered and boosted.
# MIX_EXTRA (default colored-objects:color=bare,pairs=12,questions=4,colors=3) is the third task of
# the mixture ("" for none; it may list several tasks). MODEL_ARGS (default attn-only-2l, vocabulary 127, 64 positions, batch 32)
# set the model and batch; the earlier runs used "--model-config docs/models/reuse-toy.json --batch 64".
# SEED (default 0) is the training seed. IOI (default ioi) is the IOI form: ioi:names=surname and
# ioi:answer=surname need a previous-token step, as Colored Objects does (their vocabulary needs
# --vocab 147 in MODEL_ARGS; so does colored-objects words=names, the first-name/surname pairs).
# METHOD (default eap-ig) is the discovery method; HEADS_SHARED/HEADS_CONTROL override the heads
# boosted (layer.head,...; by default the shared heads, and as a control the heads of the
# stronger task's circuit that the weaker task's circuit lacks).
set -euo pipefail
out=${1:?usage: reuse.sh OUTDIR [MODEL]}
interp=${INTERP:-go run ./cmd/interp}
steps=${STEPS:-4000}
method=${METHOD:-eap-ig}
co=${CO:-colored-objects:colors=3}
extra=${MIX_EXTRA-colored-objects:color=bare,pairs=12,questions=4,colors=3}
model_args=${MODEL_ARGS:---model-config attn-only-2l --vocab 127 --seq-len 64 --batch 32}
ioi=${IOI:-ioi}
mix=mix:$ioi,$co${extra:+,$extra}
mkdir -p "$out"
model=${2:-$out/train/checkpoint}
if [[ -z ${2:-} ]]; then
  # shellcheck disable=SC2086 # MODEL_ARGS is a list of flags
  $interp train --task "$mix" $model_args --steps "$steps" \
    --lr 1e-2 --eval-every 250 --snapshot-every 250 --checkpoint-every 500 --seed "${SEED:-0}" --out "$out/train"
fi
# Output files are named by task kind: ioi.* and colored-objects.* (whatever form CO names).
name() { [[ $1 == ioi* ]] && echo ioi || echo colored-objects; }
for task in "$ioi" "$co"; do
  n=$(name "$task")
  $interp discover --model "$model" --task "$task" --method "$method" --examples 40 --out "$out/$n.json" --plot "$out/$n.svg" \
    | tee "$out/$n.txt"
done
$interp discover --compare "$out/ioi.json" "$out/colored-objects.json" --plot "$out/overlap.png" | tee "$out/overlap.txt"
# heads LIST: the heads (L.H) of an overlap.txt line, comma-separated ("" when none).
heads() { sed -n "s/^$1: *//p" "$out/overlap.txt" | tr ' ' '\n' | { grep -E '^[0-9]+\.[0-9]+$' || true; } | paste -sd, -; }
shared=${HEADS_SHARED:-$(heads "shared nodes")}
control=${HEADS_CONTROL:-$(heads "only in A")}
factors=0,0.5,1,1.5,2,3,4
for task in "$ioi" "$co"; do
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
# The look-up across colored-objects forms: the circuit of the mixture's third task (when it is a
# colored-objects form; EXTRA_TASK names one when MIX_EXTRA lists several) against CO's.
extra_task=${EXTRA_TASK:-$extra}
if [[ $extra_task == colored-objects* ]]; then
  $interp discover --model "$model" --task "$extra_task" --method "$method" --examples 40 --out "$out/extra.json" --plot "$out/extra.svg" \
    | tee "$out/extra.txt"
  $interp discover --compare "$out/colored-objects.json" "$out/extra.json" --plot "$out/overlap-extra.png" | tee "$out/overlap-extra.txt"
fi
# BOOST_AT (snapshot steps, e.g. "1600 1650") boosts the same heads on CO in the snapshots taken
# while CO was still weak (train with --snapshot-every to have them).
for step in ${BOOST_AT:-}; do
  snap=$(dirname "$model")/snapshots/step-$(printf %06d "$step")
  for set in shared control; do
    heads=$shared
    [[ $set == control ]] && heads=$control
    [[ -z $heads ]] && continue
    $interp patch --model "$snap" --task "$co" -n 200 --scale-heads "$heads" --factors $factors \
      --out "$out/boost-$set-colored-objects-step$step.json" | tee "$out/boost-$set-colored-objects-step$step.txt"
  done
done
echo "shared heads: $shared; control heads (ioi's circuit only): $control"
