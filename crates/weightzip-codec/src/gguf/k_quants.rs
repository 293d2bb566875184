//! The k-quants with 256-weight super-blocks: `wz_q4k`, `wz_q5k`, `wz_q6k`.
//!
//! **Q4_K** (144 bytes: f16 `d`, f16 `dmin`, 12 bytes packing eight 6-bit
//! sub-block scales and eight 6-bit mins, 128 bytes of nibbles; weight
//! `x = d * sc * q - dmin * mn` for the 32 weights of a sub-block):
//! - `d`, `dmin`: f16 planes;
//! - the 12 packed bytes are unpacked (a bijection: all 96 bits are used)
//!   into the 8 scales and the 8 mins; scales are coded with one table,
//!   mins with a table picked by `sc >> 3` (min and scale of a sub-block
//!   are correlated);
//! - the nibbles: each sub-block's 32 quants are spread around its *zero
//!   point* `dmin * mn / (d * sc)` (the quant of x = 0), so the zero point,
//!   rounded to `0..=15`, is the context of the sub-block's symbols. Each
//!   symbol is two nibbles of one sub-block (elements `l` and `l + 16`),
//!   coded with the product of that context's 16-symbol table with itself.
//!
//! **Q5_K** (176 bytes: `d`, `dmin`, scales as Q4_K, `qh[32]`, `qs[128]`):
//! the 5-bit quants are rebuilt; a symbol is the top 4 bits of elements `l`
//! and `l + 16` of a sub-block (context: the zero point in units of 2
//! quants), the 32 low bits of each sub-block are stored raw.
//!
//! **Q6_K** (210 bytes: `ql[128]`, `qh[64]`, sixteen int8 scales, f16 `d`):
//! the 6-bit quants are rebuilt; a symbol is the top 4 bits of elements `e`
//! and `e + 8` of a 16-weight sub-block (context: the sub-block scale's sign
//! and magnitude class), the 2 low bits of each quant are stored raw; the
//! scales are one stream of byte symbols.
//!
//! Stream order after the common header — Q4_K: `d`, `dmin`, scales, mins,
//! nibble pairs. Q5_K: `d`, `dmin`, scales, mins, pairs, low bits (raw,
//! `32 n` bytes). Q6_K: `d`, scales, pairs, low bits (raw, `64 n` bytes).

use weightzip_format::ggml::{pack_q4k_scales, unpack_q4k_scales};

use weightzip_entropy::ctx_rans::{Contexts, Placement};

use super::{
    cstream, decode_f16_field, encode_f16_field, encode_field, f16_to_f32, raw_field,
    round_context, write_header, Reader,
};
use crate::error::Result;

/// Pair streams have up to 16 contexts: 11-bit tables (8 KiB each) keep
/// the decoder's gathers in cache (≈ 10 % faster than 12 bits for a loss of
/// 0.04 % in ratio on Q4_K).
const PAIRS: cstream::Options = cstream::Options {
    direct: true,
    product: true,
    bits: &[11],
};
const SCALES: cstream::Options = cstream::Options {
    direct: true,
    product: false,
    bits: &[12],
};
const MINS: cstream::Options = cstream::Options {
    direct: true,
    product: false,
    bits: &[11],
};
/// Contexts of the quant pairs.
const PAIR_CTX: usize = 16;
/// Contexts of the mins (scale >> 3).
const MIN_CTX: usize = 8;

/// Per-block scales and mins of Q4_K / Q5_K (bytes 4..16), unpacked into
/// `8 n` scales and `8 n` mins.
fn unpack_all(blocks: &[u8], block: usize) -> (Vec<u8>, Vec<u8>) {
    let n = blocks.len() / block;
    let mut sc = Vec::with_capacity(8 * n);
    let mut mn = Vec::with_capacity(8 * n);
    for b in blocks.chunks_exact(block) {
        let packed: &[u8; 12] = b[4..16].try_into().expect("12 bytes");
        let (s, m) = unpack_q4k_scales(packed);
        sc.extend_from_slice(&s);
        mn.extend_from_slice(&m);
    }
    (sc, mn)
}

fn min_contexts(sc: &[u8]) -> Vec<u8> {
    sc.iter().map(|&s| s >> 3).collect()
}

