//! Round trips and corrupt input of every float codec, on every kernel.

use super::*;

type Pair = (
    fn(&[u8], &mut Vec<u8>) -> Result<()>,
    fn(&[u8], &mut [u8]) -> Result<()>,
);
const CODECS: [Pair; 6] = [
    (bf16_planes::encode, bf16_planes::decode),
    (bf16_joint::encode, bf16_joint::decode),
    (bf16_alias::encode, bf16_alias::decode),
    (fp16::encode, fp16::decode),
    (fp32::encode, fp32::decode),
    (bytes::encode, bytes::decode),
];

fn weights_like(n: usize) -> Vec<u8> {
    // Not a stand-in for real weights (tests/real_slices.rs has those):
    // just values with a skewed exponent to exercise the coded paths.
    let mut x = 0x9E37_79B9_7F4A_7C15u64;
    let mut v = Vec::with_capacity(n);
    for _ in 0..n {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        v.push((x % 256) as u8 ^ if x & 0x300 == 0 { 0 } else { 0x3c });
    }
    v
}

#[test]
fn every_length_round_trips() {
    for (enc, dec) in CODECS {
        for n in [0usize, 1, 2, 3, 4, 5, 7, 8, 9, 1000, 4099] {
            let data = weights_like(n);
            let mut buf = Vec::new();
            enc(&data, &mut buf).unwrap();
            let mut back = vec![0u8; n];
            dec(&buf, &mut back).unwrap();
            assert_eq!(back, data, "n = {n}");
        }
    }
}

#[test]
fn wrong_output_length_and_truncation_are_errors() {
    for (enc, dec) in CODECS {
        let data = weights_like(4096);
        let mut buf = Vec::new();
        enc(&data, &mut buf).unwrap();
        let mut back = vec![0u8; 4094];
        assert!(dec(&buf, &mut back).is_err());
        let mut back = vec![0u8; 4096];
        for cut in [0, 1, 2, buf.len() / 2, buf.len() - 1] {
            assert!(dec(&buf[..cut], &mut back).is_err());
        }
        let mut longer = buf.clone();
        longer.push(0);
        assert!(dec(&longer, &mut back).is_err());
    }
}

/// bf16 values of a Gaussian-like weight matrix: per-row scales, a
/// few exact zeros, the exponent skew of real weights.
fn gaussian_bf16(n: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut next = || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        (x >> 11) as f64 / (1u64 << 53) as f64
    };
    (0..n)
        .flat_map(|i| {
            let (u, v) = (next().max(1e-12), next());
            let g = (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos();
            let scale = 0.02 * (1.0 + (i / 384 % 7) as f64);
            let f = if i % 997 == 0 {
                0.0
            } else {
                (g * scale) as f32
            };
            // Round to nearest even, as checkpoints are cast.
            let b = f.to_bits();
            let r = ((b + 0x7fff + ((b >> 16) & 1)) >> 16) as u16;
            r.to_le_bytes()
        })
        .collect()
}

#[test]
fn bf16j_beats_the_plane_split_on_weights() {
    let data = gaussian_bf16(1 << 20, 5);
    let (mut joint, mut split) = (Vec::new(), Vec::new());
    bf16_joint::encode(&data, &mut joint).unwrap();
    bf16_planes::encode(&data, &mut split).unwrap();
    assert!(
        joint.len() < split.len(),
        "{} vs {}",
        joint.len(),
        split.len()
    );
}

#[test]
fn bf16j_falls_back_to_planes_beyond_256_top_parts() {
    // Every 16-bit value: 1024 distinct top parts.
    let data: Vec<u8> = (0..=u16::MAX).flat_map(|v| v.to_le_bytes()).collect();
    let mut buf = Vec::new();
    bf16_joint::encode(&data, &mut buf).unwrap();
    let mut back = vec![0u8; data.len()];
    bf16_joint::decode(&buf, &mut back).unwrap();
    assert_eq!(back, data);
    // Exactly 256 top parts still take the joint layout.
    let data: Vec<u8> = (0..256u16 * 64)
        .map(|i| (i / 64) << 6 | (i.wrapping_mul(37) & 63))
        .flat_map(|v| v.to_le_bytes())
        .collect();
    let mut buf = Vec::new();
    bf16_joint::encode(&data, &mut buf).unwrap();
    let mut back = vec![0u8; data.len()];
    bf16_joint::decode(&buf, &mut back).unwrap();
    assert_eq!(back, data);
}

