//! Compression: plan each file's segments from its layout, code chunks in
//! parallel with a bounded window, write them in order, then the index.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use weightzip_codec::select::{plan_tensor, select_inspected, ChunkPlan};
use weightzip_codec::Level;
use weightzip_format::{read_layout, FileKind};
use xxhash_rust::xxh3::{xxh3_64, Xxh3};

use crate::error::{Result, WzError};
use crate::index::{self, ChunkRef, Entry, Footer, Index, RootKind, Segment, SegmentKind};
use crate::pipeline::{ordered_map, BufferPool};
use crate::source::{range_in, Cursor, FileSource, ReadAt};

/// Called from worker threads with the number of input bytes just processed.
pub type Progress = Arc<dyn Fn(u64) + Send + Sync>;

/// Default chunk size: large enough that per-chunk tables cost < 0.05 %,
/// small enough that two threads stay busy and memory stays bounded.
pub const DEFAULT_CHUNK_SIZE: usize = 4 << 20;

/// How to compress.
#[derive(Clone)]
pub struct CompressOptions {
    /// Codec strength.
    pub level: Level,
    /// Worker threads; 0 means all available cores.
    pub threads: usize,
    /// Maximum decoded bytes per chunk (rounded down to whole elements/blocks).
    pub chunk_size: usize,
    /// Replace an existing output file.
    pub overwrite: bool,
    /// Decode every coded chunk right after encoding it and keep it with
    /// zstd instead if it does not come back byte for byte: a codec bug then
    /// costs ratio, never data. On by default (~20 % of compress time with
    /// the fast bf16 codec, a few % with the others).
    pub verify: bool,
    /// Progress callback.
    pub progress: Option<Progress>,
}

impl Default for CompressOptions {
    fn default() -> Self {
        Self {
            level: Level::Fast,
            threads: 0,
            chunk_size: DEFAULT_CHUNK_SIZE,
            overwrite: false,
            verify: true,
            progress: None,
        }
    }
}

impl std::fmt::Debug for CompressOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CompressOptions")
            .field("level", &self.level)
            .field("threads", &self.threads)
            .field("chunk_size", &self.chunk_size)
            .field("overwrite", &self.overwrite)
            .field("verify", &self.verify)
            .finish()
    }
}

/// Resolves a thread count of 0 to the number of cores.
pub(crate) fn effective_threads(threads: usize) -> usize {
    if threads == 0 {
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    } else {
        threads
    }
}

/// What a compression did.
#[derive(Clone, Debug, Default)]
pub struct CompressSummary {
    pub input_bytes: u64,
    pub output_bytes: u64,
    pub files: usize,
    pub tensors: usize,
    /// Files that looked like a model format but did not parse (stored as
    /// plain bytes, still byte-exact).
    pub warnings: Vec<String>,
}

/// One file to put in the archive.
pub struct InputFile<'a> {
    /// Path inside the archive.
    pub path: String,
    pub source: Box<dyn ReadAt + 'a>,
}

impl<'a> InputFile<'a> {
    /// An in-memory file.
    pub fn from_bytes(path: &str, bytes: &'a [u8]) -> Self {
        Self {
            path: path.to_string(),
            source: Box::new(bytes),
        }
    }

    /// A file on disk, stored under `entry_path`.
    pub fn open(path: &Path, entry_path: String) -> Result<InputFile<'static>> {
        let file = File::open(path).map_err(|e| WzError::io("cannot open", path, e))?;
        let source = FileSource::new(file).map_err(|e| WzError::io("cannot stat", path, e))?;
        Ok(InputFile {
            path: entry_path,
            source: Box::new(source),
        })
    }
}

/// Compresses a file or a folder at `input` into the archive `output`.
/// The archive is written under a temporary name and renamed when complete.
pub fn compress_path(
    input: &Path,
    output: &Path,
    opts: &CompressOptions,
) -> Result<CompressSummary> {
    let meta = std::fs::metadata(input).map_err(|e| WzError::io("cannot read", input, e))?;
    let (root, files) = if meta.is_dir() {
        (RootKind::Dir, collect_folder(input, output)?)
    } else {
        let name = input
            .file_name()
            .and_then(|n| n.to_str())
            .filter(|n| index::check_relative_path(n).is_ok())
            .ok_or_else(|| {
                WzError::InvalidInput(format!("{}: unusable file name", input.display()))
            })?
            .to_string();
        (RootKind::File, vec![(input.to_path_buf(), name)])
    };
    let inputs = files
        .into_iter()
        .map(|(p, name)| InputFile::open(&p, name))
        .collect::<Result<Vec<_>>>()?;
    write_atomically(output, opts.overwrite, |w| {
        compress_to_writer(inputs, root, w, opts)
    })
}

