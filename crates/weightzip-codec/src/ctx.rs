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

/// Most scale classes (exponent tables).
pub const MAX_CLASSES: usize = 16;
/// Longest row the codec models.
pub const MAX_ROW_LEN: usize = 1 << 24;
/// Longest row whose column statistics the codec keeps.
pub const MAX_COL_ROW_LEN: usize = 1 << 16;
/// Quantile bins the class partition is chosen from.
const FINE_BINS: usize = 64;
/// Elements of the prefix used to choose the row length and phase.
const SEARCH_SAMPLE: usize = 1 << 18;
/// Precision of the joint tables (and of the exponent factor).
const JOINT_BITS: u32 = 12;
/// Precision of the mantissa factor tables.
const TOP_BITS_PREC: u32 = 8;

/// Bit layout of one 16-bit float format.
#[derive(Clone, Copy)]
struct Layout {
    name: &'static str,
    e_shift: u32,
    e_mask: u16,
    low_bits: u32,
    /// The fast codec of the same format (mode 2).
    fast_encode: fn(&[u8], &mut Vec<u8>) -> Result<()>,
    fast_decode: fn(&[u8], &mut [u8]) -> Result<()>,
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

const BF16: Layout = Layout {
    name: "wz_bf16_ctx",
    e_shift: 7,
    e_mask: 0xff,
    low_bits: 4,
    fast_encode: crate::float::bf16::encode,
    fast_decode: crate::float::bf16::decode,
};
const FP16: Layout = Layout {
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
struct Alphabet {
    t_bits: u32,
    e_lo: u8,
    n_freq: usize,
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
fn joint_tables(a: Alphabet, ef: &[FreqTable], tf: &[FreqTable]) -> Result<Vec<FreqTable>> {
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

// ---------------------------------------------------------------- scale contexts

/// Rows of `row_len` elements, the chunk's first element at column `phase`.
#[derive(Clone, Copy, Debug)]
struct Grid {
    row_len: usize,
    phase: usize,
}

impl Grid {
    /// Rows the chunk's `n` elements touch.
    fn rows(self, n: usize) -> usize {
        (n + self.phase).div_ceil(self.row_len)
    }

    /// Calls `f(start, end, row, first_col)` for each row's part of `0..n`.
    #[inline(always)]
    fn segments(self, n: usize, mut f: impl FnMut(usize, usize, usize, usize)) {
        let (mut i, mut r, mut c) = (0, 0, self.phase);
        while i < n {
            let end = n.min(i + self.row_len - c);
            f(i, end, r, c);
            i = end;
            r += 1;
            c = 0;
        }
    }
}

/// Quantised means of `vals` (a byte per element) per row and, with
/// `cols`, per column: `round(4 · mean) - min`, clamped to a byte. These
/// bytes are stored; both sides derive the contexts from them.
fn grid_means(vals: &[u8], g: Grid, cols: bool) -> (Vec<u8>, Vec<u8>) {
    let n = vals.len();
    let mut rs = vec![(0u64, 0u64); g.rows(n)];
    let mut cs = vec![(0u64, 0u64); if cols { g.row_len } else { 0 }];
    g.segments(n, |a, b, r, c0| {
        let seg = &vals[a..b];
        rs[r].0 += seg.iter().map(|&v| u64::from(v)).sum::<u64>();
        rs[r].1 += seg.len() as u64;
        if cols {
            for (acc, &v) in cs[c0..c0 + seg.len()].iter_mut().zip(seg) {
                acc.0 += u64::from(v);
                acc.1 += 1;
            }
        }
    });
    let quantise = |sums: &[(u64, u64)]| -> Vec<u8> {
        let q: Vec<Option<u64>> = sums
            .iter()
            .map(|&(s, k)| (k > 0).then(|| (4 * s + k / 2) / k))
            .collect();
        let lo = q.iter().flatten().copied().min().unwrap_or(0);
        q.iter()
            .map(|v| v.map_or(0, |v| (v - lo).min(255) as u8))
            .collect()
    };
    (quantise(&rs), quantise(&cs))
}

/// The statistic of every element: its row's byte plus its column's.
fn element_stats(n: usize, g: Grid, rowq: &[u8], colq: &[u8]) -> Vec<u16> {
    let mut out = vec![0u16; n];
    g.segments(n, |a, b, r, c0| {
        let rq = u16::from(rowq[r]);
        if colq.is_empty() {
            out[a..b].fill(rq);
        } else {
            for (o, &cq) in out[a..b].iter_mut().zip(&colq[c0..]) {
                *o = rq + u16::from(cq);
            }
        }
    });
    out
}

/// Maps a statistic (0..=510) to its class.
fn class_lut(thresholds: &[u32]) -> [u8; 512] {
    let mut lut = [0u8; 512];
    for (m, c) in lut.iter_mut().enumerate() {
        *c = thresholds.iter().filter(|&&t| t <= m as u32).count() as u8;
    }
    lut
}

/// The context byte of every element (decoder and encoder).
fn scale_contexts(n: usize, g: Grid, rowq: &[u8], colq: &[u8], lut: &[u8; 512]) -> Vec<u8> {
    let mut out = vec![0u8; n];
    g.segments(n, |a, b, r, c0| {
        let rq = usize::from(rowq[r]);
        if colq.is_empty() {
            out[a..b].fill(lut[rq]);
        } else {
            for (o, &cq) in out[a..b].iter_mut().zip(&colq[c0..]) {
                *o = lut[(rq + usize::from(cq)) & 511];
            }
        }
    });
    out
}

/// Sign probability classes: a column's share of negative values in the
/// chunk, in [`SIGN_CLASSES`] equal bins (stored, one byte per column).
const SIGN_CLASSES: usize = 16;

/// Blocks of `block_rows` rows (0: one block) the chunk's rows fall into.
fn sign_blocks(n: usize, g: Grid, block_rows: usize) -> usize {
    if block_rows == 0 {
        1
    } else {
        g.rows(n).div_ceil(block_rows)
    }
}

/// (negative values, values) per block of `block_rows` rows and column.
fn sign_counts(signs: &[u8], g: Grid, block_rows: usize) -> Vec<(u32, u32)> {
    let nb = sign_blocks(signs.len(), g, block_rows);
    let mut cs = vec![(0u32, 0u32); g.row_len * nb];
    g.segments(signs.len(), |a, b, r, c0| {
        let base = r.checked_div(block_rows).unwrap_or(0) * g.row_len;
        for (acc, &s) in cs[base + c0..].iter_mut().zip(&signs[a..b]) {
            acc.0 += u32::from(s);
            acc.1 += 1;
        }
    });
    cs
}

/// Merges the counts of `factor` consecutive blocks (`factor = 0`: all).
fn merge_sign_counts(cs: &[(u32, u32)], row_len: usize, factor: usize) -> Vec<(u32, u32)> {
    let nb = cs.len() / row_len;
    let groups = if factor == 0 { 1 } else { nb.div_ceil(factor) };
    let per = if factor == 0 { nb } else { factor };
    let mut out = vec![(0u32, 0u32); groups * row_len];
    for (b, block) in cs.chunks_exact(row_len).enumerate() {
        let o = &mut out[(b / per.max(1)) * row_len..][..row_len];
        for (acc, &(neg, k)) in o.iter_mut().zip(block) {
            acc.0 += neg;
            acc.1 += k;
        }
    }
    out
}

/// The binned share of negative values of each count.
fn sign_class(neg: u32, k: u32) -> u8 {
    if k == 0 {
        0
    } else {
        ((u64::from(neg) * SIGN_CLASSES as u64 / u64::from(k)) as usize).min(SIGN_CLASSES - 1) as u8
    }
}

fn sign_contexts(n: usize, g: Grid, classes: &[u8], block_rows: usize) -> Vec<u8> {
    let mut out = vec![0u8; n];
    g.segments(n, |a, b, r, c0| {
        let base = r.checked_div(block_rows).unwrap_or(0) * g.row_len;
        out[a..b].copy_from_slice(&classes[base + c0..base + c0 + (b - a)]);
    });
    out
}

// ---------------------------------------------------------------- encoder

fn encode_with(l: Layout, data: &[u8], row_len: Option<usize>, out: &mut Vec<u8>) -> Result<()> {
    let n = data.len() / 2;
    let tail = &data[n * 2..];
    write_varint(out, n as u64);
    out.push(tail.len() as u8);
    out.extend_from_slice(tail);
    let start = out.len();
    out.push(1);
    let body = &data[..n * 2];
    if encode_coded(l, body, row_len, out).is_err() || out.len() - start > n * 2 + 1 {
        out.truncate(start);
        out.push(0);
        out.extend_from_slice(body);
    }
    // Small chunks (norms, biases): the fast codec's planes may be smaller
    // than contexts plus their tables; keep whichever is.
    if n < FAST_CHECK_BELOW {
        let mut fast = vec![2u8];
        (l.fast_encode)(body, &mut fast)?;
        if fast.len() < out.len() - start {
            out.truncate(start);
            out.extend_from_slice(&fast);
        }
    }
    Ok(())
}

/// Chunks with fewer elements also try the fast codec (mode 2).
const FAST_CHECK_BELOW: usize = 1 << 16;

/// Estimated serialised size in bits of a 12-bit table for `h`.
fn table_bits_estimate(h: &Histogram, total: u64) -> f64 {
    if total == 0 {
        return 0.0;
    }
    let mut bytes = 3.0;
    let mut zero_run = false;
    let first = h.iter().position(|&c| c > 0).unwrap_or(0);
    let last = h.iter().rposition(|&c| c > 0).unwrap_or(0);
    for &c in &h[first..=last] {
        if c == 0 {
            if !zero_run {
                bytes += 2.0;
            }
            zero_run = true;
        } else {
            zero_run = false;
            let f = (c as f64 * f64::from(1u32 << JOINT_BITS) / total as f64).max(1.0);
            bytes += if f < 128.0 { 1.0 } else { 2.0 };
        }
    }
    bytes * 8.0
}

fn ideal_cost(h: &Histogram) -> f64 {
    let total: u64 = h.iter().sum();
    entropy_bits(h) * total as f64 + table_bits_estimate(h, total)
}

fn add(a: &mut Histogram, b: &Histogram) {
    for (x, y) in a.iter_mut().zip(b) {
        *x += y;
    }
}

/// The exponent-class model for one (row_len, phase).
struct ExpModel {
    grid: Grid,
    rowq: Vec<u8>,
    colq: Vec<u8>,
    thresholds: Vec<u32>,
    cost: f64,
}

/// Fits the scale classes for rows `g` (with column means if `cols`) over
/// the exponent symbols `k` (`sym >> t_bits`); the cost counts the coded
/// symbols, the tables, the thresholds and the stored row / column bytes.
fn fit_exp_model(sym: &[u8], a: Alphabet, rep: &[u8; 256], g: Grid, cols: bool) -> ExpModel {
    let n = sym.len();
    let vals: Vec<u8> = sym.iter().map(|&s| rep[s as usize]).collect();
    let (rowq, colq) = grid_means(&vals, g, cols);
    let stats = element_stats(n, g, &rowq, &colq);
    let mut side = ideal_cost(&weightzip_entropy::histogram(&rowq));
    if cols {
        side += ideal_cost(&weightzip_entropy::histogram(&colq));
    }
    let mut mean_counts = vec![0u64; 512];
    for &st in &stats {
        mean_counts[st as usize & 511] += 1;
    }
    let total: u64 = mean_counts.iter().sum();
    let mut fine_lo: Vec<u32> = Vec::new();
    let mut acc = 0u64;
    let mut cur = usize::MAX;
    for (m, &c) in mean_counts.iter().enumerate() {
        if c == 0 {
            continue;
        }
        let b = ((acc as u128 * FINE_BINS as u128) / total.max(1) as u128) as usize;
        if cur == usize::MAX || b > cur {
            fine_lo.push(m as u32);
            cur = b;
        }
        acc += c;
    }
    let nf = fine_lo.len();
    if nf == 0 {
        return ExpModel {
            grid: g,
            rowq,
            colq,
            thresholds: Vec::new(),
            cost: f64::INFINITY,
        };
    }
    let mut fine_of = vec![0u16; 512];
    let mut f = 0usize;
    for (m, slot) in fine_of.iter_mut().enumerate() {
        while f + 1 < nf && fine_lo[f + 1] <= m as u32 {
            f += 1;
        }
        *slot = f as u16;
    }
    let mut fine_h: Vec<Histogram> = vec![[0; 256]; nf];
    for (&st, &v) in stats.iter().zip(sym) {
        fine_h[fine_of[st as usize & 511] as usize][(v >> a.t_bits) as usize] += 1;
    }
    let mut seg = vec![vec![f64::INFINITY; nf + 1]; nf + 1];
    for (i, row) in seg.iter_mut().enumerate().take(nf) {
        let mut h: Histogram = [0; 256];
        for (j, fh) in fine_h.iter().enumerate().skip(i) {
            add(&mut h, fh);
            row[j + 1] = ideal_cost(&h);
        }
    }
    let kmax = MAX_CLASSES.min(nf);
    let mut best = vec![vec![f64::INFINITY; nf + 1]; kmax + 1];
    let mut from = vec![vec![0usize; nf + 1]; kmax + 1];
    best[0][0] = 0.0;
    for k in 1..=kmax {
        for j in 1..=nf {
            for i in (k - 1)..j {
                let c = best[k - 1][i] + seg[i][j];
                if c < best[k][j] {
                    best[k][j] = c;
                    from[k][j] = i;
                }
            }
        }
    }
    let (mut k, mut cost) = (1, best[1][nf]);
    for (kk, b) in best.iter().enumerate().skip(2) {
        // A threshold costs about two bytes.
        let c = b[nf] + 16.0 * (kk - 1) as f64;
        if c < cost {
            cost = c;
            k = kk;
        }
    }
    let mut cuts = Vec::new();
    let mut j = nf;
    for kk in (1..=k).rev() {
        let i = from[kk][j];
        if i > 0 {
            cuts.push(fine_lo[i]);
        }
        j = i;
    }
    cuts.reverse();
    ExpModel {
        grid: g,
        rowq,
        colq,
        thresholds: cuts,
        cost: cost + side,
    }
}

/// One-way ANOVA F statistic of the exponents grouped into rows of `d`
/// (best phase, phases in steps of `step`), on prefix sums `p` and `p2`.
fn row_f_stat(p: &[f64], p2: &[f64], d: usize, step: usize) -> (f64, usize) {
    let n = p.len() - 1;
    let mut best = (0.0, 0);
    let mut phase = 0;
    while phase < d {
        let first = (d - phase) % d;
        let rows = (n - first) / d;
        if rows >= 4 {
            let end = first + rows * d;
            let total = p[end] - p[first];
            let tot2 = p2[end] - p2[first];
            let mut ssb = 0.0;
            for r in 0..rows {
                let s = p[first + (r + 1) * d] - p[first + r * d];
                ssb += s * s / d as f64;
            }
            let nn = (rows * d) as f64;
            let ssb = ssb - total * total / nn;
            let ssw = (tot2 - total * total / nn - ssb).max(1e-9);
            let f = (ssb / (rows - 1) as f64) / (ssw / (nn - rows as f64));
            if f > best.0 {
                best = (f, phase);
            }
        }
        phase += step;
    }
    best
}

fn dummy_hist() -> Histogram {
    let mut h = [0u64; 256];
    h[0] = 1;
    h
}

fn table(h: &Histogram, bits: u32) -> Result<FreqTable> {
    let h = if h.iter().any(|&c| c > 0) {
        *h
    } else {
        dummy_hist()
    };
    FreqTable::from_counts(&h, bits).in_codec("ctx")
}

/// Picks the frequent exponent range: an exponent is worth its `2^t`
/// symbols when its elements would cost more as escapes (≈ 5 extra bits
/// each) than the slots its rare symbols take from everyone.
fn choose_alphabet(l: Layout, ecount: &Histogram, n: usize) -> Alphabet {
    let tb = l.t_bits();
    let worth = |c: u64| c as f64 * 5.0 > 1.44 * f64::from(1u32 << tb) * n as f64 / 4096.0;
    let qual: Vec<usize> = (0..256)
        .filter(|&e| ecount[e] > 0 && worth(ecount[e]))
        .collect();
    let (mut lo, mut hi) = match (qual.first(), qual.last()) {
        (Some(&a), Some(&b)) => (a, b),
        _ => {
            // Nothing frequent: the most common exponent alone.
            let m = (0..256).max_by_key(|&e| ecount[e]).unwrap_or(0);
            (m, m)
        }
    };
    let max = l.max_freq();
    while hi - lo + 1 > max {
        if ecount[lo] <= ecount[hi] {
            lo += 1;
        } else {
            hi -= 1;
        }
    }
    Alphabet {
        t_bits: tb,
        e_lo: lo as u8,
        n_freq: hi - lo + 1,
    }
}

/// Picks (row_len, phase) candidates: the hint's best phase, or the row
/// lengths with the highest F statistic.
fn row_candidates(e: &[u8], hint: Option<usize>) -> Vec<(usize, usize)> {
    let sample = &e[..e.len().min(4 * SEARCH_SAMPLE)];
    let mut p = Vec::with_capacity(sample.len() + 1);
    let mut p2 = Vec::with_capacity(sample.len() + 1);
    let (mut a, mut b) = (0.0f64, 0.0f64);
    p.push(0.0);
    p2.push(0.0);
    for &x in sample {
        a += f64::from(x);
        b += f64::from(x) * f64::from(x);
        p.push(a);
        p2.push(b);
    }
    let mut scored: Vec<(f64, usize, usize)> = Vec::new();
    match hint {
        Some(d) if (1..=MAX_ROW_LEN).contains(&d) => {
            let step = if d % LANES == 0 { LANES } else { 1 };
            if sample.len() >= 4 * d && d <= 1 << 16 {
                let (f, ph) = row_f_stat(&p, &p2, d, step);
                scored.push((f, d, ph));
            } else {
                scored.push((0.0, d, 0));
            }
        }
        _ => {
            // At least 64 rows: with fewer, the best of many phases is noise.
            let mut d = 2 * LANES;
            while d <= 16384 && 64 * d <= sample.len() {
                let (f, ph) = row_f_stat(&p, &p2, d, LANES);
                scored.push((f, d, ph));
                d += LANES;
            }
        }
    }
    scored.sort_by(|x, y| y.0.total_cmp(&x.0));
    // A whole tensor's row length divides its element count: every such
    // divisor is a candidate too (the cost fit decides).
    let divisors: Vec<(usize, usize)> = if hint.is_none() {
        (2 * LANES..=16384.min(e.len() / 16))
            .filter(|&d| e.len().is_multiple_of(d))
            .map(|d| (d, 0))
            .collect()
    } else {
        Vec::new()
    };
    // F is flat over multiples of the true row length: keep the top few
    // and the smallest length near the top.
    let mut out: Vec<(usize, usize)> = scored.iter().take(3).map(|s| (s.1, s.2)).collect();
    if let Some(top) = scored.first() {
        if let Some(s) = scored
            .iter()
            .filter(|s| s.0 >= 0.9 * top.0)
            .min_by_key(|s| s.1)
        {
            out.push((s.1, s.2));
        }
    }
    // Column structure (outlier channels, embedding dimensions) is phase
    // free and does not grow with the length like the row F: the lengths
    // with the highest column F join, at their best row phase.
    if hint.is_none() {
        let mut by_col: Vec<(f64, usize)> = col_f_stats(&e[..e.len().min(SEARCH_SAMPLE / 2)]);
        by_col.sort_by(|x, y| y.0.total_cmp(&x.0));
        for &(_, d) in by_col.iter().take(3) {
            let ph = scored.iter().find(|s| s.1 == d).map_or(0, |s| s.2);
            out.push((d, ph));
        }
    }
    for d in divisors {
        if !out.contains(&d) {
            out.push(d);
        }
    }
    out.sort_unstable();
    out.dedup();
    out
}

/// One-way ANOVA F statistic of the exponents grouped by column, for row
/// lengths that are multiples of 64 with at least 16 rows in `e`.
fn col_f_stats(e: &[u8]) -> Vec<(f64, usize)> {
    let mut out = Vec::new();
    let total: f64 = e.iter().map(|&x| f64::from(x)).sum();
    let total2: f64 = e.iter().map(|&x| f64::from(x) * f64::from(x)).sum();
    let mut d = 64;
    while d <= 8192 && 16 * d <= e.len() {
        let rows = e.len() / d;
        let used = &e[..rows * d];
        let mut sums = vec![0u32; d];
        for row in used.chunks_exact(d) {
            for (s, &x) in sums.iter_mut().zip(row) {
                *s += u32::from(x);
            }
        }
        let nn = used.len() as f64;
        let (t, t2) = if used.len() == e.len() {
            (total, total2)
        } else {
            (
                used.iter().map(|&x| f64::from(x)).sum(),
                used.iter().map(|&x| f64::from(x) * f64::from(x)).sum(),
            )
        };
        let ssb: f64 = sums
            .iter()
            .map(|&s| f64::from(s) * f64::from(s))
            .sum::<f64>()
            / rows as f64
            - t * t / nn;
        let ssw = (t2 - t * t / nn - ssb).max(1e-9);
        out.push(((ssb / (d - 1) as f64) / (ssw / (nn - d as f64)), d));
        d += 64;
    }
    out
}

fn encode_coded(l: Layout, data: &[u8], hint: Option<usize>, out: &mut Vec<u8>) -> Result<()> {
    let n = data.len() / 2;
    let tb = l.t_bits();
    let mut e = Vec::with_capacity(n);
    let mut top = Vec::with_capacity(n);
    let mut sign = vec![0u8; n.div_ceil(8)];
    let mut low = vec![0u8; l.low_plane_len(n)];
    let mut lowv = Vec::with_capacity(n);
    let mut signv = Vec::with_capacity(n);
    for (i, c) in data.chunks_exact(2).enumerate() {
        let v = u16::from_le_bytes([c[0], c[1]]);
        e.push(((v >> l.e_shift) & l.e_mask) as u8);
        top.push(((v >> l.low_bits) & ((1 << tb) - 1)) as u8);
        sign[i / 8] |= ((v >> 15) as u8) << (i % 8);
        signv.push((v >> 15) as u8);
        let lo = (v & ((1 << l.low_bits) - 1)) as u8;
        lowv.push(lo);
        if l.low_bits == 4 {
            low[i / 2] |= lo << ((i & 1) * 4);
        } else {
            low[i] = lo;
        }
    }
    let ecount = weightzip_entropy::histogram(&e);
    let a = choose_alphabet(l, &ecount, n);
    let esc = a.esc();
    let mut sym = Vec::with_capacity(n);
    let mut esc_e = Vec::new();
    let mut esc_t = Vec::new();
    for (&x, &t) in e.iter().zip(&top) {
        let k = x.wrapping_sub(a.e_lo) as usize;
        if k < a.n_freq {
            sym.push(((k << tb) as u8) | t);
        } else {
            sym.push(esc);
            esc_e.push(x);
            esc_t.push(t);
        }
    }
    let rep = a.rep();
    // Scale model, if it beats one table.
    let mut khist: Histogram = [0; 256];
    for &s in &sym {
        khist[(s >> tb) as usize] += 1;
    }
    let mut model: Option<ExpModel> = None;
    if n >= 4 * LANES {
        let sample = &sym[..n.min(SEARCH_SAMPLE)];
        // Stage 1: many row lengths, rows only, on a small sample.
        // Rows longer than the chunk would only cost side bytes (and the
        // decoder rejects them, bounding what it allocates by the output).
        let mut cands = row_candidates(&e, hint);
        cands.retain(|&(d, _)| d <= n);
        if cands.len() > 3 {
            let small = &sym[..n.min(SEARCH_SAMPLE / 4)];
            let mut first: Vec<(f64, (usize, usize))> = cands
                .iter()
                .map(|&(d, ph)| {
                    let g = Grid {
                        row_len: d,
                        phase: ph,
                    };
                    (fit_exp_model(small, a, &rep, g, false).cost, (d, ph))
                })
                .collect();
            first.sort_by(|x, y| x.0.total_cmp(&y.0));
            cands = first.iter().take(3).map(|c| c.1).collect();
        }
        // Stage 2: the best few, with and without column statistics.
        let mut scored: Vec<(f64, Grid, bool)> = Vec::new();
        for (d, ph) in cands {
            let g = Grid {
                row_len: d,
                phase: ph,
            };
            scored.push((fit_exp_model(sample, a, &rep, g, false).cost, g, false));
            if d <= MAX_COL_ROW_LEN {
                scored.push((fit_exp_model(sample, a, &rep, g, true).cost, g, true));
            }
        }
        scored.sort_by(|x, y| x.0.total_cmp(&y.0));
        if let Some(&(_, g, cols)) = scored.first() {
            let m = fit_exp_model(&sym, a, &rep, g, cols);
            if m.cost < ideal_cost(&khist) {
                model = Some(m);
            }
        }
    }
    let ctx = match &model {
        Some(m) => scale_contexts(n, m.grid, &m.rowq, &m.colq, &class_lut(&m.thresholds)),
        None => vec![0u8; n],
    };
    let n_ctx = model.as_ref().map_or(1, |m| m.thresholds.len() + 1);
    let mut ch: Vec<Histogram> = vec![[0; 256]; n_ctx];
    let mut th: Vec<Histogram> = vec![[0; 256]; a.n_freq];
    for (&s, &c) in sym.iter().zip(&ctx) {
        let k = (s >> tb) as usize;
        ch[c as usize][k] += 1;
        if k < a.n_freq {
            th[k][(s & ((1 << tb) - 1)) as usize] += 1;
        }
    }
    let ef: Vec<FreqTable> = ch
        .iter()
        .map(|h| table(h, JOINT_BITS))
        .collect::<Result<_>>()?;
    let tf: Vec<FreqTable> = th
        .iter()
        .map(|h| table(h, TOP_BITS_PREC))
        .collect::<Result<_>>()?;
    let joint = joint_tables(a, &ef, &tf)?;
    // Header, scale bytes, tables, payloads.
    let grid = model.as_ref().map(|m| m.grid);
    write_varint(out, grid.map_or(0, |g| g.row_len) as u64);
    write_varint(out, grid.map_or(0, |g| g.phase) as u64);
    if let Some(m) = &model {
        out.push(u8::from(!m.colq.is_empty()));
        encode_stream(&m.rowq, out).in_codec(l.name)?;
        if !m.colq.is_empty() {
            encode_stream(&m.colq, out).in_codec(l.name)?;
        }
    }
    out.push(n_ctx as u8);
    for &t in model.iter().flat_map(|m| &m.thresholds) {
        write_varint(out, u64::from(t));
    }
    out.push(a.e_lo);
    out.push(a.n_freq as u8);
    for t in ef.iter().chain(&tf) {
        t.write(out);
    }
    put_payload(l, &sym, &ctx, &joint, out)?;
    encode_stream(&esc_e, out).in_codec(l.name)?;
    encode_stream(&esc_t, out).in_codec(l.name)?;
    // Low bits: raw, unless their distribution given the exponent pays for
    // its tables (values widened from a narrower format, subnormal ranges).
    let mut lh: Vec<Histogram> = vec![[0; 256]; a.n_freq + 1];
    for (&s, &lo) in sym.iter().zip(&lowv) {
        lh[(s >> tb) as usize][lo as usize] += 1;
    }
    let coded: f64 = lh.iter().map(ideal_cost).sum();
    let raw = (n * l.low_bits as usize) as f64;
    if coded < raw * 0.97 - 1024.0 {
        out.push(1);
        let lt: Vec<FreqTable> = lh
            .iter()
            .map(|h| table(h, JOINT_BITS))
            .collect::<Result<_>>()?;
        for t in &lt {
            t.write(out);
        }
        let lctx: Vec<u8> = sym.iter().map(|&s| s >> tb).collect();
        put_payload(l, &lowv, &lctx, &lt, out)?;
        low.clear();
    } else {
        out.push(0);
    }
    // Signs: raw bits, unless the columns' shares of negative values pay
    // (embedding dimensions with a non-zero mean): a second rANS pass in
    // the decoder, so only where it saves 3 % of the sign bits or more.
    // Column classes per block of rows: the whole chunk, or blocks of
    // 4096 / 1024 / 256 rows where the signs drift (token embeddings).
    let n_sctx = if grid.is_some() { SIGN_CLASSES } else { 1 };
    // (cost, block rows, stored classes, histograms)
    type SignModel = (f64, usize, Vec<u8>, Vec<Histogram>);
    // Counts per 256-row block and column, merged for the coarser blocks:
    // the histograms follow from the counts, one pass over the signs.
    let mut best: Option<SignModel> = None;
    let fine = grid.map(|g| sign_counts(&signv, g, 256));
    for block_rows in [0usize, 4096, 1024, 256] {
        let (sclass, sh) = match (grid, &fine) {
            (Some(g), Some(fine)) if block_rows == 0 || g.rows(n) > block_rows => {
                let cs = merge_sign_counts(fine, g.row_len, block_rows / 256);
                let mut sh: Vec<Histogram> = vec![[0; 256]; n_sctx];
                let classes: Vec<u8> = cs
                    .iter()
                    .map(|&(neg, k)| {
                        let c = sign_class(neg, k);
                        sh[c as usize][1] += u64::from(neg);
                        sh[c as usize][0] += u64::from(k - neg);
                        c
                    })
                    .collect();
                (classes, sh)
            }
            (None, _) if block_rows == 0 => {
                let neg = signv.iter().map(|&s| u64::from(s)).sum::<u64>();
                let mut h: Histogram = [0; 256];
                h[1] = neg;
                h[0] = n as u64 - neg;
                (Vec::new(), vec![h])
            }
            _ => continue,
        };
        let side = if grid.is_some() {
            ideal_cost(&weightzip_entropy::histogram(&sclass))
        } else {
            0.0
        };
        let coded: f64 = sh.iter().map(ideal_cost).sum::<f64>() + side;
        if best.as_ref().is_none_or(|b| coded < b.0) {
            best = Some((coded, block_rows, sclass, sh));
        }
    }
    let (coded, block_rows, sclass, sh) = best.ok_or_else(|| corrupt(l, 0, "no sign model"))?;
    let sctx = match grid {
        Some(g) => sign_contexts(n, g, &sclass, block_rows),
        None => vec![0u8; n],
    };
    if coded < n as f64 * 0.97 - 1024.0 {
        out.push(1);
        if grid.is_some() {
            write_varint(out, block_rows as u64);
            encode_stream(&sclass, out).in_codec(l.name)?;
        }
        let st: Vec<FreqTable> = sh
            .iter()
            .map(|h| table(h, JOINT_BITS))
            .collect::<Result<_>>()?;
        for t in &st {
            t.write(out);
        }
        put_payload(l, &signv, &sctx, &st, out)?;
    } else {
        out.push(0);
        out.extend_from_slice(&sign);
    }
    out.extend_from_slice(&low);
    Ok(())
}

/// Appends `len: varint` and the multi-table rANS payload of `symbols`.
fn put_payload(
    l: Layout,
    symbols: &[u8],
    ctx: &[u8],
    tables: &[FreqTable],
    out: &mut Vec<u8>,
) -> Result<()> {
    let enc = ContextEncoder::new(tables).in_codec(l.name)?;
    let mut payload = Vec::with_capacity(symbols.len() / 2 + 256);
    ctx_rans::encode(symbols, Contexts::per_symbol(ctx), &enc, &mut payload).in_codec(l.name)?;
    write_varint(out, payload.len() as u64);
    out.extend_from_slice(&payload);
    Ok(())
}

// ---------------------------------------------------------------- decoder

fn corrupt(l: Layout, offset: usize, reason: impl Into<String>) -> CodecError {
    CodecError::Corrupt {
        codec: l.name,
        offset,
        reason: reason.into(),
    }
}

/// Walks the header of the [`weightzip_entropy::stream`] at `pos` and checks
/// that an rANS payload fits in the input before `parse_stream` slices it
/// (its length is bounded there by the bytes left before the length field).
fn check_stream(l: Layout, input: &[u8], mut pos: usize) -> Result<()> {
    if input.get(pos) == Some(&2) {
        pos += 1;
        read_at(input, &mut pos, ByteReader::varint).in_codec(l.name)?;
        read_at(input, &mut pos, FreqTable::read).in_codec(l.name)?;
        let len = read_at(input, &mut pos, ByteReader::varint).in_codec(l.name)?;
        if len > (input.len() - pos) as u64 {
            return Err(corrupt(l, pos, "escape stream longer than the input"));
        }
    }
    Ok(())
}

fn decode_with(l: Layout, input: &[u8], out: &mut [u8]) -> Result<()> {
    let mut pos = 0;
    let n_stored = read_at(input, &mut pos, ByteReader::varint).in_codec(l.name)?;
    let n = out.len() / 2;
    if n_stored != n as u64 {
        return Err(corrupt(
            l,
            0,
            format!("holds {n_stored} elements, the output needs {n}"),
        ));
    }
    let tail_len = out.len() - n * 2;
    if input.get(pos).copied().map(usize::from) != Some(tail_len) {
        return Err(corrupt(l, pos, format!("tail length, expected {tail_len}")));
    }
    pos += 1;
    let tail = input
        .get(pos..pos + tail_len)
        .ok_or_else(|| corrupt(l, pos, "truncated tail"))?;
    out[n * 2..].copy_from_slice(tail);
    pos += tail_len;
    let mode = *input.get(pos).ok_or_else(|| corrupt(l, pos, "no mode"))?;
    pos += 1;
    match mode {
        0 => {
            let body = input
                .get(pos..)
                .filter(|b| b.len() == n * 2)
                .ok_or_else(|| corrupt(l, pos, "stored body has the wrong length"))?;
            out[..n * 2].copy_from_slice(body);
            Ok(())
        }
        1 => decode_coded(l, input, pos, &mut out[..n * 2]),
        2 => (l.fast_decode)(&input[pos..], &mut out[..n * 2]),
        m => Err(corrupt(l, pos - 1, format!("unknown mode {m}"))),
    }
}

/// Reads `len: varint` and that many payload bytes at `*pos`.
fn get_payload<'a>(l: Layout, input: &'a [u8], pos: &mut usize) -> Result<&'a [u8]> {
    let avail = input.len() - *pos;
    let len = read_at(input, pos, |r| r.len(avail, "payload length")).in_codec(l.name)?;
    let p = input
        .get(*pos..*pos + len)
        .ok_or_else(|| corrupt(l, *pos, "truncated payload"))?;
    *pos += len;
    Ok(p)
}

/// Reads `count` tables of `bits` bits whose symbols are below `symbols`.
fn read_tables(
    l: Layout,
    input: &[u8],
    pos: &mut usize,
    count: usize,
    bits: u32,
    symbols: usize,
) -> Result<Vec<FreqTable>> {
    (0..count)
        .map(|_| {
            let at = *pos;
            let t = read_at(input, pos, FreqTable::read).in_codec(l.name)?;
            if t.prob_bits() != bits || t.freqs()[symbols.min(256)..].iter().any(|&f| f > 0) {
                return Err(corrupt(l, at, "table out of range"));
            }
            Ok(t)
        })
        .collect()
}

/// Reads a stream of exactly `n` bytes at `*pos`.
fn read_bytes(l: Layout, input: &[u8], pos: &mut usize, n: usize) -> Result<Vec<u8>> {
    check_stream(l, input, *pos)?;
    let v = read_at(input, pos, |r| parse_stream(r, n)).in_codec(l.name)?;
    let mut out = vec![0u8; n];
    v.decode_into(&mut out).in_codec(l.name)?;
    Ok(out)
}

fn decode_coded(l: Layout, input: &[u8], mut pos: usize, out: &mut [u8]) -> Result<()> {
    let n = out.len() / 2;
    let tb = l.t_bits();
    let row_len =
        read_at(input, &mut pos, |r| r.len(MAX_ROW_LEN, "row length")).in_codec(l.name)?;
    let phase = read_at(input, &mut pos, ByteReader::varint).in_codec(l.name)?;
    if (row_len > 0 && phase >= row_len as u64) || (row_len == 0 && phase != 0) {
        return Err(corrupt(l, pos, "row phase out of range"));
    }
    if row_len > n {
        return Err(corrupt(l, pos, "rows longer than the chunk"));
    }
    let grid = (row_len > 0).then_some(Grid {
        row_len,
        phase: phase as usize,
    });
    let (mut rowq, mut colq) = (Vec::new(), Vec::new());
    if let Some(g) = grid {
        let cols = *input.get(pos).ok_or_else(|| corrupt(l, pos, "truncated"))?;
        pos += 1;
        if cols > 1 || (cols == 1 && row_len > MAX_COL_ROW_LEN) {
            return Err(corrupt(l, pos - 1, "bad column flag"));
        }
        rowq = read_bytes(l, input, &mut pos, g.rows(n))?;
        if cols == 1 {
            colq = read_bytes(l, input, &mut pos, row_len)?;
        }
    }
    let classes = *input.get(pos).ok_or_else(|| corrupt(l, pos, "truncated"))? as usize;
    pos += 1;
    if !(1..=MAX_CLASSES).contains(&classes) || (grid.is_none() && classes != 1) {
        return Err(corrupt(l, pos - 1, format!("{classes} classes")));
    }
    let mut thresholds = Vec::with_capacity(classes - 1);
    for _ in 1..classes {
        let t = read_at(input, &mut pos, |r| r.len(511, "threshold")).in_codec(l.name)? as u32;
        if thresholds.last().is_some_and(|&p| p >= t) {
            return Err(corrupt(l, pos, "thresholds not increasing"));
        }
        thresholds.push(t);
    }
    let hdr = input
        .get(pos..pos + 2)
        .ok_or_else(|| corrupt(l, pos, "truncated"))?;
    let a = Alphabet {
        t_bits: tb,
        e_lo: hdr[0],
        n_freq: hdr[1] as usize,
    };
    pos += 2;
    if a.n_freq == 0
        || a.n_freq > l.max_freq()
        || usize::from(a.e_lo) + a.n_freq > usize::from(l.e_mask) + 1
    {
        return Err(corrupt(l, pos - 2, "exponent range out of bounds"));
    }
    let ef = read_tables(l, input, &mut pos, classes, JOINT_BITS, a.n_freq + 1)?;
    let tf = read_tables(l, input, &mut pos, a.n_freq, TOP_BITS_PREC, 1 << tb)?;
    let joint = joint_tables(a, &ef, &tf)?;
    let dec = ContextDecoder::new(&joint).in_codec(l.name)?;
    let payload = get_payload(l, input, &mut pos)?;
    let ctx = match grid {
        Some(g) => scale_contexts(n, g, &rowq, &colq, &class_lut(&thresholds)),
        None => vec![0u8; n],
    };
    let mut sym = vec![0u8; n];
    ctx_rans::decode(payload, &ctx, &dec, &mut sym).in_codec(l.name)?;
    let esc = a.esc();
    let n_esc = sym.iter().filter(|&&s| s == esc).count();
    check_stream(l, input, pos)?;
    let esc_e = read_at(input, &mut pos, |r| parse_stream(r, n_esc)).in_codec(l.name)?;
    check_stream(l, input, pos)?;
    let esc_t = read_at(input, &mut pos, |r| parse_stream(r, n_esc)).in_codec(l.name)?;
    let low_mode = *input.get(pos).ok_or_else(|| corrupt(l, pos, "truncated"))?;
    pos += 1;
    let mut low_coded = Vec::new();
    match low_mode {
        0 => {}
        1 => {
            let lt = read_tables(
                l,
                input,
                &mut pos,
                a.n_freq + 1,
                JOINT_BITS,
                1 << l.low_bits,
            )?;
            let ldec = ContextDecoder::new(&lt).in_codec(l.name)?;
            let lpay = get_payload(l, input, &mut pos)?;
            let lctx: Vec<u8> = sym.iter().map(|&s| (s >> tb).min(a.n_freq as u8)).collect();
            low_coded = vec![0u8; n];
            ctx_rans::decode(lpay, &lctx, &ldec, &mut low_coded).in_codec(l.name)?;
        }
        m => return Err(corrupt(l, pos - 1, format!("unknown low-bit mode {m}"))),
    }
    let sign_mode = *input.get(pos).ok_or_else(|| corrupt(l, pos, "truncated"))?;
    pos += 1;
    let mut sign_coded = Vec::new();
    match sign_mode {
        0 => {}
        1 => {
            let sctx = match grid {
                Some(g) => {
                    let block_rows = read_at(input, &mut pos, |r| r.len(g.rows(n), "sign block"))
                        .in_codec(l.name)?;
                    let count = g.row_len * sign_blocks(n, g, block_rows);
                    let mut c = read_bytes(l, input, &mut pos, count)?;
                    for x in c.iter_mut() {
                        *x = (*x).min(SIGN_CLASSES as u8 - 1);
                    }
                    sign_contexts(n, g, &c, block_rows)
                }
                None => vec![0u8; n],
            };
            let count = if grid.is_some() { SIGN_CLASSES } else { 1 };
            let st = read_tables(l, input, &mut pos, count, JOINT_BITS, 2)?;
            let sdec = ContextDecoder::new(&st).in_codec(l.name)?;
            let spay = get_payload(l, input, &mut pos)?;
            let mut signs = vec![0u8; n];
            ctx_rans::decode(spay, &sctx, &sdec, &mut signs).in_codec(l.name)?;
            // Pack into the raw layout the join reads.
            sign_coded = vec![0u8; n.div_ceil(8)];
            for (b, s8) in sign_coded.iter_mut().zip(signs.chunks(8)) {
                *b = s8
                    .iter()
                    .enumerate()
                    .fold(0, |acc, (j, &s)| acc | ((s & 1) << j));
            }
        }
        m => return Err(corrupt(l, pos - 1, format!("unknown sign mode {m}"))),
    }
    let sign_len = if sign_mode == 0 { n.div_ceil(8) } else { 0 };
    let low_len = if low_mode == 0 { l.low_plane_len(n) } else { 0 };
    let rest = input
        .get(pos..)
        .filter(|b| b.len() == sign_len + low_len)
        .ok_or_else(|| corrupt(l, pos, "sign and low-bit planes have the wrong length"))?;
    let (sign, low) = rest.split_at(sign_len);
    let sign: &[u8] = if sign_mode == 1 { &sign_coded } else { sign };
    // Per-element low bits (one byte each) when they were coded.
    let low: &[u8] = if low_mode == 1 { &low_coded } else { low };
    let low_mask = ((1u16 << l.low_bits) - 1) as u8;
    let packed = low_mode == 0 && l.low_bits == 4;

    // Values without the escapes' exponent and top bits.
    let mut base = [0u16; 256];
    for (s, b) in base.iter_mut().enumerate() {
        let k = s >> tb;
        if k < a.n_freq {
            *b = ((u16::from(a.e_lo) + k as u16) << l.e_shift)
                | (((s & ((1 << tb) - 1)) as u16) << l.low_bits);
        }
    }
    let blocks = n / 8;
    if packed {
        for (((o, s8), l4), &sg) in out[..blocks * 16]
            .chunks_exact_mut(16)
            .zip(sym.chunks_exact(8))
            .zip(low.chunks_exact(4))
            .zip(sign)
        {
            for j in 0..8 {
                let lo = (l4[j / 2] >> ((j & 1) * 4)) & 0xf;
                let v = base[s8[j] as usize] | (u16::from((sg >> j) & 1) << 15) | u16::from(lo);
                o[2 * j..2 * j + 2].copy_from_slice(&v.to_le_bytes());
            }
        }
    } else {
        for (((o, s8), l8), &sg) in out[..blocks * 16]
            .chunks_exact_mut(16)
            .zip(sym.chunks_exact(8))
            .zip(low.chunks_exact(8))
            .zip(sign)
        {
            for j in 0..8 {
                let v = base[s8[j] as usize]
                    | (u16::from((sg >> j) & 1) << 15)
                    | u16::from(l8[j] & low_mask);
                o[2 * j..2 * j + 2].copy_from_slice(&v.to_le_bytes());
            }
        }
    }
    for i in blocks * 8..n {
        let lo = if packed {
            (low[i / 2] >> ((i & 1) * 4)) & 0xf
        } else {
            low[i] & low_mask
        };
        let v =
            base[sym[i] as usize] | (u16::from((sign[i / 8] >> (i % 8)) & 1) << 15) | u16::from(lo);
        out[2 * i..2 * i + 2].copy_from_slice(&v.to_le_bytes());
    }
    if n_esc > 0 {
        let mut ee = vec![0u8; n_esc];
        let mut et = vec![0u8; n_esc];
        esc_e.decode_into(&mut ee).in_codec(l.name)?;
        esc_t.decode_into(&mut et).in_codec(l.name)?;
        let mut patches = ee.iter().zip(&et);
        let mut patch = |i: usize, out: &mut [u8]| {
            if let Some((&pe, &pt)) = patches.next() {
                let add = ((u16::from(pe) & l.e_mask) << l.e_shift)
                    | ((u16::from(pt) & ((1 << tb) - 1)) << l.low_bits);
                let o = &mut out[2 * i..2 * i + 2];
                let v = u16::from_le_bytes([o[0], o[1]]) | add;
                o.copy_from_slice(&v.to_le_bytes());
            }
        };
        // Escapes are rare: skip 8 symbols at a time unless one of them is ESC.
        let pattern = u64::from_ne_bytes([esc; 8]);
        let mut words = sym.chunks_exact(8);
        for (b, w) in (&mut words).enumerate() {
            let x = u64::from_ne_bytes([w[0], w[1], w[2], w[3], w[4], w[5], w[6], w[7]]) ^ pattern;
            if x.wrapping_sub(0x0101_0101_0101_0101) & !x & 0x8080_8080_8080_8080 != 0 {
                for (j, &s) in w.iter().enumerate() {
                    if s == esc {
                        patch(b * 8 + j, out);
                    }
                }
            }
        }
        let rest = n - words.remainder().len();
        for (j, &s) in words.remainder().iter().enumerate() {
            if s == esc {
                patch(rest + j, out);
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn noisy(n: usize, seed: u64) -> Vec<u8> {
        let mut x = seed | 1;
        let mut v = Vec::with_capacity(2 * n);
        for i in 0..n {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            // Row scale varies every 256 elements; a few escapes.
            let scale = 118 + ((i / 256) % 5) as u16;
            let e = if x.is_multiple_of(97) {
                (x >> 40) as u16 & 0xff
            } else {
                scale - (x % 16).trailing_zeros().min(6) as u16
            };
            let val = ((x >> 20) as u16 & 0x807f) | (e << 7);
            v.extend_from_slice(&val.to_le_bytes());
        }
        v
    }

    type Enc = fn(&[u8], Option<usize>, &mut Vec<u8>) -> Result<()>;
    type Dec = fn(&[u8], &mut [u8]) -> Result<()>;
    const CODECS: [(Enc, Dec); 2] = [(bf16::encode, bf16::decode), (fp16::encode, fp16::decode)];

    #[test]
    fn round_trips_and_finds_rows() {
        for n in [0usize, 1, 2, 7, 8, 9, 33, 200, 5000, 40_000] {
            let mut data = noisy(n, n as u64 + 1);
            data.push(7);
            for hint in [None, Some(256), Some(100)] {
                for (enc, dec) in CODECS {
                    let mut buf = Vec::new();
                    enc(&data, hint, &mut buf).unwrap();
                    let mut back = vec![0u8; data.len()];
                    dec(&buf, &mut back).unwrap();
                    assert_eq!(back, data, "n={n} hint={hint:?}");
                }
            }
        }
    }

    /// Column-biased signs and zero low bits (values widened from a
    /// narrower format) switch on the coded sign and low-bit planes.
    #[test]
    fn coded_sign_and_low_planes_round_trip() {
        let rows = 300;
        let cols = 256;
        let mut x = 0x1234_5678_9abc_def1u64;
        let mut data = Vec::new();
        for _ in 0..rows {
            for c in 0..cols {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                let neg = (x % 16) < if c % 3 == 0 { 1 } else { 12 };
                let e = 120 - (x >> 8 & 15).trailing_zeros().min(5) as u16;
                let v = (u16::from(neg) << 15) | (e << 7) | ((x >> 30) as u16 & 0x70);
                data.extend_from_slice(&v.to_le_bytes());
            }
        }
        for (enc, dec) in CODECS {
            let mut buf = Vec::new();
            enc(&data, Some(cols), &mut buf).unwrap();
            assert!(buf.len() < data.len() * 6 / 16, "{}", buf.len());
            let mut back = vec![0u8; data.len()];
            dec(&buf, &mut back).unwrap();
            assert_eq!(back, data);
            for cut in (0..buf.len()).step_by(53) {
                assert!(dec(&buf[..cut], &mut back).is_err());
            }
            for i in (0..buf.len()).step_by(11) {
                let mut bad = buf.clone();
                bad[i] ^= 0x41;
                let _ = dec(&bad, &mut back);
            }
        }
    }

    #[test]
    fn every_bit_pattern_round_trips() {
        let data: Vec<u8> = (0..=u16::MAX).flat_map(|v| v.to_le_bytes()).collect();
        for (enc, dec) in CODECS {
            let mut buf = Vec::new();
            enc(&data, Some(256), &mut buf).unwrap();
            let mut back = vec![0u8; data.len()];
            dec(&buf, &mut back).unwrap();
            assert_eq!(back, data);
        }
    }
}