/// The layout byte of an encoding of `n` whole values and `tail` bytes.
fn layout_byte(buf: &[u8], n: usize, tail: usize) -> u8 {
    let mut header = Vec::new();
    write_varint(&mut header, n as u64);
    buf[header.len() + 1 + tail]
}

type Decode = fn(&[u8], &mut [u8], weightzip_entropy::rans::Kernel) -> Result<()>;

/// Round-trips Gaussian-like bf16 of many lengths (and an odd tail byte)
/// with every kernel; from 64 values on, the layout byte must be one of
/// `layouts`.
fn round_trips_with_every_kernel(
    encode: fn(&[u8], &mut Vec<u8>) -> Result<()>,
    decode: Decode,
    layouts: &[u8],
) {
    let kernels = weightzip_entropy::rans::Kernel::supported();
    for n in (0..200).chain([255, 256, 1000, 4096, 4097, 70_001]) {
        let data = gaussian_bf16(n, n as u64 + 1);
        for odd in [false, true] {
            let data = if odd {
                &[data.as_slice(), &[7]].concat()[..]
            } else {
                &data[..]
            };
            let mut buf = Vec::new();
            encode(data, &mut buf).unwrap();
            if n >= 64 {
                let layout = layout_byte(&buf, n, usize::from(odd));
                assert!(layouts.contains(&layout), "layout {layout} at n = {n}");
            }
            for &k in &kernels {
                let mut back = vec![0u8; data.len()];
                decode(&buf, &mut back, k).unwrap();
                assert_eq!(back, data, "n = {n} {k:?}");
            }
        }
    }
}

/// Every truncation is an error on every kernel; every single-bit flip
/// gives the same verdict and bytes on every kernel (never a panic).
fn corrupt_encodings_agree(encode: fn(&[u8], &mut Vec<u8>) -> Result<()>, decode: Decode) {
    corrupt_encodings_agree_on(&gaussian_bf16(3000, 9), encode, decode);
}

fn corrupt_encodings_agree_on(
    data: &[u8],
    encode: fn(&[u8], &mut Vec<u8>) -> Result<()>,
    decode: Decode,
) {
    let mut buf = Vec::new();
    encode(data, &mut buf).unwrap();
    let kernels = weightzip_entropy::rans::Kernel::supported();
    let mut back = vec![0u8; data.len()];
    for cut in 0..buf.len() {
        for &k in &kernels {
            assert!(decode(&buf[..cut], &mut back, k).is_err(), "cut {cut}");
        }
    }
    let mut x = 7u64;
    for _ in 0..3000 {
        x = x
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let mut bad = buf.clone();
        let i = (x >> 33) as usize % bad.len();
        bad[i] ^= 1 << (x >> 29 & 7);
        let results: Vec<Option<Vec<u8>>> = kernels
            .iter()
            .map(|&k| {
                let mut out = vec![0u8; data.len()];
                decode(&bad, &mut out, k).ok().map(|_| out)
            })
            .collect();
        assert!(results.windows(2).all(|w| w[0] == w[1]), "flip at {i}");
    }
}

#[test]
fn bf16j_joint_layout_round_trips_with_every_kernel() {
    round_trips_with_every_kernel(bf16_joint::encode, bf16_joint::decode_with, &[1]);
}

#[test]
fn bf16j_corrupt_encodings_error_or_agree_never_panic() {
    corrupt_encodings_agree(bf16_joint::encode, bf16_joint::decode_with);
}

#[test]
fn bf16a_alias_layouts_round_trip_with_every_kernel() {
    round_trips_with_every_kernel(
        bf16_alias::encode,
        bf16_alias::decode_with,
        &[
            bf16_alias::EXP_M6,
            bf16_alias::SIGN_EXP,
            bf16_alias::EXP_M6_WIDE,
            bf16_alias::SIGN_EXP_WIDE,
        ],
    );
}

