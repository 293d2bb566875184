//! Context-coded 16-bit floats: `wz_bf16_ctx` and `wz_fp16_ctx`.
//!
//! Each value is cut into the exponent `e` (8 bits for bf16, 5 for fp16),
//! the top `t` mantissa bits (3 for bf16, 2 for fp16), the sign, and the low
//! mantissa bits (4 for bf16, 8 for fp16). Exponent and top mantissa bits
//! are coded together as **one rANS symbol per element**:
//!
//! - symbol `k * 2^t + top` for the `k`-th of `n_freq` consecutive frequent
//!   exponents `e_lo + k`, and `ESC = n_freq * 2^t` for every other exponent
//!   (its exponent and top bits then follow in two side streams);
//! - the table is picked by a **scale class**. The encoder stores, per row
//!   of the chunk (rows of `row_len` elements, the chunk's first element at
//!   column `phase`), the row's mean exponent (escapes count as `e_lo - 1`)
//!   as `round(4 · mean) - min`, a byte, and optionally the same per column
//!   (log-scale additive: `scale(i, j) = row(i) · col(j)`). An element's
//!   statistic is its row byte plus its column byte; thresholds chosen per
//!   chunk (an optimal 1-D partition of 64 quantile bins, the cost counting
//!   coded bits, table bytes, thresholds and the stored row and column
//!   bytes) map it to one of at most 16 classes. The encoder tries row-only
//!   and row and column statistics for a few row lengths (the caller's, with
//!   the chunk's phase found by an ANOVA F statistic; without one, the
//!   divisors of the element count and the F-best lengths) and keeps the
//!   cheapest, or one table;
//! - each class's table is the **product** P(k | class) · P(top | k) of a
//!   per-class exponent table and per-exponent mantissa tables shared by all
//!   classes, rebuilt by encoder and decoder with the same integer
//!   arithmetic: only the factors are stored, which keeps table bytes small;
//! - sign bits: raw, or (when it saves ≥ 3 %) rANS with a table per
//!   column class (the column's share of negative values in 16 bins, one
//!   stored byte per column and block of rows: the whole chunk or 4096 /
//!   1024 / 256 rows, whichever costs least); low bits: raw, or (when it saves ≥ 3 %) rANS
//!   with a table per exponent symbol.
//!
//! Every context is stored or derived from a plane decoded earlier, so the
//! decoder builds each plane's context bytes first and decodes it with the
//! SIMD multi-table rANS of [`weightzip_entropy::ctx_rans`]: a table switch per
//! symbol, no model updates.
//!
//! Encoding layout: `n: varint` whole elements, `tail_len: u8` + tail bytes,
//! `mode: u8` (0 = the `2n` element bytes verbatim, 1 = coded, 2 = the fast
//! codec's encoding (`wz_bf16` / `wz_fp16`) of the whole elements, chosen
//! for small chunks where it is smaller), and in mode 1: `row_len: varint`
//! (0 = no rows: one table), `phase: varint` (< row_len); with rows
//! `columns: u8` (0 / 1, rows of at most 2^16 for 1), the row bytes and
//! (columns = 1) the column bytes as [`weightzip_entropy::stream`]s;
//! `classes: u8` (1..=16) and `classes - 1` increasing thresholds
//! (`varint`, ≤ 511), `e_lo: u8`, `n_freq: u8`, the `classes` exponent
//! tables (over `0..=n_freq`, 12 bits) and the `n_freq` mantissa tables
//! (over `0..2^t`, 8 bits) as [`FreqTable`] serialisations, `len: varint` +
//! the symbol payload ([`weightzip_entropy::ctx_rans`]), the escapes' exponents
//! and top bits as two streams; `low_mode: u8` (1: `n_freq + 1` tables +
//! payload); `sign_mode: u8` (1: with rows `block_rows: varint` (0 = one
//! block) and the column classes of every block as a stream, then 16 tables (1 without rows) + payload); then the raw planes: sign
//! bits (`ceil(n / 8)` bytes, LSB first) if `sign_mode` is 0 and low bits
//! (bf16: two per byte, low nibble first; fp16: one byte each) if
//! `low_mode` is 0.

