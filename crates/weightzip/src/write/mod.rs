//! Compression: plan each file's segments from its layout, code chunks in
//! parallel with a bounded window, write them in file order (hashing each
//! byte as it is read, once), then the index.

use std::collections::BTreeMap;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use weightzip_codec::Level;
use xxhash_rust::xxh3::{xxh3_64, Xxh3};

use crate::base::Base;
use crate::dedup::{ChunkStore, Reread};
use crate::error::{Result, WzError};
use crate::fs::{self, walk, FileId, OpenInput, OutputPath, Replace, Snapshot, TempFile};
use crate::index::{self, Attrs, ChunkBase, ChunkRef, Extra, Footer, Index, RootKind};
use crate::pipeline::{ordered_map, BufferPool, Window};
use crate::source::{FileSource, ReadAt};
use plan::BaseFrom;

mod base_use;
mod chain;
mod encode;
mod plan;

/// Called from worker threads with the number of input bytes just processed.
pub type Progress = Arc<dyn Fn(u64) + Send + Sync>;

/// Default chunk size: large enough that per-chunk tables cost < 0.05 %,
/// small enough that two threads stay busy and memory stays bounded.
pub const DEFAULT_CHUNK_SIZE: usize = 4 << 20;
/// The most worker threads a run may ask for.
pub const MAX_THREADS: usize = 1024;

/// How to compress.
#[derive(Clone)]
pub struct CompressOptions {
    /// Codec strength.
    pub level: Level,
    /// Worker threads; 0 means all available cores.
    pub threads: usize,
    /// Maximum decoded bytes per chunk (rounded down to whole elements/blocks).
    pub chunk_size: usize,
    /// Replace an existing output file (never a link, a device or the input).
    pub overwrite: bool,
    /// Decode every coded chunk right after encoding it and keep it with
    /// zstd instead if it does not come back byte for byte: a codec bug then
    /// costs ratio, never data. On by default (~20 % of compress time with
    /// the fast bf16 codec, a few % with the others).
    pub verify: bool,
    /// Store identical content once: a chunk whose bytes (BLAKE3, then
    /// compared byte for byte) were already stored anywhere in the
    /// archive is written as a reference to it. On by default.
    pub dedup: bool,
    /// A base checkpoint (file, folder or `.wz`): each tensor with a twin
    /// in it (same file path, name, type and length) is coded as a delta
    /// against that twin wherever that is smaller.
    pub base: Option<Arc<Base>>,
    /// Code a folder of checkpoints as a chain: a file whose name an
    /// earlier file of the archive has codes each tensor chunk as a delta
    /// against that file's same chunk wherever that is smaller. On by
    /// default.
    pub chain: bool,
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
            dedup: true,
            base: None,
            chain: true,
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
            .field("dedup", &self.dedup)
            .field("base", &self.base)
            .field("chain", &self.chain)
            .finish()
    }
}

/// Resolves a thread count of 0 to the number of cores, and caps it.
pub(crate) fn effective_threads(threads: usize) -> usize {
    if threads == 0 {
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
            .min(MAX_THREADS)
    } else {
        threads.min(MAX_THREADS)
    }
}

/// What a compression did.
#[derive(Clone, Debug, Default)]
pub struct CompressSummary {
    /// Bytes read.
    pub input_bytes: u64,
    /// Bytes of the archive.
    pub output_bytes: u64,
    /// Files stored.
    pub files: usize,
    /// Tensors found and coded with their codecs.
    pub tensors: usize,
    /// Chunks stored as references to identical content stored before.
    pub dedup_chunks: u64,
    /// Original bytes those references stand for.
    pub dedup_bytes: u64,
    /// Chunks stored as deltas against the base.
    pub delta_chunks: u64,
    /// Original bytes those deltas stand for.
    pub delta_bytes: u64,
    /// Files that looked like a model format but did not parse (stored as
    /// plain bytes, still byte-exact), and members left out on purpose.
    pub warnings: Vec<String>,
    /// Folder members that could not be stored (the rest was): a caller
    /// should report each and fail, as tar does.
    pub problems: Vec<String>,
}

/// Where one file's bytes come from.
enum Source<'a> {
    Bytes(&'a [u8]),
    /// A file on disk, opened when its turn comes.
    Path(PathBuf),
    Open(OpenInput),
}

/// One file to put in the archive.
pub struct InputFile<'a> {
    /// Path inside the archive.
    pub path: String,
    /// The name errors give.
    pub display: PathBuf,
    /// Mode and time to store.
    pub attrs: Attrs,
    source: Source<'a>,
}

