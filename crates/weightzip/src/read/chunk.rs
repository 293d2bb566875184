//! Decoding one chunk into memory the caller owns: a plain chunk through
//! its codec, a delta chunk by first getting its base's bytes (decoding the
//! earlier chunk it names, at most [`MAX_DELTA_DEPTH`] deep, or reading
//! the base checkpoint's tensor) and then applying the delta. Every
//! decoded chunk is checked against its checksum.
//!
//! [`MAX_DELTA_DEPTH`]: crate::index::MAX_DELTA_DEPTH

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use weightzip_codec::codec_by_id;
use xxhash_rust::xxh3::xxh3_64;

use super::Archive;
use crate::delta;
use crate::error::{Result, WzError};
use crate::index::{ChunkBase, ChunkRef};
use crate::source::range_in;

/// Decoded bytes a reader keeps of chunks that later delta chunks are
/// coded against (the previous checkpoint of a chain), so that a chain is
/// decoded once, not once per link; beyond this, bases are decoded again.
pub const BASE_CACHE_BYTES: u64 = 256 << 20;

/// Decoded base chunks, by payload offset, with the uses still to come.
#[derive(Default)]
pub(crate) struct BaseCache {
    /// How many delta chunks name each chunk as their base.
    uses: HashMap<u64, u32>,
    kept: Mutex<Kept>,
}

#[derive(Default)]
struct Kept {
    chunks: HashMap<u64, (Arc<Vec<u8>>, u32)>,
    bytes: u64,
    /// Buffers of chunks no longer needed, reused for the next ones (a
    /// fresh allocation of megabytes costs its page faults each time).
    free: Vec<Vec<u8>>,
}

/// Most buffers [`Kept::free`] holds.
const FREE_BUFFERS: usize = 4;

impl BaseCache {
    /// Counts the bases of an index's delta chunks.
    pub(crate) fn for_index(index: &crate::index::Index) -> Self {
        let mut uses: HashMap<u64, u32> = HashMap::new();
        for e in &index.entries {
            for c in e.chunks() {
                if let Some(ChunkBase::Chunk(b)) = &c.base {
                    *uses.entry(b.offset).or_default() += 1;
                }
            }
        }
        BaseCache {
            uses,
            kept: Mutex::new(Kept::default()),
        }
    }

    /// Keeps a copy of the decoded bytes of `c` if later chunks are coded
    /// against it and the budget allows.
    fn remember(&self, c: &ChunkRef, bytes: &[u8]) {
        self.store(c, bytes.len(), |kept| {
            let mut buf = kept.free.pop().unwrap_or_default();
            buf.clear();
            buf.extend_from_slice(bytes);
            buf
        });
    }

    /// Keeps `bytes`, the decoded bytes of `c`, without a copy if later
    /// chunks are coded against it and the budget allows; else gives them
    /// back.
    pub(crate) fn keep(&self, c: &ChunkRef, bytes: Vec<u8>) -> Option<Vec<u8>> {
        let mut bytes = Some(bytes);
        let len = bytes.as_ref().map_or(0, Vec::len);
        self.store(c, len, |_| bytes.take().unwrap_or_default());
        bytes
    }

    /// Stores the `len` bytes of `c` that `buffer` gives, if later chunks
    /// are coded against it, it is not kept yet and the budget allows.
    fn store(&self, c: &ChunkRef, len: usize, buffer: impl FnOnce(&mut Kept) -> Vec<u8>) {
        let Some(&n) = self.uses.get(&c.offset) else {
            return;
        };
        let Ok(mut kept) = self.kept.lock() else {
            return;
        };
        if kept.chunks.contains_key(&c.offset) || kept.bytes + len as u64 > BASE_CACHE_BYTES {
            return;
        }
        kept.bytes += len as u64;
        let buf = buffer(&mut kept);
        kept.chunks.insert(c.offset, (Arc::new(buf), n));
    }

    /// The kept bytes of the chunk at `offset`, taken out of the cache, if
    /// they are `len` long and this is their last use: a chain's next link
    /// is decoded over them in place.
    fn take_last(&self, offset: u64, len: usize) -> Option<Vec<u8>> {
        let mut kept = self.kept.lock().ok()?;
        match kept.chunks.get(&offset) {
            Some((b, 1)) if b.len() == len && Arc::strong_count(b) == 1 => {}
            _ => return None,
        }
        let (b, _) = kept.chunks.remove(&offset)?;
        kept.bytes -= b.len() as u64;
        Arc::try_unwrap(b).ok()
    }

