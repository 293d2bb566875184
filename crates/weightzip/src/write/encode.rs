//! Coding one chunk job: read its bytes and hand them to the codec crate's
//! `select`, which codes them, checks that they decode back, and falls back
//! to zstd or plain storage where that is smaller or the codec failed.

use weightzip_codec::select::select_inspected;
use xxhash_rust::xxh3::xxh3_64;

use std::collections::HashMap;

use super::plan::{BaseFrom, Job, JobBase};
use super::CompressOptions;
use crate::base::Base;
use crate::dedup::{content_hash, ContentHash};
use crate::delta::{self, DeltaKind};
use crate::error::{Result, WzError};
use crate::index;
use crate::pipeline::BufferPool;
use crate::source::ReadAt;

/// A coded chunk, and the bytes it was coded from (for the whole-file
/// checksum, taken from the same read).
pub(super) struct Encoded {
    pub codec: u8,
    pub payload: Vec<u8>,
    pub raw_len: u64,
    pub checksum: u64,
    /// BLAKE3 of the input bytes, when deduplicating.
    pub hash: Option<ContentHash>,
    /// The chunk's input bytes; `None` when the source is in memory (the
    /// writer then hashes them from there).
    pub raw: Option<Vec<u8>>,
    /// The payload is a delta against the job's base bytes.
    pub delta: bool,
}

/// Puts the file and chunk into a codec error raised by a worker.
pub(super) fn name_place(e: WzError, path: &str, place: &str) -> WzError {
    match e {
        WzError::Codec { source, .. } => WzError::Codec {
            place: format!("{path}: {place}"),
            source,
        },
        other => other,
    }
}

pub(super) fn encode_job(
    job: &Job,
    src: &dyn ReadAt,
    display: &std::path::Path,
    opts: &CompressOptions,
    bases: &BaseReaders<'_>,
    pool: &BufferPool,
) -> Result<Encoded> {
    let total = job.len();
    let read_err = |e| WzError::io("cannot read", display, e);
    // In-memory bytes are borrowed; else the ranges are read into a
    // recycled buffer.
    let mut owned = None;
    let raw: &[u8] = match (src.bytes(), job.ranges.as_slice()) {
        (Some(all), &[(off, len)]) => usize::try_from(off)
            .ok()
            .and_then(|s| all.get(s..s.checked_add(usize::try_from(len).ok()?)?))
            .ok_or_else(|| read_err(std::io::ErrorKind::UnexpectedEof.into()))?,
        _ => {
            let len = usize::try_from(total)
                .map_err(|_| WzError::InvalidInput("chunk too large for memory".into()))?;
            let buf = owned.insert(pool.take(len));
            let mut at = 0;
            for &(off, len) in &job.ranges {
                let len = len as usize;
                src.read_exact_at(&mut buf[at..at + len], off)
                    .map_err(read_err)?;
                at += len;
            }
            buf
        }
    };
    let checksum = xxh3_64(raw);
    let hash = opts.dedup.then(|| content_hash(raw));
    let mut payload = pool.take_empty(raw.len());
    #[cfg(test)]
    let inspect = |codec, payload: &mut [u8]| super::tests::damage_hook(codec, raw.len(), payload);
    #[cfg(not(test))]
    let inspect = |_, _: &mut [u8]| {};
    let codec = select_inspected(raw, &job.plan, &mut payload, inspect).map_err(|source| {
        WzError::Codec {
            place: String::new(),
            source,
        }
    })?;
    let mut codec = codec as u8;
    let mut delta = false;
    if let Some(b) = &job.base {
        if let Some(d) = encode_delta(raw, b, bases, payload.len(), opts.verify, pool)? {
            pool.give(std::mem::replace(&mut payload, d));
            codec = index::DELTA_CODEC;
            delta = true;
        }
    }
    if let Some(p) = &opts.progress {
        p(total);
    }
    Ok(Encoded {
        codec,
        payload,
        raw_len: total,
        checksum,
        hash,
        raw: owned,
        delta,
    })
}

/// What the base bytes of chunk jobs are read from: the base checkpoint,
/// and the earlier files of the archive that the current one is coded
/// against, by file number.
pub(super) struct BaseReaders<'r> {
    pub base: Option<&'r Base>,
    pub earlier: HashMap<usize, Box<dyn ReadAt + 'r>>,
}

/// Reads a job's base bytes into `out`; `false` when an earlier file no
/// longer holds what was stored for it (the chunk is then coded alone).
fn read_base(b: &JobBase, bases: &BaseReaders<'_>, out: &mut [u8]) -> Result<bool> {
    match &b.from {
        BaseFrom::Tensor { tensor, offset, .. } => {
            let base = bases
                .base
                .ok_or_else(|| WzError::InvalidInput("a base job without a base".into()))?;
            base.read(*tensor, *offset, out)?;
            if xxh3_64(out) != b.expect {
                let (file, name) = base.describe(*tensor);
                return Err(WzError::InputChanged {
                    path: base.path.clone(),
                    what: format!("base tensor {name:?} of {file:?}"),
                });
            }
            Ok(true)
        }
        BaseFrom::Earlier { file, at, .. } => {
            let Some(src) = bases.earlier.get(file) else {
                return Ok(false);
            };
            Ok(src.read_exact_at(out, *at).is_ok() && xxh3_64(out) == b.expect)
        }
    }
}

/// The delta of `raw` against its base bytes, when it is smaller than
/// `coded` bytes (and, with `verify`, decodes back to `raw`).
fn encode_delta(
    raw: &[u8],
    b: &JobBase,
    bases: &BaseReaders<'_>,
    coded: usize,
    verify: bool,
    pool: &BufferPool,
) -> Result<Option<Vec<u8>>> {
    let mut base_bytes = pool.take(raw.len());
    if !read_base(b, bases, &mut base_bytes)? {
        pool.give(base_bytes);
        return Ok(None);
    }
    let mut out = pool.take_empty(raw.len() / 2 + 64);
    let coded_ok = if base_bytes.as_slice() == raw {
        delta::encode_same(raw.len(), &mut out);
        true
    } else if b.words16 && raw.len().is_multiple_of(2) {
        delta::encode(DeltaKind::SubEscapeSplit, raw, &base_bytes, &mut out).is_ok()
    } else {
        false
    };
    let mut keep = coded_ok && out.len() < coded;
    if keep && verify {
        let mut back = pool.take(raw.len());
        keep = delta::decode(&out, &base_bytes, &mut back).is_ok() && back.as_slice() == raw;
        pool.give(back);
    }
    pool.give(base_bytes);
    if keep {
        Ok(Some(out))
    } else {
        pool.give(out);
        Ok(None)
    }
}