/// Creates `output` through a temporary file in the same folder, renamed
/// into place only after `fill` succeeded and the data reached the disk.
pub(crate) fn write_atomically<T>(
    output: &Path,
    overwrite: bool,
    fill: impl FnOnce(&mut BufWriter<File>) -> Result<T>,
) -> Result<T> {
    if !overwrite && output.symlink_metadata().is_ok() {
        return Err(WzError::OutputExists(output.to_path_buf()));
    }
    let tmp = temp_path_for(output);
    let file = File::create(&tmp).map_err(|e| WzError::io("cannot create", &tmp, e))?;
    let mut w = BufWriter::with_capacity(1 << 20, file);
    let result = fill(&mut w).and_then(|v| {
        w.flush()
            .map_err(|e| WzError::io("cannot write", &tmp, e))?;
        w.get_ref()
            .sync_all()
            .map_err(|e| WzError::io("cannot sync", &tmp, e))?;
        Ok(v)
    });
    drop(w);
    match result {
        Ok(v) => {
            if !overwrite && output.symlink_metadata().is_ok() {
                let _ = std::fs::remove_file(&tmp);
                return Err(WzError::OutputExists(output.to_path_buf()));
            }
            std::fs::rename(&tmp, output).map_err(|e| {
                let _ = std::fs::remove_file(&tmp);
                WzError::io("cannot rename temporary file to", output, e)
            })?;
            Ok(v)
        }
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            Err(e)
        }
    }
}

/// `dir/.name.tmp-PID` next to `output`.
pub(crate) fn temp_path_for(output: &Path) -> PathBuf {
    let name = output
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "output".into());
    output.with_file_name(format!(".{name}.tmp-{}", std::process::id()))
}

/// Every regular file below `dir` (following file symlinks), sorted, with
/// its `/`-separated relative path; the output archive itself is skipped.
fn collect_folder(dir: &Path, output: &Path) -> Result<Vec<(PathBuf, String)>> {
    let skip = [
        output.canonicalize().ok(),
        temp_path_for(output).canonicalize().ok(),
    ];
    let mut out = Vec::new();
    let mut stack = vec![(dir.to_path_buf(), String::new())];
    while let Some((path, rel)) = stack.pop() {
        let rd = std::fs::read_dir(&path).map_err(|e| WzError::io("cannot list", &path, e))?;
        for ent in rd {
            let ent = ent.map_err(|e| WzError::io("cannot list", &path, e))?;
            let p = ent.path();
            let name = ent
                .file_name()
                .to_str()
                .map(str::to_string)
                .ok_or_else(|| {
                    WzError::InvalidInput(format!("{}: file name is not UTF-8", p.display()))
                })?;
            let rel_child = if rel.is_empty() {
                name
            } else {
                format!("{rel}/{name}")
            };
            let ft = ent
                .file_type()
                .map_err(|e| WzError::io("cannot stat", &p, e))?;
            if ft.is_dir() {
                stack.push((p, rel_child));
            } else if ft.is_file() || (ft.is_symlink() && p.is_file()) {
                if skip
                    .iter()
                    .flatten()
                    .any(|s| p.canonicalize().ok().as_ref() == Some(s))
                {
                    continue;
                }
                index::check_relative_path(&rel_child)?;
                out.push((p, rel_child));
            }
            // Sockets, devices and symlinks to folders are not model files.
        }
    }
    out.sort_by(|a, b| a.1.cmp(&b.1));
    Ok(out)
}

/// Where one chunk's bytes come from and where its reference goes.
struct Job {
    ranges: Vec<(u64, u64)>,
    /// How [`select`](weightzip_codec::select()) codes the chunk.
    plan: ChunkPlan,
    /// `Some(segment index)` for a tensor chunk, `None` for passthrough.
    segment: Option<usize>,
    /// Where the chunk is, for error messages.
    place: String,
}

