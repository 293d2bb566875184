//! Result records and their zstd-compressed JSON Lines files.
//!
//! `results.jsonl.zst` is one zstd frame of JSON Lines, one [`BenchRecord`]
//! per item. While a bench runs, the frame is flushed after every row, so a
//! killed run leaves a readable prefix: [`read_records_tolerant`] reads every
//! complete line of it and [`RecordWriter::resume`] rewrites those rows into a
//! fresh frame (via a temporary file and an atomic rename) before appending.
//! A finished file is a single complete frame, which pandas reads with
//! `pd.read_json(path, lines=True, compression="zstd")`.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{LabError, Result};

/// One method's measurement on one item.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MethodRecord {
    /// general-purpose, byte-grouped, format-aware, trained-profile, weightzip.
    pub class: String,
    /// `input_bytes / (compressed_bytes + profile_bytes)`; null when the round trip failed.
    pub ratio: Option<f64>,
    /// Size of the compressed item.
    pub compressed_bytes: u64,
    /// Trained side data charged to this item (0 for untrained methods).
    pub profile_bytes: u64,
    /// Input MB (1e6 bytes) per second of compression, best of the repeats.
    #[serde(rename = "compress_MBps")]
    pub compress_mbps: Option<f64>,
    /// Input MB (1e6 bytes) per second of decompression, best of the repeats.
    #[serde(rename = "decompress_MBps")]
    pub decompress_mbps: Option<f64>,
    /// Whether decompress(compress(x)) == x byte for byte.
    pub roundtrip_ok: bool,
    /// Threads used (the bench runs every method on one thread).
    pub threads: u32,
    /// Why the evaluation failed, if it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// One line of `results.jsonl.zst`: one item and every method run on it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BenchRecord {
    /// `bench_bf16_perfile`, `bench_7B`, `bench_fp16`, `bench_fp32`,
    /// `Q4_K_benchmark` or `gguf_whole`.
    #[serde(rename = "_kind")]
    pub kind: String,
    /// Source model (the bootstrap cluster).
    pub model: String,
    /// `train` or `test`.
    pub split: String,
    /// Tensor name; the file name for `gguf_whole` rows.
    pub tensor_name: String,
    /// `BF16`, `F16`, `F32`, `Q4_K` or `GGUF`.
    pub dtype: String,
    /// Dtype in the source file when the item was cast (e.g. `F32`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_dtype: Option<String>,
    /// Shape, outermost dimension first (GGUF dims reversed); empty for files.
    pub shape: Vec<u64>,
    /// embedding, attention, mlp, lm_head, norm, other (`file` for whole files).
    pub tensor_category: String,
    /// Bytes of input the methods compressed.
    pub input_bytes: u64,
    /// Float rows: byte-marginal ceiling `8·width / Σ H(byte plane)`; for bf16
    /// this is 16 / (H_byte0 + H_byte1).
    #[serde(
        rename = "R_marginal",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub r_marginal: Option<f64>,
    /// Q4_K rows: 8 / H_byte of the nibble-byte stream.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nibble_ceiling: Option<f64>,
    /// Q4_K rows: the tensor-stream ceiling (see the atlas).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream_ceiling: Option<f64>,
    /// Method name -> measurement.
    pub methods: BTreeMap<String, MethodRecord>,
}

impl BenchRecord {
    /// The identity of the row's item: `(_kind, model, tensor_name)`.
    pub fn key(&self) -> RecordKey {
        (
            self.kind.clone(),
            self.model.clone(),
            self.tensor_name.clone(),
        )
    }
}

/// `(_kind, model, tensor_name)`.
pub type RecordKey = (String, String, String);

/// Serialises `value` as one JSON line (with the trailing newline).
pub fn to_json_line<T: Serialize>(value: &T) -> Result<String> {
    let mut s = serde_json::to_string(value)
        .map_err(|e| LabError::Invalid(format!("cannot serialise record: {e}")))?;
    s.push('\n');
    Ok(s)
}

/// Writes zstd-compressed JSON Lines as one frame, flushed after each row.
pub struct RecordWriter {
    path: PathBuf,
    enc: Option<zstd::stream::write::Encoder<'static, BufWriter<File>>>,
    rows: usize,
}

