//! The 32-weight block types: `wz_q4_0`, `wz_q4_1`, `wz_q5_0`, `wz_q5_1`.
//!
//! A block is f16 `d`, for the `_1` types an f16 `m` (x = d * q + m), for
//! the 5-bit types `qh` (u32: bit `j` is bit 4 of quant `j`), and `qs[16]`
//! (quant `j` in the low nibble of byte `j`, quant `j + 16` in the high
//! nibble).
//!
//! - `d`, `m`: f16 planes;
//! - 4-bit types: a symbol is the byte `qs[j]` itself (quants `j` and
//!   `j + 16`), coded with the product of a 16-symbol table with itself;
//! - 5-bit types: a symbol is the top 4 bits of quants `j` and `j + 16`;
//!   the low bit of every quant is stored raw (4 bytes per block, the bit
//!   layout of `qh`);
//! - context: for `_0` types one table (the quants of a symmetric block
//!   centre on 8 or 16); for `_1` types the block's zero point `-m / d`,
//!   rounded to `0..=15` (in units of 2 quants for Q5_1).
//!
//! Stream order after the common header: `d`, `m` (if any), symbols, low
//! bits (5-bit types, raw `4 n` bytes).

use weightzip_entropy::ctx_rans::{Contexts, Placement};

use super::{
    cstream, decode_f16_field, encode_f16_field, encode_field, f16_to_f32, raw_field, write_header,
    zero_point, Reader,
};
use crate::error::Result;

/// 11-bit tables when a stream has several contexts (the decoder's gathers
/// stay in cache), 12 bits for one.
const OPTS: cstream::Options = cstream::Options {
    direct: true,
    product: true,
    bits: &[11],
};
const OPTS_ONE: cstream::Options = cstream::Options {
    direct: true,
    product: true,
    bits: &[12],
};
const CTX: usize = 16;

/// Where the fields of one block type are.
#[derive(Clone, Copy)]
struct Layout {
    name: &'static str,
    block: usize,
    /// Has the f16 `m` at byte 2.
    m: bool,
    /// Has `qh` (4 bytes) before `qs`.
    qh: bool,
}

impl Layout {
    fn qh_off(self) -> usize {
        if self.m {
            4
        } else {
            2
        }
    }

    fn qs_off(self) -> usize {
        self.qh_off() + if self.qh { 4 } else { 0 }
    }

    /// One context per block (the context of its 16 symbols).
    fn contexts(self, d: &[u16], m: &[u16]) -> Vec<u8> {
        if !self.m {
            return vec![0; d.len()];
        }
        let unit = if self.qh { 2.0 } else { 1.0 };
        d.iter()
            .zip(m)
            .map(|(&d, &m)| zero_point(-f16_to_f32(m), f16_to_f32(d) * unit, 15))
            .collect()
    }

    fn encode(self, data: &[u8], out: &mut Vec<u8>) -> Result<()> {
        let blocks = write_header(data, self.block, out);
        let n = blocks.len() / self.block;
        encode_f16_field(self.name, ["d.hi", "d.lo"], blocks, self.block, 0, out)?;
        if self.m {
            encode_f16_field(self.name, ["m.hi", "m.lo"], blocks, self.block, 2, out)?;
        }
        let f16_at = |b: &[u8], o: usize| u16::from_le_bytes([b[o], b[o + 1]]);
        let d: Vec<u16> = blocks
            .chunks_exact(self.block)
            .map(|b| f16_at(b, 0))
            .collect();
        let m: Vec<u16> = if self.m {
            blocks
                .chunks_exact(self.block)
                .map(|b| f16_at(b, 2))
                .collect()
        } else {
            Vec::new()
        };
        let (qh_off, qs_off) = (self.qh_off(), self.qs_off());
        let mut sym = Vec::with_capacity(16 * n);
        let mut low = Vec::with_capacity(if self.qh { 4 * n } else { 0 });
        for b in blocks.chunks_exact(self.block) {
            let qs = &b[qs_off..qs_off + 16];
            if self.qh {
                let qh = u32::from_le_bytes(b[qh_off..qh_off + 4].try_into().expect("4 bytes"));
                let mut lsb = 0u32;
                for (j, &q) in qs.iter().enumerate() {
                    let a = u32::from(q & 15) | ((qh >> j) & 1) << 4;
                    let c = u32::from(q >> 4) | ((qh >> (j + 16)) & 1) << 4;
                    lsb |= (a & 1) << j | (c & 1) << (j + 16);
                    sym.push(((a >> 1) | (c >> 1) << 4) as u8);
                }
                low.extend_from_slice(&lsb.to_le_bytes());
            } else {
                sym.extend_from_slice(qs);
            }
        }
        let ctx = self.contexts(&d, &m);
        let opts = if self.m { OPTS } else { OPTS_ONE };
        let field = match (self.m, self.qh) {
            (false, false) => "nibble pairs",
            (true, false) => "nibble pairs | zero point",
            (false, true) => "top-4 pairs",
            (true, true) => "top-4 pairs | zero point",
        };
        let ctx = Contexts::runs(&ctx, 4);
        encode_field(self.name, field, 8, &sym, ctx, CTX, opts, out)?;
        if self.qh {
            raw_field("low bits", &low, out);
        }
        Ok(())
    }

