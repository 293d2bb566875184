//! Static order-0 rANS with [`LANES`] interleaved states over one shared
//! stream of 16-bit words (the "rans_word" construction).
//!
//! Symbol `i` belongs to lane `i % LANES`. The encoder walks the symbols
//! backwards and the decoder forwards, so the decoder reads words in exactly
//! the order it needs them, and lanes that are independent in the decoder
//! let the CPU (or SIMD lanes) overlap their table lookups.
//!
//! Payload layout: `LANES` final encoder states (u32 LE, lane order), then
//! the words (u16 LE) in decode order. Every state starts and ends at
//! [`RANS_L`], so a decoder that ends elsewhere has seen corrupt data.
//!
//! State invariants: states live in `[RANS_L, 2^32)`. With precision
//! `p <= 15` a decode step leaves the state at `>= 2^(16-p) >= 2`, so one
//! 16-bit refill always restores the invariant: exactly zero or one word per
//! symbol, which keeps the decode loop branch-free.
//!
//! # Kernels
//!
//! The hot loops exist in several implementations ([`Kernel`]): portable
//! scalar code, AVX2 (8 lanes per register, `vpgatherdd` table lookups and a
//! permutation table for the refill) and AVX-512 (16 lanes per register,
//! `vpexpandd` for the refill). They produce identical output and errors;
//! [`Kernel::best`] picks the fastest one the CPU supports at run time. A
//! group of 32 symbols takes the fast path only when the 64 bytes it may
//! read are in the payload, so no kernel reads out of bounds; the last
//! groups of a payload run the checked scalar code.
//!
//! [`Decoder`] decodes a payload block by block (no allocation, resumable),
//! and [`decode_pair`] runs two payloads in lock step, which gives the CPU
//! twice as many independent dependency chains to overlap.

use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::OnceLock;

use crate::error::{corrupt, truncated, EntropyError, Result};
use crate::table::{DecodeTable, EncodeTable, FastEncodeSymbol, RCP_SHIFT};
pub use crate::words::WordSink;

#[cfg(target_arch = "x86_64")]
#[path = "rans_x86.rs"]
pub(crate) mod x86;

/// Number of interleaved rANS states.
pub const LANES: usize = 32;
/// Lower bound of the normalised state interval.
pub const RANS_L: u32 = 1 << 16;
/// Bytes of the state header at the start of every payload.
pub const STATE_BYTES: usize = LANES * 4;
/// Bytes of words one group of [`LANES`] symbols reads at most.
const GROUP_WINDOW: usize = LANES * 2;

/// An implementation of the coding loops. All produce identical bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Kernel {
    /// Portable code, any CPU.
    Scalar,
    /// x86-64 with AVX2 (8 states per register).
    Avx2,
    /// x86-64 with AVX-512 F/BW/VL (16 states per register).
    Avx512,
}

/// Every kernel, slowest first.
pub const ALL_KERNELS: [Kernel; 3] = [Kernel::Scalar, Kernel::Avx2, Kernel::Avx512];

/// 0 = no preference set by [`Kernel::set_preferred`], else `kernel as u8 + 1`.
static PREFERRED: AtomicU8 = AtomicU8::new(0);

impl Kernel {
    /// The name used by `WEIGHTZIP_KERNEL` and in benchmark output.
    pub fn name(self) -> &'static str {
        match self {
            Kernel::Scalar => "scalar",
            Kernel::Avx2 => "avx2",
            Kernel::Avx512 => "avx512",
        }
    }

    /// The kernel called `name`.
    pub fn from_name(name: &str) -> Option<Kernel> {
        ALL_KERNELS.into_iter().find(|k| k.name() == name)
    }

    /// Whether this CPU can run the kernel.
    pub fn is_supported(self) -> bool {
        match self {
            Kernel::Scalar => true,
            #[cfg(target_arch = "x86_64")]
            Kernel::Avx2 => {
                std::arch::is_x86_feature_detected!("avx2")
                    && std::arch::is_x86_feature_detected!("fma")
                    && std::arch::is_x86_feature_detected!("popcnt")
            }
            #[cfg(target_arch = "x86_64")]
            Kernel::Avx512 => {
                Kernel::Avx2.is_supported()
                    && std::arch::is_x86_feature_detected!("avx512f")
                    && std::arch::is_x86_feature_detected!("avx512bw")
                    && std::arch::is_x86_feature_detected!("avx512vl")
            }
            #[cfg(not(target_arch = "x86_64"))]
            _ => false,
        }
    }

    /// The kernels this CPU runs, slowest first.
    pub fn supported() -> Vec<Kernel> {
        ALL_KERNELS
            .into_iter()
            .filter(|k| k.is_supported())
            .collect()
    }

    /// The kernel used by [`encode`], [`decode`] and the codecs: the one set
    /// by [`Kernel::set_preferred`], else the fastest supported one, capped
    /// by the environment variable `WEIGHTZIP_KERNEL` (`scalar`, `avx2`,
    /// `avx512`) when it is set.
    pub fn best() -> Kernel {
        match PREFERRED.load(Ordering::Relaxed) {
            0 => detected(),
            k => ALL_KERNELS[usize::from(k - 1)],
        }
    }

    /// Makes [`Kernel::best`] return `kernel` (if supported) for the whole
    /// process, or restores detection with `None`. For benchmarks.
    pub fn set_preferred(kernel: Option<Kernel>) {
        let v = match kernel {
            Some(k) if k.is_supported() => k as u8 + 1,
            _ => 0,
        };
        PREFERRED.store(v, Ordering::Relaxed);
    }

    /// This kernel if the CPU supports it, else the best supported one below it.
    fn or_supported(self) -> Kernel {
        let mut k = self;
        while !k.is_supported() {
            k = match k {
                Kernel::Avx512 => Kernel::Avx2,
                _ => Kernel::Scalar,
            };
        }
        k
    }
}

fn detected() -> Kernel {
    static DETECTED: OnceLock<Kernel> = OnceLock::new();
    *DETECTED.get_or_init(|| {
        let cap = std::env::var("WEIGHTZIP_KERNEL")
            .ok()
            .and_then(|v| Kernel::from_name(v.trim()))
            .unwrap_or(Kernel::Avx512);
        cap.or_supported()
    })
}

/// Appends the rANS payload of `symbols` coded with `table` to `out`.
///
/// Fails if a symbol has frequency 0 in the table (then `out` is unchanged).
pub fn encode(symbols: &[u8], table: &EncodeTable, out: &mut Vec<u8>) -> Result<()> {
    encode_with(symbols, table, out, Kernel::best())
}

thread_local! {
    /// Word scratch of the encoder, reused across calls (no allocation or
    /// zeroing per call once it has grown).
    static ENCODE_WORDS: std::cell::RefCell<Vec<u16>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// [`encode`] with an explicit kernel (falls back to a supported one).
pub fn encode_with(
    symbols: &[u8],
    table: &EncodeTable,
    out: &mut Vec<u8>,
    kernel: Kernel,
) -> Result<()> {
    encode_then(symbols, table, kernel, |payload| payload.write_to(out))
}

/// Codes `symbols` with `table` and hands the payload to `f` before it is
/// copied anywhere (so a caller can write its length first).
pub fn encode_then<R>(
    symbols: &[u8],
    table: &EncodeTable,
    kernel: Kernel,
    f: impl FnOnce(Payload<'_>) -> R,
) -> Result<R> {
    ENCODE_WORDS.with(|cell| {
        let mut scratch = cell.borrow_mut();
        // A symbol emits at most one word (the SIMD kernels rely on it too).
        if scratch.len() < symbols.len() {
            scratch.resize(symbols.len(), 0);
        }
        let mut enc = EncodeState::new(symbols, table, &mut scratch);
        let groups = enc.groups_left;
        enc.groups(groups, kernel.or_supported());
        Ok(f(enc.finish()?))
    })
}

/// A coded payload held by the encoder, ready to be written out.
pub struct Payload<'s> {
    states: [u32; LANES],
    /// The words in the order the encoder emitted them (last needed first).
    words: &'s [u16],
}

impl Payload<'_> {
    /// Size in bytes of the payload.
    pub fn len(&self) -> usize {
        STATE_BYTES + self.words.len() * 2
    }

    /// Always false: a payload holds at least the lane states.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// Appends the payload (the bytes [`encode`] would append).
    pub fn write_to(&self, out: &mut Vec<u8>) {
        out.reserve(self.len());
        for s in self.states {
            out.extend_from_slice(&s.to_le_bytes());
        }
        let mut buf = [0u8; 256];
        for block in self.words.rchunks(128) {
            let n = block.len();
            for (o, w) in buf.chunks_exact_mut(2).zip(block.iter().rev()) {
                o.copy_from_slice(&w.to_le_bytes());
            }
            out.extend_from_slice(&buf[..n * 2]);
        }
    }
}

