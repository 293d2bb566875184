#!/usr/bin/env bash
# Runs the coder, codec and container tests on 64-bit ARM under qemu-user:
# the portable (non-x86) code paths, bit-exact against the same golden
# files. Not part of CI (it needs a cross compiler and qemu); takes a few
# minutes. Installs what it needs on Debian.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v aarch64-linux-gnu-gcc >/dev/null || ! command -v qemu-aarch64 >/dev/null; then
    apt-get update -qq
    apt-get install -y -qq gcc-aarch64-linux-gnu qemu-user
fi
rustup target add aarch64-unknown-linux-gnu
export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER=aarch64-linux-gnu-gcc
export CC_aarch64_unknown_linux_gnu=aarch64-linux-gnu-gcc
export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_RUNNER="qemu-aarch64 -L /usr/aarch64-linux-gnu"
cargo test --target aarch64-unknown-linux-gnu -q -p weightzip-entropy -p weightzip-codec -p weightzip
