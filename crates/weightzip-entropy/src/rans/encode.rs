//! The encoder: symbols walked backwards, one word pushed per renormalisation.

use super::fused::KeyedEncodeTable;
#[cfg(target_arch = "x86_64")]
use super::x86;
use super::{Kernel, LANES, RANS_L, STATE_BYTES};
use crate::error::{EntropyError, Result};
use crate::table::{EncodeTable, FastEncodeSymbol, RCP_SHIFT};

/// Appends the rANS payload of `symbols` coded with `table` to `out`.
///
/// Fails if a symbol has frequency 0 in the table (then `out` is unchanged).
pub fn encode(symbols: &[u8], table: &EncodeTable, out: &mut Vec<u8>) -> Result<()> {
    encode_with(symbols, table, out, Kernel::best())
}

thread_local! {
    /// Word scratch of the encoder, reused across calls (no allocation or
    /// zeroing per call once it has grown).
    pub(super) static ENCODE_WORDS: std::cell::RefCell<Vec<u16>> = const { std::cell::RefCell::new(Vec::new()) };
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
    pub(super) fn new(symbols: &'s [u8], table: &'s EncodeTable, words: &'s mut [u16]) -> Self {
        let tables = StateTables {
            fast: &table.fast,
            start_freq: &table.start_freq,
            slot_of_rank: table.slot_of_rank.as_deref(),
            prob_bits: table.prob_bits,
        };
        Self::start(symbols, None, symbols.len(), tables, words)
    }

    /// Starts coding the keys of 16-bit values (`values.len()` even).
    pub(super) fn keyed(
        values: &'s [u8],
        table: &'s KeyedEncodeTable,
        words: &'s mut [u16],
    ) -> Self {
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
    pub(super) fn simd_ok(&self) -> bool {
        x86::ENCODE_MIN_BITS <= self.prob_bits
    }

    /// Codes the last `count` of the groups left with `kernel`.
    pub(super) fn groups(&mut self, count: usize, kernel: Kernel) {
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
    pub(super) fn finish(self) -> Result<Payload<'s>> {
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
