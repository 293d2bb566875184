//! Reading archives: open (footer → index, bounded), decode chunks with a
//! bounded window, verify every checksum, random access to one tensor.
//! Restoring files and folders is in [`extract`]; the order in which an
//! entry's chunks are decoded and emitted is in [`replay`].

use std::io::Write;
use std::path::Path;

use std::sync::Arc;

use xxhash_rust::xxh3::{xxh3_64, Xxh3};

use crate::base::{Base, ResolvedBase};
use crate::error::{Result, WzError};
use crate::fs::{self, Fifo};
use crate::index::{self, ChunkRef, Entry, Footer, Index, FOOTER_LEN, HEADER_LEN};
use crate::pipeline::{ordered_map, BufferPool, Window};
use crate::source::{read_range, FileSource, ReadAt};
use crate::write::{effective_threads, Progress};

mod chunk;
mod extract;
mod replay;

pub use extract::ExtractSummary;

/// How to extract.
#[derive(Clone, Default)]
pub struct ExtractOptions {
    /// Worker threads; 0 means all available cores.
    pub threads: usize,
    /// Replace existing regular files that the archive holds (never a
    /// link, a device, a folder, or anything the archive does not hold).
    pub overwrite: bool,
    /// Progress callback (decoded bytes).
    pub progress: Option<Progress>,
}

/// What `verify` checked.
#[derive(Clone, Debug, Default)]
pub struct VerifySummary {
    /// Files checked.
    pub files: usize,
    /// Chunks decoded.
    pub chunks: usize,
    /// Bytes decoded.
    pub bytes: u64,
}

/// An open `.wz` archive.
pub struct Archive<'a> {
    pub(crate) src: Box<dyn ReadAt + 'a>,
    index: Index,
    version: u32,
    /// Shown in errors.
    pub(crate) name: String,
    /// The archive file's identity: no output may replace it.
    id: Option<fs::FileId>,
    /// The checkpoint its delta chunks were coded against, once given.
    pub(crate) base: Option<ResolvedBase>,
    /// Decoded chunks that later delta chunks are coded against.
    pub(crate) base_cache: chunk::BaseCache,
    /// Chunk buffers recycled from entry to entry.
    pub(crate) pool: BufferPool,
}

/// Most bytes of chunk buffers an archive keeps for reuse between entries
/// (and at most 4 buffers per core).
const POOL_BYTES: usize = 32 << 20;

impl Archive<'static> {
    /// Opens an archive file (`-`: standard input; a pipe or FIFO is read
    /// to its end first, a FIFO without a writer reads as empty) and reads
    /// its index.
    pub fn open(path: &Path) -> Result<Self> {
        let opened = fs::open_input(path, Fifo::NoWait)?;
        let id = opened.id;
        let src =
            FileSource::new(opened.file).map_err(|e| WzError::io("cannot inspect", path, e))?;
        let name = if fs::input::is_stdin(path) {
            "standard input".to_string()
        } else {
            path.display().to_string()
        };
        let mut archive = Archive::from_source(Box::new(src), name)?;
        archive.id = id;
        Ok(archive)
    }
}

impl<'a> Archive<'a> {
    /// Reads an archive held in memory.
    pub fn from_bytes(bytes: &'a [u8]) -> Result<Self> {
        Archive::from_source(Box::new(bytes), "archive".into())
    }

