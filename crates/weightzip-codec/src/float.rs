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

#[cfg(target_arch = "x86_64")]
#[path = "float_x86.rs"]
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

/// `wz_bf16`: bf16 split into the 8 exponent bits and sign + 7 mantissa
/// bits. The exponent carries nearly all the redundancy (≈ 2.6 bits of 8);
/// sign + mantissa is near-uniform and is usually stored raw.
pub mod bf16 {
    use super::*;
    const NAME: &str = "wz_bf16";

    /// Appends the encoding of `data` (little-endian bf16 values).
    pub fn encode(data: &[u8], out: &mut Vec<u8>) -> Result<()> {
        encode_planes::<2, 2>(NAME, data, out, split)
    }

    /// One value to its exponent and sign + mantissa symbols.
    #[inline(always)]
    pub(super) fn split(e: &[u8; 2]) -> [u8; 2] {
        let v = u16::from_le_bytes(*e);
        [(v >> 7) as u8, ((v >> 8) as u8 & 0x80) | (v as u8 & 0x7f)]
    }

    /// Interleaves exponent and sign + mantissa symbols into values.
    pub(super) fn merge(exp: &[u8], sm: &[u8], out: &mut [u8]) {
        for ((o, &e), &s) in out.chunks_exact_mut(2).zip(exp).zip(sm) {
            let v = (u16::from(s & 0x80) << 8) | (u16::from(e) << 7) | u16::from(s & 0x7f);
            o.copy_from_slice(&v.to_le_bytes());
        }
    }

    /// Decodes one encoding into `out`.
    pub fn decode(input: &[u8], out: &mut [u8]) -> Result<()> {
        let n = out.len() / 2;
        let (body, rest) = out.split_at_mut(n * 2);
        let tail = decode_planes::<2, 2>(NAME, input, n * 2 + rest.len(), |at, [exp, sm]| {
            merge(exp, sm, &mut body[at * 2..(at + exp.len()) * 2]);
        })?;
        rest.copy_from_slice(tail);
        Ok(())
    }
}

#[path = "float_alias.rs"]
pub mod bf16a;

/// `wz_bf16j`: bf16 as one entropy-coded symbol per value plus raw bits.
///
/// The top 10 bits of a value (sign, 8 exponent bits, the top mantissa
/// bit) form a joint symbol, coded with order-0 rANS over the alphabet of
/// the values present (at most 256); the low 6 mantissa bits are stored
/// raw. Joint coding captures the dependence between sign, exponent and the
/// leading mantissa bit (which the split into exponent and sign + mantissa
/// planes of [`bf16`] loses), and decoding costs one table lookup per value
/// instead of two, so it is both smaller and about twice as fast.
///
/// Layout after the common header (`n`, tail): `layout: u8`, then
/// - `0` (split, used when more than 256 distinct top parts occur): the two
///   plane streams of [`bf16`], exactly;
/// - `1` (joint): `count - 1: u8`; the `count` distinct 10-bit top parts in
///   ascending order as varints (the first, then each difference); `m:
///   varint`, the values in the first half; the symbol stream (indices into
///   the alphabet) of values `0..m`, then of values `m..n` (two independent
///   streams, decoded in lock step); then the low bits, 6 per value in a
///   little-endian bit stream (`ceil(6n / 8)` bytes, value `i` at bit
///   `6i`).
pub mod bf16j {
    use super::*;
    const NAME: &str = "wz_bf16j";
    /// Layout byte: the plane streams of `wz_bf16` follow.
    const SPLIT: u8 = 0;
    /// Layout byte: joint symbols and raw low bits follow.
    const JOINT: u8 = 1;
    /// Raw low bits per value.
    const LOW: u32 = 6;
    /// Distinct top parts (2^(16 - LOW)).
    const TOPS: usize = 1 << (16 - LOW);

    /// Appends the encoding of `data` (little-endian bf16 values).
    pub fn encode(data: &[u8], out: &mut Vec<u8>) -> Result<()> {
        let n = write_header::<2>(data, out);
        encode_body(&data[..n * 2], out)
    }

