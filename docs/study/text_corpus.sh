#!/usr/bin/env bash
# The English corpus of the natural-text study (issue 17 item 3): the prose of the Python 3.11
# documentation as Debian's python3.11-doc package ships it (reStructuredText sources under
# /usr/share/doc/python3.11/html/_sources; Python Software Foundation License Version 2, see
# /usr/share/doc/python3.11-doc/copyright). Usage: docs/study/text_corpus.sh OUTDIR [VOCAB]
# Writes OUTDIR/{train.txt,heldout.txt,tokenizer.json} (every 20th document held out; a byte-level
# BPE of VOCAB tokens, default 4096, trained on train.txt), for interp train --task text:OUTDIR.
# Needs apt-get (no root: the package is downloaded and unpacked, not installed) and Go.
set -euo pipefail
out=${1:?usage: text_corpus.sh OUTDIR [VOCAB]}
vocab=${2:-4096}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
src=/usr/share/doc/python3.11/html/_sources
if [[ ! -d $src ]]; then
  (cd "$work" && apt-get download python3.11-doc >/dev/null)
  dpkg-deb -x "$work"/python3.11-doc_*.deb "$work/pkg"
  src=$work/pkg/usr/share/doc/python3.11/html/_sources
  dpkg-deb -f "$work"/python3.11-doc_*.deb Package Version
fi
go run "$(dirname "$0")/textcorpus.go" "$src" "$out" "$vocab"
