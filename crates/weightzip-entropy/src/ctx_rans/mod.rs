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
//!
//! [`periodic`] is the small sibling with 4 lanes whose table follows a
//! periodic pattern of positions instead of a context byte (the lab's
//! per-file coders).

mod decode;
mod encode;
pub mod periodic;
mod product;
#[cfg(test)]
mod tests;
#[cfg(target_arch = "x86_64")]
#[allow(unsafe_code)]
mod x86;

pub use decode::{decode, decode_parts, decode_placed, decode_with, Placement, MAX_PARTS};
pub use encode::{encode, encode_range, encoded_len};
pub use product::product_table;

use crate::error::{EntropyError, Result};
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
pub struct ContextEncoder {
    bits: u32,
    syms: Vec<[EncSym; 256]>,
}

/// Decoder tables of every context, packed one u32 per slot.
#[derive(Clone, Debug)]
pub struct ContextDecoder {
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

impl ContextEncoder {
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

impl ContextDecoder {
    /// Decoder for `tables`, see [`ContextEncoder::new`].
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
