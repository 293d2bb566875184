//! ggml type geometry and block views checked against llama.cpp's tables.

use super::*;

#[test]
fn ids_round_trip_and_removed_ids_rejected() {
    for t in GgmlType::ALL {
        assert_eq!(GgmlType::from_u32(t.id()), Some(t));
        assert_eq!(GgmlType::from_name(t.name()), Some(t));
    }
    for removed in [4u32, 5, 31, 32, 33, 36, 37, 38, 43, 1000, u32::MAX] {
        assert_eq!(GgmlType::from_u32(removed), None, "id {removed}");
    }
    // Spot-check ids against ggml.h.
    assert_eq!(GgmlType::Q4_K as u32, 12);
    assert_eq!(GgmlType::BF16 as u32, 30);
    assert_eq!(GgmlType::IQ1_M as u32, 29);
    assert_eq!(GgmlType::TQ2_0 as u32, 35);
    assert_eq!(GgmlType::MXFP4 as u32, 39);
    assert_eq!(GgmlType::Q2_0 as u32, 42);
}

#[test]
fn block_geometry_matches_ggml() {
    let expect: &[(GgmlType, usize, usize)] = &[
        (GgmlType::F32, 1, 4),
        (GgmlType::F16, 1, 2),
        (GgmlType::Q4_0, 32, 18),
        (GgmlType::Q4_1, 32, 20),
        (GgmlType::Q5_0, 32, 22),
        (GgmlType::Q5_1, 32, 24),
        (GgmlType::Q8_0, 32, 34),
        (GgmlType::Q8_1, 32, 36),
        (GgmlType::Q2_K, 256, 84),
        (GgmlType::Q3_K, 256, 110),
        (GgmlType::Q4_K, 256, 144),
        (GgmlType::Q5_K, 256, 176),
        (GgmlType::Q6_K, 256, 210),
        (GgmlType::Q8_K, 256, 292),
        (GgmlType::IQ2_XXS, 256, 66),
        (GgmlType::IQ2_XS, 256, 74),
        (GgmlType::IQ3_XXS, 256, 98),
        (GgmlType::IQ1_S, 256, 50),
        (GgmlType::IQ4_NL, 32, 18),
        (GgmlType::IQ3_S, 256, 110),
        (GgmlType::IQ2_S, 256, 82),
        (GgmlType::IQ4_XS, 256, 136),
        (GgmlType::I8, 1, 1),
        (GgmlType::I16, 1, 2),
        (GgmlType::I32, 1, 4),
        (GgmlType::I64, 1, 8),
        (GgmlType::F64, 1, 8),
        (GgmlType::IQ1_M, 256, 56),
        (GgmlType::BF16, 1, 2),
        (GgmlType::TQ1_0, 256, 54),
        (GgmlType::TQ2_0, 256, 66),
        (GgmlType::MXFP4, 32, 17),
        (GgmlType::NVFP4, 64, 36),
        (GgmlType::Q1_0, 128, 18),
        (GgmlType::Q2_0, 64, 18),
    ];
    assert_eq!(expect.len(), GgmlType::ALL.len());
    for &(t, bs, ts) in expect {
        assert_eq!((t.block_size(), t.type_size()), (bs, ts), "{t}");
    }
}

#[test]
fn block_fields_tile_each_block() {
    for t in GgmlType::ALL {
        match block_fields(t) {
            None => assert_eq!(t.block_size(), 1, "{t}"),
            Some(fields) => {
                let mut at = 0;
                for f in fields {
                    assert_eq!(f.offset, at, "{t} field {}", f.name);
                    assert!(f.len > 0);
                    at += f.len;
                }
                assert_eq!(at, t.type_size(), "{t}");
            }
        }
    }
}

#[test]
fn row_bytes() {
    assert_eq!(GgmlType::Q4_K.row_bytes(4096), Some(16 * 144));
    assert_eq!(GgmlType::Q4_K.row_bytes(384), None);
    assert_eq!(GgmlType::F32.row_bytes(3), Some(12));
    assert_eq!(GgmlType::F64.row_bytes(u64::MAX), None);
    assert_eq!(GgmlType::Q8_0.row_bytes(0), Some(0));
}

