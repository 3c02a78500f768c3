#!/usr/bin/env bash
# Runs the benchmarks of docs/PERFORMANCE.md in one go: the PyTorch references (bench/torch_*.py,
# Debian's python3-torch) and the Go benchmarks on each backend, back to back on the same machine,
# then prints them side by side (bench/summarize.py). Results go to bench/results/ (JSON from
# PyTorch, text from go test), all with one time stamp.
#   bench/run.sh [backends...]   (default: fastcpu go)
# QUICK=1 leaves out the slow rows (the patching sweep, the d 768 dictionaries, the GPT-2-small
# pipeline).
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p bench/results
backends=("${@:-fastcpu go}")
stamp=$(date -u +%Y%m%dT%H%M%SZ)
quick=${QUICK:-}
big=64,768
short=
if [ -n "$quick" ]; then big=64; short=-short; fi
echo "== PyTorch reference"
/usr/bin/python3 bench/torch_forward.py --runs 5 --skip-tl | tee "bench/results/torch-$stamp.json"
/usr/bin/python3 bench/torch_train_step.py | tee "bench/results/torch-train-$stamp.json"
/usr/bin/python3 bench/torch_train_loop.py | tee "bench/results/torch-train-loop-$stamp.json"
/usr/bin/python3 bench/torch_sae_train.py --d-in $big | tee "bench/results/torch-sae-$stamp.json"
/usr/bin/python3 bench/torch_transcoder_train.py --steps 3 --d $big | tee "bench/results/torch-transcoder-$stamp.json"
pipes=attn2l-d64,gpt2-L2-d768
if [ -n "$quick" ]; then pipes=attn2l-d64; fi
/usr/bin/python3 bench/torch_sae_pipeline.py --steps 8 --configs $pipes | tee "bench/results/torch-pipeline-$stamp.json"
if [ -z "$quick" ]; then
  /usr/bin/python3 bench/torch_patch_sweep.py --threads 1 --max-patches 100 --last-logits-only | tee "bench/results/torch-patch-$stamp.json"
fi
for b in ${backends[@]}; do
  echo "== Go benchmarks on $b"
  n=5x
  [ "$b" = go ] && n=1x   # GoMLX's pure-Go backend takes about a minute per GPT-2-small forward
  out="bench/results/go-$b-$stamp.txt"
  GOMLX_BACKEND=$b go test ./model/ -run '^$' -bench 'ForwardGPT2Small|ForwardAttnOnly2L|MatMul|TrainStep' -benchtime $n -count 1 -timeout 60m \
    | tee "$out"
  # The softmax is a millisecond: 300 calls, as PyTorch's side takes the best and median of 100.
  GOMLX_BACKEND=$b go test ./model/ -run '^$' -bench '^BenchmarkSoftmax$' -benchtime 300x -count 1 | tee -a "$out"
  [ "$b" = go ] && continue
  go test ./fastcpu/ -run '^$' -bench '^BenchmarkAttention(Grad)?$' -benchtime 50x -count 1 | tee -a "$out"
  GOMLX_BACKEND=$b go test ./train/ -run '^$' -bench TrainStep -benchtime 10x -count 1 | tee -a "$out"
  GOMLX_BACKEND=$b go test ./sae/ -run '^$' -bench TrainStep $short -benchtime 10x -count 1 | tee -a "$out"
  GOMLX_BACKEND=$b go test ./transcoder/ -run '^$' -bench TrainStep $short -benchtime 3x -count 1 | tee -a "$out"
  GOMLX_BACKEND=$b go test ./sae/ -run '^$' -bench Pipeline $short -benchtime 8x -count 1 -timeout 30m | tee -a "$out"
  if [ -z "$quick" ]; then
    GOMLX_BACKEND=$b go test ./patching/ -run '^$' -bench HeadOutByPosGPT2Small -benchtime 1x -timeout 30m | tee -a "$out"
  fi
done
/usr/bin/python3 bench/summarize.py bench/results "$stamp" | tee "bench/results/summary-$stamp.md"