impl<'a> InputFile<'a> {
    /// An in-memory file.
    pub fn from_bytes(path: &str, bytes: &'a [u8]) -> Self {
        Self {
            path: path.to_string(),
            display: PathBuf::from(path),
            attrs: Attrs::default(),
            source: Source::Bytes(bytes),
        }
    }

    /// A file on disk, stored under `entry_path`, opened when compressed.
    pub fn on_disk(path: &Path, entry_path: String, attrs: Attrs) -> InputFile<'static> {
        InputFile {
            path: entry_path,
            display: path.to_path_buf(),
            attrs,
            source: Source::Path(path.to_path_buf()),
        }
    }

    /// A file already opened (a regular file, or a stream spooled).
    pub fn opened(input: OpenInput, display: &Path, entry_path: String) -> InputFile<'static> {
        let attrs = match &input.snapshot {
            Some(_) => input
                .file
                .metadata()
                .map(|m| walk::attrs_of(&m))
                .unwrap_or_default(),
            None => Attrs::default(),
        };
        InputFile {
            path: entry_path,
            display: display.to_path_buf(),
            attrs,
            source: Source::Open(input),
        }
    }
}

/// The members of an archive to write.
pub struct Plan<'a> {
    /// One file or a folder.
    pub root: RootKind,
    /// The files, in the order to store them.
    pub files: Vec<InputFile<'a>>,
    /// Folders and links (folder archives only).
    pub extras: Vec<Extra>,
}

/// Compresses a file or a folder at `input` (`-`: standard input; a pipe,
/// FIFO or device is read as a stream) into the archive `output` (`-`:
/// standard output). A file output is written under a temporary name and
/// renamed when complete; it never replaces a link, a device or the input.
pub fn compress_path(
    input: &Path,
    output: &Path,
    opts: &CompressOptions,
) -> Result<CompressSummary> {
    let is_dir = !fs::input::is_stdin(input)
        && std::fs::metadata(input)
            .map_err(|e| WzError::io("cannot open", input, e))?
            .is_dir();
    let target = OutputPath::of(output);
    let replace = Replace::when(opts.overwrite);
    if let OutputPath::Path(p) = &target {
        // Refused before any work; checked again before the rename.
        fs::check_target(p, replace, &[])?;
    }
    let mut warnings = Vec::new();
    let mut problems = Vec::new();
    let (plan, protect) = if is_dir {
        let tree = walk::walk(input)?;
        warnings = tree.skipped;
        problems = tree.problems;
        // Every file of the folder is an input no output may replace.
        let protect: Vec<FileId> = tree.files.iter().filter_map(|f| f.id).collect();
        let files = tree
            .files
            .into_iter()
            .map(|f| InputFile::on_disk(&f.path, f.rel, f.attrs))
            .collect();
        let plan = Plan {
            root: RootKind::Dir,
            files,
            extras: tree.extras,
        };
        (plan, protect)
    } else {
        let opened = fs::open_input(input, fs::Fifo::WaitForWriter)?;
        let name = entry_name(input)?;
        let protect: Vec<FileId> = opened.id.into_iter().collect();
        let plan = Plan {
            root: RootKind::File,
            files: vec![InputFile::opened(opened, input, name)],
            extras: Vec::new(),
        };
        (plan, protect)
    };
    // Nor may it replace a file of the base it is coded against.
    let mut protect = protect;
    if let Some(b) = &opts.base {
        protect.extend_from_slice(b.file_ids());
    }
    if let OutputPath::Path(p) = &target {
        fs::check_target(p, replace, &protect)?;
    }
    let mut summary = match target {
        OutputPath::Stdout => {
            let stdout = std::io::stdout();
            let mut w = BufWriter::with_capacity(1 << 20, stdout.lock());
            let s = compress_to_writer(plan, &mut w, opts)?;
            w.flush()
                .map_err(|e| WzError::io("cannot write", "standard output", e))?;
            s
        }
        OutputPath::Null => compress_to_writer(plan, &mut std::io::sink(), opts)?,
        OutputPath::Path(p) => {
            let tmp = TempFile::new_for(&p)?;
            let mut w = BufWriter::with_capacity(1 << 20, tmp.file());
            let s = compress_to_writer(plan, &mut w, opts).map_err(|e| rename_output(e, &p))?;
            tmp.flush_writer(&mut w)?;
            drop(w);
            tmp.persist(replace, &protect)?;
            s
        }
    };
    summary.warnings.extend(warnings);
    summary.problems = problems;
    Ok(summary)
}

