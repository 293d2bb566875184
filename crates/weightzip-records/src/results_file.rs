//! The results file, safe against `kill -9` at any moment.
//!
//! `results.jsonl.zst` is always **one complete zstd frame** of JSON Lines
//! (one [`BenchRecord`] per line, sorted by [`BenchRecord::key`]): it is only
//! ever replaced by a rename of a fully written temporary file, so pandas
//! (`pd.read_json(path, lines=True, compression="zstd")`), the study's
//! notebook (`zstandard.ZstdDecompressor().decompress`, which reads one
//! frame) and `report` can open it whenever they look.
//!
//! While a bench runs, every finished row is first appended to the
//! **journal** `results.jsonl.zst.journal` (plain JSON Lines, one `write` per
//! row), then the snapshot is rewritten from memory whenever the time since
//! the last rewrite is at least [`COMPACT_EVERY`] times what that rewrite
//! cost (so rewriting costs at most a few percent of the run, and on small
//! corpora happens after nearly every row). After a kill, the snapshot holds
//! every row up to its last rewrite and the journal the rest; [`read_results`]
//! (used by `report`, `merge` and resume) reads both, dropping a partial last
//! journal line. [`ResultsWriter::finish`] writes the final snapshot and
//! deletes the journal.

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::error::{RecordError, Result};
use crate::jsonl::{create_parent, read_jsonl_tolerant, to_json_line};
use crate::schema::{BenchRecord, RecordKey};

/// The snapshot is rewritten when the time since the last rewrite is at
/// least this many times the cost of that rewrite.
pub const COMPACT_EVERY: u32 = 20;

/// zstd level of snapshots written during a run (fast).
const LEVEL_DURING: i32 = 3;
/// zstd level of the final snapshot.
const LEVEL_FINAL: i32 = 9;

/// The journal of the results file `path`: `<path>.journal`.
pub fn journal_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".journal");
    path.with_file_name(name)
}

/// Writes a results file row by row, kill-safe (see the module docs).
pub struct ResultsWriter {
    path: PathBuf,
    journal_path: PathBuf,
    journal: File,
    rows: BTreeMap<RecordKey, BenchRecord>,
    last_compact: Instant,
    last_cost: Duration,
    dirty: bool,
    finished: bool,
}

impl std::fmt::Debug for ResultsWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResultsWriter")
            .field("path", &self.path)
            .field("rows", &self.rows.len())
            .finish()
    }
}

impl ResultsWriter {
    /// Starts `path` afresh: an empty snapshot is written at once and any
    /// journal of an earlier run is emptied.
    pub fn create(path: impl AsRef<Path>) -> Result<ResultsWriter> {
        Self::with_rows(path.as_ref(), BTreeMap::new())
    }

    /// Opens `path` to continue it: the rows already there (snapshot and
    /// journal, see [`read_results`]) for which `keep` is true are kept;
    /// returns the writer and every row that was read (kept or not). A
    /// missing file gives no rows.
    pub fn resume(
        path: impl AsRef<Path>,
        keep: impl Fn(&BenchRecord) -> bool,
    ) -> Result<(ResultsWriter, Vec<BenchRecord>)> {
        let path = path.as_ref();
        let old = if path.exists() || journal_path(path).exists() {
            read_results(path)?.rows
        } else {
            Vec::new()
        };
        let kept = old
            .iter()
            .filter(|r| keep(r))
            .map(|r| (r.key(), r.clone()))
            .collect();
        Ok((Self::with_rows(path, kept)?, old))
    }

    fn with_rows(path: &Path, rows: BTreeMap<RecordKey, BenchRecord>) -> Result<ResultsWriter> {
        create_parent(path)?;
        let journal_path = journal_path(path);
        let mut w = ResultsWriter {
            path: path.to_path_buf(),
            journal: OpenOptions::new()
                .create(true)
                .append(true)
                .open(&journal_path)
                .map_err(|e| RecordError::io(&journal_path, e))?,
            journal_path,
            rows,
            last_compact: Instant::now(),
            last_cost: Duration::ZERO,
            dirty: true,
            finished: false,
        };
        // The snapshot now holds exactly the kept rows; only then may the
        // journal (whose rows it supersedes) be emptied.
        w.compact(LEVEL_DURING)?;
        Ok(w)
    }

    /// Adds (or replaces, by key) one row: appended to the journal at once,
    /// in the snapshot at the next rewrite.
    pub fn write(&mut self, row: &BenchRecord) -> Result<()> {
        let line = to_json_line(row)?;
        self.journal
            .write_all(line.as_bytes())
            .map_err(|e| RecordError::io(&self.journal_path, e))?;
        self.rows.insert(row.key(), row.clone());
        self.dirty = true;
        if self.last_compact.elapsed() >= self.last_cost * COMPACT_EVERY {
            self.compact(LEVEL_DURING)?;
        }
        Ok(())
    }

    /// Rows held (kept old rows and rows written).
    pub fn rows(&self) -> usize {
        self.rows.len()
    }

    /// The results file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Rewrites the snapshot from memory (temporary file, then rename) and
    /// empties the journal.
    fn compact(&mut self, level: i32) -> Result<()> {
        if !self.dirty {
            return Ok(());
        }
        let t = Instant::now();
        let mut tmp_name = self.path.file_name().unwrap_or_default().to_os_string();
        tmp_name.push(format!(".tmp{}", std::process::id()));
        let tmp = self.path.with_file_name(tmp_name);
        let io = |e| RecordError::io(&tmp, e);
        let file = File::create(&tmp).map_err(io)?;
        let mut enc = zstd::stream::write::Encoder::new(BufWriter::new(file), level).map_err(io)?;
        for r in self.rows.values() {
            enc.write_all(to_json_line(r)?.as_bytes()).map_err(io)?;
        }
        let mut buf = enc.finish().map_err(io)?;
        buf.flush().map_err(io)?;
        if self.finished {
            buf.get_ref().sync_all().map_err(io)?;
        }
        drop(buf);
        std::fs::rename(&tmp, &self.path).map_err(|e| RecordError::io(&self.path, e))?;
        self.journal
            .set_len(0)
            .map_err(|e| RecordError::io(&self.journal_path, e))?;
        self.dirty = false;
        self.last_cost = t.elapsed();
        self.last_compact = Instant::now();
        Ok(())
    }

