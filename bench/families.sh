#!/usr/bin/env bash
# The families benchmarks of docs/PERFORMANCE.md (issue 14), PyTorch and Go back to back on the same
# machine, one model per process so each peak RSS is its own. Writes a 1 GB BF16 checkpoint to
# bench/results/qwen05-bf16 (reused when present). Results go to bench/results/.
#   bench/families.sh
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p bench/results
stamp=$(date -u +%Y%m%dT%H%M%SZ)
out="bench/results/families-$stamp.txt"
qwen="$PWD/bench/results/qwen05-bf16"
[ -f "$qwen/model.safetensors" ] || /usr/bin/python3 bench/torch_families.py write-qwen "$qwen" | tee -a "$out"
for m in qwen pythia; do
  /usr/bin/python3 bench/torch_families.py forward $m --runs 5 | tee -a "$out"
done
/usr/bin/python3 bench/torch_families.py load-qwen "$qwen" | tee -a "$out"
for b in ForwardQwen25HalfB ForwardPythia160m; do
  go test ./model/ -run '^$' -bench "^Benchmark$b\$" -benchtime 5x -count 1 -timeout 30m | grep Benchmark | tee -a "$out"
done
INTERP_BENCH_QWEN_DIR=$qwen go test ./model/ -run '^$' -bench '^BenchmarkLoadQwen25HalfBBF16$' -benchtime 3x -count 1 | grep Benchmark | tee -a "$out"
