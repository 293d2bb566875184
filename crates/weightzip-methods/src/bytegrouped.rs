//! Byte-grouped methods: the bytes of each element regrouped by position
//! (byte planes) before coding.

use crate::backend::Backend;
use crate::error::MethodError;
use crate::util::{decode_plane_stream, encode_plane_stream, merge_planes, split_planes, Reader};
use crate::{Corpus, Method, MethodClass, Profile, Result};

/// `zstd19_bytegrouped`: byte planes, then one zstd-19 frame.
///
/// The item's whole `W`-byte elements (W = 2 for bf16 and fp16, 4 for fp32)
/// are split into W planes — plane j holds byte j (little-endian position)
/// of every element — and the concatenation `plane 0 ‖ plane 1 ‖ … ‖ tail`
/// (tail: the < W bytes that do not fill an element) is compressed as one
/// zstd frame at level 19. The element width comes from the corpus the
/// method is bound to (`methods_for` / `method_for`); unbound it is 2.
#[derive(Clone, Copy, Debug)]
pub struct Zstd19ByteGrouped {
    width: usize,
}

impl Zstd19ByteGrouped {
    /// The method bound to `corpus` (width 4 for fp32, else 2).
    pub fn for_corpus(corpus: Option<Corpus>) -> Self {
        Self {
            width: corpus.and_then(Corpus::element_bytes).unwrap_or(2),
        }
    }
}

const ZSTD19_BG: &str = "zstd19_bytegrouped";

impl Method for Zstd19ByteGrouped {
    fn name(&self) -> &'static str {
        ZSTD19_BG
    }

    fn class(&self) -> MethodClass {
        MethodClass::ByteGrouped
    }

    fn applies_to(&self, corpus: Corpus) -> bool {
        corpus.is_float_tensor()
    }

    fn compress(&self, input: &[u8], _profile: Option<&Profile>) -> Result<Vec<u8>> {
        let (planes, tail) = split_planes(input, self.width);
        let mut grouped = Vec::with_capacity(input.len());
        for p in &planes {
            grouped.extend_from_slice(p);
        }
        grouped.extend_from_slice(tail);
        Backend::Zstd(19).compress(ZSTD19_BG, &grouped)
    }

    fn decompress(
        &self,
        compressed: &[u8],
        original_len: usize,
        _profile: Option<&Profile>,
    ) -> Result<Vec<u8>> {
        let grouped = Backend::Zstd(19).decompress(ZSTD19_BG, compressed, original_len)?;
        let n = original_len / self.width;
        let planes: Vec<&[u8]> = (0..self.width)
            .map(|j| &grouped[j * n..(j + 1) * n])
            .collect();
        let mut out = Vec::with_capacity(original_len);
        merge_planes(&planes, &grouped[n * self.width..], &mut out);
        Ok(out)
    }
}

/// `bf16_split`: the coder class of the study's Prop. 1 — one static
/// order-0 model per byte plane, tables inline.
///
/// The item's 16-bit elements are split into plane 0 (the low byte: for
/// bf16 the exponent's least significant bit and the 7 mantissa bits) and
/// plane 1 (the high byte: for bf16 the sign and the 7 high exponent bits).
/// Each plane is one self-describing weightzip_entropy stream: rANS
/// (32 interleaved lanes) with its frequency table inline, at the precision
/// in 12..=15 bits whose table + coded symbols is smallest (exact cost from
/// the quantised table); a plane that would not shrink is stored raw, a
/// constant plane as one symbol. Layout: `tail` (0 or 1 byte: the odd last
/// byte), stream of plane 0, stream of plane 1. Its ratio sits within 1 %
/// of R_marginal = 16 / (H_byte0 + H_byte1) on every tensor of ≥ 300 KB.
///
/// The same scheme applies unchanged to fp16 (plane 1 = sign, 5 exponent
/// bits, 2 mantissa bits), under the same name.
#[derive(Clone, Copy, Debug, Default)]
pub struct Bf16Split;

const BF16_SPLIT: &str = "bf16_split";

impl Method for Bf16Split {
    fn name(&self) -> &'static str {
        BF16_SPLIT
    }

    /// Format-aware, as in the study's figure notebook (`METHOD_CLASS`).
    fn class(&self) -> MethodClass {
        MethodClass::FormatAware
    }

    fn applies_to(&self, corpus: Corpus) -> bool {
        matches!(corpus, Corpus::Bf16Tensor | Corpus::Fp16Tensor)
    }

    fn compress(&self, input: &[u8], _profile: Option<&Profile>) -> Result<Vec<u8>> {
        let (planes, tail) = split_planes(input, 2);
        let mut out = Vec::with_capacity(input.len() * 3 / 4 + 1024);
        out.extend_from_slice(tail);
        for p in &planes {
            encode_plane_stream(BF16_SPLIT, p, &mut out)?;
        }
        Ok(out)
    }

    fn decompress(
        &self,
        compressed: &[u8],
        original_len: usize,
        _profile: Option<&Profile>,
    ) -> Result<Vec<u8>> {
        let n = original_len / 2;
        let mut r = Reader::new(BF16_SPLIT, compressed);
        let tail = r.bytes(original_len % 2, "tail")?;
        let p0 = decode_plane_stream(BF16_SPLIT, &mut r, n)?;
        let p1 = decode_plane_stream(BF16_SPLIT, &mut r, n)?;
        r.finish()?;
        let mut out = Vec::with_capacity(original_len);
        merge_planes(&[&p0, &p1], tail, &mut out);
        if out.len() != original_len {
            return Err(MethodError::LengthMismatch {
                method: BF16_SPLIT,
                expected: original_len,
                found: out.len(),
            });
        }
        Ok(out)
    }
}

/// The byte-grouped methods, bound to `corpus` where it matters.
pub fn methods(corpus: Option<Corpus>) -> Vec<Box<dyn Method>> {
    vec![
        Box::new(Zstd19ByteGrouped::for_corpus(corpus)),
        Box::new(Bf16Split),
    ]
}
