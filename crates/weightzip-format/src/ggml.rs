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

/// How the bytes of a block field are to be read.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FieldKind {
    /// One or more little-endian IEEE halves (scales, mins).
    F16,
    /// One or more little-endian IEEE singles.
    F32,
    /// Raw bytes: packed quants, bit planes, packed sub-scales.
    U8,
    /// Signed bytes (e.g. Q8_0 quants, Q6_K scales).
    I8,
    /// Little-endian u16 words (i-quant grid indices).
    U16,
    /// Little-endian i16 words (Q8_K block sums).
    I16,
    /// E8M0 exponent bytes (MXFP4 shared scale).
    E8M0,
    /// Unsigned E4M3 scale bytes (NVFP4 sub-block scales).
    UE4M3,
}

/// One field of a quantized block: `len` bytes at `offset` from the block start.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct BlockField {
    /// Field name as in the ggml-common.h struct (`"d"`, `"dmin"`, `"scales"`, `"qs"` ...).
    pub name: &'static str,
    /// Byte offset inside the block.
    pub offset: usize,
    /// Byte length of the field.
    pub len: usize,
    /// How the bytes are interpreted.
    pub kind: FieldKind,
}

const fn fld(name: &'static str, offset: usize, len: usize, kind: FieldKind) -> BlockField {
    BlockField {
        name,
        offset,
        len,
        kind,
    }
}

use FieldKind as K;