    /// The kept bytes of the chunk at `offset` if they are `len` long,
    /// counting one use (the last use lets them go); give them back with
    /// [`BaseCache::release`].
    fn take(&self, offset: u64, len: usize) -> Option<Arc<Vec<u8>>> {
        let mut kept = self.kept.lock().ok()?;
        let bytes = kept.chunks.get(&offset)?;
        if bytes.0.len() != len {
            return None;
        }
        let bytes = Arc::clone(&bytes.0);
        Self::count_use(&mut kept, offset);
        Some(bytes)
    }

    /// Returns bytes from [`BaseCache::take`]: their buffer is reused once
    /// no chunk needs them.
    fn release(&self, bytes: Arc<Vec<u8>>) {
        if let Ok(buf) = Arc::try_unwrap(bytes) {
            if let Ok(mut kept) = self.kept.lock() {
                if kept.free.len() < FREE_BUFFERS {
                    kept.free.push(buf);
                }
            }
        }
    }

    /// Copies the kept bytes of the chunk at `offset` into `out`, counting
    /// one use; `false` if they are not kept.
    fn recall(&self, offset: u64, out: &mut [u8]) -> bool {
        let Some(bytes) = self.take(offset, out.len()) else {
            return false;
        };
        // The copy outside the lock: other threads go on meanwhile.
        out.copy_from_slice(&bytes);
        self.release(bytes);
        true
    }

    /// Counts one use of the kept chunk at `offset` without reading it.
    fn used(&self, offset: u64) {
        if let Ok(mut kept) = self.kept.lock() {
            Self::count_use(&mut kept, offset);
        }
    }

    fn count_use(kept: &mut Kept, offset: u64) {
        let Some((_, left)) = kept.chunks.get_mut(&offset) else {
            return;
        };
        *left = left.saturating_sub(1);
        if *left == 0 {
            if let Some((b, _)) = kept.chunks.remove(&offset) {
                kept.bytes -= b.len() as u64;
                if let Ok(buf) = Arc::try_unwrap(b) {
                    if kept.free.len() < FREE_BUFFERS {
                        kept.free.push(buf);
                    }
                }
            }
        }
    }
}

