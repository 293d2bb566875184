//! Whole GGUF files cut into streams ("decomposition"): the study's
//! `decomp_perstream_*` family and `decomp_qb_full`.
//!
//! The file is parsed with `weightzip_format::layout_of` and cut, in file
//! order, into segments of four kinds:
//! - **meta**: every byte not inside a tensor (GGUF header, KV metadata,
//!   tensor infos, alignment padding, anything after the last tensor);
//! - **Q4_K**: one Q4_K tensor's blocks, which feed two streams: the
//!   *Q4_K headers* (the 16 bytes d, dmin, scales of every block) and the
//!   *Q4_K nibbles* (the 128 quant bytes of every block);
//! - **other quantized**: the bytes of every other block-quantized tensor
//!   (Q5_0, Q6_K, Q8_0, …);
//! - **plain**: the bytes of every tensor of a one-element-per-"block"
//!   type: the float tensors F32 / F16 / BF16 (and F64, I8–I64 if present).
//!
//! A file that does not parse is one meta segment. The **manifest** lists
//! the segments as (kind: u8, length: varint) after a varint count; it is
//! compressed as a stream of its own. Layout of a compressed file:
//! `manifest_len` (varint), then for each stream in the order manifest,
//! meta, Q4_K headers, Q4_K nibbles, other quantized, plain: the compressed
//! length (varint) and the payload (an empty stream has length 0 and no
//! payload). Each stream's decoded length follows from the manifest, which
//! must add up to the original length.

use weightzip_format::{layout_of, GgmlType, TensorType};

use crate::backend::Backend;
use crate::error::{corrupt, MethodError};
use crate::profile::require;
use crate::q4k::{qb_decode, qb_encode, qb_tables, qb_train, BLOCK, HEADER};
use crate::util::{merge_planes, split_planes, Reader};
use crate::{Corpus, Method, MethodClass, Profile, Result};

/// Segment kinds of the manifest.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum SegmentKind {
    /// Bytes outside every tensor.
    Meta = 0,
    /// One Q4_K tensor.
    Q4k = 1,
    /// A tensor of another block-quantized type.
    OtherQuant = 2,
    /// A float (or integer) tensor.
    Plain = 3,
}

impl SegmentKind {
    fn from_u8(b: u8) -> Option<Self> {
        [Self::Meta, Self::Q4k, Self::OtherQuant, Self::Plain]
            .into_iter()
            .find(|k| *k as u8 == b)
    }
}

/// The segments of `file` in order; adjacent meta runs are merged, tensors
/// stay one segment each.
pub fn segments(file: &[u8]) -> Vec<(SegmentKind, usize)> {
    let mut segs: Vec<(SegmentKind, usize)> = Vec::new();
    let push = |segs: &mut Vec<(SegmentKind, usize)>, kind, len: usize| {
        if len == 0 {
            return;
        }
        match segs.last_mut() {
            Some((SegmentKind::Meta, l)) if kind == SegmentKind::Meta => *l += len,
            _ => segs.push((kind, len)),
        }
    };
    let mut pos = 0usize;
    if let Ok(layout) = layout_of(file) {
        for t in &layout.tensors {
            let (Ok(start), Ok(len)) = (usize::try_from(t.offset), usize::try_from(t.len)) else {
                continue;
            };
            let Some(end) = start.checked_add(len) else {
                continue;
            };
            if start < pos || end > file.len() {
                continue;
            }
            push(&mut segs, SegmentKind::Meta, start - pos);
            let kind = match t.ty {
                TensorType::Ggml(GgmlType::Q4_K) if len % BLOCK == 0 => SegmentKind::Q4k,
                TensorType::Ggml(g) if g.is_quantized() => SegmentKind::OtherQuant,
                _ => SegmentKind::Plain,
            };
            push(&mut segs, kind, len);
            pos = end;
        }
    }
    push(&mut segs, SegmentKind::Meta, file.len() - pos);
    segs
}

