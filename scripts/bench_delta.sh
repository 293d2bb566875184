#!/usr/bin/env bash
# The checkpoint-delta curve of issue 14, in one run:
#   scripts/bench_delta.sh CKPT_DIR
# CKPT_DIR holds step-0000.safetensors (the base) and later steps, as
# scripts/finetune_minilm.py writes them. For each step: weightzip coding
# it alone, weightzip's delta codecs against the base (examples/delta_curve),
# and, when `lmz` is installed, lmz's delta: its archive of a folder holding
# the base and the step, minus its archive of the base alone.
set -euo pipefail
cd "$(dirname "$0")/.."
DIR=$1
cargo build --release -q -p weightzip --example delta_curve
BASE=$DIR/step-0000.safetensors
STEPS=$(ls "$DIR"/step-*.safetensors | grep -v step-0000)
./target/release/examples/delta_curve "$BASE" $STEPS | grep -v '^{'
if command -v lmz >/dev/null; then
  T=$(mktemp -d)
  trap 'rm -rf "$T"' EXIT
  lmz compress -q -f "$BASE" "$T/base.lmz"
  base=$(stat -c %s "$T/base.lmz")
  for s in $STEPS; do
    rm -rf "$T/pair" && mkdir "$T/pair"
    cp "$BASE" "$T/pair/a-base.safetensors"
    cp "$s" "$T/pair/b-step.safetensors"
    lmz compress -q -f "$T/pair" "$T/pair.lmz"
    lmz compress -q -f "$s" "$T/alone.lmz"
    pair=$(stat -c %s "$T/pair.lmz")
    echo "$s: lmz alone $(stat -c %s "$T/alone.lmz") B; lmz delta $((pair - base)) B (pair $pair - base $base)"
  done
fi
