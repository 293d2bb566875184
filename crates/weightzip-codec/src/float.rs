//! Float codecs: each value is split into symbol planes whose statistics
//! differ (exponent vs sign + mantissa), and every plane is stored as a
//! self-describing entropy stream (rANS where it pays, else raw).
//!
//! Encoding layout (all three codecs): `n: varint` whole elements, `tail_len:
//! u8` and the tail bytes (an input that is not a whole number of elements),
//! then one stream per plane, each holding `n` symbols.

use std::cell::RefCell;

use weightzip_entropy::rans::{decode_pair, Decoder, Kernel};
use weightzip_entropy::stream::{encode_stream_with, parse_stream, StreamView};
use weightzip_entropy::table::DEFAULT_PROB_BITS;
use weightzip_entropy::{histogram, varint, DecodeTable, FreqTable};

use crate::error::{CodecError, EntropyContext, Result};

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
    let n = data.len() / W;
    let tail = &data[n * W..];
    varint::write_u64(out, n as u64);
    out.push(tail.len() as u8);
    out.extend_from_slice(tail);
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
        for plane in &planes {
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
    mut combine: impl FnMut(usize, [&[u8]; P]),
) -> Result<&'a [u8]> {
    let mut pos = 0;
    let n = varint::read_u64(input, &mut pos).in_codec(codec)?;
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
    pos += tail_len;
    let mut views: [Option<StreamView<'a>>; P] = [const { None }; P];
    for view in views.iter_mut() {
        *view = Some(parse_stream(input, &mut pos, n).in_codec(codec)?);
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
    Ok(tail)
}

/// `wz_bf16`: bf16 split into the 8 exponent bits and sign + 7 mantissa
/// bits. The exponent carries nearly all the redundancy (≈ 2.6 bits of 8);
/// sign + mantissa is near-uniform and is usually stored raw.
pub mod bf16 {
    use super::*;
    const NAME: &str = "wz_bf16";

    /// Appends the encoding of `data` (little-endian bf16 values).
    pub fn encode(data: &[u8], out: &mut Vec<u8>) -> Result<()> {
        encode_planes::<2, 2>(NAME, data, out, |e| {
            let v = u16::from_le_bytes(*e);
            [(v >> 7) as u8, ((v >> 8) as u8 & 0x80) | (v as u8 & 0x7f)]
        })
    }

    /// Decodes one encoding into `out`.
    pub fn decode(input: &[u8], out: &mut [u8]) -> Result<()> {
        let n = out.len() / 2;
        let (body, rest) = out.split_at_mut(n * 2);
        let tail = decode_planes::<2, 2>(NAME, input, n * 2 + rest.len(), |at, [exp, sm]| {
            let o = &mut body[at * 2..(at + exp.len()) * 2];
            for ((o, &e), &s) in o.chunks_exact_mut(2).zip(exp).zip(sm) {
                let v = (u16::from(s & 0x80) << 8) | (u16::from(e) << 7) | u16::from(s & 0x7f);
                o.copy_from_slice(&v.to_le_bytes());
            }
        })?;
        rest.copy_from_slice(tail);
        Ok(())
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
    const CODECS: [Pair; 4] = [
        (bf16::encode, bf16::decode),
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
