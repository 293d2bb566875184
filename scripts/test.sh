#!/usr/bin/env bash
# Everything CI checks: formatting, lints, and the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo fmt --all --check
cargo clippy --workspace --all-targets -q -- -D warnings
cargo test --workspace -q
