//! Parsing the index, trusting nothing: every count is checked against the
//! bytes that could hold it, every allocation is charged to a memory
//! budget that grows with the archive's size, chunks lie in the chunk area
//! without overlapping, and paths cannot leave the output folder.

use std::collections::HashSet;
use std::io::Read;

use weightzip_codec::CodecId;
use weightzip_entropy::{read_at, ByteReader};
use weightzip_format::{Dtype, GgmlType, TensorType};

use super::{
    Attrs, ChunkBase, ChunkRef, Entry, Extra, ExtraKind, Index, Mtime, RootKind, Segment,
    SegmentKind, DELTA_CODEC, HEADER_LEN, MAX_CHUNK_RAW, MAX_CHUNK_USES, MAX_DELTA_DEPTH,
    MAX_INDEX_RAW,
};
use crate::error::{Result, WzError};

/// Bytes of memory the index of an archive of `archive_len` bytes may take,
/// raw and parsed: 16 MiB plus 24 bytes per archive byte. An index is a
/// small part of a real archive (a folder of 100,000 empty files needs
/// about 14 MB for a 300 kB archive, inside its 23 MB budget).
pub fn index_memory_budget(archive_len: u64) -> u64 {
    (16u64 << 20).saturating_add(archive_len.saturating_mul(24))
}

/// Decompresses the stored (zstd) index to at most `limit` bytes, as a
/// stream: a first pass measures the decoded size (refusing a frame that
/// yields more), a second decodes into a buffer of exactly that size, so
/// nothing beyond the index itself is ever reserved.
pub fn decode_stored_index(stored: &[u8], limit: u64) -> Result<Vec<u8>> {
    let limit = limit.min(MAX_INDEX_RAW);
    let bad = |e: std::io::Error| WzError::Corrupt(format!("index does not decompress: {e}"));
    let decoder = || zstd::stream::read::Decoder::with_buffer(stored).map_err(bad);
    let size = std::io::copy(
        &mut decoder()?.take(limit.saturating_add(1)),
        &mut std::io::sink(),
    )
    .map_err(bad)?;
    if size > limit {
        return Err(WzError::Corrupt(format!(
            "index decompresses to more than the {limit} bytes an archive of this size may use"
        )));
    }
    let mut raw = Vec::with_capacity(size as usize);
    decoder()?.take(size).read_to_end(&mut raw).map_err(bad)?;
    Ok(raw)
}

impl Index {
    /// Parses a version-`version` index (at most `budget` bytes of memory,
    /// the raw bytes included) and checks that it is self-consistent and
    /// that every chunk lies in the chunk area `HEADER_LEN..chunk_area_end`
    /// with no two overlapping.
    pub fn from_bytes_version(
        b: &[u8],
        chunk_area_end: u64,
        version: u32,
        budget: u64,
    ) -> Result<Self> {
        let mut r = Reader {
            b,
            pos: 0,
            left: budget.saturating_sub(b.len() as u64),
            version,
            stored: Vec::new(),
            base_lens: Vec::new(),
        };
        let root = match r.u8("root kind")? {
            0 => RootKind::File,
            1 => RootKind::Dir,
            k => return Err(r.corrupt(format!("unknown root kind {k}"))),
        };
        let base = if version >= 4 { r.base_table()? } else { None };
        r.base_lens = base
            .iter()
            .flat_map(|t| t.tensors.iter().map(|b| b.len))
            .collect();
        let n_entries = r.count("entry count", 12)?;
        let mut entries = Vec::with_capacity(n_entries.min(1024));
        for _ in 0..n_entries {
            let mut entry = r.entry(chunk_area_end)?;
            if version >= 2 {
                entry.attrs = r.attrs()?;
            }
            entry.validate()?;
            entries.push(entry);
        }
        let mut extras = Vec::new();
        if version >= 2 {
            let n = r.count("extra count", 3)?;
            for _ in 0..n {
                extras.push(r.extra(entries.len())?);
            }
        }
        if r.pos != b.len() {
            return Err(r.corrupt(format!(
                "{} trailing bytes after the index",
                b.len() - r.pos
            )));
        }
        let index = Index {
            root,
            entries,
            extras,
            base,
        };
        index.validate_paths()?;
        validate_chunk_places(&r.stored)?;
        Ok(index)
    }

