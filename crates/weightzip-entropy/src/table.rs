//! Frequency tables: normalisation to a power of two, serialisation, and the
//! lookup tables the rANS encoder and decoder run on.

use crate::alias::{AliasBuckets, AliasLayout, AliasShape};
use crate::error::{corrupt, truncated, EntropyError, Result};
use crate::histogram::Histogram;
use crate::varint;

/// Smallest and largest supported table precision (log2 of the frequency total).
pub const MIN_PROB_BITS: u32 = 8;
/// Frequencies and decode biases must fit in 16 bits, and the rANS state
/// renormalises 16 bits at a time, so the precision stops at 15.
pub const MAX_PROB_BITS: u32 = 15;
/// The precision the fast codecs use: a 4096-slot decode table (16 KiB of
/// packed entries + 4 KiB of symbols) stays in L1.
pub const DEFAULT_PROB_BITS: u32 = 12;

/// Quantised symbol frequencies summing to exactly `1 << prob_bits`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FreqTable {
    prob_bits: u32,
    freqs: [u32; 256],
}

impl FreqTable {
    /// Builds the table that codes `counts` in the fewest bits among tables
    /// with every present symbol at frequency >= 1 (greedy marginal-cost fix-up
    /// after proportional rounding; optimal for the usual small corrections).
    pub fn from_counts(counts: &Histogram, prob_bits: u32) -> Result<Self> {
        if !(MIN_PROB_BITS..=MAX_PROB_BITS).contains(&prob_bits) {
            return Err(EntropyError::InvalidArgument(format!(
                "prob_bits {prob_bits} outside {MIN_PROB_BITS}..={MAX_PROB_BITS}"
            )));
        }
        let total: u128 = counts.iter().map(|&c| u128::from(c)).sum();
        if total == 0 {
            return Err(EntropyError::InvalidArgument(
                "cannot build a frequency table from an empty histogram".into(),
            ));
        }
        let target = 1u32 << prob_bits;
        let present = counts.iter().filter(|&&c| c > 0).count() as u32;
        if present > target {
            return Err(EntropyError::InvalidArgument(format!(
                "{present} distinct symbols do not fit a table of {target} slots"
            )));
        }
        let mut freqs = [0u32; 256];
        for (f, &c) in freqs.iter_mut().zip(counts.iter()) {
            if c > 0 {
                let scaled = (u128::from(c) * u128::from(target) * 2 + total) / (total * 2);
                *f = (scaled as u32).clamp(1, target);
            }
        }
        let mut sum: i64 = freqs.iter().map(|&f| i64::from(f)).sum();
        let target_i = i64::from(target);
        // Each step moves one unit of probability where it costs least (or
        // gains most), measured in bits over the whole histogram.
        while sum > target_i {
            let mut best = usize::MAX;
            let mut best_cost = f64::INFINITY;
            for s in 0..256 {
                let f = freqs[s];
                if f > 1 {
                    let cost = counts[s] as f64 * (f64::from(f).log2() - f64::from(f - 1).log2());
                    if cost < best_cost {
                        best_cost = cost;
                        best = s;
                    }
                }
            }
            if best == usize::MAX {
                return Err(EntropyError::InvalidArgument(
                    "frequency fix-up failed".into(),
                ));
            }
            freqs[best] -= 1;
            sum -= 1;
        }
        while sum < target_i {
            let mut best = usize::MAX;
            let mut best_gain = -1.0;
            for s in 0..256 {
                let f = freqs[s];
                if f > 0 {
                    let gain = counts[s] as f64 * (f64::from(f + 1).log2() - f64::from(f).log2());
                    if gain > best_gain {
                        best_gain = gain;
                        best = s;
                    }
                }
            }
            if best == usize::MAX {
                return Err(EntropyError::InvalidArgument(
                    "frequency fix-up failed".into(),
                ));
            }
            freqs[best] += 1;
            sum += 1;
        }
        Ok(Self { prob_bits, freqs })
    }

