#!/usr/bin/env bash
# Builds the fuzz targets of fuzz/ with libFuzzer and AddressSanitizer on the
# stable toolchain, then runs each for FUZZ_SECONDS (default 30) seconds,
# FUZZ_JOBS (default: the number of cores) at a time, starting from the
# committed seeds in fuzz/seeds/<target>/. A crash, leak, out-of-memory or
# hang fails the script and leaves the input that caused it in
# fuzz/artifacts/<target>/ (commit it there: the replay test
# crates/weightzip/tests/fuzz_artifacts.rs then runs it with cargo test).
#
#   bash scripts/fuzz.sh                              # all targets, 30 s each
#   FUZZ_SECONDS=600 bash scripts/fuzz.sh index_decode
set -euo pipefail
cd "$(dirname "$0")/../fuzz"

seconds=${FUZZ_SECONDS:-30}
jobs=${FUZZ_JOBS:-$(nproc)}
if (($# > 0)); then
    targets=("$@")
else
    mapfile -t targets < <(sed -n 's/^name = "\(.*\)"$/\1/p' Cargo.toml | grep -v '^weightzip-fuzz$')
fi
host=$(rustc -vV | sed -n 's/^host: //p')

# What `cargo fuzz build` passes, for a stable rustc: RUSTC_BOOTSTRAP lets it
# take the -Z sanitizer flag. --target keeps the flags off build scripts.
export RUSTC_BOOTSTRAP=1
export RUSTFLAGS="-Cpasses=sancov-module \
-Cllvm-args=-sanitizer-coverage-level=4 \
-Cllvm-args=-sanitizer-coverage-inline-8bit-counters \
-Cllvm-args=-sanitizer-coverage-pc-table \
-Cllvm-args=-sanitizer-coverage-trace-compares \
--cfg fuzzing -Zsanitizer=address -Cdebug-assertions -Coverflow-checks \
-Cforce-frame-pointers=yes"
start=$SECONDS
# Not --locked: when the library crates gain a dependency, cargo adds it to
# fuzz/Cargo.lock and keeps every version already pinned there.
cargo build --release --target "$host" --bins
echo "fuzz: built ${#targets[@]} targets in $((SECONDS - start)) s"

bin_dir="target/$host/release"
log_dir="target/fuzz-logs"
rm -rf "$log_dir"
mkdir -p "$log_dir"

run_target() {
    local t=$1
    mkdir -p "corpus/$t" "artifacts/$t"
    # corpus/ (not committed) takes what the run adds; seeds/ is only read.
    if ! "$bin_dir/$t" -max_total_time="$seconds" -timeout=20 -rss_limit_mb=2048 \
        -print_final_stats=1 -artifact_prefix="artifacts/$t/" \
        "corpus/$t" "seeds/$t" >"$log_dir/$t.log" 2>&1; then
        touch "$log_dir/$t.failed"
    fi
}

start=$SECONDS
for t in "${targets[@]}"; do
    while (($(jobs -rp | wc -l) >= jobs)); do
        wait -n || true
    done
    run_target "$t" &
done
wait

failed=0
for t in "${targets[@]}"; do
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log_dir/$t.log" | tail -n 1)
    cov=$(grep -o 'cov: [0-9]*' "$log_dir/$t.log" | tail -n 1 || true)
    if [[ -e "$log_dir/$t.failed" ]]; then
        failed=1
        echo "fuzz: $t FAILED after ${execs:-?} runs; its report:"
        grep -v '^#[0-9]' "$log_dir/$t.log" | tail -n 80
        for f in $(grep -o "artifacts/$t/[^ ]*" "$log_dir/$t.log" | sort -u); do
            [[ -f "$f" ]] || continue
            echo "fuzz: input fuzz/$f ($(wc -c <"$f") bytes), base64:"
            head -c 65536 "$f" | base64 -w 76
        done
    else
        echo "fuzz: $t ok, ${execs:-?} runs in ${seconds} s (${cov:-cov: ?})"
    fi
done
echo "fuzz: ran ${#targets[@]} targets in $((SECONDS - start)) s"
exit "$failed"
