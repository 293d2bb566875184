//! Every codec choice of weightzip, in one place: the codec per tensor type,
//! how a tensor is cut into chunks, the zstd retry of small tensors, the
//! verify-and-fallback, and storing what does not shrink.
//!
//! The container calls [`plan_tensor`] once per tensor and [`select`] once
//! per chunk; a benchmark that wants the bytes users get does the same:
//!
//! ```
//! use weightzip_codec::select::{plan_tensor, select, ChunkPlan};
//! use weightzip_codec::Level;
//! use weightzip_format::{Dtype, TensorType};
//!
//! // A bf16 tensor of 4 rows of 8 elements.
//! let data: Vec<u8> = (0..64u8).collect();
//! let plan = plan_tensor(TensorType::St(Dtype::BF16), &[4, 8], 64, 4 << 20, Level::Fast);
//! let mut out = Vec::new();
//! for range in plan.chunks(64) {
//!     let chunk = &data[range.start as usize..range.end as usize];
//!     let codec = select(chunk, &plan.chunk(true), &mut out).unwrap();
//!     let mut back = vec![0u8; chunk.len()];
//!     codec.decode(&out, &mut back).unwrap();
//!     assert_eq!(back, chunk);
//! }
//! ```
//!
//! Codecs may still pick between layouts inside their own encoding (a
//! plane stored raw, a context model switched off): those choices are part
//! of each codec's byte format ([FORMAT.md](../../docs/FORMAT.md)) and stay
//! with the codec.

use std::cell::RefCell;
use std::ops::Range;

use weightzip_format::{Dtype, GgmlType, TensorType};

use crate::error::Result;
use crate::registry::{CodecId, Level};

/// Tensors smaller than this also try zstd: coding tables would dominate.
pub const SMALL_TENSOR: u64 = 16 << 10;

/// The codec for a tensor of type `ty` at `level`; [`CodecId::Zstd`] means
/// "no dedicated codec".
pub fn codec_for(ty: TensorType, level: Level) -> CodecId {
    let max = level == Level::Max;
    match ty {
        TensorType::St(Dtype::BF16) | TensorType::Ggml(GgmlType::BF16) if max => CodecId::Bf16Ctx,
        TensorType::St(Dtype::F16) | TensorType::Ggml(GgmlType::F16) if max => CodecId::Fp16Ctx,
        // The alias codec decodes ~1.5x faster than the joint one for 0.2-0.3 %
        // of size, and beats the plane split on both (docs/PERFORMANCE.md);
        // every older codec stays readable forever.
        TensorType::St(Dtype::BF16) | TensorType::Ggml(GgmlType::BF16) => CodecId::Bf16Alias,
        // Likewise for fp16: the alias codec decodes ~2.5x faster than the
        // byte planes for ~0.5 % of size.
        TensorType::St(Dtype::F16) | TensorType::Ggml(GgmlType::F16) => CodecId::Fp16Alias,
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

/// Elements per row of a tensor (its contiguous dimension) for the codecs
/// that model row statistics: the last dimension of a safetensors shape,
/// the first (`ne[0]`) of an unquantised GGUF one; `None` for vectors and
/// quantised types.
pub fn row_len(ty: TensorType, shape: &[u64]) -> Option<usize> {
    let dim = match ty {
        TensorType::St(_) => shape.last(),
        TensorType::Ggml(g) if !g.is_quantized() => shape.first(),
        TensorType::Ggml(_) => None,
    };
    dim.filter(|_| shape.len() >= 2)
        .and_then(|&d| usize::try_from(d).ok())
        .filter(|&d| d > 0)
}

/// Bytes per indivisible unit of a tensor type (element or quant block).
pub fn granule(ty: TensorType) -> u64 {
    match ty {
        TensorType::St(d) => d.size_bytes().unwrap_or(1) as u64,
        TensorType::Ggml(g) => (g.type_size() as u64).max(1),
    }
}

/// How one tensor is coded: its codec, its chunks, and what every chunk's
/// [`select`] needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TensorPlan {
    /// The codec of [`codec_for`].
    pub codec: CodecId,
    /// The level the codecs run at.
    pub level: Level,
    /// See [`row_len`].
    pub row_len: Option<usize>,
    /// Whether the tensor is smaller than [`SMALL_TENSOR`].
    pub small: bool,
    /// Bytes per chunk (the last one may be shorter): whole rows where a
    /// row fits in the chunk size, so row-context codecs see rows from
    /// their start, else whole granules.
    pub step: u64,
}

/// The plan of a tensor of type `ty`, shape `shape` (as the file stores
/// it) and `len` bytes, cut into chunks of at most about `chunk_size` bytes.
pub fn plan_tensor(
    ty: TensorType,
    shape: &[u64],
    len: u64,
    chunk_size: u64,
    level: Level,
) -> TensorPlan {
    let g = granule(ty);
    let row_len = row_len(ty, shape);
    let row_bytes = row_len.map_or(g, |r| r as u64 * g).max(g);
    let unit = if row_bytes <= chunk_size {
        row_bytes
    } else {
        g
    };
    TensorPlan {
        codec: codec_for(ty, level),
        level,
        row_len,
        small: len < SMALL_TENSOR,
        step: (chunk_size / unit * unit).max(g),
    }
}

impl TensorPlan {
    /// The byte ranges (relative to the tensor's start) of the chunks of a
    /// tensor of `len` bytes.
    pub fn chunks(&self, len: u64) -> impl Iterator<Item = Range<u64>> {
        let step = self.step.max(1);
        (0..len.div_ceil(step)).map(move |k| k * step..(k * step + step).min(len))
    }

    /// What [`select`] needs for each chunk of this tensor.
    pub fn chunk(&self, verify: bool) -> ChunkPlan {
        ChunkPlan {
            codec: self.codec,
            level: self.level,
            row_len: self.row_len,
            small: self.small,
            verify,
        }
    }
}

/// What [`select`] knows about one chunk.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChunkPlan {
    /// The codec to try first.
    pub codec: CodecId,
    /// The level the codecs run at.
    pub level: Level,
    /// Elements per row of the chunk's tensor.
    pub row_len: Option<usize>,
    /// Try zstd too and keep the smaller (small tensors, where a codec's
    /// tables would dominate).
    pub small: bool,
    /// Decode the payload and fall back to zstd unless it reproduces the
    /// chunk (a codec that cannot is a bug; the user's bytes stay safe).
    pub verify: bool,
}

