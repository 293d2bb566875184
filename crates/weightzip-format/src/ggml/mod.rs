//! ggml tensor types, their block geometry, and zero-copy views of the
//! fields inside quantized blocks.
//!
//! Type ids, block sizes and block byte layouts follow `ggml/include/ggml.h`,
//! the `type_traits` table of `ggml/src/ggml.c` and the `block_*` structs of
//! `ggml/src/ggml-common.h` in llama.cpp (ids up to `Q2_0 = 42`). Ids 4, 5
//! (`Q4_2`, `Q4_3`), 31–33 and 36–38 (removed repacked layouts) are not valid
//! in GGUF files and are rejected.
//!
//! All multi-byte fields are little-endian (GGUF v3 big-endian files are not
//! supported by this crate).

use crate::error::{FormatError, Result};
use std::fmt;

mod blocks;
mod fields;

pub use blocks::*;
pub use fields::*;

/// Elements per super-block of the k-quants and most i-quants (`QK_K`).
pub const QK_K: usize = 256;

/// A ggml tensor element type, with the numeric id used in GGUF tensor infos.
#[allow(non_camel_case_types)]
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum GgmlType {
    /// IEEE single precision.
    F32 = 0,
    /// IEEE half precision.
    F16 = 1,
    /// 32 weights: f16 scale + 4-bit quants.
    Q4_0 = 2,
    /// 32 weights: f16 scale and min + 4-bit quants.
    Q4_1 = 3,
    /// 32 weights: f16 scale + 5-bit quants (high bits separate).
    Q5_0 = 6,
    /// 32 weights: f16 scale and min + 5-bit quants.
    Q5_1 = 7,
    /// 32 weights: f16 scale + int8 quants.
    Q8_0 = 8,
    /// 32 weights: f16 scale and sum + int8 quants.
    Q8_1 = 9,
    /// 256-weight super-block, 2-bit.
    Q2_K = 10,
    /// 256-weight super-block, 3-bit.
    Q3_K = 11,
    /// 256-weight super-block, 4-bit with 6-bit sub-block scales/mins.
    Q4_K = 12,
    /// 256-weight super-block, 5-bit.
    Q5_K = 13,
    /// 256-weight super-block, 6-bit.
    Q6_K = 14,
    /// 256-weight super-block, 8-bit (intermediate type).
    Q8_K = 15,
    /// i-quant, 2.0625 bpw.
    IQ2_XXS = 16,
    /// i-quant, 2.3125 bpw.
    IQ2_XS = 17,
    /// i-quant, 3.0625 bpw.
    IQ3_XXS = 18,
    /// i-quant, 1.5625 bpw.
    IQ1_S = 19,
    /// Non-linear 4-bit, 32-weight blocks.
    IQ4_NL = 20,
    /// i-quant, 3.4375 bpw.
    IQ3_S = 21,
    /// i-quant, 2.5625 bpw.
    IQ2_S = 22,
    /// Non-linear 4-bit, 256-weight super-blocks.
    IQ4_XS = 23,
    /// Signed 8-bit integer.
    I8 = 24,
    /// Signed 16-bit integer.
    I16 = 25,
    /// Signed 32-bit integer.
    I32 = 26,
    /// Signed 64-bit integer.
    I64 = 27,
    /// IEEE double precision.
    F64 = 28,
    /// i-quant, 1.75 bpw.
    IQ1_M = 29,
    /// Brain float 16.
    BF16 = 30,
    /// Ternary, 1.6875 bpw.
    TQ1_0 = 34,
    /// Ternary, 2.0625 bpw.
    TQ2_0 = 35,
    /// OCP MXFP4: E8M0 scale + 32 E2M1 values.
    MXFP4 = 39,
    /// NVFP4: four UE4M3 scales + 64 E2M1 values.
    NVFP4 = 40,
    /// 1-bit, 128-weight blocks with f16 scale.
    Q1_0 = 41,
    /// 2-bit, 64-weight blocks with f16 scale.
    Q2_0 = 42,
}

