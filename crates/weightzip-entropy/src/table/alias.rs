//! Alias-method slot layout for rANS tables of at most [`ALIAS_SYMBOLS`]
//! symbols at [`ALIAS_BITS`] of precision.
//!
//! A plain rANS table gives each symbol one contiguous run of slots, so
//! finding the symbol of a slot takes a lookup in a table of `2^bits`
//! entries — a gather per symbol in a SIMD decoder, and on many cores the
//! gather is the slowest step of the decoder. The alias method (Walker,
//! Vose; "alias rANS" in Fabian Giesen's notes) lays the same frequencies
//! out so that each of [`ALIAS_BUCKETS`] equal buckets of slots holds at
//! most two symbols, split at one divider. A decoder then needs three
//! 64-entry tables (divider, first symbol's entry, second symbol's entry),
//! which fit in SIMD registers: lookups become register permutes.
//!
//! The coded bytes keep the plain format of [`crate::rans`] — only which
//! slots belong to which symbol changes, and with it the rank of a slot
//! among its symbol's slots. Symbol `s` owns `freq[s]` slots whichever way
//! they are laid out, so the state arithmetic and the cost are identical
//! to a contiguous layout of the same frequencies. The layout is a pure
//! function of the frequencies: the decoder rebuilds it from the table.

use super::FreqTable;
use crate::error::{EntropyError, Result};

/// Precision of alias tables (slots = `2^12`).
pub const ALIAS_BITS: u32 = 12;
/// Most buckets of a layout (those of [`AliasShape::Narrow`]).
pub(crate) const ALIAS_BUCKETS: usize = 64;
/// Most symbols an alias table may hold: symbols `0..64`.
pub const ALIAS_SYMBOLS: usize = ALIAS_BUCKETS;
const SLOTS: usize = 1 << ALIAS_BITS;

/// How the slots are cut into buckets. Symbol `b` owns bucket `b`, so the
/// bucket count is also the most symbols a layout holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AliasShape {
    /// 64 buckets of 64 slots: up to 64 symbols. A SIMD lookup of an entry
    /// is four two-register permutes and three blends.
    Narrow,
    /// 32 buckets of 128 slots: up to 32 symbols. A lookup is two
    /// two-register permutes and one blend, and the bucket needs no
    /// selection between register pairs.
    Wide,
}

impl AliasShape {
    /// Buckets of the layout (and most symbols it holds).
    pub const fn buckets(self) -> usize {
        match self {
            AliasShape::Narrow => 64,
            AliasShape::Wide => 32,
        }
    }

    /// log2 of the slots per bucket.
    pub const fn slot_bits(self) -> u32 {
        match self {
            AliasShape::Narrow => 6,
            AliasShape::Wide => 7,
        }
    }

    /// Whether `table` can be laid out by the alias method in this shape
    /// (precision [`ALIAS_BITS`], at most [`AliasShape::buckets`] symbols).
    pub fn fits(self, table: &FreqTable) -> bool {
        supports(table, self)
    }

    const fn bucket_slots(self) -> u32 {
        1 << self.slot_bits()
    }
}

/// The per-bucket tables of a SIMD alias decoder. With `w` the shape's
/// slots per bucket (64 or 128), for a state `x`, `slot = x & 4095` and
/// `b = slot / w`:
/// - the slot is in the second ("high") part of bucket `b` iff bit
///   `log2(w)` of `(x & (4w - 1)) + to_high[b]` is set (a byte table: one
///   byte permute; no mask of `x` is needed, see [`AliasBuckets::to_high`]);
/// - the part's entry is `bias << 19 | (4096 - freq) << 7 | sym` with the
///   13-bit signed `bias = rank - slot`, and the next state is
///   `x - (4096 - freq) * (x >> 12) + bias`, which equals the usual
///   `freq * (x >> 12) + rank` (as `x = 4096 * (x >> 12) + slot`). One
///   arithmetic shift extracts the bias, a shift and a mask the frequency
///   complement, and the symbol is the entry's low byte below bit 6.
///
/// With 32 buckets, entry `b + 32` repeats entry `b` in all three tables,
/// so a 6-bit index (one bit above the bucket) finds the same values.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct AliasBuckets {
    /// How the slots are cut.
    pub shape: AliasShape,
    /// `w - low_len[b] + w * (b & 1)`, where `low_len[b]` is in `1..=w`:
    /// with `x & (4w - 1) = w * (b & 3) + offset`, bit `log2(w)` of the sum
    /// is `offset >= low_len[b]` (the added `w * (b & 1)` makes `b & 3`
    /// contribute an even multiple of `w`), and the sum stays below 256.
    pub to_high: [u8; ALIAS_BUCKETS],
    /// Entry of each bucket's low part.
    pub low: [u32; ALIAS_BUCKETS],
    /// Entry of each bucket's high part.
    pub high: [u32; ALIAS_BUCKETS],
}