/// `block_q4_0`: `d`, `qs[16]`.
pub const Q4_0_FIELDS: &[BlockField] = &[fld("d", 0, 2, K::F16), fld("qs", 2, 16, K::U8)];
/// `block_q4_1`: `d`, `m`, `qs[16]`.
pub const Q4_1_FIELDS: &[BlockField] = &[
    fld("d", 0, 2, K::F16),
    fld("m", 2, 2, K::F16),
    fld("qs", 4, 16, K::U8),
];
/// `block_q5_0`: `d`, `qh[4]`, `qs[16]`.
pub const Q5_0_FIELDS: &[BlockField] = &[
    fld("d", 0, 2, K::F16),
    fld("qh", 2, 4, K::U8),
    fld("qs", 6, 16, K::U8),
];
/// `block_q5_1`: `d`, `m`, `qh[4]`, `qs[16]`.
pub const Q5_1_FIELDS: &[BlockField] = &[
    fld("d", 0, 2, K::F16),
    fld("m", 2, 2, K::F16),
    fld("qh", 4, 4, K::U8),
    fld("qs", 8, 16, K::U8),
];
/// `block_q8_0`: `d`, `qs[32]` (int8).
pub const Q8_0_FIELDS: &[BlockField] = &[fld("d", 0, 2, K::F16), fld("qs", 2, 32, K::I8)];
/// `block_q8_1`: `d`, `s`, `qs[32]` (int8).
pub const Q8_1_FIELDS: &[BlockField] = &[
    fld("d", 0, 2, K::F16),
    fld("s", 2, 2, K::F16),
    fld("qs", 4, 32, K::I8),
];
/// `block_q2_K`: `scales[16]`, `qs[64]`, `d`, `dmin`.
pub const Q2_K_FIELDS: &[BlockField] = &[
    fld("scales", 0, 16, K::U8),
    fld("qs", 16, 64, K::U8),
    fld("d", 80, 2, K::F16),
    fld("dmin", 82, 2, K::F16),
];
/// `block_q3_K`: `hmask[32]`, `qs[64]`, `scales[12]`, `d`.
pub const Q3_K_FIELDS: &[BlockField] = &[
    fld("hmask", 0, 32, K::U8),
    fld("qs", 32, 64, K::U8),
    fld("scales", 96, 12, K::U8),
    fld("d", 108, 2, K::F16),
];
/// `block_q4_K`: `d`, `dmin`, `scales[12]`, `qs[128]`.
pub const Q4_K_FIELDS: &[BlockField] = &[
    fld("d", 0, 2, K::F16),
    fld("dmin", 2, 2, K::F16),
    fld("scales", 4, 12, K::U8),
    fld("qs", 16, 128, K::U8),
];
/// `block_q5_K`: `d`, `dmin`, `scales[12]`, `qh[32]`, `qs[128]`.
pub const Q5_K_FIELDS: &[BlockField] = &[
    fld("d", 0, 2, K::F16),
    fld("dmin", 2, 2, K::F16),
    fld("scales", 4, 12, K::U8),
    fld("qh", 16, 32, K::U8),
    fld("qs", 48, 128, K::U8),
];
/// `block_q6_K`: `ql[128]`, `qh[64]`, `scales[16]` (int8), `d`.
pub const Q6_K_FIELDS: &[BlockField] = &[
    fld("ql", 0, 128, K::U8),
    fld("qh", 128, 64, K::U8),
    fld("scales", 192, 16, K::I8),
    fld("d", 208, 2, K::F16),
];
/// `block_q8_K`: f32 `d`, `qs[256]` (int8), `bsums[16]` (int16).
pub const Q8_K_FIELDS: &[BlockField] = &[
    fld("d", 0, 4, K::F32),
    fld("qs", 4, 256, K::I8),
    fld("bsums", 260, 32, K::I16),
];
/// `block_iq2_xxs`: `d`, `qs[32]` (u16).
pub const IQ2_XXS_FIELDS: &[BlockField] = &[fld("d", 0, 2, K::F16), fld("qs", 2, 64, K::U16)];
/// `block_iq2_xs`: `d`, `qs[32]` (u16), `scales[8]`.
pub const IQ2_XS_FIELDS: &[BlockField] = &[
    fld("d", 0, 2, K::F16),
    fld("qs", 2, 64, K::U16),
    fld("scales", 66, 8, K::U8),
];
/// `block_iq3_xxs`: `d`, `qs[96]`.
pub const IQ3_XXS_FIELDS: &[BlockField] = &[fld("d", 0, 2, K::F16), fld("qs", 2, 96, K::U8)];
/// `block_iq1_s`: `d`, `qs[32]`, `qh[8]` (u16).
pub const IQ1_S_FIELDS: &[BlockField] = &[
    fld("d", 0, 2, K::F16),
    fld("qs", 2, 32, K::U8),
    fld("qh", 34, 16, K::U16),
];
/// `block_iq4_nl`: `d`, `qs[16]`.
pub const IQ4_NL_FIELDS: &[BlockField] = &[fld("d", 0, 2, K::F16), fld("qs", 2, 16, K::U8)];
/// `block_iq3_s`: `d`, `qs[64]`, `qh[8]`, `signs[32]`, `scales[4]`.
pub const IQ3_S_FIELDS: &[BlockField] = &[
    fld("d", 0, 2, K::F16),
    fld("qs", 2, 64, K::U8),
    fld("qh", 66, 8, K::U8),
    fld("signs", 74, 32, K::U8),
    fld("scales", 106, 4, K::U8),
];
/// `block_iq2_s`: `d`, `qs[64]`, `qh[8]`, `scales[8]`.
pub const IQ2_S_FIELDS: &[BlockField] = &[
    fld("d", 0, 2, K::F16),
    fld("qs", 2, 64, K::U8),
    fld("qh", 66, 8, K::U8),
    fld("scales", 74, 8, K::U8),
];
/// `block_iq4_xs`: `d`, `scales_h` (u16), `scales_l[4]`, `qs[128]`.
pub const IQ4_XS_FIELDS: &[BlockField] = &[
    fld("d", 0, 2, K::F16),
    fld("scales_h", 2, 2, K::U16),
    fld("scales_l", 4, 4, K::U8),
    fld("qs", 8, 128, K::U8),
];
/// `block_iq1_m`: `qs[32]`, `qh[16]`, `scales[8]` (the f16 scale is spread over `scales`).
pub const IQ1_M_FIELDS: &[BlockField] = &[
    fld("qs", 0, 32, K::U8),
    fld("qh", 32, 16, K::U8),
    fld("scales", 48, 8, K::U8),
];
/// `block_tq1_0`: `qs[48]`, `qh[4]`, `d`.
pub const TQ1_0_FIELDS: &[BlockField] = &[
    fld("qs", 0, 48, K::U8),
    fld("qh", 48, 4, K::U8),
    fld("d", 52, 2, K::F16),
];
/// `block_tq2_0`: `qs[64]`, `d`.
pub const TQ2_0_FIELDS: &[BlockField] = &[fld("qs", 0, 64, K::U8), fld("d", 64, 2, K::F16)];
/// `block_mxfp4`: `e` (E8M0), `qs[16]`.
pub const MXFP4_FIELDS: &[BlockField] = &[fld("e", 0, 1, K::E8M0), fld("qs", 1, 16, K::U8)];
/// `block_nvfp4`: `d[4]` (UE4M3), `qs[32]`.
pub const NVFP4_FIELDS: &[BlockField] = &[fld("d", 0, 4, K::UE4M3), fld("qs", 4, 32, K::U8)];
/// `block_q1_0`: `d`, `qs[16]`.
pub const Q1_0_FIELDS: &[BlockField] = &[fld("d", 0, 2, K::F16), fld("qs", 2, 16, K::U8)];
/// `block_q2_0`: `d`, `qs[16]`.
pub const Q2_0_FIELDS: &[BlockField] = &[fld("d", 0, 2, K::F16), fld("qs", 2, 16, K::U8)];

