#!/usr/bin/env bash
# The generation benchmarks of docs/PERFORMANCE.md (issue 20): greedy decoding of 128 tokens from a
# 32-token prompt, batch 1, cached and uncached, PyTorch (1 and all threads) and Go back to back on
# the same machine. Results go to bench/results/generate-<stamp>.txt.
#   bench/generate.sh [gpt2|qwen ...]     (default: both)
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p bench/results
out="bench/results/generate-$(date -u +%Y%m%dT%H%M%SZ).txt"
models=("$@"); [ ${#models[@]} -gt 0 ] || models=(gpt2 qwen)
for m in "${models[@]}"; do
  case $m in gpt2) b=GPT2Small ;; qwen) b=Qwen25HalfB ;; *) echo "unknown model $m" >&2; exit 2 ;; esac
  /usr/bin/python3 bench/torch_generate.py "$m" --runs 2 | tee -a "$out"
  go test ./model/ -run '^$' -bench "^BenchmarkGenerate${b}Cached\$" -benchtime 2x -count 1 -timeout 60m | grep Benchmark | tee -a "$out"
  go test ./model/ -run '^$' -bench "^BenchmarkGenerate${b}Uncached\$" -benchtime 1x -count 1 -timeout 60m | grep Benchmark | tee -a "$out"
done
echo "wrote $out"
