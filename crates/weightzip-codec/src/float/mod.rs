//! Float codecs: each value is split into symbol planes whose statistics
//! differ (exponent vs sign + mantissa), and every plane is stored as a
//! self-describing entropy stream (rANS where it pays, else raw).
//!
//! Encoding layout (all three codecs): `n: varint` whole elements, `tail_len:
//! u8` and the tail bytes (an input that is not a whole number of elements),
//! then one stream per plane, each holding `n` symbols.

use std::cell::RefCell;

use weightzip_entropy::rans::{decode_pair, Decoder, Kernel};
use weightzip_entropy::stream::{
    encode_stream_pair_keyed, encode_stream_pair_with, encode_stream_with, parse_stream, StreamView,
};
use weightzip_entropy::DEFAULT_PROB_BITS;
use weightzip_entropy::{histogram, read_at, write_varint, ByteReader, DecodeTable, FreqTable};

use crate::error::{CodecError, EntropyContext, Result};

pub mod bf16_alias;
pub mod bf16_joint;
pub mod bf16_planes;
pub mod bytes;
pub mod fp16;
pub mod fp16_alias;
pub mod fp32;
#[cfg(test)]
mod tests;
#[cfg(target_arch = "x86_64")]
mod x86;

/// Symbols per plane decoded per step: a block of every plane stays in L1
/// next to the decode tables, so the planes are interleaved into the output
/// while hot, and no plane is ever materialised whole.
const BLOCK: usize = 2048;

thread_local! {
    /// Plane scratch of the encoders, reused across calls: no allocation
    /// and no zeroing per chunk once it has grown.
    static PLANES: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// Writes the header, splits `data` into `P` planes with `split` (one
/// element's little-endian bytes to one symbol per plane), and appends one
/// stream per plane.
fn encode_planes<const W: usize, const P: usize>(
    codec: &'static str,
    data: &[u8],
    out: &mut Vec<u8>,
    split: impl Fn(&[u8; W]) -> [u8; P],
) -> Result<()> {
    let n = write_header::<W>(data, out);
    encode_plane_streams(codec, &data[..n * W], out, split)
}

/// Writes `n: varint` whole elements and the tail; returns `n`.
fn write_header<const W: usize>(data: &[u8], out: &mut Vec<u8>) -> usize {
    let n = data.len() / W;
    let tail = &data[n * W..];
    write_varint(out, n as u64);
    out.push(tail.len() as u8);
    out.extend_from_slice(tail);
    n
}

/// Splits whole elements into `P` planes and appends one stream per plane.
fn encode_plane_streams<const W: usize, const P: usize>(
    codec: &'static str,
    data: &[u8],
    out: &mut Vec<u8>,
    split: impl Fn(&[u8; W]) -> [u8; P],
) -> Result<()> {
    let n = data.len() / W;
    PLANES.with(|cell| {
        let mut scratch = cell.borrow_mut();
        if scratch.len() < n * P {
            scratch.resize(n * P, 0);
        }
        let mut planes: [&mut [u8]; P] = std::array::from_fn(|_| <&mut [u8]>::default());
        let mut rest = &mut scratch[..n * P];
        for plane in planes.iter_mut() {
            let (head, tail) = rest.split_at_mut(n);
            *plane = head;
            rest = tail;
        }
        for (i, element) in data[..n * W].chunks_exact(W).enumerate() {
            let symbols = split(element.try_into().expect("whole element"));
            for (plane, s) in planes.iter_mut().zip(symbols) {
                plane[i] = s;
            }
        }
        // Two planes at a time: the encoder codes a pair in lock step.
        let mut pairs = planes.chunks_exact(2);
        for pair in &mut pairs {
            let (a, b) = (&*pair[0], &*pair[1]);
            let (ha, hb) = (histogram(a), histogram(b));
            encode_stream_pair_with(a, &ha, b, &hb, DEFAULT_PROB_BITS, out).in_codec(codec)?;
        }
        for plane in pairs.remainder() {
            encode_stream_with(plane, &histogram(plane), DEFAULT_PROB_BITS, out).in_codec(codec)?;
        }
        Ok(())
    })
}

/// Where one plane's symbols come from while decoding.
enum Source<'a> {
    /// Stored raw: read in place.
    Raw(&'a [u8]),
    /// One symbol repeated (its block buffer is filled once).
    Constant,
    /// rANS-coded: decoded block by block.
    Rans(Decoder<'a>),
}

/// Parses the header and the `P` plane streams of one encoding that must
/// decode to `out_len` bytes, then decodes the planes block by block and
/// hands each block to `combine(first_element, [plane symbols; P])`, which
/// writes the output. Returns the tail bytes (the input's last partial
/// element), which the caller copies.
fn decode_planes<'a, const W: usize, const P: usize>(
    codec: &'static str,
    input: &'a [u8],
    out_len: usize,
    combine: impl FnMut(usize, [&[u8]; P]),
) -> Result<&'a [u8]> {
    let (n, tail, pos) = parse_header::<W>(codec, input, out_len)?;
    decode_plane_streams(codec, input, pos, n, combine)?;
    Ok(tail)
}