impl ChunkPlan {
    /// The plan of a chunk of non-tensor bytes: zstd.
    pub fn passthrough(level: Level, verify: bool) -> Self {
        Self {
            codec: CodecId::Zstd,
            level,
            row_len: None,
            small: false,
            verify,
        }
    }
}

thread_local! {
    /// The zstd alternative and the verification output, reused per thread.
    static SCRATCH: RefCell<(Vec<u8>, Vec<u8>)> = const { RefCell::new((Vec::new(), Vec::new())) };
}

/// Codes `data` as `plan` says, writes the payload to `out` (cleared
/// first) and returns the codec that decodes it: the plan's codec, zstd
/// when it is smaller for a small tensor or when the codec fails
/// verification, or [`CodecId::Store`] when nothing is smaller than the
/// bytes themselves.
pub fn select(data: &[u8], plan: &ChunkPlan, out: &mut Vec<u8>) -> Result<CodecId> {
    select_inspected(data, plan, out, |_, _| {})
}

/// [`select`] with `inspect` run on the first payload before it is
/// verified: a seam for tests of the fallback (which damage the payload
/// there, as a codec bug would).
pub fn select_inspected(
    data: &[u8],
    plan: &ChunkPlan,
    out: &mut Vec<u8>,
    inspect: impl FnOnce(CodecId, &mut [u8]),
) -> Result<CodecId> {
    out.clear();
    let mut codec = plan.codec;
    codec.encode_with_shape(data, plan.level, plan.row_len, out)?;
    SCRATCH.with(|cell| {
        let (alt, back) = &mut *cell.borrow_mut();
        if plan.small && codec != CodecId::Zstd {
            alt.clear();
            if CodecId::Zstd.encode(data, plan.level, alt).is_ok() && alt.len() < out.len() {
                std::mem::swap(out, alt);
                codec = CodecId::Zstd;
            }
        }
        inspect(codec, out);
        if plan.verify && !matches!(codec, CodecId::Store | CodecId::Zstd) {
            back.clear();
            back.resize(data.len(), 0);
            if codec.decode(out, back).is_err() || back[..] != data[..] {
                out.clear();
                CodecId::Zstd.encode(data, plan.level, out)?;
                codec = CodecId::Zstd;
            }
        }
        Ok::<_, crate::CodecError>(())
    })?;
    if out.len() >= data.len() {
        out.clear();
        out.extend_from_slice(data);
        codec = CodecId::Store;
    }
    Ok(codec)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Real bf16 weights (MiniLM layer 0 key projection).
    fn weights() -> &'static [u8] {
        &include_bytes!("../tests/fixtures/minilm-l0-key.bf16.bin")[..64 << 10]
    }

    #[test]
    fn chunks_are_whole_rows_and_cover_the_tensor() {
        let ty = TensorType::St(Dtype::BF16);
        let plan = plan_tensor(ty, &[1000, 384], 768_000, 100_000, Level::Fast);
        assert_eq!(plan.step % 768, 0);
        assert_eq!(plan.step, 100_000 / 768 * 768);
        let chunks: Vec<_> = plan.chunks(768_000).collect();
        assert_eq!(chunks.first().map(|r| r.start), Some(0));
        assert_eq!(chunks.last().map(|r| r.end), Some(768_000));
        assert!(chunks.windows(2).all(|w| w[0].end == w[1].start));
        // A row longer than the chunk: whole elements.
        let wide = plan_tensor(ty, &[2, 100_000], 400_000, 4096, Level::Fast);
        assert_eq!(wide.step, 4096);
        assert_eq!(row_len(TensorType::Ggml(GgmlType::Q4_K), &[256, 4]), None);
        assert_eq!(
            row_len(TensorType::Ggml(GgmlType::F16), &[384, 4]),
            Some(384)
        );
    }

    #[test]
    fn small_tensors_keep_the_smaller_of_codec_and_zstd() {
        let data = &weights()[..4096];
        let plan = plan_tensor(
            TensorType::St(Dtype::BF16),
            &[2048],
            4096,
            4 << 20,
            Level::Fast,
        );
        assert!(plan.small);
        let mut out = Vec::new();
        let codec = select(data, &plan.chunk(true), &mut out).unwrap();
        let mut own = Vec::new();
        CodecId::Bf16Alias
            .encode(data, Level::Fast, &mut own)
            .unwrap();
        let mut z = Vec::new();
        CodecId::Zstd.encode(data, Level::Fast, &mut z).unwrap();
        assert_eq!(out.len(), own.len().min(z.len()).min(data.len()));
        let mut back = vec![0u8; data.len()];
        codec.decode(&out, &mut back).unwrap();
        assert_eq!(back, data);
    }

    #[test]
    fn a_payload_that_does_not_decode_back_falls_back_to_zstd() {
        let data = weights();
        let plan = ChunkPlan {
            codec: CodecId::Bf16Alias,
            level: Level::Fast,
            row_len: None,
            small: false,
            verify: true,
        };
        let damage = |_: CodecId, p: &mut [u8]| {
            let mid = p.len() / 2;
            p[mid] ^= 0x10;
        };
        let mut out = Vec::new();
        let codec = select_inspected(data, &plan, &mut out, damage).unwrap();
        assert_eq!(codec, CodecId::Zstd);
        let mut z = Vec::new();
        CodecId::Zstd.encode(data, Level::Fast, &mut z).unwrap();
        assert_eq!(out, z);
        // Without verification the damaged payload is kept.
        let unverified = ChunkPlan {
            verify: false,
            ..plan
        };
        let codec = select_inspected(data, &unverified, &mut out, damage).unwrap();
        assert_eq!(codec, CodecId::Bf16Alias);
    }

    #[test]
    fn bytes_that_do_not_shrink_are_stored() {
        // zstd output of the weights no longer compresses.
        let mut z = Vec::new();
        CodecId::Zstd.encode(weights(), Level::Max, &mut z).unwrap();
        let mut out = Vec::new();
        let codec = select(&z, &ChunkPlan::passthrough(Level::Fast, true), &mut out).unwrap();
        assert_eq!(codec, CodecId::Store);
        assert_eq!(out, z);
    }
}
