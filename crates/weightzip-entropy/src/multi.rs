//! Multi-table static rANS with a context byte per symbol, decoded with
//! SIMD gathers.
//!
//! The construction is the one of [`crate::rans`]: [`LANES`] interleaved
//! states in `[2^16, 2^32)` over one shared stream of 16-bit words, symbol
//! `i` in lane `i % LANES`, encoder backwards, decoder forwards. The
//! difference: symbol `i` is coded with table `ctx[i]`, where `ctx` is a byte
//! array the caller computes from data the decoder already has (a block
//! header decoded earlier, a position) and hands to both sides. Because the
//! contexts are known before decoding starts, a SIMD decoder gathers each
//! lane's slot from its own table: `index = ctx << bits | (x & mask)`.
//!
//! Payload layout (as `rans`): [`LANES`] final encoder states (u32 LE),
//! then the words (u16 LE) in decode order. Every state starts and ends at
//! [`RANS_L`], so a decoder that ends elsewhere has seen corrupt data.
//!
//! Tables share one precision of at most [`MAX_BITS`] bits; the decoder
//! packs each slot into one u32, `(freq - 1) << 20 | bias << 8 | symbol`
//! (16 KiB per 12-bit table). [`product_table`] builds the table of a byte
//! made of two 4-bit halves from the tables of the halves, which is how the
//! GGUF codecs code two 4-bit quants with one symbol.

use crate::error::{corrupt, truncated, EntropyError, Result};
use crate::rans::Kernel;
use crate::table::{FreqTable, MIN_PROB_BITS};

/// Number of interleaved rANS states.
pub const LANES: usize = 32;
/// Lower bound of the normalised state interval.
pub const RANS_L: u32 = 1 << 16;
/// Bytes of the state header at the start of every payload.
pub const STATE_BYTES: usize = LANES * 4;
/// Highest table precision (the packed slot needs `bias < 2^12`).
pub const MAX_BITS: u32 = 12;
/// Most bytes of words one group of [`LANES`] symbols can read.
#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
const GROUP_WINDOW: usize = LANES * 2;

#[derive(Clone, Copy, Debug, Default)]
struct EncSym {
    freq: u32,
    start: u32,
}

/// Encoder tables of every context.
#[derive(Clone, Debug)]
pub struct MultiEncoder {
    bits: u32,
    syms: Vec<[EncSym; 256]>,
}

/// Decoder tables of every context, packed one u32 per slot.
#[derive(Clone, Debug)]
pub struct MultiDecoder {
    bits: u32,
    count: usize,
    packed: Vec<u32>,
}

fn shared_bits(tables: &[FreqTable]) -> Result<u32> {
    let bits = tables
        .first()
        .map(|t| t.prob_bits())
        .ok_or_else(|| EntropyError::InvalidArgument("no tables".into()))?;
    if !(MIN_PROB_BITS..=MAX_BITS).contains(&bits) {
        return Err(EntropyError::InvalidArgument(format!(
            "table precision {bits} outside {MIN_PROB_BITS}..={MAX_BITS}"
        )));
    }
    if tables.iter().any(|t| t.prob_bits() != bits) {
        return Err(EntropyError::InvalidArgument(
            "context tables differ in precision".into(),
        ));
    }
    if tables.len() > 256 {
        return Err(EntropyError::InvalidArgument(format!(
            "{} tables do not fit a context byte",
            tables.len()
        )));
    }
    Ok(bits)
}

impl MultiEncoder {
    /// Encoder for `tables` (context `c` codes with `tables[c]`); all share
    /// one precision in `MIN_PROB_BITS..=MAX_BITS`, at most 256 tables.
    pub fn new(tables: &[FreqTable]) -> Result<Self> {
        let bits = shared_bits(tables)?;
        let syms = tables
            .iter()
            .map(|t| {
                let mut e = [EncSym::default(); 256];
                let mut start = 0;
                for (s, &f) in e.iter_mut().zip(t.freqs().iter()) {
                    *s = EncSym { freq: f, start };
                    start += f;
                }
                e
            })
            .collect();
        Ok(Self { bits, syms })
    }

    /// Number of contexts.
    pub fn len(&self) -> usize {
        self.syms.len()
    }

    /// True when there are no tables (never, by construction).
    pub fn is_empty(&self) -> bool {
        self.syms.is_empty()
    }
}

impl MultiDecoder {
    /// Decoder for `tables`, see [`MultiEncoder::new`].
    pub fn new(tables: &[FreqTable]) -> Result<Self> {
        let bits = shared_bits(tables)?;
        let slots = 1usize << bits;
        // Each symbol's run of slots starts with an unconditional write of
        // 8 entries (one or two vector stores); the next run overwrites what
        // spilled past the run's end, the slack after the last table takes
        // the last spill. Short runs (most of a product table's) then cost
        // no loop remainder.
        const SPILL: usize = 8;
        let ramp: [u32; SPILL] = std::array::from_fn(|k| (k as u32) << 8);
        let mut packed = vec![0u32; slots * tables.len() + SPILL];
        let mut start = 0usize;
        for t in tables {
            for (s, &f) in t.freqs().iter().enumerate() {
                if f == 0 {
                    continue;
                }
                let base = ((f - 1) << 20) | s as u32;
                let head = &mut packed[start..start + SPILL];
                for (slot, &r) in head.iter_mut().zip(&ramp) {
                    *slot = base | r;
                }
                let end = start + f as usize;
                for (bias, slot) in packed[start..end].iter_mut().enumerate().skip(SPILL) {
                    *slot = base | (bias as u32) << 8;
                }
                start = end;
            }
        }
        packed.truncate(slots * tables.len());
        Ok(Self {
            bits,
            count: tables.len(),
            packed,
        })
    }

    /// Number of contexts.
    pub fn len(&self) -> usize {
        self.count
    }

    /// True when there are no tables (never, by construction).
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }
}

/// The context of every symbol: `bytes[i >> shift]` for symbol `i` (one
/// byte per symbol with `shift = 0`, one per run of `2^shift` symbols
/// otherwise, which saves building and reading a byte per symbol when a
/// whole sub-block shares its context).
#[derive(Clone, Copy, Debug)]
pub struct Contexts<'a> {
    /// The context bytes.
    pub bytes: &'a [u8],
    /// log2 of the symbols per context byte.
    pub shift: u32,
    /// Marks instead of contexts, see [`Contexts::marks`].
    pub marks: bool,
}