/// Gaussian weights with `rare` values of distinct exponents (far
/// outside the bulk's) spread over them.
fn with_rare_exponents(n: usize, rare: usize) -> Vec<u8> {
    let mut data = gaussian_bf16(n, 5);
    for r in 0..rare {
        let i = (r * 7919 + 13) % n;
        // Exponents 1..=20 and 150..=169, then again.
        let e = (r % 40) as u16;
        let exponent = if e < 20 { 1 + e } else { 130 + e };
        let v = (exponent << 7) | (r as u16 & 0x7f);
        data[2 * i..2 * i + 2].copy_from_slice(&v.to_le_bytes());
    }
    data
}

#[test]
fn bf16a_patches_rare_fields_in_the_wide_layout() {
    let n = 200_000;
    // 40 rare fields (one in 5000 values): patched; with the bulk's
    // fields that is more than 64 symbols, which the 64-symbol layout
    // could not take.
    let data = with_rare_exponents(n, 40);
    let mut fields: Vec<u16> = data
        .chunks_exact(2)
        .map(|v| (u16::from_le_bytes([v[0], v[1]]) >> 6) & 0x1ff)
        .collect();
    fields.sort_unstable();
    fields.dedup();
    assert!(fields.len() > 64, "{} fields", fields.len());
    assert_eq!(bf16a_round_trip(&data), bf16_alias::EXP_M6_WIDE);
    // 300 of them: too many to patch, too many symbols for the 64-symbol
    // layout: the joint codec's layout.
    assert!(bf16a_round_trip(&with_rare_exponents(n, 300)) < bf16_alias::EXP_M6);
}

/// Encodes `data` (whole bf16 values) with `wz_bf16a`, checks that
/// every kernel decodes it back, and returns the layout byte.
fn bf16a_round_trip(data: &[u8]) -> u8 {
    let mut buf = Vec::new();
    bf16_alias::encode(data, &mut buf).unwrap();
    for k in weightzip_entropy::rans::Kernel::supported() {
        let mut back = vec![0u8; data.len()];
        bf16_alias::decode_with(&buf, &mut back, k).unwrap();
        assert_eq!(back, data, "{k:?}");
    }
    layout_byte(&buf, data.len() / 2, 0)
}

#[test]
fn bf16a_checks_a_sampled_wide_layout_against_the_values_it_missed() {
    // Rare exponents only at values the sample skips (1 mod 4): the
    // sampled alphabet lacks them, so the wide layout would patch 1000
    // values; the encoder must fall back to the exact histogram, which
    // sees too many fields for either alias layout.
    let n = 50_000;
    let mut data = gaussian_bf16(n, 8);
    for j in 0..1000 {
        let i = 4 * j + 1;
        let exponent = 1 + (j % 40) as u16;
        data[2 * i..2 * i + 2].copy_from_slice(&(exponent << 7).to_le_bytes());
    }
    assert!(bf16a_round_trip(&data) < bf16_alias::EXP_M6);
}

#[test]
fn bf16a_corrupt_patched_encodings_error_or_agree_never_panic() {
    corrupt_encodings_agree_on(
        &with_rare_exponents(5000, 2),
        bf16_alias::encode,
        bf16_alias::decode_with,
    );
}

#[test]
fn bf16a_corrupt_encodings_error_or_agree_never_panic() {
    corrupt_encodings_agree(bf16_alias::encode, bf16_alias::decode_with);
}

#[test]
fn bf16a_picks_the_neighbour_bit_with_the_smaller_entropy() {
    // Signed Gaussian weights: the sign is a fair coin, the top
    // mantissa bit is not (the density falls across a binade).
    let weights = gaussian_bf16(50_000, 11);
    let mut buf = Vec::new();
    bf16_alias::encode(&weights, &mut buf).unwrap();
    let layout = layout_byte(&buf, 25_000, 0);
    assert!(
        matches!(layout, bf16_alias::EXP_M6 | bf16_alias::EXP_M6_WIDE),
        "{layout}"
    );
    // Norm-like weights: positive, so the sign is free to code with
    // the exponent, and the top mantissa bit is raw.
    let norms: Vec<u8> = weights
        .chunks_exact(2)
        .flat_map(|v| (u16::from_le_bytes([v[0], v[1]]) & 0x7fff).to_le_bytes())
        .collect();
    let mut buf = Vec::new();
    bf16_alias::encode(&norms, &mut buf).unwrap();
    let layout = layout_byte(&buf, 25_000, 0);
    assert!(
        matches!(layout, bf16_alias::SIGN_EXP | bf16_alias::SIGN_EXP_WIDE),
        "{layout}"
    );
    let mut back = vec![0u8; norms.len()];
    bf16_alias::decode(&buf, &mut back).unwrap();
    assert_eq!(back, norms);
}