/// Parses `n` and the tail of an encoding that must decode to `out_len`
/// bytes; returns them and the position after the header.
fn parse_header<'a, const W: usize>(
    codec: &'static str,
    input: &'a [u8],
    out_len: usize,
) -> Result<(usize, &'a [u8], usize)> {
    let mut pos = 0;
    let n = read_at(input, &mut pos, ByteReader::varint).in_codec(codec)?;
    let n_expected = out_len / W;
    if n != n_expected as u64 {
        return Err(CodecError::Corrupt {
            codec,
            offset: 0,
            reason: format!("holds {n} elements, the output needs {n_expected}"),
        });
    }
    let n = n_expected;
    let tail_len = out_len - n * W;
    let stored_tail = input.get(pos).copied().map(usize::from);
    if stored_tail != Some(tail_len) {
        return Err(CodecError::Corrupt {
            codec,
            offset: pos,
            reason: format!("tail length {stored_tail:?}, expected {tail_len}"),
        });
    }
    pos += 1;
    let tail = input
        .get(pos..pos + tail_len)
        .ok_or_else(|| CodecError::Corrupt {
            codec,
            offset: pos,
            reason: "truncated tail".into(),
        })?;
    Ok((n, tail, pos + tail_len))
}

/// Writes an alphabet of 1..=256 ascending values: `count - 1: u8`, then
/// the first value and each difference as varints.
fn write_alphabet(alphabet: &[u16], out: &mut Vec<u8>) {
    out.push((alphabet.len() - 1) as u8);
    let mut prev = 0;
    for &v in alphabet {
        write_varint(out, u64::from(v - prev));
        prev = v;
    }
}

/// Reads an alphabet written by [`write_alphabet`]: strictly ascending
/// values below `limit`.
fn read_alphabet(
    codec: &'static str,
    input: &[u8],
    pos: &mut usize,
    limit: u16,
) -> Result<Vec<u16>> {
    let corrupt = |offset: usize, reason: String| CodecError::Corrupt {
        codec,
        offset,
        reason,
    };
    let count = usize::from(
        *input
            .get(*pos)
            .ok_or_else(|| corrupt(*pos, "truncated alphabet".into()))?,
    ) + 1;
    *pos += 1;
    let mut alphabet = Vec::with_capacity(count);
    let mut prev = 0u64;
    for i in 0..count {
        let at = *pos;
        // Saturating: a hostile delta must fail the range check, not wrap.
        let v = prev.saturating_add(read_at(input, pos, ByteReader::varint).in_codec(codec)?);
        if (i > 0 && v == prev) || v >= u64::from(limit) {
            return Err(corrupt(
                at,
                format!("alphabet entry {v} out of order or range"),
            ));
        }
        alphabet.push(v as u16);
        prev = v;
    }
    Ok(alphabet)
}

/// Reads `m`, the values in the first of the two halves of `n` values
/// that are coded as independent rANS payloads.
fn read_first_half(codec: &'static str, input: &[u8], pos: &mut usize, n: usize) -> Result<usize> {
    let at = *pos;
    let m = read_at(input, pos, ByteReader::varint).in_codec(codec)?;
    // The encoder's first half is a whole number of 32-value groups (so the
    // second half's bits start on a byte) and not the longer.
    usize::try_from(m)
        .ok()
        .filter(|&m| m <= n / 2 && m % 32 == 0)
        .ok_or_else(|| CodecError::Corrupt {
            codec,
            offset: at,
            reason: format!("first half of {m} values for {n}"),
        })
}

/// Values per half decoded per step of [`decode_rest_in_blocks`] (see
/// `docs/PERFORMANCE.md`).
const ALIAS_BLOCK: usize = 1024;