    /// Appends the layout byte and what follows it for `values` (whole
    /// bf16 values; the header is the caller's).
    pub(super) fn encode_body(values: &[u8], out: &mut Vec<u8>) -> Result<()> {
        let n = values.len() / 2;
        // The first half is a whole number of rANS groups.
        let m = n / 64 * 32;
        let (ha, hb) = top_histograms(values, m);
        let alphabet: Vec<u16> = (0..TOPS as u16)
            .filter(|&t| ha[t as usize] + hb[t as usize] > 0)
            .collect();
        if alphabet.is_empty() || alphabet.len() > 256 {
            out.push(SPLIT);
            return encode_plane_streams::<2, 2>(NAME, values, out, super::bf16::split);
        }
        out.push(JOINT);
        write_alphabet(&alphabet, out);
        write_varint(out, m as u64);
        // Symbols are the alphabet indices of the top parts; the encoder
        // looks them up by top part straight from the values.
        let mut symbol_of = [u16::MAX; TOPS];
        let (mut ca, mut cb) = ([0u64; 256], [0u64; 256]);
        for (i, &t) in alphabet.iter().enumerate() {
            symbol_of[t as usize] = i as u16;
            ca[i] = ha[t as usize];
            cb[i] = hb[t as usize];
        }
        let (a, b) = values.split_at(m * 2);
        encode_stream_pair_keyed(a, &ca, b, &cb, &symbol_of, LOW, DEFAULT_PROB_BITS, out)
            .in_codec(NAME)?;
        let low_len = (n * LOW as usize).div_ceil(8);
        let at = out.len();
        out.resize(at + low_len, 0);
        pack_low(values, &mut out[at..]);
        Ok(())
    }

    /// Histograms of the top parts of the values `0..m` and `m..`.
    pub(super) fn top_histograms(values: &[u8], m: usize) -> ([u64; TOPS], [u64; TOPS]) {
        let mut h = [[0u64; TOPS]; 2];
        let (a, b) = values.split_at(m * 2);
        for (half, hist) in [a, b].into_iter().zip(h.iter_mut()) {
            // Four sub-histograms break the store-to-load chains of
            // repeated values; u32 counts cannot overflow in 2^30 values.
            let mut sub = vec![[0u32; TOPS]; 4];
            for block in half.chunks(2 << 30) {
                let mut quads = block.chunks_exact(8);
                for q in &mut quads {
                    let v = u64::from_le_bytes(q.try_into().expect("8 bytes"));
                    sub[0][(v >> 6 & 0x3ff) as usize] += 1;
                    sub[1][(v >> 22 & 0x3ff) as usize] += 1;
                    sub[2][(v >> 38 & 0x3ff) as usize] += 1;
                    sub[3][(v >> 54) as usize] += 1;
                }
                for v in quads.remainder().chunks_exact(2) {
                    sub[0][(u16::from_le_bytes([v[0], v[1]]) >> 6) as usize] += 1;
                }
                for s in sub.iter_mut() {
                    for (t, c) in hist.iter_mut().zip(s.iter_mut()) {
                        *t += u64::from(*c);
                        *c = 0;
                    }
                }
            }
        }
        let [a, b] = h;
        (a, b)
    }

    /// Writes the low bits of every value to the bit stream `low` (zeroed
    /// beyond the last value's bits).
    pub(super) fn pack_low(values: &[u8], low: &mut [u8]) {
        // 8 values (16 bytes) to 6 bytes at a time.
        let mut eights = values.chunks_exact(16);
        for (v, o) in (&mut eights).zip(low.chunks_exact_mut(6)) {
            let lo = u64::from_le_bytes(v[..8].try_into().expect("8 bytes"));
            let hi = u64::from_le_bytes(v[8..].try_into().expect("8 bytes"));
            let mut bits = 0u64;
            for k in 0..4 {
                bits |= ((lo >> (16 * k)) & 0x3f) << (6 * k);
                bits |= ((hi >> (16 * k)) & 0x3f) << (24 + 6 * k);
            }
            o.copy_from_slice(&bits.to_le_bytes()[..6]);
        }
        // The last 1..7 values.
        let rest = eights.remainder();
        let mut bits = 0u64;
        for (k, v) in rest.chunks_exact(2).enumerate() {
            bits |= u64::from(v[0] & 0x3f) << (6 * k);
        }
        // The tail starts after the whole groups of 8 values (the bit
        // stream of 5..7 values can itself be a whole 6 bytes).
        let tail = &mut low[values.len() / 16 * 6..];
        let len = tail.len();
        tail.copy_from_slice(&bits.to_le_bytes()[..len]);
    }

    /// Decodes one encoding into `out`.
    pub fn decode(input: &[u8], out: &mut [u8]) -> Result<()> {
        decode_with(input, out, Kernel::best())
    }

    /// [`decode`] with an explicit kernel (tests run every one).
    pub fn decode_with(input: &[u8], out: &mut [u8], kernel: Kernel) -> Result<()> {
        let (n, tail, pos) = parse_header::<2>(NAME, input, out.len())?;
        let (body, rest) = out.split_at_mut(n * 2);
        decode_body(input, pos, body, kernel)?;
        rest.copy_from_slice(tail);
        Ok(())
    }

