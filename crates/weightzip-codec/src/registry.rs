//! The codec registry: stable ids written into `.wz` files, names used on
//! the command line and in lab records, and the coders of each, in one
//! table ([`CODECS`]). Which codec codes what is decided in [`mod@crate::select`].

use weightzip_format::{Dtype, GgmlType, TensorType};

use crate::error::{CodecError, Result};
use crate::gguf::{k_quants, legacy, q8_0};
use crate::{ctx, generic};

/// How hard to try when encoding.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Level {
    /// The fast codecs (default): near the byte-marginal ceiling at memory-like speed.
    #[default]
    Fast,
    /// The strongest codecs, slower to encode.
    Max,
}

impl Level {
    /// zstd level used for bytes without a dedicated codec.
    pub fn zstd_level(self) -> i32 {
        match self {
            Level::Fast => 3,
            Level::Max => 19,
        }
    }
}

/// A codec, identified by the byte stored in each chunk of a `.wz` file.
/// Ids are never reused: a file written by any version decodes forever.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum CodecId {
    /// The bytes verbatim.
    Store = 0,
    /// A zstd frame.
    Zstd = 1,
    /// [`crate::float::bf16_planes`]: bf16 as exponent and sign + mantissa planes.
    Bf16 = 2,
    /// [`crate::float::fp16`].
    Fp16 = 3,
    /// [`crate::float::fp32`].
    Fp32 = 4,
    /// [`crate::float::bytes`].
    Bytes = 5,
    /// [`k_quants::q4k`] (GGUF Q4_K blocks).
    Q4K = 16,
    /// [`k_quants::q6k`] (GGUF Q6_K blocks).
    Q6K = 17,
    /// [`q8_0`] (GGUF Q8_0 blocks).
    Q8_0 = 18,
    /// [`legacy::q5_0`] (GGUF Q5_0 blocks).
    Q5_0 = 19,
    /// [`legacy::q4_0`] (GGUF Q4_0 blocks).
    Q4_0 = 20,
    /// [`legacy::q4_1`] (GGUF Q4_1 blocks).
    Q4_1 = 21,
    /// [`legacy::q5_1`] (GGUF Q5_1 blocks).
    Q5_1 = 22,
    /// [`k_quants::q5k`] (GGUF Q5_K blocks).
    Q5K = 23,
    /// [`ctx::bf16`]: bf16 with row-scale contexts (`--level max`).
    Bf16Ctx = 32,
    /// [`ctx::fp16`]: fp16 with row-scale contexts (`--level max`).
    Fp16Ctx = 33,
    /// [`crate::float::bf16_joint`]: bf16 as joint top-10-bit symbols + raw low bits.
    Bf16Joint = 48,
    /// [`crate::float::bf16_alias`]: bf16 as alias-coded 9-bit symbols + raw bits.
    Bf16Alias = 49,
    /// [`crate::float::fp16_alias`]: fp16 as alias-coded sign + exponent + raw mantissa.
    Fp16Alias = 50,
}

/// A codec's encoder: data, level, row length (elements per row of the
/// tensor, `None` if unknown), output to append to.
pub type EncodeFn = fn(&[u8], Level, Option<usize>, &mut Vec<u8>) -> Result<()>;

/// One row of [`CODECS`]: everything the workspace knows about a codec.
#[derive(Clone, Copy, Debug)]
pub struct CodecInfo {
    /// The id stored in each chunk.
    pub id: CodecId,
    /// The name used on the command line and in lab records.
    pub name: &'static str,
    /// Appends the encoding of a chunk; the row length (elements per row of
    /// the tensor, `None` if unknown) matters to the row-context codecs only.
    pub encode: EncodeFn,
    /// Decodes one encoding that must fill the output exactly.
    pub decode: fn(&[u8], &mut [u8]) -> Result<()>,
    /// The tensor types the codec is made for (any bytes for `store` and
    /// `zstd`): where the lab measures it.
    pub codes: fn(TensorType) -> bool,
}

fn is_bf16(ty: TensorType) -> bool {
    matches!(
        ty,
        TensorType::St(Dtype::BF16) | TensorType::Ggml(GgmlType::BF16)
    )
}

fn is_fp16(ty: TensorType) -> bool {
    matches!(
        ty,
        TensorType::St(Dtype::F16) | TensorType::Ggml(GgmlType::F16)
    )
}