/// The complete layout: what both coders need.
#[derive(Clone, Debug)]
pub(crate) struct AliasLayout {
    /// Symbol of every slot.
    pub(crate) sym_of_slot: Vec<u8>,
    /// Rank of every slot among its symbol's slots (0-based, slot order).
    pub(crate) rank_of_slot: Vec<u16>,
    pub(crate) buckets: AliasBuckets,
}

/// Checks that `table` can be laid out by the alias method in `shape`.
pub(crate) fn supports(table: &FreqTable, shape: AliasShape) -> bool {
    let f = table.freqs();
    table.prob_bits() == ALIAS_BITS
        && f[shape.buckets()..].iter().all(|&x| x == 0)
        && f.iter().all(|&x| x < 1 << ALIAS_BITS)
}

impl AliasLayout {
    /// Lays `table` out in `shape`. Needs `prob_bits == 12`, symbols below
    /// the shape's bucket count, and no symbol owning every slot (a
    /// constant stream is not rANS-coded).
    pub(crate) fn new(table: &FreqTable, shape: AliasShape) -> Result<Self> {
        if !supports(table, shape) {
            return Err(EntropyError::InvalidArgument(format!(
                "an alias table needs {ALIAS_BITS}-bit precision, symbols below {} \
                 and at least two symbols (got {} bits)",
                shape.buckets(),
                table.prob_bits()
            )));
        }
        let nb = shape.buckets();
        let bucket_slots = shape.bucket_slots();
        let freqs = table.freqs();
        // Vose's construction on integers: bucket b belongs to symbol b; a
        // symbol with fewer than bucket_slots slots left fills the low part
        // of its bucket and a symbol with more fills the rest. The sums are
        // exact, so every bucket ends full. Stacks make it deterministic.
        let mut left = [0u32; ALIAS_BUCKETS];
        left[..nb].copy_from_slice(&freqs[..nb]);
        let mut small: Vec<usize> = (0..nb).filter(|&s| left[s] < bucket_slots).collect();
        let mut large: Vec<usize> = (0..nb).filter(|&s| left[s] >= bucket_slots).collect();
        let mut divider = [bucket_slots; ALIAS_BUCKETS];
        let mut low_sym: [usize; ALIAS_BUCKETS] = std::array::from_fn(|b| b);
        let mut high_sym: [usize; ALIAS_BUCKETS] = std::array::from_fn(|b| b);
        while let (Some(&s), Some(&l)) = (small.last(), large.last()) {
            small.pop();
            divider[s] = left[s];
            low_sym[s] = s;
            high_sym[s] = l;
            left[l] -= bucket_slots - left[s];
            if left[l] < bucket_slots {
                large.pop();
                small.push(l);
            }
        }
        // What is left holds exactly one bucket's worth each.
        if small.iter().chain(&large).any(|&s| left[s] != bucket_slots) {
            return Err(EntropyError::InvalidArgument(
                "frequencies do not sum to the table size".into(),
            ));
        }
        for &s in small.iter().chain(&large) {
            divider[s] = bucket_slots;
        }
        // A bucket whose own symbol is absent holds only the other one: call
        // that its low part, so every low part is non-empty (which keeps
        // `to_high` within a byte for 128-slot buckets).
        for b in 0..nb {
            if divider[b] == 0 {
                low_sym[b] = high_sym[b];
                divider[b] = bucket_slots;
            }
        }

        // Ranks follow slot order: part by part (a run of one symbol's slots).
        let mut sym_of_slot = vec![0u8; SLOTS];
        let mut rank_of_slot = vec![0u16; SLOTS];
        let mut seen = [0u16; ALIAS_BUCKETS];
        let w = bucket_slots as usize;
        for b in 0..nb {
            let (first, split) = (b * w, b * w + divider[b] as usize);
            for (run, s) in [(first..split, low_sym[b]), (split..first + w, high_sym[b])] {
                let len = run.len() as u16;
                sym_of_slot[run.clone()].fill(s as u8);
                for (r, rank) in rank_of_slot[run].iter_mut().zip(seen[s]..) {
                    *r = rank;
                }
                seen[s] += len;
            }
        }
        let entry = |slot: usize| -> u32 {
            let s = usize::from(sym_of_slot[slot]);
            let bias = i32::from(rank_of_slot[slot]) - slot as i32;
            ((bias as u32) << 19) | ((SLOTS as u32 - freqs[s]) << 7) | s as u32
        };
        let mut buckets = AliasBuckets {
            shape,
            to_high: [0; ALIAS_BUCKETS],
            low: [0; ALIAS_BUCKETS],
            high: [0; ALIAS_BUCKETS],
        };
        for b in 0..ALIAS_BUCKETS {
            // Past the shape's buckets, the tables repeat (see AliasBuckets).
            let own = b % nb;
            let low_len = divider[own];
            let first = own * bucket_slots as usize;
            buckets.to_high[b] = (bucket_slots - low_len + bucket_slots * (own as u32 & 1)) as u8;
            buckets.low[b] = entry(first);
            // An empty high part is never selected; give it the low entry.
            buckets.high[b] = entry(if low_len < bucket_slots {
                first + low_len as usize
            } else {
                first
            });
        }
        Ok(Self {
            sym_of_slot,
            rank_of_slot,
            buckets,
        })
    }