impl<'a> Contexts<'a> {
    /// One context byte per symbol.
    pub fn per_symbol(bytes: &'a [u8]) -> Self {
        Self {
            bytes,
            shift: 0,
            marks: false,
        }
    }

    /// One context byte per run of `2^shift` symbols.
    pub fn runs(bytes: &'a [u8], shift: u32) -> Self {
        Self {
            bytes,
            shift,
            marks: false,
        }
    }

    /// Context 0 for every symbol.
    pub fn constant() -> Contexts<'static> {
        Contexts {
            bytes: &[0],
            shift: usize::BITS - 1,
            marks: false,
        }
    }

    /// One mark byte `m` per group of [`LANES`] symbols: if `m < 64`, the
    /// symbol at position `m & 31` of the group has context `1 + (m >> 5)`
    /// (1 or 2), every other symbol context 0; a mark of 64 or more marks
    /// nothing. For one distinguished symbol per group (the ±127 quant of a
    /// Q8_0 block) without a context byte per symbol.
    pub fn marks(bytes: &'a [u8]) -> Self {
        Self {
            bytes,
            shift: 5,
            marks: true,
        }
    }

    /// The context of symbol `i` (panics if it has none).
    #[inline]
    pub fn get(&self, i: usize) -> u8 {
        let b = self.bytes[i >> self.shift];
        if self.marks {
            u8::from(b < 64 && usize::from(b & 31) == i % LANES) * (1 + (b >> 5))
        } else {
            b
        }
    }

    /// Checks that `n` symbols have contexts, all below `count`.
    fn check(&self, n: usize, count: usize) -> Result<()> {
        if self.shift >= usize::BITS || (self.marks && self.shift != 5) {
            return Err(EntropyError::InvalidArgument(format!(
                "context run of 2^{} symbols",
                self.shift
            )));
        }
        if self.marks {
            let needed = n.div_ceil(LANES);
            if self.bytes.len() < needed {
                return Err(EntropyError::LengthMismatch {
                    expected: needed,
                    found: self.bytes.len(),
                });
            }
            if count < 3 {
                return Err(EntropyError::InvalidArgument(format!(
                    "marks need 3 tables, only {count}"
                )));
            }
            return Ok(());
        }
        let needed = n.div_ceil(1 << self.shift);
        let used = self
            .bytes
            .get(..needed)
            .ok_or(EntropyError::LengthMismatch {
                expected: needed,
                found: self.bytes.len(),
            })?;
        // `max` over bytes vectorises; the position is only looked up on error.
        let max = used.iter().copied().max().unwrap_or(0);
        if usize::from(max) >= count {
            let at = used
                .iter()
                .position(|&c| usize::from(c) >= count)
                .unwrap_or(0);
            return Err(EntropyError::InvalidArgument(format!(
                "context {max} at context byte {at}, only {count} tables"
            )));
        }
        Ok(())
    }
}

/// Appends the payload of `symbols` (symbol `i` coded with the table of
/// its context). Fails, leaving `out` unchanged, if a symbol has frequency
/// 0 in its table or a context has no table.
pub fn encode(
    symbols: &[u8],
    ctx: Contexts<'_>,
    enc: &MultiEncoder,
    out: &mut Vec<u8>,
) -> Result<()> {
    encode_range(symbols, 0..symbols.len(), ctx, enc, out)
}

/// Appends the payload of `symbols[range]`, symbol `i` (an index into the
/// whole `symbols`) coded with the table of context `ctx.get(i)`: one part
/// of a stream cut into parts that [`decode_parts`] decodes side by side.
pub fn encode_range(
    symbols: &[u8],
    range: std::ops::Range<usize>,
    ctx: Contexts<'_>,
    enc: &MultiEncoder,
    out: &mut Vec<u8>,
) -> Result<()> {
    if range.start > range.end || range.end > symbols.len() {
        return Err(EntropyError::InvalidArgument(format!(
            "range {range:?} outside {} symbols",
            symbols.len()
        )));
    }
    ctx.check(range.end, enc.syms.len())?;
    let bits = enc.bits;
    let mut states = [RANS_L; LANES];
    let mut words: Vec<u16> = Vec::with_capacity(range.len() / 2 + 16);
    for i in range.clone().rev() {
        let c = ctx.get(i);
        let e = enc.syms[usize::from(c)][usize::from(symbols[i])];
        if e.freq == 0 {
            return Err(EntropyError::InvalidArgument(format!(
                "symbol {} has frequency 0 in table {c}",
                symbols[i]
            )));
        }
        let x = &mut states[(i - range.start) % LANES];
        // x >= freq << (32 - bits): one flush brings x below the bound.
        if (*x >> (32 - bits)) >= e.freq {
            words.push(*x as u16);
            *x >>= 16;
        }
        *x = ((*x / e.freq) << bits) + (*x % e.freq) + e.start;
    }
    out.reserve(STATE_BYTES + words.len() * 2);
    for s in states {
        out.extend_from_slice(&s.to_le_bytes());
    }
    for w in words.iter().rev() {
        out.extend_from_slice(&w.to_le_bytes());
    }
    Ok(())
}

/// Exact size in bytes of the payload [`encode`] would write, without
/// keeping it (for choosing between table sets).
pub fn encoded_len(symbols: &[u8], ctx: Contexts<'_>, enc: &MultiEncoder) -> Result<usize> {
    let mut out = Vec::new();
    encode(symbols, ctx, enc, &mut out)?;
    Ok(out.len())
}

/// Decodes `out.len()` symbols (symbol `i` with table `ctx[i]`) from
/// exactly one payload `input`.
pub fn decode(input: &[u8], ctx: &[u8], dec: &MultiDecoder, out: &mut [u8]) -> Result<()> {
    decode_with(input, ctx, dec, out, Kernel::best())
}

/// [`decode`] with an explicit kernel (falls back to a supported one).
pub fn decode_with(
    input: &[u8],
    ctx: &[u8],
    dec: &MultiDecoder,
    out: &mut [u8],
    kernel: Kernel,
) -> Result<()> {
    if ctx.len() != out.len() {
        return Err(EntropyError::LengthMismatch {
            expected: out.len(),
            found: ctx.len(),
        });
    }
    let n = out.len();
    decode_placed(
        input,
        n,
        Contexts::per_symbol(ctx),
        dec,
        out,
        Placement::CONTIGUOUS,
        kernel,
    )
}