/// The context of every pair symbol: its sub-block's zero point
/// `dmin * mn / (d * sc)` in units of `unit` quants, computed as
/// `(dmin / (d * unit)) * (mn / sc)` in f32, as a context in `0..=15`
/// ([`round_context`]), one per sub-block (the context of its 16 symbols).
/// Written as two flat loops so that both vectorise.
fn pair_contexts(d: &[u16], dmin: &[u16], sc: &[u8], mn: &[u8], unit: f32) -> Vec<u8> {
    let ratio: Vec<f32> = d
        .iter()
        .zip(dmin)
        .map(|(&d, &dm)| f16_to_f32(dm) / (f16_to_f32(d) * unit))
        .collect();
    let mut z = vec![0u8; sc.len()];
    for (((z, s), m), &r) in z
        .chunks_exact_mut(8)
        .zip(sc.chunks_exact(8))
        .zip(mn.chunks_exact(8))
        .zip(&ratio)
    {
        for j in 0..8 {
            z[j] = round_context(r * (f32::from(m[j]) / f32::from(s[j])), 15);
        }
    }
    z
}

/// Codes the header fields shared by Q4_K and Q5_K; returns the pair
/// contexts (see [`pair_contexts`]).
fn encode_k_header(
    codec: &'static str,
    blocks: &[u8],
    block: usize,
    unit: f32,
    out: &mut Vec<u8>,
) -> Result<Vec<u8>> {
    encode_f16_field(codec, ["d.hi", "d.lo"], blocks, block, 0, out)?;
    encode_f16_field(codec, ["dmin.hi", "dmin.lo"], blocks, block, 2, out)?;
    let (sc, mn) = unpack_all(blocks, block);
    encode_field(
        codec,
        "scales",
        6,
        &sc,
        Contexts::constant(),
        1,
        SCALES,
        out,
    )?;
    let mctx = min_contexts(&sc);
    let mctx = Contexts::per_symbol(&mctx);
    encode_field(codec, "mins | scale", 6, &mn, mctx, MIN_CTX, MINS, out)?;
    let d: Vec<u16> = blocks
        .chunks_exact(block)
        .map(|b| u16::from_le_bytes([b[0], b[1]]))
        .collect();
    let dmin: Vec<u16> = blocks
        .chunks_exact(block)
        .map(|b| u16::from_le_bytes([b[2], b[3]]))
        .collect();
    Ok(pair_contexts(&d, &dmin, &sc, &mn, unit))
}

/// The decoded header fields of Q4_K / Q5_K.
struct KHeader {
    d: Vec<u16>,
    dmin: Vec<u16>,
    sc: Vec<u8>,
    mn: Vec<u8>,
}

impl KHeader {
    fn decode(r: &mut Reader<'_>, n: usize) -> Result<Self> {
        let d = decode_f16_field(r, n)?.values();
        let dmin = decode_f16_field(r, n)?.values();
        let mut sc = vec![0u8; 8 * n];
        cstream::decode(r, Contexts::constant(), 1, &mut sc)?;
        if sc.iter().fold(0, |m, &s| m | s) > 63 {
            return Err(r.corrupt("sub-block scale above 63"));
        }
        let mut mn = vec![0u8; 8 * n];
        let mctx = min_contexts(&sc);
        cstream::decode(r, Contexts::per_symbol(&mctx), MIN_CTX, &mut mn)?;
        if mn.iter().fold(0, |a, &m| a | m) > 63 {
            return Err(r.corrupt("sub-block min above 63"));
        }
        Ok(Self { d, dmin, sc, mn })
    }

    /// Writes bytes 0..16 of block `i`.
    #[inline]
    fn write(&self, i: usize, o: &mut [u8]) {
        o[0..2].copy_from_slice(&self.d[i].to_le_bytes());
        o[2..4].copy_from_slice(&self.dmin[i].to_le_bytes());
        let sc: &[u8; 8] = self.sc[8 * i..8 * i + 8].try_into().expect("8 scales");
        let mn: &[u8; 8] = self.mn[8 * i..8 * i + 8].try_into().expect("8 mins");
        o[4..16].copy_from_slice(&pack_q4k_scales(sc, mn));
    }
}

/// `wz_q4k`: Q4_K blocks (module docs).
pub mod q4k {
    use super::*;