    /// Decodes the layout byte at `pos` and what follows it (to the end of
    /// `input`) into the whole values `body`.
    pub(super) fn decode_body(
        input: &[u8],
        mut pos: usize,
        body: &mut [u8],
        kernel: Kernel,
    ) -> Result<()> {
        let n = body.len() / 2;
        let corrupt = |offset: usize, reason: String| CodecError::Corrupt {
            codec: NAME,
            offset,
            reason,
        };
        let layout = *input
            .get(pos)
            .ok_or_else(|| corrupt(pos, "truncated layout byte".into()))?;
        pos += 1;
        match layout {
            SPLIT => decode_plane_streams::<2>(NAME, input, pos, n, |at, [exp, sm]| {
                super::bf16::merge(exp, sm, &mut body[at * 2..(at + exp.len()) * 2]);
            })?,
            JOINT => decode_joint(input, pos, n, body, kernel)?,
            other => return Err(corrupt(pos - 1, format!("unknown layout {other}"))),
        }
        Ok(())
    }

    fn decode_joint(
        input: &[u8],
        mut pos: usize,
        n: usize,
        body: &mut [u8],
        kernel: Kernel,
    ) -> Result<()> {
        let corrupt = |offset: usize, reason: String| CodecError::Corrupt {
            codec: NAME,
            offset,
            reason,
        };
        let alphabet = read_alphabet(NAME, input, &mut pos, TOPS as u16)?;
        let count = alphabet.len();
        // Each index's top part, already shifted into place; indices past
        // the alphabet never decode (checked below) and map to 0.
        let mut tops = [0u16; 256];
        for (top, &t) in tops.iter_mut().zip(&alphabet) {
            *top = t << LOW;
        }
        let m = read_first_half(NAME, input, &mut pos, n)?;
        let views = [
            read_at(input, &mut pos, |r| parse_stream(r, m)).in_codec(NAME)?,
            read_at(input, &mut pos, |r| parse_stream(r, n - m)).in_codec(NAME)?,
        ];
        let low_len = (n * LOW as usize).div_ceil(8);
        if input.len() != pos + low_len {
            return Err(corrupt(
                pos,
                format!(
                    "{} bytes of low bits, expected {low_len}",
                    input.len().saturating_sub(pos)
                ),
            ));
        }
        let low = &input[pos..];
        for view in &views {
            let fits = match view {
                StreamView::Raw(bytes) => bytes.iter().all(|&b| usize::from(b) < count),
                StreamView::Constant { symbol, .. } => usize::from(*symbol) < count,
                StreamView::Rans { table, .. } => table.freqs()[count..].iter().all(|&f| f == 0),
            };
            if !fits {
                return Err(corrupt(pos, "symbol outside the alphabet".into()));
            }
        }
        let tables = views.clone().map(|v| match v {
            StreamView::Rans { table, .. } => Some(DecodeTable::new(&table)),
            _ => None,
        });
        let mut bufs = [[0u8; BLOCK]; 2];
        let mut sources: [Option<Source<'_>>; 2] = [None, None];
        for (p, view) in views.into_iter().enumerate() {
            sources[p] = Some(match view {
                StreamView::Raw(bytes) => Source::Raw(bytes),
                StreamView::Constant { symbol, .. } => {
                    bufs[p].fill(symbol);
                    Source::Constant
                }
                StreamView::Rans { payload, n, .. } => Source::Rans(
                    Decoder::new(payload, tables[p].as_ref().expect("built above"), n)
                        .in_codec(NAME)?,
                ),
            });
        }
        let lens = [m, n - m];
        let mut start = 0;
        while start < lens[1] {
            let len = [
                BLOCK.min(lens[0].saturating_sub(start)),
                BLOCK.min(lens[1] - start),
            ];
            let [ba, bb] = &mut bufs;
            match &mut sources {
                [Some(Source::Rans(da)), Some(Source::Rans(db))] => {
                    decode_pair(da, &mut ba[..len[0]], db, &mut bb[..len[1]], kernel)
                        .in_codec(NAME)?;
                }
                [a, b] => {
                    if let Some(Source::Rans(d)) = a {
                        d.decode_with(&mut ba[..len[0]], kernel).in_codec(NAME)?;
                    }
                    if let Some(Source::Rans(d)) = b {
                        d.decode_with(&mut bb[..len[1]], kernel).in_codec(NAME)?;
                    }
                }
            }
            for (p, first) in [(0, start), (1, m + start)] {
                if len[p] == 0 {
                    continue;
                }
                let symbols = match &sources[p] {
                    Some(Source::Raw(bytes)) => &bytes[start..start + len[p]],
                    _ => &bufs[p][..len[p]],
                };
                // `first` is a multiple of 32, so its bits start a byte.
                let bit_bytes = (len[p] * LOW as usize).div_ceil(8);
                let bits = &low[first / 8 * LOW as usize..][..bit_bytes];
                merge_joint(
                    &tops,
                    symbols,
                    bits,
                    &mut body[first * 2..(first + len[p]) * 2],
                    kernel,
                );
            }
            start += BLOCK;
        }
        for source in sources.into_iter().flatten() {
            if let Source::Rans(d) = source {
                d.finish().in_codec(NAME)?;
            }
        }
        Ok(())
    }

    /// Writes value `i` = `tops[symbols[i]] | bits_i` for every symbol, the
    /// low bits read from the bit stream `bits` (which starts at value 0).
    pub(super) fn merge_joint(
        tops: &[u16; 256],
        symbols: &[u8],
        bits: &[u8],
        out: &mut [u8],
        kernel: Kernel,
    ) {
        // Only x86 has SIMD parts to do first.
        #[cfg_attr(not(target_arch = "x86_64"), allow(unused_mut))]
        let mut done = 0;
        #[cfg(target_arch = "x86_64")]
        if kernel == Kernel::Avx512 {
            done = x86::merge_joint(tops, symbols, bits, out);
        }
        let _ = kernel;
        let (symbols, bits, out) = (
            &symbols[done..],
            &bits[done / 8 * 6..],
            &mut out[done * 2..],
        );
        let mut groups = symbols.chunks_exact(4);
        let mut outs = out.chunks_exact_mut(8);
        for ((s, b), o) in (&mut groups).zip(bits.chunks_exact(3)).zip(&mut outs) {
            let w = u32::from_le_bytes([b[0], b[1], b[2], 0]);
            for k in 0..4 {
                let v = tops[usize::from(s[k])] | ((w >> (6 * k)) & 0x3f) as u16;
                o[2 * k..2 * k + 2].copy_from_slice(&v.to_le_bytes());
            }
        }
        let rest = groups.remainder();
        if !rest.is_empty() {
            let at = (symbols.len() - rest.len()) / 4 * 3;
            let mut w = [0u8; 4];
            let tail = &bits[at..];
            w[..tail.len()].copy_from_slice(tail);
            let w = u32::from_le_bytes(w);
            for (k, (&s, o)) in rest
                .iter()
                .zip(outs.into_remainder().chunks_exact_mut(2))
                .enumerate()
            {
                let v = tops[usize::from(s)] | ((w >> (6 * k)) & 0x3f) as u16;
                o.copy_from_slice(&v.to_le_bytes());
            }
        }
    }
}

/// `wz_fp16`: fp16 as byte planes. The high byte (sign, 5 exponent bits, 2
/// top mantissa bits) carries the redundancy; the low byte is mantissa.
pub mod fp16 {
    use super::*;
    const NAME: &str = "wz_fp16";

