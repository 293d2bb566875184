//! The model search of the encoder: table costs, the exponent model and
//! the row / column statistics that find the row length.

use super::*;

/// Chunks with fewer elements also try the fast codec (mode 2).
pub(super) const FAST_CHECK_BELOW: usize = 1 << 16;

/// Estimated serialised size in bits of a 12-bit table for `h`.
pub(super) fn table_bits_estimate(h: &Histogram, total: u64) -> f64 {
    if total == 0 {
        return 0.0;
    }
    let mut bytes = 3.0;
    let mut zero_run = false;
    let first = h.iter().position(|&c| c > 0).unwrap_or(0);
    let last = h.iter().rposition(|&c| c > 0).unwrap_or(0);
    for &c in &h[first..=last] {
        if c == 0 {
            if !zero_run {
                bytes += 2.0;
            }
            zero_run = true;
        } else {
            zero_run = false;
            let f = (c as f64 * f64::from(1u32 << JOINT_BITS) / total as f64).max(1.0);
            bytes += if f < 128.0 { 1.0 } else { 2.0 };
        }
    }
    bytes * 8.0
}

pub(super) fn ideal_cost(h: &Histogram) -> f64 {
    let total: u64 = h.iter().sum();
    entropy_bits(h) * total as f64 + table_bits_estimate(h, total)
}

pub(super) fn add(a: &mut Histogram, b: &Histogram) {
    for (x, y) in a.iter_mut().zip(b) {
        *x += y;
    }
}

/// The exponent-class model for one (row_len, phase).
pub(super) struct ExpModel {
    pub(super) grid: Grid,
    pub(super) rowq: Vec<u8>,
    pub(super) colq: Vec<u8>,
    pub(super) thresholds: Vec<u32>,
    pub(super) cost: f64,
}

/// Fits the scale classes for rows `g` (with column means if `cols`) over
/// the exponent symbols `k` (`sym >> t_bits`); the cost counts the coded
/// symbols, the tables, the thresholds and the stored row / column bytes.
pub(super) fn fit_exp_model(
    sym: &[u8],
    a: Alphabet,
    rep: &[u8; 256],
    g: Grid,
    cols: bool,
) -> ExpModel {
    let n = sym.len();
    let vals: Vec<u8> = sym.iter().map(|&s| rep[s as usize]).collect();
    let (rowq, colq) = grid_means(&vals, g, cols);
    let stats = element_stats(n, g, &rowq, &colq);
    let mut side = ideal_cost(&weightzip_entropy::histogram(&rowq));
    if cols {
        side += ideal_cost(&weightzip_entropy::histogram(&colq));
    }
    let mut mean_counts = vec![0u64; 512];
    for &st in &stats {
        mean_counts[st as usize & 511] += 1;
    }
    let total: u64 = mean_counts.iter().sum();
    let mut fine_lo: Vec<u32> = Vec::new();
    let mut acc = 0u64;
    let mut cur = usize::MAX;
    for (m, &c) in mean_counts.iter().enumerate() {
        if c == 0 {
            continue;
        }
        let b = ((acc as u128 * FINE_BINS as u128) / total.max(1) as u128) as usize;
        if cur == usize::MAX || b > cur {
            fine_lo.push(m as u32);
            cur = b;
        }
        acc += c;
    }
    let nf = fine_lo.len();
    if nf == 0 {
        return ExpModel {
            grid: g,
            rowq,
            colq,
            thresholds: Vec::new(),
            cost: f64::INFINITY,
        };
    }
    let mut fine_of = vec![0u16; 512];
    let mut f = 0usize;
    for (m, slot) in fine_of.iter_mut().enumerate() {
        while f + 1 < nf && fine_lo[f + 1] <= m as u32 {
            f += 1;
        }
        *slot = f as u16;
    }
    let mut fine_h: Vec<Histogram> = vec![[0; 256]; nf];
    for (&st, &v) in stats.iter().zip(sym) {
        fine_h[fine_of[st as usize & 511] as usize][(v >> a.t_bits) as usize] += 1;
    }
    let mut seg = vec![vec![f64::INFINITY; nf + 1]; nf + 1];
    for (i, row) in seg.iter_mut().enumerate().take(nf) {
        let mut h: Histogram = [0; 256];
        for (j, fh) in fine_h.iter().enumerate().skip(i) {
            add(&mut h, fh);
            row[j + 1] = ideal_cost(&h);
        }
    }
    let kmax = MAX_CLASSES.min(nf);
    let mut best = vec![vec![f64::INFINITY; nf + 1]; kmax + 1];
    let mut from = vec![vec![0usize; nf + 1]; kmax + 1];
    best[0][0] = 0.0;
    for k in 1..=kmax {
        for j in 1..=nf {
            for i in (k - 1)..j {
                let c = best[k - 1][i] + seg[i][j];
                if c < best[k][j] {
                    best[k][j] = c;
                    from[k][j] = i;
                }
            }
        }
    }
    let (mut k, mut cost) = (1, best[1][nf]);
    for (kk, b) in best.iter().enumerate().skip(2) {
        // A threshold costs about two bytes.
        let c = b[nf] + 16.0 * (kk - 1) as f64;
        if c < cost {
            cost = c;
            k = kk;
        }
    }
    let mut cuts = Vec::new();
    let mut j = nf;
    for kk in (1..=k).rev() {
        let i = from[kk][j];
        if i > 0 {
            cuts.push(fine_lo[i]);
        }
        j = i;
    }
    cuts.reverse();
    ExpModel {
        grid: g,
        rowq,
        colq,
        thresholds: cuts,
        cost: cost + side,
    }
}