/// The Q4_K tensors of a file, as block streams.
pub fn q4k_tensors(file: &[u8]) -> Vec<&[u8]> {
    let mut out = Vec::new();
    let mut pos = 0;
    for (kind, len) in segments(file) {
        if kind == SegmentKind::Q4k {
            out.push(&file[pos..pos + len]);
        }
        pos += len;
    }
    out
}

fn write_manifest(segs: &[(SegmentKind, usize)]) -> Vec<u8> {
    let mut m = Vec::with_capacity(segs.len() * 4 + 4);
    weightzip_entropy::write_varint(&mut m, segs.len() as u64);
    for &(k, l) in segs {
        m.push(k as u8);
        weightzip_entropy::write_varint(&mut m, l as u64);
    }
    m
}

fn read_manifest(
    method: &'static str,
    m: &[u8],
    original_len: usize,
) -> Result<Vec<(SegmentKind, usize)>> {
    let mut r = Reader::new(method, m);
    let count = r.len(m.len() / 2, "segment count")?;
    let mut segs = Vec::with_capacity(count);
    let mut total = 0usize;
    for _ in 0..count {
        let at = r.pos();
        let kind = SegmentKind::from_u8(r.u8("segment kind")?)
            .ok_or_else(|| corrupt(method, at, "unknown segment kind"))?;
        let len = r.len(original_len - total, "segment length")?;
        if kind == SegmentKind::Q4k && len % BLOCK != 0 {
            return Err(corrupt(method, at, "Q4_K segment is not whole blocks"));
        }
        total += len;
        segs.push((kind, len));
    }
    r.finish()?;
    if total != original_len {
        return Err(MethodError::LengthMismatch {
            method,
            expected: original_len,
            found: total,
        });
    }
    Ok(segs)
}

/// How the Q4_K segments are coded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Q4kMode {
    /// Header and nibble streams through the backend.
    Streams,
    /// Header stream byte-grouped (byte j of every block together) first.
    ByteGroupedHeaders,
    /// Each Q4_K tensor by qb_k4's trained tables.
    Qb,
}

/// `decomp_perstream_zstd3`, `decomp_perstream_zstd19`,
/// `decomp_perstream_xz6`, `decomp_perstream_zstd19_bgscale` and
/// `decomp_qb_full`: the file cut into streams (module docs), each stream
/// compressed alone.
///
/// - `decomp_perstream_{zstd3,zstd19,xz6}`: every stream (manifest too) is
///   one zstd-3 / zstd-19 frame / xz preset-6 stream.
/// - `decomp_perstream_zstd19_bgscale`: as `_zstd19`, but the Q4_K header
///   stream is byte-grouped first: its 16 planes (byte j of every block's
///   16-byte header, j = 0..15) one after the other.
/// - `decomp_qb_full` (trained-profile): each Q4_K tensor is coded alone by
///   `qb_k4` with the profile (trained on the Q4_K tensors of the train
///   GGUF files; a `qb_k4` profile is accepted too), in place of the two
///   Q4_K streams: after the other streams, for each Q4_K segment in order,
///   its length (varint) and its qb_k4 bytes; manifest, meta, other
///   quantized and plain streams are zstd-19.
#[derive(Clone, Copy, Debug)]
pub struct PerStream {
    name: &'static str,
    backend: Backend,
    q4k: Q4kMode,
}

const QB_FULL: &str = "decomp_qb_full";

