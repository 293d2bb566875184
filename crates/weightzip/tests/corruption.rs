//! Damaged archives: every truncation and many bit flips give an error
//! (never a panic), and nothing decodes to wrong bytes silently.

mod common;

use common::*;
use weightzip::{compress_bytes, decompress_bytes, Archive, CompressOptions, WzError};

fn sample_archive() -> (Vec<u8>, Vec<u8>) {
    let data = std::fs::read(golden_dir().join("v1-minilm-slice.bf16.safetensors")).unwrap();
    let opts = CompressOptions {
        chunk_size: 16 << 10,
        ..Default::default()
    };
    (compress_bytes(&data, &opts).unwrap(), data)
}

#[test]
fn wrong_magic_and_foreign_files() {
    let (wz, _) = sample_archive();
    let mut bad = wz.clone();
    bad[0] = b'P';
    assert!(matches!(decompress_bytes(&bad), Err(WzError::BadMagic)));
    assert!(matches!(
        decompress_bytes(b"GGUF\x03\0\0\0\0\0\0\0\0\0\0\0\0\0"),
        Err(WzError::BadMagic)
    ));
    assert!(matches!(decompress_bytes(b""), Err(WzError::Truncated(_))));
    let mut future = wz.clone();
    future[8] = 99;
    assert!(matches!(
        decompress_bytes(&future),
        Err(WzError::UnsupportedVersion { .. })
    ));
}

#[test]
fn every_truncation_is_an_error() {
    let (wz, _) = sample_archive();
    let step = (wz.len() / 500).max(1);
    for cut in (0..wz.len()).step_by(step).chain([wz.len() - 1]) {
        let err = decompress_bytes(&wz[..cut]).unwrap_err();
        let msg = err.to_string();
        assert!(!msg.is_empty());
    }
}

#[test]
fn bit_flips_are_detected() {
    let (wz, data) = sample_archive();
    let step = (wz.len() / 1500).max(1);
    let mut detected = 0;
    for i in (0..wz.len()).step_by(step) {
        let mut bad = wz.clone();
        bad[i] ^= 1 << (i % 8);
        match decompress_bytes(&bad) {
            Ok(back) => assert_eq!(back, data, "flip at {i} decoded to wrong bytes"),
            Err(e) => {
                detected += 1;
                assert!(
                    matches!(
                        e,
                        WzError::Corrupt(_)
                            | WzError::Checksum { .. }
                            | WzError::Codec { .. }
                            | WzError::Truncated(_)
                            | WzError::BadMagic
                            | WzError::UnsupportedVersion { .. }
                    ),
                    "flip at {i}: unexpected error kind {e}"
                );
            }
        }
    }
    assert!(detected > 0);
}

#[test]
fn errors_name_the_place() {
    let (wz, _) = sample_archive();
    let archive = Archive::from_bytes(&wz).unwrap();
    // Flip a byte inside the first tensor chunk's payload.
    let entry = &archive.index().entries[0];
    let (name, seg) = entry.tensors().max_by_key(|(_, s)| s.len).unwrap();
    let chunk = &seg.chunks[0];
    let mut bad = wz.clone();
    bad[(chunk.offset + chunk.stored_len / 2) as usize] ^= 0x40;
    let msg = decompress_bytes(&bad).unwrap_err().to_string();
    assert!(msg.contains(name), "{msg}");
    assert!(msg.contains("chunk 0"), "{msg}");
}
