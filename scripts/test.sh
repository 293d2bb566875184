#!/usr/bin/env bash
# Everything CI checks: formatting, the codec chapter of docs/FORMAT.md
# against the golden encodings, lints, the whole Rust test suite (which
# runs the study's figure notebook on fresh lab records; under CI=true a
# python3 without matplotlib, numpy and zstandard fails that test), and the
# Python package (built and installed with pip, then pytest).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo fmt --all --check
# docs/FORMAT.md lists every codec id and decodes every golden encoding.
python3 scripts/format_reference.py
cargo clippy --workspace --all-targets -q -- -D warnings
cargo test --workspace -q
python3 -m pip install --quiet ./crates/weightzip-py
python3 -m pytest -q crates/weightzip-py/tests
