//! Reading archives: open (footer → index), extract files or folders,
//! verify every checksum, and random access to one tensor.

use std::collections::VecDeque;
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

use weightzip_codec::codec_by_id;
use xxhash_rust::xxh3::{xxh3_64, Xxh3};

use crate::error::{Result, WzError};
use crate::index::{
    self, ChunkRef, Entry, Footer, Index, RootKind, SegmentKind, FOOTER_LEN, HEADER_LEN,
};
use crate::pipeline::{ordered_map, BufferPool};
use crate::source::{range_in, read_range, FileSource, ReadAt};
use crate::write::{effective_threads, temp_path_for, write_atomically, Progress};

/// How to extract.
#[derive(Clone, Default)]
pub struct ExtractOptions {
    /// Worker threads; 0 means all available cores.
    pub threads: usize,
    /// Replace existing outputs.
    pub overwrite: bool,
    /// Progress callback (decoded bytes).
    pub progress: Option<Progress>,
}

/// What `verify` checked.
#[derive(Clone, Debug, Default)]
pub struct VerifySummary {
    pub files: usize,
    pub chunks: usize,
    pub bytes: u64,
}

/// An open `.wz` archive.
pub struct Archive<'a> {
    src: Box<dyn ReadAt + 'a>,
    index: Index,
    /// Shown in errors.
    name: String,
}

