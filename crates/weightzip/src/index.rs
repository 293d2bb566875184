//! The `.wz` layout: file header, chunk area, index, footer; and the index's
//! serialisation with every length bounded before it is trusted.
//!
//! ```text
//! header  (16 B)  magic "\x89WZIP\r\n\x1a", u32 LE format version, u32 LE flags (0)
//! chunks          encoded chunk payloads, back to back
//! index           zstd frame of the serialised [`Index`]
//! footer  (32 B)  u64 index offset, u64 index length, u64 xxh3 of the index
//!                 bytes, u32 format version, magic "WZIX"
//! ```

use weightzip_codec::CodecId;
use weightzip_entropy::{read_at, write_varint, ByteReader};
use weightzip_format::{Dtype, GgmlType, TensorType};

use crate::error::{Result, WzError};

/// Magic bytes at offset 0. The high byte and CR LF catch text-mode mangling.
pub const MAGIC: [u8; 8] = *b"\x89WZIP\r\n\x1a";
/// Current (and highest readable) format version.
pub const FORMAT_VERSION: u32 = 1;
/// Bytes of the file header.
pub const HEADER_LEN: u64 = 16;
/// Magic at the very end of the file.
pub const FOOTER_MAGIC: [u8; 4] = *b"WZIX";
/// Bytes of the footer.
pub const FOOTER_LEN: u64 = 32;
/// No chunk decodes to more than this; bounds every decode allocation.
pub const MAX_CHUNK_RAW: u64 = 64 << 20;
/// The serialised index may not decode to more than this.
pub const MAX_INDEX_RAW: u64 = 1 << 30;

/// Whether the archive holds one file or a folder.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RootKind {
    /// One file; the entry's path is its file name.
    File,
    /// A folder; entry paths are relative to it, with `/` separators.
    Dir,
}

/// One encoded chunk.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChunkRef {
    /// Offset of the payload in the archive.
    pub offset: u64,
    /// Payload length in the archive.
    pub stored_len: u64,
    /// Decoded length.
    pub raw_len: u64,
    /// Codec id ([`CodecId`]).
    pub codec: u8,
    /// xxh3-64 of the decoded bytes.
    pub checksum: u64,
}

/// What a segment of the original file is.
#[derive(Clone, Debug, PartialEq)]
pub enum SegmentKind {
    /// Bytes that are not a tensor's data (headers, metadata, padding); they
    /// are taken in order from the entry's passthrough stream.
    Passthrough,
    /// A tensor's data, coded in its own chunks.
    Tensor {
        name: String,
        ty: Option<TensorType>,
        shape: Vec<u64>,
    },
}

/// A contiguous run of the original file.
#[derive(Clone, Debug, PartialEq)]
pub struct Segment {
    pub kind: SegmentKind,
    /// Length in the original file.
    pub len: u64,
    /// The chunks of a tensor segment (empty for passthrough).
    pub chunks: Vec<ChunkRef>,
}

/// One original file.
#[derive(Clone, Debug, PartialEq)]
pub struct Entry {
    /// Relative path (`/`-separated); for a single-file archive, its name.
    pub path: String,
    /// Original size in bytes.
    pub size: u64,
    /// xxh3-64 of the whole original file.
    pub checksum: u64,
    /// Format detected when compressing: 0 unknown, 1 safetensors, 2 GGUF.
    pub file_kind: u8,
    /// The segments, in file order, covering the file exactly.
    pub segments: Vec<Segment>,
    /// Chunks of the concatenated passthrough bytes.
    pub passthrough: Vec<ChunkRef>,
}

/// Everything needed to replay the original files.
#[derive(Clone, Debug, PartialEq)]
pub struct Index {
    pub root: RootKind,
    pub entries: Vec<Entry>,
}

/// The file header bytes.
pub fn header_bytes() -> [u8; HEADER_LEN as usize] {
    let mut h = [0u8; HEADER_LEN as usize];
    h[..8].copy_from_slice(&MAGIC);
    h[8..12].copy_from_slice(&FORMAT_VERSION.to_le_bytes());
    h
}