impl std::fmt::Debug for RecordWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecordWriter")
            .field("path", &self.path)
            .field("rows", &self.rows)
            .finish()
    }
}

/// zstd level of record files: small files, fast enough to flush per row.
const RECORD_ZSTD_LEVEL: i32 = 9;

impl RecordWriter {
    /// Creates (truncates) `path`.
    pub fn create(path: impl AsRef<Path>) -> Result<RecordWriter> {
        let path = path.as_ref().to_path_buf();
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| LabError::io(dir, e))?;
        }
        let file = File::create(&path).map_err(|e| LabError::io(&path, e))?;
        let enc = zstd::stream::write::Encoder::new(BufWriter::new(file), RECORD_ZSTD_LEVEL)
            .map_err(|e| LabError::io(&path, e))?;
        Ok(RecordWriter {
            path,
            enc: Some(enc),
            rows: 0,
        })
    }

    /// Opens `path` for appending: the complete rows already in it for which
    /// `keep` is true are rewritten into a new frame (written to a temporary
    /// file that atomically replaces `path`); returns the writer and every
    /// row that was read (kept or not). A missing file gives no rows.
    pub fn resume(
        path: impl AsRef<Path>,
        keep: impl Fn(&BenchRecord) -> bool,
    ) -> Result<(RecordWriter, Vec<BenchRecord>)> {
        let path = path.as_ref().to_path_buf();
        let old = if path.exists() {
            read_records_tolerant(&path)?.0
        } else {
            Vec::new()
        };
        let mut tmp_name = path.file_name().unwrap_or_default().to_os_string();
        tmp_name.push(".partial");
        let tmp = path.with_file_name(tmp_name);
        let mut w = RecordWriter::create(&tmp)?;
        for r in old.iter().filter(|r| keep(r)) {
            w.write(r)?;
        }
        w.flush()?;
        std::fs::rename(&tmp, &path).map_err(|e| LabError::io(&path, e))?;
        w.path = path;
        Ok((w, old))
    }

    /// Appends one row and flushes it to disk (the frame stays open).
    pub fn write<T: Serialize>(&mut self, row: &T) -> Result<()> {
        let line = to_json_line(row)?;
        let enc = self.enc.as_mut().ok_or_else(|| {
            LabError::Invalid(format!("{}: writer already finished", self.path.display()))
        })?;
        enc.write_all(line.as_bytes())
            .map_err(|e| LabError::io(&self.path, e))?;
        self.rows += 1;
        self.flush()
    }

    /// Flushes everything written so far (a reader then sees every row).
    pub fn flush(&mut self) -> Result<()> {
        if let Some(enc) = self.enc.as_mut() {
            enc.flush().map_err(|e| LabError::io(&self.path, e))?;
        }
        Ok(())
    }

    /// Rows written by this writer (including rewritten old rows).
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// The file being written.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Ends the zstd frame and syncs the file.
    pub fn finish(mut self) -> Result<()> {
        self.finish_inner()
    }

    fn finish_inner(&mut self) -> Result<()> {
        if let Some(enc) = self.enc.take() {
            let mut buf = enc.finish().map_err(|e| LabError::io(&self.path, e))?;
            buf.flush().map_err(|e| LabError::io(&self.path, e))?;
            buf.get_ref()
                .sync_all()
                .map_err(|e| LabError::io(&self.path, e))?;
        }
        Ok(())
    }
}

impl Drop for RecordWriter {
    fn drop(&mut self) {
        // Best effort: a writer dropped on an error path still leaves a
        // complete frame. Errors here cannot be reported.
        let _ = self.finish_inner();
    }
}

/// Opens a record file for reading: zstd (detected by its magic) or plain.
fn open_lines(path: &Path) -> Result<Box<dyn BufRead>> {
    let mut file = File::open(path).map_err(|e| LabError::io(path, e))?;
    let mut magic = [0u8; 4];
    let n = read_up_to(&mut file, &mut magic).map_err(|e| LabError::io(path, e))?;
    let file = File::open(path).map_err(|e| LabError::io(path, e))?;
    if n == 4 && magic == [0x28, 0xB5, 0x2F, 0xFD] {
        let dec = zstd::stream::read::Decoder::new(file).map_err(|e| LabError::io(path, e))?;
        Ok(Box::new(BufReader::new(dec)))
    } else {
        Ok(Box::new(BufReader::new(file)))
    }
}