#[test]
fn bf16a_falls_back_to_the_joint_codec_beyond_64_symbols() {
    // Every 16-bit value: 512 distinct values of either 9-bit field.
    let data: Vec<u8> = (0..=u16::MAX).flat_map(|v| v.to_le_bytes()).collect();
    let mut buf = Vec::new();
    bf16_alias::encode(&data, &mut buf).unwrap();
    assert!(layout_byte(&buf, 1 << 16, 0) < bf16_alias::EXP_M6);
    let mut back = vec![0u8; data.len()];
    bf16_alias::decode(&buf, &mut back).unwrap();
    assert_eq!(back, data);
    // Exactly 64 exponent values with both top mantissa bits (and the
    // sign constant): 64 symbols under the (sign, exponent) layout.
    let data: Vec<u8> = (0..64u16 * 128)
        .map(|i| ((i / 128 + 60) << 7) | (i.wrapping_mul(37) & 127))
        .flat_map(|v| v.to_le_bytes())
        .collect();
    let mut buf = Vec::new();
    bf16_alias::encode(&data, &mut buf).unwrap();
    assert_eq!(layout_byte(&buf, 64 * 128, 0), bf16_alias::SIGN_EXP);
    let mut back = vec![0u8; data.len()];
    bf16_alias::decode(&buf, &mut back).unwrap();
    assert_eq!(back, data);
    // One value repeated: a single symbol, which the joint codec takes.
    let data = [0x3c, 0x3f].repeat(1000);
    let mut buf = Vec::new();
    bf16_alias::encode(&data, &mut buf).unwrap();
    let mut back = vec![0u8; data.len()];
    bf16_alias::decode(&buf, &mut back).unwrap();
    assert_eq!(back, data);
}

#[test]
fn alphabet_deltas_past_u64_are_errors_not_overflows() {
    // n = 64, no tail, then an alphabet whose second delta is 2^64 - 1:
    // as a joint (wz_bf16j) and an alias (wz_bf16a) layout.
    let huge = [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01];
    for (layout, decode) in [
        (
            1u8,
            bf16_joint::decode as fn(&[u8], &mut [u8]) -> Result<()>,
        ),
        (bf16_alias::EXP_M6, bf16_alias::decode),
        (bf16_alias::EXP_M6_WIDE, bf16_alias::decode),
    ] {
        let mut enc = vec![64, 0, layout, 2, 5];
        enc.extend_from_slice(&huge);
        enc.extend_from_slice(&[0; 64]);
        let mut out = vec![0u8; 128];
        assert!(decode(&enc, &mut out).is_err(), "layout {layout}");
    }
}

#[test]
fn bf16_split_is_a_bijection_on_all_values() {
    let data: Vec<u8> = (0..=u16::MAX).flat_map(|v| v.to_le_bytes()).collect();
    let mut buf = Vec::new();
    bf16_planes::encode(&data, &mut buf).unwrap();
    let mut back = vec![0u8; data.len()];
    bf16_planes::decode(&buf, &mut back).unwrap();
    assert_eq!(back, data);
}

#[test]
fn fp32_split_is_a_bijection_on_sampled_values() {
    let data: Vec<u8> = (0..=u16::MAX)
        .flat_map(|v| (u32::from(v).wrapping_mul(0x9E37_79B1) ^ u32::from(v)).to_le_bytes())
        .collect();
    let mut buf = Vec::new();
    fp32::encode(&data, &mut buf).unwrap();
    let mut back = vec![0u8; data.len()];
    fp32::decode(&buf, &mut back).unwrap();
    assert_eq!(back, data);
}
