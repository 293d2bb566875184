//! `wz_fp32`: fp32 split into the exponent byte, sign + top 7 mantissa bits,
//! and the two low mantissa bytes (which are constant zero in checkpoints
//! widened from bf16, and then cost nothing).

use super::*;
const NAME: &str = "wz_fp32";

/// Appends the encoding of `data` (little-endian fp32 values).
pub fn encode(data: &[u8], out: &mut Vec<u8>) -> Result<()> {
    encode_planes::<4, 4>(NAME, data, out, |e| {
        let v = u32::from_le_bytes(*e);
        [
            (v >> 23) as u8,
            ((v >> 24) as u8 & 0x80) | ((v >> 16) as u8 & 0x7f),
            e[1],
            e[0],
        ]
    })
}

/// Decodes one encoding into `out`.
pub fn decode(input: &[u8], out: &mut [u8]) -> Result<()> {
    let n = out.len() / 4;
    let (body, rest) = out.split_at_mut(n * 4);
    let tail = decode_planes::<4, 4>(NAME, input, n * 4 + rest.len(), |at, [exp, sm, b1, b0]| {
        let o = &mut body[at * 4..(at + exp.len()) * 4];
        for ((((o, &e), &s), &b1), &b0) in o.chunks_exact_mut(4).zip(exp).zip(sm).zip(b1).zip(b0) {
            let (e, s) = (u32::from(e), u32::from(s));
            let v = ((s & 0x80) << 24)
                | (e << 23)
                | ((s & 0x7f) << 16)
                | (u32::from(b1) << 8)
                | u32::from(b0);
            o.copy_from_slice(&v.to_le_bytes());
        }
    })?;
    rest.copy_from_slice(tail);
    Ok(())
}