    const NAME: &str = "wz_q4k";
    /// Bytes per block.
    pub const BLOCK: usize = 144;

    /// The 128 pair symbols of one block's 128 quant bytes: sub-block `s`
    /// (group `g = s / 2`, low nibbles for even `s`) gives 16 symbols, each
    /// `q[l] | q[l + 16] << 4` of its 32 quants.
    #[inline]
    pub(crate) fn split(qs: &[u8], sym: &mut [u8]) {
        for g in 0..4 {
            let q = &qs[32 * g..32 * g + 32];
            let (a, b) = sym[32 * g..32 * g + 32].split_at_mut(16);
            for l in 0..16 {
                a[l] = (q[l] & 15) | (q[l + 16] << 4);
                b[l] = (q[l] >> 4) | (q[l + 16] & 0xf0);
            }
        }
    }

    /// Inverse of [`split`].
    #[inline]
    pub(crate) fn join(sym: &[u8], qs: &mut [u8]) {
        for g in 0..4 {
            let s = &sym[32 * g..32 * g + 32];
            let q = &mut qs[32 * g..32 * g + 32];
            for l in 0..16 {
                q[l] = (s[l] & 15) | (s[l + 16] << 4);
                q[l + 16] = (s[l] >> 4) | (s[l + 16] & 0xf0);
            }
        }
    }

    /// Appends the encoding of `data` (Q4_K blocks, any length).
    pub fn encode(data: &[u8], out: &mut Vec<u8>) -> Result<()> {
        let blocks = write_header(data, BLOCK, out);
        let n = blocks.len() / BLOCK;
        let ctx = encode_k_header(NAME, blocks, BLOCK, 1.0, out)?;
        let mut sym = vec![0u8; 128 * n];
        for (b, s) in blocks.chunks_exact(BLOCK).zip(sym.chunks_exact_mut(128)) {
            split(&b[16..], s);
        }
        let ctx = Contexts::runs(&ctx, 4);
        encode_field(
            NAME,
            "nibble pairs | zero point",
            8,
            &sym,
            ctx,
            PAIR_CTX,
            PAIRS,
            out,
        )
    }

    /// Decodes one encoding into `out`.
    pub fn decode(input: &[u8], out: &mut [u8]) -> Result<()> {
        let mut r = Reader::new(NAME, input);
        let (n, tail) = r.header(BLOCK, out.len())?;
        let h = KHeader::decode(&mut r, n)?;
        let ctx = pair_contexts(&h.d, &h.dmin, &h.sc, &h.mn, 1.0);
        // The symbols land where the quants go, then are rearranged in place.
        let place = Placement {
            run: 128,
            stride: BLOCK,
            offset: 16,
        };
        cstream::decode_placed(
            &mut r,
            128 * n,
            Contexts::runs(&ctx, 4),
            PAIR_CTX,
            out,
            place,
        )?;
        r.finish()?;
        for (i, o) in out.chunks_exact_mut(BLOCK).enumerate() {
            h.write(i, o);
            let mut sym = [0u8; 128];
            sym.copy_from_slice(&o[16..]);
            join(&sym, &mut o[16..]);
        }
        out[n * BLOCK..].copy_from_slice(tail);
        Ok(())
    }
}

/// `wz_q5k`: Q5_K blocks (module docs).
pub mod q5k {
    use super::*;

    const NAME: &str = "wz_q5k";
    /// Bytes per block.
    pub const BLOCK: usize = 176;

    /// Pair symbols (top 4 bits of elements `l`, `l + 16` of each sub-block)
    /// and the low bits (bit `e` of the 4 bytes of sub-block `s`) of one
    /// block's `qh[32]` and `qs[128]`.
    fn split(qh: &[u8], qs: &[u8], sym: &mut [u8], low: &mut [u8]) {
        let mut q = [0u8; 32];
        for s in 0..8 {
            let g = s / 2;
            let shift = 4 * (s & 1);
            let mut bits = 0u32;
            for e in 0..32 {
                let v = ((qs[32 * g + e] >> shift) & 15) | (((qh[e] >> s) & 1) << 4);
                q[e] = v;
                bits |= u32::from(v & 1) << e;
            }
            for l in 0..16 {
                sym[16 * s + l] = (q[l] >> 1) | ((q[l + 16] >> 1) << 4);
            }
            low[4 * s..4 * s + 4].copy_from_slice(&bits.to_le_bytes());
        }
    }