    /// Appends the encoding of `data` (little-endian fp16 values).
    pub fn encode(data: &[u8], out: &mut Vec<u8>) -> Result<()> {
        encode_planes::<2, 2>(NAME, data, out, |e| [e[1], e[0]])
    }

    /// Decodes one encoding into `out`.
    pub fn decode(input: &[u8], out: &mut [u8]) -> Result<()> {
        let n = out.len() / 2;
        let (body, rest) = out.split_at_mut(n * 2);
        let tail = decode_planes::<2, 2>(NAME, input, n * 2 + rest.len(), |at, [hi, lo]| {
            let o = &mut body[at * 2..(at + hi.len()) * 2];
            for ((o, &h), &l) in o.chunks_exact_mut(2).zip(hi).zip(lo) {
                o.copy_from_slice(&[l, h]);
            }
        })?;
        rest.copy_from_slice(tail);
        Ok(())
    }
}

/// `wz_fp32`: fp32 split into the exponent byte, sign + top 7 mantissa bits,
/// and the two low mantissa bytes (which are constant zero in checkpoints
/// widened from bf16, and then cost nothing).
pub mod fp32 {
    use super::*;
    const NAME: &str = "wz_fp32";

    /// Appends the encoding of `data` (little-endian fp32 values).
    pub fn encode(data: &[u8], out: &mut Vec<u8>) -> Result<()> {
        encode_planes::<4, 4>(NAME, data, out, |e| {
            let v = u32::from_le_bytes(*e);
            [
                (v >> 23) as u8,
                ((v >> 24) as u8 & 0x80) | ((v >> 16) as u8 & 0x7f),
                e[1],
                e[0],
            ]
        })
    }