/// Field layout of one block of `ty`, in byte order, covering the whole block
/// without gaps. `None` for plain element types (block size 1), which have no
/// inner structure.
pub fn block_fields(ty: GgmlType) -> Option<&'static [BlockField]> {
    Some(match ty {
        GgmlType::F32
        | GgmlType::F16
        | GgmlType::BF16
        | GgmlType::F64
        | GgmlType::I8
        | GgmlType::I16
        | GgmlType::I32
        | GgmlType::I64 => return None,
        GgmlType::Q4_0 => Q4_0_FIELDS,
        GgmlType::Q4_1 => Q4_1_FIELDS,
        GgmlType::Q5_0 => Q5_0_FIELDS,
        GgmlType::Q5_1 => Q5_1_FIELDS,
        GgmlType::Q8_0 => Q8_0_FIELDS,
        GgmlType::Q8_1 => Q8_1_FIELDS,
        GgmlType::Q2_K => Q2_K_FIELDS,
        GgmlType::Q3_K => Q3_K_FIELDS,
        GgmlType::Q4_K => Q4_K_FIELDS,
        GgmlType::Q5_K => Q5_K_FIELDS,
        GgmlType::Q6_K => Q6_K_FIELDS,
        GgmlType::Q8_K => Q8_K_FIELDS,
        GgmlType::IQ2_XXS => IQ2_XXS_FIELDS,
        GgmlType::IQ2_XS => IQ2_XS_FIELDS,
        GgmlType::IQ3_XXS => IQ3_XXS_FIELDS,
        GgmlType::IQ1_S => IQ1_S_FIELDS,
        GgmlType::IQ4_NL => IQ4_NL_FIELDS,
        GgmlType::IQ3_S => IQ3_S_FIELDS,
        GgmlType::IQ2_S => IQ2_S_FIELDS,
        GgmlType::IQ4_XS => IQ4_XS_FIELDS,
        GgmlType::IQ1_M => IQ1_M_FIELDS,
        GgmlType::TQ1_0 => TQ1_0_FIELDS,
        GgmlType::TQ2_0 => TQ2_0_FIELDS,
        GgmlType::MXFP4 => MXFP4_FIELDS,
        GgmlType::NVFP4 => NVFP4_FIELDS,
        GgmlType::Q1_0 => Q1_0_FIELDS,
        GgmlType::Q2_0 => Q2_0_FIELDS,
    })
}

// ---------------------------------------------------------------------------
// Typed block views
// ---------------------------------------------------------------------------

/// Bytes per `block_q4_K`.
pub const Q4_K_BLOCK_BYTES: usize = 144;
/// Bytes per `block_q5_K`.
pub const Q5_K_BLOCK_BYTES: usize = 176;
/// Bytes per `block_q6_K`.
pub const Q6_K_BLOCK_BYTES: usize = 210;
/// Bytes per `block_q8_0`.
pub const Q8_0_BLOCK_BYTES: usize = 34;

/// Iterator over consecutive `N`-byte chunks of a slice, yielding arrays.
/// The caller checks beforehand that the slice length is a multiple of `N`.
#[derive(Clone, Debug)]
pub struct Blocks<'a, const N: usize> {
    rest: &'a [u8],
}

impl<'a, const N: usize> Iterator for Blocks<'a, N> {
    type Item = &'a [u8; N];

    fn next(&mut self) -> Option<Self::Item> {
        let (block, rest) = self.rest.split_first_chunk::<N>()?;
        self.rest = rest;
        Some(block)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = self.rest.len() / N;
        (n, Some(n))
    }
}

impl<const N: usize> ExactSizeIterator for Blocks<'_, N> {}

/// Splits `data` into whole `N`-byte blocks, or errors if `data.len()` is not
/// a multiple of `N`.
pub fn blocks<'a, const N: usize>(ty: &'static str, data: &'a [u8]) -> Result<Blocks<'a, N>> {
    if N == 0 || !data.len().is_multiple_of(N) {
        return Err(FormatError::BlockLength {
            ty,
            len: data.len() as u64,
            block_bytes: N as u64,
        });
    }
    Ok(Blocks { rest: data })
}

/// Reads a little-endian u16 from the first two bytes of `b`.
fn le16(b: &[u8; 2]) -> u16 {
    u16::from_le_bytes(*b)
}