/// An archive write error names the output the user gave, not "archive".
fn rename_output(e: WzError, output: &Path) -> WzError {
    match e {
        WzError::Io { op, path, source } if path == Path::new("archive") => WzError::Io {
            op,
            path: output.to_path_buf(),
            source,
        },
        other => other,
    }
}

/// The entry name of a single-file archive: the input's file name.
fn entry_name(input: &Path) -> Result<String> {
    if fs::input::is_stdin(input) {
        return Ok("stdin".into());
    }
    input
        .file_name()
        .and_then(|n| n.to_str())
        .filter(|n| index::check_relative_path(n).is_ok())
        .map(str::to_string)
        .ok_or_else(|| {
            WzError::InvalidInput(format!(
                "{}: the file name is not UTF-8 or not usable in an archive",
                input.display()
            ))
        })
}

/// The whole-file checksum, fed in file order from the chunks' own reads:
/// pieces that arrive ahead of their turn (non-tensor bytes cut into a
/// chunk with later ones) wait here until the bytes before them came.
struct FileHasher {
    h: Xxh3,
    at: u64,
    waiting: BTreeMap<u64, Vec<u8>>,
}

impl FileHasher {
    fn new() -> Self {
        Self {
            h: Xxh3::new(),
            at: 0,
            waiting: BTreeMap::new(),
        }
    }

    fn feed(&mut self, offset: u64, bytes: &[u8]) {
        if offset != self.at {
            self.waiting.insert(offset, bytes.to_vec());
            return;
        }
        self.h.update(bytes);
        self.at += bytes.len() as u64;
        while let Some(piece) = self.waiting.remove(&self.at) {
            self.h.update(&piece);
            self.at += piece.len() as u64;
        }
    }
}