/// Codes two symbol streams at once, in lock step where the kernel gains
/// from it (twice the independent work per loop iteration), and hands both
/// payloads to `f` — each identical to what [`encode`] makes of its stream.
pub fn encode_pair<R>(
    a: &[u8],
    table_a: &EncodeTable,
    b: &[u8],
    table_b: &EncodeTable,
    kernel: Kernel,
    f: impl FnOnce(Payload<'_>, Payload<'_>) -> R,
) -> Result<R> {
    let kernel = kernel.or_supported();
    ENCODE_WORDS.with(|cell| {
        let mut scratch = cell.borrow_mut();
        if scratch.len() < a.len() + b.len() {
            scratch.resize(a.len() + b.len(), 0);
        }
        let (words_a, words_b) = scratch.split_at_mut(a.len());
        let mut ea = EncodeState::new(a, table_a, words_a);
        let mut eb = EncodeState::new(b, table_b, &mut words_b[..b.len()]);
        #[cfg(target_arch = "x86_64")]
        if kernel == Kernel::Avx512 && ea.simd_ok() && eb.simd_ok() {
            // The extra groups of the longer stream alone, the rest together.
            let common = ea.groups_left.min(eb.groups_left);
            let (extra_a, extra_b) = (ea.groups_left - common, eb.groups_left - common);
            ea.groups(extra_a, kernel);
            eb.groups(extra_b, kernel);
            x86::encode_groups_avx512::<2>([&mut ea, &mut eb], common);
        }
        let (ga, gb) = (ea.groups_left, eb.groups_left);
        ea.groups(ga, kernel);
        eb.groups(gb, kernel);
        let (pa, pb) = (ea.finish()?, eb.finish()?);
        Ok(f(pa, pb))
    })
}

/// Codes the symbols of two runs of 16-bit little-endian values — each
/// value's symbol is that of its key `value >> shift` in a
/// [`KeyedEncodeTable`] — exactly as [`encode_pair`] codes the symbol
/// planes, without materialising them.
pub fn encode_pair_keyed<R>(
    values_a: &[u8],
    table_a: &KeyedEncodeTable,
    values_b: &[u8],
    table_b: &KeyedEncodeTable,
    kernel: Kernel,
    f: impl FnOnce(Payload<'_>, Payload<'_>) -> R,
) -> Result<R> {
    let kernel = kernel.or_supported();
    let (na, nb) = (values_a.len() / 2, values_b.len() / 2);
    ENCODE_WORDS.with(|cell| {
        let mut scratch = cell.borrow_mut();
        if scratch.len() < na + nb {
            scratch.resize(na + nb, 0);
        }
        let (words_a, words_b) = scratch.split_at_mut(na);
        let mut ea = EncodeState::keyed(&values_a[..na * 2], table_a, words_a);
        let mut eb = EncodeState::keyed(&values_b[..nb * 2], table_b, &mut words_b[..nb]);
        #[cfg(target_arch = "x86_64")]
        if kernel == Kernel::Avx512 && ea.simd_ok() && eb.simd_ok() {
            let common = ea.groups_left.min(eb.groups_left);
            let (extra_a, extra_b) = (ea.groups_left - common, eb.groups_left - common);
            ea.groups(extra_a, kernel);
            eb.groups(extra_b, kernel);
            x86::encode_groups_avx512::<2>([&mut ea, &mut eb], common);
        }
        let (ga, gb) = (ea.groups_left, eb.groups_left);
        ea.groups(ga, kernel);
        eb.groups(gb, kernel);
        let (pa, pb) = (ea.finish()?, eb.finish()?);
        Ok(f(pa, pb))
    })
}

/// An encoder table looked up by a key of each 16-bit value (`value >>
/// shift`) instead of by a symbol byte.
#[derive(Clone, Debug)]
pub struct KeyedEncodeTable {
    prob_bits: u32,
    shift: u32,
    fast: Vec<FastEncodeSymbol>,
    start_freq: Vec<u32>,
    slot_of_rank: Option<Vec<u32>>,
}

impl KeyedEncodeTable {
    /// `symbol_of_key[k]` is the symbol (in `table`) of the values whose key
    /// is `k`, or any value above 255 for keys without a symbol (coding
    /// such a value is an error). Its length must be `2^(16 - shift)`.
    pub fn new(table: &EncodeTable, symbol_of_key: &[u16], shift: u32) -> Result<Self> {
        if shift > 15 || symbol_of_key.len() != 1 << (16 - shift) {
            return Err(EntropyError::InvalidArgument(format!(
                "{} keys for a shift of {shift}",
                symbol_of_key.len()
            )));
        }
        let none = FastEncodeSymbol::default();
        let fast: Vec<FastEncodeSymbol> = symbol_of_key
            .iter()
            .map(|&s| table.fast.get(usize::from(s)).copied().unwrap_or(none))
            .collect();
        let start_freq = fast.iter().map(|f| f.start_freq).collect();
        Ok(Self {
            prob_bits: table.prob_bits,
            shift,
            fast,
            start_freq,
            slot_of_rank: table.slot_of_rank.clone(),
        })
    }
}

/// The tables an [`EncodeState`] codes with.
struct StateTables<'s> {
    fast: &'s [FastEncodeSymbol],
    start_freq: &'s [u32],
    slot_of_rank: Option<&'s [u32]>,
    prob_bits: u32,
}

/// One stream being coded from its last symbol to its first.
pub(crate) struct EncodeState<'s> {
    /// The symbol bytes, or the 16-bit values whose keys are the symbols.
    pub(crate) input: &'s [u8],
    /// `Some(shift)`: `input` holds 16-bit values, keys `value >> shift`.
    pub(crate) key_shift: Option<u32>,
    /// Symbols to code.
    pub(crate) len: usize,
    /// Per key: the division-free entry and `start | freq << 16`.
    pub(crate) fast: &'s [FastEncodeSymbol],
    #[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
    pub(crate) start_freq: &'s [u32],
    /// The alias layout's slots by rank, if the table has that layout.
    pub(crate) slot_of_rank: Option<&'s [u32]>,
    pub(crate) prob_bits: u32,
    pub(crate) states: [u32; LANES],
    /// Room for one word per symbol.
    pub(crate) words: &'s mut [u16],
    /// Words written so far.
    pub(crate) wp: usize,
    /// Whether a symbol with frequency 0 was met.
    pub(crate) absent: bool,
    /// Whole groups not coded yet (the first `groups_left` of the symbols).
    pub(crate) groups_left: usize,
}

impl<'s> EncodeState<'s> {
    /// Starts coding symbol bytes. `words` must hold `symbols.len()` words.
    fn new(symbols: &'s [u8], table: &'s EncodeTable, words: &'s mut [u16]) -> Self {
        let tables = StateTables {
            fast: &table.fast,
            start_freq: &table.start_freq,
            slot_of_rank: table.slot_of_rank.as_deref(),
            prob_bits: table.prob_bits,
        };
        Self::start(symbols, None, symbols.len(), tables, words)
    }

    /// Starts coding the keys of 16-bit values (`values.len()` even).
    fn keyed(values: &'s [u8], table: &'s KeyedEncodeTable, words: &'s mut [u16]) -> Self {
        let tables = StateTables {
            fast: &table.fast,
            start_freq: &table.start_freq,
            slot_of_rank: table.slot_of_rank.as_deref(),
            prob_bits: table.prob_bits,
        };
        Self::start(values, Some(table.shift), values.len() / 2, tables, words)
    }

