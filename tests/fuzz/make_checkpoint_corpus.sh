#!/usr/bin/env bash
# Regenerates the checkpoint fuzzer's seed corpus (tests/fuzz/corpus/checkpoint):
# two checkpoints of tests/fuzz/checkpoint.yaml (after 1 and after 2
# episodes, the second by --resume). Run it by hand, with a Release dgpg,
# whenever the checkpoint format changes; the files are committed (named
# .ckpt, since .gitignore leaves out *.h5).
#   bash tests/fuzz/make_checkpoint_corpus.sh build/dgpg
set -euo pipefail
dgpg=$(realpath "${1:?usage: make_checkpoint_corpus.sh PATH/TO/dgpg}")
here=$(cd "$(dirname "$0")" && pwd)
out=$here/corpus/checkpoint
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
"$dgpg" train "$here/checkpoint.yaml" --set train.episodes=1 > /dev/null
cp runs/fuzz/checkpoint.h5 "$work/episode1.h5"
"$dgpg" train --resume runs/fuzz --set train.episodes=2 > /dev/null
mkdir -p "$out"
rm -f "$out"/*.ckpt
cp "$work/episode1.h5" "$out/episode1.ckpt"
cp runs/fuzz/checkpoint.h5 "$out/episode2.ckpt"
ls -l "$out"
