//! Float codecs: each value is split into symbol planes whose statistics
//! differ (exponent vs sign + mantissa), and every plane is stored as a
//! self-describing entropy stream (rANS where it pays, else raw).
//!
//! Encoding layout (all three codecs): `n: varint` whole elements, `tail_len:
//! u8` and the tail bytes (an input that is not a whole number of elements),
//! then one stream per plane, each holding `n` symbols.

use std::borrow::Cow;

use weightzip_entropy::stream::{encode_stream, parse_stream, StreamView};
use weightzip_entropy::varint;

use crate::error::{CodecError, EntropyContext, Result};

/// Splits `data` into `planes.len()` planes with `split`, which maps one
/// element (its little-endian bytes) to one symbol per plane.
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
    let mut planes: Vec<Vec<u8>> = (0..P).map(|_| Vec::with_capacity(n)).collect();
    for element in data[..n * W].chunks_exact(W) {
        let mut e = [0u8; W];
        e.copy_from_slice(element);
        let symbols = split(&e);
        for (plane, s) in planes.iter_mut().zip(symbols) {
            plane.push(s);
        }
    }
    for plane in &planes {
        encode_stream(plane, out).in_codec(codec)?;
    }
    Ok(())
}

/// The tail bytes and the decoded planes of one encoding.
type DecodedPlanes<'a, const P: usize> = (&'a [u8], [Cow<'a, [u8]>; P]);

/// Parses the header and the `P` plane streams; returns the tail and the
/// planes, raw planes borrowed in place and coded planes decoded.
fn decode_planes<'a, const W: usize, const P: usize>(
    codec: &'static str,
    input: &'a [u8],
    out_len: usize,
) -> Result<DecodedPlanes<'a, P>> {
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
    let tail_len = out_len - n_expected * W;
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
    let mut planes: [Cow<'a, [u8]>; P] = std::array::from_fn(|_| Cow::Borrowed(&[][..]));
    for plane in planes.iter_mut() {
        let view = parse_stream(input, &mut pos, n_expected).in_codec(codec)?;
        *plane = match view {
            StreamView::Raw(bytes) => Cow::Borrowed(bytes),
            other => {
                let mut buf = vec![0u8; n_expected];
                other.decode_into(&mut buf).in_codec(codec)?;
                Cow::Owned(buf)
            }
        };
    }
    if pos != input.len() {
        return Err(CodecError::Corrupt {
            codec,
            offset: pos,
            reason: format!("{} trailing bytes", input.len() - pos),
        });
    }
    Ok((tail, planes))
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
        let (tail, [exp, sm]) = decode_planes::<2, 2>(NAME, input, out.len())?;
        let n = exp.len();
        for ((o, &e), &s) in out[..n * 2]
            .chunks_exact_mut(2)
            .zip(exp.iter())
            .zip(sm.iter())
        {
            let v = (u16::from(s & 0x80) << 8) | (u16::from(e) << 7) | u16::from(s & 0x7f);
            o.copy_from_slice(&v.to_le_bytes());
        }
        out[n * 2..].copy_from_slice(tail);
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
        let (tail, [hi, lo]) = decode_planes::<2, 2>(NAME, input, out.len())?;
        let n = hi.len();
        for ((o, &h), &l) in out[..n * 2]
            .chunks_exact_mut(2)
            .zip(hi.iter())
            .zip(lo.iter())
        {
            o[0] = l;
            o[1] = h;
        }
        out[n * 2..].copy_from_slice(tail);
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
        let (tail, [exp, sm, b1, b0]) = decode_planes::<4, 4>(NAME, input, out.len())?;
        let n = exp.len();
        for (i, o) in out[..n * 4].chunks_exact_mut(4).enumerate() {
            let (e, s) = (u32::from(exp[i]), u32::from(sm[i]));
            let v = ((s & 0x80) << 24)
                | (e << 23)
                | ((s & 0x7f) << 16)
                | (u32::from(b1[i]) << 8)
                | u32::from(b0[i]);
            o.copy_from_slice(&v.to_le_bytes());
        }
        out[n * 4..].copy_from_slice(tail);
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
        let (_, [plane]) = decode_planes::<1, 1>(NAME, input, out.len())?;
        out.copy_from_slice(&plane);
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