    /// The partial last group first (it is the first one walking backwards).
    fn start(
        input: &'s [u8],
        key_shift: Option<u32>,
        len: usize,
        tables: StateTables<'s>,
        words: &'s mut [u16],
    ) -> Self {
        let StateTables {
            fast,
            start_freq,
            slot_of_rank,
            prob_bits,
        } = tables;
        assert!(words.len() >= len);
        let mut e = EncodeState {
            input,
            key_shift,
            len,
            fast,
            start_freq,
            slot_of_rank,
            prob_bits,
            states: [RANS_L; LANES],
            words,
            wp: 0,
            absent: false,
            groups_left: len / LANES,
        };
        let full = e.groups_left * LANES;
        for i in (full..len).rev() {
            let f = e.fast[e.key(i)];
            encode_step(
                &mut e.states[i - full],
                f,
                prob_bits,
                slot_of_rank,
                e.words,
                &mut e.wp,
                &mut e.absent,
            );
        }
        e
    }

    /// The table key of symbol `i`.
    #[inline(always)]
    fn key(&self, i: usize) -> usize {
        match self.key_shift {
            None => usize::from(self.input[i]),
            Some(shift) => {
                usize::from(u16::from_le_bytes([self.input[2 * i], self.input[2 * i + 1]]) >> shift)
            }
        }
    }

    /// Whether the SIMD encoder handles this table's precision.
    #[cfg(target_arch = "x86_64")]
    fn simd_ok(&self) -> bool {
        x86::ENCODE_MIN_BITS <= self.prob_bits
    }

    /// Codes the last `count` of the groups left with `kernel`.
    fn groups(&mut self, count: usize, kernel: Kernel) {
        #[cfg(target_arch = "x86_64")]
        if kernel == Kernel::Avx512 && self.simd_ok() {
            x86::encode_groups_avx512::<1>([self], count);
            return;
        }
        #[cfg(target_arch = "x86_64")]
        if kernel == Kernel::Avx2 && self.simd_ok() {
            x86::encode_groups_avx2(self, count);
            return;
        }
        let _ = kernel;
        let first = self.groups_left - count;
        match self.key_shift {
            None => self.scalar_groups::<false>(first),
            Some(_) => self.scalar_groups::<true>(first),
        }
        self.groups_left = first;
    }

    fn scalar_groups<const KEYED: bool>(&mut self, first: usize) {
        let (fast, bits, shift) = (self.fast, self.prob_bits, self.key_shift.unwrap_or(0));
        let slot_of_rank = self.slot_of_rank;
        let width = if KEYED { 2 } else { 1 };
        let span = &self.input[first * LANES * width..self.groups_left * LANES * width];
        for group in span.chunks_exact(LANES * width).rev() {
            for lane in (0..LANES).rev() {
                let key = if KEYED {
                    usize::from(u16::from_le_bytes([group[2 * lane], group[2 * lane + 1]]) >> shift)
                } else {
                    usize::from(group[lane])
                };
                encode_step(
                    &mut self.states[lane],
                    fast[key],
                    bits,
                    slot_of_rank,
                    self.words,
                    &mut self.wp,
                    &mut self.absent,
                );
            }
        }
    }

    /// The payload, or the error of a symbol missing from the table.
    fn finish(self) -> Result<Payload<'s>> {
        debug_assert_eq!(self.groups_left, 0);
        if self.absent {
            let k = (0..self.len)
                .map(|i| self.key(i))
                .find(|&k| self.fast[k].start_freq >> 16 == 0)
                .unwrap_or(0);
            let what = if self.key_shift.is_some() {
                "key"
            } else {
                "symbol"
            };
            return Err(EntropyError::InvalidArgument(format!(
                "{what} {k} has frequency 0 in the table"
            )));
        }
        Ok(Payload {
            states: self.states,
            words: &self.words[..self.wp],
        })
    }
}

#[inline(always)]
fn encode_step(
    state: &mut u32,
    e: FastEncodeSymbol,
    bits: u32,
    slot_of_rank: Option<&[u32]>,
    words: &mut [u16],
    wp: &mut usize,
    absent: &mut bool,
) {
    let freq = e.start_freq >> 16;
    *absent |= freq == 0;
    let mut x = *state;
    // x >= freq << (32 - bits), without the 33-bit bound of a lone symbol.
    let flush = (x >> (32 - bits)) >= freq;
    // Always store, advance only on a flush: no branch to mispredict.
    words[*wp] = x as u16;
    *wp += usize::from(flush);
    if flush {
        x >>= 16;
    }
    let q = ((u128::from(x) * u128::from(e.rcp)) >> RCP_SHIFT) as u32;
    *state = match slot_of_rank {
        None => x
            .wrapping_add(e.start_freq & 0xffff)
            .wrapping_add(q.wrapping_mul(e.cmpl_freq)),
        Some(slots) => {
            // An absent symbol (freq 0) has q = 0 and flags the error above;
            // the mask only keeps its index in the table.
            let rank = x.wrapping_sub(q.wrapping_mul(freq));
            let at = ((e.start_freq & 0xffff).wrapping_add(rank) as usize) & (slots.len() - 1);
            (q << bits).wrapping_add(slots[at])
        }
    };
}

/// Decodes `out.len()` symbols from the payload `input` (exactly one
/// payload: trailing bytes are an error) with `table`.
pub fn decode(input: &[u8], table: &DecodeTable, out: &mut [u8]) -> Result<()> {
    decode_with(input, table, out, Kernel::best())
}

/// [`decode`] with an explicit kernel (falls back to a supported one).
pub fn decode_with(
    input: &[u8],
    table: &DecodeTable,
    out: &mut [u8],
    kernel: Kernel,
) -> Result<()> {
    let mut d = Decoder::new(input, table, out.len())?;
    d.decode_with(out, kernel)?;
    d.finish()
}

/// A payload being decoded, block by block.
///
/// Each block passed to [`Decoder::decode`] must hold a multiple of
/// [`LANES`] symbols, except the last one, which takes all that remain.
/// [`Decoder::finish`] then checks that the payload was consumed exactly.
pub struct Decoder<'a> {
    states: [u32; LANES],
    /// The words after the state header.
    words: &'a [u8],
    /// Next byte of `words` to read.
    pos: usize,
    table: &'a DecodeTable,
    /// Symbols not decoded yet.
    left: usize,
}

impl<'a> Decoder<'a> {
    /// Starts decoding `n` symbols from `payload` with `table`.
    pub fn new(payload: &'a [u8], table: &'a DecodeTable, n: usize) -> Result<Self> {
        if payload.len() < STATE_BYTES {
            return Err(truncated("rANS states", 0, STATE_BYTES, payload.len()));
        }
        let (state_bytes, words) = payload.split_at(STATE_BYTES);
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
        let slots = 1usize << table.prob_bits;
        if table.entries.len() != slots
            || table.syms.len() != slots
            || !(table.packed.is_empty() || table.packed.len() == slots)
        {
            return Err(EntropyError::InvalidArgument(
                "decode table is incomplete".into(),
            ));
        }
        Ok(Self {
            states,
            words,
            pos: 0,
            table,
            left: n,
        })
    }

    /// Symbols not decoded yet.
    pub fn remaining(&self) -> usize {
        self.left
    }

    /// Decodes the next `out.len()` symbols with the best kernel.
    pub fn decode(&mut self, out: &mut [u8]) -> Result<()> {
        self.decode_with(out, Kernel::best())
    }

    /// Decodes the next `out.len()` symbols with `kernel` (or the best
    /// supported one below it).
    pub fn decode_with(&mut self, out: &mut [u8], kernel: Kernel) -> Result<()> {
        self.check_block(out.len())?;
        let done = match kernel.or_supported() {
            Kernel::Scalar => 0,
            #[cfg(target_arch = "x86_64")]
            k => {
                let full = out.len() / LANES * LANES;
                x86::decode_groups::<1>(k, [&mut *self], [&mut out[..full]])
            }
            #[cfg(not(target_arch = "x86_64"))]
            _ => 0,
        };
        self.left -= done;
        self.decode_scalar(&mut out[done..])
    }

