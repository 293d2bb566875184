//! `wz_default` and `wz_max`: one tensor coded exactly as `weightzip
//! compress` codes it inside an archive (`--level fast` and `--level max`):
//! the container's chunk size, the tensor's shape, and every choice of
//! `weightzip_codec::select` (codec per tensor type, small-tensor zstd retry,
//! verify-and-fallback, store). The lab's numbers for these methods are the
//! product's numbers; a test checks the chunk payloads against an archive's.
//!
//! Layout: per chunk, in order, the codec id (u8), the chunk's raw length
//! and its payload length (varints), then the payload — the bytes an archive
//! stores for that chunk, plus the few bytes its index spends on the chunk.

use weightzip_codec::select::{plan_tensor, select};
use weightzip_codec::{CodecId, Level};
use weightzip_entropy::{write_varint, ByteReader};
use weightzip_format::{Dtype, TensorType};

use crate::error::{corrupt, Context};
use crate::wz::corpus_type;
use crate::{Corpus, Method, MethodClass, Profile, Result};

/// The product's coding of one tensor at one level.
#[derive(Clone, Copy, Debug)]
pub struct WzTensor {
    name: &'static str,
    level: Level,
}

/// `wz_default` (`--level fast`, what `weightzip compress` does by default)
/// and `wz_max` (`--level max`).
pub const WZ_TENSOR: [WzTensor; 2] = [
    WzTensor {
        name: "wz_default",
        level: Level::Fast,
    },
    WzTensor {
        name: "wz_max",
        level: Level::Max,
    },
];

impl WzTensor {
    fn code(&self, input: &[u8], ty: TensorType, shape: &[u64]) -> Result<Vec<u8>> {
        let len = input.len() as u64;
        let chunk = weightzip::CompressOptions::default().chunk_size as u64;
        let plan = plan_tensor(ty, shape, len, chunk, self.level);
        let mut out = Vec::with_capacity(input.len() / 2 + 64);
        let mut payload = Vec::new();
        for r in plan.chunks(len) {
            let raw = &input[r.start as usize..r.end as usize];
            payload.clear();
            let codec = select(raw, &plan.chunk(true), &mut payload).in_method(self.name)?;
            out.push(codec as u8);
            write_varint(&mut out, raw.len() as u64);
            write_varint(&mut out, payload.len() as u64);
            out.extend_from_slice(&payload);
        }
        Ok(out)
    }
}

impl Method for WzTensor {
    fn name(&self) -> &'static str {
        self.name
    }

    fn class(&self) -> MethodClass {
        MethodClass::Weightzip
    }

    fn applies_to(&self, corpus: Corpus) -> bool {
        corpus_type(corpus).is_some()
    }

    /// Without the item's corpus and shape the bytes are coded as a u8
    /// tensor; the bench passes both through [`Method::compress_item`].
    fn compress(&self, input: &[u8], _profile: Option<&Profile>) -> Result<Vec<u8>> {
        self.code(input, TensorType::St(Dtype::U8), &[input.len() as u64])
    }

    fn compress_item(
        &self,
        input: &[u8],
        corpus: Corpus,
        shape: &[u64],
        profile: Option<&Profile>,
    ) -> Result<Vec<u8>> {
        match corpus_type(corpus) {
            Some(ty) => self.code(input, ty, shape),
            None => self.compress(input, profile),
        }
    }

    fn decompress(
        &self,
        compressed: &[u8],
        original_len: usize,
        _profile: Option<&Profile>,
    ) -> Result<Vec<u8>> {
        let mut out = vec![0u8; original_len];
        let mut r = ByteReader::new(compressed);
        let mut at = 0usize;
        while r.remaining() > 0 {
            let chunk_at = r.pos();
            let id = r.u8("codec id").in_method(self.name)?;
            let codec = CodecId::from_u8(id)
                .ok_or_else(|| corrupt(self.name, chunk_at, format!("unknown codec id {id}")))?;
            let raw_len = r
                .len(original_len - at, "chunk length")
                .in_method(self.name)?;
            let payload = r.prefixed("chunk payload").in_method(self.name)?;
            if raw_len == 0 {
                return Err(corrupt(self.name, chunk_at, "empty chunk"));
            }
            codec
                .decode(payload, &mut out[at..at + raw_len])
                .in_method(self.name)?;
            at += raw_len;
        }
        if at != original_len {
            return Err(corrupt(
                self.name,
                compressed.len(),
                format!("chunks hold {at} of {original_len} bytes"),
            ));
        }
        Ok(out)
    }
}
