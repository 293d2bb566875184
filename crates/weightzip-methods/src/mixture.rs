//! Trained table sets: K components of P order-0 tables each, learnt from
//! train-split histograms by hard-assignment k-means on coding cost, and
//! their compact serialisation (the charged profile bytes).
//!
//! Training (deterministic):
//! 1. Every train item contributes P histograms (one per stream).
//! 2. Initial assignment: items sorted by the sum of their streams'
//!    entropies (bits per element), cut into K groups of equal count.
//! 3. Repeat (at most 50 times, until no item moves): each component's
//!    model is the add-one-smoothed sum of its items' histograms (over the
//!    stream's alphabet: 256 byte values, or 16 nibble values); each item
//!    moves to the component that codes it in the fewest bits. An emptied
//!    component takes the item coded worst (bits per symbol) by its own.
//! 4. Final tables: for each (component, stream), either the uniform table
//!    (exactly log2(alphabet) bits per symbol, stored as one tag byte) or
//!    the smoothed table quantised at a precision in 8..=15 bits, whichever
//!    minimises the train split's byte-weighted total: the bits of coding
//!    the component's items plus the table's charged bytes times the number
//!    of train items (the bench charges the profile to every item).
//!
//! Serialisation (the profile payload): a version byte (1), then one zstd-19
//! frame of: K (u8), P (u8), then for each component c and stream j a tag
//! (0 = uniform, 1 = table) followed, for tag 1, by the table in
//! weightzip_entropy's compact [`FreqTable::write`] form. Smoothed tables
//! are long runs of frequency 1, which zstd shrinks to a few bytes.

use weightzip_entropy::histogram::Histogram;
use weightzip_entropy::{entropy_bits, FreqTable};

use crate::error::{MethodError, Result};

const VERSION: u8 = 1;
/// Largest serialised table set a profile may unpack to.
const MAX_BODY: usize = 1 << 20;
const MAX_ITERS: usize = 50;

/// K components × P tables, table of component c for stream j at `c * p + j`.
#[derive(Clone, Debug)]
pub(crate) struct TableSet {
    pub(crate) k: usize,
    pub(crate) p: usize,
    pub(crate) tables: Vec<FreqTable>,
    uniform: Vec<bool>,
}

/// The uniform table over the first `alphabet` symbols (a divisor of 256:
/// 16 or 256), at 8 bits: exactly log2(alphabet) bits per symbol.
pub(crate) fn uniform(alphabet: usize) -> Result<FreqTable> {
    let mut f = [0u32; 256];
    let per = 256 / alphabet.clamp(1, 256) as u32;
    for x in f.iter_mut().take(alphabet) {
        *x = per;
    }
    FreqTable::from_freqs(f, 8).map_err(|e| MethodError::InvalidInput {
        method: "table set",
        reason: format!("no uniform table over {alphabet} symbols: {e}"),
    })
}

impl TableSet {
    /// Components that hold at least one trained (non-uniform) table.
    pub(crate) fn trained_components(&self) -> usize {
        (0..self.k)
            .filter(|&c| (0..self.p).any(|j| !self.uniform[c * self.p + j]))
            .count()
    }

    /// The table of component `c` for stream `j`.
    pub(crate) fn table(&self, c: usize, j: usize) -> &FreqTable {
        &self.tables[c * self.p + j]
    }

    /// The component that codes `hists` (one per stream) in the fewest
    /// bits; ties go to the lowest index.
    pub(crate) fn select(&self, hists: &[Histogram]) -> usize {
        let mut best = (f64::INFINITY, 0);
        for c in 0..self.k {
            let bits: f64 = hists
                .iter()
                .enumerate()
                .map(|(j, h)| self.table(c, j).cost_bits(h))
                .sum();
            if bits < best.0 {
                best = (bits, c);
            }
        }
        best.1
    }

    /// The profile payload (see the module docs).
    pub(crate) fn to_bytes(&self) -> Result<Vec<u8>> {
        let mut body = vec![self.k as u8, self.p as u8];
        for (t, &u) in self.tables.iter().zip(&self.uniform) {
            if u {
                body.push(0);
            } else {
                body.push(1);
                t.write(&mut body);
            }
        }
        let z = zstd::bulk::compress(&body, 19).map_err(|e| MethodError::Training {
            method: "table set",
            reason: e.to_string(),
        })?;
        let mut out = Vec::with_capacity(z.len() + 1);
        out.push(VERSION);
        out.extend_from_slice(&z);
        Ok(out)
    }