    fn check_block(&self, len: usize) -> Result<()> {
        if len > self.left || (len != self.left && !len.is_multiple_of(LANES)) {
            return Err(EntropyError::InvalidArgument(format!(
                "block of {len} symbols with {} left: blocks must be whole groups of {LANES} or the rest",
                self.left
            )));
        }
        Ok(())
    }

    /// Decodes `out` (whole groups, then possibly the final partial group)
    /// with scalar code.
    fn decode_scalar(&mut self, out: &mut [u8]) -> Result<()> {
        let bits = self.table.prob_bits;
        let mut groups = out.chunks_exact_mut(LANES);
        for group in &mut groups {
            let group: &mut [u8; LANES] = group.try_into().expect("whole group");
            let window: Option<&[u8; GROUP_WINDOW]> = self
                .words
                .get(self.pos..self.pos + GROUP_WINDOW)
                .and_then(|w| w.try_into().ok());
            match window {
                Some(window) => {
                    self.pos += if self.table.packed.is_empty() {
                        group_fast(
                            &mut self.states,
                            &Split(&self.table.entries, &self.table.syms),
                            bits,
                            window,
                            group,
                        )
                    } else {
                        group_fast(
                            &mut self.states,
                            &Packed(&self.table.packed),
                            bits,
                            window,
                            group,
                        )
                    };
                }
                None => {
                    for (lane, slot_out) in group.iter_mut().enumerate() {
                        self.step_checked(lane, slot_out)?;
                    }
                }
            }
        }
        for (lane, slot_out) in groups.into_remainder().iter_mut().enumerate() {
            self.step_checked(lane, slot_out)?;
        }
        self.left -= out.len();
        Ok(())
    }

    #[inline(always)]
    fn step_checked(&mut self, lane: usize, slot_out: &mut u8) -> Result<()> {
        let bits = self.table.prob_bits;
        let x = self.states[lane];
        let slot = (x & ((1 << bits) - 1)) as usize;
        let e = self.table.entries[slot];
        *slot_out = self.table.syms[slot];
        let mut x = (e >> 16).wrapping_mul(x >> bits).wrapping_add(e & 0xffff);
        if x < RANS_L {
            let w = self.words.get(self.pos..self.pos + 2).ok_or_else(|| {
                truncated(
                    "rANS word",
                    STATE_BYTES + self.pos,
                    2,
                    self.words.len() - self.pos,
                )
            })?;
            x = (x << 16) | u32::from(u16::from_le_bytes([w[0], w[1]]));
            self.pos += 2;
        }
        self.states[lane] = x;
        Ok(())
    }

    /// Checks that every symbol was decoded, every word consumed, and every
    /// lane is back at its initial state.
    pub fn finish(self) -> Result<()> {
        if self.left != 0 {
            return Err(EntropyError::InvalidArgument(format!(
                "{} symbols left undecoded",
                self.left
            )));
        }
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

/// Decodes the next `out_a.len()` symbols of `a` and the next `out_b.len()`
/// of `b` (same block rules as [`Decoder::decode`]), the groups they have
/// in common in lock step: twice the independent work per loop iteration,
/// which hides the latency of the table lookups.
pub fn decode_pair<'a>(
    a: &mut Decoder<'a>,
    out_a: &mut [u8],
    b: &mut Decoder<'a>,
    out_b: &mut [u8],
    kernel: Kernel,
) -> Result<()> {
    a.check_block(out_a.len())?;
    b.check_block(out_b.len())?;
    #[cfg(target_arch = "x86_64")]
    let full = out_a.len().min(out_b.len()) / LANES * LANES;
    let done = match kernel.or_supported() {
        // Scalar code is bound by throughput, not latency; AVX2 has four
        // registers per payload already, and two payloads would not fit
        // its 16 registers.
        Kernel::Scalar | Kernel::Avx2 => 0,
        #[cfg(target_arch = "x86_64")]
        k => x86::decode_groups::<2>(
            k,
            [&mut *a, &mut *b],
            [&mut out_a[..full], &mut out_b[..full]],
        ),
        #[cfg(not(target_arch = "x86_64"))]
        _ => 0,
    };
    a.left -= done;
    b.left -= done;
    a.decode_with(&mut out_a[done..], kernel)?;
    b.decode_with(&mut out_b[done..], kernel)
}

/// Decodes the next symbols of two decoders that share one alias table
/// ([`DecodeTable::alias`]) straight into 16-bit words (see
/// [`WordSink`]), in whole steps of 64 values of each, as many as both
/// decoders and sinks hold and the payloads' words allow. Returns how many
/// values of each it wrote: 0 unless `kernel` is AVX-512 and the CPU has
/// VBMI. The decoders continue after those values; the caller decodes the
/// rest (with [`decode_pair`]) and assembles it itself.
///
/// This is [`decode_pair`] plus the assembly of the words in one pass: the
/// symbols never go to memory, and the stores of the words overlap the
/// arithmetic of the next steps.
pub fn decode_pair_words<'a, 's>(
    a: &mut Decoder<'a>,
    sink_a: &mut WordSink<'s>,
    b: &mut Decoder<'a>,
    sink_b: &mut WordSink<'s>,
    kernel: Kernel,
) -> usize {
    #[cfg(target_arch = "x86_64")]
    {
        let done =
            x86::decode_pair_words(kernel.or_supported(), [&mut *a, &mut *b], [sink_a, sink_b]);
        a.left -= done;
        b.left -= done;
        done
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let _ = (a, sink_a, b, sink_b, kernel);
        0
    }
}

/// [`decode_pair`] for `K` payloads: decodes the next `outs[k].len()`
/// symbols of every decoder, their common groups in lock step.
pub fn decode_many<'a, const K: usize>(
    decs: [&mut Decoder<'a>; K],
    outs: [&mut [u8]; K],
    kernel: Kernel,
) -> Result<()> {
    for (d, o) in decs.iter().zip(&outs) {
        d.check_block(o.len())?;
    }
    #[cfg(target_arch = "x86_64")]
    let full = outs.iter().map(|o| o.len()).min().unwrap_or(0) / LANES * LANES;
    let mut decs = decs;
    let mut outs = outs;
    let done = match kernel.or_supported() {
        Kernel::Scalar | Kernel::Avx2 => 0,
        #[cfg(target_arch = "x86_64")]
        k => {
            let views: [&mut [u8]; K] = {
                let mut it = outs.iter_mut();
                std::array::from_fn(|_| {
                    let o = it.next().expect("K outputs");
                    &mut o[..full]
                })
            };
            let ds: [&mut Decoder<'a>; K] = {
                let mut it = decs.iter_mut();
                std::array::from_fn(|_| &mut **it.next().expect("K decoders"))
            };
            x86::decode_groups::<K>(k, ds, views)
        }
        #[cfg(not(target_arch = "x86_64"))]
        _ => 0,
    };
    for (d, o) in decs.iter_mut().zip(outs.iter_mut()) {
        d.left -= done;
        d.decode_with(&mut o[done..], kernel)?;
    }
    Ok(())
}

/// Slot lookup of the scalar decoder: (symbol, frequency, bias).
trait Lookup {
    fn get(&self, slot: usize) -> (u8, u32, u32);
}

/// The one-word form `bias << 20 | freq << 8 | sym`.
struct Packed<'a>(&'a [u32]);

impl Lookup for Packed<'_> {
    #[inline(always)]
    fn get(&self, slot: usize) -> (u8, u32, u32) {
        let e = self.0[slot];
        (e as u8, (e >> 8) & 0xfff, e >> 20)
    }
}

/// The general form: `freq << 16 | bias` and the symbol apart.
struct Split<'a>(&'a [u32], &'a [u8]);

impl Lookup for Split<'_> {
    #[inline(always)]
    fn get(&self, slot: usize) -> (u8, u32, u32) {
        let e = self.0[slot];
        (self.1[slot], e >> 16, e & 0xffff)
    }
}

