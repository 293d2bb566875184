//! The benchmark harness, under the study's fairness contract:
//!
//! - only **test-split** items are measured; trained methods use profiles
//!   learned from the train split, and `profile.bytes.len()` is charged to
//!   every item (`ratio = input / (compressed + profile)`);
//! - every evaluation is a round trip checked byte for byte; a mismatch, an
//!   error or a panic is recorded as a failure row (`roundtrip_ok: false`,
//!   `ratio: null`) and makes [`run_bench`] return an error at the end;
//! - timing: one thread, best of `repeats` runs (1 for items above
//!   `big_item_bytes`), `MB/s = input bytes / 1e6 / seconds`.
//!
//! Runs are resumable (rows already in the output file are kept and their
//! items skipped) and shardable (`--shard i/n` takes every n-th item of the
//! sorted item list, starting at i; `weightzip merge` joins the shards).

use std::collections::BTreeMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;
use std::str::FromStr;
use std::time::Instant;

use weightzip_methods::{Method, Profile};

use crate::atlas::{marginal_ceiling, q4k_stats};
use crate::corpus::{Dataset, Item};
use crate::error::{LabError, Result};
use crate::manifest::{CorpusKind, Split};
use crate::methods::{MethodSet, Profiles};
use crate::progress::Progress;
use crate::records::{BenchRecord, MethodRecord, RecordKey, RecordWriter};

/// `i/n`: this run takes items `i, i+n, i+2n, …` (0-based, `i < n`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shard {
    /// This shard, `0..count`.
    pub index: usize,
    /// Number of shards.
    pub count: usize,
}

impl FromStr for Shard {
    type Err = LabError;

    fn from_str(s: &str) -> Result<Shard> {
        let bad = || LabError::Invalid(format!("--shard {s:?}: expected i/n with 0 <= i < n"));
        let (i, n) = s.split_once('/').ok_or_else(bad)?;
        let index: usize = i.trim().parse().map_err(|_| bad())?;
        let count: usize = n.trim().parse().map_err(|_| bad())?;
        if count == 0 || index >= count {
            return Err(bad());
        }
        Ok(Shard { index, count })
    }
}

/// Settings of a bench run.
#[derive(Clone, Debug, PartialEq)]
pub struct BenchOptions {
    /// Timed repeats of compress and of decompress (the best is kept).
    pub repeats: usize,
    /// Items larger than this are timed once.
    pub big_item_bytes: u64,
    /// Corpora to run (empty: all).
    pub kinds: Vec<CorpusKind>,
    /// Optional shard.
    pub shard: Option<Shard>,
    /// Keep the rows already in the output and skip their items.
    pub resume: bool,
}

impl Default for BenchOptions {
    fn default() -> Self {
        BenchOptions {
            repeats: 3,
            big_item_bytes: 64_000_000,
            kinds: Vec::new(),
            shard: None,
            resume: true,
        }
    }
}

/// What a bench run did.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct BenchSummary {
    /// Items measured in this run.
    pub items: usize,
    /// Items skipped because their row was already complete.
    pub skipped: usize,
    /// (item, method) evaluations run.
    pub evaluations: usize,
    /// Descriptions of failed evaluations.
    pub failures: Vec<String>,
    /// Methods not run, with the reason (e.g. no profile could be trained).
    pub notes: Vec<String>,
}

/// The items of this run: test split, selected corpora, sorted by record
/// key, then sharded.
pub fn bench_items<'a>(ds: &'a Dataset, opts: &BenchOptions) -> Vec<&'a Item> {
    let mut items: Vec<&Item> = ds
        .split(Split::Test)
        .filter(|i| opts.kinds.is_empty() || opts.kinds.contains(&i.kind))
        .collect();
    items.sort_by(|a, b| {
        (&a.record_kind, &a.model, &a.name).cmp(&(&b.record_kind, &b.model, &b.name))
    });
    match opts.shard {
        Some(s) => items
            .into_iter()
            .enumerate()
            .filter(|(i, _)| i % s.count == s.index)
            .map(|(_, it)| it)
            .collect(),
        None => items,
    }
}

fn key_of(item: &Item) -> RecordKey {
    (
        item.record_kind.clone(),
        item.model.clone(),
        item.name.clone(),
    )
}

/// A method with the profile it runs with.
type Runnable<'a> = (&'a dyn Method, Option<&'a Profile>);