    /// Parses a profile payload of `p = alphabets.len()` streams; a table
    /// may only give frequency to symbols below its stream's alphabet.
    pub(crate) fn from_bytes(
        method: &'static str,
        bytes: &[u8],
        alphabets: &[usize],
    ) -> Result<Self> {
        let bad = |reason: String| MethodError::BadProfile { method, reason };
        let (&version, z) = bytes
            .split_first()
            .ok_or_else(|| bad("empty profile".into()))?;
        if version != VERSION {
            return Err(bad(format!("table set version {version}")));
        }
        let body = zstd::bulk::decompress(z, MAX_BODY).map_err(|e| bad(format!("zstd: {e}")))?;
        if body.len() < 2 {
            return Err(bad("truncated table set".into()));
        }
        let (k, p) = (usize::from(body[0]), usize::from(body[1]));
        if k == 0 || p != alphabets.len() {
            return Err(bad(format!("{k} components of {p} tables")));
        }
        let mut pos = 2;
        let mut tables = Vec::with_capacity(k * p);
        let mut uniform_flags = Vec::with_capacity(k * p);
        for i in 0..k * p {
            let alphabet = alphabets[i % p];
            let tag = *body
                .get(pos)
                .ok_or_else(|| bad("truncated table set".into()))?;
            pos += 1;
            match tag {
                0 => {
                    tables.push(uniform(alphabet)?);
                    uniform_flags.push(true);
                }
                1 => {
                    let t = weightzip_entropy::read_at(&body, &mut pos, FreqTable::read)
                        .map_err(|e| bad(format!("table {i}: {e}")))?;
                    if t.freqs()[alphabet..].iter().any(|&f| f > 0) {
                        return Err(bad(format!("table {i} codes symbols past {alphabet}")));
                    }
                    tables.push(t);
                    uniform_flags.push(false);
                }
                other => return Err(bad(format!("table tag {other}"))),
            }
        }
        if pos != body.len() {
            return Err(bad("trailing bytes in the table set".into()));
        }
        Ok(Self {
            k,
            p,
            tables,
            uniform: uniform_flags,
        })
    }

