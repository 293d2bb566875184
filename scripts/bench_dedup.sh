#!/usr/bin/env bash
# The dedup bars of issue 14, measured in one run:
#   scripts/bench_dedup.sh [MODEL.safetensors] [MODEL_FOLDER]
# (defaults: the shared corpus' MiniLM). Prints archive sizes with and
# without dedup, their ratio to the file alone, and decode times (best of
# 3) with and without references; lmz's sizes too when `lmz` is installed.
# Needs python3 with torch + safetensors for the pytorch_model.bin twin.
set -euo pipefail
cd "$(dirname "$0")/.."
MODEL=${1:-/work/shared/corpus/minilm/model.bf16.safetensors}
FOLDER=${2:-/work/shared/corpus/minilm}
cargo build --release -q -p weightzip-cli
W=$PWD/target/release/weightzip
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
mkdir -p "$T/twice" "$T/twin"
cp "$MODEL" "$T/twice/a.safetensors"
cp "$MODEL" "$T/twice/b.safetensors"
cp "$MODEL" "$T/twin/model.safetensors"
python3 scripts/make_torch_twin.py "$MODEL" "$T/twin/pytorch_model.bin" >/dev/null
size() { stat -c %s "$1"; }
best_decode() { # archive -> best of 3 wall seconds
  local best=999
  for _ in 1 2 3; do
    rm -rf "$T/out"
    local s e
    s=$(date +%s.%N); "$W" decompress -q "$1" -o "$T/out"; e=$(date +%s.%N)
    best=$(python3 -c "print(min($best, $e - $s))")
  done
  echo "$best"
}
"$W" compress -q "$MODEL" -o "$T/single.wz"
single=$(size "$T/single.wz")
echo "file alone: $single B"
for case in twice twin "$FOLDER"; do
  name=$(basename "$case")
  dir=$case; [ -d "$dir" ] || dir="$T/$case"
  "$W" compress -q "$dir" -o "$T/$name.wz"
  "$W" compress -q --no-dedup "$dir" -o "$T/$name.plain.wz"
  d=$(size "$T/$name.wz"); p=$(size "$T/$name.plain.wz")
  td=$(best_decode "$T/$name.wz"); tp=$(best_decode "$T/$name.plain.wz")
  line="$name: dedup $d B ($(python3 -c "print(f'{$d/$single:.5f}')")x the file alone), without $p B; decode $td s vs $tp s (speed ratio $(python3 -c "print(f'{$tp/$td:.3f}')"))"
  if command -v lmz >/dev/null; then
    lmz compress -q -f "$dir" "$T/$name.lmz"
    line="$line; lmz $(size "$T/$name.lmz") B"
  fi
  echo "$line"
done
