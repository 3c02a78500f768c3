#!/usr/bin/env bash
# The GPU check of issue 19: interp's XLA backend on a PJRT plugin (xla:cuda), verified against
# fastcpu and timed. It needs no Go toolchain on the device, only what `build` makes here:
#
#   bench/gpu.sh build DIR          # here: the interp binary and the test binaries into DIR
#   bench/gpu.sh run DIR [BACKEND]  # on the device: BACKEND defaults to xla:cuda
#
# `run` writes under $OUT (default ./gpu-out): one log per step and results.json, which holds the
# backend line interp printed, each check's pass/fail and seconds, and every benchmark metric.
# The plugin is found as GoMLX finds it ($PJRT_PLUGIN_LIBRARY_PATH, e.g. the folder of jax's
# pjrt_c_api_gpu_plugin.so). Steps:
#   1. interp run on toy-gpt2 with --backend BACKEND: the backend must be chosen (its line is kept);
#   2. the model equivalence test (every hook, logits, gradients) with BACKEND under test and
#      fastcpu as the reference, at the test's own tolerances (INTERP_EQUIV_BACKEND/_REF);
#   3. the patching, SAE and training tests with BACKEND as the default backend (-test.short),
#      each against its own references and tolerances;
#   4. benchmarks on BACKEND: the GPT-2-small forward (batch 8 x pos 128), the toy training step,
#      the head x position patching sweep on GPT-2 small, and the SAE step at d_in 768 x 8.
# SMOKE=1 (CI, on fastcpu) runs the same steps with the small benchmarks instead (the 2-layer
# forward, the toy sweep, the SAE step at d_in 64), to keep the script itself tested.
set -uo pipefail
cmd=${1:?usage: gpu.sh build DIR | run DIR [BACKEND]}
dir=${2:?usage: gpu.sh build DIR | run DIR [BACKEND]}

if [[ $cmd == build ]]; then
  set -e
  cd "$(dirname "$0")/.."
  mkdir -p "$dir"
  go build -o "$dir/interp" ./cmd/interp
  for p in model patching sae train; do
    go test -c -o "$dir/$p.test" "./$p/"
  done
  echo "built interp and the model, patching, sae and train test binaries in $dir"
  exit 0
fi
[[ $cmd == run ]] || { echo "gpu.sh: unknown command $cmd (build or run)" >&2; exit 2; }

backend=${3:-xla:cuda}
out=${OUT:-./gpu-out}
mkdir -p "$out"
dir=$(cd "$dir" && pwd)
for f in interp model.test patching.test sae.test train.test; do
  [[ -x $dir/$f ]] || { echo "gpu.sh: $dir/$f is missing: run bench/gpu.sh build $dir first" >&2; exit 2; }
done
# The test binaries find their testdata relative to the package folder; run each from a copy of
# it when the tree is here, else from DIR (tests that need files then skip or fail, as logged).
root=$(cd "$(dirname "$0")/.." && pwd)
checks=()
step() { # step NAME PKG_DIR COMMAND...: runs COMMAND in PKG_DIR, logs to $out/NAME.log
  local name=$1 wd=$2
  shift 2
  local t0=$SECONDS rc=0
  (cd "$wd" && "$@") >"$out/$name.log" 2>&1 || rc=$?
  local status=pass
  [[ $rc -eq 0 ]] || status=fail
  echo "$name: $status ($((SECONDS - t0)) s)"
  checks+=("\"$name\": {\"status\": \"$status\", \"seconds\": $((SECONDS - t0))}")
}
pkgdir() { [[ -d $root/$1 ]] && echo "$root/$1" || echo "$dir"; }

# finish writes results.json from the checks and benchmark logs so far, and fails if a check did.
finish() {
  local bench_json
  bench_json=$(cat "$out"/bench_*.log 2>/dev/null | awk '
    /^Benchmark/ {
      name = $1; sub(/-[0-9]+$/, "", name)
      s = ""
      for (i = 3; i < NF; i += 2) s = s sprintf("%s\"%s\": %s", (s == "" ? "" : ", "), $(i + 1), $i)
      printf "%s\"%s\": {%s}", (n++ ? ", " : ""), name, s
    }')
  {
    echo "{"
    echo "  \"backend\": \"$backend\","
    echo "  \"backend_line\": \"$backend_line\","
    echo "  \"smoke\": $([[ -n ${SMOKE:-} ]] && echo true || echo false),"
    echo "  \"checks\": {$(IFS=,; echo "${checks[*]}")},"
    echo "  \"benchmarks\": {$bench_json}"
    echo "}"
  } >"$out/results.json"
  echo "wrote $out/results.json"
  local failed
  failed=$(printf '%s\n' "${checks[@]}" | grep -c '"fail"')
  [[ $failed -eq 0 ]] || { echo "gpu.sh: $failed check(s) failed; see the logs in $out" >&2; exit 1; }
}

# 1. The backend is chosen, and says which device it runs on. Nothing else is worth running if not.
step backend "$dir" "$dir/interp" run --model toy-gpt2 --prompt "The GPU check" --backend "$backend" --out "$out/run.safetensors"
backend_line=$(grep -m1 "on backend" "$out/backend.log" | sed 's/"/\\"/g')
echo "${backend_line:-no backend line}"
if [[ -z $backend_line ]]; then
  echo "gpu.sh: interp did not run on $backend: $(tail -1 "$out/backend.log")" >&2
  finish
fi

# 2. and 3. Equivalence and the numeric tests.
step model_equivalence "$(pkgdir model)" env INTERP_EQUIV_BACKEND="$backend" INTERP_EQUIV_REF=fastcpu \
  "$dir/model.test" -test.run TestBackendEquivalence -test.count 1 -test.v
for p in patching sae train; do
  step "${p}_tests" "$(pkgdir $p)" env GOMLX_BACKEND="$backend" "$dir/$p.test" -test.short -test.count 1
done

# 4. Benchmarks (their output lines become JSON metrics).
if [[ -n ${SMOKE:-} ]]; then
  fwd='ForwardAttnOnly2L|TrainStepAttnOnly2L' sweep=HeadOutByPosToy sae='TrainStep/^relu$/d64'
else
  fwd='ForwardGPT2Small|TrainStepAttnOnly2L' sweep=HeadOutByPosGPT2Small sae='TrainStep/^relu$/d768'
fi
step bench_model "$(pkgdir model)" env GOMLX_BACKEND="$backend" "$dir/model.test" -test.run '^$' -test.bench "$fwd" -test.benchtime 5x
step bench_patching "$(pkgdir patching)" env GOMLX_BACKEND="$backend" "$dir/patching.test" -test.run '^$' -test.bench "$sweep" -test.benchtime 1x
step bench_sae "$(pkgdir sae)" env GOMLX_BACKEND="$backend" "$dir/sae.test" -test.run '^$' -test.bench "$sae" -test.benchtime 10x

finish
