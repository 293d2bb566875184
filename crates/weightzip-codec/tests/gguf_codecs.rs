//! The GGUF block codecs on real block slices (tests/fixtures, cut from
//! llama.cpp-quantized files by `fixtures/cut_gguf_fixtures.py`), on
//! arbitrary bytes, and on damaged encodings.

use proptest::prelude::*;
use weightzip_codec::{codec_for, CodecId, Level};
use weightzip_format::{GgmlType, TensorType};

/// (fixture, block type, lowest acceptable ratio on it: a few hundred
/// blocks pay their tables and lane states, so these sit below the ratios
/// of whole tensors)
const FIXTURES: &[(&str, GgmlType, f64)] = &[
    ("q4k_minilm_blk3_ffn_down.bin", GgmlType::Q4_K, 1.05),
    ("q4k_whisper.bin", GgmlType::Q4_K, 1.045),
    ("q6k_minilm.bin", GgmlType::Q6_K, 1.03),
    ("q8_0_minilm_token_embd.bin", GgmlType::Q8_0, 1.03),
    ("q8_0_minilm_blk4_attn_q.bin", GgmlType::Q8_0, 1.035),
    ("q5_0_minilm_blk1_attn_k.bin", GgmlType::Q5_0, 1.05),
    ("q4_1_smollm2_blk7_ffn_up.bin", GgmlType::Q4_1, 1.08),
];

/// The GGUF block codecs and the block type each one is for.
const CODECS: &[(CodecId, GgmlType)] = &[
    (CodecId::Q4K, GgmlType::Q4_K),
    (CodecId::Q5K, GgmlType::Q5_K),
    (CodecId::Q6K, GgmlType::Q6_K),
    (CodecId::Q8_0, GgmlType::Q8_0),
    (CodecId::Q4_0, GgmlType::Q4_0),
    (CodecId::Q4_1, GgmlType::Q4_1),
    (CodecId::Q5_0, GgmlType::Q5_0),
    (CodecId::Q5_1, GgmlType::Q5_1),
];

