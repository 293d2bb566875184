#!/usr/bin/env bash
# The checkpoint-delta curve of issue 14, in one run, from real archives:
#   scripts/bench_delta.sh CKPT_DIR
# CKPT_DIR holds step-0000.safetensors (the base) and later steps, as
# scripts/finetune_minilm.py writes them. For each step: the step coded
# alone, coded with `--base step-0000.safetensors`, both restored and
# compared; and, when `lmz` is installed, lmz's delta: its archive of a
# folder holding the base and the step, minus its archive of the base
# alone (lmz codes a folder's matching tensors as deltas). Then the whole
# run as one folder (ckpt/model.safetensors per step): weightzip's chain
# against --no-chain and lmz. Decode speed (scripts/time_decode.py,
# interleaved in the same run: CPU time on one thread, wall time on all
# cores) of each step with its base against the step coded alone, and of
# the chain against --no-chain.
set -euo pipefail
cd "$(dirname "$0")/.."
DIR=$1
cargo build --release -q -p weightzip-cli
W=./target/release/weightzip
BASE=$DIR/step-0000.safetensors
STEPS=$(ls "$DIR"/step-*.safetensors | grep -v step-0000)
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
size() { stat -c %s "$1"; }
have_lmz=false
if command -v lmz >/dev/null; then
  have_lmz=true
  lmz compress -q -f "$BASE" "$T/base.lmz"
fi
for s in $STEPS; do
  $W compress -q -f "$s" -o "$T/alone.wz"
  $W compress -q -f "$s" -o "$T/delta.wz" --base "$BASE"
  $W decompress -q -f "$T/delta.wz" -o "$T/back" --base "$BASE"
  cmp "$T/back" "$s"
  line="$(basename "$s"): weightzip alone $(size "$T/alone.wz") B, --base $(size "$T/delta.wz") B (round trip ok)"
  if $have_lmz; then
    rm -rf "$T/pair" && mkdir "$T/pair"
    cp "$BASE" "$T/pair/a-base.safetensors"
    cp "$s" "$T/pair/b-step.safetensors"
    lmz compress -q -f "$T/pair" "$T/pair.lmz"
    line="$line; lmz delta $(( $(size "$T/pair.lmz") - $(size "$T/base.lmz") )) B"
  fi
  echo "$line"
  for t in 1 0; do
    python3 scripts/time_decode.py "$T/alone.wz" "$T/delta.wz" --base "$BASE" --rounds 11 --threads $t | sed 's/^/  /'
  done
done
mkdir "$T/run"
for s in "$BASE" $STEPS; do
  d="$T/run/$(basename "$s" .safetensors)"
  mkdir "$d" && cp "$s" "$d/model.safetensors"
done
$W compress -q -f "$T/run" -o "$T/run.wz"
$W compress -q -f "$T/run" -o "$T/run-apart.wz" --no-chain
$W decompress -q -f "$T/run.wz" -o "$T/run-back"
diff -r "$T/run" "$T/run-back"
line="run folder: weightzip chain $(size "$T/run.wz") B, --no-chain $(size "$T/run-apart.wz") B (round trip ok)"
if $have_lmz; then
  lmz compress -q -f "$T/run" "$T/run.lmz"
  line="$line; lmz $(size "$T/run.lmz") B"
fi
echo "$line"
echo "decode speed, run folder: chain against --no-chain:"
for t in 1 0; do
  python3 scripts/time_decode.py "$T/run-apart.wz" "$T/run.wz" --rounds 11 --threads $t
done