    fn decode(self, input: &[u8], out: &mut [u8]) -> Result<()> {
        let mut r = Reader::new(self.name, input);
        let (n, tail) = r.header(self.block, out.len())?;
        let d = decode_f16_field(&mut r, n)?;
        let m = if self.m {
            Some(decode_f16_field(&mut r, n)?)
        } else {
            None
        };
        let (qh_off, qs_off) = (self.qh_off(), self.qs_off());
        // The symbols land in `qs` (they are `qs` for the 4-bit types).
        let place = Placement {
            run: 16,
            stride: self.block,
            offset: qs_off,
        };
        let ctx = match &m {
            Some(m) => self.contexts(&d.values(), &m.values()),
            None => vec![0; n],
        };
        cstream::decode_placed(&mut r, 16 * n, Contexts::runs(&ctx, 4), CTX, out, place)?;
        let low = if self.qh {
            r.bytes(4 * n, "low bits")?
        } else {
            &[]
        };
        r.finish()?;
        for (i, o) in out.chunks_exact_mut(self.block).enumerate() {
            d.write(i, o);
            if let Some(m) = &m {
                m.write(i, &mut o[2..]);
            }
            if self.qh {
                let lsb = u32::from_le_bytes(low[4 * i..4 * i + 4].try_into().expect("4 bytes"));
                let mut qh = 0u32;
                for h in 0..2 {
                    // Symbol byte j: top 4 bits of quant j (low nibble) and
                    // of quant j + 16 (high nibble); 8 bytes at a time.
                    let at = qs_off + 8 * h;
                    let p = u64::from_le_bytes(o[at..at + 8].try_into().expect("8 bytes"));
                    let lo = spread8(lsb >> (8 * h));
                    let hi = spread8(lsb >> (16 + 8 * h));
                    let q = ((p & 0x7777_7777_7777_7777) << 1) | lo | (hi << 4);
                    o[at..at + 8].copy_from_slice(&q.to_le_bytes());
                    qh |= gather8(p >> 3) << (8 * h) | gather8(p >> 7) << (16 + 8 * h);
                }
                o[qh_off..qh_off + 4].copy_from_slice(&qh.to_le_bytes());
            }
        }
        out[n * self.block..].copy_from_slice(tail);
        Ok(())
    }
}

/// Bit `k` of the low byte of `b` to the low bit of byte `k`.
#[inline]
fn spread8(b: u32) -> u64 {
    let x = (u64::from(b & 0xff) * 0x0101_0101_0101_0101) & 0x8040_2010_0804_0201;
    ((x + 0x7f7f_7f7f_7f7f_7f7f) >> 7) & 0x0101_0101_0101_0101
}

/// The low bit of byte `k` of `x` to bit `k`.
#[inline]
fn gather8(x: u64) -> u32 {
    ((x & 0x0101_0101_0101_0101).wrapping_mul(0x0102_0408_1020_4080) >> 56) as u32
}

macro_rules! codec {
    ($modname:ident, $name:literal, $block:literal, $m:literal, $qh:literal, $doc:literal) => {
        #[doc = $doc]
        pub mod $modname {
            use super::*;
            const LAYOUT: Layout = Layout {
                name: $name,
                block: $block,
                m: $m,
                qh: $qh,
            };
            /// Bytes per block.
            pub const BLOCK: usize = $block;

            /// Appends the encoding of `data` (blocks of this type, any length).
            pub fn encode(data: &[u8], out: &mut Vec<u8>) -> Result<()> {
                LAYOUT.encode(data, out)
            }

            /// Decodes one encoding into `out`.
            pub fn decode(input: &[u8], out: &mut [u8]) -> Result<()> {
                LAYOUT.decode(input, out)
            }
        }
    };
}

codec!(
    q4_0,
    "wz_q4_0",
    18,
    false,
    false,
    "`wz_q4_0`: Q4_0 blocks (module docs)."
);
codec!(
    q4_1,
    "wz_q4_1",
    20,
    true,
    false,
    "`wz_q4_1`: Q4_1 blocks (module docs)."
);
codec!(
    q5_0,
    "wz_q5_0",
    22,
    false,
    true,
    "`wz_q5_0`: Q5_0 blocks (module docs)."
);
codec!(
    q5_1,
    "wz_q5_1",
    24,
    true,
    true,
    "`wz_q5_1`: Q5_1 blocks (module docs)."
);

#[cfg(test)]
mod tests {
    use super::super::test_util::{check, noise};
    use super::*;

    #[test]
    fn bit_spreading_is_exact() {
        for b in 0..256u32 {
            let s = spread8(b);
            for k in 0..8 {
                assert_eq!((s >> (8 * k)) & 0xff, u64::from((b >> k) & 1));
            }
            assert_eq!(gather8(s), b);
            assert_eq!(gather8(s | 0xfefe_fefe_fefe_fefe), b);
        }
    }

    #[test]
    fn any_bytes_round_trip() {
        type Pair = (
            fn(&[u8], &mut Vec<u8>) -> Result<()>,
            fn(&[u8], &mut [u8]) -> Result<()>,
            usize,
        );
        let codecs: [Pair; 4] = [
            (q4_0::encode, q4_0::decode, q4_0::BLOCK),
            (q4_1::encode, q4_1::decode, q4_1::BLOCK),
            (q5_0::encode, q5_0::decode, q5_0::BLOCK),
            (q5_1::encode, q5_1::decode, q5_1::BLOCK),
        ];
        for (enc, dec, block) in codecs {
            for len in [
                0,
                1,
                block - 1,
                block,
                block + 1,
                3 * block,
                700 * block + 5,
            ] {
                check(enc, dec, &noise(len, len as u64 + block as u64));
            }
        }
    }
}
