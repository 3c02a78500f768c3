#!/usr/bin/env bash
# The kernel matrix, on demand: the whole test suite under every configuration that changes how
# the CPU rounds or schedules work. A numeric test that passes on one machine and fails on the next
# blocks every landing, so each tolerance must hold in all of these (STYLE rule 16):
#
#   OpenBLAS with OPENBLAS_CORETYPE unset (OpenBLAS picks the CPU's own kernels), Haswell, SkylakeX
#   INTERP_NO_BLAS=1 (fastcpu's Go matmul kernels)
#   GOMAXPROCS=1 and GOMAXPROCS=2 (other splits of the parallel loops)
#   a competing CPU load, with -count=3 (timing-dependent scheduling)
#
#   bash .ci/matrix.sh            # everything (about 20 minutes on 2 cores)
#   bash .ci/matrix.sh PKG...     # only these packages, e.g. ./sae/ ./train/
#
# A core type the CPU cannot run (SkylakeX needs AVX-512, Haswell AVX2) is skipped, saying so.
# Prints one line per configuration and exits non-zero if any failed; logs go to out/matrix/.
set -uo pipefail
cd "$(dirname "$0")/.."
export GOFLAGS="${GOFLAGS:-} -mod=mod"
pkgs=("$@")
[ ${#pkgs[@]} -gt 0 ] || pkgs=(./...)
mkdir -p out/matrix
fail=0

has() { grep -qw "$1" /proc/cpuinfo; }

run() { # name, then env assignments and extra go test flags separated by --
  local name=$1; shift
  local envs=() flags=()
  while [ $# -gt 0 ] && [ "$1" != -- ]; do envs+=("$1"); shift; done
  [ $# -gt 0 ] && shift
  flags=("$@")
  local log=out/matrix/$name.log start=$SECONDS
  if env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE "${envs[@]}" go test -count=1 "${flags[@]}" "${pkgs[@]}" >"$log" 2>&1; then
    printf '%-28s ok    %4ds\n' "$name" $((SECONDS - start))
  else
    printf '%-28s FAIL  %4ds  (%s)\n' "$name" $((SECONDS - start)) "$log"
    grep -E '^(--- FAIL|FAIL|panic)' "$log" | head -20 | sed 's/^/    /'
    fail=1
  fi
}

run openblas-coretype-unset
if has avx2; then run openblas-haswell OPENBLAS_CORETYPE=Haswell; else echo "openblas-haswell             skipped: no AVX2"; fi
if has avx512f; then run openblas-skylakex OPENBLAS_CORETYPE=SkylakeX; else echo "openblas-skylakex            skipped: no AVX-512"; fi
run no-blas INTERP_NO_BLAS=1
run gomaxprocs-1 GOMAXPROCS=1
run gomaxprocs-2 GOMAXPROCS=2

# A competing load: one busy loop per core, for as long as the run lasts.
load=()
for _ in $(seq "$(nproc)"); do (while :; do :; done) & load+=($!); done
run under-load-count3 -- -count=3
kill "${load[@]}" 2>/dev/null
wait "${load[@]}" 2>/dev/null

exit $fail
