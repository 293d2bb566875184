//! Aggregates of per-item ratios and the one seeded cluster bootstrap of the
//! lab: `report` and the figures both use [`Bootstrap`] (same PRNG, same
//! default B and seed), so an interval printed by one matches the other.
//!
//! - byte-weighted ratio: Σ input / Σ output (the study's headline number);
//! - geometric mean, median and minimum of per-item ratios;
//! - 95 % confidence intervals by a percentile bootstrap that resamples whole
//!   clusters (models) with replacement — items when there is one model —,
//!   driven by a small seeded PRNG so every number is reproducible.

/// Byte-weighted ratio Σ input / Σ output over `(input, output)` pairs;
/// `None` when empty or when the outputs sum to zero.
pub fn byte_weighted(pairs: &[(f64, f64)]) -> Option<f64> {
    let (i, o) = pairs
        .iter()
        .fold((0.0, 0.0), |(i, o), &(a, b)| (i + a, o + b));
    (!pairs.is_empty() && o > 0.0).then(|| i / o)
}

/// Geometric mean of positive values; `None` when empty or any value is not
/// positive and finite.
pub fn geomean(xs: &[f64]) -> Option<f64> {
    if xs.is_empty() || xs.iter().any(|x| !(x.is_finite() && *x > 0.0)) {
        return None;
    }
    Some((xs.iter().map(|x| x.ln()).sum::<f64>() / xs.len() as f64).exp())
}

/// Median (mean of the two middle values for an even count); `None` when
/// empty. NaNs are ignored.
pub fn median(xs: &[f64]) -> Option<f64> {
    quantile(xs, 0.5)
}

/// Linear-interpolated quantile `q` in [0, 1] (NumPy's default "linear");
/// `None` when empty. NaNs are ignored.
pub fn quantile(xs: &[f64], q: f64) -> Option<f64> {
    let mut v: Vec<f64> = xs.iter().copied().filter(|x| !x.is_nan()).collect();
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    Some(quantile_sorted(&v, q))
}

/// Linear-interpolated quantile `q` in [0, 1] of sorted, non-empty values.
pub fn quantile_sorted(v: &[f64], q: f64) -> f64 {
    let pos = q.clamp(0.0, 1.0) * (v.len() - 1) as f64;
    let lo = pos.floor() as usize;
    let hi = pos.ceil() as usize;
    v[lo] + (v[hi] - v[lo]) * (pos - lo as f64)
}

/// Smallest value; `None` when empty. NaNs are ignored.
pub fn min(xs: &[f64]) -> Option<f64> {
    xs.iter()
        .copied()
        .filter(|x| !x.is_nan())
        .min_by(f64::total_cmp)
}

/// Largest value; `None` when empty. NaNs are ignored.
pub fn max(xs: &[f64]) -> Option<f64> {
    xs.iter()
        .copied()
        .filter(|x| !x.is_nan())
        .max_by(f64::total_cmp)
}

/// SplitMix64: a tiny, well-mixed PRNG; plenty for resampling indices.
#[derive(Clone, Debug)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    /// A generator from a seed.
    pub fn new(seed: u64) -> Self {
        SplitMix64(seed)
    }

    /// Next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform integer in `0..n` (`n > 0`), by Lemire's multiply-shift with
    /// rejection, so there is no modulo bias.
    pub fn below(&mut self, n: usize) -> usize {
        let n = n as u64;
        if n <= 1 {
            return 0;
        }
        let threshold = n.wrapping_neg() % n;
        loop {
            let m = u128::from(self.next_u64()) * u128::from(n);
            if (m as u64) >= threshold {
                return (m >> 64) as usize;
            }
        }
    }
}

/// Which unit the bootstrap resampled.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CiLevel {
    /// Whole models (the study's headline CI).
    Model,
    /// Single items: used when there are fewer than two models, where a
    /// model-level interval would be degenerate.
    Item,
}