    /// Decodes one encoding into `out`.
    pub fn decode(input: &[u8], out: &mut [u8]) -> Result<()> {
        let n = out.len() / 4;
        let (body, rest) = out.split_at_mut(n * 4);
        let tail =
            decode_planes::<4, 4>(NAME, input, n * 4 + rest.len(), |at, [exp, sm, b1, b0]| {
                let o = &mut body[at * 4..(at + exp.len()) * 4];
                for ((((o, &e), &s), &b1), &b0) in
                    o.chunks_exact_mut(4).zip(exp).zip(sm).zip(b1).zip(b0)
                {
                    let (e, s) = (u32::from(e), u32::from(s));
                    let v = ((s & 0x80) << 24)
                        | (e << 23)
                        | ((s & 0x7f) << 16)
                        | (u32::from(b1) << 8)
                        | u32::from(b0);
                    o.copy_from_slice(&v.to_le_bytes());
                }
            })?;
        rest.copy_from_slice(tail);
        Ok(())
    }
}

/// `wz_bytes`: one order-0 stream over the bytes themselves (int8, fp8,
/// bool, u8 tensors).
pub mod bytes {
    use super::*;
    const NAME: &str = "wz_bytes";

    /// Appends the encoding of `data`.
    pub fn encode(data: &[u8], out: &mut Vec<u8>) -> Result<()> {
        encode_planes::<1, 1>(NAME, data, out, |e| *e)
    }

    /// Decodes one encoding into `out`.
    pub fn decode(input: &[u8], out: &mut [u8]) -> Result<()> {
        let _ = FreqTable::prob_bits;
        decode_planes::<1, 1>(NAME, input, out.len(), |at, [plane]| {
            out[at..at + plane.len()].copy_from_slice(plane);
        })?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    type Pair = (
        fn(&[u8], &mut Vec<u8>) -> Result<()>,
        fn(&[u8], &mut [u8]) -> Result<()>,
    );
    const CODECS: [Pair; 6] = [
        (bf16::encode, bf16::decode),
        (bf16j::encode, bf16j::decode),
        (bf16a::encode, bf16a::decode),
        (fp16::encode, fp16::decode),
        (fp32::encode, fp32::decode),
        (bytes::encode, bytes::decode),
    ];

    fn weights_like(n: usize) -> Vec<u8> {
        // Not a stand-in for real weights (tests/real_slices.rs has those):
        // just values with a skewed exponent to exercise the coded paths.
        let mut x = 0x9E37_79B9_7F4A_7C15u64;
        let mut v = Vec::with_capacity(n);
        for _ in 0..n {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            v.push((x % 256) as u8 ^ if x & 0x300 == 0 { 0 } else { 0x3c });
        }
        v
    }

    #[test]
    fn every_length_round_trips() {
        for (enc, dec) in CODECS {
            for n in [0usize, 1, 2, 3, 4, 5, 7, 8, 9, 1000, 4099] {
                let data = weights_like(n);
                let mut buf = Vec::new();
                enc(&data, &mut buf).unwrap();
                let mut back = vec![0u8; n];
                dec(&buf, &mut back).unwrap();
                assert_eq!(back, data, "n = {n}");
            }
        }
    }

    #[test]
    fn wrong_output_length_and_truncation_are_errors() {
        for (enc, dec) in CODECS {
            let data = weights_like(4096);
            let mut buf = Vec::new();
            enc(&data, &mut buf).unwrap();
            let mut back = vec![0u8; 4094];
            assert!(dec(&buf, &mut back).is_err());
            let mut back = vec![0u8; 4096];
            for cut in [0, 1, 2, buf.len() / 2, buf.len() - 1] {
                assert!(dec(&buf[..cut], &mut back).is_err());
            }
            let mut longer = buf.clone();
            longer.push(0);
            assert!(dec(&longer, &mut back).is_err());
        }
    }

    /// bf16 values of a Gaussian-like weight matrix: per-row scales, a
    /// few exact zeros, the exponent skew of real weights.
    fn gaussian_bf16(n: usize, seed: u64) -> Vec<u8> {
        let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 11) as f64 / (1u64 << 53) as f64
        };
        (0..n)
            .flat_map(|i| {
                let (u, v) = (next().max(1e-12), next());
                let g = (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos();
                let scale = 0.02 * (1.0 + (i / 384 % 7) as f64);
                let f = if i % 997 == 0 {
                    0.0
                } else {
                    (g * scale) as f32
                };
                // Round to nearest even, as checkpoints are cast.
                let b = f.to_bits();
                let r = ((b + 0x7fff + ((b >> 16) & 1)) >> 16) as u16;
                r.to_le_bytes()
            })
            .collect()
    }

