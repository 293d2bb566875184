//! `wz_bf16`: bf16 split into the 8 exponent bits and sign + 7 mantissa
//! bits. The exponent carries nearly all the redundancy (≈ 2.6 bits of 8);
//! sign + mantissa is near-uniform and is usually stored raw.

use super::*;
const NAME: &str = "wz_bf16";

/// Appends the encoding of `data` (little-endian bf16 values).
pub fn encode(data: &[u8], out: &mut Vec<u8>) -> Result<()> {
    encode_planes::<2, 2>(NAME, data, out, split)
}

/// One value to its exponent and sign + mantissa symbols.
#[inline(always)]
pub(super) fn split(e: &[u8; 2]) -> [u8; 2] {
    let v = u16::from_le_bytes(*e);
    [(v >> 7) as u8, ((v >> 8) as u8 & 0x80) | (v as u8 & 0x7f)]
}

/// Interleaves exponent and sign + mantissa symbols into values.
pub(super) fn merge(exp: &[u8], sm: &[u8], out: &mut [u8]) {
    for ((o, &e), &s) in out.chunks_exact_mut(2).zip(exp).zip(sm) {
        let v = (u16::from(s & 0x80) << 8) | (u16::from(e) << 7) | u16::from(s & 0x7f);
        o.copy_from_slice(&v.to_le_bytes());
    }
}

/// Decodes one encoding into `out`.
pub fn decode(input: &[u8], out: &mut [u8]) -> Result<()> {
    let n = out.len() / 2;
    let (body, rest) = out.split_at_mut(n * 2);
    let tail = decode_planes::<2, 2>(NAME, input, n * 2 + rest.len(), |at, [exp, sm]| {
        merge(exp, sm, &mut body[at * 2..(at + exp.len()) * 2]);
    })?;
    rest.copy_from_slice(tail);
    Ok(())
}
