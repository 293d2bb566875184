//! Decoding one chunk into memory the caller owns: a plain chunk through
//! its codec, a delta chunk by first getting its base's bytes (decoding the
//! earlier chunk it names, at most [`MAX_DELTA_DEPTH`] deep, or reading
//! the base checkpoint's tensor) and then applying the delta. Every
//! decoded chunk is checked against its checksum.
//!
//! [`MAX_DELTA_DEPTH`]: crate::index::MAX_DELTA_DEPTH

use std::cell::RefCell;

use weightzip_codec::codec_by_id;
use xxhash_rust::xxh3::xxh3_64;

use super::Archive;
use crate::delta;
use crate::error::{Result, WzError};
use crate::index::{ChunkBase, ChunkRef};
use crate::source::range_in;

thread_local! {
    /// A base buffer per thread, reused from chunk to chunk (a nested delta
    /// takes a fresh one).
    static BASE_BUF: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
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
                let mut buf = BASE_BUF.with(|b| std::mem::take(&mut *b.borrow_mut()));
                // raw_len was bounded by MAX_CHUNK_RAW when the index was
                // parsed; a reused buffer of that size is not zeroed again.
                buf.resize(out.len(), 0);
                let got = self.base_bytes(base, &mut buf, place).and_then(|()| {
                    delta::decode(stored, &buf, out).map_err(|e| {
                        WzError::Corrupt(format!("{place}: delta does not decode: {e}"))
                    })
                });
                BASE_BUF.with(|b| *b.borrow_mut() = buf);
                got?;
            }
        }
        let actual = xxh3_64(out);
        if actual != c.checksum {
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
                let mut stored = Vec::new();
                self.decode_chunk_into(b, out, &mut stored, &format!("{place} (its base)"))
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