impl Archive<'static> {
    /// Opens an archive file and reads its index.
    pub fn open(path: &Path) -> Result<Self> {
        let file = File::open(path).map_err(|e| WzError::io("cannot open", path, e))?;
        let src = FileSource::new(file).map_err(|e| WzError::io("cannot stat", path, e))?;
        Archive::from_source(Box::new(src), path.display().to_string())
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
        index::check_header(&head)?;
        if len < HEADER_LEN + FOOTER_LEN {
            return Err(WzError::Truncated(format!(
                "file is {len} bytes, too short to hold an index"
            )));
        }
        let mut f = [0u8; FOOTER_LEN as usize];
        src.read_exact_at(&mut f, len - FOOTER_LEN)
            .map_err(|e| WzError::io("cannot read", &name, e))?;
        let footer = Footer::parse(&f, len)?;
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
        let mut dec =
            zstd::bulk::Decompressor::new().map_err(|e| WzError::io("cannot read", &name, e))?;
        let raw = dec
            .decompress(&stored, index::MAX_INDEX_RAW as usize)
            .map_err(|e| WzError::Corrupt(format!("index does not decompress: {e}")))?;
        let index = Index::from_bytes(&raw, footer.index_offset)?;
        Ok(Self { src, index, name })
    }

    /// The archive's index.
    pub fn index(&self) -> &Index {
        &self.index
    }

    /// Restores the archive at `output`: a file for a single-file archive, a
    /// folder otherwise. Written under a temporary name and renamed when
    /// every checksum has matched.
    pub fn extract(&self, output: &Path, opts: &ExtractOptions) -> Result<()> {
        match self.index.root {
            RootKind::File => write_atomically(output, opts.overwrite, |w| {
                self.extract_entry_to_file(0, w.get_ref(), opts)
            }),
            RootKind::Dir => self.extract_dir(output, opts),
        }
    }

    fn extract_dir(&self, output: &Path, opts: &ExtractOptions) -> Result<()> {
        if !opts.overwrite && output.symlink_metadata().is_ok() {
            return Err(WzError::OutputExists(output.to_path_buf()));
        }
        let tmp = temp_path_for(output);
        let result = (|| {
            std::fs::create_dir_all(&tmp).map_err(|e| WzError::io("cannot create", &tmp, e))?;
            for (i, e) in self.index.entries.iter().enumerate() {
                let target: PathBuf = e.path.split('/').fold(tmp.clone(), |p, c| p.join(c));
                if let Some(parent) = target.parent() {
                    std::fs::create_dir_all(parent)
                        .map_err(|err| WzError::io("cannot create", parent, err))?;
                }
                let file = File::create(&target)
                    .map_err(|err| WzError::io("cannot create", &target, err))?;
                self.extract_entry_to_file(i, &file, opts)?;
            }
            Ok(())
        })();
        if let Err(e) = result {
            let _ = std::fs::remove_dir_all(&tmp);
            return Err(e);
        }
        if opts.overwrite && output.symlink_metadata().is_ok() {
            let removed = if output.is_dir() {
                std::fs::remove_dir_all(output)
            } else {
                std::fs::remove_file(output)
            };
            removed.map_err(|e| WzError::io("cannot replace", output, e))?;
        }
        std::fs::rename(&tmp, output).map_err(|e| {
            let _ = std::fs::remove_dir_all(&tmp);
            WzError::io("cannot rename temporary folder to", output, e)
        })
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
        let entry = self.entry(i)?;
        let mut hasher = Xxh3::new();
        let mut emit = |bytes: &[u8], _written: bool| -> Result<()> {
            hasher.update(bytes);
            out.write_all(bytes)
                .map_err(|e| WzError::io("cannot write", "output", e))
        };
        self.replay(entry, opts, None, &mut emit)?;
        check_whole(entry, hasher.digest())
    }

    /// [`Self::extract_entry_to`] into a file by positional writes: the
    /// workers write each tensor chunk at its place as soon as it is
    /// decoded (the page-cache copies run on every thread), and the ordered
    /// pass only hashes the file and writes the non-tensor bytes. On error
    /// the file holds part of the output: callers use temporary files.
    fn extract_entry_to_file(&self, i: usize, file: &File, opts: &ExtractOptions) -> Result<()> {
        let entry = self.entry(i)?;
        let mut hasher = Xxh3::new();
        let mut at = 0u64;
        let mut emit = |bytes: &[u8], written: bool| -> Result<()> {
            hasher.update(bytes);
            if !written {
                write_all_at(file, bytes, at)?;
            }
            at += bytes.len() as u64;
            Ok(())
        };
        self.replay(entry, opts, Some(file), &mut emit)?;
        check_whole(entry, hasher.digest())
    }

    /// Decodes every entry, checking all checksums, writing nothing.
    pub fn verify(&self, opts: &ExtractOptions) -> Result<VerifySummary> {
        let mut summary = VerifySummary::default();
        for (i, e) in self.index.entries.iter().enumerate() {
            self.extract_entry_to(i, &mut std::io::sink(), opts)?;
            summary.files += 1;
            summary.bytes += e.size;
            summary.chunks +=
                e.passthrough.len() + e.segments.iter().map(|s| s.chunks.len()).sum::<usize>();
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
        let pool = BufferPool::new(threads * 4);
        ordered_map(
            chunks.len(),
            threads,
            threads * 2,
            |i| self.decode_chunk(&chunks[i], &format!("{place}, chunk {i}"), &pool),
            |_, bytes| {
                sink(&bytes)?;
                pool.give(bytes);
                Ok(())
            },
        )
    }

    /// Decodes one chunk into a buffer from `pool` (stored bytes borrowed
    /// from an in-memory archive, else read into another pooled buffer).
    fn decode_chunk(&self, c: &ChunkRef, place: &str, pool: &BufferPool) -> Result<Vec<u8>> {
        let mut stored_buf = pool.take(0);
        let stored = range_in(
            self.src.as_ref(),
            c.offset,
            c.stored_len as usize,
            &mut stored_buf,
        )
        .map_err(|e| WzError::io("cannot read", &self.name, e))?;
        let codec = codec_by_id(c.codec).map_err(|source| WzError::Codec {
            place: place.to_string(),
            source,
        })?;
        // raw_len was bounded by MAX_CHUNK_RAW when the index was parsed.
        // A recycled buffer of the same size is neither zeroed nor faulted in.
        let mut raw = pool.take(c.raw_len as usize);
        codec
            .decode(stored, &mut raw)
            .map_err(|source| WzError::Codec {
                place: place.to_string(),
                source,
            })?;
        pool.give(stored_buf);
        self.src.release(c.offset, c.stored_len);
        let actual = xxh3_64(&raw);
        if actual != c.checksum {
            return Err(WzError::Checksum {
                place: place.to_string(),
                expected: c.checksum,
                actual,
            });
        }
        Ok(raw)
    }

    /// Replays an entry's segments in order through `emit`: tensor chunks and
    /// passthrough chunks are decoded in parallel, in the order the file
    /// needs them, with a bounded number in flight.
    fn replay(
        &self,
        entry: &Entry,
        opts: &ExtractOptions,
        file: Option<&File>,
        emit: &mut dyn FnMut(&[u8], bool) -> Result<()>,
    ) -> Result<()> {
        // Schedule: before each passthrough segment, enough passthrough
        // chunks to cover it; each tensor segment's chunks in order.
        struct Job<'c> {
            chunk: &'c ChunkRef,
            to_output: bool,
            /// Where a tensor chunk's bytes go in the output file.
            at: u64,
            place: String,
        }
        let mut jobs: Vec<Job<'_>> = Vec::new();
        let mut pass_needed = 0u64;
        let mut pass_scheduled = 0u64;
        let mut pass_iter = entry.passthrough.iter().enumerate();
        let mut file_pos = 0u64;
        for seg in &entry.segments {
            match &seg.kind {
                SegmentKind::Passthrough => {
                    file_pos = file_pos.saturating_add(seg.len);
                    pass_needed += seg.len;
                    while pass_scheduled < pass_needed {
                        let (k, c) = pass_iter.next().ok_or_else(|| {
                            WzError::Corrupt(format!("{}: passthrough chunks run out", entry.path))
                        })?;
                        pass_scheduled += c.raw_len;
                        jobs.push(Job {
                            chunk: c,
                            to_output: false,
                            at: 0,
                            place: format!("{}: non-tensor bytes, chunk {k}", entry.path),
                        });
                    }
                }
                SegmentKind::Tensor { name, .. } => {
                    for (k, c) in seg.chunks.iter().enumerate() {
                        jobs.push(Job {
                            chunk: c,
                            to_output: true,
                            at: file_pos,
                            place: format!("{}: tensor {name:?}, chunk {k}", entry.path),
                        });
                        file_pos = file_pos.saturating_add(c.raw_len);
                    }
                }
            }
        }
        let mut pending: VecDeque<u8> = VecDeque::new();
        let mut seg_i = 0usize;
        let mut seg_done = 0u64;
        let segments = &entry.segments;
        // Emits every passthrough segment at the write position that the
        // pending passthrough bytes can already cover.
        let flush_pass = |pending: &mut VecDeque<u8>,
                          seg_i: &mut usize,
                          emit: &mut dyn FnMut(&[u8], bool) -> Result<()>|
         -> Result<()> {
            while let Some(seg) = segments.get(*seg_i) {
                if seg.kind != SegmentKind::Passthrough || (pending.len() as u64) < seg.len {
                    break;
                }
                let bytes: Vec<u8> = pending.drain(..seg.len as usize).collect();
                emit(&bytes, false)?;
                *seg_i += 1;
            }
            Ok(())
        };
        let threads = effective_threads(opts.threads);
        let pool = BufferPool::new(threads * 4);
        ordered_map(
            jobs.len(),
            threads,
            threads * 2,
            |i| {
                let job = &jobs[i];
                let bytes = self.decode_chunk(job.chunk, &job.place, &pool)?;
                if let (Some(file), true) = (file, job.to_output) {
                    // Inside the file's size: the parsed index guarantees
                    // it (Entry::validate); checked again before a write
                    // whose place comes from arithmetic on that index.
                    if job.at.saturating_add(bytes.len() as u64) > entry.size {
                        return Err(WzError::Corrupt(format!(
                            "{}: chunk past the file's {} bytes",
                            job.place, entry.size
                        )));
                    }
                    write_all_at(file, &bytes, job.at)?;
                }
                Ok(bytes)
            },
            |i, bytes| {
                if let Some(p) = &opts.progress {
                    p(bytes.len() as u64);
                }
                if jobs[i].to_output {
                    flush_pass(&mut pending, &mut seg_i, emit)?;
                    if !segments
                        .get(seg_i)
                        .is_some_and(|s| matches!(s.kind, SegmentKind::Tensor { .. }))
                    {
                        return Err(WzError::Corrupt(format!(
                            "{}: tensor data reached the writer ahead of segment {seg_i}",
                            entry.path
                        )));
                    }
                    emit(&bytes, file.is_some())?;
                    seg_done += bytes.len() as u64;
                    if segments.get(seg_i).is_some_and(|s| seg_done == s.len) {
                        seg_i += 1;
                        seg_done = 0;
                    }
                } else {
                    pending.extend(bytes.iter());
                }
                pool.give(bytes);
                flush_pass(&mut pending, &mut seg_i, emit)
            },
        )?;
        flush_pass(&mut pending, &mut seg_i, emit)?;
        if seg_i != segments.len() || !pending.is_empty() {
            return Err(WzError::Corrupt(format!(
                "{}: replay stopped at segment {seg_i} of {} with {} passthrough bytes unused",
                entry.path,
                segments.len(),
                pending.len()
            )));
        }
        Ok(())
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

/// Writes all of `bytes` at offset `at` of `file`, leaving the file
/// position alone (so threads may write different places at once).
fn write_all_at(file: &File, bytes: &[u8], at: u64) -> Result<()> {
    #[cfg(unix)]
    let written = std::os::unix::fs::FileExt::write_all_at(file, bytes, at);
    #[cfg(windows)]
    let written = {
        let mut done = 0usize;
        loop {
            if done == bytes.len() {
                break Ok(());
            }
            match std::os::windows::fs::FileExt::seek_write(file, &bytes[done..], at + done as u64)
            {
                Ok(0) => break Err(std::io::ErrorKind::WriteZero.into()),
                Ok(n) => done += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => break Err(e),
            }
        }
    };
    #[cfg(not(any(unix, windows)))]
    let written: std::io::Result<()> = {
        let _ = (file, bytes, at);
        Err(std::io::ErrorKind::Unsupported.into())
    };
    written.map_err(|e| WzError::io("cannot write", "output", e))
}
