//! Helpers shared by the container tests.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use weightzip_entropy::{entropy_bits, histogram};
use weightzip_format::{layout_of, Dtype, TensorType};

/// The repository's shared real-weight fixtures.
pub fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures")
}

/// The golden archives of this crate.
pub fn golden_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden")
}

/// Every regular file in the fixture folder, sorted.
pub fn fixture_files() -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(fixtures_dir())
        .expect("tests/fixtures exists")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_file())
        .collect();
    v.sort();
    v
}

/// Byte-weighted byte-marginal ceiling of the bf16 tensors of a file: the
/// atlas formula R = 16 / (H_low + H_high) per tensor, combined as
/// Σ bytes / Σ (bytes / R). Also returns the bf16 byte count.
pub fn bf16_ceiling(file: &[u8]) -> (f64, u64) {
    let layout = layout_of(file).expect("fixture parses");
    let (mut bytes, mut ideal) = (0u64, 0f64);
    for t in &layout.tensors {
        if t.ty != TensorType::St(Dtype::BF16) || t.len < 2 {
            continue;
        }
        let data = &file[t.offset as usize..(t.offset + t.len) as usize];
        let lo: Vec<u8> = data.iter().step_by(2).copied().collect();
        let hi: Vec<u8> = data.iter().skip(1).step_by(2).copied().collect();
        let h = entropy_bits(&histogram(&lo)) + entropy_bits(&histogram(&hi));
        bytes += t.len;
        ideal += t.len as f64 * h / 16.0;
    }
    (bytes as f64 / ideal, bytes)
}

/// A deterministic byte generator for synthetic edge cases (not a stand-in
/// for weights).
pub fn pseudo_random(n: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}
