//! The codec registry: stable ids written into `.wz` files, names used on
//! the command line and in lab records, and the choice of codec per tensor type.

use weightzip_format::{Dtype, GgmlType, TensorType};

use crate::error::{CodecError, Result};
use crate::gguf::{k_quants, legacy, q8_0};
use crate::{ctx, float, generic};

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
    /// [`float::bf16`].
    Bf16 = 2,
    /// [`float::fp16`].
    Fp16 = 3,
    /// [`float::fp32`].
    Fp32 = 4,
    /// [`float::bytes`].
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
    /// [`float::bf16j`]: bf16 as joint top-10-bit symbols + raw low bits.
    Bf16Joint = 48,
    /// [`float::bf16a`]: bf16 as alias-coded 9-bit symbols + raw bits.
    Bf16Alias = 49,
}

/// Every codec, in id order.
pub const ALL_CODECS: [CodecId; 18] = [
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
];

impl CodecId {
    /// The codec stored as `id`, if this build knows it.
    pub fn from_u8(id: u8) -> Option<Self> {
        ALL_CODECS.iter().copied().find(|c| *c as u8 == id)
    }

    /// The name used on the command line and in lab records.
    pub fn name(self) -> &'static str {
        match self {
            CodecId::Store => "store",
            CodecId::Zstd => "zstd",
            CodecId::Bf16 => "wz_bf16",
            CodecId::Fp16 => "wz_fp16",
            CodecId::Fp32 => "wz_fp32",
            CodecId::Bytes => "wz_bytes",
            CodecId::Q4K => "wz_q4k",
            CodecId::Q6K => "wz_q6k",
            CodecId::Q8_0 => "wz_q8_0",
            CodecId::Q5_0 => "wz_q5_0",
            CodecId::Q4_0 => "wz_q4_0",
            CodecId::Q4_1 => "wz_q4_1",
            CodecId::Q5_1 => "wz_q5_1",
            CodecId::Q5K => "wz_q5k",
            CodecId::Bf16Joint => "wz_bf16j",
            CodecId::Bf16Alias => "wz_bf16a",
            CodecId::Bf16Ctx => "wz_bf16_ctx",
            CodecId::Fp16Ctx => "wz_fp16_ctx",
        }
    }

    /// Appends the encoding of `data` to `out`.
    pub fn encode(self, data: &[u8], level: Level, out: &mut Vec<u8>) -> Result<()> {
        match self {
            CodecId::Store => {
                out.extend_from_slice(data);
                Ok(())
            }
            CodecId::Zstd => generic::encode(data, level.zstd_level(), out),
            CodecId::Bf16 => float::bf16::encode(data, out),
            CodecId::Bf16Joint => float::bf16j::encode(data, out),
            CodecId::Bf16Alias => float::bf16a::encode(data, out),
            CodecId::Fp16 => float::fp16::encode(data, out),
            CodecId::Fp32 => float::fp32::encode(data, out),
            CodecId::Bytes => float::bytes::encode(data, out),
            CodecId::Q4K => k_quants::q4k::encode(data, out),
            CodecId::Q6K => k_quants::q6k::encode(data, out),
            CodecId::Q8_0 => q8_0::encode(data, out),
            CodecId::Q5_0 => legacy::q5_0::encode(data, out),
            CodecId::Q4_0 => legacy::q4_0::encode(data, out),
            CodecId::Q4_1 => legacy::q4_1::encode(data, out),
            CodecId::Q5_1 => legacy::q5_1::encode(data, out),
            CodecId::Q5K => k_quants::q5k::encode(data, out),
            CodecId::Bf16Ctx => ctx::bf16::encode(data, None, out),
            CodecId::Fp16Ctx => ctx::fp16::encode(data, None, out),
        }
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
        match self {
            CodecId::Bf16Ctx => ctx::bf16::encode(data, row_len, out),
            CodecId::Fp16Ctx => ctx::fp16::encode(data, row_len, out),
            _ => self.encode(data, level, out),
        }
    }

    /// Decodes one encoding that must fill `out` exactly.
    pub fn decode(self, input: &[u8], out: &mut [u8]) -> Result<()> {
        match self {
            CodecId::Store => {
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
            CodecId::Zstd => generic::decode(input, out),
            CodecId::Bf16 => float::bf16::decode(input, out),
            CodecId::Bf16Joint => float::bf16j::decode(input, out),
            CodecId::Bf16Alias => float::bf16a::decode(input, out),
            CodecId::Fp16 => float::fp16::decode(input, out),
            CodecId::Fp32 => float::fp32::decode(input, out),
            CodecId::Bytes => float::bytes::decode(input, out),
            CodecId::Q4K => k_quants::q4k::decode(input, out),
            CodecId::Q6K => k_quants::q6k::decode(input, out),
            CodecId::Q8_0 => q8_0::decode(input, out),
            CodecId::Q5_0 => legacy::q5_0::decode(input, out),
            CodecId::Q4_0 => legacy::q4_0::decode(input, out),
            CodecId::Q4_1 => legacy::q4_1::decode(input, out),
            CodecId::Q5_1 => legacy::q5_1::decode(input, out),
            CodecId::Q5K => k_quants::q5k::decode(input, out),
            CodecId::Bf16Ctx => ctx::bf16::decode(input, out),
            CodecId::Fp16Ctx => ctx::fp16::decode(input, out),
        }
    }
}