/// Takes the next `L` bytes of `*rest` as an array, or `None` if fewer remain.
fn take<'a, const L: usize>(rest: &mut &'a [u8]) -> Option<&'a [u8; L]> {
    let (head, tail) = rest.split_first_chunk::<L>()?;
    *rest = tail;
    Some(head)
}

/// Zero-copy view of one `block_q4_K` (144 bytes).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Q4KBlock<'a> {
    /// Super-block scale for the quantized scales (f16 bits).
    pub d: u16,
    /// Super-block scale for the quantized mins (f16 bits).
    pub dmin: u16,
    /// Eight 6-bit scales and eight 6-bit mins, packed (see [`unpack_q4k_scales`]).
    pub scales: &'a [u8; 12],
    /// 256 4-bit quants.
    pub qs: &'a [u8; 128],
}

impl<'a> Q4KBlock<'a> {
    /// Views one block; `None` unless `block` is exactly 144 bytes.
    pub fn parse(block: &'a [u8]) -> Option<Q4KBlock<'a>> {
        let mut rest = block;
        let d = le16(take::<2>(&mut rest)?);
        let dmin = le16(take::<2>(&mut rest)?);
        let scales = take::<12>(&mut rest)?;
        let qs = take::<128>(&mut rest)?;
        rest.is_empty().then_some(Q4KBlock {
            d,
            dmin,
            scales,
            qs,
        })
    }
}

/// Zero-copy view of one `block_q5_K` (176 bytes).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Q5KBlock<'a> {
    /// Super-block scale for the quantized scales (f16 bits).
    pub d: u16,
    /// Super-block scale for the quantized mins (f16 bits).
    pub dmin: u16,
    /// Packed 6-bit scales and mins, same packing as Q4_K.
    pub scales: &'a [u8; 12],
    /// High (5th) bits of the quants.
    pub qh: &'a [u8; 32],
    /// Low 4 bits of the quants.
    pub qs: &'a [u8; 128],
}

impl<'a> Q5KBlock<'a> {
    /// Views one block; `None` unless `block` is exactly 176 bytes.
    pub fn parse(block: &'a [u8]) -> Option<Q5KBlock<'a>> {
        let mut rest = block;
        let d = le16(take::<2>(&mut rest)?);
        let dmin = le16(take::<2>(&mut rest)?);
        let scales = take::<12>(&mut rest)?;
        let qh = take::<32>(&mut rest)?;
        let qs = take::<128>(&mut rest)?;
        rest.is_empty().then_some(Q5KBlock {
            d,
            dmin,
            scales,
            qh,
            qs,
        })
    }
}

/// Zero-copy view of one `block_q6_K` (210 bytes). Field order is the one
/// of ggml-common.h: `ql`, `qh`, `scales`, `d`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Q6KBlock<'a> {
    /// Lower 4 bits of the 256 quants.
    pub ql: &'a [u8; 128],
    /// Upper 2 bits of the 256 quants.
    pub qh: &'a [u8; 64],
    /// Sixteen int8 sub-block scales (reinterpret each byte as `i8`).
    pub scales: &'a [u8; 16],
    /// Super-block scale (f16 bits).
    pub d: u16,
}

impl<'a> Q6KBlock<'a> {
    /// Views one block; `None` unless `block` is exactly 210 bytes.
    pub fn parse(block: &'a [u8]) -> Option<Q6KBlock<'a>> {
        let mut rest = block;
        let ql = take::<128>(&mut rest)?;
        let qh = take::<64>(&mut rest)?;
        let scales = take::<16>(&mut rest)?;
        let d = le16(take::<2>(&mut rest)?);
        rest.is_empty().then_some(Q6KBlock { ql, qh, scales, d })
    }
}

/// Zero-copy view of one `block_q8_0` (34 bytes).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Q80Block<'a> {
    /// Block scale (f16 bits).
    pub d: u16,
    /// 32 int8 quants (reinterpret each byte as `i8`).
    pub qs: &'a [u8; 32],
}

impl<'a> Q80Block<'a> {
    /// Views one block; `None` unless `block` is exactly 34 bytes.
    pub fn parse(block: &'a [u8]) -> Option<Q80Block<'a>> {
        let mut rest = block;
        let d = le16(take::<2>(&mut rest)?);
        let qs = take::<32>(&mut rest)?;
        rest.is_empty().then_some(Q80Block { d, qs })
    }
}

// The iterators below feed `parse` exact-size chunks (after checking that the
// data length is a whole number of blocks), so `map_while` never stops early;
// it merely avoids a panic path.
/// Views `data` as consecutive Q4_K blocks; errors if the length is not a multiple of 144.
pub fn q4k_blocks(data: &[u8]) -> Result<impl Iterator<Item = Q4KBlock<'_>>> {
    Ok(blocks::<Q4_K_BLOCK_BYTES>("Q4_K", data)?.map_while(|b| Q4KBlock::parse(b)))
}