fn read_up_to(r: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..])? {
            0 => break,
            k => n += k,
        }
    }
    Ok(n)
}

/// Reads every row of a JSON Lines file (zstd or plain). Any unreadable or
/// invalid line is an error naming the file and line.
pub fn read_jsonl<T: for<'de> Deserialize<'de>>(path: impl AsRef<Path>) -> Result<Vec<T>> {
    let path = path.as_ref();
    let (rows, truncated) = read_lines_impl(path, false)?;
    debug_assert!(!truncated);
    Ok(rows)
}

/// Reads every row of a results file, strictly.
pub fn read_records(path: impl AsRef<Path>) -> Result<Vec<BenchRecord>> {
    read_jsonl(path)
}

/// Reads the complete rows of a results file that may have been cut short
/// (a killed run): a truncated zstd frame or a partial last line ends the
/// read instead of failing. Returns the rows and whether the file was cut.
pub fn read_records_tolerant(path: impl AsRef<Path>) -> Result<(Vec<BenchRecord>, bool)> {
    read_lines_impl(path.as_ref(), true)
}

fn read_lines_impl<T: for<'de> Deserialize<'de>>(
    path: &Path,
    tolerant: bool,
) -> Result<(Vec<T>, bool)> {
    let mut reader = open_lines(path)?;
    let mut rows = Vec::new();
    let mut line = String::new();
    let mut lineno = 0usize;
    loop {
        line.clear();
        match reader.read_line(&mut line) {
            Ok(0) => return Ok((rows, false)),
            Ok(_) => {}
            Err(e) if tolerant => {
                let _ = e;
                return Ok((rows, true));
            }
            Err(e) => {
                return Err(LabError::Record {
                    path: path.to_path_buf(),
                    line: lineno + 1,
                    message: format!("unreadable: {e}"),
                })
            }
        }
        lineno += 1;
        let complete = line.ends_with('\n');
        let text = line.trim();
        if text.is_empty() {
            continue;
        }
        match serde_json::from_str::<T>(text) {
            Ok(r) => rows.push(r),
            // A partial last line of a cut file.
            Err(_) if tolerant && !complete => return Ok((rows, true)),
            Err(e) => {
                return Err(LabError::Record {
                    path: path.to_path_buf(),
                    line: lineno,
                    message: e.to_string(),
                })
            }
        }
    }
}

/// Writes rows as plain JSON Lines (the atlas files).
pub fn write_jsonl<T: Serialize>(path: impl AsRef<Path>, rows: &[T]) -> Result<()> {
    let path = path.as_ref();
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| LabError::io(dir, e))?;
    }
    let file = File::create(path).map_err(|e| LabError::io(path, e))?;
    let mut w = BufWriter::new(file);
    for r in rows {
        w.write_all(to_json_line(r)?.as_bytes())
            .map_err(|e| LabError::io(path, e))?;
    }
    w.flush().map_err(|e| LabError::io(path, e))
}

/// Merges result files (e.g. the shards of a job array) into one: rows are
/// deduplicated by [`BenchRecord::key`] (a later file's methods are added to,
/// and replace, an earlier row's) and sorted by key. Returns the row count.
pub fn merge_files(inputs: &[PathBuf], output: &Path) -> Result<usize> {
    let mut merged: BTreeMap<RecordKey, BenchRecord> = BTreeMap::new();
    for p in inputs {
        for r in read_records(p)? {
            match merged.get_mut(&r.key()) {
                Some(old) => old.methods.extend(r.methods),
                None => {
                    merged.insert(r.key(), r);
                }
            }
        }
    }
    let mut w = RecordWriter::create(output)?;
    for r in merged.values() {
        w.write(r)?;
    }
    let n = w.rows();
    w.finish()?;
    Ok(n)
}
