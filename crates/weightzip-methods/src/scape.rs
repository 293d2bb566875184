//! `scape_per_file`: the study's sign+exponent / mantissa symbol split with
//! per-file tables.

use crate::error::MethodError;
use crate::util::{decode_plane_stream, encode_plane_stream, Reader};
use crate::{Corpus, Method, MethodClass, Profile, Result};

/// `scape_per_file` (format-aware, untrained, bf16 only).
///
/// The study codes (sign, 8-bit exponent) as one 9-bit symbol and the
/// 7-bit mantissa apart. weightzip_entropy's alphabet has 256 symbols, so
/// here the split is: stream E = the 8 exponent bits of every value
/// (`(v >> 7) & 0xff`), stream M = sign and the 7 mantissa bits
/// (`(v >> 8) & 0x80 | v & 0x7f`), each coded order-0 with its own per-file
/// table inline, exactly as one [`crate::bytegrouped::Bf16Split`] plane
/// (rANS at the best precision in 12..=15 bits, raw or constant when
/// smaller). Layout: tail (0 or 1 byte), stream E, stream M. Moving the
/// sign from the exponent symbol to the mantissa symbol costs nothing when
/// the sign is independent of the exponent, which it is in trained weights.
#[derive(Clone, Copy, Debug, Default)]
pub struct ScapePerFile;

const NAME: &str = "scape_per_file";

impl Method for ScapePerFile {
    fn name(&self) -> &'static str {
        NAME
    }

    /// Trained-profile, as in the study's figure notebook (`METHOD_CLASS`),
    /// although its tables are per file and nothing is charged.
    fn class(&self) -> MethodClass {
        MethodClass::TrainedProfile
    }

    fn applies_to(&self, corpus: Corpus) -> bool {
        corpus == Corpus::Bf16Tensor
    }

    fn compress(&self, input: &[u8], _profile: Option<&Profile>) -> Result<Vec<u8>> {
        let n = input.len() / 2;
        let mut exp = Vec::with_capacity(n);
        let mut sm = Vec::with_capacity(n);
        for e in input[..n * 2].chunks_exact(2) {
            let v = u16::from_le_bytes([e[0], e[1]]);
            exp.push((v >> 7) as u8);
            sm.push(((v >> 8) as u8 & 0x80) | (v as u8 & 0x7f));
        }
        let mut out = Vec::with_capacity(input.len() * 3 / 4 + 1024);
        out.extend_from_slice(&input[n * 2..]);
        encode_plane_stream(NAME, &exp, &mut out)?;
        encode_plane_stream(NAME, &sm, &mut out)?;
        Ok(out)
    }

    fn decompress(
        &self,
        compressed: &[u8],
        original_len: usize,
        _profile: Option<&Profile>,
    ) -> Result<Vec<u8>> {
        let n = original_len / 2;
        let mut r = Reader::new(NAME, compressed);
        let tail = r.bytes(original_len % 2, "tail")?;
        let exp = decode_plane_stream(NAME, &mut r, n)?;
        let sm = decode_plane_stream(NAME, &mut r, n)?;
        r.finish()?;
        let mut out = Vec::with_capacity(original_len);
        for (&e, &s) in exp.iter().zip(&sm) {
            let v = (u16::from(s & 0x80) << 8) | (u16::from(e) << 7) | u16::from(s & 0x7f);
            out.extend_from_slice(&v.to_le_bytes());
        }
        out.extend_from_slice(tail);
        if out.len() != original_len {
            return Err(MethodError::LengthMismatch {
                method: NAME,
                expected: original_len,
                found: out.len(),
            });
        }
        Ok(out)
    }
}

/// The `scape_per_file` method.
pub fn methods() -> Vec<Box<dyn Method>> {
    vec![Box::new(ScapePerFile)]
}