struct Encoded {
    codec: u8,
    payload: Vec<u8>,
    raw_len: u64,
    checksum: u64,
}

/// Writes a complete archive of `inputs` to `out`.
pub fn compress_to_writer<W: Write>(
    inputs: Vec<InputFile<'_>>,
    root: RootKind,
    out: &mut W,
    opts: &CompressOptions,
) -> Result<CompressSummary> {
    if opts.chunk_size == 0 || opts.chunk_size as u64 > index::MAX_CHUNK_RAW {
        return Err(WzError::InvalidInput(format!(
            "chunk size must be 1..={} bytes",
            index::MAX_CHUNK_RAW
        )));
    }
    let threads = effective_threads(opts.threads);
    let mut out = Counting { inner: out, pos: 0 };
    out.put(&index::header_bytes())?;
    let mut summary = CompressSummary::default();
    let mut entries = Vec::with_capacity(inputs.len());
    for input in &inputs {
        let src = input.source.as_ref();
        let (mut entry, jobs, warning) = plan_entry(&input.path, src, opts)?;
        summary.warnings.extend(warning);
        summary.tensors += entry.tensors().count();
        let pool = BufferPool::new(threads * 4);
        ordered_map(
            jobs.len(),
            threads,
            threads * 2,
            |i| {
                encode_job(&jobs[i], src, opts, &pool)
                    .map_err(|e| name_place(e, &input.path, &jobs[i].place))
            },
            |i, enc| {
                let chunk = ChunkRef {
                    offset: out.pos,
                    stored_len: enc.payload.len() as u64,
                    raw_len: enc.raw_len,
                    codec: enc.codec,
                    checksum: enc.checksum,
                };
                out.put(&enc.payload)?;
                pool.give(enc.payload);
                match jobs[i].segment {
                    Some(s) => entry.segments[s].chunks.push(chunk),
                    None => entry.passthrough.push(chunk),
                }
                Ok(())
            },
        )?;
        entry.checksum = hash_source(src, &input.path)?;
        entry.validate()?;
        summary.input_bytes += entry.size;
        summary.files += 1;
        entries.push(entry);
    }
    let index = Index { root, entries };
    let raw = index.to_bytes();
    let stored =
        zstd::bulk::compress(&raw, 9).map_err(|e| WzError::io("cannot compress", "index", e))?;
    let footer = Footer {
        index_offset: out.pos,
        index_len: stored.len() as u64,
        index_checksum: xxh3_64(&stored),
    };
    out.put(&stored)?;
    out.put(&footer.to_bytes())?;
    summary.output_bytes = out.pos;
    Ok(summary)
}

/// A writer that knows how many bytes it has written (chunk offsets).
struct Counting<'w, W: Write> {
    inner: &'w mut W,
    pos: u64,
}

impl<W: Write> Counting<'_, W> {
    fn put(&mut self, bytes: &[u8]) -> Result<()> {
        self.inner
            .write_all(bytes)
            .map_err(|e| WzError::io("cannot write", "archive", e))?;
        self.pos += bytes.len() as u64;
        Ok(())
    }
}

/// Puts the file and chunk into a codec error raised by a worker.
fn name_place(e: WzError, path: &str, place: &str) -> WzError {
    match e {
        WzError::Codec { source, .. } => WzError::Codec {
            place: format!("{path}: {place}"),
            source,
        },
        other => other,
    }
}

