//! Atlas statistics on real and constructed tensors.

use super::*;

#[test]
fn f16_rounding_inverts_f16_to_f32() {
    for h in 0..=u16::MAX {
        let f = weightzip_format::ggml::f16_to_f32(h);
        if f.is_nan() {
            assert!(weightzip_format::ggml::f16_to_f32(f32_to_f16_bits(f)).is_nan());
        } else {
            assert_eq!(f32_to_f16_bits(f), h, "{h:#06x}");
        }
    }
    // Halfway between 1 and the next half: ties to even.
    assert_eq!(f32_to_f16_bits(f32::from_bits(0x3F80_1000)), 0x3C00);
    assert_eq!(f32_to_f16_bits(f32::from_bits(0x3F80_3000)), 0x3C02);
    assert_eq!(f32_to_f16_bits(1e6), 0x7C00);
    assert_eq!(f32_to_f16_bits(1e-9), 0);
}

#[test]
fn templates() {
    assert_eq!(
        name_template("model.layers.12.mlp.up_proj.weight", 12).as_deref(),
        Some("model.layers.{}.mlp.up_proj.weight")
    );
    assert_eq!(
        name_template("decoder/layer_1/ffn/linear_1/weight", 1).as_deref(),
        Some("decoder/layer_{}/ffn/linear_1/weight")
    );
    assert_eq!(
        name_template("blk.1.ffn_down.weight", 1).as_deref(),
        Some("blk.{}.ffn_down.weight")
    );
}

#[test]
fn bf16_stats_of_known_values() {
    // Two values with different exponents and mantissas, equally often.
    let mut d = Vec::new();
    for _ in 0..8 {
        d.extend_from_slice(&0x3F80u16.to_le_bytes());
        d.extend_from_slice(&0xBF01u16.to_le_bytes());
    }
    let s = float16_stats(&d, Float16::Bf16);
    assert!((s.h_byte0 - 1.0).abs() < 1e-12);
    assert!((s.h_byte1 - 1.0).abs() < 1e-12);
    assert!((s.h_sign - 1.0).abs() < 1e-12);
    assert!((s.h_exp - 1.0).abs() < 1e-12);
    assert!(s.h_mant_given_exp.abs() < 1e-12);
    assert!((s.h_value - 1.0).abs() < 1e-12);
    assert!((s.r_marginal() - 8.0).abs() < 1e-12);
}
