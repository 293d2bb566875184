//! `wz_fp16`: fp16 as byte planes. The high byte (sign, 5 exponent bits, 2
//! top mantissa bits) carries the redundancy; the low byte is mantissa.

use super::*;
const NAME: &str = "wz_fp16";

/// Appends the encoding of `data` (little-endian fp16 values).
pub fn encode(data: &[u8], out: &mut Vec<u8>) -> Result<()> {
    encode_planes::<2, 2>(NAME, data, out, |e| [e[1], e[0]])
}

/// Decodes one encoding into `out`.
pub fn decode(input: &[u8], out: &mut [u8]) -> Result<()> {
    let n = out.len() / 2;
    let (body, rest) = out.split_at_mut(n * 2);
    let tail = decode_planes::<2, 2>(NAME, input, n * 2 + rest.len(), |at, [hi, lo]| {
        let o = &mut body[at * 2..(at + hi.len()) * 2];
        for ((o, &h), &l) in o.chunks_exact_mut(2).zip(hi).zip(lo) {
            o.copy_from_slice(&[l, h]);
        }
    })?;
    rest.copy_from_slice(tail);
    Ok(())
}