/// Where decoded symbols go in the output: symbol `i` at
/// `(i / run) * stride + offset + i % run`, so that runs of symbols land in
/// fixed-size records (e.g. the 32 quants of each 34-byte Q8_0 block)
/// without a copy. The bytes between runs are left as they are.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Placement {
    /// Symbols per record (a multiple of 16 for the SIMD kernels).
    pub run: usize,
    /// Bytes per record (`offset + run <= stride`).
    pub stride: usize,
    /// Where the run starts inside its record.
    pub offset: usize,
}

impl Placement {
    /// Symbol `i` at byte `i`.
    pub const CONTIGUOUS: Placement = Placement {
        run: 16,
        stride: 16,
        offset: 0,
    };

    #[inline]
    fn index(self, i: usize) -> usize {
        (i / self.run) * self.stride + self.offset + i % self.run
    }

    /// Checks that `n` symbols fit `out_len` bytes without overlapping.
    fn check(self, n: usize, out_len: usize) -> Result<()> {
        let ok = self.run > 0
            && self
                .offset
                .checked_add(self.run)
                .is_some_and(|e| e <= self.stride)
            && (n == 0
                || (n - 1)
                    .checked_div(self.run)
                    .and_then(|r| r.checked_mul(self.stride))
                    .and_then(|b| b.checked_add(self.offset + (n - 1) % self.run))
                    .is_some_and(|last| last < out_len));
        if ok {
            Ok(())
        } else {
            Err(EntropyError::InvalidArgument(format!(
                "{n} symbols placed as {self:?} do not fit {out_len} bytes"
            )))
        }
    }
}

/// Decodes `n` symbols (each with the table of its context) from exactly
/// one payload `input`, writing them into `out` as `place` says.
pub fn decode_placed(
    input: &[u8],
    n: usize,
    ctx: Contexts<'_>,
    dec: &MultiDecoder,
    out: &mut [u8],
    place: Placement,
    kernel: Kernel,
) -> Result<()> {
    let range = 0..n;
    decode_parts(
        &[input],
        std::slice::from_ref(&range),
        ctx,
        dec,
        out,
        place,
        kernel,
    )
}

/// Most parts [`decode_parts`] decodes side by side.
pub const MAX_PARTS: usize = 4;

/// Decodes a stream cut into parts: part `k` is the payload `inputs[k]` of
/// the symbols `ranges[k]` (written by [`encode_range`]). The ranges must
/// follow each other from 0 and start at multiples of [`LANES`]. The SIMD
/// kernels decode the parts in lock step, which hides the latency of each
/// part's gather → multiply → refill chain behind the others'.
pub fn decode_parts(
    inputs: &[&[u8]],
    ranges: &[std::ops::Range<usize>],
    ctx: Contexts<'_>,
    dec: &MultiDecoder,
    out: &mut [u8],
    place: Placement,
    kernel: Kernel,
) -> Result<()> {
    if inputs.len() != ranges.len() || inputs.is_empty() || inputs.len() > MAX_PARTS {
        return Err(EntropyError::InvalidArgument(format!(
            "{} payloads for {} ranges (1..={MAX_PARTS})",
            inputs.len(),
            ranges.len()
        )));
    }
    let mut next = 0;
    for r in ranges {
        if r.start != next || r.end < r.start || r.start % LANES != 0 {
            return Err(EntropyError::InvalidArgument(format!(
                "part {r:?} does not follow at a multiple of {LANES} from {next}"
            )));
        }
        next = r.end;
    }
    let n = next;
    place.check(n, out.len())?;
    ctx.check(n, dec.count)?;
    if dec.packed.len() != dec.count << dec.bits {
        return Err(EntropyError::InvalidArgument(
            "decode tables are incomplete".into(),
        ));
    }
    let mut parts = Vec::with_capacity(inputs.len());
    for (input, r) in inputs.iter().zip(ranges) {
        parts.push(Part::new(input, r.clone())?);
    }
    simd(kernel, &mut parts, ctx, dec, out, place);
    for p in &mut parts {
        scalar(p, ctx, dec, out, place)?;
        p.finish()?;
    }
    Ok(())
}

/// One payload being decoded: lane states, read position in its words,
/// and the symbols it still has to produce.
struct Part<'a> {
    states: [u32; LANES],
    words: &'a [u8],
    pos: usize,
    next: usize,
    end: usize,
}

impl<'a> Part<'a> {
    fn new(input: &'a [u8], range: std::ops::Range<usize>) -> Result<Self> {
        if input.len() < STATE_BYTES {
            return Err(truncated("rANS states", 0, STATE_BYTES, input.len()));
        }
        let (state_bytes, words) = input.split_at(STATE_BYTES);
        let mut states = [0u32; LANES];
        for (lane, (s, b)) in states
            .iter_mut()
            .zip(state_bytes.chunks_exact(4))
            .enumerate()
        {
            *s = u32::from_le_bytes([b[0], b[1], b[2], b[3]]);
            if *s < RANS_L {
                return Err(corrupt(
                    lane * 4,
                    format!("rANS lane {lane} state {s:#x} below 2^16"),
                ));
            }
        }
        Ok(Self {
            states,
            words,
            pos: 0,
            next: range.start,
            end: range.end,
        })
    }

    /// Whole groups left.
    #[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
    fn groups(&self) -> usize {
        (self.end - self.next) / LANES
    }

    /// Checks that the payload was consumed exactly.
    fn finish(&self) -> Result<()> {
        if self.pos != self.words.len() {
            return Err(corrupt(
                STATE_BYTES + self.pos,
                format!(
                    "{} bytes left over after the last rANS symbol",
                    self.words.len() - self.pos
                ),
            ));
        }
        if let Some(lane) = self.states.iter().position(|&s| s != RANS_L) {
            return Err(corrupt(
                0,
                format!("rANS lane {lane} did not return to its initial state"),
            ));
        }
        Ok(())
    }
}