fn encode_job(
    job: &Job,
    src: &dyn ReadAt,
    opts: &CompressOptions,
    pool: &BufferPool,
) -> Result<Encoded> {
    let total: u64 = job.ranges.iter().map(|r| r.1).sum();
    let read_err = |e| WzError::io("cannot read", "input", e);
    // One range of an in-memory source is borrowed; else the ranges are
    // read into a recycled buffer.
    let mut owned = pool.take(0);
    let raw: &[u8] = match job.ranges.as_slice() {
        &[(off, len)] => range_in(src, off, len as usize, &mut owned).map_err(read_err)?,
        ranges => {
            owned.resize(total as usize, 0);
            let mut at = 0;
            for &(off, len) in ranges {
                let len = len as usize;
                src.read_exact_at(&mut owned[at..at + len], off)
                    .map_err(read_err)?;
                at += len;
            }
            &owned
        }
    };
    let checksum = xxh3_64(raw);
    let mut payload = pool.take(0);
    #[cfg(test)]
    let inspect = |codec, payload: &mut [u8]| tests::damage_hook(codec, raw.len(), payload);
    #[cfg(not(test))]
    let inspect = |_, _: &mut [u8]| {};
    let codec = select_inspected(raw, &job.plan, &mut payload, inspect).map_err(|source| {
        WzError::Codec {
            place: String::new(),
            source,
        }
    })?;
    pool.give(owned);
    for &(off, len) in &job.ranges {
        src.release(off, len);
    }
    if let Some(p) = &opts.progress {
        p(total);
    }
    Ok(Encoded {
        codec: codec as u8,
        payload,
        raw_len: total,
        checksum,
    })
}

/// Whole-file xxh3, read sequentially in 1 MiB blocks (in place, and
/// released behind, when the source is mapped).
fn hash_source(src: &dyn ReadAt, path: &str) -> Result<u64> {
    let mut h = Xxh3::new();
    if let Some(all) = src.bytes() {
        let mut off = 0;
        for block in all.chunks(16 << 20) {
            h.update(block);
            src.release(off, block.len() as u64);
            off += block.len() as u64;
        }
        return Ok(h.digest());
    }
    let mut buf = vec![0u8; 1 << 20];
    let size = src.size();
    let mut off = 0u64;
    while off < size {
        let n = (size - off).min(buf.len() as u64) as usize;
        src.read_exact_at(&mut buf[..n], off)
            .map_err(|e| WzError::io("cannot read", path, e))?;
        h.update(&buf[..n]);
        off += n as u64;
    }
    Ok(h.digest())
}