impl PerStream {
    /// The six streams of `input`: manifest, meta, Q4_K headers, Q4_K
    /// nibbles, other quantized, plain (the Q4_K streams stay empty for
    /// `decomp_qb_full`).
    fn streams(&self, input: &[u8], segs: &[(SegmentKind, usize)]) -> [Vec<u8>; 6] {
        let mut s: [Vec<u8>; 6] = Default::default();
        s[0] = write_manifest(segs);
        let mut pos = 0;
        for &(kind, len) in segs {
            let bytes = &input[pos..pos + len];
            pos += len;
            match kind {
                SegmentKind::Meta => s[1].extend_from_slice(bytes),
                SegmentKind::OtherQuant => s[4].extend_from_slice(bytes),
                SegmentKind::Plain => s[5].extend_from_slice(bytes),
                SegmentKind::Q4k if self.q4k != Q4kMode::Qb => {
                    for b in bytes.chunks_exact(BLOCK) {
                        s[2].extend_from_slice(&b[..HEADER]);
                        s[3].extend_from_slice(&b[HEADER..]);
                    }
                }
                SegmentKind::Q4k => {}
            }
        }
        if self.q4k == Q4kMode::ByteGroupedHeaders {
            let (planes, _) = split_planes(&s[2], HEADER);
            s[2] = planes.concat();
        }
        s
    }

    fn profile_tables(
        &self,
        profile: Option<&Profile>,
    ) -> Result<Option<crate::mixture::TableSet>> {
        if self.q4k != Q4kMode::Qb {
            return Ok(None);
        }
        let p = require(self.name, &[QB_FULL, "qb_k4"], profile)?;
        Ok(Some(qb_tables(self.name, &p.bytes)?))
    }
}