    #[test]
    fn bf16j_beats_the_plane_split_on_weights() {
        let data = gaussian_bf16(1 << 20, 5);
        let (mut joint, mut split) = (Vec::new(), Vec::new());
        bf16j::encode(&data, &mut joint).unwrap();
        bf16::encode(&data, &mut split).unwrap();
        assert!(
            joint.len() < split.len(),
            "{} vs {}",
            joint.len(),
            split.len()
        );
    }

    #[test]
    fn bf16j_falls_back_to_planes_beyond_256_top_parts() {
        // Every 16-bit value: 1024 distinct top parts.
        let data: Vec<u8> = (0..=u16::MAX).flat_map(|v| v.to_le_bytes()).collect();
        let mut buf = Vec::new();
        bf16j::encode(&data, &mut buf).unwrap();
        let mut back = vec![0u8; data.len()];
        bf16j::decode(&buf, &mut back).unwrap();
        assert_eq!(back, data);
        // Exactly 256 top parts still take the joint layout.
        let data: Vec<u8> = (0..256u16 * 64)
            .map(|i| (i / 64) << 6 | (i.wrapping_mul(37) & 63))
            .flat_map(|v| v.to_le_bytes())
            .collect();
        let mut buf = Vec::new();
        bf16j::encode(&data, &mut buf).unwrap();
        let mut back = vec![0u8; data.len()];
        bf16j::decode(&buf, &mut back).unwrap();
        assert_eq!(back, data);
    }

    /// The layout byte of an encoding of `n` whole values and `tail` bytes.
    fn layout_byte(buf: &[u8], n: usize, tail: usize) -> u8 {
        let mut header = Vec::new();
        write_varint(&mut header, n as u64);
        buf[header.len() + 1 + tail]
    }

    type Decode = fn(&[u8], &mut [u8], weightzip_entropy::rans::Kernel) -> Result<()>;

    /// Round-trips Gaussian-like bf16 of many lengths (and an odd tail byte)
    /// with every kernel; from 64 values on, the layout byte must be one of
    /// `layouts`.
    fn round_trips_with_every_kernel(
        encode: fn(&[u8], &mut Vec<u8>) -> Result<()>,
        decode: Decode,
        layouts: &[u8],
    ) {
        let kernels = weightzip_entropy::rans::Kernel::supported();
        for n in (0..200).chain([255, 256, 1000, 4096, 4097, 70_001]) {
            let data = gaussian_bf16(n, n as u64 + 1);
            for odd in [false, true] {
                let data = if odd {
                    &[data.as_slice(), &[7]].concat()[..]
                } else {
                    &data[..]
                };
                let mut buf = Vec::new();
                encode(data, &mut buf).unwrap();
                if n >= 64 {
                    let layout = layout_byte(&buf, n, usize::from(odd));
                    assert!(layouts.contains(&layout), "layout {layout} at n = {n}");
                }
                for &k in &kernels {
                    let mut back = vec![0u8; data.len()];
                    decode(&buf, &mut back, k).unwrap();
                    assert_eq!(back, data, "n = {n} {k:?}");
                }
            }
        }
    }

    /// Every truncation is an error on every kernel; every single-bit flip
    /// gives the same verdict and bytes on every kernel (never a panic).
    fn corrupt_encodings_agree(encode: fn(&[u8], &mut Vec<u8>) -> Result<()>, decode: Decode) {
        corrupt_encodings_agree_on(&gaussian_bf16(3000, 9), encode, decode);
    }

    fn corrupt_encodings_agree_on(
        data: &[u8],
        encode: fn(&[u8], &mut Vec<u8>) -> Result<()>,
        decode: Decode,
    ) {
        let mut buf = Vec::new();
        encode(data, &mut buf).unwrap();
        let kernels = weightzip_entropy::rans::Kernel::supported();
        let mut back = vec![0u8; data.len()];
        for cut in 0..buf.len() {
            for &k in &kernels {
                assert!(decode(&buf[..cut], &mut back, k).is_err(), "cut {cut}");
            }
        }
        let mut x = 7u64;
        for _ in 0..3000 {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let mut bad = buf.clone();
            let i = (x >> 33) as usize % bad.len();
            bad[i] ^= 1 << (x >> 29 & 7);
            let results: Vec<Option<Vec<u8>>> = kernels
                .iter()
                .map(|&k| {
                    let mut out = vec![0u8; data.len()];
                    decode(&bad, &mut out, k).ok().map(|_| out)
                })
                .collect();
            assert!(results.windows(2).all(|w| w[0] == w[1]), "flip at {i}");
        }
    }

