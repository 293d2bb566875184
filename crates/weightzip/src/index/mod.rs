//! The `.wz` layout: file header, chunk area, index, footer; the index's
//! serialisation ([`encode`]) and its parsing with every count, length and
//! allocation bounded before it is trusted ([`decode`]).
//!
//! ```text
//! header  (16 B)  magic "\x89WZIP\r\n\x1a", u32 LE format version, u32 LE flags (0)
//! chunks          encoded chunk payloads, back to back
//! index           zstd frame of the serialised [`Index`]
//! footer  (32 B)  u64 index offset, u64 index length, u64 xxh3 of the index
//!                 bytes, u32 format version, magic "WZIX"
//! ```

use std::sync::Arc;

use weightzip_format::TensorType;

use crate::error::{Result, WzError};

mod base_table;
mod decode;
mod encode;
#[cfg(test)]
mod tests;

pub use decode::{check_relative_path, decode_stored_index, index_memory_budget};

/// Magic bytes at offset 0. The high byte and CR LF catch text-mode mangling.
pub const MAGIC: [u8; 8] = *b"\x89WZIP\r\n\x1a";
/// Current (and highest readable) format version. Version 2 adds file
/// modes and times, folders, symbolic links and hard links to version 1;
/// version 3 adds chunk references (content stored once); version 4 adds
/// delta chunks (coded against an earlier chunk or a tensor of a base
/// checkpoint) and the base table; version 5 adds the escape-coded delta
/// payload (kind 3) and version 6 the split one (kind 4: raw low bits),
/// their index unchanged; all are read.
pub const FORMAT_VERSION: u32 = 6;
/// Bytes of the file header.
pub const HEADER_LEN: u64 = 16;
/// Magic at the very end of the file.
pub const FOOTER_MAGIC: [u8; 4] = *b"WZIX";
/// Bytes of the footer.
pub const FOOTER_LEN: u64 = 32;
/// No chunk decodes to more than this; bounds every decode allocation.
pub const MAX_CHUNK_RAW: u64 = 64 << 20;
/// A stored chunk is decoded for at most this many chunk lists: itself and
/// 255 references (version 3). A writer stores a further copy beyond that,
/// so an archive cannot make a reader decode more than 256 times its own
/// chunks' worth.
pub const MAX_CHUNK_USES: u16 = 256;
/// A delta chunk is at most this many deltas away from a chunk that
/// decodes on its own (or from a base tensor): decoding one chunk decodes
/// at most this many payloads more.
pub const MAX_DELTA_DEPTH: u32 = 8;
/// The codec field of a delta chunk in memory (no codec of the table has
/// it; the index stores delta chunks under their own tag).
pub const DELTA_CODEC: u8 = 255;
/// The serialised index may not decode to more than this (and, further,
/// no more than [`index_memory_budget`] allows for the archive's size).
pub const MAX_INDEX_RAW: u64 = 1 << 30;

/// Whether the archive holds one file or a folder.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RootKind {
    /// One file; the entry's path is its file name.
    File,
    /// A folder; entry paths are relative to it, with `/` separators.
    Dir,
}

/// One encoded chunk. In a version-3 archive several chunk lists may
/// hold the same chunk (same payload): the index stores it once and
/// refers to it from the others.
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
    /// For a delta chunk ([`DELTA_CODEC`], version 4): what its payload is
    /// coded against.
    pub base: Option<ChunkBase>,
}

/// What a delta chunk is coded against: bytes of the same length that the
/// reader decodes or reads first.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ChunkBase {
    /// The decoded bytes of an earlier stored chunk of this archive (the
    /// same chunk of the previous checkpoint of a training run).
    Chunk(Arc<ChunkRef>),
    /// Bytes `offset..offset + raw_len` of tensor `tensor` of the
    /// archive's [`BaseTable`]: a checkpoint outside the archive.
    Tensor {
        /// Position in [`BaseTable::tensors`].
        tensor: u32,
        /// First byte within that tensor's data.
        offset: u64,
    },
}

impl ChunkRef {
    /// How many deltas lie between this chunk and bytes that need no
    /// further decoding (0 for a chunk coded on its own).
    pub fn delta_depth(&self) -> u32 {
        let mut depth = 0;
        let mut at = self;
        loop {
            match &at.base {
                None => return depth,
                Some(ChunkBase::Tensor { .. }) => return depth + 1,
                Some(ChunkBase::Chunk(b)) => {
                    depth += 1;
                    at = b;
                }
            }
        }
    }

    /// Whether the chunk needs tensors of the archive's base to decode.
    pub fn needs_base(&self) -> bool {
        let mut at = self;
        loop {
            match &at.base {
                None => return false,
                Some(ChunkBase::Tensor { .. }) => return true,
                Some(ChunkBase::Chunk(b)) => at = b,
            }
        }
    }
}

/// The checkpoint an archive's delta chunks were coded against (version
/// 4): the tensors they use, each with the BLAKE3 digest of its data, so
/// that a reader can tell the right base from any other.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BaseTable {
    /// What the base was called when the archive was made (its path as
    /// given to `--base`); shown when the base is missing.
    pub label: String,
    /// A single file or a folder (a `.wz` base: what it held).
    pub root: RootKind,
    /// The tensors delta chunks use.
    pub tensors: Vec<BaseTensor>,
}

