#!/usr/bin/env bash
# Executes every GoNB notebook in notebooks/ headless and writes the executed notebooks (outputs and
# inline images) back into notebooks/, so they read well on GitHub; commit them after a green run.
# A failing cell fails the script (nbconvert's default), and then no notebook is overwritten.
#
# Installs what is missing on a fresh Debian machine: Jupyter's nbconvert and nbclient from Debian's
# packages, GoNB and goimports built from the module proxy (`go install gonb@v0.11.1` is refused here:
# the proxy does not serve the version list its deprecation check reads, so the module is
# downloaded and built in the module cache), and the GoNB kernel registration.
#
# Each notebook runs in its own kernel, all of them at once (most of the wall time is `go build` of
# each cell), each under NOTEBOOK_TIMEOUT seconds (default 420). Usage: .ci/notebooks.sh [NOTEBOOK...]
set -euo pipefail
cd "$(dirname "$0")/.."

gonb_version=v0.11.1
tools_version=v0.36.0 # golang.org/x/tools, for goimports
timeout_s=${NOTEBOOK_TIMEOUT:-420}
export INTERP_NO_PROGRESS=1
bin=$(go env GOPATH)/bin
export PATH="$bin:$PATH"

need=()
command -v jupyter-nbconvert >/dev/null 2>&1 || need+=(jupyter-nbconvert)
/usr/bin/python3 -c "import nbclient, jupyter_client" >/dev/null 2>&1 || need+=(python3-nbclient jupyter-client)
if [ ${#need[@]} -gt 0 ]; then
  apt-get update -q && apt-get install -y -q --no-install-recommends "${need[@]}"
fi

# build_tool MODULE@VERSION PACKAGE_DIR NAME: download a module and build one of its commands into $bin.
build_tool() {
  local mod=$1 pkg=$2 name=$3
  (cd "$(mktemp -d)" && GOFLAGS= go mod download "$mod")
  (cd "$(go env GOMODCACHE)/$mod" && GOFLAGS=-mod=mod go build -o "$bin/$name" "$pkg")
}
mkdir -p "$bin"
command -v goimports >/dev/null 2>&1 || build_tool "golang.org/x/tools@$tools_version" ./cmd/goimports goimports
command -v gonb >/dev/null 2>&1 || build_tool "github.com/janpfeifer/gonb@$gonb_version" . gonb
# gopls (completion in interactive use) is optional: --force_deps registers the kernel without it.
gonb --install --force_deps >/dev/null 2>&1 || { gonb --install --force_deps; exit 1; }

notebooks=("$@")
[ ${#notebooks[@]} -gt 0 ] || notebooks=(notebooks/*.ipynb)
out=$(mktemp -d)
start=$SECONDS
pids=()
for nb in "${notebooks[@]}"; do
  name=$(basename "$nb")
  timeout "$timeout_s" jupyter nbconvert --to notebook --execute --ExecutePreprocessor.timeout="$timeout_s" \
    --output-dir "$out" --output "$name" "$nb" >"$out/$name.log" 2>&1 &
  pids+=($!)
done
failed=0
for i in "${!notebooks[@]}"; do
  nb=${notebooks[$i]}
  if wait "${pids[$i]}"; then
    echo "ok   $nb"
  else
    echo "FAIL $nb (exit $?); the end of its log:"
    grep -v '^[IW][0-9]\{4\} ' "$out/$(basename "$nb").log" | tail -40
    failed=1
  fi
done
[ $failed -eq 0 ] || exit 1
for nb in "${notebooks[@]}"; do
  cp "$out/$(basename "$nb")" "$nb"
done
echo "executed ${#notebooks[@]} notebooks in $((SECONDS - start))s; outputs written to notebooks/"
