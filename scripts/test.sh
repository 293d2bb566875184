#!/usr/bin/env bash
# Everything CI checks: formatting, lints, and the whole test suite (which
# runs the study's figure notebook on fresh lab records; under CI=true a
# python3 without matplotlib, numpy and zstandard fails that test).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo fmt --all --check
cargo clippy --workspace --all-targets -q -- -D warnings
cargo test --workspace -q