/// Writes a complete archive of `plan` to `out`.
pub fn compress_to_writer<W: Write>(
    plan: Plan<'_>,
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
    let mut entries = Vec::with_capacity(plan.files.len());
    let pool = BufferPool::new(threads * 4);
    let mut store = ChunkStore::new();
    let (mut delta_chunks, mut delta_bytes) = (0u64, 0u64);
    let mut base_use = opts.base.clone().map(base_use::BaseUse::new);
    let mut chain = chain::Chain::default();
    for input in plan.files {
        let file_no = store.begin_file(match &input.source {
            Source::Bytes(b) => Reread::Bytes(b),
            Source::Path(p) => Reread::Path(p.clone()),
            Source::Open(_) => Reread::Gone,
        });
        let again = match &input.source {
            Source::Bytes(b) => Some(chain::Again::Bytes(b)),
            Source::Path(p) => Some(chain::Again::Path(p.clone())),
            Source::Open(_) => None,
        };
        let (source, snapshot): (Box<dyn ReadAt + '_>, Option<(Snapshot, std::fs::File)>) =
            match input.source {
                Source::Bytes(b) => (Box::new(b), None),
                Source::Path(p) => {
                    let opened = fs::open_input(&p, fs::Fifo::WaitForWriter)?;
                    split_open(opened, &input.display)?
                }
                Source::Open(opened) => split_open(opened, &input.display)?,
            };
        let src = source.as_ref();
        let display = input.display.as_path();
        let (mut entry, mut jobs, warning) = plan::plan_entry(&input.path, src, input.attrs, opts)?;
        if let Some(b) = base_use.as_mut() {
            b.attach(&entry, &mut jobs)?;
        }
        let earlier = if opts.chain {
            chain.attach(&entry, &mut jobs)
        } else {
            Vec::new()
        };
        let bases = encode::BaseReaders {
            base: opts.base.as_deref(),
            earlier: chain.readers(&earlier),
        };
        summary.warnings.extend(warning);
        summary.tensors += entry.tensors().count();
        let mut hasher = FileHasher::new();
        let window = Window {
            jobs: threads * 2,
            bytes: (threads as u64 * 2).saturating_mul(opts.chunk_size as u64),
        };
        ordered_map(
            jobs.len(),
            threads,
            window,
            |i| jobs[i].len(),
            |i| {
                encode::encode_job(&jobs[i], src, display, opts, &bases, &pool)
                    .map_err(|e| encode::name_place(e, &input.path, &jobs[i].place))
            },
            |i, enc| {
                let raw = match (&enc.raw, src.bytes()) {
                    (Some(r), _) => r.as_slice(),
                    (None, Some(all)) => all,
                    (None, None) => &[],
                };
                let chunk_bytes = match (&enc.raw, jobs[i].ranges.as_slice()) {
                    (Some(r), _) => Some(r.as_slice()),
                    (None, &[(off, len)]) => raw.get(off as usize..(off + len) as usize),
                    (None, _) => None,
                };
                let shared = match (&enc.hash, chunk_bytes) {
                    (Some(h), Some(b)) => store.find(h, b, file_no, src),
                    _ => None,
                };
                let chunk = match shared {
                    Some(c) => {
                        pool.give(enc.payload);
                        c
                    }
                    None => {
                        let base = match (enc.delta, jobs[i].base.as_ref().map(|b| &b.from)) {
                            (true, Some(BaseFrom::Tensor { table, offset, .. })) => {
                                Some(ChunkBase::Tensor {
                                    tensor: *table,
                                    offset: *offset,
                                })
                            }
                            (true, Some(BaseFrom::Earlier { chunk, .. })) => {
                                Some(ChunkBase::Chunk(Arc::new(chunk.clone())))
                            }
                            _ => None,
                        };
                        if base.is_some() {
                            delta_chunks += 1;
                            delta_bytes += enc.raw_len;
                        }
                        let c = ChunkRef {
                            offset: out.pos,
                            stored_len: enc.payload.len() as u64,
                            raw_len: enc.raw_len,
                            codec: enc.codec,
                            checksum: enc.checksum,
                            base,
                        };
                        out.put(&enc.payload)?;
                        pool.give(enc.payload);
                        if let Some(h) = enc.hash {
                            store.stored(h, &c, file_no, &jobs[i].ranges);
                        }
                        c
                    }
                };
                let mut at = 0usize;
                for &(off, len) in &jobs[i].ranges {
                    let piece = match enc.raw {
                        Some(_) => raw.get(at..at + len as usize),
                        None => raw.get(off as usize..(off + len) as usize),
                    };
                    hasher.feed(off, piece.unwrap_or_default());
                    at += len as usize;
                }
                if let Some(r) = enc.raw {
                    pool.give(r);
                }
                match jobs[i].segment {
                    Some(s) => entry.segments[s].chunks.push(chunk),
                    None => entry.passthrough.push(chunk),
                }
                Ok(())
            },
        )?;
        if hasher.at != entry.size || !hasher.waiting.is_empty() {
            return Err(WzError::InvalidInput(format!(
                "{}: internal error: {} of {} bytes hashed",
                display.display(),
                hasher.at,
                entry.size
            )));
        }
        if let Some((snap, file)) = &snapshot {
            snap.check(file, display)?;
        }
        entry.checksum = hasher.h.digest();
        entry.validate()?;
        drop(bases);
        if let Some(again) = again {
            chain.record(file_no, &entry, again);
        }
        summary.input_bytes += entry.size;
        summary.files += 1;
        entries.push(entry);
    }
    summary.dedup_chunks = store.refs;
    summary.dedup_bytes = store.ref_bytes;
    summary.delta_chunks = delta_chunks;
    summary.delta_bytes = delta_bytes;
    let index = Index {
        root: plan.root,
        entries,
        extras: plan.extras,
        base: base_use.and_then(base_use::BaseUse::into_table),
    };
    let raw = index.to_bytes();
    // The writer never leaves an index its own reader refuses.
    Index::from_bytes(&raw, out.pos)?;
    let stored =
        zstd::bulk::compress(&raw, 9).map_err(|e| WzError::io("cannot compress", "index", e))?;
    let footer = Footer {
        version: index::FORMAT_VERSION,
        index_offset: out.pos,
        index_len: stored.len() as u64,
        index_checksum: xxh3_64(&stored),
    };
    out.put(&stored)?;
    out.put(&footer.to_bytes())?;
    summary.output_bytes = out.pos;
    Ok(summary)
}

/// A file source and, for a regular file, what it looked like when opened
/// (with a second handle to look again at the end).
type Opened = (Box<dyn ReadAt>, Option<(Snapshot, std::fs::File)>);

fn split_open(opened: OpenInput, display: &Path) -> Result<Opened> {
    let check = match opened.snapshot {
        Some(snap) => {
            let again = opened
                .file
                .try_clone()
                .map_err(|e| WzError::io("cannot open", display, e))?;
            Some((snap, again))
        }
        None => None,
    };
    let src =
        FileSource::new(opened.file).map_err(|e| WzError::io("cannot inspect", display, e))?;
    Ok((Box::new(src), check))
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

#[cfg(test)]
mod tests;
