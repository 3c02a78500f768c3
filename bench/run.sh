#!/usr/bin/env bash
# Runs the forward-pass benchmarks of docs/PERFORMANCE.md in one go: the PyTorch reference
# (bench/torch_forward.py, needs Debian's python3-torch) and the Go benchmarks on each backend,
# back to back on the same machine. Results go to bench/results/ (JSON from PyTorch, text from go test).
#   bench/run.sh [backends...]   (default: fastcpu go)
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p bench/results
backends=("${@:-fastcpu go}")
stamp=$(date -u +%Y%m%dT%H%M%SZ)
echo "== PyTorch reference"
/usr/bin/python3 bench/torch_forward.py --runs 5 --skip-tl | tee "bench/results/torch-$stamp.json"
/usr/bin/python3 bench/torch_train_step.py | tee "bench/results/torch-train-$stamp.json"
/usr/bin/python3 bench/torch_train_loop.py | tee "bench/results/torch-train-loop-$stamp.json"
/usr/bin/python3 bench/torch_sae_train.py | tee "bench/results/torch-sae-$stamp.json"
/usr/bin/python3 bench/torch_patch_sweep.py --threads 1 --max-patches 100 --last-logits-only | tee "bench/results/torch-patch-$stamp.json"
for b in ${backends[@]}; do
  echo "== Go benchmarks on $b"
  n=5x
  [ "$b" = go ] && n=1x   # GoMLX's pure-Go backend takes about a minute per GPT-2-small forward
  GOMLX_BACKEND=$b go test ./model/ -run '^$' -bench 'ForwardGPT2Small|ForwardAttnOnly2L|MatMul|TrainStep|Softmax' -benchtime $n -count 1 -timeout 60m \
    | tee "bench/results/go-$b-$stamp.txt"
  [ "$b" = go ] && continue
  go test ./train/ -run '^$' -bench TrainStep -benchtime 10x -count 1 | tee -a "bench/results/go-$b-$stamp.txt"
  go test ./sae/ -run '^$' -bench TrainStep -benchtime 10x -count 1 | tee -a "bench/results/go-$b-$stamp.txt"
  GOMLX_BACKEND=$b go test ./patching/ -run '^$' -bench HeadOutByPosGPT2Small -benchtime 1x -timeout 30m | tee -a "bench/results/go-$b-$stamp.txt"
done