    #[test]
    fn bf16j_joint_layout_round_trips_with_every_kernel() {
        round_trips_with_every_kernel(bf16j::encode, bf16j::decode_with, &[1]);
    }

    #[test]
    fn bf16j_corrupt_encodings_error_or_agree_never_panic() {
        corrupt_encodings_agree(bf16j::encode, bf16j::decode_with);
    }

    #[test]
    fn bf16a_alias_layouts_round_trip_with_every_kernel() {
        round_trips_with_every_kernel(
            bf16a::encode,
            bf16a::decode_with,
            &[
                bf16a::EXP_M6,
                bf16a::SIGN_EXP,
                bf16a::EXP_M6_WIDE,
                bf16a::SIGN_EXP_WIDE,
            ],
        );
    }

    /// Gaussian weights with `rare` values of distinct exponents (far
    /// outside the bulk's) spread over them.
    fn with_rare_exponents(n: usize, rare: usize) -> Vec<u8> {
        let mut data = gaussian_bf16(n, 5);
        for r in 0..rare {
            let i = (r * 7919 + 13) % n;
            // Exponents 1..=20 and 150..=169, then again.
            let e = (r % 40) as u16;
            let exponent = if e < 20 { 1 + e } else { 130 + e };
            let v = (exponent << 7) | (r as u16 & 0x7f);
            data[2 * i..2 * i + 2].copy_from_slice(&v.to_le_bytes());
        }
        data
    }

    #[test]
    fn bf16a_patches_rare_fields_in_the_wide_layout() {
        let n = 200_000;
        // 40 rare fields (one in 5000 values): patched; with the bulk's
        // fields that is more than 64 symbols, which the 64-symbol layout
        // could not take.
        let data = with_rare_exponents(n, 40);
        let mut fields: Vec<u16> = data
            .chunks_exact(2)
            .map(|v| (u16::from_le_bytes([v[0], v[1]]) >> 6) & 0x1ff)
            .collect();
        fields.sort_unstable();
        fields.dedup();
        assert!(fields.len() > 64, "{} fields", fields.len());
        assert_eq!(bf16a_round_trip(&data), bf16a::EXP_M6_WIDE);
        // 300 of them: too many to patch, too many symbols for the 64-symbol
        // layout: the joint codec's layout.
        assert!(bf16a_round_trip(&with_rare_exponents(n, 300)) < bf16a::EXP_M6);
    }

    /// Encodes `data` (whole bf16 values) with `wz_bf16a`, checks that
    /// every kernel decodes it back, and returns the layout byte.
    fn bf16a_round_trip(data: &[u8]) -> u8 {
        let mut buf = Vec::new();
        bf16a::encode(data, &mut buf).unwrap();
        for k in weightzip_entropy::rans::Kernel::supported() {
            let mut back = vec![0u8; data.len()];
            bf16a::decode_with(&buf, &mut back, k).unwrap();
            assert_eq!(back, data, "{k:?}");
        }
        layout_byte(&buf, data.len() / 2, 0)
    }

    #[test]
    fn bf16a_checks_a_sampled_wide_layout_against_the_values_it_missed() {
        // Rare exponents only at values the sample skips (1 mod 4): the
        // sampled alphabet lacks them, so the wide layout would patch 1000
        // values; the encoder must fall back to the exact histogram, which
        // sees too many fields for either alias layout.
        let n = 50_000;
        let mut data = gaussian_bf16(n, 8);
        for j in 0..1000 {
            let i = 4 * j + 1;
            let exponent = 1 + (j % 40) as u16;
            data[2 * i..2 * i + 2].copy_from_slice(&(exponent << 7).to_le_bytes());
        }
        assert!(bf16a_round_trip(&data) < bf16a::EXP_M6);
    }

    #[test]
    fn bf16a_corrupt_patched_encodings_error_or_agree_never_panic() {
        corrupt_encodings_agree_on(
            &with_rare_exponents(5000, 2),
            bf16a::encode,
            bf16a::decode_with,
        );
    }

    #[test]
    fn bf16a_corrupt_encodings_error_or_agree_never_panic() {
        corrupt_encodings_agree(bf16a::encode, bf16a::decode_with);
    }