    /// Inverse of [`split`].
    fn join(sym: &[u8], low: &[u8], qh: &mut [u8], qs: &mut [u8]) {
        qh.fill(0);
        qs.fill(0);
        for s in 0..8 {
            let g = s / 2;
            let shift = 4 * (s & 1);
            let bits = u32::from_le_bytes(low[4 * s..4 * s + 4].try_into().expect("4 bytes"));
            for e in 0..32 {
                let pair = sym[16 * s + (e & 15)];
                let top = if e < 16 { pair & 15 } else { pair >> 4 };
                let v = (top << 1) | ((bits >> e) & 1) as u8;
                qs[32 * g + e] |= (v & 15) << shift;
                qh[e] |= (v >> 4) << s;
            }
        }
    }

    /// Appends the encoding of `data` (Q5_K blocks, any length).
    pub fn encode(data: &[u8], out: &mut Vec<u8>) -> Result<()> {
        let blocks = write_header(data, BLOCK, out);
        let n = blocks.len() / BLOCK;
        let ctx = encode_k_header(NAME, blocks, BLOCK, 2.0, out)?;
        let mut sym = vec![0u8; 128 * n];
        let mut low = vec![0u8; 32 * n];
        for ((b, s), l) in blocks
            .chunks_exact(BLOCK)
            .zip(sym.chunks_exact_mut(128))
            .zip(low.chunks_exact_mut(32))
        {
            split(&b[16..48], &b[48..], s, l);
        }
        let ctx = Contexts::runs(&ctx, 4);
        encode_field(
            NAME,
            "top-4 pairs | zero point",
            8,
            &sym,
            ctx,
            PAIR_CTX,
            PAIRS,
            out,
        )?;
        raw_field("low bits", &low, out);
        Ok(())
    }

    /// Decodes one encoding into `out`.
    pub fn decode(input: &[u8], out: &mut [u8]) -> Result<()> {
        let mut r = Reader::new(NAME, input);
        let (n, tail) = r.header(BLOCK, out.len())?;
        let h = KHeader::decode(&mut r, n)?;
        let ctx = pair_contexts(&h.d, &h.dmin, &h.sc, &h.mn, 2.0);
        // The symbols land in `qs`, then are rebuilt in place.
        let place = Placement {
            run: 128,
            stride: BLOCK,
            offset: 48,
        };
        cstream::decode_placed(
            &mut r,
            128 * n,
            Contexts::runs(&ctx, 4),
            PAIR_CTX,
            out,
            place,
        )?;
        let low = r.bytes(32 * n, "low bits")?;
        r.finish()?;
        for (i, (o, l)) in out
            .chunks_exact_mut(BLOCK)
            .zip(low.chunks_exact(32))
            .enumerate()
        {
            h.write(i, o);
            let mut sym = [0u8; 128];
            sym.copy_from_slice(&o[48..]);
            let (qh, qs) = o[16..].split_at_mut(32);
            join(&sym, l, qh, qs);
        }
        out[n * BLOCK..].copy_from_slice(tail);
        Ok(())
    }
}

/// `wz_q6k`: Q6_K blocks (module docs).
pub mod q6k {
    use super::*;

    const NAME: &str = "wz_q6k";
    /// Bytes per block.
    pub const BLOCK: usize = 210;

    const NIB: u64 = 0x0f0f_0f0f_0f0f_0f0f;
    const TWO: u64 = 0x0303_0303_0303_0303;
    const LOW: u64 = 0x3333_3333_3333_3333;

    #[inline]
    fn word(b: &[u8], at: usize) -> u64 {
        u64::from_le_bytes(b[at..at + 8].try_into().expect("8 bytes"))
    }

    #[inline]
    fn put(b: &mut [u8], at: usize, w: u64) {
        b[at..at + 8].copy_from_slice(&w.to_le_bytes());
    }

