//! `wz_q8_0`: Q8_0 blocks (34 bytes: f16 `d`, 32 int8 quants).
//!
//! The quants are byte symbols already: one order-0 table per chunk
//! ([`cstream`] in direct mode, one context). Their entropy on real files is
//! 7.45–7.69 bits (the quantiser maps each block's largest magnitude to
//! ±127, so the values spread over the whole byte range), which bounds this
//! field near 1.04×; `d` (≈ 10.8 of 16 bits) adds the rest.
//!
//! Layout after the common header: `d` (f16 planes), the quants (cstream,
//! `32 n` symbols, block order).

use weightzip_entropy::multi::{Contexts, Placement};

use super::{cstream, decode_f16_field, encode_f16_field, encode_field, write_header, Reader};
use crate::error::Result;

const NAME: &str = "wz_q8_0";
/// Bytes per block.
pub const BLOCK: usize = 34;
const QS: usize = 32;

const OPTS: cstream::Options = cstream::Options {
    direct: true,
    product: false,
    bits: &[12],
};

/// Appends the encoding of `data` (Q8_0 blocks, any length).
pub fn encode(data: &[u8], out: &mut Vec<u8>) -> Result<()> {
    let blocks = write_header(data, BLOCK, out);
    let n = blocks.len() / BLOCK;
    encode_f16_field(NAME, ["d.hi", "d.lo"], blocks, BLOCK, 0, out)?;
    let mut qs = Vec::with_capacity(n * QS);
    for b in blocks.chunks_exact(BLOCK) {
        qs.extend_from_slice(&b[2..]);
    }
    encode_field(NAME, "quants", 8, &qs, Contexts::constant(), 1, OPTS, out)
}

/// Decodes one encoding into `out`.
pub fn decode(input: &[u8], out: &mut [u8]) -> Result<()> {
    let mut r = Reader::new(NAME, input);
    let (n, tail) = r.header(BLOCK, out.len())?;
    let d = decode_f16_field(&mut r, n)?;
    // The quants land in place.
    let place = Placement {
        run: QS,
        stride: BLOCK,
        offset: 2,
    };
    cstream::decode_placed(&mut r, n * QS, Contexts::constant(), 1, out, place)?;
    r.finish()?;
    for (o, &d) in out.chunks_exact_mut(BLOCK).zip(&d) {
        o[..2].copy_from_slice(&d.to_le_bytes());
    }
    out[n * BLOCK..].copy_from_slice(tail);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::test_util::{check, noise};
    use super::*;

    #[test]
    fn any_bytes_round_trip() {
        for len in [0, 1, 33, 34, 35, 34 * 100 + 7, 34 * 1000] {
            check(encode, decode, &noise(len, len as u64));
        }
    }
}