/// Checks the file header.
pub fn check_header(h: &[u8]) -> Result<()> {
    if h.len() < HEADER_LEN as usize {
        return Err(WzError::Truncated(format!(
            "file is {} bytes, shorter than the {HEADER_LEN}-byte header",
            h.len()
        )));
    }
    if h[..8] != MAGIC {
        return Err(WzError::BadMagic);
    }
    let version = u32::from_le_bytes([h[8], h[9], h[10], h[11]]);
    if version == 0 || version > FORMAT_VERSION {
        return Err(WzError::UnsupportedVersion {
            found: version,
            supported: FORMAT_VERSION,
        });
    }
    Ok(())
}

/// Where the index is, read from the footer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Footer {
    pub index_offset: u64,
    pub index_len: u64,
    pub index_checksum: u64,
}

impl Footer {
    /// The footer bytes.
    pub fn to_bytes(self) -> [u8; FOOTER_LEN as usize] {
        let mut f = [0u8; FOOTER_LEN as usize];
        f[..8].copy_from_slice(&self.index_offset.to_le_bytes());
        f[8..16].copy_from_slice(&self.index_len.to_le_bytes());
        f[16..24].copy_from_slice(&self.index_checksum.to_le_bytes());
        f[24..28].copy_from_slice(&FORMAT_VERSION.to_le_bytes());
        f[28..32].copy_from_slice(&FOOTER_MAGIC);
        f
    }

    /// Parses and bounds the footer of a file of `file_len` bytes.
    pub fn parse(f: &[u8; FOOTER_LEN as usize], file_len: u64) -> Result<Self> {
        if f[28..32] != FOOTER_MAGIC {
            return Err(WzError::Truncated(
                "no index footer at the end of the file (incomplete or truncated write?)".into(),
            ));
        }
        let u64_at = |i: usize| {
            let mut b = [0u8; 8];
            b.copy_from_slice(&f[i..i + 8]);
            u64::from_le_bytes(b)
        };
        let version = u32::from_le_bytes([f[24], f[25], f[26], f[27]]);
        if version == 0 || version > FORMAT_VERSION {
            return Err(WzError::UnsupportedVersion {
                found: version,
                supported: FORMAT_VERSION,
            });
        }
        let footer = Footer {
            index_offset: u64_at(0),
            index_len: u64_at(8),
            index_checksum: u64_at(16),
        };
        let end = footer.index_offset.checked_add(footer.index_len);
        if footer.index_offset < HEADER_LEN || end != Some(file_len - FOOTER_LEN) {
            return Err(WzError::Corrupt(format!(
                "footer places the index at {}..{:?}, but it must end at {} (file length {file_len})",
                footer.index_offset,
                end,
                file_len - FOOTER_LEN
            )));
        }
        Ok(footer)
    }
}

// ---- serialisation ---------------------------------------------------------

fn put_str(out: &mut Vec<u8>, s: &str) {
    write_varint(out, s.len() as u64);
    out.extend_from_slice(s.as_bytes());
}

fn put_chunks(out: &mut Vec<u8>, chunks: &[ChunkRef]) {
    write_varint(out, chunks.len() as u64);
    for c in chunks {
        write_varint(out, c.offset);
        write_varint(out, c.stored_len);
        write_varint(out, c.raw_len);
        out.push(c.codec);
        out.extend_from_slice(&c.checksum.to_le_bytes());
    }
}