#[test]
fn q4k_block_view() {
    let mut b = [0u8; 2 * Q4_K_BLOCK_BYTES];
    b[0] = 0x00;
    b[1] = 0x3C; // d = 1.0
    b[2] = 0x00;
    b[3] = 0xC0; // dmin = -2.0
    b[4] = 7;
    b[16] = 0xAB;
    b[143] = 0xCD;
    b[144 + 15] = 9;
    let v: Vec<_> = q4k_blocks(&b).unwrap().collect();
    assert_eq!(v.len(), 2);
    assert_eq!(f16_to_f32(v[0].d), 1.0);
    assert_eq!(f16_to_f32(v[0].dmin), -2.0);
    assert_eq!(v[0].scales[0], 7);
    assert_eq!(v[0].qs[0], 0xAB);
    assert_eq!(v[0].qs[127], 0xCD);
    assert_eq!(v[1].scales[11], 9);
    assert!(q4k_blocks(&b[..143]).is_err());
    assert_eq!(q4k_blocks(&[]).unwrap().count(), 0);
}

#[test]
fn q6k_and_q8_0_views() {
    let mut b = [0u8; Q6_K_BLOCK_BYTES];
    b[0] = 1;
    b[128] = 2;
    b[192] = 0xFF; // scale -1
    b[208] = 0x00;
    b[209] = 0x40; // d = 2.0
    let v = q6k_blocks(&b).unwrap().next().unwrap();
    assert_eq!((v.ql[0], v.qh[0], v.scales[0] as i8), (1, 2, -1));
    assert_eq!(f16_to_f32(v.d), 2.0);

    let mut q = [0u8; Q8_0_BLOCK_BYTES];
    q[1] = 0x3C;
    q[2] = 0x80;
    let v = q8_0_blocks(&q).unwrap().next().unwrap();
    assert_eq!(f16_to_f32(v.d), 1.0);
    assert_eq!(v.qs[0] as i8, -128);
    assert!(q8_0_blocks(&q[..33]).is_err());

    let k5 = [0u8; Q5_K_BLOCK_BYTES];
    assert_eq!(q5k_blocks(&k5).unwrap().count(), 1);
}

/// Straightforward re-statement of llama.cpp's get_scale_min_k4.
fn get_scale_min_k4(j: usize, q: &[u8; 12]) -> (u8, u8) {
    if j < 4 {
        (q[j] & 63, q[j + 4] & 63)
    } else {
        (
            (q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4),
            (q[j + 4] >> 4) | ((q[j] >> 6) << 4),
        )
    }
}

#[test]
fn unpack_matches_reference_and_pack_inverts() {
    // A deterministic sweep that sets every bit position in every byte.
    let mut state = 0x1234_5678_9abc_def0u64;
    for _ in 0..20_000 {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let mut q = [0u8; 12];
        for (i, b) in q.iter_mut().enumerate() {
            *b = (state >> ((i % 8) * 8)) as u8 ^ (i as u8).wrapping_mul(37);
        }
        let (sc, mn) = unpack_q4k_scales(&q);
        for j in 0..8 {
            assert_eq!((sc[j], mn[j]), get_scale_min_k4(j, &q));
            assert!(sc[j] < 64 && mn[j] < 64);
        }
        assert_eq!(pack_q4k_scales(&sc, &mn), q);
    }
}

fn f16_reference(h: u16) -> f64 {
    let sign = if h & 0x8000 != 0 { -1.0 } else { 1.0 };
    let exp = i32::from((h >> 10) & 0x1F);
    let mant = f64::from(h & 0x3FF);
    match exp {
        0 => sign * mant * 2f64.powi(-24),
        31 if mant == 0.0 => sign * f64::INFINITY,
        31 => f64::NAN,
        _ => sign * (1.0 + mant / 1024.0) * 2f64.powi(exp - 15),
    }
}

#[test]
fn f16_conversion_is_exact_for_all_values() {
    for h in 0..=u16::MAX {
        let got = f16_to_f32(h);
        let want = f16_reference(h);
        if want.is_nan() {
            assert!(got.is_nan(), "{h:#06x}");
            // Payload and sign survive.
            assert_eq!(got.to_bits() >> 31, u32::from(h >> 15));
            assert_eq!((got.to_bits() >> 13) & 0x3FF, u32::from(h & 0x3FF));
        } else {
            assert_eq!(f64::from(got), want, "{h:#06x}");
            assert_eq!(got.is_sign_negative(), h & 0x8000 != 0, "{h:#06x}");
        }
    }
    assert_eq!(f16_to_f32(0x0001), 2f32.powi(-24));
    assert_eq!(f16_to_f32(0x7BFF), 65504.0);
    assert_eq!(bf16_to_f32(0x3F80), 1.0);
}