    /// Trains `k` components over `items` (each: one histogram per stream).
    ///
    /// `alts`, when given, holds for every item and stream the bits the
    /// encoder would pay without the trained table (its per-file fallback):
    /// an item's cost under a component is then, stream by stream, the
    /// smaller of the two, both when assigning items and when deciding
    /// whether a table is worth its charged bytes.
    pub(crate) fn train(
        method: &'static str,
        items: &[Vec<Histogram>],
        alts: Option<&[Vec<f64>]>,
        alphabets: &[usize],
        k: usize,
    ) -> Result<Self> {
        let p = alphabets.len();
        let keep: Vec<usize> = (0..items.len())
            .filter(|&i| {
                let h = &items[i];
                h.len() == p
                    && h.iter().any(|s| s.iter().any(|&c| c > 0))
                    && alts.is_none_or(|a| a.get(i).is_some_and(|x| x.len() == p))
            })
            .collect();
        let no_alt = vec![f64::INFINITY; p];
        let alt: Vec<&[f64]> = keep
            .iter()
            .map(|&i| alts.map_or(no_alt.as_slice(), |a| a[i].as_slice()))
            .collect();
        let items: Vec<&Vec<Histogram>> = keep.iter().map(|&i| &items[i]).collect();
        if items.is_empty() {
            return Err(MethodError::Training {
                method,
                reason: "no non-empty train items".into(),
            });
        }
        let k = k.clamp(1, items.len()).min(255);
        let n = items.len();
        let key = |h: &Vec<Histogram>| -> f64 { h.iter().map(|s| entropy_bits(s)).sum() };
        let mut order: Vec<usize> = (0..n).collect();
        order.sort_by(|&a, &b| key(items[a]).total_cmp(&key(items[b])).then(a.cmp(&b)));
        let mut assign = vec![0usize; n];
        for (rank, &i) in order.iter().enumerate() {
            assign[i] = rank * k / n;
        }
        let item_syms: Vec<f64> = items
            .iter()
            .map(|h| h[0].iter().sum::<u64>().max(1) as f64)
            .collect();
        for _ in 0..MAX_ITERS {
            let models = log_models(&items, &assign, k, alphabets);
            let mut moved = false;
            let mut costs = vec![0.0f64; n];
            for (i, h) in items.iter().enumerate() {
                let mut best = (f64::INFINITY, 0);
                for (c, m) in models.iter().enumerate() {
                    let bits = model_cost(m, h, alt[i]);
                    if bits < best.0 {
                        best = (bits, c);
                    }
                }
                if best.1 != assign[i] {
                    assign[i] = best.1;
                    moved = true;
                }
                costs[i] = best.0 / item_syms[i];
            }
            for c in 0..k {
                if !assign.contains(&c) {
                    // Reseed with the worst-coded item of a component that
                    // keeps at least one other item.
                    let mut sizes = vec![0usize; k];
                    for &a in &assign {
                        sizes[a] += 1;
                    }
                    let worst = (0..n)
                        .filter(|&i| sizes[assign[i]] > 1)
                        .max_by(|&a, &b| costs[a].total_cmp(&costs[b]).then(b.cmp(&a)));
                    if let Some(i) = worst {
                        assign[i] = c;
                        moved = true;
                    }
                }
            }
            if !moved {
                break;
            }
        }
        // Final quantised tables, charged per train item.
        let charge_weight = n as f64 * 8.0;
        let mut tables = Vec::with_capacity(k * p);
        let mut uniform_flags = Vec::with_capacity(k * p);
        for c in 0..k {
            for (j, &alphabet) in alphabets.iter().enumerate() {
                let mut counts = [0u64; 256];
                for (i, h) in items.iter().enumerate() {
                    if assign[i] == c {
                        for (a, &b) in counts.iter_mut().zip(h[j].iter()) {
                            *a += b;
                        }
                    }
                }
                let members: Vec<usize> = (0..n).filter(|&i| assign[i] == c).collect();
                let with_fallback = |t: &FreqTable| -> f64 {
                    members
                        .iter()
                        .map(|&i| t.cost_bits(&items[i][j]).min(alt[i][j]))
                        .sum()
                };
                let uni = uniform(alphabet)?;
                let mut best = (with_fallback(&uni) + 8.0, uni, true);
                let mut smoothed = counts;
                for x in smoothed.iter_mut().take(alphabet) {
                    *x += 1;
                }
                for bits in 8..=15 {
                    let Ok(t) = FreqTable::from_counts(&smoothed, bits) else {
                        continue;
                    };
                    let cost = with_fallback(&t) + charge_weight * charged_table_bytes(&t);
                    if cost < best.0 {
                        best = (cost, t, false);
                    }
                }
                tables.push(best.1);
                uniform_flags.push(best.2);
            }
        }
        Ok(Self {
            k,
            p,
            tables,
            uniform: uniform_flags,
        })
    }
}

/// Estimated profile bytes of one table: its serialisation after zstd.
fn charged_table_bytes(t: &FreqTable) -> f64 {
    let mut buf = Vec::with_capacity(600);
    buf.push(1);
    t.write(&mut buf);
    let z = zstd::bulk::compress(&buf, 19).map_or(buf.len(), |z| z.len());
    // The frame header (~9 bytes) is paid once per profile, not per table.
    z.saturating_sub(9).max(2) as f64
}

/// -log2 of the add-one-smoothed probabilities of each component's streams.
fn log_models(
    items: &[&Vec<Histogram>],
    assign: &[usize],
    k: usize,
    alphabets: &[usize],
) -> Vec<Vec<Vec<f64>>> {
    let p = alphabets.len();
    let mut sums = vec![vec![[0u64; 256]; p]; k];
    for (i, h) in items.iter().enumerate() {
        for (j, s) in h.iter().enumerate() {
            for (a, &b) in sums[assign[i]][j].iter_mut().zip(s.iter()) {
                *a += b;
            }
        }
    }
    sums.iter()
        .map(|comp| {
            comp.iter()
                .zip(alphabets)
                .map(|(counts, &alphabet)| {
                    let total = counts[..alphabet].iter().sum::<u64>() as f64 + alphabet as f64;
                    (0..256)
                        .map(|s| {
                            if s < alphabet {
                                -((counts[s] as f64 + 1.0) / total).log2()
                            } else {
                                f64::INFINITY
                            }
                        })
                        .collect()
                })
                .collect()
        })
        .collect()
}

fn model_cost(model: &[Vec<f64>], hists: &[Histogram], alt: &[f64]) -> f64 {
    let mut bits = 0.0;
    for ((lp, h), &a) in model.iter().zip(hists).zip(alt) {
        let mut b = 0.0;
        for (&c, &l) in h.iter().zip(lp) {
            if c > 0 {
                b += c as f64 * l;
            }
        }
        bits += b.min(a);
    }
    bits
}