    #[test]
    fn bf16a_picks_the_neighbour_bit_with_the_smaller_entropy() {
        // Signed Gaussian weights: the sign is a fair coin, the top
        // mantissa bit is not (the density falls across a binade).
        let weights = gaussian_bf16(50_000, 11);
        let mut buf = Vec::new();
        bf16a::encode(&weights, &mut buf).unwrap();
        let layout = layout_byte(&buf, 25_000, 0);
        assert!(
            matches!(layout, bf16a::EXP_M6 | bf16a::EXP_M6_WIDE),
            "{layout}"
        );
        // Norm-like weights: positive, so the sign is free to code with
        // the exponent, and the top mantissa bit is raw.
        let norms: Vec<u8> = weights
            .chunks_exact(2)
            .flat_map(|v| (u16::from_le_bytes([v[0], v[1]]) & 0x7fff).to_le_bytes())
            .collect();
        let mut buf = Vec::new();
        bf16a::encode(&norms, &mut buf).unwrap();
        let layout = layout_byte(&buf, 25_000, 0);
        assert!(
            matches!(layout, bf16a::SIGN_EXP | bf16a::SIGN_EXP_WIDE),
            "{layout}"
        );
        let mut back = vec![0u8; norms.len()];
        bf16a::decode(&buf, &mut back).unwrap();
        assert_eq!(back, norms);
    }

    #[test]
    fn bf16a_falls_back_to_the_joint_codec_beyond_64_symbols() {
        // Every 16-bit value: 512 distinct values of either 9-bit field.
        let data: Vec<u8> = (0..=u16::MAX).flat_map(|v| v.to_le_bytes()).collect();
        let mut buf = Vec::new();
        bf16a::encode(&data, &mut buf).unwrap();
        assert!(layout_byte(&buf, 1 << 16, 0) < bf16a::EXP_M6);
        let mut back = vec![0u8; data.len()];
        bf16a::decode(&buf, &mut back).unwrap();
        assert_eq!(back, data);
        // Exactly 64 exponent values with both top mantissa bits (and the
        // sign constant): 64 symbols under the (sign, exponent) layout.
        let data: Vec<u8> = (0..64u16 * 128)
            .map(|i| ((i / 128 + 60) << 7) | (i.wrapping_mul(37) & 127))
            .flat_map(|v| v.to_le_bytes())
            .collect();
        let mut buf = Vec::new();
        bf16a::encode(&data, &mut buf).unwrap();
        assert_eq!(layout_byte(&buf, 64 * 128, 0), bf16a::SIGN_EXP);
        let mut back = vec![0u8; data.len()];
        bf16a::decode(&buf, &mut back).unwrap();
        assert_eq!(back, data);
        // One value repeated: a single symbol, which the joint codec takes.
        let data = [0x3c, 0x3f].repeat(1000);
        let mut buf = Vec::new();
        bf16a::encode(&data, &mut buf).unwrap();
        let mut back = vec![0u8; data.len()];
        bf16a::decode(&buf, &mut back).unwrap();
        assert_eq!(back, data);
    }

    #[test]
    fn alphabet_deltas_past_u64_are_errors_not_overflows() {
        // n = 64, no tail, then an alphabet whose second delta is 2^64 - 1:
        // as a joint (wz_bf16j) and an alias (wz_bf16a) layout.
        let huge = [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01];
        for (layout, decode) in [
            (1u8, bf16j::decode as fn(&[u8], &mut [u8]) -> Result<()>),
            (bf16a::EXP_M6, bf16a::decode),
            (bf16a::EXP_M6_WIDE, bf16a::decode),
        ] {
            let mut enc = vec![64, 0, layout, 2, 5];
            enc.extend_from_slice(&huge);
            enc.extend_from_slice(&[0; 64]);
            let mut out = vec![0u8; 128];
            assert!(decode(&enc, &mut out).is_err(), "layout {layout}");
        }
    }

    #[test]
    fn bf16_split_is_a_bijection_on_all_values() {
        let data: Vec<u8> = (0..=u16::MAX).flat_map(|v| v.to_le_bytes()).collect();
        let mut buf = Vec::new();
        bf16::encode(&data, &mut buf).unwrap();
        let mut back = vec![0u8; data.len()];
        bf16::decode(&buf, &mut back).unwrap();
        assert_eq!(back, data);
    }

    #[test]
    fn fp32_split_is_a_bijection_on_sampled_values() {
        let data: Vec<u8> = (0..=u16::MAX)
            .flat_map(|v| (u32::from(v).wrapping_mul(0x9E37_79B1) ^ u32::from(v)).to_le_bytes())
            .collect();
        let mut buf = Vec::new();
        fp32::encode(&data, &mut buf).unwrap();
        let mut back = vec![0u8; data.len()];
        fp32::decode(&buf, &mut back).unwrap();
        assert_eq!(back, data);
    }
}