/// Runs the SIMD kernels: all parts in lock step while each has whole
/// groups and a full word window, then each part alone; the scalar code
/// finishes what is left.
fn simd(
    kernel: Kernel,
    parts: &mut [Part<'_>],
    ctx: Contexts<'_>,
    dec: &MultiDecoder,
    out: &mut [u8],
    place: Placement,
) {
    #[cfg(target_arch = "x86_64")]
    {
        if !place.run.is_multiple_of(16) || matches!(ctx.shift, 1 | 2) {
            return;
        }
        let kernel = if kernel.is_supported() {
            kernel
        } else {
            Kernel::Scalar
        };
        let run = |parts: &mut [Part<'_>], out: &mut [u8]| match (kernel, parts.len()) {
            // SAFETY (all arms): the CPU has the features (checked above);
            // every context of symbols below n is below `dec.count` and
            // the table holds `count << bits` entries (checked by
            // `decode_parts`), so every gather index is inside it; `place`
            // puts every symbol below n inside `out` in runs of a multiple
            // of 16; each part decodes only whole groups of its own range;
            // the kernel checks every part's word window per group.
            (Kernel::Avx512, 1) => unsafe { x86::avx512::<1>(parts, ctx, dec, out, place) },
            (Kernel::Avx512, _) => unsafe { x86::avx512::<2>(parts, ctx, dec, out, place) },
            (Kernel::Avx2, _) => unsafe { x86::avx2::<1>(parts, ctx, dec, out, place) },
            (Kernel::Scalar, _) => {}
        };
        // AVX-512 runs parts two at a time in lock step (four spill
        // registers: slower); AVX2 has too few registers for even two.
        if kernel == Kernel::Avx512 {
            for pair in parts.chunks_mut(2).filter(|p| p.len() == 2) {
                run(pair, out);
            }
        }
        for p in parts.iter_mut() {
            run(std::slice::from_mut(p), out);
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let _ = (kernel, parts, ctx, dec, out, place);
    }
}

/// Portable decoder for what is left of a part.
fn scalar(
    p: &mut Part<'_>,
    ctx: Contexts<'_>,
    dec: &MultiDecoder,
    out: &mut [u8],
    place: Placement,
) -> Result<()> {
    let bits = dec.bits;
    let mask = (1u32 << bits) - 1;
    let packed = &dec.packed[..];
    while p.next < p.end {
        let i = p.next;
        let len = (p.end - i).min(LANES);
        let mut xs = [0u32; LANES];
        for (lane, xl) in xs.iter_mut().enumerate().take(len) {
            let x = p.states[lane];
            let e = packed[(usize::from(ctx.get(i + lane)) << bits) | (x & mask) as usize];
            out[place.index(i + lane)] = e as u8;
            *xl = ((e >> 20) + 1) * (x >> bits) + ((e >> 8) & 0xfff);
        }
        for (lane, &x) in xs.iter().enumerate().take(len) {
            let x = if x < RANS_L {
                let w = p.words.get(p.pos..p.pos + 2).ok_or_else(|| {
                    truncated(
                        "rANS word",
                        STATE_BYTES + p.pos,
                        2,
                        p.words.len().saturating_sub(p.pos),
                    )
                })?;
                p.pos += 2;
                (x << 16) | u32::from(u16::from_le_bytes([w[0], w[1]]))
            } else {
                x
            };
            p.states[lane] = x;
        }
        p.next += len;
    }
    Ok(())
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    //! AVX-512 (two registers of 16 lanes per part) and AVX2 (four of 8)
    //! kernels over `K` parts in lock step. One step of a register:
    //! `index = ctx << bits | (x & mask)`, gather the packed entries, store
    //! the symbol bytes, `x = freq * (x >> bits) + bias`, and refill the
    //! lanes below 2^16 with the next words in lane order (`vpexpandd` on
    //! AVX-512, a permutation table on AVX2).

    use std::arch::x86_64::*;

    use super::{Contexts, MultiDecoder, Part, Placement, GROUP_WINDOW, LANES, RANS_L};

    /// Contexts of the 16 lanes from symbol `at` (a multiple of 16), each
    /// shifted left by `bits`: one byte per lane (`shift = 0`), two bytes
    /// for the two halves (`shift = 3`), one byte for all lanes (`shift >=
    /// 4`), or a mark byte (see [`Contexts::marks`]).
    ///
    /// # Safety
    /// AVX-512F; `ctx` covers symbols `at..at + 16`; `shift` is not 1 or 2.
    #[inline]
    #[target_feature(enable = "avx512f")]
    unsafe fn ctx16(ctx: Contexts<'_>, at: usize, bits: __m128i) -> __m512i {
        let p = ctx.bytes.as_ptr();
        let v = match ctx.shift {
            // SAFETY: 16 bytes at `at` are contexts of symbols at..at + 16.
            0 => _mm512_cvtepu8_epi32(unsafe { _mm_loadu_si128(p.add(at).cast()) }),
            3 => {
                // SAFETY: bytes at >> 3 and (at >> 3) + 1 cover the 16 symbols.
                let (c0, c1) = unsafe { (*p.add(at >> 3), *p.add((at >> 3) + 1)) };
                let lo = _mm256_set1_epi32(i32::from(c0));
                let hi = _mm256_set1_epi32(i32::from(c1));
                _mm512_inserti64x4::<1>(_mm512_castsi256_si512(lo), hi)
            }
            // SAFETY: mark byte at >> 5 covers the 16 symbols.
            5 if ctx.marks => {
                let m = unsafe { *p.add(at >> 5) };
                let hit = m < 64 && usize::from((m & 31) >> 4) == (at >> 4) & 1;
                let lane = u16::from(hit) << (m & 15);
                _mm512_maskz_set1_epi32(lane, i32::from(1 + (m >> 5)))
            }
            // SAFETY: byte at >> shift covers the 16 symbols (shift >= 4).
            s => _mm512_set1_epi32(i32::from(unsafe { *p.add(at >> s) })),
        };
        _mm512_sll_epi32(v, bits)
    }

    /// # Safety
    /// AVX-512F must be available; `parts.len() == K`; every context of
    /// the parts' symbols must be below `dec.count`, whose table holds
    /// `count << bits` entries; `ctx` must cover every part's symbols with
    /// a shift other than 1 and 2; `place` (whose run is a multiple of 16)
    /// must put each of them inside `out`.
    #[target_feature(enable = "avx512f,popcnt")]
    pub(super) unsafe fn avx512<const K: usize>(
        parts: &mut [Part<'_>],
        ctx: Contexts<'_>,
        dec: &MultiDecoder,
        out: &mut [u8],
        place: Placement,
    ) {
        let lv = _mm512_set1_epi32(RANS_L as i32);
        let m12 = _mm512_set1_epi32(0xfff);
        let one = _mm512_set1_epi32(1);
        let mask = _mm512_set1_epi32(((1u32 << dec.bits) - 1) as i32);
        let shift = _mm_cvtsi32_si128(dec.bits as i32);
        let table: *const i32 = dec.packed.as_ptr().cast();
        let groups = parts.iter().map(|p| p.groups()).min().unwrap_or(0);
        let mut s = [[_mm512_setzero_si512(); 2]; K];
        let mut pos = [0usize; K];
        let mut at = [0usize; K];
        let mut base = [0usize; K];
        let mut rp = [0usize; K];
        for k in 0..K {
            let p = &parts[k];
            // SAFETY: `states` holds 32 u32: two unaligned 64-byte loads.
            s[k] = unsafe {
                [
                    _mm512_loadu_si512(p.states.as_ptr().cast()),
                    _mm512_loadu_si512(p.states.as_ptr().add(16).cast()),
                ]
            };
            pos[k] = p.pos;
            at[k] = p.next;
            base[k] = (p.next / place.run) * place.stride + place.offset;
            rp[k] = p.next % place.run;
        }
        let mut g = 0;
        'groups: while g < groups {
            for k in 0..K {
                if pos[k] + GROUP_WINDOW > parts[k].words.len() {
                    break 'groups;
                }
            }
            for k in 0..K {
                let wp = parts[k].words.as_ptr();
                for state in s[k].iter_mut() {
                    let x = *state;
                    // SAFETY: symbols at..at + 16 are in this part's range.
                    let c = unsafe { ctx16(ctx, at[k], shift) };
                    let idx = _mm512_or_si512(c, _mm512_and_si512(x, mask));
                    // SAFETY: ctx < count and slot < 2^bits: inside the table.
                    let e = unsafe { _mm512_i32gather_epi32::<4>(idx, table) };
                    // SAFETY: symbols at..at + 16 are one piece of a run,
                    // at base + rp.., inside `out` by the placement check.
                    unsafe {
                        _mm_storeu_si128(
                            out.as_mut_ptr().add(base[k] + rp[k]).cast(),
                            _mm512_cvtepi32_epi8(e),
                        )
                    };
                    at[k] += 16;
                    rp[k] += 16;
                    if rp[k] == place.run {
                        rp[k] = 0;
                        base[k] += place.stride;
                    }
                    let freq = _mm512_add_epi32(_mm512_srli_epi32::<20>(e), one);
                    let bias = _mm512_and_si512(_mm512_srli_epi32::<8>(e), m12);
                    let xn = _mm512_add_epi32(
                        _mm512_mullo_epi32(freq, _mm512_srl_epi32(x, shift)),
                        bias,
                    );
                    let refill = _mm512_cmplt_epu32_mask(xn, lv);
                    // SAFETY: pos is at most 32 bytes past the group's
                    // start, whose 64-byte window lies inside the words.
                    let w =
                        unsafe { _mm512_cvtepu16_epi32(_mm256_loadu_si256(wp.add(pos[k]).cast())) };
                    let w = _mm512_maskz_expand_epi32(refill, w);
                    *state = _mm512_or_si512(_mm512_mask_slli_epi32(xn, refill, xn, 16), w);
                    pos[k] += 2 * refill.count_ones() as usize;
                }
            }
            g += 1;
        }
        for k in 0..K {
            let p = &mut parts[k];
            // SAFETY: `states` holds 32 u32.
            unsafe {
                _mm512_storeu_si512(p.states.as_mut_ptr().cast(), s[k][0]);
                _mm512_storeu_si512(p.states.as_mut_ptr().add(16).cast(), s[k][1]);
            }
            p.pos = pos[k];
            p.next += g * LANES;
        }
    }

    // Refill permutations: lane `i` of 8 takes word `popcount(mask & ((1 << i) - 1))`.
    use crate::rans::x86::REFILL_PERMUTATIONS as REFILL;

    /// # Safety
    /// As [`avx512`], with AVX2.
    #[target_feature(enable = "avx2,popcnt")]
    pub(super) unsafe fn avx2<const K: usize>(
        parts: &mut [Part<'_>],
        ctx: Contexts<'_>,
        dec: &MultiDecoder,
        out: &mut [u8],
        place: Placement,
    ) {
        let bias_flip = _mm256_set1_epi32(i32::MIN);
        let lv = _mm256_set1_epi32((RANS_L as i32) ^ i32::MIN);
        let m12 = _mm256_set1_epi32(0xfff);
        let one = _mm256_set1_epi32(1);
        let mask = _mm256_set1_epi32(((1u32 << dec.bits) - 1) as i32);
        let shift = _mm_cvtsi32_si128(dec.bits as i32);
        // Byte 0 of each dword to the low 4 bytes of each 128-bit half.
        let pick = _mm256_setr_epi8(
            0, 4, 8, 12, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, 0, 4, 8, 12, -1, -1, -1,
            -1, -1, -1, -1, -1, -1, -1, -1, -1,
        );
        let table: *const i32 = dec.packed.as_ptr().cast();
        let cp = ctx.bytes.as_ptr();
        let iota = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
        let groups = parts.iter().map(|p| p.groups()).min().unwrap_or(0);
        let mut s = [[_mm256_setzero_si256(); 4]; K];
        let mut pos = [0usize; K];
        let mut at = [0usize; K];
        let mut base = [0usize; K];
        let mut rp = [0usize; K];
        for k in 0..K {
            let p = &parts[k];
            for (q, v) in s[k].iter_mut().enumerate() {
                // SAFETY: `states` holds 32 u32: four unaligned 32-byte loads.
                *v = unsafe { _mm256_loadu_si256(p.states.as_ptr().add(q * 8).cast()) };
            }
            pos[k] = p.pos;
            at[k] = p.next;
            base[k] = (p.next / place.run) * place.stride + place.offset;
            rp[k] = p.next % place.run;
        }
        let mut g = 0;
        'groups: while g < groups {
            for k in 0..K {
                if pos[k] + GROUP_WINDOW > parts[k].words.len() {
                    break 'groups;
                }
            }
            for k in 0..K {
                let wp = parts[k].words.as_ptr();
                for state in s[k].iter_mut() {
                    let x = *state;
                    let c = if ctx.shift == 0 {
                        // SAFETY: symbols at..at + 8 are in this part's range.
                        _mm256_cvtepu8_epi32(unsafe { _mm_loadl_epi64(cp.add(at[k]).cast()) })
                    } else if ctx.marks {
                        // SAFETY: mark byte at >> 5 covers the 8 symbols.
                        let m = unsafe { *cp.add(at[k] >> 5) };
                        let hit = m < 64 && usize::from((m & 31) >> 3) == (at[k] >> 3) & 3;
                        let lane = _mm256_set1_epi32(if hit { i32::from(m & 7) } else { -1 });
                        let eq = _mm256_cmpeq_epi32(lane, iota);
                        _mm256_and_si256(eq, _mm256_set1_epi32(i32::from(1 + (m >> 5))))
                    } else {
                        // SAFETY: byte at >> shift covers the 8 symbols (shift >= 3).
                        _mm256_set1_epi32(i32::from(unsafe { *cp.add(at[k] >> ctx.shift) }))
                    };
                    let idx =
                        _mm256_or_si256(_mm256_sll_epi32(c, shift), _mm256_and_si256(x, mask));
                    // SAFETY: ctx < count and slot < 2^bits: inside the table.
                    let e = unsafe { _mm256_i32gather_epi32::<4>(table, idx) };
                    let sy = _mm256_shuffle_epi8(e, pick);
                    let sy = _mm_unpacklo_epi32(
                        _mm256_castsi256_si128(sy),
                        _mm256_extracti128_si256::<1>(sy),
                    );
                    // SAFETY: symbols at..at + 8 are one piece of a run, at
                    // base + rp.., inside `out` by the placement check.
                    unsafe { _mm_storel_epi64(out.as_mut_ptr().add(base[k] + rp[k]).cast(), sy) };
                    at[k] += 8;
                    rp[k] += 8;
                    if rp[k] == place.run {
                        rp[k] = 0;
                        base[k] += place.stride;
                    }
                    let freq = _mm256_add_epi32(_mm256_srli_epi32::<20>(e), one);
                    let bias = _mm256_and_si256(_mm256_srli_epi32::<8>(e), m12);
                    let xn = _mm256_add_epi32(
                        _mm256_mullo_epi32(freq, _mm256_srl_epi32(x, shift)),
                        bias,
                    );
                    // Unsigned x < 2^16 as a signed compare of both sides flipped.
                    let need = _mm256_cmpgt_epi32(lv, _mm256_xor_si256(xn, bias_flip));
                    let m = _mm256_movemask_ps(_mm256_castsi256_ps(need)) as usize;
                    // SAFETY: pos is at most 48 bytes past the group's
                    // start, whose 64-byte window lies inside the words.
                    let w =
                        unsafe { _mm256_cvtepu16_epi32(_mm_loadu_si128(wp.add(pos[k]).cast())) };
                    let perm = _mm256_loadu_si256(REFILL[m & 0xff].as_ptr().cast());
                    let w = _mm256_permutevar8x32_epi32(w, perm);
                    let refilled = _mm256_or_si256(_mm256_slli_epi32::<16>(xn), w);
                    *state = _mm256_blendv_epi8(xn, refilled, need);
                    pos[k] += 2 * m.count_ones() as usize;
                }
            }
            g += 1;
        }
        for k in 0..K {
            let p = &mut parts[k];
            for (q, v) in s[k].iter().enumerate() {
                // SAFETY: `states` holds 32 u32.
                unsafe { _mm256_storeu_si256(p.states.as_mut_ptr().add(q * 8).cast(), *v) };
            }
            p.pos = pos[k];
            p.next += g * LANES;
        }
    }
}

/// The table of a byte `lo | hi << 4` whose halves are independent with
/// the 16-symbol distributions `lo` and `hi` (symbols above 15 must have
/// frequency 0), quantised to `bits` bits.
///
/// Deterministic integer arithmetic (encoder and decoder build the same
/// table): each present pair gets `max(1, round(f_lo * f_hi * 2^bits /
/// 2^(b_lo + b_hi)))`, then the excess or shortfall is taken from or given
/// to the pairs one unit each per pass, never taking a pair below 1, in the
/// order of the sum of the halves' frequency ranks (the 16 symbols of each
/// half sorted by decreasing frequency, ties by symbol; cells of equal rank
/// sum by the rank of the low half).
pub fn product_table(lo: &FreqTable, hi: &FreqTable, bits: u32) -> Result<FreqTable> {
    if !(MIN_PROB_BITS..=MAX_BITS).contains(&bits) {
        return Err(EntropyError::InvalidArgument(format!(
            "product precision {bits} outside {MIN_PROB_BITS}..={MAX_BITS}"
        )));
    }
    if lo.freqs()[16..]
        .iter()
        .chain(&hi.freqs()[16..])
        .any(|&f| f > 0)
    {
        return Err(EntropyError::InvalidArgument(
            "product halves must be 4-bit distributions".into(),
        ));
    }
    let in_bits = lo.prob_bits() + hi.prob_bits();
    let mut f = [0u32; 256];
    for h in 0..16 {
        for l in 0..16 {
            let p = u64::from(lo.freqs()[l]) * u64::from(hi.freqs()[h]);
            if p > 0 {
                let scaled = if in_bits >= bits {
                    let sh = in_bits - bits;
                    (p + ((1u64 << sh) >> 1)) >> sh
                } else {
                    p << (bits - in_bits)
                };
                f[l | h << 4] = scaled.max(1) as u32;
            }
        }
    }
    let target = 1i64 << bits;
    let mut sum: i64 = f.iter().map(|&x| i64::from(x)).sum();
    if sum != target {
        // Cells roughly from the most to the least probable: the halves'
        // symbols sorted by frequency, cells by the sum of their ranks.
        let rank = |t: &FreqTable| {
            let mut r: Vec<usize> = (0..16).collect();
            r.sort_by(|&a, &b| t.freqs()[b].cmp(&t.freqs()[a]).then(a.cmp(&b)));
            r
        };
        let (rl, rh) = (rank(lo), rank(hi));
        let mut order = Vec::with_capacity(256);
        for diag in 0..31usize {
            for i in diag.saturating_sub(15)..=diag.min(15) {
                let s = rl[i] | rh[diag - i] << 4;
                if f[s] > 0 {
                    order.push(s);
                }
            }
        }
        while sum != target {
            let before = sum;
            for &s in &order {
                if sum > target && f[s] > 1 {
                    f[s] -= 1;
                    sum -= 1;
                } else if sum < target {
                    f[s] += 1;
                    sum += 1;
                }
                if sum == target {
                    break;
                }
            }
            if sum == before {
                return Err(EntropyError::InvalidArgument(
                    "product table does not fit its precision".into(),
                ));
            }
        }
    }
    FreqTable::from_freqs(f, bits)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::histogram::histogram;
    use crate::rans::ALL_KERNELS;

    fn rng(seed: u64) -> impl FnMut() -> u64 {
        let mut x = seed | 1;
        move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        }
    }

    /// Symbols whose distribution depends on the context, and the tables.
    fn sample(n: usize, nctx: usize, bits: u32, seed: u64) -> (Vec<u8>, Vec<u8>, Vec<FreqTable>) {
        let mut r = rng(seed);
        let ctx: Vec<u8> = (0..n).map(|_| (r() % nctx as u64) as u8).collect();
        let sym: Vec<u8> = ctx
            .iter()
            .map(|&c| {
                let s: u64 = (0..4).map(|_| r() % 40).sum();
                (s as u8).wrapping_add(c.wrapping_mul(23))
            })
            .collect();
        let tables = (0..nctx)
            .map(|c| {
                let mut h = [0u64; 256];
                for (&s, &cx) in sym.iter().zip(&ctx) {
                    if usize::from(cx) == c {
                        h[usize::from(s)] += 1;
                    }
                }
                h[0] += 1;
                FreqTable::from_counts(&h, bits).unwrap()
            })
            .collect();
        (sym, ctx, tables)
    }

    #[test]
    fn every_kernel_round_trips_every_length() {
        for n in [0usize, 1, 31, 32, 33, 64, 65, 100, 1000, 4097, 20_000] {
            for (nctx, bits) in [(1, 12), (5, 11), (16, 10)] {
                let (sym, ctx, tables) = sample(n, nctx, bits, n as u64 + 7);
                let mut payload = Vec::new();
                encode(
                    &sym,
                    Contexts::per_symbol(&ctx),
                    &MultiEncoder::new(&tables).unwrap(),
                    &mut payload,
                )
                .unwrap();
                let dec = MultiDecoder::new(&tables).unwrap();
                for k in ALL_KERNELS {
                    let mut back = vec![0u8; n];
                    decode_with(&payload, &ctx, &dec, &mut back, k).unwrap();
                    assert_eq!(back, sym, "n {n} ctx {nctx} kernel {}", k.name());
                }
            }
        }
    }

    #[test]
    fn placed_output_matches_contiguous() {
        let (sym, ctx, tables) = sample(32 * 70 + 20, 3, 12, 9);
        let mut payload = Vec::new();
        encode(
            &sym,
            Contexts::per_symbol(&ctx),
            &MultiEncoder::new(&tables).unwrap(),
            &mut payload,
        )
        .unwrap();
        let dec = MultiDecoder::new(&tables).unwrap();
        for (run, stride, offset) in [(32, 34, 2), (128, 144, 16), (16, 22, 6), (20, 21, 1)] {
            let place = Placement {
                run,
                stride,
                offset,
            };
            let records = sym.len().div_ceil(run);
            for k in ALL_KERNELS {
                let mut out = vec![0xEEu8; records * stride];
                decode_placed(
                    &payload,
                    sym.len(),
                    Contexts::per_symbol(&ctx),
                    &dec,
                    &mut out,
                    place,
                    k,
                )
                .unwrap();
                for (i, &s) in sym.iter().enumerate() {
                    assert_eq!(out[place.index(i)], s);
                }
                let placed: usize = out.iter().filter(|&&b| b == 0xEE).count();
                assert!(placed <= records * stride - sym.len());
                let short = &mut out[..records * stride - stride + offset];
                assert!(decode_placed(
                    &payload,
                    sym.len(),
                    Contexts::per_symbol(&ctx),
                    &dec,
                    short,
                    place,
                    k
                )
                .is_err());
            }
        }
    }

    #[test]
    fn run_contexts_match_per_symbol_contexts() {
        for shift in 0..=6u32 {
            for n in [0usize, 5, 32, 100, 32 * 41 + 3] {
                let (sym, _, tables) = sample(n, 6, 11, u64::from(shift) * 100 + n as u64);
                let runs: Vec<u8> = (0..n.div_ceil(1 << shift))
                    .map(|k| (k * 5 % 6) as u8)
                    .collect();
                let per: Vec<u8> = (0..n).map(|i| runs[i >> shift]).collect();
                // Symbols must be codable under their run's table: re-draw them.
                let sym: Vec<u8> = sym
                    .iter()
                    .zip(&per)
                    .map(|(&s, &c)| {
                        if tables[usize::from(c)].freqs()[usize::from(s)] > 0 {
                            s
                        } else {
                            0
                        }
                    })
                    .collect();
                let enc = MultiEncoder::new(&tables).unwrap();
                let mut a = Vec::new();
                encode(&sym, Contexts::runs(&runs, shift), &enc, &mut a).unwrap();
                let mut b = Vec::new();
                encode(&sym, Contexts::per_symbol(&per), &enc, &mut b).unwrap();
                assert_eq!(a, b);
                let dec = MultiDecoder::new(&tables).unwrap();
                for k in ALL_KERNELS {
                    let mut out = vec![0u8; n];
                    let ctx = Contexts::runs(&runs, shift);
                    decode_placed(&a, n, ctx, &dec, &mut out, Placement::CONTIGUOUS, k).unwrap();
                    assert_eq!(out, sym, "shift {shift} n {n} kernel {}", k.name());
                }
                if !runs.is_empty() {
                    let short = Contexts::runs(&runs[..runs.len() - 1], shift);
                    let mut out = vec![0u8; n];
                    assert!(decode_placed(
                        &a,
                        n,
                        short,
                        &dec,
                        &mut out,
                        Placement::CONTIGUOUS,
                        Kernel::Scalar
                    )
                    .is_err());
                }
            }
        }
    }

    #[test]
    fn marks_match_per_symbol_contexts() {
        for n in [0usize, 31, 32, 33, 32 * 77 + 5, 32 * 300] {
            let marks: Vec<u8> = (0..n.div_ceil(32)).map(|g| (g * 37 % 80) as u8).collect();
            let ctx = Contexts::marks(&marks);
            let per: Vec<u8> = (0..n).map(|i| ctx.get(i)).collect();
            let (sym, _, tables) = sample(n, 3, 12, n as u64 + 3);
            let sym: Vec<u8> = sym
                .iter()
                .zip(&per)
                .map(|(&s, &c)| {
                    if tables[usize::from(c)].freqs()[usize::from(s)] > 0 {
                        s
                    } else {
                        0
                    }
                })
                .collect();
            let enc = MultiEncoder::new(&tables).unwrap();
            let mut a = Vec::new();
            encode(&sym, ctx, &enc, &mut a).unwrap();
            let mut b = Vec::new();
            encode(&sym, Contexts::per_symbol(&per), &enc, &mut b).unwrap();
            assert_eq!(a, b);
            let dec = MultiDecoder::new(&tables).unwrap();
            for k in ALL_KERNELS {
                let mut out = vec![0u8; n];
                decode_placed(&a, n, ctx, &dec, &mut out, Placement::CONTIGUOUS, k).unwrap();
                assert_eq!(out, sym, "n {n} kernel {}", k.name());
            }
        }
    }

    #[test]
    fn parts_decode_side_by_side() {
        let n = 32 * 300 + 17;
        let (sym, ctx, tables) = sample(n, 4, 12, 21);
        let enc = MultiEncoder::new(&tables).unwrap();
        let dec = MultiDecoder::new(&tables).unwrap();
        let ctx = Contexts::per_symbol(&ctx);
        for cuts in [
            vec![],
            vec![32 * 150],
            vec![32 * 10, 32 * 200],
            vec![32, 64, 32 * 299],
        ] {
            let mut bounds = vec![0];
            bounds.extend(&cuts);
            bounds.push(n);
            let ranges: Vec<_> = bounds.windows(2).map(|w| w[0]..w[1]).collect();
            let payloads: Vec<Vec<u8>> = ranges
                .iter()
                .map(|r| {
                    let mut p = Vec::new();
                    encode_range(&sym, r.clone(), ctx, &enc, &mut p).unwrap();
                    p
                })
                .collect();
            let inputs: Vec<&[u8]> = payloads.iter().map(|p| &p[..]).collect();
            for k in ALL_KERNELS {
                let mut out = vec![0u8; n];
                let place = Placement::CONTIGUOUS;
                decode_parts(&inputs, &ranges, ctx, &dec, &mut out, place, k).unwrap();
                assert_eq!(out, sym, "{} parts, kernel {}", ranges.len(), k.name());
                if inputs.len() > 1 {
                    let mut swapped = inputs.clone();
                    swapped.swap(0, 1);
                    let r = decode_parts(&swapped, &ranges, ctx, &dec, &mut out, place, k);
                    assert!(r.is_err() || out != sym);
                }
            }
        }
        let mut out = vec![0u8; n];
        let bad = [0..33, 33..n];
        let p = [&[][..], &[][..]];
        assert!(decode_parts(
            &p,
            &bad,
            ctx,
            &dec,
            &mut out,
            Placement::CONTIGUOUS,
            Kernel::Scalar
        )
        .is_err());
    }

    #[test]
    fn one_table_matches_the_plain_coder() {
        let (sym, _, tables) = sample(5000, 1, 12, 3);
        let ctx = vec![0u8; sym.len()];
        let mut a = Vec::new();
        encode(
            &sym,
            Contexts::per_symbol(&ctx),
            &MultiEncoder::new(&tables).unwrap(),
            &mut a,
        )
        .unwrap();
        let mut b = Vec::new();
        crate::rans::encode(&sym, &crate::EncodeTable::new(&tables[0]), &mut b).unwrap();
        assert_eq!(a, b);
    }

    #[test]
    fn rejects_bad_contexts_and_corrupt_payloads() {
        let (sym, ctx, tables) = sample(3000, 4, 12, 5);
        let enc = MultiEncoder::new(&tables).unwrap();
        let mut payload = Vec::new();
        encode(&sym, Contexts::per_symbol(&ctx), &enc, &mut payload).unwrap();
        let dec = MultiDecoder::new(&tables).unwrap();
        let mut back = vec![0u8; sym.len()];
        let mut bad_ctx = ctx.clone();
        bad_ctx[100] = 4;
        assert!(decode(&payload, &bad_ctx, &dec, &mut back).is_err());
        assert!(encode(&sym, Contexts::per_symbol(&bad_ctx), &enc, &mut Vec::new()).is_err());
        for k in ALL_KERNELS {
            for cut in [0, 1, STATE_BYTES, payload.len() / 2, payload.len() - 1] {
                assert!(decode_with(&payload[..cut], &ctx, &dec, &mut back, k).is_err());
            }
            let mut longer = payload.clone();
            longer.extend_from_slice(&[0, 0]);
            assert!(decode_with(&longer, &ctx, &dec, &mut back, k).is_err());
            for i in (0..payload.len()).step_by(61) {
                let mut bad = payload.clone();
                bad[i] ^= 0x24;
                if decode_with(&bad, &ctx, &dec, &mut back, k).is_ok() {
                    assert_ne!(back, sym, "flip at {i} went unnoticed");
                }
            }
        }
    }

    #[test]
    fn product_tables_sum_exactly_and_track_the_product() {
        let mut r = rng(11);
        for trial in 0..200 {
            let mut hl = [0u64; 256];
            let mut hh = [0u64; 256];
            for s in 0..16 {
                hl[s] = if r().is_multiple_of(5) { 0 } else { r() % 1000 };
                hh[s] = if r().is_multiple_of(7) {
                    0
                } else {
                    r() % 50 + 1
                };
            }
            hl[trial % 16] += 1;
            let lo = FreqTable::from_counts(&hl, 8 + (trial % 5) as u32).unwrap();
            let hi = FreqTable::from_counts(&hh, 12).unwrap();
            for bits in [8, 10, 12] {
                let p = product_table(&lo, &hi, bits).unwrap();
                let sum: u32 = p.freqs().iter().sum();
                assert_eq!(sum, 1 << bits);
                for s in 0..256 {
                    let present = lo.freqs()[s & 15] > 0 && hi.freqs()[s >> 4] > 0;
                    assert_eq!(p.freqs()[s] > 0, present);
                }
                // Deterministic.
                assert_eq!(p, product_table(&lo, &hi, bits).unwrap());
            }
        }
        let h = histogram(&[1, 2, 3]);
        let t = FreqTable::from_counts(&h, 12).unwrap();
        let wide = FreqTable::from_counts(&histogram(&[1, 200]), 12).unwrap();
        assert!(product_table(&t, &wide, 12).is_err());
    }
}
