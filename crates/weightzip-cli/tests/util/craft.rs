//! Hand-built `.wz` archives (docs/FORMAT.md, version 1), written byte by
//! byte without the library, so a hostile archive says exactly what a test
//! wants it to say.

use xxhash_rust::xxh3::xxh3_64;

pub const MAGIC: [u8; 8] = *b"\x89WZIP\r\n\x1a";
pub const HEADER_LEN: u64 = 16;
pub const CODEC_STORE: u8 = 0;
pub const CODEC_ZSTD: u8 = 1;
pub const CODEC_BF16: u8 = 2;

pub fn varint(out: &mut Vec<u8>, mut v: u64) {
    loop {
        let b = (v & 0x7f) as u8;
        v >>= 7;
        if v == 0 {
            out.push(b);
            return;
        }
        out.push(b | 0x80);
    }
}

pub fn string(out: &mut Vec<u8>, s: &[u8]) {
    varint(out, s.len() as u64);
    out.extend_from_slice(s);
}

/// One chunk reference as the index stores it.
#[derive(Clone, Copy, Debug)]
pub struct Chunk {
    pub offset: u64,
    pub stored_len: u64,
    pub raw_len: u64,
    pub codec: u8,
    pub checksum: u64,
}

pub fn chunks(out: &mut Vec<u8>, cs: &[Chunk]) {
    varint(out, cs.len() as u64);
    for c in cs {
        varint(out, c.offset);
        varint(out, c.stored_len);
        varint(out, c.raw_len);
        out.push(c.codec);
        out.extend_from_slice(&c.checksum.to_le_bytes());
    }
}

/// A segment of an entry.
pub enum Seg<'a> {
    Pass(u64),
    /// A BF16 tensor without shape, of `len` bytes in `chunks`.
    Tensor(u64, &'a str, Vec<Chunk>),
}

/// Appends one entry (path, size, checksum, file kind 0, passthrough
/// chunks, segments) to a serialised index.
pub fn entry(
    out: &mut Vec<u8>,
    path: &[u8],
    size: u64,
    checksum: u64,
    pass: &[Chunk],
    segs: &[Seg],
) {
    string(out, path);
    varint(out, size);
    out.extend_from_slice(&checksum.to_le_bytes());
    out.push(0);
    chunks(out, pass);
    varint(out, segs.len() as u64);
    for s in segs {
        match s {
            Seg::Pass(len) => {
                out.push(0);
                varint(out, *len);
            }
            Seg::Tensor(len, name, cs) => {
                out.push(1);
                varint(out, *len);
                string(out, name.as_bytes());
                out.push(1);
                string(out, b"BF16");
                varint(out, 0);
                chunks(out, cs);
            }
        }
    }
}

/// Index bytes (before zstd) of `root` (0 file, 1 folder) with `n` entries
/// already serialised in `entries`.
pub fn index(root: u8, n: u64, entries: &[u8]) -> Vec<u8> {
    let mut out = vec![root];
    varint(&mut out, n);
    out.extend_from_slice(entries);
    out
}

/// A whole archive: header (with `flags`), `payloads` at offset 16, the
/// already-compressed `stored_index`, and a footer whose checksum matches it.
pub fn archive_stored(payloads: &[u8], stored_index: &[u8], flags: u32) -> Vec<u8> {
    let mut out = MAGIC.to_vec();
    out.extend_from_slice(&1u32.to_le_bytes());
    out.extend_from_slice(&flags.to_le_bytes());
    out.extend_from_slice(payloads);
    let index_offset = out.len() as u64;
    out.extend_from_slice(stored_index);
    out.extend_from_slice(&index_offset.to_le_bytes());
    out.extend_from_slice(&(stored_index.len() as u64).to_le_bytes());
    out.extend_from_slice(&xxh3_64(stored_index).to_le_bytes());
    out.extend_from_slice(&1u32.to_le_bytes());
    out.extend_from_slice(b"WZIX");
    out
}

/// [`archive_stored`] with the index zstd-compressed.
pub fn archive(payloads: &[u8], raw_index: &[u8]) -> Vec<u8> {
    let stored = zstd::bulk::compress(raw_index, 3).expect("zstd");
    archive_stored(payloads, &stored, 0)
}

/// A valid zstd frame of `len` copies of `byte`, made of RLE blocks (4 bytes
/// per 128 KiB), with no declared content size: a decompression bomb that
/// costs the writer nothing.
pub fn zstd_rle(len: u64, byte: u8) -> Vec<u8> {
    const BLOCK: u64 = 128 << 10;
    let mut out = vec![0x28, 0xb5, 0x2f, 0xfd];
    // Frame header descriptor: no content size, no checksum, not single
    // segment; window descriptor 2^(10+7) = 128 KiB.
    out.push(0x00);
    out.push(7 << 3);
    let mut left = len;
    while left > 0 {
        let n = left.min(BLOCK);
        left -= n;
        let last = u32::from(left == 0);
        let h = last | (1 << 1) | ((n as u32) << 3);
        out.extend_from_slice(&h.to_le_bytes()[..3]);
        out.push(byte);
    }
    out
}

/// A valid single-file archive of `data`, stored as one passthrough segment
/// in zstd chunks of at most 1 MiB: the control that proves the crafted
/// layout is the one the binary reads.
pub fn valid_single(name: &str, data: &[u8]) -> Vec<u8> {
    let mut payloads = Vec::new();
    let mut cs = Vec::new();
    for piece in data.chunks(1 << 20) {
        let z = zstd::bulk::compress(piece, 3).expect("zstd");
        cs.push(Chunk {
            offset: HEADER_LEN + payloads.len() as u64,
            stored_len: z.len() as u64,
            raw_len: piece.len() as u64,
            codec: CODEC_ZSTD,
            checksum: xxh3_64(piece),
        });
        payloads.extend_from_slice(&z);
    }
    let mut e = Vec::new();
    let n = data.len() as u64;
    entry(
        &mut e,
        name.as_bytes(),
        n,
        xxh3_64(data),
        &cs,
        &[Seg::Pass(n)],
    );
    archive(&payloads, &index(0, 1, &e))
}