/// Runs the bench and writes one row per item to `out` (zstd JSON Lines).
///
/// `profiles` must hold the profile of every trained method that should run;
/// a trained method without one is not run (noted in the summary). Returns
/// [`LabError::RoundTripFailures`] after writing every row if any
/// evaluation failed.
pub fn run_bench(
    ds: &Dataset,
    set: &MethodSet,
    profiles: &Profiles,
    opts: &BenchOptions,
    out: &Path,
    progress: &dyn Progress,
) -> Result<BenchSummary> {
    let items = bench_items(ds, opts);
    let mut summary = BenchSummary::default();

    // Which methods run on each corpus (trained ones need a profile).
    let mut runnable: BTreeMap<CorpusKind, Vec<Runnable>> = BTreeMap::new();
    for (kind, m) in set.iter() {
        let profile = profiles.get(m.name(), kind);
        if m.is_trained() && profile.is_none() {
            if items.iter().any(|i| i.kind == kind) {
                let note = format!(
                    "{} on {}: no trained profile (no train-split items?); not run",
                    m.name(),
                    kind.as_str()
                );
                progress.note(&note);
                summary.notes.push(note);
            }
            continue;
        }
        runnable.entry(kind).or_default().push((m, profile));
    }
    let wanted = |item: &Item| -> Vec<&'static str> {
        runnable
            .get(&item.kind)
            .map(|v| v.iter().map(|(m, _)| m.name()).collect())
            .unwrap_or_default()
    };

    // Resume: rows whose every wanted method succeeded are kept as they are;
    // others are recomputed (missing or failed methods only) and rewritten.
    let selected: BTreeMap<RecordKey, &Item> = items.iter().map(|i| (key_of(i), *i)).collect();
    let complete = |r: &BenchRecord| -> bool {
        match selected.get(&r.key()) {
            None => true, // not part of this run: keep as is
            Some(item) => wanted(item)
                .iter()
                .all(|n| r.methods.get(*n).is_some_and(|m| m.roundtrip_ok)),
        }
    };
    let (mut writer, old) = if opts.resume {
        RecordWriter::resume(out, complete)?
    } else {
        (RecordWriter::create(out)?, Vec::new())
    };
    let old: BTreeMap<RecordKey, BenchRecord> = old.into_iter().map(|r| (r.key(), r)).collect();

    let todo: Vec<&Item> = items
        .iter()
        .copied()
        .filter(|i| !old.get(&key_of(i)).is_some_and(complete))
        .collect();
    summary.skipped = items.len() - todo.len();
    progress.start("bench", todo.iter().map(|i| i.input_bytes).sum());
    for item in todo {
        let data = ds.bytes(item)?;
        let mut row = base_record(item, &data);
        if let Some(prev) = old.get(&key_of(item)) {
            row.methods = prev
                .methods
                .iter()
                .filter(|(_, m)| m.roundtrip_ok)
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
        }
        let repeats = if item.input_bytes > opts.big_item_bytes {
            1
        } else {
            opts.repeats.max(1)
        };
        for (m, profile) in runnable.get(&item.kind).map(Vec::as_slice).unwrap_or(&[]) {
            if row.methods.contains_key(m.name()) {
                continue;
            }
            progress.status(&format!("{} · {}", item.name, m.name()));
            let rec = evaluate(*m, &data, *profile, repeats);
            summary.evaluations += 1;
            if !rec.roundtrip_ok {
                summary.failures.push(format!(
                    "{} / {} / {}: {}",
                    item.model,
                    item.name,
                    m.name(),
                    rec.error.as_deref().unwrap_or("round trip differs")
                ));
            }
            row.methods.insert(m.name().to_string(), rec);
        }
        writer.write(&row)?;
        summary.items += 1;
        progress.advance(item.input_bytes, &item.name);
    }
    progress.finish();
    writer.finish()?;
    if let Some(first) = summary.failures.first() {
        return Err(LabError::RoundTripFailures {
            count: summary.failures.len(),
            path: out.to_path_buf(),
            first: first.clone(),
        });
    }
    Ok(summary)
}

