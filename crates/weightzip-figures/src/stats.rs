//! The little statistics the figures need: histogram bins and axis ranges.
//! Medians, quantiles and the seeded (cluster) bootstrap are the lab's own
//! (`weightzip_records::stats`), so a CI in a figure and in `report` agree.

pub use weightzip_records::stats::{median, Bootstrap};

/// Percentile `p` (0..=100) of sorted values, linear interpolation between
/// closest ranks. `sorted` must be non-empty.
pub fn percentile_sorted(sorted: &[f64], p: f64) -> f64 {
    weightzip_records::stats::quantile_sorted(sorted, p / 100.0)
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
    fn histogram_counts_everything() {
        let v = [0.0, 0.1, 0.5, 0.99, 1.0, 2.0, -1.0];
        let h = histogram(&v, 0.0, 1.0, 4);
        assert_eq!(h.iter().sum::<usize>(), v.len());
    }
}
