#!/usr/bin/env bash
# Peak RSS (GNU time -v) of weightzip on hostile inputs, for the issue-12
# closing note (not part of CI):
#   - `verify` of every crafted archive of tests/fs_hostile.rs (bar: <= 64 MB,
#     exit 3);
#   - compress / verify / decompress of a 1 GiB opaque file (real fixture
#     bytes interleaved with /dev/urandom blocks; bar: decompress <= 128 MB);
#   - compress / decompress of the largest real weight file >= 1 GB in
#     $CORPUS (default: ../shared/corpus next to the repository), if there
#     is one (else skipped).
# Usage: scripts/rss-check.sh [WORKDIR]   (needs ~3 GB free in WORKDIR;
#        QUICK=1 skips the 1 GiB and real-file parts)
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -x /usr/bin/time ]; then
    apt-get update -qq && apt-get install -y -qq time
fi
# WEIGHTZIP_BIN=path measures an already built binary instead.
if [ -z "${WEIGHTZIP_BIN:-}" ]; then
    cargo build --release -q -p weightzip-cli
fi
BIN=${WEIGHTZIP_BIN:-$PWD/target/release/weightzip}
WORK=${1:-$(mktemp -d)}
mkdir -p "$WORK"
echo "work dir: $WORK"

WZ_CRAFT_DIR=$WORK/crafted cargo test -q -p weightzip-cli --test fs_hostile \
    -- --ignored --exact write_crafted_archives >/dev/null

# measure LABEL CMD...: one line "LABEL exit=N peak_rss_mb=X wall=T", the
# command killed after $LIMIT seconds (default 120; exit=124).
measure() {
    local label=$1
    shift
    local rc=0
    # (timeout's rusage includes the child it waited for; 124 = killed.)
    /usr/bin/time -v timeout "${LIMIT:-120}" "$@" >/dev/null 2>"$WORK/time.txt" || rc=$?
    local kb secs
    kb=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$WORK/time.txt")
    secs=$(awk -F': ' '/Elapsed \(wall clock\)/ {print $2}' "$WORK/time.txt")
    printf '%-44s exit=%-3s peak_rss_mb=%-8s wall=%s\n' "$label" "$rc" \
        "$(awk -v k="$kb" 'BEGIN { printf "%.1f", k / 1024 }')" "$secs"
}

echo "== verify of crafted archives (bar: exit 3, <= 64 MB)"
for f in "$WORK"/crafted/*.wz; do
    measure "verify $(basename "$f") ($(stat -c %s "$f") B)" "$BIN" verify -q "$f"
done

if [ -n "${QUICK:-}" ]; then
    exit 0
fi

echo "== 1 GiB opaque file (bar: decompress <= 128 MB)"
OPAQUE=$WORK/opaque.bin
if [ ! -s "$OPAQUE" ]; then
    : >"$OPAQUE"
    while [ "$(stat -c %s "$OPAQUE")" -lt $((1 << 30)) ]; do
        cat tests/fixtures/*.safetensors tests/fixtures/*.gguf >>"$OPAQUE"
        head -c $((4 << 20)) /dev/urandom >>"$OPAQUE"
    done
    truncate -s $((1 << 30)) "$OPAQUE"
fi
measure "compress opaque (1 GiB)" "$BIN" compress -q -f "$OPAQUE" -o "$WORK/opaque.wz"
measure "verify opaque.wz" "$BIN" verify -q "$WORK/opaque.wz"
measure "decompress opaque.wz" "$BIN" decompress -q -f "$WORK/opaque.wz" -o "$WORK/opaque.back"
measure "decompress opaque.wz -T 1" "$BIN" decompress -q -f -T 1 "$WORK/opaque.wz" -o "$WORK/opaque.back"
cmp "$OPAQUE" "$WORK/opaque.back" && echo "opaque round trip: identical"
rm -f "$WORK/opaque.back"

CORPUS=${CORPUS:-../shared/corpus}
echo "== largest real file >= 1 GB in $CORPUS"
BIG=$(find "$CORPUS" -type f -size +1000M -printf '%s %p\n' 2>/dev/null | sort -n | tail -1 | cut -d' ' -f2-)
if [ -z "$BIG" ]; then
    echo "skipped: no file of 1 GB or more in $CORPUS"
else
    measure "compress $(basename "$BIG")" "$BIN" compress -q -f "$BIG" -o "$WORK/big.wz"
    measure "decompress $(basename "$BIG").wz" "$BIN" decompress -q -f "$WORK/big.wz" -o "$WORK/big.back"
    cmp "$BIG" "$WORK/big.back" && echo "real-file round trip: identical"
    rm -f "$WORK/big.back"
fi