/// The row of an item before any method ran: identity and ceilings.
pub fn base_record(item: &Item, data: &[u8]) -> BenchRecord {
    let (r_marginal, nibble_ceiling, stream_ceiling) = match item.kind {
        CorpusKind::Bf16 | CorpusKind::Fp16 => (Some(marginal_ceiling(data, 2)), None, None),
        CorpusKind::Fp32 => (Some(marginal_ceiling(data, 4)), None, None),
        CorpusKind::Q4k => match q4k_stats(data) {
            Ok(q) => (None, Some(q.nibble_ceiling), Some(q.ceiling_ratio)),
            Err(_) => (None, None, None),
        },
        CorpusKind::Gguf => (None, None, None),
    };
    BenchRecord {
        kind: item.record_kind.clone(),
        model: item.model.clone(),
        split: item.split.as_str().into(),
        tensor_name: item.name.clone(),
        dtype: item.dtype.clone(),
        source_dtype: item.source_dtype.clone(),
        shape: item.shape.clone(),
        tensor_category: item.category.clone(),
        input_bytes: data.len() as u64,
        r_marginal: r_marginal.filter(|r| r.is_finite()),
        nibble_ceiling: nibble_ceiling.filter(|r| r.is_finite()),
        stream_ceiling: stream_ceiling.filter(|r| r.is_finite()),
        methods: BTreeMap::new(),
    }
}

fn panic_message(p: &(dyn std::any::Any + Send)) -> String {
    p.downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| p.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".into())
}

fn mbps(bytes: usize, secs: f64) -> Option<f64> {
    let v = bytes as f64 / 1e6 / secs.max(1e-9);
    v.is_finite().then_some(v)
}

/// One (item, method) evaluation: compress and decompress `repeats` times
/// each on this thread, check every decoded output byte for byte, keep the
/// best times. Never panics: errors and panics become failure records.
pub fn evaluate(
    m: &dyn Method,
    input: &[u8],
    profile: Option<&Profile>,
    repeats: usize,
) -> MethodRecord {
    let profile_bytes = profile.map_or(0, |p| p.bytes.len() as u64);
    let mut rec = MethodRecord {
        class: m.class().as_str().to_string(),
        ratio: None,
        compressed_bytes: 0,
        profile_bytes,
        compress_mbps: None,
        decompress_mbps: None,
        roundtrip_ok: false,
        threads: 1,
        error: None,
    };
    let mut compressed: Option<Vec<u8>> = None;
    let mut best_c = f64::INFINITY;
    for _ in 0..repeats.max(1) {
        let t = Instant::now();
        let r = catch_unwind(AssertUnwindSafe(|| m.compress(input, profile)));
        let secs = t.elapsed().as_secs_f64();
        match r {
            Ok(Ok(c)) => {
                best_c = best_c.min(secs);
                if compressed.is_none() {
                    compressed = Some(c);
                }
            }
            Ok(Err(e)) => {
                rec.error = Some(format!("compress: {e}"));
                return rec;
            }
            Err(p) => {
                rec.error = Some(format!("compress panicked: {}", panic_message(p.as_ref())));
                return rec;
            }
        }
    }
    let Some(compressed) = compressed else {
        rec.error = Some("compress produced nothing".into());
        return rec;
    };
    rec.compressed_bytes = compressed.len() as u64;
    rec.compress_mbps = mbps(input.len(), best_c);
    let mut best_d = f64::INFINITY;
    for _ in 0..repeats.max(1) {
        let t = Instant::now();
        let r = catch_unwind(AssertUnwindSafe(|| {
            m.decompress(&compressed, input.len(), profile)
        }));
        let secs = t.elapsed().as_secs_f64();
        match r {
            Ok(Ok(d)) => {
                if d.as_slice() != input {
                    let at = d
                        .iter()
                        .zip(input)
                        .position(|(a, b)| a != b)
                        .unwrap_or(d.len().min(input.len()));
                    rec.error = Some(format!(
                        "round trip differs: {} bytes decoded for {}, first difference at byte {at}",
                        d.len(),
                        input.len()
                    ));
                    return rec;
                }
                best_d = best_d.min(secs);
            }
            Ok(Err(e)) => {
                rec.error = Some(format!("decompress: {e}"));
                return rec;
            }
            Err(p) => {
                rec.error = Some(format!(
                    "decompress panicked: {}",
                    panic_message(p.as_ref())
                ));
                return rec;
            }
        }
    }
    rec.decompress_mbps = mbps(input.len(), best_d);
    rec.roundtrip_ok = true;
    let charged = rec.compressed_bytes + profile_bytes;
    rec.ratio = (charged > 0).then(|| input.len() as f64 / charged as f64);
    rec
}