fn is_fp32(ty: TensorType) -> bool {
    matches!(
        ty,
        TensorType::St(Dtype::F32) | TensorType::Ggml(GgmlType::F32)
    )
}

fn is_bytes(ty: TensorType) -> bool {
    matches!(
        ty,
        TensorType::St(Dtype::U8 | Dtype::I8 | Dtype::Bool | Dtype::F8E4M3 | Dtype::F8E5M2)
            | TensorType::Ggml(GgmlType::I8)
    )
}

macro_rules! ggml {
    ($name:ident, $ty:ident) => {
        fn $name(ty: TensorType) -> bool {
            ty == TensorType::Ggml(GgmlType::$ty)
        }
    };
}
ggml!(is_q4k, Q4_K);
ggml!(is_q6k, Q6_K);
ggml!(is_q8_0, Q8_0);
ggml!(is_q5_0, Q5_0);
ggml!(is_q4_0, Q4_0);
ggml!(is_q4_1, Q4_1);
ggml!(is_q5_1, Q5_1);
ggml!(is_q5k, Q5_K);

/// A row of [`CODECS`] for a codec whose encoder takes the data only.
macro_rules! codec {
    ($id:ident, $name:literal, $module:path, $codes:expr) => {{
        use $module as m;
        CodecInfo {
            id: CodecId::$id,
            name: $name,
            encode: |data, _level, _row_len, out| m::encode(data, out),
            decode: m::decode,
            codes: $codes,
        }
    }};
}

fn store_encode(data: &[u8], _: Level, _: Option<usize>, out: &mut Vec<u8>) -> Result<()> {
    out.extend_from_slice(data);
    Ok(())
}

fn store_decode(input: &[u8], out: &mut [u8]) -> Result<()> {
    if input.len() != out.len() {
        return Err(CodecError::Corrupt {
            codec: "store",
            offset: 0,
            reason: format!("holds {} bytes, expected {}", input.len(), out.len()),
        });
    }
    out.copy_from_slice(input);
    Ok(())
}

/// Every codec, in id order: the one table from which ids, names, the
/// coders and the lab's applicability derive.
pub static CODECS: [CodecInfo; 19] = [
    CodecInfo {
        id: CodecId::Store,
        name: "store",
        encode: store_encode,
        decode: store_decode,
        codes: |_| true,
    },
    CodecInfo {
        id: CodecId::Zstd,
        name: "zstd",
        encode: |data, level, _, out| generic::encode(data, level.zstd_level(), out),
        decode: generic::decode,
        codes: |_| true,
    },
    codec!(Bf16, "wz_bf16", crate::float::bf16_planes, is_bf16),
    codec!(Fp16, "wz_fp16", crate::float::fp16, is_fp16),
    codec!(Fp32, "wz_fp32", crate::float::fp32, is_fp32),
    codec!(Bytes, "wz_bytes", crate::float::bytes, is_bytes),
    codec!(Q4K, "wz_q4k", k_quants::q4k, is_q4k),
    codec!(Q6K, "wz_q6k", k_quants::q6k, is_q6k),
    codec!(Q8_0, "wz_q8_0", q8_0, is_q8_0),
    codec!(Q5_0, "wz_q5_0", legacy::q5_0, is_q5_0),
    codec!(Q4_0, "wz_q4_0", legacy::q4_0, is_q4_0),
    codec!(Q4_1, "wz_q4_1", legacy::q4_1, is_q4_1),
    codec!(Q5_1, "wz_q5_1", legacy::q5_1, is_q5_1),
    codec!(Q5K, "wz_q5k", k_quants::q5k, is_q5k),
    CodecInfo {
        id: CodecId::Bf16Ctx,
        name: "wz_bf16_ctx",
        encode: |data, _, row_len, out| ctx::bf16::encode(data, row_len, out),
        decode: ctx::bf16::decode,
        codes: is_bf16,
    },
    CodecInfo {
        id: CodecId::Fp16Ctx,
        name: "wz_fp16_ctx",
        encode: |data, _, row_len, out| ctx::fp16::encode(data, row_len, out),
        decode: ctx::fp16::decode,
        codes: is_fp16,
    },
    codec!(Bf16Joint, "wz_bf16j", crate::float::bf16_joint, is_bf16),
    codec!(Bf16Alias, "wz_bf16a", crate::float::bf16_alias, is_bf16),
    codec!(Fp16Alias, "wz_fp16a", crate::float::fp16_alias, is_fp16),
];