    /// The top 4 bits `t` of the 256 6-bit quants of one block, in weight
    /// order (quant `128 h + l + 32 m` comes from `ql`, `qh` as in
    /// llama.cpp's `dequantize_row_q6_K`), 8 quants per step.
    #[inline]
    pub(super) fn tops(ql: &[u8], qh: &[u8], t: &mut [u8; 256]) {
        for h in 0..2 {
            for l in (0..32).step_by(8) {
                let (a, b) = (word(ql, 64 * h + l), word(ql, 64 * h + l + 32));
                let hb = word(qh, 32 * h + l);
                let y = 128 * h + l;
                put(t, y, ((a >> 2) & TWO) | ((hb & TWO) << 2));
                put(t, y + 32, ((b >> 2) & TWO) | (((hb >> 2) & TWO) << 2));
                put(t, y + 64, ((a >> 6) & TWO) | (((hb >> 4) & TWO) << 2));
                put(t, y + 96, ((b >> 6) & TWO) | (((hb >> 6) & TWO) << 2));
            }
        }
    }

    /// Inverse of [`tops`] given the 2 low bits of every quant, kept as
    /// `ql & 0x33` (`low[j]` for `ql[j]`).
    #[inline]
    fn pack(t: &[u8; 256], low: &[u8; 128], ql: &mut [u8], qh: &mut [u8]) {
        for h in 0..2 {
            for l in (0..32).step_by(8) {
                let y = 128 * h + l;
                let (t0, t1, t2, t3) = (
                    word(t, y),
                    word(t, y + 32),
                    word(t, y + 64),
                    word(t, y + 96),
                );
                let a = word(low, 64 * h + l) | ((t0 & TWO) << 2) | ((t2 & TWO) << 6);
                let b = word(low, 64 * h + l + 32) | ((t1 & TWO) << 2) | ((t3 & TWO) << 6);
                put(ql, 64 * h + l, a);
                put(ql, 64 * h + l + 32, b);
                let hb = ((t0 >> 2) & TWO)
                    | (((t1 >> 2) & TWO) << 2)
                    | (((t2 >> 2) & TWO) << 4)
                    | (((t3 >> 2) & TWO) << 6);
                put(qh, 32 * h + l, hb);
            }
        }
    }

    /// Context of a sub-block from its int8 scale: sign and magnitude class.
    #[inline]
    fn scale_ctx(s: u8) -> u8 {
        let v = s as i8;
        let mag = v.unsigned_abs();
        let class = (8 - mag.leading_zeros()).min(7) as u8;
        (u8::from(v < 0) << 3) | class
    }

    /// Appends the encoding of `data` (Q6_K blocks, any length).
    ///
    /// Symbols: for each 16-quant sub-block `k`, 8 bytes `t[16k + e] |
    /// t[16k + e + 8] << 4`. Low bits: 64 bytes per block, byte `j` =
    /// `(ql[j] & 0x33) | (ql[j + 64] & 0x33) << 2`.
    pub fn encode(data: &[u8], out: &mut Vec<u8>) -> Result<()> {
        let blocks = write_header(data, BLOCK, out);
        let n = blocks.len() / BLOCK;
        encode_f16_field(NAME, ["d.hi", "d.lo"], blocks, BLOCK, 208, out)?;
        let mut scales = Vec::with_capacity(16 * n);
        for b in blocks.chunks_exact(BLOCK) {
            scales.extend_from_slice(&b[192..208]);
        }
        encode_field(
            NAME,
            "scales",
            8,
            &scales,
            Contexts::constant(),
            1,
            SCALES,
            out,
        )?;
        let mut sym = vec![0u8; 128 * n];
        let mut low = vec![0u8; 64 * n];
        let mut t = [0u8; 256];
        for ((b, s), lo) in blocks
            .chunks_exact(BLOCK)
            .zip(sym.chunks_exact_mut(128))
            .zip(low.chunks_exact_mut(64))
        {
            tops(&b[..128], &b[128..192], &mut t);
            for k in 0..16 {
                let (a, c) = (word(&t, 16 * k), word(&t, 16 * k + 8));
                put(s, 8 * k, a | (c << 4));
            }
            for j in (0..64).step_by(8) {
                put(lo, j, (word(b, j) & LOW) | ((word(b, j + 64) & LOW) << 2));
            }
        }
        let ctx: Vec<u8> = scales.iter().map(|&s| scale_ctx(s)).collect();
        let ctx = Contexts::runs(&ctx, 3);
        encode_field(
            NAME,
            "top-4 pairs | scale",
            8,
            &sym,
            ctx,
            PAIR_CTX,
            PAIRS,
            out,
        )?;
        raw_field("low bits", &low, out);
        Ok(())
    }

