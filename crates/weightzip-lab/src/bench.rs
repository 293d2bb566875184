//! The benchmark harness, under the study's fairness contract:
//!
//! - only **test-split** items are measured; trained methods use profiles
//!   learned from the train split, and `profile.bytes.len()` is charged to
//!   every item (`ratio = input / (compressed + profile)`);
//! - every evaluation is a round trip checked byte for byte; a mismatch, an
//!   error or a panic is recorded as a failure row (`roundtrip_ok: false`,
//!   `ratio: null`) and makes [`run_bench`] return an error at the end;
//! - evaluations run in parallel, `jobs` at a time, each on **one** thread:
//!   its timings are single-thread timings (`threads: 1`), and every record
//!   says how many evaluations shared the machine (`concurrent_jobs`; run
//!   `--jobs 1` for timings of an otherwise idle machine). Best of `repeats`
//!   runs (1 for items above `big_item_bytes`), `MB/s = input bytes / 1e6 /
//!   seconds`.
//!
//! Runs are resumable (rows already in the output file are kept and their
//! items skipped; the file survives `kill -9`, see `weightzip_records::
//! results_file`) and shardable (`--shard i/n` takes every n-th item of the
//! sorted item list, starting at i; `weightzip-lab merge` joins the shards).

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::path::Path;
use std::str::FromStr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex};

use weightzip_methods::{Method, Profile};

use crate::atlas::{marginal_ceiling, q4k_stats};
use crate::corpus::{Dataset, Item};
use crate::error::{LabError, Result};
pub use crate::evaluate::evaluate;
use crate::manifest::{CorpusKind, Split};
use crate::methods::{method_corpus, MethodSet, Profiles};
use crate::progress::Progress;
use crate::records::{BenchRecord, MethodRecord, RecordKey, ResultsWriter};

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
    /// Evaluations run at the same time (0: one per available core).
    pub jobs: usize,
}

impl Default for BenchOptions {
    fn default() -> Self {
        BenchOptions {
            repeats: 3,
            big_item_bytes: 64_000_000,
            kinds: Vec::new(),
            shard: None,
            resume: true,
            jobs: 0,
        }
    }
}

impl BenchOptions {
    /// The number of worker threads `jobs` stands for.
    pub fn workers(&self) -> usize {
        match self.jobs {
            0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
            n => n,
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
    /// Worker threads used.
    pub workers: usize,
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

/// One item of the run: its row so far and the evaluations still to do.
struct Pending<'a> {
    item: &'a Item,
    row: BenchRecord,
    todo: Vec<Runnable<'a>>,
}

/// An item's bytes, loaded by the first evaluation that needs them and
/// dropped after the last.
struct Slot<'a> {
    data: Mutex<Option<Arc<Cow<'a, [u8]>>>>,
    remaining: AtomicUsize,
}

/// Runs the bench and writes one row per item to `out` (see the module docs).
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
    let wanted =
        |item: &Item| -> &[Runnable] { runnable.get(&item.kind).map(Vec::as_slice).unwrap_or(&[]) };

    // Resume: rows whose every wanted method succeeded are kept as they are;
    // others are recomputed (missing or failed methods only) and rewritten.
    let selected: BTreeMap<RecordKey, &Item> = items.iter().map(|i| (key_of(i), *i)).collect();
    let complete = |r: &BenchRecord| -> bool {
        match selected.get(&r.key()) {
            None => true, // not part of this run: keep as is
            Some(item) => wanted(item)
                .iter()
                .all(|(m, _)| r.methods.get(m.name()).is_some_and(|m| m.roundtrip_ok)),
        }
    };
    let (mut writer, old) = if opts.resume {
        ResultsWriter::resume(out, complete)?
    } else {
        (ResultsWriter::create(out)?, Vec::new())
    };
    let old: BTreeMap<RecordKey, BenchRecord> = old.into_iter().map(|r| (r.key(), r)).collect();

    let mut pending: Vec<Pending> = Vec::new();
    for item in items.iter().copied() {
        let prev = old.get(&key_of(item));
        if prev.is_some_and(complete) {
            summary.skipped += 1;
            continue;
        }
        let mut row = base_record(item, ds)?;
        if let Some(prev) = prev {
            row.methods = prev
                .methods
                .iter()
                .filter(|(_, m)| m.roundtrip_ok)
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
        }
        let todo = wanted(item)
            .iter()
            .filter(|(m, _)| !row.methods.contains_key(m.name()))
            .copied()
            .collect();
        pending.push(Pending { item, row, todo });
    }

    // Every evaluation, item-major, so that few items are in memory at once.
    let tasks: Vec<(usize, usize)> = pending
        .iter()
        .enumerate()
        .flat_map(|(i, p)| (0..p.todo.len()).map(move |k| (i, k)))
        .collect();
    let workers = opts.workers().clamp(1, tasks.len().max(1));
    summary.workers = workers;
    let jobs = u32::try_from(workers).unwrap_or(u32::MAX);
    let slots: Vec<Slot> = pending
        .iter()
        .map(|p| Slot {
            data: Mutex::new(None),
            remaining: AtomicUsize::new(p.todo.len()),
        })
        .collect();
    let next = AtomicUsize::new(0);
    progress.start("bench", pending.iter().map(|p| p.item.input_bytes).sum());

