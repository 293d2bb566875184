//! `wz_q8_0`: Q8_0 blocks (34 bytes: f16 `d`, 32 int8 quants).
//!
//! The quants are byte symbols already. Their order-0 entropy on real files
//! is 7.45–7.69 bits: llama.cpp sets `d = max|x| / 127`, so each block's
//! quants spread over the whole byte range and one of them is exactly ±127.
//! That one is the only structure an order-0 model misses: a per-block
//! **mark** says where the first ±127 quant is and its sign (one of 64
//! symbols, or 64 when there is none), and that quant is then coded with a
//! one-symbol table (0 bits), while the other 31 use a table in which ±127
//! has become rare. On MiniLM this saves ≈ 1.3 bits per block (0.5 %).
//!
//! Layout after the common header: `d` (f16 planes), the marks (cstream,
//! `n` symbols), the quants (cstream, `32 n` symbols in block order;
//! context 0, or 1 / 2 for a marked +127 / −127).

use weightzip_entropy::ctx_rans::{Contexts, Placement};

use super::{cstream, decode_f16_field, encode_f16_field, encode_field, write_header, Reader};
use crate::error::Result;

const NAME: &str = "wz_q8_0";
/// Bytes per block.
pub const BLOCK: usize = 34;
const QS: usize = 32;
/// The mark of a block without a ±127 quant.
const NO_MARK: u8 = 64;
/// +127 and −127 as stored bytes.
const POS_MAX: u8 = 0x7f;
const NEG_MAX: u8 = 0x81;

const OPTS: cstream::Options = cstream::Options {
    direct: true,
    product: false,
    bits: &[12],
};

/// The mark of one block's quants: `pos | neg << 5` of the first ±127.
#[inline]
fn mark(qs: &[u8]) -> u8 {
    qs.iter()
        .position(|&q| q == POS_MAX || q == NEG_MAX)
        .map_or(NO_MARK, |p| p as u8 | (u8::from(qs[p] == NEG_MAX) << 5))
}

/// Appends the encoding of `data` (Q8_0 blocks, any length).
pub fn encode(data: &[u8], out: &mut Vec<u8>) -> Result<()> {
    let blocks = write_header(data, BLOCK, out);
    let n = blocks.len() / BLOCK;
    encode_f16_field(NAME, ["d.hi", "d.lo"], blocks, BLOCK, 0, out)?;
    let mut qs = Vec::with_capacity(n * QS);
    let mut marks = Vec::with_capacity(n);
    for b in blocks.chunks_exact(BLOCK) {
        qs.extend_from_slice(&b[2..]);
        marks.push(mark(&b[2..]));
    }
    let one = Contexts::constant();
    encode_field(NAME, "±127 marks", 6, &marks, one, 1, OPTS, out)?;
    // Quant contexts: 1 (+127) or 2 (−127) at the marked position, else 0.
    let ctx = Contexts::marks(&marks);
    encode_field(NAME, "quants | mark", 8, &qs, ctx, 3, OPTS, out)
}

/// Decodes one encoding into `out`.
pub fn decode(input: &[u8], out: &mut [u8]) -> Result<()> {
    let mut r = Reader::new(NAME, input);
    let (n, tail) = r.header(BLOCK, out.len())?;
    let d = decode_f16_field(&mut r, n)?;
    let mut marks = vec![0u8; n];
    cstream::decode(&mut r, Contexts::constant(), 1, &mut marks)?;
    if marks.iter().any(|&m| m > NO_MARK) {
        return Err(r.corrupt("block mark above 64"));
    }
    // The quants land in place.
    let place = Placement {
        run: QS,
        stride: BLOCK,
        offset: 2,
    };
    cstream::decode_placed(&mut r, n * QS, Contexts::marks(&marks), 3, out, place)?;
    r.finish()?;
    for (i, o) in out.chunks_exact_mut(BLOCK).enumerate() {
        d.write(i, o);
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
        // Every block with a ±127, some with several, some with -128.
        let mut data = noise(34 * 500, 5);
        for (i, b) in data.chunks_exact_mut(34).enumerate() {
            b[2 + i % 32] = if i % 3 == 0 { NEG_MAX } else { POS_MAX };
            if i % 7 == 0 {
                b[2 + (i + 5) % 32] = POS_MAX;
            }
            if i % 11 == 0 {
                b[2 + (i + 9) % 32] = 0x80;
            }
        }
        check(encode, decode, &data);
    }

    #[test]
    fn blocks_with_only_one_sign_of_extreme_round_trip() {
        // Marks of +127 only (context 2 never occurs), then −127 only
        // (context 1 never occurs): found by fuzzing codec_roundtrip.
        for extreme in [POS_MAX, NEG_MAX] {
            for blocks in [1usize, 2, 40, 300] {
                let mut data = vec![0xc2u8; 34 * blocks];
                for (i, b) in data.chunks_exact_mut(34).enumerate() {
                    b[2 + i % 32] = extreme;
                }
                check(encode, decode, &data);
            }
        }
    }

    #[test]
    fn marks_name_the_first_extreme() {
        let mut q = [0u8; 32];
        assert_eq!(mark(&q), NO_MARK);
        q[9] = NEG_MAX;
        q[20] = POS_MAX;
        assert_eq!(mark(&q), 9 | 32);
        q[3] = POS_MAX;
        assert_eq!(mark(&q), 3);
        let marks = [3, 9 | 32, NO_MARK];
        let ctx = Contexts::marks(&marks);
        assert_eq!((ctx.get(3), ctx.get(32 + 9), ctx.get(32 + 3)), (1, 2, 0));
        assert!((64..96).all(|i| ctx.get(i) == 0));
    }
}