    /// Writes the final snapshot (synced) and removes the journal.
    pub fn finish(mut self) -> Result<()> {
        self.finished = true;
        self.dirty = true;
        self.compact(LEVEL_FINAL)?;
        std::fs::remove_file(&self.journal_path).map_err(|e| RecordError::io(&self.journal_path, e))
    }
}

impl Drop for ResultsWriter {
    fn drop(&mut self) {
        // A writer dropped on an error path still leaves a current snapshot
        // (the journal keeps the rows if even that fails).
        if !self.finished {
            let _ = self.compact(LEVEL_DURING);
        }
    }
}

/// What [`read_results`] found.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct ResultsRead {
    /// Every row, deduplicated by key (a journal row replaces the snapshot's),
    /// sorted by key.
    pub rows: Vec<BenchRecord>,
    /// Rows that came from the journal of an unfinished (or killed) run.
    pub journal_rows: usize,
    /// True when something was cut off: a partial last journal line, or a
    /// results file of an older lab version left by a kill.
    pub truncated: bool,
}

/// Reads a results file together with its journal (see the module docs).
/// A file of older lab versions (one zstd frame, possibly cut by a kill) or a
/// plain JSON Lines file reads too. Neither the file nor its journal existing
/// is an error.
pub fn read_results(path: impl AsRef<Path>) -> Result<ResultsRead> {
    let path = path.as_ref();
    let journal = journal_path(path);
    if !path.exists() && !journal.exists() {
        return Err(RecordError::io(
            path,
            std::io::Error::new(std::io::ErrorKind::NotFound, "no such results file"),
        ));
    }
    let mut out = ResultsRead::default();
    let mut rows: BTreeMap<RecordKey, BenchRecord> = BTreeMap::new();
    if path.exists() {
        let snap = read_jsonl_tolerant::<BenchRecord>(path)?;
        out.truncated |= snap.truncated;
        rows.extend(snap.rows.into_iter().map(|r| (r.key(), r)));
    }
    if journal.exists() {
        let j = read_jsonl_tolerant::<BenchRecord>(&journal)?;
        out.truncated |= j.truncated;
        out.journal_rows = j.rows.len();
        rows.extend(j.rows.into_iter().map(|r| (r.key(), r)));
    }
    out.rows = rows.into_values().collect();
    Ok(out)
}

/// Merges result files (e.g. the shards of a job array; each read with its
/// journal) into one: rows are deduplicated by key (a later file's methods
/// are added to, and replace, an earlier row's) and sorted by key. Returns
/// the row count.
pub fn merge_files(inputs: &[PathBuf], output: &Path) -> Result<usize> {
    let mut merged: BTreeMap<RecordKey, BenchRecord> = BTreeMap::new();
    for p in inputs {
        for r in read_results(p)?.rows {
            match merged.get_mut(&r.key()) {
                Some(old) => old.methods.extend(r.methods),
                None => {
                    merged.insert(r.key(), r);
                }
            }
        }
    }
    let mut w = ResultsWriter::create(output)?;
    for r in merged.values() {
        w.write(r)?;
    }
    let n = w.rows();
    w.finish()?;
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(name: &str) -> BenchRecord {
        BenchRecord {
            kind: "bench_bf16_perfile".into(),
            model: "m".into(),
            tensor_name: name.into(),
            input_bytes: 10,
            ..Default::default()
        }
    }

    #[test]
    fn snapshot_is_one_frame_and_journal_survives() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.jsonl.zst");
        let mut w = ResultsWriter::create(&path).unwrap();
        for i in 0..5 {
            w.write(&row(&format!("t{i}"))).unwrap();
        }
        // As after a kill: snapshot + journal, read together.
        std::mem::forget(w);
        let r = read_results(&path).unwrap();
        assert_eq!(r.rows.len(), 5);
        // A partial journal line is dropped, not an error.
        let mut j = OpenOptions::new()
            .append(true)
            .open(journal_path(&path))
            .unwrap();
        j.write_all(b"{\"_kind\":\"bench_bf16").unwrap();
        let r = read_results(&path).unwrap();
        assert_eq!(r.rows.len(), 5);
        assert!(r.truncated);
        // The snapshot alone decodes as a single frame.
        let bytes = std::fs::read(&path).unwrap();
        let one = zstd::bulk::decompress(&bytes, 1 << 20).unwrap();
        let n = one.split(|b| *b == b'\n').filter(|l| !l.is_empty()).count();
        assert!(n <= 5);
        // Resume keeps what `keep` accepts and finishing removes the journal.
        let (w, old) = ResultsWriter::resume(&path, |r| r.tensor_name != "t0").unwrap();
        assert_eq!(old.len(), 5);
        assert_eq!(w.rows(), 4);
        w.finish().unwrap();
        assert!(!journal_path(&path).exists());
        let bytes = std::fs::read(&path).unwrap();
        let one = zstd::bulk::decompress(&bytes, 1 << 20).unwrap();
        assert_eq!(
            one.split(|b| *b == b'\n').filter(|l| !l.is_empty()).count(),
            4
        );
    }
}