    // Items without anything left to run (e.g. a failed row whose methods
    // are gone from the set) are rewritten as they are.
    for p in pending.iter().filter(|p| p.todo.is_empty()) {
        writer.write(&p.row)?;
        summary.items += 1;
    }
    let mut left: Vec<usize> = pending.iter().map(|p| p.todo.len()).collect();
    let repeats_of = |item: &Item| {
        if item.input_bytes > opts.big_item_bytes {
            1
        } else {
            opts.repeats.max(1)
        }
    };
    let written: Result<()> = std::thread::scope(|scope| {
        let (tx, rx) = mpsc::channel::<(usize, usize, Result<MethodRecord>)>();
        for _ in 0..workers {
            let tx = tx.clone();
            let (tasks, pending, slots, next) = (&tasks, &pending, &slots, &next);
            scope.spawn(move || loop {
                let t = next.fetch_add(1, Ordering::Relaxed);
                let Some(&(i, k)) = tasks.get(t) else { break };
                let p = &pending[i];
                let (m, profile) = p.todo[k];
                progress.status(&format!("{} · {}", p.item.name, m.name()));
                let rec = item_data(ds, p.item, &slots[i]).map(|data| {
                    let item = (method_corpus(p.item.kind), p.item.shape.as_slice());
                    let mut rec = evaluate(m, &data, item, profile, repeats_of(p.item));
                    rec.concurrent_jobs = jobs;
                    rec
                });
                if slots[i].remaining.fetch_sub(1, Ordering::AcqRel) == 1 {
                    if let Ok(mut d) = slots[i].data.lock() {
                        *d = None;
                    }
                }
                if tx.send((i, k, rec)).is_err() {
                    break;
                }
            });
        }
        drop(tx);
        let mut rows: Vec<Option<BenchRecord>> =
            pending.iter().map(|p| Some(p.row.clone())).collect();
        for (i, k, rec) in rx {
            let p = &pending[i];
            let name = p.todo[k].0.name();
            let rec = rec?;
            summary.evaluations += 1;
            if !rec.roundtrip_ok {
                summary.failures.push(format!(
                    "{} / {} / {name}: {}",
                    p.item.model,
                    p.item.name,
                    rec.error.as_deref().unwrap_or("round trip differs")
                ));
            }
            let Some(row) = rows[i].as_mut() else {
                continue;
            };
            row.methods.insert(name.to_string(), rec);
            left[i] -= 1;
            if left[i] == 0 {
                if let Some(row) = rows[i].take() {
                    writer.write(&row)?;
                }
                summary.items += 1;
                progress.advance(p.item.input_bytes, &p.item.name);
            }
        }
        Ok(())
    });
    progress.finish();
    written?;
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

/// The bytes of `item`, shared by the evaluations of one item.
fn item_data<'a>(ds: &'a Dataset, item: &Item, slot: &Slot<'a>) -> Result<Arc<Cow<'a, [u8]>>> {
    let mut guard = slot
        .data
        .lock()
        .map_err(|_| LabError::Invalid(format!("{}: a worker panicked", item.name)))?;
    if let Some(d) = guard.as_ref() {
        return Ok(Arc::clone(d));
    }
    let d = Arc::new(ds.bytes(item)?);
    *guard = Some(Arc::clone(&d));
    Ok(d)
}

/// The row of an item before any method ran: identity and ceilings.
pub fn base_record(item: &Item, ds: &Dataset) -> Result<BenchRecord> {
    let (r_marginal, nibble_ceiling, stream_ceiling) = match item.kind {
        CorpusKind::Bf16 | CorpusKind::Fp16 => {
            (Some(marginal_ceiling(&ds.bytes(item)?, 2)), None, None)
        }
        CorpusKind::Fp32 => (Some(marginal_ceiling(&ds.bytes(item)?, 4)), None, None),
        CorpusKind::Q4k => match q4k_stats(&ds.bytes(item)?) {
            Ok(q) => (None, Some(q.nibble_ceiling), Some(q.ceiling_ratio)),
            Err(_) => (None, None, None),
        },
        CorpusKind::Gguf => (None, None, None),
    };
    Ok(BenchRecord {
        kind: item.record_kind.clone(),
        model: item.model.clone(),
        split: item.split.as_str().into(),
        tensor_name: item.name.clone(),
        dtype: item.dtype.clone(),
        source_dtype: item.source_dtype.clone(),
        shape: item.shape.clone(),
        tensor_category: item.category.clone(),
        input_bytes: item.input_bytes,
        r_marginal: r_marginal.filter(|r| r.is_finite()),
        nibble_ceiling: nibble_ceiling.filter(|r| r.is_finite()),
        stream_ceiling: stream_ceiling.filter(|r| r.is_finite()),
        methods: BTreeMap::new(),
    })
}