    /// [`Self::from_bytes_version`] for the current version, with the
    /// budget of an archive of `chunk_area_end` bytes.
    pub fn from_bytes(b: &[u8], chunk_area_end: u64) -> Result<Self> {
        Self::from_bytes_version(
            b,
            chunk_area_end,
            super::FORMAT_VERSION,
            index_memory_budget(chunk_area_end),
        )
    }

    fn validate_paths(&self) -> Result<()> {
        if self.root == RootKind::File && (self.entries.len() != 1 || !self.extras.is_empty()) {
            return Err(WzError::Corrupt(format!(
                "single-file archive lists {} entries and {} other members",
                self.entries.len(),
                self.extras.len()
            )));
        }
        let mut seen = HashSet::new();
        let paths = self
            .entries
            .iter()
            .map(|e| e.path.as_str())
            .chain(self.extras.iter().map(|x| x.path.as_str()));
        for p in paths {
            check_relative_path(p)?;
            if !seen.insert(p) {
                return Err(WzError::Corrupt(format!("entry {p:?} appears twice")));
            }
        }
        Ok(())
    }
}

/// Stored chunks may not overlap: each stored byte belongs to one chunk,
/// which decodes at most [`MAX_CHUNK_USES`] times (once, plus its
/// references), so what an archive can make a reader decode is bounded by
/// its own chunk bytes.
fn validate_chunk_places(stored: &[(ChunkRef, u16)]) -> Result<()> {
    let mut places: Vec<(u64, u64)> = stored
        .iter()
        .map(|(c, _)| (c.offset, c.stored_len))
        .collect();
    places.sort_unstable();
    for w in places.windows(2) {
        if w[0].0 + w[0].1 > w[1].0 {
            return Err(WzError::Corrupt(format!(
                "chunks at {}+{} and {}+{} overlap",
                w[0].0, w[0].1, w[1].0, w[1].1
            )));
        }
    }
    Ok(())
}

/// Rejects paths that could escape the output folder when extracted.
pub fn check_relative_path(path: &str) -> Result<()> {
    let bad = path.is_empty()
        || path.starts_with('/')
        || path.contains('\\')
        || path.contains('\0')
        || path
            .split('/')
            .any(|c| c.is_empty() || c == "." || c == "..")
        || (path.len() >= 2 && path.as_bytes()[1] == b':');
    if bad {
        return Err(WzError::Corrupt(format!("unsafe entry path {path:?}")));
    }
    Ok(())
}

impl Entry {
    /// Checks that segments, chunks and sizes agree.
    pub fn validate(&self) -> Result<()> {
        let what = |m: String| WzError::Corrupt(format!("entry {:?}: {m}", self.path));
        let mut total = 0u64;
        let mut pass_total = 0u64;
        for s in &self.segments {
            total = total
                .checked_add(s.len)
                .ok_or_else(|| what("size overflows".into()))?;
            match &s.kind {
                SegmentKind::Passthrough => {
                    pass_total += s.len;
                    if !s.chunks.is_empty() {
                        return Err(what("passthrough segment lists chunks".into()));
                    }
                }
                SegmentKind::Tensor { name, .. } => {
                    let sum = s
                        .chunks
                        .iter()
                        .try_fold(0u64, |t, c| t.checked_add(c.raw_len));
                    if sum != Some(s.len) {
                        return Err(what(format!(
                            "tensor {name:?} is {} bytes but its chunks decode to {sum:?}",
                            s.len
                        )));
                    }
                }
            }
        }
        if total != self.size {
            return Err(what(format!(
                "segments cover {total} bytes, the file has {}",
                self.size
            )));
        }
        let pass_chunks = self
            .passthrough
            .iter()
            .try_fold(0u64, |t, c| t.checked_add(c.raw_len));
        if pass_chunks != Some(pass_total) {
            return Err(what(format!(
                "passthrough segments need {pass_total} bytes, its chunks decode to {pass_chunks:?}"
            )));
        }
        Ok(())
    }
}

pub(super) struct Reader<'a> {
    b: &'a [u8],
    pos: usize,
    /// Memory the parsed structures may still take.
    left: u64,
    /// Format version: 3 and later have chunk references, 4 delta chunks.
    version: u32,
    /// The stored chunks so far, in index order, and how often each has
    /// been used (itself, its references and the deltas coded against it).
    stored: Vec<(ChunkRef, u16)>,
    /// The lengths of the base table's tensors.
    base_lens: Vec<u64>,
}