/// Decodes what a fused pass left of two halves of `m` and `n - m` values
/// (from value `start` of each on), block by block: each half's next
/// symbols into a buffer, then `merge(first, symbols)` for its values from
/// `first`; then checks that both payloads ended exactly.
fn decode_rest_in_blocks(
    codec: &'static str,
    decs: [Decoder<'_>; 2],
    m: usize,
    n: usize,
    mut start: usize,
    kernel: Kernel,
    mut merge: impl FnMut(usize, &[u8]),
) -> Result<()> {
    let [mut da, mut db] = decs;
    let mut bufs = [[0u8; ALIAS_BLOCK]; 2];
    while start < n - m {
        let len = [
            ALIAS_BLOCK.min(m.saturating_sub(start)),
            ALIAS_BLOCK.min(n - m - start),
        ];
        let [ba, bb] = &mut bufs;
        decode_pair(
            &mut da,
            &mut ba[..len[0]],
            &mut db,
            &mut bb[..len[1]],
            kernel,
        )
        .in_codec(codec)?;
        for (p, first) in [(0, start), (1, m + start)] {
            if len[p] > 0 {
                merge(first, &bufs[p][..len[p]]);
            }
        }
        start += ALIAS_BLOCK;
    }
    da.finish().in_codec(codec)?;
    db.finish().in_codec(codec)
}

/// Reads the two rANS payloads of the halves, each as `len: varint` and
/// its bytes, bounded by the input.
fn read_payload_pair<'a>(
    codec: &'static str,
    input: &'a [u8],
    pos: &mut usize,
) -> Result<[&'a [u8]; 2]> {
    let mut payloads = [&input[..0]; 2];
    for p in &mut payloads {
        let at = *pos;
        let len = read_at(input, pos, ByteReader::varint).in_codec(codec)?;
        *p = usize::try_from(len)
            .ok()
            .and_then(|len| input.get(*pos..pos.checked_add(len)?))
            .ok_or_else(|| CodecError::Corrupt {
                codec,
                offset: at,
                reason: format!("payload of {len} bytes past the end"),
            })?;
        *pos += p.len();
    }
    Ok(payloads)
}

/// Decodes the `P` plane streams of `n` symbols each that start at `pos`
/// and end the input, block by block (see [`decode_planes`]).
fn decode_plane_streams<const P: usize>(
    codec: &'static str,
    input: &[u8],
    mut pos: usize,
    n: usize,
    mut combine: impl FnMut(usize, [&[u8]; P]),
) -> Result<()> {
    let mut views: [Option<StreamView<'_>>; P] = [const { None }; P];
    for view in views.iter_mut() {
        *view = Some(read_at(input, &mut pos, |r| parse_stream(r, n)).in_codec(codec)?);
    }
    if pos != input.len() {
        return Err(CodecError::Corrupt {
            codec,
            offset: pos,
            reason: format!("{} trailing bytes", input.len() - pos),
        });
    }
    let mut tables: [Option<DecodeTable>; P] = [const { None }; P];
    for (table, view) in tables.iter_mut().zip(&views) {
        if let Some(StreamView::Rans { table: t, .. }) = view {
            *table = Some(DecodeTable::new(t));
        }
    }
    let mut bufs = [[0u8; BLOCK]; P];
    let mut sources: [Option<Source<'_>>; P] = [const { None }; P];
    for p in 0..P {
        sources[p] = Some(match views[p].take().expect("parsed") {
            StreamView::Raw(bytes) => Source::Raw(bytes),
            StreamView::Constant { symbol, .. } => {
                bufs[p].fill(symbol);
                Source::Constant
            }
            StreamView::Rans { payload, .. } => {
                let table = tables[p].as_ref().expect("built above");
                Source::Rans(Decoder::new(payload, table, n).in_codec(codec)?)
            }
        });
    }
    let kernel = Kernel::best();
    let mut start = 0;
    while start < n {
        let len = BLOCK.min(n - start);
        // rANS planes two by two in lock step, an odd one alone.
        let mut waiting: Option<usize> = None;
        for p in 0..P {
            if !matches!(sources[p], Some(Source::Rans(_))) {
                continue;
            }
            match waiting.take() {
                None => waiting = Some(p),
                Some(a) => {
                    let (lo, hi) = sources.split_at_mut(p);
                    let (blo, bhi) = bufs.split_at_mut(p);
                    if let (Some(Source::Rans(da)), Some(Source::Rans(db))) =
                        (&mut lo[a], &mut hi[0])
                    {
                        decode_pair(da, &mut blo[a][..len], db, &mut bhi[0][..len], kernel)
                            .in_codec(codec)?;
                    }
                }
            }
        }
        if let Some(a) = waiting {
            if let Some(Source::Rans(d)) = &mut sources[a] {
                d.decode_with(&mut bufs[a][..len], kernel).in_codec(codec)?;
            }
        }
        let mut blocks: [&[u8]; P] = [&[]; P];
        for (p, block) in blocks.iter_mut().enumerate() {
            *block = match &sources[p] {
                Some(Source::Raw(bytes)) => &bytes[start..start + len],
                _ => &bufs[p][..len],
            };
        }
        combine(start, blocks);
        start += len;
    }
    for source in sources.into_iter().flatten() {
        if let Source::Rans(d) = source {
            d.finish().in_codec(codec)?;
        }
    }
    Ok(())
}