    /// Builds a table from explicit frequencies, checking that they sum to
    /// `1 << prob_bits`.
    pub fn from_freqs(freqs: [u32; 256], prob_bits: u32) -> Result<Self> {
        if !(MIN_PROB_BITS..=MAX_PROB_BITS).contains(&prob_bits) {
            return Err(EntropyError::InvalidArgument(format!(
                "prob_bits {prob_bits} outside {MIN_PROB_BITS}..={MAX_PROB_BITS}"
            )));
        }
        let sum: u64 = freqs.iter().map(|&f| u64::from(f)).sum();
        if sum != 1u64 << prob_bits {
            return Err(EntropyError::InvalidArgument(format!(
                "frequencies sum to {sum}, expected {}",
                1u64 << prob_bits
            )));
        }
        Ok(Self { prob_bits, freqs })
    }

    /// log2 of the frequency total.
    pub fn prob_bits(&self) -> u32 {
        self.prob_bits
    }

    /// Quantised frequency of every symbol.
    pub fn freqs(&self) -> &[u32; 256] {
        &self.freqs
    }

    /// Exact cost in bits of coding `counts` with this table (infinite if a
    /// counted symbol has frequency 0), excluding the table itself.
    pub fn cost_bits(&self, counts: &Histogram) -> f64 {
        let mut bits = 0.0;
        for (&c, &f) in counts.iter().zip(self.freqs.iter()) {
            if c > 0 {
                if f == 0 {
                    return f64::INFINITY;
                }
                bits += c as f64 * (f64::from(self.prob_bits) - f64::from(f).log2());
            }
        }
        bits
    }

    /// Appends the compact serialisation: `prob_bits`, first and last present
    /// symbol, then each frequency in that range as a varint where a zero is
    /// followed by one byte giving the length of the zero run minus one.
    pub fn write(&self, out: &mut Vec<u8>) {
        out.push(self.prob_bits as u8);
        let first = self.freqs.iter().position(|&f| f > 0).unwrap_or(0);
        let last = self.freqs.iter().rposition(|&f| f > 0).unwrap_or(0);
        out.push(first as u8);
        out.push(last as u8);
        let mut s = first;
        while s <= last {
            let f = self.freqs[s];
            if f == 0 {
                let run = self.freqs[s..=last].iter().take_while(|&&f| f == 0).count();
                let run = run.min(256);
                out.push(0);
                out.push((run - 1) as u8);
                s += run;
            } else {
                varint::write_u64(out, u64::from(f));
                s += 1;
            }
        }
    }

    /// Reads a table written by [`FreqTable::write`] at `*pos`, advancing it.
    pub fn read(input: &[u8], pos: &mut usize) -> Result<Self> {
        let start = *pos;
        let header = input.get(*pos..*pos + 3).ok_or_else(|| {
            truncated(
                "frequency table header",
                *pos,
                3,
                input.len().saturating_sub(*pos),
            )
        })?;
        let prob_bits = u32::from(header[0]);
        let first = header[1] as usize;
        let last = header[2] as usize;
        *pos += 3;
        if !(MIN_PROB_BITS..=MAX_PROB_BITS).contains(&prob_bits) {
            return Err(corrupt(
                start,
                format!("table precision {prob_bits} bits unsupported"),
            ));
        }
        if first > last {
            return Err(corrupt(start, "table symbol range is reversed"));
        }
        let target = 1u64 << prob_bits;
        let mut freqs = [0u32; 256];
        let mut s = first;
        let mut sum = 0u64;
        while s <= last {
            let at = *pos;
            let f = varint::read_u64(input, pos)?;
            if f == 0 {
                let run = *input
                    .get(*pos)
                    .ok_or_else(|| truncated("frequency table zero run", *pos, 1, 0))?
                    as usize
                    + 1;
                *pos += 1;
                if s + run > last + 1 {
                    return Err(corrupt(at, "zero run past the table's last symbol"));
                }
                s += run;
            } else {
                if f > target {
                    return Err(corrupt(
                        at,
                        format!("frequency {f} exceeds table total {target}"),
                    ));
                }
                freqs[s] = f as u32;
                sum += f;
                s += 1;
            }
        }
        if sum != target {
            return Err(corrupt(
                start,
                format!("frequencies sum to {sum}, expected {target}"),
            ));
        }
        if freqs[first] == 0 || freqs[last] == 0 {
            return Err(corrupt(
                start,
                "table range does not start and end on present symbols",
            ));
        }
        Ok(Self { prob_bits, freqs })
    }

