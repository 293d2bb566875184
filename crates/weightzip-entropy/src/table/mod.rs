//! Frequency tables: normalisation to a power of two, serialisation, and the
//! lookup tables the rANS encoder and decoder run on.

mod alias;
mod coding;

#[cfg(test)]
pub(crate) use alias::AliasLayout;
pub use alias::{AliasShape, ALIAS_BITS, ALIAS_SYMBOLS};
pub use coding::{DecodeTable, EncodeTable};
pub(crate) use coding::{FastEncodeSymbol, RCP_SHIFT};

use crate::bytes::{write_varint, ByteReader};
use crate::error::{corrupt, EntropyError, Result};
use crate::histogram::Histogram;

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
                write_varint(out, u64::from(f));
                s += 1;
            }
        }
    }

    /// Reads a table written by [`FreqTable::write`].
    pub fn read(r: &mut ByteReader<'_>) -> Result<Self> {
        let start = r.pos();
        let [prob_bits, first, last] = r.array::<3>("frequency table header")?;
        let (prob_bits, first, last) = (u32::from(prob_bits), first as usize, last as usize);
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
            let at = r.pos();
            let f = r.varint()?;
            if f == 0 {
                let run = usize::from(r.u8("frequency table zero run")?) + 1;
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
            let mut r = ByteReader::at(&buf, 1);
            let back = FreqTable::read(&mut r).unwrap();
            assert_eq!(back, t);
            assert_eq!(r.pos(), buf.len());
            assert_eq!(t.serialized_len(), buf.len() - 1);
        }
    }

    #[test]
    fn rejects_corrupt_tables() {
        let t = FreqTable::from_counts(&counts_of(&[(1, 3), (9, 1)]), 12).unwrap();
        let mut buf = Vec::new();
        t.write(&mut buf);
        for cut in 0..buf.len() {
            assert!(FreqTable::read(&mut ByteReader::new(&buf[..cut])).is_err());
        }
        let mut bad = buf.clone();
        bad[0] = 16;
        assert!(FreqTable::read(&mut ByteReader::new(&bad)).is_err());
        let mut bad = buf.clone();
        bad[3] ^= 1; // first frequency changes: the sum no longer matches
        assert!(FreqTable::read(&mut ByteReader::new(&bad)).is_err());
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