impl Reader<'_> {
    pub(super) fn corrupt(&self, m: String) -> WzError {
        WzError::Corrupt(format!("index byte {}: {m}", self.pos))
    }

    /// Charges `n` bytes of parsed structures to the budget.
    pub(super) fn charge(&mut self, n: usize) -> Result<()> {
        self.left = self.left.checked_sub(n as u64).ok_or_else(|| {
            self.corrupt("the index takes more memory than an archive of this size may".into())
        })?;
        Ok(())
    }

    pub(super) fn u8(&mut self, what: &str) -> Result<u8> {
        let v = *self
            .b
            .get(self.pos)
            .ok_or_else(|| self.corrupt(format!("index ends inside {what}")))?;
        self.pos += 1;
        Ok(v)
    }

    fn u64_le(&mut self, what: &str) -> Result<u64> {
        let s = self
            .b
            .get(self.pos..self.pos.saturating_add(8))
            .ok_or_else(|| self.corrupt(format!("index ends inside {what}")))?;
        let mut a = [0u8; 8];
        a.copy_from_slice(s);
        self.pos += 8;
        Ok(u64::from_le_bytes(a))
    }

    pub(super) fn varint(&mut self, what: &str) -> Result<u64> {
        let at = self.pos;
        read_at(self.b, &mut self.pos, ByteReader::varint)
            .map_err(|e| WzError::Corrupt(format!("index byte {at}: {what}: {e}")))
    }

    /// A count of items that take at least `min_bytes` each.
    pub(super) fn count(&mut self, what: &str, min_bytes: usize) -> Result<usize> {
        let n = self.varint(what)?;
        let left = (self.b.len() - self.pos) as u64;
        if n.saturating_mul(min_bytes as u64) > left {
            return Err(self.corrupt(format!(
                "{what} {n} exceeds what {left} remaining bytes can hold"
            )));
        }
        Ok(n as usize)
    }

    /// The next `n` bytes.
    pub(super) fn bytes(&mut self, n: usize, what: &str) -> Result<&[u8]> {
        let s = self
            .b
            .get(self.pos..self.pos.saturating_add(n))
            .ok_or_else(|| self.corrupt(format!("index ends inside {what}")))?;
        self.pos += n;
        Ok(s)
    }

    pub(super) fn string(&mut self, what: &str) -> Result<String> {
        let n = self.count(what, 1)?;
        self.charge(n + std::mem::size_of::<String>())?;
        let s = &self.b[self.pos..self.pos + n];
        self.pos += n;
        String::from_utf8(s.to_vec()).map_err(|_| self.corrupt(format!("{what} is not UTF-8")))
    }

    fn entry(&mut self, area_end: u64) -> Result<Entry> {
        self.charge(std::mem::size_of::<Entry>())?;
        let path = self.string("entry path")?;
        let size = self.varint("entry size")?;
        let checksum = self.u64_le("entry checksum")?;
        let file_kind = self.u8("file kind")?;
        let passthrough = self.chunks(area_end, &format!("entry {path:?} passthrough"))?;
        let n_segments = self.count("segment count", 2)?;
        let mut segments = Vec::with_capacity(n_segments.min(1024));
        for si in 0..n_segments {
            self.charge(std::mem::size_of::<Segment>())?;
            let tag = self.u8("segment kind")?;
            let len = self.varint("segment length")?;
            let seg = match tag {
                0 => Segment {
                    kind: SegmentKind::Passthrough,
                    len,
                    chunks: Vec::new(),
                },
                1 => self.tensor(len, area_end)?,
                t => {
                    return Err(
                        self.corrupt(format!("entry {path:?} segment {si}: unknown kind {t}"))
                    )
                }
            };
            segments.push(seg);
        }
        Ok(Entry {
            path,
            size,
            checksum,
            file_kind,
            segments,
            passthrough,
            attrs: Attrs::default(),
        })
    }

    fn tensor(&mut self, len: u64, area_end: u64) -> Result<Segment> {
        let name = self.string("tensor name")?;
        let ty = match self.u8("tensor type tag")? {
            0 => None,
            1 => {
                let d = self.string("dtype")?;
                Some(TensorType::St(Dtype::from_str(&d).ok_or_else(|| {
                    self.corrupt(format!("tensor {name:?}: unknown dtype {d:?}"))
                })?))
            }
            2 => {
                let id = self.varint("ggml type")?;
                let g = u32::try_from(id).ok().and_then(GgmlType::from_u32);
                Some(TensorType::Ggml(g.ok_or_else(|| {
                    self.corrupt(format!("tensor {name:?}: unknown ggml type {id}"))
                })?))
            }
            t => return Err(self.corrupt(format!("tensor {name:?}: unknown type tag {t}"))),
        };
        let ndims = self.count("tensor rank", 1)?;
        if ndims > 16 {
            return Err(self.corrupt(format!("tensor {name:?} has rank {ndims}")));
        }
        self.charge(ndims * 8)?;
        let shape = (0..ndims)
            .map(|_| self.varint("tensor dim"))
            .collect::<Result<Vec<_>>>()?;
        let chunks = self.chunks(area_end, &format!("tensor {name:?}"))?;
        Ok(Segment {
            kind: SegmentKind::Tensor { name, ty, shape },
            len,
            chunks,
        })
    }

    fn chunks(&mut self, area_end: u64, owner: &str) -> Result<Vec<ChunkRef>> {
        let n = self.count("chunk count", if self.version >= 3 { 2 } else { 12 })?;
        self.charge(n.saturating_mul(std::mem::size_of::<ChunkRef>()))?;
        let mut v = Vec::with_capacity(n);
        for i in 0..n {
            let kind = if self.version >= 3 {
                self.u8("chunk kind")?
            } else {
                0
            };
            match kind {
                0 => {}
                1 => {
                    v.push(self.reference(owner, i)?);
                    continue;
                }
                2 if self.version >= 4 => {}
                k => return Err(self.corrupt(format!("{owner} chunk {i}: unknown kind {k}"))),
            }
            let delta = kind == 2;
            let offset = self.varint("chunk offset")?;
            let stored_len = self.varint("chunk length")?;
            let raw_len = self.varint("chunk decoded length")?;
            let codec = if delta {
                DELTA_CODEC
            } else {
                self.u8("chunk codec")?
            };
            let checksum = self.u64_le("chunk checksum")?;
            let end = offset.checked_add(stored_len);
            if offset < HEADER_LEN || stored_len == 0 || end.is_none_or(|e| e > area_end) {
                return Err(self.corrupt(format!(
                    "{owner} chunk {i} at {offset}+{stored_len} lies outside the chunk area {HEADER_LEN}..{area_end}"
                )));
            }
            if raw_len == 0 || raw_len > MAX_CHUNK_RAW {
                return Err(
                    self.corrupt(format!("{owner} chunk {i} claims {raw_len} decoded bytes"))
                );
            }
            if !delta && CodecId::from_u8(codec).is_none() {
                return Err(self.corrupt(format!(
                    "{owner} chunk {i} uses codec id {codec}, unknown to this build (written by a newer weightzip?)"
                )));
            }
            let base = if delta {
                Some(self.delta_base(owner, i, raw_len)?)
            } else {
                None
            };
            let chunk = ChunkRef {
                offset,
                stored_len,
                raw_len,
                codec,
                checksum,
                base,
            };
            self.charge(std::mem::size_of::<(ChunkRef, u16)>())?;
            self.stored.push((chunk.clone(), 1));
            v.push(chunk);
        }
        Ok(v)
    }

    /// A version-3 reference: the ordinal of an earlier stored chunk, used
    /// at most [`MAX_CHUNK_USES`] times in all.
    fn reference(&mut self, owner: &str, i: usize) -> Result<ChunkRef> {
        let target = self.varint("chunk reference")?;
        let n_stored = self.stored.len();
        let slot = usize::try_from(target)
            .ok()
            .and_then(|t| self.stored.get_mut(t))
            .ok_or_else(|| {
                WzError::Corrupt(format!(
                    "{owner} chunk {i} refers to stored chunk {target}, but only {n_stored} come before it"
                ))
            })?;
        if slot.1 >= MAX_CHUNK_USES {
            return Err(WzError::Corrupt(format!(
                "{owner} chunk {i}: stored chunk {target} is used more than {MAX_CHUNK_USES} times"
            )));
        }
        slot.1 += 1;
        Ok(slot.0.clone())
    }

    /// What a version-4 delta chunk of `raw_len` bytes is coded against:
    /// an earlier stored chunk of the same length (counted as one of its
    /// uses, at most [`MAX_DELTA_DEPTH`] deltas from a plain chunk) or a
    /// range inside a tensor of the base table.
    fn delta_base(&mut self, owner: &str, i: usize, raw_len: u64) -> Result<ChunkBase> {
        match self.u8("delta base kind")? {
            0 => {
                let base = self.reference(owner, i)?;
                if base.raw_len != raw_len {
                    return Err(self.corrupt(format!(
                        "{owner} chunk {i}: a delta of {raw_len} bytes against a chunk of {}",
                        base.raw_len
                    )));
                }
                if base.delta_depth() >= MAX_DELTA_DEPTH {
                    return Err(self.corrupt(format!(
                        "{owner} chunk {i}: more than {MAX_DELTA_DEPTH} deltas deep"
                    )));
                }
                Ok(ChunkBase::Chunk(std::sync::Arc::new(base)))
            }
            1 => {
                let tensor = self.varint("base tensor")?;
                let offset = self.varint("base offset")?;
                let len = usize::try_from(tensor)
                    .ok()
                    .and_then(|t| self.base_lens.get(t))
                    .copied();
                let fits = len.is_some_and(|l| offset.checked_add(raw_len).is_some_and(|e| e <= l));
                if !fits {
                    return Err(self.corrupt(format!(
                        "{owner} chunk {i}: bytes {offset}+{raw_len} of base tensor {tensor} (of {}) do not exist",
                        self.base_lens.len()
                    )));
                }
                Ok(ChunkBase::Tensor {
                    tensor: tensor as u32,
                    offset,
                })
            }
            k => Err(self.corrupt(format!("{owner} chunk {i}: unknown delta base kind {k}"))),
        }
    }

    fn attrs(&mut self) -> Result<Attrs> {
        let flags = self.u8("attribute flags")?;
        if flags & !3 != 0 {
            return Err(self.corrupt(format!("unknown attribute flags {flags:#x}")));
        }
        let mode = if flags & 1 != 0 {
            let m = self.varint("mode")?;
            Some(
                u32::try_from(m)
                    .ok()
                    .filter(|m| m & !0o7777 == 0)
                    .ok_or_else(|| self.corrupt(format!("mode {m:#o}")))?,
            )
        } else {
            None
        };
        let mtime = if flags & 2 != 0 {
            let z = self.varint("time")?;
            let secs = ((z >> 1) as i64) ^ -((z & 1) as i64);
            let nanos = self.varint("time nanoseconds")?;
            let nanos = u32::try_from(nanos)
                .ok()
                .filter(|&n| n < 1_000_000_000)
                .ok_or_else(|| self.corrupt(format!("{nanos} nanoseconds")))?;
            Some(Mtime { secs, nanos })
        } else {
            None
        };
        Ok(Attrs { mode, mtime })
    }

    fn extra(&mut self, n_entries: usize) -> Result<Extra> {
        self.charge(std::mem::size_of::<Extra>())?;
        let tag = self.u8("member kind")?;
        let path = self.string("member path")?;
        let kind = match tag {
            0 => ExtraKind::Dir,
            1 => ExtraKind::Symlink {
                target: self.string("link target")?,
            },
            2 => {
                let entry = self.varint("link entry")?;
                let entry = usize::try_from(entry)
                    .ok()
                    .filter(|&e| e < n_entries)
                    .ok_or_else(|| {
                        self.corrupt(format!(
                            "hard link {path:?} to entry {entry} of {n_entries}"
                        ))
                    })?;
                ExtraKind::Hardlink { entry }
            }
            t => return Err(self.corrupt(format!("member {path:?}: unknown kind {t}"))),
        };
        if let ExtraKind::Symlink { target } = &kind {
            if target.is_empty() || target.contains('\0') {
                return Err(self.corrupt(format!("symbolic link {path:?}: bad target")));
            }
        }
        let attrs = self.attrs()?;
        Ok(Extra { path, kind, attrs })
    }
}