impl GgmlType {
    /// Every type this crate knows, in id order.
    pub const ALL: [GgmlType; 35] = [
        GgmlType::F32,
        GgmlType::F16,
        GgmlType::Q4_0,
        GgmlType::Q4_1,
        GgmlType::Q5_0,
        GgmlType::Q5_1,
        GgmlType::Q8_0,
        GgmlType::Q8_1,
        GgmlType::Q2_K,
        GgmlType::Q3_K,
        GgmlType::Q4_K,
        GgmlType::Q5_K,
        GgmlType::Q6_K,
        GgmlType::Q8_K,
        GgmlType::IQ2_XXS,
        GgmlType::IQ2_XS,
        GgmlType::IQ3_XXS,
        GgmlType::IQ1_S,
        GgmlType::IQ4_NL,
        GgmlType::IQ3_S,
        GgmlType::IQ2_S,
        GgmlType::IQ4_XS,
        GgmlType::I8,
        GgmlType::I16,
        GgmlType::I32,
        GgmlType::I64,
        GgmlType::F64,
        GgmlType::IQ1_M,
        GgmlType::BF16,
        GgmlType::TQ1_0,
        GgmlType::TQ2_0,
        GgmlType::MXFP4,
        GgmlType::NVFP4,
        GgmlType::Q1_0,
        GgmlType::Q2_0,
    ];

    /// The type with GGUF id `id`, or `None` for unknown or removed ids.
    pub fn from_u32(id: u32) -> Option<GgmlType> {
        GgmlType::ALL.into_iter().find(|t| t.id() == id)
    }

    /// The type whose [`name`](GgmlType::name) is `name` (case-insensitive).
    pub fn from_name(name: &str) -> Option<GgmlType> {
        GgmlType::ALL
            .into_iter()
            .find(|t| t.name().eq_ignore_ascii_case(name))
    }

    /// The numeric id stored in GGUF tensor infos.
    pub fn id(self) -> u32 {
        self as u32
    }