    /// Decodes one encoding into `out`.
    pub fn decode(input: &[u8], out: &mut [u8]) -> Result<()> {
        let mut r = Reader::new(NAME, input);
        let (n, tail) = r.header(BLOCK, out.len())?;
        let d = decode_f16_field(&mut r, n)?;
        let mut scales = vec![0u8; 16 * n];
        cstream::decode(&mut r, Contexts::constant(), 1, &mut scales)?;
        let ctx: Vec<u8> = scales.iter().map(|&s| scale_ctx(s)).collect();
        // The symbols land in `ql`, then the quants are rebuilt in place.
        let place = Placement {
            run: 128,
            stride: BLOCK,
            offset: 0,
        };
        cstream::decode_placed(
            &mut r,
            128 * n,
            Contexts::runs(&ctx, 3),
            PAIR_CTX,
            out,
            place,
        )?;
        let low = r.bytes(64 * n, "low bits")?;
        r.finish()?;
        let mut t = [0u8; 256];
        let mut lowq = [0u8; 128];
        for (i, (o, lo)) in out
            .chunks_exact_mut(BLOCK)
            .zip(low.chunks_exact(64))
            .enumerate()
        {
            for k in 0..16 {
                let p = word(o, 8 * k);
                put(&mut t, 16 * k, p & NIB);
                put(&mut t, 16 * k + 8, (p >> 4) & NIB);
            }
            for j in (0..64).step_by(8) {
                let w = word(lo, j);
                put(&mut lowq, j, w & LOW);
                put(&mut lowq, j + 64, (w >> 2) & LOW);
            }
            let (ql, rest) = o.split_at_mut(128);
            let (qh, rest) = rest.split_at_mut(64);
            pack(&t, &lowq, ql, qh);
            rest[..16].copy_from_slice(&scales[16 * i..16 * i + 16]);
            d.write(i, &mut rest[16..]);
        }
        out[n * BLOCK..].copy_from_slice(tail);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_util::{check, noise};
    use super::*;

    #[test]
    fn any_bytes_round_trip() {
        type Pair = (
            fn(&[u8], &mut Vec<u8>) -> Result<()>,
            fn(&[u8], &mut [u8]) -> Result<()>,
            usize,
        );
        let codecs: [Pair; 3] = [
            (q4k::encode, q4k::decode, q4k::BLOCK),
            (q5k::encode, q5k::decode, q5k::BLOCK),
            (q6k::encode, q6k::decode, q6k::BLOCK),
        ];
        for (enc, dec, block) in codecs {
            for len in [0, 1, block - 1, block, block + 1, 3 * block, 40 * block + 5] {
                check(enc, dec, &noise(len, len as u64 + block as u64));
            }
        }
    }

    #[test]
    fn q6k_quant_order_matches_llama_cpp() {
        // dequantize_row_q6_K: quant 128h + l + 32m from ql/qh.
        let b = noise(210, 11);
        let mut want = [0u8; 256];
        for h in 0..2 {
            for l in 0..32 {
                let (ql, qh) = (&b[64 * h..], &b[128 + 32 * h..]);
                want[128 * h + l] = (ql[l] & 15) | ((qh[l] & 3) << 4);
                want[128 * h + l + 32] = (ql[l + 32] & 15) | (((qh[l] >> 2) & 3) << 4);
                want[128 * h + l + 64] = (ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4);
                want[128 * h + l + 96] = (ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4);
            }
        }
        let mut t = [0u8; 256];
        q6k::tops(&b[..128], &b[128..192], &mut t);
        for (i, (&t, &w)) in t.iter().zip(&want).enumerate() {
            assert_eq!(t, w >> 2, "quant {i}");
        }
    }

    #[test]
    fn q4k_split_is_a_bijection() {
        let qs = noise(128, 3);
        let mut sym = [0u8; 128];
        q4k::split(&qs, &mut sym);
        let mut back = [0u8; 128];
        q4k::join(&sym, &mut back);
        assert_eq!(&back[..], &qs[..]);
    }
}