impl Index {
    /// Serialises the index (before zstd).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        out.push(match self.root {
            RootKind::File => 0,
            RootKind::Dir => 1,
        });
        write_varint(&mut out, self.entries.len() as u64);
        for e in &self.entries {
            put_str(&mut out, &e.path);
            write_varint(&mut out, e.size);
            out.extend_from_slice(&e.checksum.to_le_bytes());
            out.push(e.file_kind);
            put_chunks(&mut out, &e.passthrough);
            write_varint(&mut out, e.segments.len() as u64);
            for s in &e.segments {
                match &s.kind {
                    SegmentKind::Passthrough => {
                        out.push(0);
                        write_varint(&mut out, s.len);
                    }
                    SegmentKind::Tensor { name, ty, shape } => {
                        out.push(1);
                        write_varint(&mut out, s.len);
                        put_str(&mut out, name);
                        match ty {
                            None => out.push(0),
                            Some(TensorType::St(d)) => {
                                out.push(1);
                                put_str(&mut out, d.name());
                            }
                            Some(TensorType::Ggml(g)) => {
                                out.push(2);
                                write_varint(&mut out, u64::from(g.id()));
                            }
                        }
                        write_varint(&mut out, shape.len() as u64);
                        for &d in shape {
                            write_varint(&mut out, d);
                        }
                        put_chunks(&mut out, &s.chunks);
                    }
                }
            }
        }
        out
    }

    /// Parses a serialised index and checks that it is self-consistent and
    /// that every chunk lies in the chunk area `HEADER_LEN..chunk_area_end`.
    pub fn from_bytes(b: &[u8], chunk_area_end: u64) -> Result<Self> {
        let mut r = Reader { b, pos: 0 };
        let root = match r.u8("root kind")? {
            0 => RootKind::File,
            1 => RootKind::Dir,
            k => return Err(r.corrupt(format!("unknown root kind {k}"))),
        };
        // Every entry takes at least 12 bytes, so the count is bounded by the input.
        let n_entries = r.count("entry count", 12)?;
        let mut entries = Vec::with_capacity(n_entries);
        for ei in 0..n_entries {
            let path = r.string("entry path")?;
            let size = r.varint("entry size")?;
            let checksum = r.u64_le("entry checksum")?;
            let file_kind = r.u8("file kind")?;
            let passthrough = r.chunks(chunk_area_end, &format!("entry {path:?} passthrough"))?;
            let n_segments = r.count("segment count", 2)?;
            let mut segments = Vec::with_capacity(n_segments);
            for si in 0..n_segments {
                let tag = r.u8("segment kind")?;
                let len = r.varint("segment length")?;
                let seg = match tag {
                    0 => Segment {
                        kind: SegmentKind::Passthrough,
                        len,
                        chunks: Vec::new(),
                    },
                    1 => {
                        let name = r.string("tensor name")?;
                        let ty = match r.u8("tensor type tag")? {
                            0 => None,
                            1 => {
                                let d = r.string("dtype")?;
                                Some(TensorType::St(Dtype::from_str(&d).ok_or_else(|| {
                                    r.corrupt(format!("tensor {name:?}: unknown dtype {d:?}"))
                                })?))
                            }
                            2 => {
                                let id = r.varint("ggml type")?;
                                let g = u32::try_from(id).ok().and_then(GgmlType::from_u32);
                                Some(TensorType::Ggml(g.ok_or_else(|| {
                                    r.corrupt(format!("tensor {name:?}: unknown ggml type {id}"))
                                })?))
                            }
                            t => {
                                return Err(
                                    r.corrupt(format!("tensor {name:?}: unknown type tag {t}"))
                                )
                            }
                        };
                        let ndims = r.count("tensor rank", 1)?;
                        if ndims > 16 {
                            return Err(r.corrupt(format!("tensor {name:?} has rank {ndims}")));
                        }
                        let shape = (0..ndims)
                            .map(|_| r.varint("tensor dim"))
                            .collect::<Result<Vec<_>>>()?;
                        let chunks = r.chunks(chunk_area_end, &format!("tensor {name:?}"))?;
                        Segment {
                            kind: SegmentKind::Tensor { name, ty, shape },
                            len,
                            chunks,
                        }
                    }
                    t => {
                        return Err(r.corrupt(format!("entry {ei} segment {si}: unknown kind {t}")))
                    }
                };
                segments.push(seg);
            }
            let entry = Entry {
                path,
                size,
                checksum,
                file_kind,
                segments,
                passthrough,
            };
            entry.validate()?;
            entries.push(entry);
        }
        if r.pos != b.len() {
            return Err(r.corrupt(format!(
                "{} trailing bytes after the index",
                b.len() - r.pos
            )));
        }
        let index = Index { root, entries };
        index.validate_paths()?;
        Ok(index)
    }

    fn validate_paths(&self) -> Result<()> {
        if self.root == RootKind::File && self.entries.len() != 1 {
            return Err(WzError::Corrupt(format!(
                "single-file archive lists {} entries",
                self.entries.len()
            )));
        }
        let mut seen = std::collections::HashSet::new();
        for e in &self.entries {
            check_relative_path(&e.path)?;
            if !seen.insert(e.path.as_str()) {
                return Err(WzError::Corrupt(format!(
                    "entry {:?} appears twice",
                    e.path
                )));
            }
        }
        Ok(())
    }

    /// Total original bytes of all entries.
    pub fn total_size(&self) -> u64 {
        self.entries.iter().map(|e| e.size).sum()
    }
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
                    let sum: u64 = s.chunks.iter().map(|c| c.raw_len).sum();
                    if sum != s.len {
                        return Err(what(format!(
                            "tensor {name:?} is {} bytes but its chunks decode to {sum}",
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
        let pass_chunks: u64 = self.passthrough.iter().map(|c| c.raw_len).sum();
        if pass_chunks != pass_total {
            return Err(what(format!(
                "passthrough segments need {pass_total} bytes, its chunks decode to {pass_chunks}"
            )));
        }
        Ok(())
    }

    /// The tensor segments with their names.
    pub fn tensors(&self) -> impl Iterator<Item = (&str, &Segment)> {
        self.segments.iter().filter_map(|s| match &s.kind {
            SegmentKind::Tensor { name, .. } => Some((name.as_str(), s)),
            SegmentKind::Passthrough => None,
        })
    }
}

struct Reader<'a> {
    b: &'a [u8],
    pos: usize,
}

impl Reader<'_> {
    fn corrupt(&self, m: String) -> WzError {
        WzError::Corrupt(format!("index byte {}: {m}", self.pos))
    }

    fn u8(&mut self, what: &str) -> Result<u8> {
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
            .get(self.pos..self.pos + 8)
            .ok_or_else(|| self.corrupt(format!("index ends inside {what}")))?;
        let mut a = [0u8; 8];
        a.copy_from_slice(s);
        self.pos += 8;
        Ok(u64::from_le_bytes(a))
    }

    fn varint(&mut self, what: &str) -> Result<u64> {
        let at = self.pos;
        read_at(self.b, &mut self.pos, ByteReader::varint)
            .map_err(|e| WzError::Corrupt(format!("index byte {at}: {what}: {e}")))
    }

    /// A count of items that take at least `min_bytes` each.
    fn count(&mut self, what: &str, min_bytes: usize) -> Result<usize> {
        let n = self.varint(what)?;
        let left = (self.b.len() - self.pos) as u64;
        if n.saturating_mul(min_bytes as u64) > left {
            return Err(self.corrupt(format!(
                "{what} {n} exceeds what {left} remaining bytes can hold"
            )));
        }
        Ok(n as usize)
    }

    fn string(&mut self, what: &str) -> Result<String> {
        let n = self.count(what, 1)?;
        let s = &self.b[self.pos..self.pos + n];
        self.pos += n;
        String::from_utf8(s.to_vec()).map_err(|_| self.corrupt(format!("{what} is not UTF-8")))
    }

    fn chunks(&mut self, area_end: u64, owner: &str) -> Result<Vec<ChunkRef>> {
        let n = self.count("chunk count", 12)?;
        let mut v = Vec::with_capacity(n);
        for i in 0..n {
            let offset = self.varint("chunk offset")?;
            let stored_len = self.varint("chunk length")?;
            let raw_len = self.varint("chunk decoded length")?;
            let codec = self.u8("chunk codec")?;
            let checksum = self.u64_le("chunk checksum")?;
            let end = offset.checked_add(stored_len);
            if offset < HEADER_LEN || end.is_none_or(|e| e > area_end) {
                return Err(self.corrupt(format!(
                    "{owner} chunk {i} at {offset}+{stored_len} lies outside the chunk area {HEADER_LEN}..{area_end}"
                )));
            }
            if raw_len == 0 || raw_len > MAX_CHUNK_RAW {
                return Err(
                    self.corrupt(format!("{owner} chunk {i} claims {raw_len} decoded bytes"))
                );
            }
            if CodecId::from_u8(codec).is_none() {
                return Err(self.corrupt(format!(
                    "{owner} chunk {i} uses codec id {codec}, unknown to this build (written by a newer weightzip?)"
                )));
            }
            v.push(ChunkRef {
                offset,
                stored_len,
                raw_len,
                codec,
                checksum,
            });
        }
        Ok(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Index {
        let chunk = |offset, raw_len| ChunkRef {
            offset,
            stored_len: 10,
            raw_len,
            codec: CodecId::Bf16 as u8,
            checksum: 0xdead_beef,
        };
        Index {
            root: RootKind::Dir,
            entries: vec![Entry {
                path: "sub/model.safetensors".into(),
                size: 108,
                checksum: 42,
                file_kind: 1,
                segments: vec![
                    Segment {
                        kind: SegmentKind::Passthrough,
                        len: 8,
                        chunks: vec![],
                    },
                    Segment {
                        kind: SegmentKind::Tensor {
                            name: "w".into(),
                            ty: Some(TensorType::St(Dtype::BF16)),
                            shape: vec![10, 5],
                        },
                        len: 100,
                        chunks: vec![chunk(16, 60), chunk(26, 40)],
                    },
                ],
                passthrough: vec![chunk(36, 8)],
            }],
        }
    }

    #[test]
    fn index_round_trips() {
        let idx = sample();
        let b = idx.to_bytes();
        assert_eq!(Index::from_bytes(&b, 100).unwrap(), idx);
    }

    #[test]
    fn every_truncation_and_many_flips_are_errors_not_panics() {
        let b = sample().to_bytes();
        for cut in 0..b.len() {
            assert!(Index::from_bytes(&b[..cut], 100).is_err(), "cut {cut}");
        }
        for i in 0..b.len() {
            for bit in 0..8 {
                let mut m = b.clone();
                m[i] ^= 1 << bit;
                let _ = Index::from_bytes(&m, 100);
            }
        }
    }

    #[test]
    fn rejects_chunks_outside_the_area_and_unsafe_paths() {
        let b = sample().to_bytes();
        assert!(Index::from_bytes(&b, 40).is_err());
        for p in ["", "/etc/passwd", "a/../../b", "./x", "a//b", "C:x", "a\\b"] {
            assert!(check_relative_path(p).is_err(), "{p}");
        }
        assert!(check_relative_path("a/b.json").is_ok());
    }

    #[test]
    fn header_and_footer_checks() {
        assert!(check_header(&header_bytes()).is_ok());
        assert!(matches!(
            check_header(b"GGUF0000000000000000"),
            Err(WzError::BadMagic)
        ));
        let mut h = header_bytes();
        h[8] = 9;
        assert!(matches!(
            check_header(&h),
            Err(WzError::UnsupportedVersion { .. })
        ));
        let f = Footer {
            index_offset: 100,
            index_len: 50,
            index_checksum: 7,
        };
        assert_eq!(Footer::parse(&f.to_bytes(), 182).unwrap(), f);
        assert!(Footer::parse(&f.to_bytes(), 183).is_err());
    }
}