/// One-way ANOVA F statistic of the exponents grouped into rows of `d`
/// (best phase, phases in steps of `step`), on prefix sums `p` and `p2`.
pub(super) fn row_f_stat(p: &[f64], p2: &[f64], d: usize, step: usize) -> (f64, usize) {
    let n = p.len() - 1;
    let mut best = (0.0, 0);
    let mut phase = 0;
    while phase < d {
        let first = (d - phase) % d;
        let rows = (n - first) / d;
        if rows >= 4 {
            let end = first + rows * d;
            let total = p[end] - p[first];
            let tot2 = p2[end] - p2[first];
            let mut ssb = 0.0;
            for r in 0..rows {
                let s = p[first + (r + 1) * d] - p[first + r * d];
                ssb += s * s / d as f64;
            }
            let nn = (rows * d) as f64;
            let ssb = ssb - total * total / nn;
            let ssw = (tot2 - total * total / nn - ssb).max(1e-9);
            let f = (ssb / (rows - 1) as f64) / (ssw / (nn - rows as f64));
            if f > best.0 {
                best = (f, phase);
            }
        }
        phase += step;
    }
    best
}

pub(super) fn dummy_hist() -> Histogram {
    let mut h = [0u64; 256];
    h[0] = 1;
    h
}

pub(super) fn table(h: &Histogram, bits: u32) -> Result<FreqTable> {
    let h = if h.iter().any(|&c| c > 0) {
        *h
    } else {
        dummy_hist()
    };
    FreqTable::from_counts(&h, bits).in_codec("ctx")
}

/// Picks the frequent exponent range: an exponent is worth its `2^t`
/// symbols when its elements would cost more as escapes (≈ 5 extra bits
/// each) than the slots its rare symbols take from everyone.
pub(super) fn choose_alphabet(l: Layout, ecount: &Histogram, n: usize) -> Alphabet {
    let tb = l.t_bits();
    let worth = |c: u64| c as f64 * 5.0 > 1.44 * f64::from(1u32 << tb) * n as f64 / 4096.0;
    let qual: Vec<usize> = (0..256)
        .filter(|&e| ecount[e] > 0 && worth(ecount[e]))
        .collect();
    let (mut lo, mut hi) = match (qual.first(), qual.last()) {
        (Some(&a), Some(&b)) => (a, b),
        _ => {
            // Nothing frequent: the most common exponent alone.
            let m = (0..256).max_by_key(|&e| ecount[e]).unwrap_or(0);
            (m, m)
        }
    };
    let max = l.max_freq();
    while hi - lo + 1 > max {
        if ecount[lo] <= ecount[hi] {
            lo += 1;
        } else {
            hi -= 1;
        }
    }
    Alphabet {
        t_bits: tb,
        e_lo: lo as u8,
        n_freq: hi - lo + 1,
    }
}