fn fixture(name: &str) -> Vec<u8> {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn round_trip(codec: CodecId, data: &[u8]) -> Vec<u8> {
    let mut enc = Vec::new();
    codec.encode(data, Level::Max, &mut enc).unwrap();
    let mut back = vec![0u8; data.len()];
    codec.decode(&enc, &mut back).unwrap();
    assert!(
        back == data,
        "{}: round trip of {} bytes",
        codec.name(),
        data.len()
    );
    enc
}

#[test]
fn registry_maps_block_types_to_their_codecs() {
    for &(codec, ty) in CODECS {
        for level in [Level::Fast, Level::Max] {
            assert_eq!(codec_for(TensorType::Ggml(ty), level), codec);
        }
        assert!((16..32).contains(&(codec as u8)));
    }
}

#[test]
fn real_blocks_round_trip_and_compress() {
    for &(name, ty, floor) in FIXTURES {
        let data = fixture(name);
        assert_eq!(data.len() % ty.type_size(), 0, "{name}");
        let codec = codec_for(TensorType::Ggml(ty), Level::Max);
        let enc = round_trip(codec, &data);
        let ratio = data.len() as f64 / enc.len() as f64;
        assert!(ratio > floor, "{name}: ratio {ratio:.4} below {floor}");
        // A chunk that ends inside a block keeps its tail verbatim.
        round_trip(codec, &data[..data.len() - 7]);
        round_trip(codec, &data[..ty.type_size() + 1]);
    }
}

#[test]
fn real_blocks_with_hostile_headers_round_trip() {
    // NaN / infinite / negative / zero scales and mins must not matter.
    for &(name, ty, _) in FIXTURES {
        let mut data = fixture(name);
        let block = ty.type_size();
        let specials: [u16; 6] = [0x7c00, 0xfc00, 0x7e01, 0xffff, 0x0000, 0x8001];
        let f16_at: &[usize] = match ty {
            GgmlType::Q4_K | GgmlType::Q5_K => &[0, 2],
            GgmlType::Q6_K => &[208],
            GgmlType::Q4_1 | GgmlType::Q5_1 => &[0, 2],
            _ => &[0],
        };
        for (i, b) in data.chunks_exact_mut(block).enumerate().step_by(3) {
            let v = specials[i % specials.len()].to_le_bytes();
            let at = f16_at[i % f16_at.len()];
            b[at..at + 2].copy_from_slice(&v);
        }
        let codec = codec_for(TensorType::Ggml(ty), Level::Max);
        round_trip(codec, &data);
    }
}

#[test]
fn every_codec_round_trips_other_types_real_bytes() {
    // Any codec must take any bytes, also blocks of another type.
    let data = fixture("q4k_whisper.bin");
    for &(codec, _) in CODECS {
        round_trip(codec, &data[..20_000]);
    }
}

/// Golden encodings of format v1: (codec, golden file, source fixture,
/// source length). Sources are prefixes of the real fixtures plus a 5-byte
/// tail; wz_q4_0 / wz_q5_1 / wz_q5k (no corpus file holds those types) code
/// real bytes of another type.
const GOLDEN: &[(CodecId, &str, &str, usize)] = &[
    (
        CodecId::Q4K,
        "golden_v1.q4k.wzc",
        "q4k_whisper.bin",
        144 * 200 + 5,
    ),
    (
        CodecId::Q6K,
        "golden_v1.q6k.wzc",
        "q6k_minilm.bin",
        210 * 100 + 5,
    ),
    (
        CodecId::Q8_0,
        "golden_v1.q8_0.wzc",
        "q8_0_minilm_token_embd.bin",
        34 * 300 + 5,
    ),
    (
        CodecId::Q5_0,
        "golden_v1.q5_0.wzc",
        "q5_0_minilm_blk1_attn_k.bin",
        22 * 400 + 5,
    ),
    (
        CodecId::Q4_1,
        "golden_v1.q4_1.wzc",
        "q4_1_smollm2_blk7_ffn_up.bin",
        20 * 400 + 5,
    ),
    (
        CodecId::Q4_0,
        "golden_v1.q4_0.wzc",
        "q4_1_smollm2_blk7_ffn_up.bin",
        18 * 400 + 5,
    ),
    (
        CodecId::Q5_1,
        "golden_v1.q5_1.wzc",
        "q5_0_minilm_blk1_attn_k.bin",
        24 * 300 + 5,
    ),
    (
        CodecId::Q5K,
        "golden_v1.q5k.wzc",
        "q4k_whisper.bin",
        176 * 100 + 5,
    ),
];

/// Encodings written by format v1 of the GGUF codecs decode forever to the
/// bytes they were made from.
#[test]
fn golden_v1_encodings_decode() {
    for &(codec, golden, source, len) in GOLDEN {
        let src = fixture(source);
        let src = &src[..len];
        let enc = fixture(&format!("golden/{golden}"));
        let mut back = vec![0u8; len];
        codec.decode(&enc, &mut back).unwrap();
        assert!(
            back == src,
            "{}: golden decodes to other bytes",
            codec.name()
        );
    }
}

/// Writes the golden files (run once per format version:
/// `cargo test -p weightzip-codec --test gguf_codecs -- --ignored write_golden`).
#[test]
#[ignore]
fn write_golden() {
    for &(codec, golden, source, len) in GOLDEN {
        let src = fixture(source);
        let enc = round_trip(codec, &src[..len]);
        let path = format!(
            "{}/tests/fixtures/golden/{golden}",
            env!("CARGO_MANIFEST_DIR")
        );
        std::fs::write(&path, enc).unwrap();
    }
}

fn damaged_never_panics(codec: CodecId, enc: &[u8], len: usize, cut: usize, flips: &[(usize, u8)]) {
    let mut back = vec![0u8; len];
    let cut = cut % (enc.len() + 1);
    let _ = codec.decode(&enc[..cut], &mut back);
    let mut bad = enc.to_vec();
    for &(at, x) in flips {
        if !bad.is_empty() {
            let i = at % bad.len();
            bad[i] ^= x.max(1);
        }
    }
    let _ = codec.decode(&bad, &mut back);
    // A wrong output length is an error, not a panic.
    let mut short = vec![0u8; len.saturating_sub(1)];
    let _ = codec.decode(enc, &mut short);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn any_bytes_round_trip(
        k in 0usize..8,
        data in proptest::collection::vec(any::<u8>(), 0..3000),
    ) {
        let (codec, _) = CODECS[k];
        round_trip(codec, &data);
    }

    #[test]
    fn skewed_bytes_round_trip(
        k in 0usize..8,
        blocks in 1usize..40,
        seed in any::<u64>(),
    ) {
        // Few distinct values: exercises the coded paths and constant tables.
        let (codec, ty) = CODECS[k];
        let mut x = seed | 1;
        let data: Vec<u8> = (0..blocks * ty.type_size())
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                [0u8, 0x11, 0x88, 0xff][(x % 4) as usize]
            })
            .collect();
        round_trip(codec, &data);
    }

    #[test]
    fn damaged_real_encodings_never_panic(
        f in 0usize..7,
        cut in any::<usize>(),
        flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..4),
    ) {
        let (name, ty, _) = FIXTURES[f];
        let data = fixture(name);
        let data = &data[..data.len().min(40 * ty.type_size())];
        let codec = codec_for(TensorType::Ggml(ty), Level::Max);
        let enc = round_trip(codec, data);
        damaged_never_panics(codec, &enc, data.len(), cut, &flips);
    }

    #[test]
    fn garbage_never_panics(
        k in 0usize..8,
        len in 0usize..5000,
        input in proptest::collection::vec(any::<u8>(), 0..400),
    ) {
        let (codec, _) = CODECS[k];
        let mut out = vec![0u8; len];
        let _ = codec.decode(&input, &mut out);
    }
}