/// One group of [`LANES`] symbols whose words are all in `window`: every
/// lane's lookup first (independent work), then the refills, which only
/// chain through the word position. Returns the bytes of words used.
#[inline(always)]
fn group_fast<L: Lookup>(
    states: &mut [u32; LANES],
    lookup: &L,
    bits: u32,
    window: &[u8; GROUP_WINDOW],
    out: &mut [u8; LANES],
) -> usize {
    let mask = (1u32 << bits) - 1;
    let mut next = [0u32; LANES];
    for lane in 0..LANES {
        let x = states[lane];
        let (sym, freq, bias) = lookup.get((x & mask) as usize);
        out[lane] = sym;
        next[lane] = freq.wrapping_mul(x >> bits).wrapping_add(bias);
    }
    let mut used = 0usize;
    for lane in 0..LANES {
        let x = next[lane];
        // Arithmetic select: a branch here mispredicts on every other symbol.
        // `used` < 64 before the last lane; the mask only proves the bound.
        let refill = u32::from(x < RANS_L);
        let at = used & (GROUP_WINDOW - 2);
        let w = u32::from(u16::from_le_bytes([window[at], window[at | 1]]));
        states[lane] = (x << (refill << 4)) | (w & refill.wrapping_neg());
        used += (refill as usize) << 1;
    }
    used
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alias::AliasShape;
    use crate::histogram::histogram;
    use crate::table::FreqTable;

    /// The textbook coder, one symbol at a time with u64 arithmetic and no
    /// fast paths: the interleaved coder must produce identical bytes.
    fn reference_encode(symbols: &[u8], t: &FreqTable) -> Vec<u8> {
        let bits = t.prob_bits();
        let f = t.freqs();
        let cum: Vec<u64> = (0..256)
            .map(|s| f[..s].iter().map(|&x| u64::from(x)).sum())
            .collect();
        let mut states = [u64::from(RANS_L); LANES];
        let mut words = Vec::new();
        for i in (0..symbols.len()).rev() {
            let s = symbols[i] as usize;
            let freq = u64::from(f[s]);
            let x = &mut states[i % LANES];
            if *x >= ((u64::from(RANS_L) >> bits) << 16) * freq {
                words.push((*x & 0xffff) as u16);
                *x >>= 16;
            }
            *x = ((*x / freq) << bits) + *x % freq + cum[s];
        }
        reference_payload(&states, &words)
    }

    /// The textbook decoder, one symbol at a time, every read checked.
    fn reference_decode(input: &[u8], t: &FreqTable, n: usize) -> Option<Vec<u8>> {
        let bits = t.prob_bits();
        let f = t.freqs();
        let mut sym_of = Vec::new();
        let mut cum = [0u32; 256];
        for s in 0..256 {
            cum[s] = sym_of.len() as u32;
            sym_of.extend(std::iter::repeat_n(s as u8, f[s] as usize));
        }
        let mut states = reference_states(input)?;
        let mut pos = STATE_BYTES;
        let mut out = Vec::with_capacity(n);
        for i in 0..n {
            let x = &mut states[i % LANES];
            let slot = *x & ((1 << bits) - 1);
            let s = sym_of[slot as usize];
            out.push(s);
            *x = f[s as usize] * (*x >> bits) + slot - cum[s as usize];
            if *x < RANS_L {
                let w = input.get(pos..pos + 2)?;
                *x = (*x << 16) | u32::from(u16::from_le_bytes([w[0], w[1]]));
                pos += 2;
            }
        }
        (pos == input.len() && states.iter().all(|&s| s == RANS_L)).then_some(out)
    }

    fn round_trip(symbols: &[u8], bits: u32) {
        let t = FreqTable::from_counts(&histogram(symbols), bits).unwrap();
        let expected = reference_encode(symbols, &t);
        for k in Kernel::supported() {
            let mut payload = Vec::new();
            encode_with(symbols, &EncodeTable::new(&t), &mut payload, k).unwrap();
            assert_eq!(payload, expected, "{k:?} differs from the reference");
            let mut back = vec![0u8; symbols.len()];
            decode_with(&payload, &DecodeTable::new(&t), &mut back, k).unwrap();
            assert_eq!(back, symbols, "{k:?}");
        }
    }

    /// Small xorshift generator for reproducible test data.
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
    }

    fn skewed(n: usize, seed: u64) -> Vec<u8> {
        let mut r = Rng(seed | 1);
        (0..n)
            .map(|_| {
                let x = r.next();
                // Roughly geometric around 120: an exponent-like stream.
                (120 + (x % 64).trailing_zeros() as u8 * if x & 64 == 0 { 1 } else { 0 })
                    .wrapping_sub((x >> 20 & 3) as u8)
            })
            .collect()
    }

    /// Symbols drawn from a random distribution over a random alphabet:
    /// from one dominant symbol to near-uniform over all 256.
    fn random_source(n: usize, seed: u64) -> Vec<u8> {
        let mut r = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
        let alphabet = 1 + (r.next() % 256) as usize;
        let skew = 1 + r.next() % 6;
        let weights: Vec<u64> = (0..alphabet)
            .map(|i| 1 + (r.next() % 1000) / (1 + (i as u64 >> skew)))
            .collect();
        let total: u64 = weights.iter().sum();
        let base = (r.next() % 256) as u8;
        (0..n)
            .map(|_| {
                let mut v = r.next() % total;
                let mut s = 0;
                while v >= weights[s] {
                    v -= weights[s];
                    s += 1;
                }
                base.wrapping_add((s * 37) as u8)
            })
            .collect()
    }

    #[test]
    fn round_trips_lengths_around_the_lane_count() {
        for n in [1usize, 2, 31, 32, 33, 63, 64, 65, 100, 1000, 4097] {
            round_trip(&skewed(n, n as u64), 12);
        }
    }

    #[test]
    fn round_trips_every_precision_and_uniform_data() {
        let uniform: Vec<u8> = (0..70_000u32)
            .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
            .collect();
        for bits in 8..=15 {
            round_trip(&skewed(10_000, bits as u64), bits);
            round_trip(&uniform, bits);
        }
    }

    #[test]
    fn lone_symbol_at_full_frequency() {
        round_trip(&[7u8; 1000], 15);
        round_trip(&[7u8; 1000], 12);
        round_trip(&[7u8; 1000], 8);
    }

    /// Frequencies at the extremes (1, 2, the table size minus a few) with
    /// symbols drawn regardless of them: the SIMD encoders' approximate
    /// quotients (a float division, or a multiply by a float reciprocal)
    /// meet their largest errors, and must still code what the reference
    /// codes.
    #[test]
    fn every_kernel_matches_the_reference_at_extreme_frequencies() {
        let mut r = Rng(77);
        for bits in [12u32, 15] {
            let total = 1u32 << bits;
            for freqs in [
                vec![1, total - 1],
                vec![total - 1, 1],
                vec![1, total - 3, 2],
                vec![3, 1, total - 5, 1],
                vec![total / 2 + 1, total / 2 - 1],
            ] {
                let mut f = [0u32; 256];
                f[..freqs.len()].copy_from_slice(&freqs);
                let t = FreqTable::from_freqs(f, bits).unwrap();
                let symbols: Vec<u8> = (0..5000)
                    .map(|_| (r.next() % freqs.len() as u64) as u8)
                    .collect();
                let expected = reference_encode(&symbols, &t);
                for k in Kernel::supported() {
                    let mut payload = Vec::new();
                    encode_with(&symbols, &EncodeTable::new(&t), &mut payload, k).unwrap();
                    assert_eq!(payload, expected, "{k:?} bits={bits} {freqs:?}");
                    let mut back = vec![0u8; symbols.len()];
                    decode_with(&payload, &DecodeTable::new(&t), &mut back, k).unwrap();
                    assert_eq!(back, symbols, "{k:?} bits={bits} {freqs:?}");
                }
            }
        }
    }

    #[test]
    fn every_kernel_matches_the_reference_on_many_inputs() {
        for seed in 0..40u64 {
            for n in (0..200).step_by(7).chain([200, 1000, 3000 + seed as usize]) {
                let bits = 8 + (seed as u32 + n as u32) % 8;
                let symbols = random_source(n, seed * 1000 + n as u64);
                if symbols.is_empty() {
                    let t = FreqTable::from_counts(&histogram(&[1]), bits).unwrap();
                    for k in Kernel::supported() {
                        let mut p = Vec::new();
                        encode_with(&[], &EncodeTable::new(&t), &mut p, k).unwrap();
                        decode_with(&p, &DecodeTable::new(&t), &mut [], k).unwrap();
                    }
                    continue;
                }
                let t = FreqTable::from_counts(&histogram(&symbols), bits).unwrap();
                let expected = reference_encode(&symbols, &t);
                let dt = DecodeTable::new(&t);
                for k in Kernel::supported() {
                    let mut payload = Vec::new();
                    encode_with(&symbols, &EncodeTable::new(&t), &mut payload, k).unwrap();
                    assert_eq!(payload, expected, "{k:?} n={n} bits={bits}");
                    let mut back = vec![0u8; n];
                    decode_with(&payload, &dt, &mut back, k).unwrap();
                    assert_eq!(back, symbols, "{k:?} n={n} bits={bits}");
                }
            }
        }
    }

    #[test]
    fn kernels_agree_on_corrupt_and_truncated_payloads() {
        let mut r = Rng(77);
        for bits in 8..=15 {
            for n in [33usize, 200, 1500] {
                let symbols = random_source(n, bits as u64 * 31 + n as u64);
                let t = FreqTable::from_counts(&histogram(&symbols), bits).unwrap();
                let dt = DecodeTable::new(&t);
                let mut payload = Vec::new();
                encode(&symbols, &EncodeTable::new(&t), &mut payload).unwrap();
                let mut cases: Vec<Vec<u8>> = Vec::new();
                for cut in [0, STATE_BYTES - 1, STATE_BYTES, payload.len() / 2] {
                    cases.push(payload[..cut.min(payload.len())].to_vec());
                }
                cases.push(payload[..payload.len().saturating_sub(1)].to_vec());
                for _ in 0..12 {
                    let mut bad = payload.clone();
                    let i = (r.next() as usize) % bad.len();
                    bad[i] ^= 1 << (r.next() % 8);
                    cases.push(bad);
                }
                let mut longer = payload.clone();
                longer.extend_from_slice(&[0, 0]);
                cases.push(longer);
                for case in &cases {
                    let expected = reference_decode(case, &t, n);
                    for k in Kernel::supported() {
                        let mut back = vec![0u8; n];
                        let got = decode_with(case, &dt, &mut back, k).ok().map(|_| back);
                        assert_eq!(got, expected, "{k:?} bits={bits} n={n}");
                    }
                }
            }
        }
    }

    /// A payload from a reference encoder's final states and its words in
    /// the order they were pushed (the decoder reads them backwards).
    fn reference_payload(states: &[u64; LANES], words: &[u16]) -> Vec<u8> {
        let mut out = Vec::new();
        for &s in states {
            out.extend_from_slice(&(s as u32).to_le_bytes());
        }
        for w in words.iter().rev() {
            out.extend_from_slice(&w.to_le_bytes());
        }
        out
    }

    /// The 32 initial states of a payload, if present and valid.
    fn reference_states(input: &[u8]) -> Option<[u32; LANES]> {
        let mut states = [0u32; LANES];
        for (lane, s) in states.iter_mut().enumerate() {
            *s = u32::from_le_bytes(input.get(lane * 4..lane * 4 + 4)?.try_into().ok()?);
            if *s < RANS_L {
                return None;
            }
        }
        Some(states)
    }

    /// The textbook coder of an alias layout: the slot of a symbol's rank
    /// comes from the layout instead of `start + rank`.
    fn reference_alias_encode(symbols: &[u8], t: &FreqTable, shape: AliasShape) -> Vec<u8> {
        let slot_of_rank = crate::alias::AliasLayout::new(t, shape)
            .unwrap()
            .slot_of_rank(t);
        let f = t.freqs();
        let mut states = [u64::from(RANS_L); LANES];
        let mut words = Vec::new();
        for i in (0..symbols.len()).rev() {
            let s = symbols[i] as usize;
            let freq = u64::from(f[s]);
            let x = &mut states[i % LANES];
            if *x >= ((u64::from(RANS_L) >> 12) << 16) * freq {
                words.push((*x & 0xffff) as u16);
                *x >>= 16;
            }
            let start: u64 = f[..s].iter().map(|&v| u64::from(v)).sum();
            let slot = slot_of_rank[(start + *x % freq) as usize];
            *x = ((*x / freq) << 12) + u64::from(slot);
        }
        reference_payload(&states, &words)
    }

    /// The textbook decoder of an alias layout.
    fn reference_alias_decode(
        input: &[u8],
        t: &FreqTable,
        shape: AliasShape,
        n: usize,
    ) -> Option<Vec<u8>> {
        let layout = crate::alias::AliasLayout::new(t, shape).unwrap();
        let f = t.freqs();
        let mut states = reference_states(input)?;
        let mut pos = STATE_BYTES;
        let mut out = Vec::with_capacity(n);
        for i in 0..n {
            let x = &mut states[i % LANES];
            let slot = (*x & 4095) as usize;
            let s = layout.sym_of_slot[slot];
            out.push(s);
            *x = f[s as usize] * (*x >> 12) + u32::from(layout.rank_of_slot[slot]);
            if *x < RANS_L {
                let w = input.get(pos..pos + 2)?;
                *x = (*x << 16) | u32::from(u16::from_le_bytes([w[0], w[1]]));
                pos += 2;
            }
        }
        (pos == input.len() && states.iter().all(|&s| s == RANS_L)).then_some(out)
    }

    /// A random source over the symbols a `shape` table holds.
    fn alias_source(n: usize, seed: u64, shape: AliasShape) -> Vec<u8> {
        random_source(n, seed)
            .into_iter()
            .map(|s| s % shape.buckets() as u8)
            .collect()
    }

    #[test]
    fn alias_layouts_match_the_reference_on_every_kernel() {
        let mut r = Rng(99);
        for seed in 0..30u64 {
            let shape = if seed % 2 == 0 {
                AliasShape::Narrow
            } else {
                AliasShape::Wide
            };
            for n in [1usize, 31, 32, 33, 64, 65, 200, 1000, 5000 + seed as usize] {
                let symbols = alias_source(n, seed * 7919 + n as u64, shape);
                let t = FreqTable::from_counts(&histogram(&symbols), 12).unwrap();
                if !crate::alias::supports(&t, shape) {
                    continue; // one symbol: a constant stream
                }
                let expected = reference_alias_encode(&symbols, &t, shape);
                let (et, dt) = (
                    EncodeTable::alias(&t, shape).unwrap(),
                    DecodeTable::alias(&t, shape).unwrap(),
                );
                for k in Kernel::supported() {
                    let mut payload = Vec::new();
                    encode_with(&symbols, &et, &mut payload, k).unwrap();
                    assert_eq!(payload, expected, "{k:?} n={n} seed={seed}");
                    let mut back = vec![0u8; n];
                    decode_with(&payload, &dt, &mut back, k).unwrap();
                    assert_eq!(back, symbols, "{k:?} n={n} seed={seed}");
                }
                // Damaged payloads: every kernel gives the reference's verdict.
                let mut cases = vec![expected[..expected.len() / 2].to_vec()];
                for _ in 0..4 {
                    let mut bad = expected.clone();
                    let i = (r.next() as usize) % bad.len();
                    bad[i] ^= 1 << (r.next() % 8);
                    cases.push(bad);
                }
                for case in &cases {
                    let want = reference_alias_decode(case, &t, shape, n);
                    for k in Kernel::supported() {
                        let mut back = vec![0u8; n];
                        let got = decode_with(case, &dt, &mut back, k).ok().map(|_| back);
                        assert_eq!(got, want, "{k:?} n={n} seed={seed}");
                    }
                }
            }
        }
    }

    #[test]
    fn alias_pairs_decode_in_lock_step() {
        for shape in [AliasShape::Narrow, AliasShape::Wide] {
            alias_pair_in_lock_step(shape);
        }
    }

    /// The words of [`WordSink`] for `symbols` from value `first` on,
    /// assembled one by one.
    fn assemble_words(
        symbols: &[u8],
        first: usize,
        tops: &[u16; 128],
        plane: &[u8],
        fields: &[u8],
    ) -> Vec<u8> {
        symbols
            .iter()
            .enumerate()
            .flat_map(|(j, &s)| {
                let i = first + j;
                let bit = (plane[i / 8] >> (i % 8)) & 1;
                let at = 6 * i;
                let two = u16::from(fields[at / 8])
                    | (u16::from(*fields.get(at / 8 + 1).unwrap_or(&0)) << 8);
                let field = (two >> (at % 8)) & 0x3f;
                (tops[usize::from(s) + 64 * usize::from(bit)] | field).to_le_bytes()
            })
            .collect()
    }

    /// The fused word decoder gives the words of a symbol decode and a
    /// one-by-one assembly, on valid and damaged payloads, for both shapes,
    /// and leaves the decoders where the symbol decoder continues.
    #[test]
    fn fused_word_decoding_matches_symbols_then_assembly() {
        let mut r = Rng(4242);
        for shape in [AliasShape::Narrow, AliasShape::Wide] {
            for (na, nb) in [
                (64, 64),
                (100, 130),
                (1024, 1024),
                (4096, 4160),
                (9000, 9160),
            ] {
                let a = alias_source(na, r.next() % 1000, shape);
                let b = alias_source(nb, r.next() % 1000, shape);
                let t = FreqTable::from_counts(&histogram(&[a.clone(), b.clone()].concat()), 12)
                    .unwrap();
                if !crate::alias::supports(&t, shape) {
                    continue;
                }
                let et = EncodeTable::alias(&t, shape).unwrap();
                let dt = DecodeTable::alias(&t, shape).unwrap();
                let (mut pa, mut pb) = (Vec::new(), Vec::new());
                encode(&a, &et, &mut pa).unwrap();
                encode(&b, &et, &mut pb).unwrap();
                let n = na + nb;
                let tops: [u16; 128] = std::array::from_fn(|_| r.next() as u16 & !0x3f);
                let plane: Vec<u8> = (0..n.div_ceil(8) + 8).map(|_| r.next() as u8).collect();
                let fields: Vec<u8> = (0..(6 * n).div_ceil(8) + 48)
                    .map(|_| r.next() as u8)
                    .collect();
                let mut damaged = pb.clone();
                let at = damaged.len() / 2;
                damaged[at] ^= 0x10;
                for pb in [&pb, &damaged] {
                    // Reference: symbols, then words.
                    let (mut sa, mut sb) = (vec![0u8; na], vec![0u8; nb]);
                    let ra = Decoder::new(&pa, &dt, na)
                        .and_then(|mut d| d.decode_with(&mut sa, Kernel::Scalar).and(d.finish()));
                    let rb = Decoder::new(pb, &dt, nb)
                        .and_then(|mut d| d.decode_with(&mut sb, Kernel::Scalar).and(d.finish()));
                    let want = [
                        assemble_words(&sa, 0, &tops, &plane, &fields),
                        assemble_words(&sb, na, &tops, &plane, &fields),
                    ];
                    // Fused, then the rest symbol by symbol.
                    let mut x = Decoder::new(&pa, &dt, na).unwrap();
                    let mut y = Decoder::new(pb, &dt, nb).unwrap();
                    let mut out = vec![0u8; 2 * n];
                    let (oa, ob) = out.split_at_mut(2 * na);
                    let done = decode_pair_words(
                        &mut x,
                        &mut WordSink {
                            tops: &tops,
                            plane: &plane,
                            fields: &fields,
                            out: oa,
                        },
                        &mut y,
                        &mut WordSink {
                            tops: &tops,
                            plane: &plane[na / 8..],
                            fields: &fields[na / 8 * 6..],
                            out: ob,
                        },
                        Kernel::best(),
                    );
                    assert_eq!(done % 64, 0);
                    let (mut ra2, mut rb2) = (vec![0u8; na - done], vec![0u8; nb - done]);
                    let fa = x.decode_with(&mut ra2, Kernel::Scalar).and(x.finish());
                    let fb = y.decode_with(&mut rb2, Kernel::Scalar).and(y.finish());
                    assert_eq!((fa.is_ok(), fb.is_ok()), (ra.is_ok(), rb.is_ok()));
                    out[2 * done..2 * na]
                        .copy_from_slice(&assemble_words(&ra2, done, &tops, &plane, &fields));
                    out[2 * (na + done)..].copy_from_slice(&assemble_words(
                        &rb2,
                        na + done,
                        &tops,
                        &plane,
                        &fields,
                    ));
                    assert_eq!(
                        &out[..2 * na],
                        &want[0][..],
                        "{shape:?} {na} {nb} done {done}"
                    );
                    assert_eq!(
                        &out[2 * na..],
                        &want[1][..],
                        "{shape:?} {na} {nb} done {done}"
                    );
                    #[cfg(target_arch = "x86_64")]
                    if Kernel::best() == Kernel::Avx512
                        && std::arch::is_x86_feature_detected!("avx512vbmi")
                        && na >= 1024
                    {
                        assert!(done > 0, "the fused kernel ran");
                    }
                }
            }
        }
    }

    fn alias_pair_in_lock_step(shape: AliasShape) {
        let a = alias_source(9000, 5, shape);
        let b = alias_source(7000, 6, shape);
        let (ta, tb) = (
            FreqTable::from_counts(&histogram(&a), 12).unwrap(),
            FreqTable::from_counts(&histogram(&b), 12).unwrap(),
        );
        let (mut pa, mut pb) = (Vec::new(), Vec::new());
        encode(&a, &EncodeTable::alias(&ta, shape).unwrap(), &mut pa).unwrap();
        encode(&b, &EncodeTable::alias(&tb, shape).unwrap(), &mut pb).unwrap();
        let (da, db) = (
            DecodeTable::alias(&ta, shape).unwrap(),
            DecodeTable::alias(&tb, shape).unwrap(),
        );
        for k in Kernel::supported() {
            let mut x = Decoder::new(&pa, &da, a.len()).unwrap();
            let mut y = Decoder::new(&pb, &db, b.len()).unwrap();
            let (mut oa, mut ob) = (vec![0u8; a.len()], vec![0u8; b.len()]);
            for (ca, cb) in oa.chunks_mut(2048).zip(ob.chunks_mut(2048)) {
                decode_pair(&mut x, ca, &mut y, cb, k).unwrap();
            }
            let done = 7000 / 2048 * 2048 + 2048;
            x.decode_with(&mut oa[done..], k).unwrap();
            x.finish().unwrap();
            y.finish().unwrap();
            assert_eq!((&oa, &ob), (&a, &b), "{k:?}");
        }
    }

    #[test]
    fn block_by_block_and_pairs_match_whole_decodes() {
        let a = random_source(5000, 1);
        let b = skewed(5000, 2);
        let ta = FreqTable::from_counts(&histogram(&a), 12).unwrap();
        let tb = FreqTable::from_counts(&histogram(&b), 11).unwrap();
        let (da, db) = (DecodeTable::new(&ta), DecodeTable::new(&tb));
        let (mut pa, mut pb) = (Vec::new(), Vec::new());
        encode(&a, &EncodeTable::new(&ta), &mut pa).unwrap();
        encode(&b, &EncodeTable::new(&tb), &mut pb).unwrap();
        for k in Kernel::supported() {
            for block in [32usize, 64, 96, 2048] {
                let mut da_ = Decoder::new(&pa, &da, a.len()).unwrap();
                let mut db_ = Decoder::new(&pb, &db, b.len()).unwrap();
                let (mut oa, mut ob) = (vec![0u8; a.len()], vec![0u8; b.len()]);
                for (ca, cb) in oa.chunks_mut(block).zip(ob.chunks_mut(block)) {
                    decode_pair(&mut da_, ca, &mut db_, cb, k).unwrap();
                }
                da_.finish().unwrap();
                db_.finish().unwrap();
                assert_eq!((oa, ob), (a.clone(), b.clone()), "{k:?} block {block}");
            }
            // Three payloads of different lengths in lock step.
            let mut d1 = Decoder::new(&pa, &da, a.len()).unwrap();
            let mut d2 = Decoder::new(&pb, &db, b.len()).unwrap();
            let mut d3 = Decoder::new(&pa, &da, a.len()).unwrap();
            let (mut o1, mut o2, mut o3) =
                (vec![0u8; a.len()], vec![0u8; b.len()], vec![0u8; a.len()]);
            let (h1, t1) = o1.split_at_mut(4096);
            let (h2, t2) = o2.split_at_mut(1024);
            let (h3, t3) = o3.split_at_mut(2048);
            decode_many([&mut d1, &mut d2, &mut d3], [h1, h2, h3], k).unwrap();
            decode_many([&mut d1, &mut d2, &mut d3], [t1, t2, t3], k).unwrap();
            for d in [d1, d2, d3] {
                d.finish().unwrap();
            }
            assert_eq!((&o1, &o2, &o3), (&a, &b, &a), "{k:?} many");
            let mut d = Decoder::new(&pa, &da, a.len()).unwrap();
            assert!(d.decode_with(&mut [0u8; 33], k).is_err());
        }
    }

    #[test]
    fn pair_encoding_matches_single_encodes() {
        for (na, nb, bits_a, bits_b) in [
            (0usize, 0usize, 12u32, 12u32),
            (5, 0, 12, 12),
            (1000, 1000, 12, 11),
            (4096, 33, 10, 15),
            (31, 5000, 9, 12),
            (6400, 6431, 12, 12),
        ] {
            let a = random_source(na, na as u64 + 7);
            let b = skewed(nb, nb as u64 + 9);
            let ta =
                FreqTable::from_counts(&histogram(&[a.as_slice(), &[3]].concat()), bits_a).unwrap();
            let tb =
                FreqTable::from_counts(&histogram(&[b.as_slice(), &[3]].concat()), bits_b).unwrap();
            let (ea, eb) = (EncodeTable::new(&ta), EncodeTable::new(&tb));
            let (mut sa, mut sb) = (Vec::new(), Vec::new());
            encode(&a, &ea, &mut sa).unwrap();
            encode(&b, &eb, &mut sb).unwrap();
            for k in Kernel::supported() {
                let (pa, pb) = encode_pair(&a, &ea, &b, &eb, k, |pa, pb| {
                    let (mut va, mut vb) = (Vec::new(), Vec::new());
                    pa.write_to(&mut va);
                    pb.write_to(&mut vb);
                    assert_eq!((pa.len(), pb.len()), (va.len(), vb.len()));
                    (va, vb)
                })
                .unwrap();
                assert_eq!(pa, sa, "{k:?} {na} {nb}");
                assert_eq!(pb, sb, "{k:?} {na} {nb}");
            }
            assert!(
                encode_pair(&[1, 2], &ea, &b, &eb, Kernel::best(), |_, _| ()).is_err()
                    || ta.freqs()[1] > 0
            );
        }
    }

    #[test]
    fn keyed_pairs_match_the_materialised_planes() {
        for (na, nb, shift) in [
            (0usize, 0usize, 6u32),
            (40, 1000, 6),
            (4096, 4127, 8),
            (3, 70, 12),
        ] {
            let values: Vec<u8> = random_source(2 * (na + nb), (na * 31 + nb) as u64);
            let keys = 1usize << (16 - shift);
            // Keys to symbols: many keys share a symbol, as alphabet indices do.
            let symbol_of: Vec<u16> = (0..keys).map(|k| (k * 7 % 200) as u16).collect();
            let plane = |v: &[u8]| -> Vec<u8> {
                v.chunks_exact(2)
                    .map(|x| {
                        symbol_of[usize::from(u16::from_le_bytes([x[0], x[1]]) >> shift)] as u8
                    })
                    .collect()
            };
            let (va, vb) = values.split_at(2 * na);
            let (pa, pb) = (plane(va), plane(vb));
            let counts = histogram(&[pa.as_slice(), &pb, &[0]].concat());
            let t = FreqTable::from_counts(&counts, 12).unwrap();
            let et = EncodeTable::new(&t);
            let kt = KeyedEncodeTable::new(&et, &symbol_of, shift).unwrap();
            let expected = encode_pair(&pa, &et, &pb, &et, Kernel::Scalar, |a, b| {
                let (mut x, mut y) = (Vec::new(), Vec::new());
                a.write_to(&mut x);
                b.write_to(&mut y);
                (x, y)
            })
            .unwrap();
            for k in Kernel::supported() {
                let got = encode_pair_keyed(va, &kt, vb, &kt, k, |a, b| {
                    let (mut x, mut y) = (Vec::new(), Vec::new());
                    a.write_to(&mut x);
                    b.write_to(&mut y);
                    (x, y)
                })
                .unwrap();
                assert_eq!(got, expected, "{k:?} {na} {nb} {shift}");
            }
        }
        // A key without a symbol is an error, on every kernel.
        let t = FreqTable::from_counts(&histogram(&[0, 1]), 12).unwrap();
        let et = EncodeTable::new(&t);
        let mut symbol_of = vec![0u16; 1024];
        symbol_of[5] = u16::MAX;
        let kt = KeyedEncodeTable::new(&et, &symbol_of, 6).unwrap();
        let values: Vec<u8> = (0..100u16).flat_map(|i| (i << 6).to_le_bytes()).collect();
        for k in Kernel::supported() {
            assert!(encode_pair_keyed(&values, &kt, &values, &kt, k, |_, _| ()).is_err());
        }
        assert!(KeyedEncodeTable::new(&et, &symbol_of[..1000], 6).is_err());
    }

    #[test]
    fn rejects_a_symbol_missing_from_the_table() {
        let t = FreqTable::from_counts(&histogram(&[1, 2, 3]), 12).unwrap();
        for k in Kernel::supported() {
            let mut out = Vec::new();
            assert!(encode_with(&[1, 2, 4], &EncodeTable::new(&t), &mut out, k).is_err());
            assert!(out.is_empty());
        }
        // In the SIMD groups too, with tables of few symbols (looked up in
        // registers) and with alias tables, for a symbol absent below 64
        // and one above.
        for missing in [4u8, 63, 64, 200] {
            let mut symbols: Vec<u8> = (0..1000).map(|i| 1 + (i % 3) as u8).collect();
            symbols[500] = missing;
            for table in [
                EncodeTable::new(&t),
                EncodeTable::alias(&t, AliasShape::Narrow).unwrap(),
                EncodeTable::alias(&t, AliasShape::Wide).unwrap(),
            ] {
                for k in Kernel::supported() {
                    let mut out = Vec::new();
                    assert!(
                        encode_with(&symbols, &table, &mut out, k).is_err(),
                        "{missing} {k:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn corrupt_payloads_error_without_panicking() {
        let symbols = skewed(5000, 9);
        let t = FreqTable::from_counts(&histogram(&symbols), 12).unwrap();
        let mut payload = Vec::new();
        encode(&symbols, &EncodeTable::new(&t), &mut payload).unwrap();
        let dt = DecodeTable::new(&t);
        let mut back = vec![0u8; symbols.len()];
        for cut in [
            0,
            1,
            STATE_BYTES - 1,
            STATE_BYTES,
            payload.len() / 2,
            payload.len() - 1,
        ] {
            assert!(
                decode(&payload[..cut], &dt, &mut back).is_err(),
                "cut at {cut}"
            );
        }
        let mut longer = payload.clone();
        longer.extend_from_slice(&[0, 0]);
        assert!(decode(&longer, &dt, &mut back).is_err());
        // Flipping a bit anywhere must be detected by the final-state check
        // or decode to different symbols; never panic.
        for i in (0..payload.len()).step_by(97) {
            let mut bad = payload.clone();
            bad[i] ^= 0x10;
            if decode(&bad, &dt, &mut back).is_ok() {
                assert_ne!(back, symbols, "flip at {i} went unnoticed");
            }
        }
    }
}
