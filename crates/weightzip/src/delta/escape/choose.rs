//! The encoder's choices for an escape-coded delta, from one histogram of
//! its delta words: how many low bits of each word go raw, and the alias
//! table's shape for the rest.
//!
//! Small fine-tune steps move most words by a few units in the last
//! place: their delta words are their own symbols and few escape. Larger
//! steps spread the delta words over hundreds of values: then every
//! escaped word costs a second, slower decode, and splitting off `k` raw
//! low bits (near uniform at that spread, so no larger coded) leaves
//! symbols `z >> k` that escape far less. The choice minimises the
//! estimated bits plus [`ESCAPE_DECODE_BITS`] per escape.

use weightzip_entropy::AliasShape;

/// A 32-symbol table is kept while at most one word in this many is
/// escaped.
const WIDE_ESCAPES: u64 = 64;
/// What an escaped word is charged beyond its bits for its slower decode:
/// the choice trades up to this many bits of size per escape it saves.
const ESCAPE_DECODE_BITS: f64 = 4.0;

/// Entropy in bits of the samples with these counts.
pub(super) fn bits_of(counts: &[u64]) -> f64 {
    let total: u64 = counts.iter().sum();
    counts
        .iter()
        .filter(|&&c| c > 0)
        .map(|&c| c as f64 * (total as f64 / c as f64).log2())
        .sum()
}

/// How many times each 16-bit delta word occurs.
pub(super) struct WordCounts(Vec<u64>);

impl WordCounts {
    pub(super) fn of(z: &[u16]) -> Self {
        let mut counts = vec![0u64; 1 << 16];
        for &v in z {
            counts[usize::from(v)] += 1;
        }
        WordCounts(counts)
    }

    /// The counts of the symbols of the words shifted right by `shift`
    /// (capped at the escape of `shape`), and the counts of the escaped
    /// values' high bytes.
    pub(super) fn symbols(&self, shape: AliasShape, shift: u32) -> ([u64; 64], [u64; 256]) {
        let escape = shape.buckets() - 1;
        let (mut counts, mut high) = ([0u64; 64], [0u64; 256]);
        for (v, &c) in self.0.iter().enumerate().filter(|(_, &c)| c > 0) {
            let v = v >> shift;
            if v >= escape {
                counts[escape] += c;
                high[v >> 8] += c;
            } else {
                counts[v] += c;
            }
        }
        (counts, high)
    }

    /// The shape for the words shifted right by `shift`: 32 symbols
    /// unless more than one word in [`WIDE_ESCAPES`] escapes or 64 symbols
    /// save 0.5 % of the estimated size of the symbols and the escapes (at
    /// 16 bits).
    fn shape(&self, shift: u32) -> AliasShape {
        let n: u64 = self.0.iter().sum();
        let cost = |shape: AliasShape| -> (f64, u64) {
            let (counts, _) = self.symbols(shape, shift);
            let escapes = counts[shape.buckets() - 1];
            (bits_of(&counts) + 16.0 * escapes as f64, escapes)
        };
        let ((wide, escapes), (narrow, _)) = (cost(AliasShape::Wide), cost(AliasShape::Narrow));
        if escapes > n / WIDE_ESCAPES || narrow < wide * 0.995 {
            AliasShape::Narrow
        } else {
            AliasShape::Wide
        }
    }

    /// The raw low bits (at most `max_shift`) and the shape that cost
    /// least (see the module), among those with two symbols or more;
    /// `None` if none has (every word one symbol).
    pub(super) fn split(&self, max_shift: u32) -> Option<(u32, AliasShape)> {
        let n: u64 = self.0.iter().sum();
        let mut best: Option<(f64, u32, AliasShape)> = None;
        for shift in 0..=max_shift {
            let shape = self.shape(shift);
            let (counts, high) = self.symbols(shape, shift);
            if counts.iter().filter(|&&c| c > 0).count() < 2 {
                continue;
            }
            let escapes = counts[shape.buckets() - 1] as f64;
            let cost = bits_of(&counts)
                + bits_of(&high)
                + (8.0 + ESCAPE_DECODE_BITS) * escapes
                + f64::from(shift) * n as f64;
            if best.is_none_or(|(b, _, _)| cost < b) {
                best = Some((cost, shift, shape));
            }
        }
        best.map(|(_, shift, shape)| (shift, shape))
    }
}
