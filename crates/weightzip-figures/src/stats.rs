//! The little statistics the figures need: medians, percentiles, histogram
//! bins and a seeded model-level (cluster) bootstrap.

/// Median of the finite values, `None` when there are none.
pub fn median(values: &[f64]) -> Option<f64> {
    let mut v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    Some(percentile_sorted(&v, 50.0))
}

/// Percentile `p` (0..=100) of sorted values, linear interpolation between
/// closest ranks. `sorted` must be non-empty.
pub fn percentile_sorted(sorted: &[f64], p: f64) -> f64 {
    let n = sorted.len();
    if n == 1 {
        return sorted[0];
    }
    let pos = (p / 100.0).clamp(0.0, 1.0) * (n - 1) as f64;
    let lo = pos.floor() as usize;
    let hi = (lo + 1).min(n - 1);
    let frac = pos - lo as f64;
    sorted[lo] + (sorted[hi] - sorted[lo]) * frac
}

/// splitmix64: a tiny, well-mixed, seedable generator (Steele, Lea & Flood).
#[derive(Debug, Clone)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    /// A generator started at `seed`.
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (`n > 0`), by Lemire's multiply-shift.
    pub fn below(&mut self, n: usize) -> usize {
        ((u128::from(self.next_u64()) * n as u128) >> 64) as usize
    }
}

/// The fixed seed of every bootstrap in the figures.
pub const BOOTSTRAP_SEED: u64 = 0x5EED_F164_2026;
/// Default number of bootstrap resamples.
pub const BOOTSTRAP_B: usize = 2000;

/// 95 % interval of the median by a cluster bootstrap: `b` times, draw as
/// many clusters as there are, with replacement, pool their values and take
/// the median; return the 2.5th and 97.5th percentiles of those medians.
/// `None` when there is no value at all.
pub fn cluster_bootstrap_median_ci(
    clusters: &[Vec<f64>],
    b: usize,
    seed: u64,
) -> Option<(f64, f64)> {
    let clusters: Vec<&Vec<f64>> = clusters.iter().filter(|c| !c.is_empty()).collect();
    if clusters.is_empty() || b == 0 {
        return None;
    }
    let mut rng = SplitMix64::new(seed);
    let mut medians = Vec::with_capacity(b);
    let mut pooled = Vec::new();
    for _ in 0..b {
        pooled.clear();
        for _ in 0..clusters.len() {
            pooled.extend_from_slice(clusters[rng.below(clusters.len())]);
        }
        pooled.sort_by(f64::total_cmp);
        medians.push(percentile_sorted(&pooled, 50.0));
    }
    medians.sort_by(f64::total_cmp);
    Some((
        percentile_sorted(&medians, 2.5),
        percentile_sorted(&medians, 97.5),
    ))
}

/// Equal-width bins over `[lo, hi]`; values outside are clamped into the end
/// bins. Returns one count per bin.
pub fn histogram(values: &[f64], lo: f64, hi: f64, bins: usize) -> Vec<usize> {
    let bins = bins.max(1);
    let mut counts = vec![0usize; bins];
    let width = (hi - lo) / bins as f64;
    for &v in values.iter().filter(|v| v.is_finite()) {
        let i = if width > 0.0 {
            ((v - lo) / width).floor()
        } else {
            0.0
        };
        let i = (i.max(0.0) as usize).min(bins - 1);
        counts[i] += 1;
    }
    counts
}

/// A bin count for `values` in `[lo, hi]` by the Freedman–Diaconis rule,
/// clamped to `min..=max` (the square-root rule when the IQR is zero).
pub fn bin_count(values: &[f64], lo: f64, hi: f64, min: usize, max: usize) -> usize {
    let mut v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
    if v.len() < 2 || hi <= lo {
        return min;
    }
    v.sort_by(f64::total_cmp);
    let iqr = percentile_sorted(&v, 75.0) - percentile_sorted(&v, 25.0);
    let n = v.len() as f64;
    let k = if iqr > 0.0 {
        let h = 2.0 * iqr / n.cbrt();
        ((hi - lo) / h).ceil()
    } else {
        n.sqrt().ceil()
    };
    (k as usize).clamp(min, max)
}

/// A padded axis range around `[min, max]`: `pad_lo`/`pad_hi` are fractions
/// of the span; a degenerate span widens to `min_span`.
pub fn fit_range(min: f64, max: f64, pad_lo: f64, pad_hi: f64, min_span: f64) -> (f64, f64) {
    let (mut lo, mut hi) = (min, max);
    if hi - lo < min_span {
        let mid = (lo + hi) / 2.0;
        lo = mid - min_span / 2.0;
        hi = mid + min_span / 2.0;
    }
    let span = hi - lo;
    (lo - pad_lo * span, hi + pad_hi * span)
}

/// Weighted percentile `p` (0..=100) of `(value, weight)` pairs: the smallest
/// value whose cumulative weight reaches `p` % of the total.
pub fn weighted_percentile(pairs: &[(f64, f64)], p: f64) -> Option<f64> {
    let mut v: Vec<(f64, f64)> = pairs
        .iter()
        .copied()
        .filter(|(x, w)| x.is_finite() && w.is_finite() && *w > 0.0)
        .collect();
    v.sort_by(|a, b| a.0.total_cmp(&b.0));
    let total: f64 = v.iter().map(|(_, w)| w).sum();
    let target = total * (p / 100.0).clamp(0.0, 1.0);
    let mut cum = 0.0;
    for (x, w) in &v {
        cum += w;
        if cum >= target {
            return Some(*x);
        }
    }
    v.last().map(|(x, _)| *x)
}

/// Minimum and maximum of the finite values.
pub fn min_max(values: impl IntoIterator<Item = f64>) -> Option<(f64, f64)> {
    values
        .into_iter()
        .filter(|v| v.is_finite())
        .fold(None, |acc, v| match acc {
            None => Some((v, v)),
            Some((lo, hi)) => Some((lo.min(v), hi.max(v))),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn medians_and_percentiles() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), Some(2.5));
        assert_eq!(median(&[]), None);
        assert_eq!(percentile_sorted(&[0.0, 10.0], 25.0), 2.5);
        let pairs = [(1.0, 1.0), (2.0, 100.0), (3.0, 1.0)];
        assert_eq!(weighted_percentile(&pairs, 1.0), Some(2.0));
        assert_eq!(weighted_percentile(&pairs, 100.0), Some(3.0));
    }

    #[test]
    fn bootstrap_is_seeded_and_brackets_the_median() {
        let clusters = vec![
            vec![0.001, -0.002, 0.003],
            vec![0.0, 0.004, -0.001],
            vec![0.002, -0.003],
        ];
        let a = cluster_bootstrap_median_ci(&clusters, 500, 7).unwrap();
        let b = cluster_bootstrap_median_ci(&clusters, 500, 7).unwrap();
        assert_eq!(a, b);
        let m = median(&clusters.concat()).unwrap();
        assert!(a.0 <= m && m <= a.1, "{a:?} vs {m}");
        assert_eq!(cluster_bootstrap_median_ci(&[], 10, 1), None);
    }

    #[test]
    fn histogram_counts_everything() {
        let v = [0.0, 0.1, 0.5, 0.99, 1.0, 2.0, -1.0];
        let h = histogram(&v, 0.0, 1.0, 4);
        assert_eq!(h.iter().sum::<usize>(), v.len());
        let mut rng = SplitMix64::new(1);
        assert!((0..1000).all(|_| rng.below(3) < 3));
    }
}