impl Method for PerStream {
    fn name(&self) -> &'static str {
        self.name
    }

    /// Byte-grouped (streams cut by field, then coded), as in the study's
    /// figure notebook (`METHOD_CLASS`), `decomp_qb_full` included; its
    /// trained profile is charged all the same.
    fn class(&self) -> MethodClass {
        MethodClass::ByteGrouped
    }

    fn applies_to(&self, corpus: Corpus) -> bool {
        corpus == Corpus::GgufFile
    }

    fn is_trained(&self) -> bool {
        self.q4k == Q4kMode::Qb
    }

    fn train(&self, _corpus: Corpus, items: &[&[u8]]) -> Result<Option<Profile>> {
        if self.q4k != Q4kMode::Qb {
            return Ok(None);
        }
        let tensors: Vec<&[u8]> = items.iter().flat_map(|f| q4k_tensors(f)).collect();
        let set = qb_train(self.name, &tensors, 4)?;
        Ok(Some(Profile::new(self.name, set.to_bytes()?)))
    }

    fn compress(&self, input: &[u8], profile: Option<&Profile>) -> Result<Vec<u8>> {
        let set = self.profile_tables(profile)?;
        let segs = segments(input);
        let streams = self.streams(input, &segs);
        let mut out = Vec::with_capacity(input.len());
        weightzip_entropy::write_varint(&mut out, streams[0].len() as u64);
        for s in &streams {
            if s.is_empty() {
                out.push(0);
                continue;
            }
            let z = self.backend.compress(self.name, s)?;
            weightzip_entropy::write_varint(&mut out, z.len() as u64);
            out.extend_from_slice(&z);
        }
        if let Some(set) = &set {
            let mut pos = 0;
            for &(kind, len) in &segs {
                if kind == SegmentKind::Q4k {
                    let mut z = Vec::with_capacity(len);
                    qb_encode(self.name, set, &input[pos..pos + len], &mut z)?;
                    weightzip_entropy::write_varint(&mut out, z.len() as u64);
                    out.extend_from_slice(&z);
                }
                pos += len;
            }
        }
        Ok(out)
    }

    fn decompress(
        &self,
        compressed: &[u8],
        original_len: usize,
        profile: Option<&Profile>,
    ) -> Result<Vec<u8>> {
        let set = self.profile_tables(profile)?;
        let name = self.name;
        let mut r = Reader::new(name, compressed);
        // Each segment takes at most 11 manifest bytes and holds >= 1 byte.
        let limit = original_len
            .saturating_add(1)
            .saturating_mul(11)
            .saturating_add(10);
        let manifest_len = r.len(limit.min(1 << 28), "manifest length")?;
        let next = |r: &mut Reader<'_>, raw_len: usize| -> Result<Vec<u8>> {
            let z = r.prefixed("stream")?;
            if raw_len == 0 {
                if !z.is_empty() {
                    return Err(corrupt(name, r.pos(), "payload for an empty stream"));
                }
                return Ok(Vec::new());
            }
            self.backend.decompress(name, z, raw_len)
        };
        let manifest = next(&mut r, manifest_len)?;
        let segs = read_manifest(name, &manifest, original_len)?;
        let total =
            |k: SegmentKind| -> usize { segs.iter().filter(|s| s.0 == k).map(|s| s.1).sum() };
        let q4k_len = total(SegmentKind::Q4k);
        let n_blocks = q4k_len / BLOCK;
        let (head_len, nib_len) = if self.q4k == Q4kMode::Qb {
            (0, 0)
        } else {
            (n_blocks * HEADER, n_blocks * (BLOCK - HEADER))
        };
        let meta = next(&mut r, total(SegmentKind::Meta))?;
        let mut heads = next(&mut r, head_len)?;
        let nibs = next(&mut r, nib_len)?;
        let other = next(&mut r, total(SegmentKind::OtherQuant))?;
        let plain = next(&mut r, total(SegmentKind::Plain))?;
        if self.q4k == Q4kMode::ByteGroupedHeaders {
            let planes: Vec<&[u8]> = heads.chunks(n_blocks.max(1)).collect();
            let mut merged = Vec::with_capacity(heads.len());
            if n_blocks > 0 {
                merge_planes(&planes, &[], &mut merged);
            }
            heads = merged;
        }
        let mut out = Vec::with_capacity(original_len);
        let (mut im, mut ih, mut io, mut ip) = (0usize, 0usize, 0usize, 0usize);
        for &(kind, len) in &segs {
            match kind {
                SegmentKind::Meta => {
                    out.extend_from_slice(&meta[im..im + len]);
                    im += len;
                }
                SegmentKind::OtherQuant => {
                    out.extend_from_slice(&other[io..io + len]);
                    io += len;
                }
                SegmentKind::Plain => {
                    out.extend_from_slice(&plain[ip..ip + len]);
                    ip += len;
                }
                SegmentKind::Q4k => match &set {
                    Some(set) => {
                        let at = r.pos();
                        let z = r.prefixed("Q4_K tensor")?;
                        out.extend_from_slice(&qb_decode(name, set, z, len, at)?);
                    }
                    None => {
                        for _ in 0..len / BLOCK {
                            out.extend_from_slice(&heads[ih * HEADER..(ih + 1) * HEADER]);
                            out.extend_from_slice(
                                &nibs[ih * (BLOCK - HEADER)..(ih + 1) * (BLOCK - HEADER)],
                            );
                            ih += 1;
                        }
                    }
                },
            }
        }
        r.finish()?;
        Ok(out)
    }
}

/// The untrained decomposition methods.
pub fn untrained_methods() -> Vec<Box<dyn Method>> {
    let m = |name, backend, q4k| -> Box<dyn Method> { Box::new(PerStream { name, backend, q4k }) };
    vec![
        m("decomp_perstream_zstd3", Backend::Zstd(3), Q4kMode::Streams),
        m(
            "decomp_perstream_zstd19",
            Backend::Zstd(19),
            Q4kMode::Streams,
        ),
        m("decomp_perstream_xz6", Backend::Xz(6), Q4kMode::Streams),
        m(
            "decomp_perstream_zstd19_bgscale",
            Backend::Zstd(19),
            Q4kMode::ByteGroupedHeaders,
        ),
    ]
}

/// `decomp_qb_full`.
pub fn trained_methods() -> Vec<Box<dyn Method>> {
    vec![Box::new(PerStream {
        name: QB_FULL,
        backend: Backend::Zstd(19),
        q4k: Q4kMode::Qb,
    })]
}