use weightzip_entropy::ctx_rans::LANES;
use weightzip_entropy::ctx_rans::{self, ContextDecoder, ContextEncoder, Contexts};
use weightzip_entropy::stream::{encode_stream, parse_stream};
use weightzip_entropy::FreqTable;
use weightzip_entropy::{entropy_bits, read_at, write_varint, ByteReader, Histogram};

use crate::error::{CodecError, EntropyContext, Result};

mod decode;
mod encode;
mod grid;
mod model;
#[cfg(test)]
mod tests;

use decode::*;
use encode::*;
use grid::*;
use model::*;

/// Most scale classes (exponent tables).
pub const MAX_CLASSES: usize = 16;
/// Longest row the codec models.
pub const MAX_ROW_LEN: usize = 1 << 24;
/// Longest row whose column statistics the codec keeps.
pub const MAX_COL_ROW_LEN: usize = 1 << 16;
/// Quantile bins the class partition is chosen from.
pub(super) const FINE_BINS: usize = 64;
/// Elements of the prefix used to choose the row length and phase.
pub(super) const SEARCH_SAMPLE: usize = 1 << 18;
/// Precision of the joint tables (and of the exponent factor).
pub(super) const JOINT_BITS: u32 = 12;
/// Precision of the mantissa factor tables.
pub(super) const TOP_BITS_PREC: u32 = 8;

/// Bit layout of one 16-bit float format.
#[derive(Clone, Copy)]
pub(super) struct Layout {
    pub(super) name: &'static str,
    pub(super) e_shift: u32,
    pub(super) e_mask: u16,
    pub(super) low_bits: u32,
    /// The fast codec of the same format (mode 2).
    pub(super) fast_encode: fn(&[u8], &mut Vec<u8>) -> Result<()>,
    pub(super) fast_decode: fn(&[u8], &mut [u8]) -> Result<()>,
}

impl Layout {
    /// Top mantissa bits coded with the exponent.
    fn t_bits(self) -> u32 {
        self.e_shift - self.low_bits
    }

    fn low_plane_len(self, n: usize) -> usize {
        (n * self.low_bits as usize).div_ceil(8)
    }

    /// Most frequent exponents that fit beside ESC in a byte alphabet.
    fn max_freq(self) -> usize {
        (255 >> self.t_bits()).min(usize::from(self.e_mask) + 1)
    }
}

pub(super) const BF16: Layout = Layout {
    name: "wz_bf16_ctx",
    e_shift: 7,
    e_mask: 0xff,
    low_bits: 4,
    fast_encode: crate::float::bf16_planes::encode,
    fast_decode: crate::float::bf16_planes::decode,
};
pub(super) const FP16: Layout = Layout {
    name: "wz_fp16_ctx",
    e_shift: 10,
    e_mask: 0x1f,
    low_bits: 8,
    fast_encode: crate::float::fp16::encode,
    fast_decode: crate::float::fp16::decode,
};

/// `wz_bf16_ctx`: bf16 with exponent + top 3 mantissa bits coded in row
/// scale contexts (module docs).
pub mod bf16 {
    use super::*;

    /// Appends the encoding of `data` (little-endian bf16 values);
    /// `row_len` is the tensor's last dimension if known (else inferred).
    pub fn encode(data: &[u8], row_len: Option<usize>, out: &mut Vec<u8>) -> Result<()> {
        encode_with(BF16, data, row_len, out)
    }

    /// Decodes one encoding into `out`.
    pub fn decode(input: &[u8], out: &mut [u8]) -> Result<()> {
        decode_with(BF16, input, out)
    }
}

