#!/usr/bin/env bash
# The main job on real model slices shipped in the repo: compress each one,
# decompress it, and compare the bytes; then show what is inside one archive.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -q -p weightzip-cli
wz=./target/release/weightzip
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
printf '%-58s %12s %12s %8s\n' file bytes compressed ratio
for f in tests/fixtures/*.safetensors tests/fixtures/*.gguf crates/weightzip/tests/golden/*.safetensors; do
  [ -f "$f" ] || continue
  name=$(basename "$f")
  "$wz" compress -q "$f" -o "$out/$name.wz"
  "$wz" decompress -q "$out/$name.wz" -o "$out/$name"
  cmp "$f" "$out/$name"
  a=$(stat -c %s "$f"); b=$(stat -c %s "$out/$name.wz")
  printf '%-58s %12d %12d %8.4f  identical\n' "$name" "$a" "$b" "$(awk "BEGIN{print $a/$b}")"
done
first=$(ls tests/fixtures/*.safetensors | head -1)
"$wz" compress -q "$first" -o "$out/first.wz"
"$wz" inspect "$out/first.wz" | tail -n 8
