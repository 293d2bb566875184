//! Content deduplication while writing: every chunk's bytes are hashed
//! (BLAKE3) and a chunk whose bytes were already stored — an identical
//! file, tensor or chunk anywhere in the archive — becomes a reference to
//! the stored one (format version 3). A hash match alone never makes a
//! reference: the earlier chunk's bytes are read again from its file and
//! compared byte for byte (and against the stored chunk's xxh3) first.

use std::collections::HashMap;
use std::path::PathBuf;

use xxhash_rust::xxh3::xxh3_64;

use crate::index::{ChunkRef, MAX_CHUNK_USES};
use crate::source::{FileSource, ReadAt};

/// A BLAKE3 digest of a chunk's decoded bytes.
pub type ContentHash = [u8; 32];

/// The BLAKE3 digest of `bytes`.
pub fn content_hash(bytes: &[u8]) -> ContentHash {
    *blake3::hash(bytes).as_bytes()
}

/// How the bytes of an earlier file can be read again to verify a match.
pub enum Reread<'a> {
    /// In memory for the whole run.
    Bytes(&'a [u8]),
    /// A file on disk, opened again.
    Path(PathBuf),
    /// A stream or an already opened file: only while it is the current
    /// file.
    Gone,
}

/// A stored chunk and where its bytes are.
struct Original {
    chunk: ChunkRef,
    file: usize,
    ranges: Vec<(u64, u64)>,
    uses: u16,
}

/// The stored chunks of the archive so far, by content.
pub struct ChunkStore<'a> {
    by_hash: HashMap<ContentHash, Original>,
    files: Vec<Reread<'a>>,
    /// The last earlier file opened again (matches come in runs).
    open: Option<(usize, FileSource)>,
    /// Chunks written as references, and their decoded bytes.
    pub refs: u64,
    /// Decoded bytes the references stand for.
    pub ref_bytes: u64,
}

impl<'a> Default for ChunkStore<'a> {
    fn default() -> Self {
        Self::new()
    }
}

impl<'a> ChunkStore<'a> {
    /// An empty store.
    pub fn new() -> Self {
        Self {
            by_hash: HashMap::new(),
            files: Vec::new(),
            open: None,
            refs: 0,
            ref_bytes: 0,
        }
    }

    /// Starts the next file (numbered from 0 in call order); `reread`
    /// says how its bytes can be read once it is no longer current.
    pub fn begin_file(&mut self, reread: Reread<'a>) -> usize {
        self.files.push(reread);
        self.files.len() - 1
    }

    /// The stored chunk with exactly the bytes `raw` (hash `hash`), if
    /// there is one that may take another reference, verified byte for
    /// byte; `current` reads the file being written (number `file`).
    pub fn find(
        &mut self,
        hash: &ContentHash,
        raw: &[u8],
        file: usize,
        current: &dyn ReadAt,
    ) -> Option<ChunkRef> {
        let orig = self.by_hash.get(hash)?;
        if orig.chunk.raw_len != raw.len() as u64 || orig.uses >= MAX_CHUNK_USES {
            return None;
        }
        let (orig_file, ranges) = (orig.file, orig.ranges.clone());
        let same = if orig_file == file {
            ranges_equal(current, &ranges, raw)
        } else {
            match self.reopen(orig_file) {
                Some(src) => ranges_equal(src, &ranges, raw),
                None => false,
            }
        };
        // The bytes read again must also be the bytes the stored chunk
        // was coded from (a file changed since would not be).
        let orig = self.by_hash.get_mut(hash)?;
        if !same || xxh3_64(raw) != orig.chunk.checksum {
            return None;
        }
        orig.uses += 1;
        self.refs += 1;
        self.ref_bytes += raw.len() as u64;
        Some(orig.chunk.clone())
    }

    /// Records a chunk just stored, coded from `ranges` of file `file`.
    pub fn stored(
        &mut self,
        hash: ContentHash,
        chunk: &ChunkRef,
        file: usize,
        ranges: &[(u64, u64)],
    ) {
        // A later copy (after the first reached its use limit, or failed
        // to verify) takes over: references go to the newest.
        self.by_hash.insert(
            hash,
            Original {
                chunk: chunk.clone(),
                file,
                ranges: ranges.to_vec(),
                uses: 1,
            },
        );
    }

    fn reopen(&mut self, file: usize) -> Option<&dyn ReadAt> {
        match self.files.get(file)? {
            Reread::Bytes(b) => Some(b as &dyn ReadAt),
            Reread::Gone => None,
            Reread::Path(p) => {
                if self.open.as_ref().is_none_or(|(f, _)| *f != file) {
                    let opened = std::fs::File::open(p).and_then(FileSource::new).ok()?;
                    self.open = Some((file, opened));
                }
                self.open.as_ref().map(|(_, s)| s as &dyn ReadAt)
            }
        }
    }
}

/// Whether `ranges` of `src`, read in order, are exactly `expected`.
fn ranges_equal(src: &dyn ReadAt, ranges: &[(u64, u64)], expected: &[u8]) -> bool {
    let mut at = 0usize;
    let mut buf = Vec::new();
    for &(off, len) in ranges {
        let Ok(len) = usize::try_from(len) else {
            return false;
        };
        let Some(want) = expected.get(at..at + len) else {
            return false;
        };
        let same = match src.bytes() {
            Some(all) => usize::try_from(off)
                .ok()
                .and_then(|o| all.get(o..o.checked_add(len)?))
                .is_some_and(|got| got == want),
            None => {
                buf.resize(len, 0);
                src.read_exact_at(&mut buf, off).is_ok() && buf == want
            }
        };
        if !same {
            return false;
        }
        at += len;
    }
    at == expected.len()
}

#[cfg(test)]
mod tests;
