//! Where each field of a quantized block lies, per ggml type.

use super::*;

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

pub(crate) const fn fld(
    name: &'static str,
    offset: usize,
    len: usize,
    kind: FieldKind,
) -> BlockField {
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