/// The codec stored as `id`.
pub fn codec_by_id(id: u8) -> Result<CodecId> {
    CodecId::from_u8(id).ok_or_else(|| CodecError::UnknownCodec(format!("id {id}")))
}

/// The codec called `name`.
pub fn codec_by_name(name: &str) -> Result<CodecId> {
    ALL_CODECS
        .iter()
        .copied()
        .find(|c| c.name() == name)
        .ok_or_else(|| CodecError::UnknownCodec(name.to_string()))
}

/// The codec for a tensor of type `ty`; `None` means "no dedicated codec":
/// use the general-purpose fallback.
pub fn choose_codec(ty: TensorType, level: Level) -> CodecId {
    let max = level == Level::Max;
    match ty {
        TensorType::St(Dtype::BF16) | TensorType::Ggml(GgmlType::BF16) if max => CodecId::Bf16Ctx,
        TensorType::St(Dtype::F16) | TensorType::Ggml(GgmlType::F16) if max => CodecId::Fp16Ctx,
        // The alias codec decodes ~1.5x faster than the joint one for 0.2-0.3 %
        // of size, and beats the plane split on both (docs/PERFORMANCE.md);
        // every older codec stays readable forever.
        TensorType::St(Dtype::BF16) | TensorType::Ggml(GgmlType::BF16) => CodecId::Bf16Alias,
        TensorType::St(Dtype::F16) | TensorType::Ggml(GgmlType::F16) => CodecId::Fp16,
        TensorType::St(Dtype::F32) | TensorType::Ggml(GgmlType::F32) => CodecId::Fp32,
        TensorType::St(Dtype::U8 | Dtype::I8 | Dtype::Bool | Dtype::F8E4M3 | Dtype::F8E5M2)
        | TensorType::Ggml(GgmlType::I8) => CodecId::Bytes,
        TensorType::Ggml(GgmlType::Q4_K) => CodecId::Q4K,
        TensorType::Ggml(GgmlType::Q6_K) => CodecId::Q6K,
        TensorType::Ggml(GgmlType::Q8_0) => CodecId::Q8_0,
        TensorType::Ggml(GgmlType::Q5_0) => CodecId::Q5_0,
        TensorType::Ggml(GgmlType::Q4_0) => CodecId::Q4_0,
        TensorType::Ggml(GgmlType::Q4_1) => CodecId::Q4_1,
        TensorType::Ggml(GgmlType::Q5_1) => CodecId::Q5_1,
        TensorType::Ggml(GgmlType::Q5_K) => CodecId::Q5K,
        _ => CodecId::Zstd,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
