//! The lookup tables the rANS encoder and decoder run on, built from a
//! [`FreqTable`].

use super::alias::{AliasBuckets, AliasLayout, AliasShape};
use super::FreqTable;
use crate::error::Result;

/// Encoder lookup table.
#[derive(Clone, Debug)]
pub struct EncodeTable {
    pub(crate) prob_bits: u32,
    /// Each symbol in the division-free form the encoders use.
    pub(crate) fast: [FastEncodeSymbol; 256],
    /// `start | freq << 16` per symbol, alone (the SIMD encoders gather it).
    pub(crate) start_freq: [u32; 256],
    /// For an alias layout ([`EncodeTable::alias`]): the slot of rank `r`
    /// of symbol `s` at `start[s] + r`; the coded state is then
    /// `(q << bits) + slot_of_rank[start + x mod freq]`.
    pub(crate) slot_of_rank: Option<Vec<u32>>,
}

/// Division-free encoder entry: `x / freq` is `(x * rcp) >> RCP_SHIFT`
/// (exact for every `x < 2^32`), and the coded state is
/// `x + start + q * cmpl_freq` with `q = x / freq`.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct FastEncodeSymbol {
    /// `ceil(2^RCP_SHIFT / freq)` (0 for an absent symbol).
    pub(crate) rcp: u64,
    /// `start | freq << 16`; 0 marks an absent symbol.
    pub(crate) start_freq: u32,
    /// `2^prob_bits - freq`.
    pub(crate) cmpl_freq: u32,
}

/// Shift of the encoder reciprocals. With `m = ceil(2^47 / f)` the error
/// `e = m * f - 2^47 < f <= 2^15`, so `x * e < 2^47` for every `x < 2^32`,
/// which makes `floor(x * m / 2^47) == floor(x / f)` exact.
pub(crate) const RCP_SHIFT: u32 = 47;

impl EncodeTable {
    /// Builds the encoder table for `table`.
    pub fn new(table: &FreqTable) -> Self {
        let mut fast = [FastEncodeSymbol::default(); 256];
        let mut start = 0u32;
        for (fe, &f) in fast.iter_mut().zip(table.freqs.iter()) {
            if f > 0 {
                *fe = FastEncodeSymbol {
                    rcp: (1u64 << RCP_SHIFT).div_ceil(u64::from(f)),
                    start_freq: start | (f << 16),
                    cmpl_freq: (1u32 << table.prob_bits) - f,
                };
            }
            start += f;
        }
        Self {
            prob_bits: table.prob_bits,
            fast,
            start_freq: fast.map(|f| f.start_freq),
            slot_of_rank: None,
        }
    }

    /// The encoder table of `table` in the alias layout of
    /// the alias method ([`AliasShape`]) in `shape` (decode with [`DecodeTable::alias`] of
    /// the same shape).
    pub fn alias(table: &FreqTable, shape: AliasShape) -> Result<Self> {
        let layout = AliasLayout::new(table, shape)?;
        let mut t = Self::new(table);
        t.slot_of_rank = Some(layout.slot_of_rank(table));
        Ok(t)
    }

    /// Whether this table codes the alias layout.
    pub fn is_alias(&self) -> bool {
        self.slot_of_rank.is_some()
    }

    /// log2 of the frequency total.
    pub fn prob_bits(&self) -> u32 {
        self.prob_bits
    }
}

/// Decoder lookup table: one packed entry per slot (`freq << 16 | bias`,
/// where bias = slot - start) and the symbol of each slot; and, when every
/// field fits (`prob_bits <= 12` and no frequency reaches 4096, i.e. any
/// table of two or more symbols at the default precision), the same three
/// fields in one word per slot: `bias << 20 | freq << 8 | sym` — one load
/// (or one SIMD gather) per decoded symbol, the symbol in the low byte.
#[derive(Clone, Debug)]
pub struct DecodeTable {
    pub(crate) prob_bits: u32,
    pub(crate) entries: Vec<u32>,
    pub(crate) syms: Vec<u8>,
    /// `bias << 20 | freq << 8 | sym` per slot, or empty when a field does not fit.
    pub(crate) packed: Vec<u32>,
    /// The register tables of an alias layout ([`DecodeTable::alias`]).
    pub(crate) alias: Option<Box<AliasBuckets>>,
}

impl DecodeTable {
    /// Builds the decoder table for `table`.
    pub fn new(table: &FreqTable) -> Self {
        let slots = 1usize << table.prob_bits;
        let packable = table.prob_bits <= 12 && table.freqs.iter().all(|&f| f < 1 << 12);
        let mut entries = Vec::with_capacity(slots);
        let mut syms = Vec::with_capacity(slots);
        let mut packed = Vec::with_capacity(if packable { slots } else { 0 });
        for (s, &f) in table.freqs.iter().enumerate() {
            if f == 0 {
                continue;
            }
            // A lone symbol may have freq 2^15, which still fits above bit 16.
            entries.extend((0..f).map(|bias| (f << 16) | bias));
            syms.resize(syms.len() + f as usize, s as u8);
            if packable {
                let head = (f << 8) | s as u32;
                packed.extend((0..f).map(|bias| (bias << 20) | head));
            }
        }
        Self {
            prob_bits: table.prob_bits,
            entries,
            syms,
            packed,
            alias: None,
        }
    }

    /// The decoder table of `table` in the alias layout of
    /// the alias method ([`AliasShape`]): the per-slot forms every kernel reads, and the
    /// per-bucket tables the AVX-512 kernel keeps in registers.
    pub fn alias(table: &FreqTable, shape: AliasShape) -> Result<Self> {
        let layout = AliasLayout::new(table, shape)?;
        let f = &table.freqs;
        // Every frequency is below 2^12 (checked by the layout), so the
        // packed form exists.
        let (entries, packed) = layout
            .sym_of_slot
            .iter()
            .zip(&layout.rank_of_slot)
            .map(|(&s, &r)| {
                let (freq, rank) = (f[usize::from(s)], u32::from(r));
                (
                    (freq << 16) | rank,
                    (rank << 20) | (freq << 8) | u32::from(s),
                )
            })
            .unzip();
        Ok(Self {
            prob_bits: table.prob_bits,
            entries,
            syms: layout.sym_of_slot,
            packed,
            alias: Some(Box::new(layout.buckets)),
        })
    }

    /// Whether this table decodes the alias layout.
    pub fn is_alias(&self) -> bool {
        self.alias.is_some()
    }

    /// log2 of the frequency total.
    pub fn prob_bits(&self) -> u32 {
        self.prob_bits
    }

    /// Whether the one-word-per-slot form exists (the fast decoders need it).
    pub fn is_packed(&self) -> bool {
        !self.packed.is_empty()
    }
}