    /// Upper-case name as in gguf-py (`"Q4_K"`, `"BF16"`, `"IQ2_XXS"`).
    pub fn name(self) -> &'static str {
        match self {
            GgmlType::F32 => "F32",
            GgmlType::F16 => "F16",
            GgmlType::Q4_0 => "Q4_0",
            GgmlType::Q4_1 => "Q4_1",
            GgmlType::Q5_0 => "Q5_0",
            GgmlType::Q5_1 => "Q5_1",
            GgmlType::Q8_0 => "Q8_0",
            GgmlType::Q8_1 => "Q8_1",
            GgmlType::Q2_K => "Q2_K",
            GgmlType::Q3_K => "Q3_K",
            GgmlType::Q4_K => "Q4_K",
            GgmlType::Q5_K => "Q5_K",
            GgmlType::Q6_K => "Q6_K",
            GgmlType::Q8_K => "Q8_K",
            GgmlType::IQ2_XXS => "IQ2_XXS",
            GgmlType::IQ2_XS => "IQ2_XS",
            GgmlType::IQ3_XXS => "IQ3_XXS",
            GgmlType::IQ1_S => "IQ1_S",
            GgmlType::IQ4_NL => "IQ4_NL",
            GgmlType::IQ3_S => "IQ3_S",
            GgmlType::IQ2_S => "IQ2_S",
            GgmlType::IQ4_XS => "IQ4_XS",
            GgmlType::I8 => "I8",
            GgmlType::I16 => "I16",
            GgmlType::I32 => "I32",
            GgmlType::I64 => "I64",
            GgmlType::F64 => "F64",
            GgmlType::IQ1_M => "IQ1_M",
            GgmlType::BF16 => "BF16",
            GgmlType::TQ1_0 => "TQ1_0",
            GgmlType::TQ2_0 => "TQ2_0",
            GgmlType::MXFP4 => "MXFP4",
            GgmlType::NVFP4 => "NVFP4",
            GgmlType::Q1_0 => "Q1_0",
            GgmlType::Q2_0 => "Q2_0",
        }
    }

    /// Elements per block (`ggml_blck_size`); 1 for plain element types.
    pub fn block_size(self) -> usize {
        match self {
            GgmlType::F32
            | GgmlType::F16
            | GgmlType::BF16
            | GgmlType::F64
            | GgmlType::I8
            | GgmlType::I16
            | GgmlType::I32
            | GgmlType::I64 => 1,
            GgmlType::Q4_0
            | GgmlType::Q4_1
            | GgmlType::Q5_0
            | GgmlType::Q5_1
            | GgmlType::Q8_0
            | GgmlType::Q8_1
            | GgmlType::IQ4_NL
            | GgmlType::MXFP4 => 32,
            GgmlType::NVFP4 | GgmlType::Q2_0 => 64,
            GgmlType::Q1_0 => 128,
            GgmlType::Q2_K
            | GgmlType::Q3_K
            | GgmlType::Q4_K
            | GgmlType::Q5_K
            | GgmlType::Q6_K
            | GgmlType::Q8_K
            | GgmlType::IQ2_XXS
            | GgmlType::IQ2_XS
            | GgmlType::IQ3_XXS
            | GgmlType::IQ1_S
            | GgmlType::IQ3_S
            | GgmlType::IQ2_S
            | GgmlType::IQ4_XS
            | GgmlType::IQ1_M
            | GgmlType::TQ1_0
            | GgmlType::TQ2_0 => QK_K,
        }
    }

    /// Bytes per block (`ggml_type_size`), i.e. `sizeof(block_xxx)`.
    pub fn type_size(self) -> usize {
        match self {
            GgmlType::I8 => 1,
            GgmlType::F16 | GgmlType::BF16 | GgmlType::I16 => 2,
            GgmlType::F32 | GgmlType::I32 => 4,
            GgmlType::F64 | GgmlType::I64 => 8,
            // d + qs[16]
            GgmlType::Q4_0 | GgmlType::IQ4_NL => 18,
            // d, m + qs[16]
            GgmlType::Q4_1 => 20,
            // d + qh[4] + qs[16]
            GgmlType::Q5_0 => 22,
            // d, m + qh[4] + qs[16]
            GgmlType::Q5_1 => 24,
            // d + qs[32]
            GgmlType::Q8_0 => 34,
            // d, s + qs[32]
            GgmlType::Q8_1 => 36,
            // scales[16] + qs[64] + d, dmin
            GgmlType::Q2_K => 84,
            // hmask[32] + qs[64] + scales[12] + d
            GgmlType::Q3_K => 110,
            // d, dmin + scales[12] + qs[128]
            GgmlType::Q4_K => 144,
            // d, dmin + scales[12] + qh[32] + qs[128]
            GgmlType::Q5_K => 176,
            // ql[128] + qh[64] + scales[16] + d
            GgmlType::Q6_K => 210,
            // f32 d + qs[256] + i16 bsums[16]
            GgmlType::Q8_K => 292,
            // d + u16 qs[32]
            GgmlType::IQ2_XXS => 66,
            // d + u16 qs[32] + scales[8]
            GgmlType::IQ2_XS => 74,
            // d + qs[96]
            GgmlType::IQ3_XXS => 98,
            // d + qs[32] + u16 qh[8]
            GgmlType::IQ1_S => 50,
            // d + qs[64] + qh[8] + signs[32] + scales[4]
            GgmlType::IQ3_S => 110,
            // d + qs[64] + qh[8] + scales[8]
            GgmlType::IQ2_S => 82,
            // d + u16 scales_h + scales_l[4] + qs[128]
            GgmlType::IQ4_XS => 136,
            // qs[32] + qh[16] + scales[8]
            GgmlType::IQ1_M => 56,
            // qs[48] + qh[4] + d
            GgmlType::TQ1_0 => 54,
            // qs[64] + d
            GgmlType::TQ2_0 => 66,
            // e + qs[16]
            GgmlType::MXFP4 => 17,
            // d[4] + qs[32]
            GgmlType::NVFP4 => 36,
            // d + qs[16]
            GgmlType::Q1_0 | GgmlType::Q2_0 => 18,
        }
    }

    /// Whether the type stores blocks of several elements (anything with a
    /// block size above one).
    pub fn is_quantized(self) -> bool {
        self.block_size() > 1
    }

    /// Bytes of a row of `n` elements (`ggml_row_size`), or `None` if `n` is
    /// not a multiple of the block size or the size overflows.
    pub fn row_bytes(self, n: u64) -> Option<u64> {
        let bs = self.block_size() as u64;
        if !n.is_multiple_of(bs) {
            return None;
        }
        (n / bs).checked_mul(self.type_size() as u64)
    }

    /// Field layout of one block, see [`block_fields`].
    pub fn block_fields(self) -> Option<&'static [BlockField]> {
        block_fields(self)
    }
}

impl fmt::Display for GgmlType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests;
