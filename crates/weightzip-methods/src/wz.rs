//! weightzip's own codecs and container as methods (class `weightzip`).
//!
//! Every [`CodecId`] in [`ALL_CODECS`] except `store` and `zstd` (the
//! container's passthrough and fallback) is a method named by
//! [`CodecId::name`]: compress = `CodecId::encode(item, Level::Max)`,
//! decompress = `CodecId::decode` into `original_len` bytes. A codec applies
//! to a corpus when the codec table (`weightzip_codec::CODECS`) says it
//! codes the corpus's tensor type — so codecs others add appear here on
//! their own.
//!
//! `wz_gguf` is the whole `.wz` container on one GGUF file:
//! `weightzip::compress_bytes` with `Level::Max` and one thread, and
//! `weightzip::decompress_bytes_with` on one thread (xxh3 checksums on every
//! chunk and file).

use weightzip_codec::{CodecId, Level, ALL_CODECS};
use weightzip_format::{Dtype, GgmlType, TensorType};

use crate::error::{backend, Context, MethodError};
use crate::{Corpus, Method, MethodClass, Profile, Result};

/// The tensor type that stands for `corpus` in the codec table.
pub(crate) fn corpus_type(corpus: Corpus) -> Option<TensorType> {
    match corpus {
        Corpus::Bf16Tensor => Some(TensorType::St(Dtype::BF16)),
        Corpus::Fp16Tensor => Some(TensorType::St(Dtype::F16)),
        Corpus::Fp32Tensor => Some(TensorType::St(Dtype::F32)),
        Corpus::Q4kStream => Some(TensorType::Ggml(GgmlType::Q4_K)),
        Corpus::GgufFile => None,
    }
}

/// Whether codec `id` applies to `corpus`: the codec table says it codes
/// the corpus's tensor type ([`CodecId::codes`]).
pub fn codec_applies(id: CodecId, corpus: Corpus) -> bool {
    corpus_type(corpus).is_some_and(|ty| id.codes(ty))
}

/// One weightzip codec as a method.
#[derive(Clone, Copy, Debug)]
pub struct WzCodec {
    id: CodecId,
}

impl Method for WzCodec {
    fn name(&self) -> &'static str {
        self.id.name()
    }

    fn class(&self) -> MethodClass {
        MethodClass::Weightzip
    }

    fn applies_to(&self, corpus: Corpus) -> bool {
        codec_applies(self.id, corpus)
    }

    fn compress(&self, input: &[u8], _profile: Option<&Profile>) -> Result<Vec<u8>> {
        let mut out = Vec::with_capacity(input.len() / 2 + 64);
        self.id
            .encode(input, Level::Max, &mut out)
            .in_method(self.id.name())?;
        Ok(out)
    }

    fn decompress(
        &self,
        compressed: &[u8],
        original_len: usize,
        _profile: Option<&Profile>,
    ) -> Result<Vec<u8>> {
        let mut out = vec![0u8; original_len];
        self.id
            .decode(compressed, &mut out)
            .in_method(self.id.name())?;
        Ok(out)
    }
}

/// `wz_gguf`: the `.wz` container on a whole GGUF file (module docs).
#[derive(Clone, Copy, Debug, Default)]
pub struct WzGguf;

const WZ_GGUF: &str = "wz_gguf";

impl Method for WzGguf {
    fn name(&self) -> &'static str {
        WZ_GGUF
    }

    fn class(&self) -> MethodClass {
        MethodClass::Weightzip
    }

    fn applies_to(&self, corpus: Corpus) -> bool {
        corpus == Corpus::GgufFile
    }

    fn compress(&self, input: &[u8], _profile: Option<&Profile>) -> Result<Vec<u8>> {
        let opts = weightzip::CompressOptions {
            level: Level::Max,
            threads: 1,
            ..Default::default()
        };
        weightzip::compress_bytes(input, &opts).map_err(|e| backend(WZ_GGUF, e))
    }

    fn decompress(
        &self,
        compressed: &[u8],
        original_len: usize,
        _profile: Option<&Profile>,
    ) -> Result<Vec<u8>> {
        let one_thread = weightzip::ExtractOptions {
            threads: 1,
            ..Default::default()
        };
        let out = weightzip::decompress_bytes_with(compressed, &one_thread)
            .map_err(|e| backend(WZ_GGUF, e))?;
        if out.len() != original_len {
            return Err(MethodError::LengthMismatch {
                method: WZ_GGUF,
                expected: original_len,
                found: out.len(),
            });
        }
        Ok(out)
    }
}

/// Every weightzip codec method, then `wz_gguf`, `wz_default` and `wz_max`.
pub fn methods() -> Vec<Box<dyn Method>> {
    let mut v: Vec<Box<dyn Method>> = ALL_CODECS
        .iter()
        .copied()
        .filter(|id| !matches!(id, CodecId::Store | CodecId::Zstd))
        .map(|id| Box::new(WzCodec { id }) as Box<dyn Method>)
        .collect();
    v.push(Box::new(WzGguf));
    v.extend(
        crate::wz_tensor::WZ_TENSOR
            .iter()
            .map(|&m| Box::new(m) as Box<dyn Method>),
    );
    v
}