    fn from_source(src: Box<dyn ReadAt + 'a>, name: String) -> Result<Self> {
        let len = src.size();
        let head_len = len.min(HEADER_LEN) as usize;
        let head = read_range(src.as_ref(), 0, head_len)
            .map_err(|e| WzError::io("cannot read", &name, e))?;
        let version = index::check_header(&head)?;
        if len < HEADER_LEN + FOOTER_LEN {
            return Err(WzError::Truncated(format!(
                "file is {len} bytes, too short to hold an index"
            )));
        }
        let mut f = [0u8; FOOTER_LEN as usize];
        src.read_exact_at(&mut f, len - FOOTER_LEN)
            .map_err(|e| WzError::io("cannot read", &name, e))?;
        let footer = Footer::parse(&f, len)?;
        if footer.version != version {
            return Err(WzError::Corrupt(format!(
                "header says format version {version}, footer {}",
                footer.version
            )));
        }
        let budget = index::index_memory_budget(len);
        if footer.index_len > budget {
            return Err(WzError::Corrupt(format!(
                "index of {} bytes is larger than an archive of {len} bytes may hold",
                footer.index_len
            )));
        }
        let stored = read_range(src.as_ref(), footer.index_offset, footer.index_len as usize)
            .map_err(|e| WzError::io("cannot read", &name, e))?;
        let actual = xxh3_64(&stored);
        if actual != footer.index_checksum {
            return Err(WzError::Checksum {
                place: "the archive index".into(),
                expected: footer.index_checksum,
                actual,
            });
        }
        let left = budget - footer.index_len;
        let raw = index::decode_stored_index(&stored, left)?;
        drop(stored);
        let index = Index::from_bytes_version(&raw, footer.index_offset, version, left)?;
        let base_cache = chunk::BaseCache::for_index(&index);
        Ok(Self {
            src,
            index,
            version,
            name,
            id: None,
            base: None,
            base_cache,
            pool: BufferPool::with_bytes(4 * crate::write::effective_threads(0), POOL_BYTES),
        })
    }

    /// Gives the base checkpoint this archive's delta chunks were coded
    /// against: every tensor the archive needs must be in it with the
    /// stored length ([`WzError::WrongBase`] otherwise); each one's BLAKE3
    /// is checked when it is first read. An archive without a base table
    /// takes no base.
    pub fn set_base(&mut self, base: &Arc<Base>) -> Result<()> {
        let table = self.index.base.as_ref().ok_or_else(|| {
            WzError::InvalidInput(format!(
                "{} was not coded against a base; --base is not needed",
                self.name
            ))
        })?;
        self.base = Some(base.resolve(table)?);
        Ok(())
    }

    /// Whether decoding needs a base that was not given yet.
    pub fn needs_base(&self) -> Result<()> {
        match (&self.index.base, &self.base) {
            (Some(table), None) => Err(WzError::NeedsBase {
                label: table.label.clone(),
                tensors: table.tensors.len(),
            }),
            _ => Ok(()),
        }
    }

    /// The archive's index.
    pub fn index(&self) -> &Index {
        &self.index
    }

    /// The archive's size in bytes.
    pub fn size(&self) -> u64 {
        self.src.size()
    }

    /// The archive's format version.
    pub fn version(&self) -> u32 {
        self.version
    }

    /// Entry `i` of the index.
    fn entry(&self, i: usize) -> Result<&Entry> {
        self.index
            .entries
            .get(i)
            .ok_or_else(|| WzError::InvalidInput(format!("no entry {i}")))
    }

    /// Decodes entry `i` to `out`, checking every chunk checksum and the
    /// whole-file checksum. On error, `out` holds a prefix: callers write to
    /// temporary files for that reason.
    pub fn extract_entry_to(
        &self,
        i: usize,
        out: &mut dyn Write,
        opts: &ExtractOptions,
    ) -> Result<()> {
        self.decode_entry(i, out, opts, None)
    }

    /// Decodes entry `i` through `out` with at most `window_cap` bytes of
    /// chunks in flight (when given).
    fn decode_entry(
        &self,
        i: usize,
        out: &mut dyn Write,
        opts: &ExtractOptions,
        window_cap: Option<u64>,
    ) -> Result<()> {
        let entry = self.entry(i)?;
        let mut hasher = Xxh3::new();
        let mut emit = |bytes: &[u8], _written: bool| -> Result<()> {
            hasher.update(bytes);
            out.write_all(bytes)
                .map_err(|e| WzError::io("cannot write", "output", e))
        };
        self.replay(entry, opts, None, window_cap, &mut emit)?;
        check_whole(entry, hasher.digest())
    }

    /// Decodes every entry, checking all checksums, writing nothing, with
    /// at most 32 MiB of chunks in flight (one chunk when a chunk is
    /// larger).
    pub fn verify(&self, opts: &ExtractOptions) -> Result<VerifySummary> {
        let mut summary = VerifySummary::default();
        for (i, e) in self.index.entries.iter().enumerate() {
            self.decode_entry(i, &mut std::io::sink(), opts, Some(32 << 20))?;
            summary.files += 1;
            summary.bytes += e.size;
            summary.chunks += e.chunks().count();
        }
        Ok(summary)
    }

