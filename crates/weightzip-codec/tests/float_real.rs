//! The fast bf16 codecs (`wz_bf16`, `wz_bf16j`, `wz_bf16a`) on real tensor
//! slices (tests/fixtures, see fixtures.txt): every kernel round-trips,
//! the sizes rank as designed, and format-v1 encodings decode forever.
//!
//! `WZ_WRITE_GOLDEN=1 cargo test -p weightzip-codec --test float_real`
//! writes the golden encodings that are missing (when a codec or a layout
//! is added).

use weightzip_codec::{float, CodecId, Level};
use weightzip_entropy::rans::Kernel;

const KEY: &[u8] = include_bytes!("fixtures/minilm-l0-key.bf16.bin");
const INTERMEDIATE: &[u8] = include_bytes!("fixtures/minilm-l0-intermediate-rows0-383.bf16.bin");
const FP16: &[u8] = include_bytes!("fixtures/whisper-l0-selfattn-out-rows0-191.fp16.bin");

fn encode(codec: CodecId, data: &[u8]) -> Vec<u8> {
    let mut buf = Vec::new();
    codec.encode(data, Level::Fast, &mut buf).unwrap();
    buf
}

#[test]
fn alias_codec_round_trips_real_slices_with_every_kernel() {
    for data in [
        KEY,
        INTERMEDIATE,
        &KEY[..KEY.len() - 1],
        &INTERMEDIATE[..1234],
    ] {
        let buf = encode(CodecId::Bf16Alias, data);
        for k in Kernel::supported() {
            let mut back = vec![0u8; data.len()];
            float::bf16_alias::decode_with(&buf, &mut back, k).unwrap();
            assert_eq!(back, data, "{k:?}");
        }
    }
}

#[test]
fn fp16_alias_codec_round_trips_real_slices_with_every_kernel() {
    let constant: Vec<u8> = FP16.chunks_exact(2).flat_map(|v| [v[0], 0x3c]).collect();
    for data in [
        FP16,
        &FP16[..FP16.len() - 1],
        &FP16[..1234],
        &FP16[..129],
        &FP16[..1],
        &[][..],
        &constant[..],
    ] {
        let buf = encode(CodecId::Fp16Alias, data);
        for k in Kernel::supported() {
            let mut back = vec![0u8; data.len()];
            float::fp16_alias::decode_with(&buf, &mut back, k).unwrap();
            assert!(back == data, "{k:?} {} bytes", data.len());
        }
        for cut in [0, 1, buf.len() / 2, buf.len().saturating_sub(1)] {
            if cut < buf.len() {
                let mut back = vec![0u8; data.len()];
                assert!(CodecId::Fp16Alias.decode(&buf[..cut], &mut back).is_err());
            }
        }
    }
}

/// The two raw mantissa bits cost little against coding the whole high
/// byte (`wz_fp16`): under 1 % on real weights.
#[test]
fn fp16_alias_codec_is_within_a_percent_of_the_byte_planes() {
    let planes = encode(CodecId::Fp16, FP16).len();
    let alias = encode(CodecId::Fp16Alias, FP16).len();
    eprintln!("wz_fp16 {planes}, wz_fp16a {alias} of {}", FP16.len());
    assert!((alias as f64) < planes as f64 * 1.01, "{alias} vs {planes}");
}

#[test]
fn alias_codec_sizes_sit_between_the_plane_split_and_the_joint_codec() {
    for (name, data) in [("key", KEY), ("intermediate", INTERMEDIATE)] {
        let planes = encode(CodecId::Bf16, data).len();
        let joint = encode(CodecId::Bf16Joint, data).len();
        let alias = encode(CodecId::Bf16Alias, data).len();
        eprintln!("{name}: wz_bf16 {planes}, wz_bf16j {joint}, wz_bf16a {alias}");
        assert!(alias < planes, "{name}: {alias} vs wz_bf16 {planes}");
        // The 9-bit symbol gives up the joint codec's third neighbour bit:
        // at most half a percent.
        assert!(
            (alias as f64) < joint as f64 * 1.005,
            "{name}: {alias} vs wz_bf16j {joint}"
        );
    }
}

/// Golden encodings of format v1 (first 64 rows of the intermediate slice
/// plus one odd byte) decode forever to their source.
#[test]
fn golden_v1_encodings_decode() {
    let source = &INTERMEDIATE[..2 * 384 * 64 + 1];
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/golden");
    // The layout byte of the bf16 encodings: after n (a 3-byte varint
    // here), the tail length and the one tail byte.
    const LAYOUT_AT: usize = 5;
    for (codec, file, layout) in [
        (CodecId::Bf16, "golden_v1.bf16.wzc", None),
        (CodecId::Bf16Joint, "golden_v1.bf16j.wzc", Some(1)),
        // Written when wz_bf16a's encoder chose the 64-symbol layout.
        (
            CodecId::Bf16Alias,
            "golden_v1.bf16a.wzc",
            Some(float::bf16_alias::EXP_M6),
        ),
        (
            CodecId::Bf16Alias,
            "golden_v1.bf16a_wide.wzc",
            Some(float::bf16_alias::EXP_M6_WIDE),
        ),
    ] {
        let path = dir.join(file);
        // Only missing files are written: each pins the encoder of its time.
        if std::env::var_os("WZ_WRITE_GOLDEN").is_some() && !path.exists() {
            std::fs::write(&path, encode(codec, source)).unwrap();
        }
        let golden = std::fs::read(&path).unwrap();
        if let Some(layout) = layout {
            assert_eq!(golden[LAYOUT_AT], layout, "{file}");
        }
        for k in Kernel::supported() {
            let mut back = vec![0u8; source.len()];
            match codec {
                CodecId::Bf16Alias => float::bf16_alias::decode_with(&golden, &mut back, k),
                CodecId::Bf16Joint => float::bf16_joint::decode_with(&golden, &mut back, k),
                _ => codec.decode(&golden, &mut back),
            }
            .unwrap();
            assert_eq!(back, source, "{} {k:?}", codec.name());
        }
    }
}

/// The golden encoding of `wz_fp16a` (the first 32 rows of the fp16 slice
/// plus one odd byte) decodes forever to its source, on every kernel.
#[test]
fn golden_fp16a_encoding_decodes() {
    let source = &FP16[..2 * 768 * 32 + 1];
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/golden/golden_v1.fp16a.wzc");
    if std::env::var_os("WZ_WRITE_GOLDEN").is_some() && !path.exists() {
        std::fs::write(&path, encode(CodecId::Fp16Alias, source)).unwrap();
    }
    let golden = std::fs::read(&path).unwrap();
    // After n (a 3-byte varint), the tail length and the tail byte.
    assert_eq!(golden[5], float::fp16_alias::ALIAS);
    for k in Kernel::supported() {
        let mut back = vec![0u8; source.len()];
        float::fp16_alias::decode_with(&golden, &mut back, k).unwrap();
        assert_eq!(back, source, "{k:?}");
    }
}