impl CiLevel {
    /// `"model"` or `"item"`.
    pub fn as_str(self) -> &'static str {
        match self {
            CiLevel::Model => "model",
            CiLevel::Item => "item",
        }
    }
}

/// A bootstrap confidence interval.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Interval {
    /// Lower bound.
    pub lo: f64,
    /// Upper bound.
    pub hi: f64,
    /// What was resampled.
    pub level: CiLevel,
    /// Number of clusters the resampling drew from.
    pub clusters: usize,
}

/// Settings of the bootstrap.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Bootstrap {
    /// Number of resamples.
    pub resamples: usize,
    /// PRNG seed.
    pub seed: u64,
    /// Coverage, e.g. 0.95.
    pub coverage: f64,
}

impl Default for Bootstrap {
    fn default() -> Self {
        Bootstrap {
            resamples: 1000,
            seed: 0x5EED_2026,
            coverage: 0.95,
        }
    }
}

impl Bootstrap {
    /// Percentile interval of `stat` over resamples of the clusters.
    ///
    /// `clusters[c]` holds the indices of the items of cluster `c`; each
    /// resample draws `clusters.len()` clusters with replacement and passes
    /// the concatenated item indices to `stat`. Resamples where `stat` is
    /// `None` are dropped; `None` when no resample gave a value.
    pub fn percentile(
        &self,
        clusters: &[Vec<usize>],
        level: CiLevel,
        stat: impl Fn(&[usize]) -> Option<f64>,
    ) -> Option<Interval> {
        if clusters.is_empty() || self.resamples == 0 {
            return None;
        }
        let mut rng = SplitMix64::new(self.seed);
        let mut values = Vec::with_capacity(self.resamples);
        let mut idx = Vec::new();
        for _ in 0..self.resamples {
            idx.clear();
            for _ in 0..clusters.len() {
                idx.extend_from_slice(&clusters[rng.below(clusters.len())]);
            }
            if let Some(v) = stat(&idx).filter(|v| v.is_finite()) {
                values.push(v);
            }
        }
        if values.is_empty() {
            return None;
        }
        values.sort_by(f64::total_cmp);
        let tail = (1.0 - self.coverage.clamp(0.0, 1.0)) / 2.0;
        Some(Interval {
            lo: quantile_sorted(&values, tail),
            hi: quantile_sorted(&values, 1.0 - tail),
            level,
            clusters: clusters.len(),
        })
    }

    /// Cluster bootstrap CI of the byte-weighted ratio of `(cluster, input,
    /// output)` items: model level when there are at least two clusters,
    /// else item level.
    pub fn byte_weighted_ci(&self, items: &[(&str, f64, f64)]) -> Option<Interval> {
        let (groups, level) = Self::clusters(items.iter().map(|(c, _, _)| *c));
        self.percentile(&groups, level, |idx| {
            let (i, o) = idx
                .iter()
                .fold((0.0, 0.0), |(i, o), &k| (i + items[k].1, o + items[k].2));
            (o > 0.0).then(|| i / o)
        })
    }
}