/// One tensor of a base.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BaseTensor {
    /// The file that holds it, as a path inside the base (a single-file
    /// base: its file name).
    pub file: String,
    /// The tensor's name in that file.
    pub name: String,
    /// Bytes of its data.
    pub len: u64,
    /// BLAKE3 of its data.
    pub hash: [u8; 32],
}

/// What a segment of the original file is.
#[derive(Clone, Debug, PartialEq)]
pub enum SegmentKind {
    /// Bytes that are not a tensor's data (headers, metadata, padding); they
    /// are taken in order from the entry's passthrough stream.
    Passthrough,
    /// A tensor's data, coded in its own chunks.
    Tensor {
        /// The tensor's name in its file.
        name: String,
        /// Its element or block type.
        ty: Option<TensorType>,
        /// Its dimensions, as the file lists them.
        shape: Vec<u64>,
    },
}

/// A contiguous run of the original file.
#[derive(Clone, Debug, PartialEq)]
pub struct Segment {
    /// What the segment is.
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
    /// Format detected when compressing: 0 unknown, 1 safetensors, 2 GGUF,
    /// 3 PyTorch zip checkpoint.
    pub file_kind: u8,
    /// The segments, in file order, covering the file exactly.
    pub segments: Vec<Segment>,
    /// Chunks of the concatenated passthrough bytes.
    pub passthrough: Vec<ChunkRef>,
    /// Permission bits and modification time (none in version 1).
    pub attrs: Attrs,
}

/// A file's permission bits and modification time, where known.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Attrs {
    /// Permission bits (`0o7777` at most; setuid and setgid are never
    /// restored).
    pub mode: Option<u32>,
    /// Modification time since the Unix epoch.
    pub mtime: Option<Mtime>,
}

/// A time since the Unix epoch (negative before it).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Mtime {
    /// Whole seconds (negative before 1970).
    pub secs: i64,
    /// Below 1e9.
    pub nanos: u32,
}

/// A folder member that holds no data of its own (version 2).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ExtraKind {
    /// A folder (empty, or kept for its mode and time).
    Dir,
    /// A symbolic link and its target text, stored as it is.
    Symlink {
        /// The link's text.
        target: String,
    },
    /// Another name of the file entry at this position of
    /// [`Index::entries`] (a hard link).
    Hardlink {
        /// Position in [`Index::entries`].
        entry: usize,
    },
}

/// A folder, symbolic link or hard link of a folder archive.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Extra {
    /// Relative path (`/`-separated).
    pub path: String,
    /// What it is.
    pub kind: ExtraKind,
    /// Its mode and time.
    pub attrs: Attrs,
}

/// Everything needed to replay the original files.
#[derive(Clone, Debug, PartialEq)]
pub struct Index {
    /// One file or a folder.
    pub root: RootKind,
    /// The files, in path order.
    pub entries: Vec<Entry>,
    /// Folders and links (version 2; always empty for a single file).
    pub extras: Vec<Extra>,
    /// The checkpoint delta chunks were coded against, if any (version 4).
    pub base: Option<BaseTable>,
}

/// The file header bytes.
pub fn header_bytes() -> [u8; HEADER_LEN as usize] {
    let mut h = [0u8; HEADER_LEN as usize];
    h[..8].copy_from_slice(&MAGIC);
    h[8..12].copy_from_slice(&FORMAT_VERSION.to_le_bytes());
    h
}

/// Checks the file header and returns its format version.
pub fn check_header(h: &[u8]) -> Result<u32> {
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
    let flags = u32::from_le_bytes([h[12], h[13], h[14], h[15]]);
    if flags != 0 {
        return Err(WzError::UnknownFlags(flags));
    }
    Ok(version)
}

/// Where the index is, read from the footer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Footer {
    /// Format version (equal to the header's).
    pub version: u32,
    /// Where the stored index starts.
    pub index_offset: u64,
    /// Its length in the archive.
    pub index_len: u64,
    /// xxh3-64 of the stored index bytes.
    pub index_checksum: u64,
}

impl Footer {
    /// The footer bytes.
    pub fn to_bytes(self) -> [u8; FOOTER_LEN as usize] {
        let mut f = [0u8; FOOTER_LEN as usize];
        f[..8].copy_from_slice(&self.index_offset.to_le_bytes());
        f[8..16].copy_from_slice(&self.index_len.to_le_bytes());
        f[16..24].copy_from_slice(&self.index_checksum.to_le_bytes());
        f[24..28].copy_from_slice(&self.version.to_le_bytes());
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
            version,
            index_offset: u64_at(0),
            index_len: u64_at(8),
            index_checksum: u64_at(16),
        };
        let end = footer.index_offset.checked_add(footer.index_len);
        if footer.index_offset < HEADER_LEN
            || footer.index_len == 0
            || end != Some(file_len - FOOTER_LEN)
        {
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

impl Index {
    /// Total original bytes of all entries.
    pub fn total_size(&self) -> u64 {
        self.entries.iter().map(|e| e.size).sum()
    }
}

impl Entry {
    /// The tensor segments with their names.
    pub fn tensors(&self) -> impl Iterator<Item = (&str, &Segment)> {
        self.segments.iter().filter_map(|s| match &s.kind {
            SegmentKind::Tensor { name, .. } => Some((name.as_str(), s)),
            SegmentKind::Passthrough => None,
        })
    }

    /// All chunks of the entry: passthrough first, then each tensor's.
    pub fn chunks(&self) -> impl Iterator<Item = &ChunkRef> {
        self.passthrough
            .iter()
            .chain(self.segments.iter().flat_map(|s| s.chunks.iter()))
    }
}
