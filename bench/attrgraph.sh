#!/usr/bin/env bash
# The attribution-graph benchmark of docs/PERFORMANCE.md (issue 15): PyTorch and Go back to back on
# the same machine, each in its own process so each peak RSS is its own. Results go to bench/results/.
#   bench/attrgraph.sh [ACTIVE]     # ACTIVE latents per position and layer (default 8)
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p bench/results
active=${1:-8}
out="bench/results/attrgraph-$(date -u +%Y%m%dT%H%M%SZ).txt"
/usr/bin/python3 bench/torch_attrgraph.py --active "$active" | tee -a "$out"
INTERP_BENCH_GRAPH_ACTIVE=$active go test ./attrgraph/ -run '^$' -bench '^BenchmarkGraphGPT2Small$' -benchtime 1x -count 1 -timeout 60m \
  | grep Benchmark | tee -a "$out"
