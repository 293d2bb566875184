//! Scale and sign contexts over the rows and columns of a chunk.

/// Rows of `row_len` elements, the chunk's first element at column `phase`.
#[derive(Clone, Copy, Debug)]
pub(super) struct Grid {
    pub(super) row_len: usize,
    pub(super) phase: usize,
}

impl Grid {
    /// Rows the chunk's `n` elements touch.
    pub(super) fn rows(self, n: usize) -> usize {
        (n + self.phase).div_ceil(self.row_len)
    }

    /// Calls `f(start, end, row, first_col)` for each row's part of `0..n`.
    #[inline(always)]
    pub(super) fn segments(self, n: usize, mut f: impl FnMut(usize, usize, usize, usize)) {
        let (mut i, mut r, mut c) = (0, 0, self.phase);
        while i < n {
            let end = n.min(i + self.row_len - c);
            f(i, end, r, c);
            i = end;
            r += 1;
            c = 0;
        }
    }
}

/// Quantised means of `vals` (a byte per element) per row and, with
/// `cols`, per column: `round(4 · mean) - min`, clamped to a byte. These
/// bytes are stored; both sides derive the contexts from them.
pub(super) fn grid_means(vals: &[u8], g: Grid, cols: bool) -> (Vec<u8>, Vec<u8>) {
    let n = vals.len();
    let mut rs = vec![(0u64, 0u64); g.rows(n)];
    let mut cs = vec![(0u64, 0u64); if cols { g.row_len } else { 0 }];
    g.segments(n, |a, b, r, c0| {
        let seg = &vals[a..b];
        rs[r].0 += seg.iter().map(|&v| u64::from(v)).sum::<u64>();
        rs[r].1 += seg.len() as u64;
        if cols {
            for (acc, &v) in cs[c0..c0 + seg.len()].iter_mut().zip(seg) {
                acc.0 += u64::from(v);
                acc.1 += 1;
            }
        }
    });
    let quantise = |sums: &[(u64, u64)]| -> Vec<u8> {
        let q: Vec<Option<u64>> = sums
            .iter()
            .map(|&(s, k)| (k > 0).then(|| (4 * s + k / 2) / k))
            .collect();
        let lo = q.iter().flatten().copied().min().unwrap_or(0);
        q.iter()
            .map(|v| v.map_or(0, |v| (v - lo).min(255) as u8))
            .collect()
    };
    (quantise(&rs), quantise(&cs))
}

/// The statistic of every element: its row's byte plus its column's.
pub(super) fn element_stats(n: usize, g: Grid, rowq: &[u8], colq: &[u8]) -> Vec<u16> {
    let mut out = vec![0u16; n];
    g.segments(n, |a, b, r, c0| {
        let rq = u16::from(rowq[r]);
        if colq.is_empty() {
            out[a..b].fill(rq);
        } else {
            for (o, &cq) in out[a..b].iter_mut().zip(&colq[c0..]) {
                *o = rq + u16::from(cq);
            }
        }
    });
    out
}

/// Maps a statistic (0..=510) to its class.
pub(super) fn class_lut(thresholds: &[u32]) -> [u8; 512] {
    let mut lut = [0u8; 512];
    for (m, c) in lut.iter_mut().enumerate() {
        *c = thresholds.iter().filter(|&&t| t <= m as u32).count() as u8;
    }
    lut
}

/// The context byte of every element (decoder and encoder).
pub(super) fn scale_contexts(
    n: usize,
    g: Grid,
    rowq: &[u8],
    colq: &[u8],
    lut: &[u8; 512],
) -> Vec<u8> {
    let mut out = vec![0u8; n];
    g.segments(n, |a, b, r, c0| {
        let rq = usize::from(rowq[r]);
        if colq.is_empty() {
            out[a..b].fill(lut[rq]);
        } else {
            for (o, &cq) in out[a..b].iter_mut().zip(&colq[c0..]) {
                *o = lut[(rq + usize::from(cq)) & 511];
            }
        }
    });
    out
}

/// Sign probability classes: a column's share of negative values in the
/// chunk, in [`SIGN_CLASSES`] equal bins (stored, one byte per column).
pub(super) const SIGN_CLASSES: usize = 16;

/// Blocks of `block_rows` rows (0: one block) the chunk's rows fall into.
pub(super) fn sign_blocks(n: usize, g: Grid, block_rows: usize) -> usize {
    if block_rows == 0 {
        1
    } else {
        g.rows(n).div_ceil(block_rows)
    }
}

/// (negative values, values) per block of `block_rows` rows and column.
pub(super) fn sign_counts(signs: &[u8], g: Grid, block_rows: usize) -> Vec<(u32, u32)> {
    let nb = sign_blocks(signs.len(), g, block_rows);
    let mut cs = vec![(0u32, 0u32); g.row_len * nb];
    g.segments(signs.len(), |a, b, r, c0| {
        let base = r.checked_div(block_rows).unwrap_or(0) * g.row_len;
        for (acc, &s) in cs[base + c0..].iter_mut().zip(&signs[a..b]) {
            acc.0 += u32::from(s);
            acc.1 += 1;
        }
    });
    cs
}

/// Merges the counts of `factor` consecutive blocks (`factor = 0`: all).
pub(super) fn merge_sign_counts(
    cs: &[(u32, u32)],
    row_len: usize,
    factor: usize,
) -> Vec<(u32, u32)> {
    let nb = cs.len() / row_len;
    let groups = if factor == 0 { 1 } else { nb.div_ceil(factor) };
    let per = if factor == 0 { nb } else { factor };
    let mut out = vec![(0u32, 0u32); groups * row_len];
    for (b, block) in cs.chunks_exact(row_len).enumerate() {
        let o = &mut out[(b / per.max(1)) * row_len..][..row_len];
        for (acc, &(neg, k)) in o.iter_mut().zip(block) {
            acc.0 += neg;
            acc.1 += k;
        }
    }
    out
}

/// The binned share of negative values of each count.
pub(super) fn sign_class(neg: u32, k: u32) -> u8 {
    if k == 0 {
        0
    } else {
        ((u64::from(neg) * SIGN_CLASSES as u64 / u64::from(k)) as usize).min(SIGN_CLASSES - 1) as u8
    }
}

pub(super) fn sign_contexts(n: usize, g: Grid, classes: &[u8], block_rows: usize) -> Vec<u8> {
    let mut out = vec![0u8; n];
    g.segments(n, |a, b, r, c0| {
        let base = r.checked_div(block_rows).unwrap_or(0) * g.row_len;
        out[a..b].copy_from_slice(&classes[base + c0..base + c0 + (b - a)]);
    });
    out
}