    /// Writes the data of tensor `name` (in the only entry, or the entry at
    /// `path`) to `out`, decoding only that tensor's chunks.
    pub fn read_tensor(
        &self,
        path: Option<&str>,
        name: &str,
        out: &mut dyn Write,
        opts: &ExtractOptions,
    ) -> Result<u64> {
        let mut found = None;
        for e in &self.index.entries {
            if path.is_some_and(|p| p != e.path) {
                continue;
            }
            if let Some((_, seg)) = e.tensors().find(|(n, _)| *n == name) {
                if found.is_some() {
                    return Err(WzError::InvalidInput(format!(
                        "tensor {name:?} exists in several files; name the file with --file"
                    )));
                }
                found = Some((e, seg));
            }
        }
        let (entry, seg) = found.ok_or_else(|| WzError::NoSuchTensor(name.to_string()))?;
        let place = format!("{}: tensor {name:?}", entry.path);
        self.decode_chunks(&seg.chunks, &place, opts, |bytes| {
            out.write_all(bytes)
                .map_err(|e| WzError::io("cannot write", "output", e))
        })?;
        Ok(seg.len)
    }

    /// Decodes `chunks` in parallel and hands their bytes to `sink` in order.
    fn decode_chunks(
        &self,
        chunks: &[ChunkRef],
        place: &str,
        opts: &ExtractOptions,
        mut sink: impl FnMut(&[u8]) -> Result<()>,
    ) -> Result<()> {
        let threads = effective_threads(opts.threads);
        let pool = &self.pool;
        let window = decode_window(chunks.iter(), threads, None);
        ordered_map(
            chunks.len(),
            threads,
            window,
            |i| chunk_cost(&chunks[i]),
            |i| self.decode_chunk(&chunks[i], &format!("{place}, chunk {i}"), pool),
            |i, bytes| {
                sink(&bytes)?;
                self.done_with(&chunks[i], bytes, pool);
                Ok(())
            },
        )
    }

    /// Decodes one chunk into a buffer from `pool` (stored bytes borrowed
    /// from an in-memory archive, else read into another pooled buffer).
    fn decode_chunk(&self, c: &ChunkRef, place: &str, pool: &BufferPool) -> Result<Vec<u8>> {
        // Sized now, so that a recycled buffer is not zeroed again before
        // the payload is read into it (none is needed in memory).
        let mut stored_buf = match self.src.bytes() {
            Some(_) => Vec::new(),
            None => pool.take(c.stored_len as usize),
        };
        // raw_len was bounded by MAX_CHUNK_RAW when the index was parsed.
        // A recycled buffer of the same size is neither zeroed nor faulted in.
        let raw =
            self.decode_chunk_owned(c, || pool.take(c.raw_len as usize), &mut stored_buf, place)?;
        pool.give(stored_buf);
        Ok(raw)
    }

    /// Done with the decoded bytes of `c`: kept for the chunks coded
    /// against them, else back to `pool`.
    pub(crate) fn done_with(&self, c: &ChunkRef, bytes: Vec<u8>, pool: &BufferPool) {
        if let Some(bytes) = self.base_cache.keep(c, bytes) {
            pool.give(bytes);
        }
    }
}

/// What a chunk costs in memory while it is decoded: its stored and its
/// decoded bytes.
pub(crate) fn chunk_cost(c: &ChunkRef) -> u64 {
    c.raw_len + c.stored_len
}

/// The decode window: two jobs per thread, and at most as many bytes as two
/// of the largest chunk per thread (capped at `cap` when given; one chunk
/// always fits).
pub(crate) fn decode_window<'c>(
    chunks: impl Iterator<Item = &'c ChunkRef>,
    threads: usize,
    cap: Option<u64>,
) -> Window {
    let largest = chunks.map(chunk_cost).max().unwrap_or(0);
    let bytes = (2 * threads as u64).saturating_mul(largest);
    Window {
        jobs: threads * 2,
        bytes: cap.map_or(bytes, |c| bytes.min(c)),
    }
}

/// Checks an entry's whole-file checksum.
fn check_whole(entry: &Entry, actual: u64) -> Result<()> {
    if actual != entry.checksum {
        return Err(WzError::Checksum {
            place: format!("file {:?} as a whole", entry.path),
            expected: entry.checksum,
            actual,
        });
    }
    Ok(())
}