/// Picks (row_len, phase) candidates: the hint's best phase, or the row
/// lengths with the highest F statistic.
pub(super) fn row_candidates(e: &[u8], hint: Option<usize>) -> Vec<(usize, usize)> {
    let sample = &e[..e.len().min(4 * SEARCH_SAMPLE)];
    let mut p = Vec::with_capacity(sample.len() + 1);
    let mut p2 = Vec::with_capacity(sample.len() + 1);
    let (mut a, mut b) = (0.0f64, 0.0f64);
    p.push(0.0);
    p2.push(0.0);
    for &x in sample {
        a += f64::from(x);
        b += f64::from(x) * f64::from(x);
        p.push(a);
        p2.push(b);
    }
    let mut scored: Vec<(f64, usize, usize)> = Vec::new();
    match hint {
        Some(d) if (1..=MAX_ROW_LEN).contains(&d) => {
            let step = if d % LANES == 0 { LANES } else { 1 };
            if sample.len() >= 4 * d && d <= 1 << 16 {
                let (f, ph) = row_f_stat(&p, &p2, d, step);
                scored.push((f, d, ph));
            } else {
                scored.push((0.0, d, 0));
            }
        }
        _ => {
            // At least 64 rows: with fewer, the best of many phases is noise.
            let mut d = 2 * LANES;
            while d <= 16384 && 64 * d <= sample.len() {
                let (f, ph) = row_f_stat(&p, &p2, d, LANES);
                scored.push((f, d, ph));
                d += LANES;
            }
        }
    }
    scored.sort_by(|x, y| y.0.total_cmp(&x.0));
    // A whole tensor's row length divides its element count: every such
    // divisor is a candidate too (the cost fit decides).
    let divisors: Vec<(usize, usize)> = if hint.is_none() {
        (2 * LANES..=16384.min(e.len() / 16))
            .filter(|&d| e.len().is_multiple_of(d))
            .map(|d| (d, 0))
            .collect()
    } else {
        Vec::new()
    };
    // F is flat over multiples of the true row length: keep the top few
    // and the smallest length near the top.
    let mut out: Vec<(usize, usize)> = scored.iter().take(3).map(|s| (s.1, s.2)).collect();
    if let Some(top) = scored.first() {
        if let Some(s) = scored
            .iter()
            .filter(|s| s.0 >= 0.9 * top.0)
            .min_by_key(|s| s.1)
        {
            out.push((s.1, s.2));
        }
    }
    // Column structure (outlier channels, embedding dimensions) is phase
    // free and does not grow with the length like the row F: the lengths
    // with the highest column F join, at their best row phase.
    if hint.is_none() {
        let mut by_col: Vec<(f64, usize)> = col_f_stats(&e[..e.len().min(SEARCH_SAMPLE / 2)]);
        by_col.sort_by(|x, y| y.0.total_cmp(&x.0));
        for &(_, d) in by_col.iter().take(3) {
            let ph = scored.iter().find(|s| s.1 == d).map_or(0, |s| s.2);
            out.push((d, ph));
        }
    }
    for d in divisors {
        if !out.contains(&d) {
            out.push(d);
        }
    }
    out.sort_unstable();
    out.dedup();
    out
}

/// One-way ANOVA F statistic of the exponents grouped by column, for row
/// lengths that are multiples of 64 with at least 16 rows in `e`.
pub(super) fn col_f_stats(e: &[u8]) -> Vec<(f64, usize)> {
    let mut out = Vec::new();
    let total: f64 = e.iter().map(|&x| f64::from(x)).sum();
    let total2: f64 = e.iter().map(|&x| f64::from(x) * f64::from(x)).sum();
    let mut d = 64;
    while d <= 8192 && 16 * d <= e.len() {
        let rows = e.len() / d;
        let used = &e[..rows * d];
        let mut sums = vec![0u32; d];
        for row in used.chunks_exact(d) {
            for (s, &x) in sums.iter_mut().zip(row) {
                *s += u32::from(x);
            }
        }
        let nn = used.len() as f64;
        let (t, t2) = if used.len() == e.len() {
            (total, total2)
        } else {
            (
                used.iter().map(|&x| f64::from(x)).sum(),
                used.iter().map(|&x| f64::from(x) * f64::from(x)).sum(),
            )
        };
        let ssb: f64 = sums
            .iter()
            .map(|&s| f64::from(s) * f64::from(s))
            .sum::<f64>()
            / rows as f64
            - t * t / nn;
        let ssw = (t2 - t * t / nn - ssb).max(1e-9);
        out.push(((ssb / (d - 1) as f64) / (ssw / (nn - d as f64)), d));
        d += 64;
    }
    out
}