/// Cuts a file into segments and chunk jobs.
fn plan_entry(
    path: &str,
    src: &dyn ReadAt,
    opts: &CompressOptions,
) -> Result<(Entry, Vec<Job>, Option<String>)> {
    let size = src.size();
    let mut warning = None;
    let layout = match read_layout(&mut Cursor::new(src), size) {
        Ok(l) => Some(l),
        Err(e) => {
            warning = Some(format!(
                "{path}: not parsed as a model file ({e}); stored as plain bytes"
            ));
            None
        }
    };
    let file_kind = match layout.as_ref().map(|l| l.kind) {
        Some(FileKind::Safetensors) => 1,
        Some(FileKind::Gguf) => 2,
        _ => 0,
    };
    let mut segments = Vec::new();
    let mut jobs = Vec::new();
    let mut pass_ranges: Vec<(u64, u64)> = Vec::new();
    let mut cursor = 0u64;
    let chunk = opts.chunk_size as u64;
    for t in layout.iter().flat_map(|l| l.tensors.iter()) {
        if t.offset < cursor || t.offset.checked_add(t.len).is_none_or(|e| e > size) {
            return Err(WzError::InvalidInput(format!(
                "{path}: tensor {:?} at {}+{} overlaps or lies outside the file",
                t.name, t.offset, t.len
            )));
        }
        if t.offset > cursor {
            pass_ranges.push((cursor, t.offset - cursor));
            segments.push(Segment {
                kind: SegmentKind::Passthrough,
                len: t.offset - cursor,
                chunks: Vec::new(),
            });
        }
        if t.len > 0 {
            let seg = segments.len();
            let plan = plan_tensor(t.ty, &t.shape, t.len, chunk, opts.level);
            for r in plan.chunks(t.len) {
                jobs.push(Job {
                    ranges: vec![(t.offset + r.start, r.end - r.start)],
                    plan: plan.chunk(opts.verify),
                    segment: Some(seg),
                    place: format!("tensor {:?}, chunk at byte {}", t.name, t.offset + r.start),
                });
            }
            segments.push(Segment {
                kind: SegmentKind::Tensor {
                    name: t.name.clone(),
                    ty: Some(t.ty),
                    shape: t.shape.clone(),
                },
                len: t.len,
                chunks: Vec::new(),
            });
        }
        cursor = t.offset + t.len;
    }
    if cursor < size {
        pass_ranges.push((cursor, size - cursor));
        segments.push(Segment {
            kind: SegmentKind::Passthrough,
            len: size - cursor,
            chunks: Vec::new(),
        });
    }
    // The passthrough bytes form one stream, cut into chunks of `chunk` bytes.
    let mut pass_jobs = Vec::new();
    let mut current: Vec<(u64, u64)> = Vec::new();
    let mut filled = 0u64;
    for (mut off, mut len) in pass_ranges {
        while len > 0 {
            let take = len.min(chunk - filled);
            current.push((off, take));
            filled += take;
            off += take;
            len -= take;
            if filled == chunk {
                pass_jobs.push(std::mem::take(&mut current));
                filled = 0;
            }
        }
    }
    if !current.is_empty() {
        pass_jobs.push(current);
    }
    let mut all = Vec::with_capacity(pass_jobs.len() + jobs.len());
    all.extend(pass_jobs.into_iter().enumerate().map(|(k, ranges)| Job {
        ranges,
        plan: ChunkPlan::passthrough(opts.level, opts.verify),
        segment: None,
        place: format!("non-tensor bytes, chunk {k}"),
    }));
    all.extend(jobs);
    let entry = Entry {
        path: path.to_string(),
        size,
        checksum: 0,
        file_kind,
        segments,
        passthrough: Vec::new(),
    };
    Ok((entry, all, warning))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{compress_bytes, decompress_bytes, Archive};
    use weightzip_codec::CodecId;

    /// Raw chunk length whose coded payload [`damage_hook`] breaks (no
    /// other test makes a chunk of this size).
    const DAMAGED_LEN: usize = 2 * 20_011;

    /// Flips a byte in the middle of a weightzip-coded payload of a chunk
    /// of [`DAMAGED_LEN`] bytes: a stand-in for a codec bug.
    pub(super) fn damage_hook(codec: CodecId, raw_len: usize, payload: &mut [u8]) {
        if raw_len == DAMAGED_LEN && !matches!(codec, CodecId::Store | CodecId::Zstd) {
            let mid = payload.len() / 2;
            payload[mid] ^= 0x10;
        }
    }

    /// A safetensors file of one bf16 tensor holding real weights (the
    /// golden MiniLM slice's data) of `DAMAGED_LEN` bytes.
    fn bf16_file() -> Vec<u8> {
        let src = include_bytes!("../tests/golden/v1-minilm-slice.bf16.safetensors");
        let data = &src[src.len() - DAMAGED_LEN..];
        let mut header = format!(
            "{{\"w\":{{\"dtype\":\"BF16\",\"shape\":[{}],\"data_offsets\":[0,{}]}}}}",
            DAMAGED_LEN / 2,
            DAMAGED_LEN
        )
        .into_bytes();
        while header.len() % 8 != 0 {
            header.push(b' ');
        }
        let mut file = (header.len() as u64).to_le_bytes().to_vec();
        file.extend_from_slice(&header);
        file.extend_from_slice(data);
        file
    }

    fn chunk_codecs(wz: &[u8]) -> Vec<u8> {
        let archive = Archive::from_bytes(wz).unwrap();
        archive.index().entries[0]
            .segments
            .iter()
            .flat_map(|s| s.chunks.iter().map(|c| c.codec))
            .collect()
    }

    #[test]
    fn a_chunk_that_does_not_decode_back_is_kept_with_zstd() {
        let file = bf16_file();
        let opts = CompressOptions {
            threads: 1,
            ..Default::default()
        };
        let wz = compress_bytes(&file, &opts).unwrap();
        assert_eq!(chunk_codecs(&wz), [CodecId::Zstd as u8]);
        assert_eq!(decompress_bytes(&wz).unwrap(), file);
        // Without the check, the damaged payload goes in and the archive is
        // lost (its chunk checksum fails).
        let unchecked = CompressOptions {
            verify: false,
            ..opts
        };
        let wz = compress_bytes(&file, &unchecked).unwrap();
        assert_eq!(chunk_codecs(&wz), [CodecId::Bf16Alias as u8]);
        assert!(decompress_bytes(&wz).is_err());
    }
}