    /// What only the encoder needs: `slot_of_rank[start[s] + r]` is the
    /// slot of symbol `s`'s rank `r`, where `start[s]` is the sum of the
    /// frequencies of the symbols below `s` (the usual cumulative start).
    pub(crate) fn slot_of_rank(&self, table: &FreqTable) -> Vec<u32> {
        let freqs = table.freqs();
        let mut start = [0u32; ALIAS_BUCKETS];
        for s in 1..ALIAS_BUCKETS {
            start[s] = start[s - 1] + freqs[s - 1];
        }
        let mut slot_of_rank = vec![0u32; SLOTS];
        for (slot, (&s, &r)) in self.sym_of_slot.iter().zip(&self.rank_of_slot).enumerate() {
            slot_of_rank[(start[usize::from(s)] + u32::from(r)) as usize] = slot as u32;
        }
        slot_of_rank
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(freqs: &[u32]) -> FreqTable {
        let mut f = [0u32; 256];
        f[..freqs.len()].copy_from_slice(freqs);
        FreqTable::from_freqs(f, ALIAS_BITS).unwrap()
    }

    /// Every bucket holds at most two symbols, every symbol owns exactly its
    /// frequency of slots with ranks 0..freq, and the register tables give
    /// the same symbol and next state as the per-slot tables.
    fn check(t: &FreqTable) {
        for shape in [AliasShape::Narrow, AliasShape::Wide] {
            if supports(t, shape) {
                check_shape(t, shape);
            }
        }
    }

    fn check_shape(t: &FreqTable, shape: AliasShape) {
        let l = AliasLayout::new(t, shape).unwrap();
        let w = shape.bucket_slots() as usize;
        let slot_of_rank = l.slot_of_rank(t);
        let f = t.freqs();
        let mut owned = [0u32; 256];
        for slot in 0..SLOTS {
            let s = usize::from(l.sym_of_slot[slot]);
            assert_eq!(u32::from(l.rank_of_slot[slot]), owned[s]);
            owned[s] += 1;
        }
        assert_eq!(&owned, f);
        for b in 0..shape.buckets() {
            let mut syms: Vec<u8> = l.sym_of_slot[b * w..b * w + w].to_vec();
            syms.dedup();
            assert!(syms.len() <= 2, "bucket {b}: {syms:?}");
        }
        let mut start = 0u32;
        let mut starts = [0u32; 256];
        for s in 0..256 {
            starts[s] = start;
            start += f[s];
        }
        for slot in 0..SLOTS {
            let s = usize::from(l.sym_of_slot[slot]);
            let r = u32::from(l.rank_of_slot[slot]);
            assert_eq!(slot_of_rank[(starts[s] + r) as usize], slot as u32);
            // The register path.
            let x = (5u32 << 12) | slot as u32;
            // The kernels index with 6 bits above the slot's offset.
            let b = (x as usize >> shape.slot_bits()) & 63;
            let sum = (x & (4 * w as u32 - 1)) + u32::from(l.buckets.to_high[b]);
            let high = sum & w as u32 != 0;
            let e = if high {
                l.buckets.high[b]
            } else {
                l.buckets.low[b]
            };
            assert_eq!((e & 0x7f) as usize, s);
            let complement = (e >> 7) & 0xfff;
            let next = x
                .wrapping_sub(complement.wrapping_mul(x >> 12))
                .wrapping_add(((e as i32) >> 19) as u32);
            assert_eq!(next, f[s] * 5 + r);
        }
    }

    #[test]
    fn layouts_are_consistent() {
        check(&table(&[2048, 2048]));
        check(&table(&[1, 4095]));
        check(&table(&[4095, 1]));
        check(&table(&[64; 64]));
        check(&table(&[128; 32]));
        // Absent symbols below the last one leave buckets to others.
        check(&table(&[0, 2000, 0, 0, 96, 0, 2000]));
        let mut f = vec![1u32; 63];
        f.push(4096 - 63);
        check(&table(&f));
        let mut f = vec![0u32; 64];
        f[7] = 1000;
        f[63] = 3000;
        f[30] = 96;
        check(&table(&f));
        // Geometric, like exponents.
        let mut f: Vec<u32> = (0..40).map(|i| (1000u32 >> (i / 2)).max(1)).collect();
        let sum: u32 = f.iter().sum();
        f[0] += 4096 - sum;
        check(&table(&f));
        let mut seed = 1u64;
        for round in 0..200 {
            let symbols = if round % 2 == 0 { 64 } else { 32 };
            let mut f = vec![0u32; symbols];
            let mut left = 4096u32;
            while left > 0 {
                seed = seed
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                let s = (seed >> 58) as usize % symbols;
                let take = (((seed >> 20) % 300) as u32 + 1).min(left);
                f[s] += take;
                left -= take;
            }
            if f.contains(&4096) {
                continue;
            }
            check(&table(&f));
        }
    }

    #[test]
    fn rejects_tables_it_cannot_lay_out() {
        let mut f = [0u32; 256];
        f[64] = 2048;
        f[0] = 2048;
        let narrow = AliasShape::Narrow;
        assert!(AliasLayout::new(&FreqTable::from_freqs(f, 12).unwrap(), narrow).is_err());
        let mut f = [0u32; 256];
        f[3] = 4096;
        assert!(AliasLayout::new(&FreqTable::from_freqs(f, 12).unwrap(), narrow).is_err());
        let mut f = [0u32; 256];
        f[0] = 1024;
        f[1] = 1024;
        assert!(AliasLayout::new(&FreqTable::from_freqs(f, 11).unwrap(), narrow).is_err());
        let mut f = [0u32; 256];
        f[0] = 2048;
        f[32] = 2048;
        let t = FreqTable::from_freqs(f, 12).unwrap();
        assert!(AliasLayout::new(&t, narrow).is_ok());
        assert!(AliasLayout::new(&t, AliasShape::Wide).is_err());
    }
}