/// Every codec id, in id order (the ids of [`CODECS`]).
pub const ALL_CODECS: [CodecId; 19] = [
    CodecId::Store,
    CodecId::Zstd,
    CodecId::Bf16,
    CodecId::Fp16,
    CodecId::Fp32,
    CodecId::Bytes,
    CodecId::Q4K,
    CodecId::Q6K,
    CodecId::Q8_0,
    CodecId::Q5_0,
    CodecId::Q4_0,
    CodecId::Q4_1,
    CodecId::Q5_1,
    CodecId::Q5K,
    CodecId::Bf16Ctx,
    CodecId::Fp16Ctx,
    CodecId::Bf16Joint,
    CodecId::Bf16Alias,
    CodecId::Fp16Alias,
];

impl CodecId {
    /// The codec stored as `id`, if this build knows it.
    pub fn from_u8(id: u8) -> Option<Self> {
        CODECS.iter().map(|c| c.id).find(|c| *c as u8 == id)
    }

    /// This codec's row of [`CODECS`].
    pub fn info(self) -> &'static CodecInfo {
        // The table holds every id (a test checks it); the fallback row is
        // never reached.
        CODECS.iter().find(|c| c.id == self).unwrap_or(&CODECS[0])
    }

    /// The name used on the command line and in lab records.
    pub fn name(self) -> &'static str {
        self.info().name
    }

    /// Appends the encoding of `data` to `out` (row length unknown).
    pub fn encode(self, data: &[u8], level: Level, out: &mut Vec<u8>) -> Result<()> {
        (self.info().encode)(data, level, None, out)
    }

    /// [`CodecId::encode`] for a chunk of a tensor whose rows (last
    /// dimension) hold `row_len` elements: the context codecs model row
    /// statistics (they find the chunk's phase inside a row themselves, and
    /// infer the row length when `None`); the others ignore it.
    pub fn encode_with_shape(
        self,
        data: &[u8],
        level: Level,
        row_len: Option<usize>,
        out: &mut Vec<u8>,
    ) -> Result<()> {
        (self.info().encode)(data, level, row_len, out)
    }

    /// Decodes one encoding that must fill `out` exactly.
    pub fn decode(self, input: &[u8], out: &mut [u8]) -> Result<()> {
        (self.info().decode)(input, out)
    }

    /// Whether the codec is made for tensors of type `ty`.
    pub fn codes(self, ty: TensorType) -> bool {
        (self.info().codes)(ty)
    }
}

/// The codec stored as `id`.
pub fn codec_by_id(id: u8) -> Result<CodecId> {
    CodecId::from_u8(id).ok_or_else(|| CodecError::UnknownCodec(format!("id {id}")))
}

/// The codec called `name`.
pub fn codec_by_name(name: &str) -> Result<CodecId> {
    CODECS
        .iter()
        .find(|c| c.name == name)
        .map(|c| c.id)
        .ok_or_else(|| CodecError::UnknownCodec(name.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_holds_every_id_once_in_order() {
        assert_eq!(CODECS.len(), ALL_CODECS.len());
        for (row, id) in CODECS.iter().zip(ALL_CODECS) {
            assert_eq!(row.id, id);
            assert_eq!(id.info().id, id);
        }
    }

    #[test]
    fn ids_and_names_are_unique_and_stable() {
        for (i, c) in ALL_CODECS.iter().enumerate() {
            // Ids increase (blocks of ids are reserved per codec family).
            assert!(i == 0 || (ALL_CODECS[i - 1] as u8) < *c as u8);
            assert_eq!(codec_by_id(*c as u8).unwrap(), *c);
            assert_eq!(codec_by_name(c.name()).unwrap(), *c);
        }
        assert!(codec_by_id(200).is_err());
        assert!(codec_by_name("nope").is_err());
    }

    #[test]
    fn every_codec_round_trips_odd_lengths() {
        let data: Vec<u8> = (0..777u32).map(|i| (i * 31 % 17) as u8).collect();
        for c in ALL_CODECS {
            let mut buf = Vec::new();
            c.encode(&data, Level::Fast, &mut buf).unwrap();
            let mut back = vec![0u8; data.len()];
            c.decode(&buf, &mut back).unwrap();
            assert_eq!(back, data, "{}", c.name());
        }
    }
}