/// `wz_fp16_ctx`: fp16 with exponent + top 2 mantissa bits coded in row
/// scale contexts; the low mantissa byte is stored raw (module docs).
pub mod fp16 {
    use super::*;

    /// Appends the encoding of `data` (little-endian fp16 values);
    /// `row_len` is the tensor's last dimension if known (else inferred).
    pub fn encode(data: &[u8], row_len: Option<usize>, out: &mut Vec<u8>) -> Result<()> {
        encode_with(FP16, data, row_len, out)
    }

    /// Decodes one encoding into `out`.
    pub fn decode(input: &[u8], out: &mut [u8]) -> Result<()> {
        decode_with(FP16, input, out)
    }
}

/// The symbol alphabet of one chunk: `n_freq` frequent exponents from `e_lo`.
#[derive(Clone, Copy, Debug)]
pub(super) struct Alphabet {
    pub(super) t_bits: u32,
    pub(super) e_lo: u8,
    pub(super) n_freq: usize,
}

impl Alphabet {
    fn esc(self) -> u8 {
        (self.n_freq << self.t_bits) as u8
    }

    /// The row statistic's value of every symbol.
    fn rep(self) -> [u8; 256] {
        let mut r = [0u8; 256];
        for (s, v) in r.iter_mut().enumerate() {
            let k = s >> self.t_bits;
            *v = if k < self.n_freq {
                self.e_lo + k as u8
            } else {
                self.e_lo.saturating_sub(1)
            };
        }
        r
    }
}

/// The joint tables: class table `c` is `ef[c][k] * tf[k][top]` for the
/// frequent exponents and `ef[c][ESC] * 2^8` for ESC, renormalised from
/// 2^20 to 2^12 with integer arithmetic only (encoder and decoder must agree
/// bit for bit on every platform).
pub(super) fn joint_tables(
    a: Alphabet,
    ef: &[FreqTable],
    tf: &[FreqTable],
) -> Result<Vec<FreqTable>> {
    let tn = 1usize << a.t_bits;
    let shift = ef
        .first()
        .map_or(0, |t| t.prob_bits() + TOP_BITS_PREC - JOINT_BITS);
    ef.iter()
        .map(|e| {
            let mut freqs = [0u32; 256];
            let mut wide = [0u64; 256];
            for k in 0..=a.n_freq {
                let fe = u64::from(e.freqs()[k]);
                if k < a.n_freq {
                    for t in 0..tn {
                        wide[(k << a.t_bits) | t] = fe * u64::from(tf[k].freqs()[t]);
                    }
                } else {
                    wide[k << a.t_bits] = fe << TOP_BITS_PREC;
                }
            }
            let half = 1u64 << shift >> 1;
            let mut sum = 0i64;
            for (f, &w) in freqs.iter_mut().zip(&wide) {
                if w > 0 {
                    *f = (((w + half) >> shift) as u32).max(1);
                    sum += i64::from(*f);
                }
            }
            let mut diff = (1i64 << JOINT_BITS) - sum;
            // Settle the rounding error on the largest entries, one unit
            // each in order of size (ties by symbol), never below 1.
            let mut order: Vec<usize> = (0..256).filter(|&s| freqs[s] > 0).collect();
            order.sort_by(|&x, &y| freqs[y].cmp(&freqs[x]).then(x.cmp(&y)));
            while diff != 0 {
                let before = diff;
                for &s in &order {
                    if diff > 0 {
                        freqs[s] += 1;
                        diff -= 1;
                    } else if diff < 0 && freqs[s] > 1 {
                        freqs[s] -= 1;
                        diff += 1;
                    }
                    if diff == 0 {
                        break;
                    }
                }
                if diff == before {
                    return Err(CodecError::Corrupt {
                        codec: "ctx",
                        offset: 0,
                        reason: "joint table cannot be normalised".into(),
                    });
                }
            }
            FreqTable::from_freqs(freqs, JOINT_BITS).in_codec("ctx")
        })
        .collect()
}
