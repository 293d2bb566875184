//! The fallback that keeps a chunk a codec cannot reproduce.

use super::*;
use crate::{compress_bytes, decompress_bytes, Archive};
use weightzip_codec::CodecId;

/// Raw chunk length whose coded payload [`damage_hook`] breaks (no
/// other test makes a chunk of this size).
const DAMAGED_LEN: usize = 2 * 20_011;

/// Flips a byte in the middle of a weightzip-coded payload of a chunk
/// of [`DAMAGED_LEN`] bytes: a stand-in for a codec bug.
pub(super) fn damage_hook(codec: CodecId, raw_len: usize, payload: &mut [u8]) {
    if raw_len == DAMAGED_LEN && !matches!(codec, CodecId::Store | CodecId::Zstd) {
        let mid = payload.len() / 2;
        payload[mid] ^= 0x10;
    }
}

/// A safetensors file of one bf16 tensor holding real weights (the
/// golden MiniLM slice's data) of `DAMAGED_LEN` bytes.
fn bf16_file() -> Vec<u8> {
    let src = include_bytes!("../../tests/golden/v1-minilm-slice.bf16.safetensors");
    let data = &src[src.len() - DAMAGED_LEN..];
    let mut header = format!(
        "{{\"w\":{{\"dtype\":\"BF16\",\"shape\":[{}],\"data_offsets\":[0,{}]}}}}",
        DAMAGED_LEN / 2,
        DAMAGED_LEN
    )
    .into_bytes();
    while header.len() % 8 != 0 {
        header.push(b' ');
    }
    let mut file = (header.len() as u64).to_le_bytes().to_vec();
    file.extend_from_slice(&header);
    file.extend_from_slice(data);
    file
}

fn chunk_codecs(wz: &[u8]) -> Vec<u8> {
    let archive = Archive::from_bytes(wz).unwrap();
    archive.index().entries[0]
        .segments
        .iter()
        .flat_map(|s| s.chunks.iter().map(|c| c.codec))
        .collect()
}

#[test]
fn a_chunk_that_does_not_decode_back_is_kept_with_zstd() {
    let file = bf16_file();
    let opts = CompressOptions {
        threads: 1,
        ..Default::default()
    };
    let wz = compress_bytes(&file, &opts).unwrap();
    assert_eq!(chunk_codecs(&wz), [CodecId::Zstd as u8]);
    assert_eq!(decompress_bytes(&wz).unwrap(), file);
    // Without the check, the damaged payload goes in and the archive is
    // lost (its chunk checksum fails).
    let unchecked = CompressOptions {
        verify: false,
        ..opts
    };
    let wz = compress_bytes(&file, &unchecked).unwrap();
    assert_eq!(chunk_codecs(&wz), [CodecId::Bf16Alias as u8]);
    assert!(decompress_bytes(&wz).is_err());
}