    /// Serialised size in bytes.
    pub fn serialized_len(&self) -> usize {
        let mut buf = Vec::with_capacity(64);
        self.write(&mut buf);
        buf.len()
    }
}

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
    /// [`crate::alias`] in `shape` (decode with [`DecodeTable::alias`] of
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
    /// [`crate::alias`]: the per-slot forms every kernel reads, and the
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

#[cfg(test)]
mod tests {
    use super::*;

    fn counts_of(pairs: &[(u8, u64)]) -> Histogram {
        let mut h = [0u64; 256];
        for &(s, c) in pairs {
            h[s as usize] = c;
        }
        h
    }

    #[test]
    fn normalises_to_exact_total_keeping_rare_symbols() {
        let h = counts_of(&[(3, 1_000_000), (7, 1), (200, 5), (255, 70_000)]);
        for bits in MIN_PROB_BITS..=MAX_PROB_BITS {
            let t = FreqTable::from_counts(&h, bits).unwrap();
            assert_eq!(
                t.freqs().iter().map(|&f| u64::from(f)).sum::<u64>(),
                1 << bits
            );
            for s in [3usize, 7, 200, 255] {
                assert!(t.freqs()[s] >= 1);
            }
            assert_eq!(t.freqs()[0], 0);
        }
    }

    #[test]
    fn quantisation_loss_is_small_on_a_skewed_distribution() {
        // Geometric-ish exponent-like distribution over 40 symbols.
        let mut h = [0u64; 256];
        for i in 0..40u32 {
            h[100 + i as usize] = (1u64 << 30) >> i.min(29);
        }
        // 27 symbols rarer than 2^-12 each take a whole slot at 12 bits.
        let ideal = crate::entropy_bits(&h) * h.iter().sum::<u64>() as f64;
        for (bits, bound) in [(12, 1.006), (14, 1.0015)] {
            let t = FreqTable::from_counts(&h, bits).unwrap();
            let loss = t.cost_bits(&h) / ideal;
            assert!(loss < bound, "loss {loss} at {bits} bits");
        }
    }

    #[test]
    fn serialisation_round_trips() {
        let cases = [
            counts_of(&[(0, 1)]),
            counts_of(&[(255, 9)]),
            counts_of(&[(0, 5), (255, 9)]),
            counts_of(&[(10, 5), (11, 3), (60, 1), (61, 1000)]),
            [1u64; 256],
        ];
        for h in cases {
            let t = FreqTable::from_counts(&h, 12).unwrap();
            let mut buf = vec![0xAA];
            t.write(&mut buf);
            let mut pos = 1;
            let back = FreqTable::read(&buf, &mut pos).unwrap();
            assert_eq!(back, t);
            assert_eq!(pos, buf.len());
            assert_eq!(t.serialized_len(), buf.len() - 1);
        }
    }

    #[test]
    fn rejects_corrupt_tables() {
        let t = FreqTable::from_counts(&counts_of(&[(1, 3), (9, 1)]), 12).unwrap();
        let mut buf = Vec::new();
        t.write(&mut buf);
        for cut in 0..buf.len() {
            let mut pos = 0;
            assert!(FreqTable::read(&buf[..cut], &mut pos).is_err());
        }
        let mut bad = buf.clone();
        bad[0] = 16;
        assert!(FreqTable::read(&bad, &mut 0).is_err());
        let mut bad = buf.clone();
        bad[3] ^= 1; // first frequency changes: the sum no longer matches
        assert!(FreqTable::read(&bad, &mut 0).is_err());
    }

    #[test]
    fn decode_table_matches_frequencies() {
        let t = FreqTable::from_counts(&counts_of(&[(2, 10), (5, 30)]), 8).unwrap();
        let d = DecodeTable::new(&t);
        assert_eq!(d.entries.len(), 256);
        assert_eq!(
            d.syms.iter().filter(|&&s| s == 2).count() as u32,
            t.freqs()[2]
        );
    }
}