impl Archive<'_> {
    /// Decodes `c` into `out` (exactly its decoded length), reading its
    /// payload through `stored_buf`.
    pub(crate) fn decode_chunk_into(
        &self,
        c: &ChunkRef,
        out: &mut [u8],
        stored_buf: &mut Vec<u8>,
        place: &str,
    ) -> Result<()> {
        self.decode_chunk_bytes(c, out, stored_buf, place, false)?;
        self.base_cache.remember(c, out);
        Ok(())
    }

    /// Decodes `c` into a buffer of its decoded length: for a chain's
    /// delta chunk, its base's kept buffer when this is the base's last use
    /// (decoded over in place, no copy), else `fresh`'s. The caller hands
    /// the result to [`BaseCache::keep`] once done with it.
    pub(crate) fn decode_chunk_owned(
        &self,
        c: &ChunkRef,
        fresh: impl FnOnce() -> Vec<u8>,
        stored_buf: &mut Vec<u8>,
        place: &str,
    ) -> Result<Vec<u8>> {
        let len = c.raw_len as usize;
        let last = match &c.base {
            Some(ChunkBase::Chunk(b)) => self.base_cache.take_last(b.offset, len),
            _ => None,
        };
        let in_place = last.is_some();
        let mut out = last.unwrap_or_else(fresh);
        self.decode_chunk_bytes(c, &mut out, stored_buf, place, in_place)?;
        Ok(out)
    }

    /// [`Archive::decode_chunk_into`] without keeping the bytes; with
    /// `base_in_out`, `out` holds the delta chunk's base bytes on entry.
    fn decode_chunk_bytes(
        &self,
        c: &ChunkRef,
        out: &mut [u8],
        stored_buf: &mut Vec<u8>,
        place: &str,
        base_in_out: bool,
    ) -> Result<()> {
        if out.len() as u64 != c.raw_len {
            return Err(WzError::Corrupt(format!(
                "{place}: chunk of {} bytes decoded into {}",
                c.raw_len,
                out.len()
            )));
        }
        // stored_len lies inside the archive (checked when the index was
        // parsed), so the read buffer is bounded by the archive's size.
        let stored = range_in(
            self.src.as_ref(),
            c.offset,
            c.stored_len as usize,
            stored_buf,
        )
        .map_err(|e| WzError::io("cannot read", &self.name, e))?;
        match &c.base {
            None => {
                let codec = codec_by_id(c.codec).map_err(|source| WzError::Codec {
                    place: place.to_string(),
                    source,
                })?;
                codec.decode(stored, out).map_err(|source| WzError::Codec {
                    place: place.to_string(),
                    source,
                })?;
            }
            Some(base) => {
                let bad = |e| WzError::Corrupt(format!("{place}: delta does not decode: {e}"));
                let kept = match base {
                    ChunkBase::Chunk(b) if !base_in_out => {
                        self.base_cache.take(b.offset, out.len())
                    }
                    _ => None,
                };
                if base_in_out {
                    delta::decode_in_place(stored, out).map_err(bad)?;
                } else if let Some(bytes) = kept {
                    // A chain's base chunk, decoded before: read where it is.
                    let got = delta::decode(stored, &bytes, out).map_err(bad);
                    self.base_cache.release(bytes);
                    got?;
                } else {
                    // The base's bytes go straight into `out`, and the delta
                    // turns them into the chunk's in place.
                    self.base_bytes(base, out, place)?;
                    delta::decode_in_place(stored, out).map_err(bad)?;
                }
            }
        }
        let actual = xxh3_64(out);
        if actual != c.checksum {
            // A delta against the wrong base fails here: say so, naming the
            // base tensor, when its digest is not the archive's.
            if let (Some(ChunkBase::Tensor { tensor, .. }), Some(resolved)) = (&c.base, &self.base)
            {
                resolved.check(*tensor)?;
            }
            return Err(WzError::Checksum {
                place: place.to_string(),
                expected: c.checksum,
                actual,
            });
        }
        Ok(())
    }

    /// The bytes a delta chunk is coded against.
    fn base_bytes(&self, base: &ChunkBase, out: &mut [u8], place: &str) -> Result<()> {
        match base {
            ChunkBase::Chunk(b) => {
                if self.base_cache.recall(b.offset, out) {
                    return Ok(());
                }
                let mut stored = Vec::new();
                self.decode_chunk_into(b, out, &mut stored, &format!("{place} (its base)"))?;
                // This use is done: the copy just kept counts it.
                self.base_cache.used(b.offset);
                Ok(())
            }
            ChunkBase::Tensor { tensor, offset } => match (&self.base, &self.index.base) {
                (Some(resolved), _) => resolved.read(*tensor, *offset, out),
                (None, Some(table)) => Err(WzError::NeedsBase {
                    label: table.label.clone(),
                    tensors: table.tensors.len(),
                }),
                (None, None) => Err(WzError::Corrupt(format!(
                    "{place}: a delta against a base the archive does not name"
                ))),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunk(offset: u64, len: u64) -> ChunkRef {
        ChunkRef {
            offset,
            stored_len: 1,
            raw_len: len,
            codec: 0,
            checksum: 0,
            base: None,
        }
    }

    fn cache(uses: &[(u64, u32)]) -> BaseCache {
        BaseCache {
            uses: uses.iter().copied().collect(),
            kept: Mutex::default(),
        }
    }

    #[test]
    fn a_base_used_once_is_handed_over_without_a_copy() {
        let c = cache(&[(10, 1)]);
        let bytes = vec![7u8; 64];
        let at = bytes.as_ptr();
        assert!(c.keep(&chunk(10, 64), bytes).is_none());
        // Another length is not this chunk's.
        assert!(c.take_last(10, 63).is_none());
        let back = c.take_last(10, 64).expect("kept");
        assert_eq!(back.as_ptr(), at);
        assert_eq!(back, vec![7u8; 64]);
        // Taken: gone from the cache, its budget freed.
        assert!(c.take_last(10, 64).is_none());
        assert_eq!(c.kept.lock().unwrap().bytes, 0);
    }

    #[test]
    fn a_base_used_twice_is_shared_until_its_last_use() {
        let c = cache(&[(10, 2)]);
        assert!(c.keep(&chunk(10, 8), vec![1u8; 8]).is_none());
        assert!(c.take_last(10, 8).is_none());
        let mut out = [0u8; 8];
        assert!(c.recall(10, &mut out));
        assert_eq!(out, [1u8; 8]);
        // The last use takes it.
        assert_eq!(c.take_last(10, 8), Some(vec![1u8; 8]));
        assert!(!c.recall(10, &mut out));
    }

    #[test]
    fn bytes_nobody_needs_or_over_budget_are_given_back() {
        let c = cache(&[(10, 1), (20, 1)]);
        assert!(c.keep(&chunk(30, 8), vec![0u8; 8]).is_some());
        assert!(c.keep(&chunk(10, 8), vec![0u8; 8]).is_none());
        // Kept once only.
        assert!(c.keep(&chunk(10, 8), vec![0u8; 8]).is_some());
        c.kept.lock().unwrap().bytes = BASE_CACHE_BYTES;
        assert!(c.keep(&chunk(20, 8), vec![0u8; 8]).is_some());
    }
}
