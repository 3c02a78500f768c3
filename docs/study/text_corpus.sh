#!/usr/bin/env bash
# The English corpus of the natural-text study (issue 17 item 3): the prose of documentation that
# Debian packages ship as Sphinx reStructuredText sources (html/_sources/*.rst.txt):
#   - python3.11-doc: the Python 3.11 documentation (Python Software Foundation License Version 2,
#     see /usr/share/doc/python3.11-doc/copyright);
#   - linux-doc-6.1 (with PACKAGES=python,linux): the Linux kernel's documentation (GPL-2, see
#     /usr/share/doc/linux-doc-6.1/copyright).
# Usage: [PACKAGES=python|python,linux] [VERBATIM=1] docs/study/text_corpus.sh OUTDIR [VOCAB]
# Writes OUTDIR/{train.txt,heldout.txt,tokenizer.json} (every 20th document held out; a byte-level
# BPE of VOCAB tokens, default 4096, trained on train.txt), for interp train --task text:OUTDIR.
# PACKAGES defaults to python alone, the corpus of text-4l and the first text runs (docs/MODELS.md).
# VERBATIM=1 keeps each document as written (markup and code examples included), not only its prose.
# Needs apt-get (no root: each package is downloaded and unpacked, not installed) and Go.
set -euo pipefail
shopt -s inherit_errexit # a failed download inside $(sources ...) stops the script
out=${1:?usage: text_corpus.sh OUTDIR [VOCAB]}
vocab=${2:-4096}
packages=${PACKAGES:-python}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# sources PACKAGE DIR: the folder of .rst.txt sources, from the installed package or a download.
sources() {
  if [[ -d $2 ]]; then
    echo "$2"
    return
  fi
  if ! (cd "$work" && apt-get download "$1" >/dev/null); then
    echo "text_corpus.sh: apt-get download $1 failed; if it says 404, the package lists are stale: run apt-get update (as root)" >&2
    exit 1
  fi
  dpkg-deb -x "$work/$1"_*.deb "$work/$1"
  dpkg-deb -f "$work/$1"_*.deb Package Version >&2
  echo "$work/$1$2"
}
dirs=()
for p in ${packages//,/ }; do
  case $p in
    python) dirs+=("$(sources python3.11-doc /usr/share/doc/python3.11/html/_sources)") ;;
    linux) dirs+=("$(sources linux-doc-6.1 /usr/share/doc/linux-doc-6.1/html/_sources)") ;;
    *) echo "text_corpus.sh: PACKAGES: unknown package $p (want python, linux)" >&2; exit 2 ;;
  esac
done
src=$(IFS=:; echo "${dirs[*]}")
flags=()
[[ ${VERBATIM:-} == 1 ]] && flags+=(-verbatim)
go run "$(dirname "$0")/textcorpus.go" "${flags[@]}" "$src" "$out" "$vocab"
