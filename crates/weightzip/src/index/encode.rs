//! Serialising the index (the bytes before zstd; see `docs/FORMAT.md`).

use std::collections::HashMap;

use weightzip_entropy::write_varint;
use weightzip_format::TensorType;

use super::{Attrs, ChunkBase, ChunkRef, ExtraKind, Index, RootKind, SegmentKind, FORMAT_VERSION};

pub(super) fn put_str(out: &mut Vec<u8>, s: &str) {
    write_varint(out, s.len() as u64);
    out.extend_from_slice(s.as_bytes());
}

/// Chunks already written, by payload offset, and their ordinals among
/// the stored chunks (version 3 references name a stored chunk by it).
#[derive(Default)]
struct Stored {
    by_offset: HashMap<u64, (u64, ChunkRef)>,
    count: u64,
}

fn put_chunks(out: &mut Vec<u8>, chunks: &[ChunkRef], version: u32, stored: &mut Stored) {
    write_varint(out, chunks.len() as u64);
    for c in chunks {
        if version >= 3 {
            // A chunk identical to one already listed shares its payload:
            // it is written as a reference to it.
            if let Some(ordinal) = stored.ordinal(c) {
                out.push(1);
                write_varint(out, ordinal);
                continue;
            }
            stored.by_offset.insert(c.offset, (stored.count, c.clone()));
            stored.count += 1;
        }
        if version >= 4 {
            if let Some(base) = &c.base {
                out.push(2);
                write_varint(out, c.offset);
                write_varint(out, c.stored_len);
                write_varint(out, c.raw_len);
                out.extend_from_slice(&c.checksum.to_le_bytes());
                match base {
                    ChunkBase::Chunk(b) => {
                        out.push(0);
                        // The writer codes against chunks it listed before;
                        // were one missing, the ordinal would point forward
                        // and the writer's own check of the index refuses it.
                        write_varint(out, stored.ordinal(b).unwrap_or(stored.count));
                    }
                    ChunkBase::Tensor { tensor, offset } => {
                        out.push(1);
                        write_varint(out, u64::from(*tensor));
                        write_varint(out, *offset);
                    }
                }
                continue;
            }
        }
        if version >= 3 {
            out.push(0);
        }
        write_varint(out, c.offset);
        write_varint(out, c.stored_len);
        write_varint(out, c.raw_len);
        out.push(c.codec);
        out.extend_from_slice(&c.checksum.to_le_bytes());
    }
}

impl Stored {
    /// The ordinal of `c` if it was listed before (same payload, same
    /// description).
    fn ordinal(&self, c: &ChunkRef) -> Option<u64> {
        self.by_offset
            .get(&c.offset)
            .filter(|(_, s)| s == c)
            .map(|(o, _)| *o)
    }
}

pub(super) fn root_byte(root: RootKind) -> u8 {
    match root {
        RootKind::File => 0,
        RootKind::Dir => 1,
    }
}

/// Bit 0: a mode follows; bit 1: a modification time follows.
pub(super) fn put_attrs(out: &mut Vec<u8>, a: &Attrs) {
    out.push(u8::from(a.mode.is_some()) | (u8::from(a.mtime.is_some()) << 1));
    if let Some(mode) = a.mode {
        write_varint(out, u64::from(mode));
    }
    if let Some(t) = a.mtime {
        // Zigzag: small negative times stay short.
        write_varint(out, ((t.secs << 1) ^ (t.secs >> 63)) as u64);
        write_varint(out, u64::from(t.nanos));
    }
}

impl Index {
    /// Serialises the index (before zstd) in the current format version.
    pub fn to_bytes(&self) -> Vec<u8> {
        self.to_bytes_version(FORMAT_VERSION)
    }

    /// Serialises the index in format `version` (1 leaves out attributes
    /// and extras, 2 writes shared chunks out in full, 3 has no delta
    /// chunks or base table; kept to make archives of older versions in
    /// tests: an index with delta chunks has no older form).
    pub fn to_bytes_version(&self, version: u32) -> Vec<u8> {
        let mut out = Vec::new();
        let mut stored = Stored::default();
        out.push(root_byte(self.root));
        if version >= 4 {
            super::base_table::put(&mut out, self.base.as_ref());
        }
        write_varint(&mut out, self.entries.len() as u64);
        for e in &self.entries {
            put_str(&mut out, &e.path);
            write_varint(&mut out, e.size);
            out.extend_from_slice(&e.checksum.to_le_bytes());
            out.push(e.file_kind);
            put_chunks(&mut out, &e.passthrough, version, &mut stored);
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
                        put_chunks(&mut out, &s.chunks, version, &mut stored);
                    }
                }
            }
            if version >= 2 {
                put_attrs(&mut out, &e.attrs);
            }
        }
        if version >= 2 {
            write_varint(&mut out, self.extras.len() as u64);
            for x in &self.extras {
                match &x.kind {
                    ExtraKind::Dir => {
                        out.push(0);
                        put_str(&mut out, &x.path);
                    }
                    ExtraKind::Symlink { target } => {
                        out.push(1);
                        put_str(&mut out, &x.path);
                        put_str(&mut out, target);
                    }
                    ExtraKind::Hardlink { entry } => {
                        out.push(2);
                        put_str(&mut out, &x.path);
                        write_varint(&mut out, *entry as u64);
                    }
                }
                put_attrs(&mut out, &x.attrs);
            }
        }
        out
    }
}
