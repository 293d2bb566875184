//! The table of a byte made of two independent 4-bit halves.

use super::MAX_BITS;
use crate::error::{EntropyError, Result};
use crate::table::{FreqTable, MIN_PROB_BITS};

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