/// Views `data` as consecutive Q5_K blocks; errors if the length is not a multiple of 176.
pub fn q5k_blocks(data: &[u8]) -> Result<impl Iterator<Item = Q5KBlock<'_>>> {
    Ok(blocks::<Q5_K_BLOCK_BYTES>("Q5_K", data)?.map_while(|b| Q5KBlock::parse(b)))
}

/// Views `data` as consecutive Q6_K blocks; errors if the length is not a multiple of 210.
pub fn q6k_blocks(data: &[u8]) -> Result<impl Iterator<Item = Q6KBlock<'_>>> {
    Ok(blocks::<Q6_K_BLOCK_BYTES>("Q6_K", data)?.map_while(|b| Q6KBlock::parse(b)))
}

/// Views `data` as consecutive Q8_0 blocks; errors if the length is not a multiple of 34.
pub fn q8_0_blocks(data: &[u8]) -> Result<impl Iterator<Item = Q80Block<'_>>> {
    Ok(blocks::<Q8_0_BLOCK_BYTES>("Q8_0", data)?.map_while(|b| Q80Block::parse(b)))
}

/// Unpacks the 12-byte `scales` field of Q4_K / Q5_K into eight 6-bit scales
/// and eight 6-bit mins, exactly as llama.cpp's `get_scale_min_k4`:
///
/// * `j < 4`: scale = `q[j] & 63`, min = `q[j+4] & 63`;
/// * `j >= 4`: scale = `(q[j+4] & 0xF) | ((q[j-4] >> 6) << 4)`,
///   min = `(q[j+4] >> 4) | ((q[j] >> 6) << 4)`.
///
/// All 96 bits are used (16 values × 6 bits), so this is a bijection between
/// 12-byte arrays and pairs of eight 6-bit values; [`pack_q4k_scales`] is its inverse.
pub fn unpack_q4k_scales(q: &[u8; 12]) -> ([u8; 8], [u8; 8]) {
    let mut sc = [0u8; 8];
    let mut mn = [0u8; 8];
    for j in 0..4 {
        sc[j] = q[j] & 63;
        mn[j] = q[j + 4] & 63;
        sc[j + 4] = (q[j + 8] & 0x0F) | ((q[j] >> 6) << 4);
        mn[j + 4] = (q[j + 8] >> 4) | ((q[j + 4] >> 6) << 4);
    }
    (sc, mn)
}

/// Packs eight 6-bit scales and eight 6-bit mins into the Q4_K / Q5_K
/// 12-byte layout; inverse of [`unpack_q4k_scales`]. Bits above the low six
/// of each input are ignored.
pub fn pack_q4k_scales(scales: &[u8; 8], mins: &[u8; 8]) -> [u8; 12] {
    let mut q = [0u8; 12];
    for j in 0..4 {
        let (s_lo, s_hi) = (scales[j] & 63, scales[j + 4] & 63);
        let (m_lo, m_hi) = (mins[j] & 63, mins[j + 4] & 63);
        q[j] = s_lo | ((s_hi >> 4) << 6);
        q[j + 4] = m_lo | ((m_hi >> 4) << 6);
        q[j + 8] = (s_hi & 0x0F) | ((m_hi & 0x0F) << 4);
    }
    q
}

/// Converts IEEE half-precision bits to `f32` exactly (subnormals, infinities
/// and NaN payloads included).
pub fn f16_to_f32(h: u16) -> f32 {
    let sign = u32::from(h & 0x8000) << 16;
    let exp = u32::from((h >> 10) & 0x1F);
    let mant = u32::from(h & 0x03FF);
    let bits = match (exp, mant) {
        (0, 0) => sign,
        (0, _) => {
            // Subnormal half: renormalise so the leading one lands on bit 10;
            // every f16 subnormal is a normal f32.
            let shift = mant.leading_zeros() - 21; // 1..=10
            let m = (mant << shift) & 0x03FF;
            let e = 113 - shift; // 127 - 14 - shift
            sign | (e << 23) | (m << 13)
        }
        (31, _) => sign | 0x7F80_0000 | (mant << 13),
        _ => sign | ((exp + 112) << 23) | (mant << 13),
    };
    f32::from_bits(bits)
}

/// Converts bfloat16 bits to `f32` (exact: bf16 is the top half of an f32).
pub fn bf16_to_f32(b: u16) -> f32 {
    f32::from_bits(u32::from(b) << 16)
}

#[cfg(test)]
mod tests {
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
}