impl Bootstrap {
    /// Model-level clusters of `labels` when there are at least two, else
    /// one cluster per item (and the level says so).
    pub fn clusters<'a>(labels: impl Iterator<Item = &'a str>) -> (Vec<Vec<usize>>, CiLevel) {
        let groups = clusters_of(labels);
        if groups.len() >= 2 {
            (groups, CiLevel::Model)
        } else {
            let n = groups.iter().map(Vec::len).sum();
            ((0..n).map(|i| vec![i]).collect(), CiLevel::Item)
        }
    }

    /// Cluster bootstrap CI of the geometric mean of `(cluster, value)` items.
    pub fn geomean_ci(&self, items: &[(&str, f64)]) -> Option<Interval> {
        let (groups, level) = Self::clusters(items.iter().map(|(c, _)| *c));
        self.percentile(&groups, level, |idx| {
            geomean(&idx.iter().map(|&k| items[k].1).collect::<Vec<_>>())
        })
    }

    /// Cluster bootstrap CI of the median of `(cluster, value)` items.
    pub fn median_ci(&self, items: &[(&str, f64)]) -> Option<Interval> {
        let (groups, level) = Self::clusters(items.iter().map(|(c, _)| *c));
        self.percentile(&groups, level, |idx| {
            median(&idx.iter().map(|&k| items[k].1).collect::<Vec<_>>())
        })
    }

    /// Bootstrap CI of the median of values grouped by cluster, always
    /// resampling the given clusters (fig4: models), whatever their count.
    pub fn median_ci_of_clusters(&self, clusters: &[Vec<f64>]) -> Option<Interval> {
        let values: Vec<f64> = clusters.iter().flatten().copied().collect();
        let mut groups = Vec::new();
        let mut at = 0;
        for c in clusters.iter().filter(|c| !c.is_empty()) {
            groups.push((at..at + c.len()).collect::<Vec<_>>());
            at += c.len();
        }
        self.percentile(&groups, CiLevel::Model, |idx| {
            median(&idx.iter().map(|&k| values[k]).collect::<Vec<_>>())
        })
    }
}

/// Groups item indices by cluster label, clusters in first-seen order.
pub fn clusters_of<'a>(labels: impl Iterator<Item = &'a str>) -> Vec<Vec<usize>> {
    let mut order: Vec<&str> = Vec::new();
    let mut groups: Vec<Vec<usize>> = Vec::new();
    for (i, l) in labels.enumerate() {
        match order.iter().position(|o| *o == l) {
            Some(p) => groups[p].push(i),
            None => {
                order.push(l);
                groups.push(vec![i]);
            }
        }
    }
    groups
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn below_is_in_range_and_covers() {
        let mut r = SplitMix64::new(1);
        let mut seen = [0u32; 7];
        for _ in 0..7000 {
            seen[r.below(7)] += 1;
        }
        assert!(seen.iter().all(|&c| c > 800), "{seen:?}");
    }

    #[test]
    fn quantiles_match_numpy_linear() {
        let v = [4.0, 1.0, 3.0, 2.0];
        assert_eq!(median(&v), Some(2.5));
        assert_eq!(quantile(&v, 0.0), Some(1.0));
        assert_eq!(quantile(&v, 1.0), Some(4.0));
        assert!((quantile(&v, 0.25).unwrap() - 1.75).abs() < 1e-12);
        assert_eq!(median(&[]), None);
    }

    #[test]
    fn intervals_are_seeded_and_bracket_the_statistic() {
        let items: Vec<(&str, f64)> = [
            ("a", 1.40),
            ("a", 1.45),
            ("b", 1.50),
            ("b", 1.52),
            ("c", 1.47),
            ("c", 1.49),
        ]
        .to_vec();
        let b = Bootstrap::default();
        let g = b.geomean_ci(&items).unwrap();
        assert_eq!(Some(g), b.geomean_ci(&items));
        let values: Vec<f64> = items.iter().map(|i| i.1).collect();
        let gm = geomean(&values).unwrap();
        assert!(g.lo <= gm && gm <= g.hi && g.lo < g.hi, "{g:?} vs {gm}");
        assert_eq!(g.level, CiLevel::Model);
        let m = b.median_ci(&items).unwrap();
        let md = median(&values).unwrap();
        assert!(m.lo <= md && md <= m.hi, "{m:?} vs {md}");
        // One model: the items are resampled, and the level says so.
        let one: Vec<(&str, f64)> = values.iter().map(|v| ("a", *v)).collect();
        assert_eq!(b.median_ci(&one).unwrap().level, CiLevel::Item);
        let clusters = vec![vec![0.001, -0.002, 0.003], vec![0.0, 0.004], vec![0.002]];
        let c = b.median_ci_of_clusters(&clusters).unwrap();
        assert!(c.lo <= c.hi);
        assert_eq!(b.median_ci_of_clusters(&[]), None);
    }
}
