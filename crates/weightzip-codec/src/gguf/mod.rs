//! GGUF block codecs: every quantized block type split into its fields, each
//! field coded by what its statistics allow (see `docs/METHODS.md`, section 4,
//! for the entropies measured and the choices made).
//!
//! Common shape of every codec here:
//! - the chunk is `n` whole blocks plus a tail (< one block) kept verbatim;
//! - f16 fields (`d`, `dmin`, `m`) become two byte planes, the high byte
//!   (sign, exponent, 2 mantissa bits: ≈ 2.4–3 bits of entropy) and the low
//!   byte (near-uniform), each a self-describing [`weightzip_entropy::stream`];
//! - the quants are rebuilt as integers and coded as **byte symbols**: a
//!   whole int8 for Q8_0, else two 4-bit values (two nibbles, or the top 4
//!   bits of two 5- / 6-bit quants whose low bits are stored raw) with the
//!   table picked by a context the decoder knows from the block header
//!   (e.g. the sub-block zero point of Q4_K). Byte symbols keep the decoder
//!   at ≤ 1 rANS symbol per output byte, which the SIMD decoder of
//!   [`weightzip_entropy::ctx_rans`] turns into > 1 GB/s;
//! - symbol streams with contexts are `cstream`s.
//!
//! Encoding layout of every codec: `n: varint` blocks, `tail_len: varint` +
//! the tail bytes, then the codec's streams in a fixed order (each codec's
//! docs). Decoders bound every length by the input and the output before
//! trusting it, and never panic.

pub(crate) mod cstream;
pub mod k_quants;
pub mod legacy;
pub mod q8_0;

use std::cell::RefCell;

use weightzip_entropy::ctx_rans::Contexts;
use weightzip_entropy::stream::{encode_stream, parse_stream, StreamView};
use weightzip_entropy::{entropy_bits, histogram, read_at, write_varint, ByteReader};

use crate::error::{CodecError, EntropyContext, Result};
use crate::registry::CodecId;

/// What one field of a chunk became, for reports (`gguf_fields` example,
/// docs/METHODS.md §4): its symbols' order-0 entropy, their entropy given the
/// context the codec uses, and the bytes its stream took.
#[derive(Clone, Debug, PartialEq)]
pub struct FieldStat {
    /// Field name (`d.hi`, `scales`, `quant pairs`, ...).
    pub field: &'static str,
    /// Bits of the original block that the field's symbols carry, per symbol.
    pub input_bits_per_symbol: u32,
    /// Symbols coded.
    pub symbols: usize,
    /// Order-0 entropy, bits per symbol.
    pub h0: f64,
    /// Entropy given the context (= `h0` without one), bits per symbol.
    pub h_ctx: f64,
    /// Bytes of the field's stream in the encoding (tables and lane
    /// states included).
    pub coded_bytes: usize,
}

thread_local! {
    static REPORT: RefCell<Option<Vec<FieldStat>>> = const { RefCell::new(None) };
}

/// Encodes `data` with `codec` and returns what each field became (empty
/// for codecs outside this module).
pub fn field_report(codec: CodecId, data: &[u8]) -> Result<Vec<FieldStat>> {
    REPORT.with(|r| *r.borrow_mut() = Some(Vec::new()));
    let mut out = Vec::new();
    let res = codec.encode(data, crate::Level::Max, &mut out);
    let stats = REPORT.with(|r| r.borrow_mut().take()).unwrap_or_default();
    res.map(|()| stats)
}

/// Records a field when a report is being made (a no-op otherwise).
pub(crate) fn note(
    field: &'static str,
    input_bits_per_symbol: u32,
    symbols: &[u8],
    ctx: Option<Contexts<'_>>,
    coded_bytes: usize,
) {
    REPORT.with(|r| {
        let mut r = r.borrow_mut();
        let Some(list) = r.as_mut() else { return };
        let h0 = entropy_bits(&histogram(symbols));
        let h_ctx = match ctx {
            None => h0,
            Some(ctx) => {
                let mut joint = vec![[0u64; 256]; 256];
                for (i, &s) in symbols.iter().enumerate() {
                    joint[usize::from(ctx.get(i))][usize::from(s)] += 1;
                }
                let n = symbols.len().max(1) as f64;
                joint
                    .iter()
                    .map(|h| h.iter().sum::<u64>() as f64 / n * entropy_bits(h))
                    .sum()
            }
        };
        list.push(FieldStat {
            field,
            input_bits_per_symbol,
            symbols: symbols.len(),
            h0,
            h_ctx,
            coded_bytes,
        });
    });
}

/// [`cstream::encode`] and a [`note`] of the field.
#[allow(clippy::too_many_arguments)]
pub(crate) fn encode_field(
    codec: &'static str,
    field: &'static str,
    input_bits_per_symbol: u32,
    symbols: &[u8],
    ctx: Contexts<'_>,
    n_ctx: usize,
    opts: cstream::Options,
    out: &mut Vec<u8>,
) -> Result<()> {
    let at = out.len();
    cstream::encode(codec, symbols, ctx, n_ctx, opts, out)?;
    let ctx = (n_ctx > 1).then_some(ctx);
    note(field, input_bits_per_symbol, symbols, ctx, out.len() - at);
    Ok(())
}

/// Appends bytes stored raw, with a [`note`] of the field.
pub(crate) fn raw_field(field: &'static str, bytes: &[u8], out: &mut Vec<u8>) {
    out.extend_from_slice(bytes);
    note(field, 8, bytes, None, bytes.len());
}

/// Writes the block count and the tail of a chunk of `block`-byte blocks;
/// returns the whole blocks.
pub(crate) fn write_header<'a>(data: &'a [u8], block: usize, out: &mut Vec<u8>) -> &'a [u8] {
    let n = data.len() / block;
    let tail = &data[n * block..];
    write_varint(out, n as u64);
    write_varint(out, tail.len() as u64);
    out.extend_from_slice(tail);
    &data[..n * block]
}

/// A reader over one encoding, with the codec's name for errors.
pub(crate) struct Reader<'a> {
    pub codec: &'static str,
    pub buf: &'a [u8],
    pub pos: usize,
}

impl<'a> Reader<'a> {
    pub fn new(codec: &'static str, buf: &'a [u8]) -> Self {
        Self { codec, buf, pos: 0 }
    }

    pub fn corrupt(&self, reason: impl Into<String>) -> CodecError {
        CodecError::Corrupt {
            codec: self.codec,
            offset: self.pos,
            reason: reason.into(),
        }
    }

    /// Reads the header written by [`write_header`] for an output of
    /// `out_len` bytes; returns the block count and the tail.
    pub fn header(&mut self, block: usize, out_len: usize) -> Result<(usize, &'a [u8])> {
        let n = read_at(self.buf, &mut self.pos, ByteReader::varint).in_codec(self.codec)?;
        let expected = out_len / block;
        if n != expected as u64 {
            return Err(self.corrupt(format!("holds {n} blocks, the output needs {expected}")));
        }
        let tail_len = read_at(self.buf, &mut self.pos, ByteReader::varint).in_codec(self.codec)?;
        if tail_len != (out_len - expected * block) as u64 {
            return Err(self.corrupt(format!("tail of {tail_len} bytes does not fit the output")));
        }
        let tail = self.bytes(tail_len as usize, "tail")?;
        Ok((expected, tail))
    }

    /// The next `len` bytes.
    pub fn bytes(&mut self, len: usize, what: &str) -> Result<&'a [u8]> {
        let b = self
            .buf
            .get(self.pos..self.pos.saturating_add(len))
            .ok_or_else(|| self.corrupt(format!("truncated {what}")))?;
        self.pos += len;
        Ok(b)
    }

    /// Decodes one self-describing stream of `out.len()` symbols.
    pub fn stream(&mut self, out: &mut [u8]) -> Result<()> {
        let view = read_at(self.buf, &mut self.pos, |r| parse_stream(r, out.len()))
            .in_codec(self.codec)?;
        match view {
            StreamView::Raw(b) => out.copy_from_slice(b),
            other => other.decode_into(out).in_codec(self.codec)?,
        }
        Ok(())
    }

    /// Errors unless the whole input was read.
    pub fn finish(&self) -> Result<()> {
        if self.pos != self.buf.len() {
            return Err(self.corrupt(format!("{} trailing bytes", self.buf.len() - self.pos)));
        }
        Ok(())
    }
}

/// Codes an f16 field (one value per block, little-endian at `offset` in
/// each `block`-byte block) as its high-byte and low-byte planes.
pub(crate) fn encode_f16_field(
    codec: &'static str,
    field: [&'static str; 2],
    blocks: &[u8],
    block: usize,
    offset: usize,
    out: &mut Vec<u8>,
) -> Result<()> {
    let n = blocks.len() / block;
    let mut hi = Vec::with_capacity(n);
    let mut lo = Vec::with_capacity(n);
    for b in blocks.chunks_exact(block) {
        lo.push(b[offset]);
        hi.push(b[offset + 1]);
    }
    let at = out.len();
    encode_stream(&hi, out).in_codec(codec)?;
    note(field[0], 8, &hi, None, out.len() - at);
    let at = out.len();
    encode_stream(&lo, out).in_codec(codec)?;
    note(field[1], 8, &lo, None, out.len() - at);
    Ok(())
}

/// The two byte planes of a decoded f16 field.
pub(crate) struct F16Planes {
    hi: Vec<u8>,
    lo: Vec<u8>,
}

impl F16Planes {
    /// Value `i` (f16 bits).
    #[inline]
    pub fn get(&self, i: usize) -> u16 {
        u16::from_le_bytes([self.lo[i], self.hi[i]])
    }

    /// Writes value `i` little-endian into `o[..2]`.
    #[inline]
    pub fn write(&self, i: usize, o: &mut [u8]) {
        o[0] = self.lo[i];
        o[1] = self.hi[i];
    }

    /// Every value, for contexts.
    pub fn values(&self) -> Vec<u16> {
        (0..self.hi.len()).map(|i| self.get(i)).collect()
    }
}

/// Decodes an f16 field written by [`encode_f16_field`] (`n` values).
pub(crate) fn decode_f16_field(r: &mut Reader<'_>, n: usize) -> Result<F16Planes> {
    let mut hi = vec![0u8; n];
    let mut lo = vec![0u8; n];
    r.stream(&mut hi)?;
    r.stream(&mut lo)?;
    Ok(F16Planes { hi, lo })
}

/// f16 bits to f32 for contexts: exact for finite values (normals and
/// subnormals), branch-free; infinities and NaNs map to finite values,
/// which is fine for a context (it only has to be the same on both sides).
#[inline]
pub(crate) fn f16_to_f32(h: u16) -> f32 {
    let mag = f32::from_bits(u32::from(h & 0x7fff) << 13) * f32::from_bits(0x7780_0000); // 2^112
    f32::from_bits(mag.to_bits() | (u32::from(h & 0x8000) << 16))
}

/// The zero point `m / d` of an asymmetric block (`x = d * q - m`) as a
/// context, see [`round_context`].
#[inline]
pub(crate) fn zero_point(m: f32, d: f32, max: u8) -> u8 {
    round_context(m / d, max)
}

/// `v` clamped to `0..=max` and rounded to the nearest integer (ties to
/// even), NaN giving 0: branch-free (the loops over sub-blocks vectorise)
/// and the same on every platform, since no NaN reaches the rounding (its
/// bits differ between CPUs) and IEEE f32 arithmetic is deterministic, so
/// encoder and decoder agree on every context.
#[inline]
pub(crate) fn round_context(v: f32, max: u8) -> u8 {
    // `v == v` is false only for NaN; the select compiles to a mask.
    #[allow(clippy::eq_op)]
    let v = if v == v { v } else { 0.0 };
    let v = v.clamp(0.0, f32::from(max));
    // Adding 2^23 leaves the rounded integer in the low mantissa bits.
    ((v + 8_388_608.0).to_bits() & 0xff) as u8
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn f16_context_conversion_is_exact_on_finite_values() {
        for h in 0..=u16::MAX {
            let exact = weightzip_format::ggml::f16_to_f32(h);
            if exact.is_finite() {
                assert_eq!(f16_to_f32(h).to_bits(), exact.to_bits(), "{h:#06x}");
            }
        }
        assert_eq!(zero_point(f32::NAN, 1.0, 15), 0);
        assert_eq!(zero_point(0.0, 0.0, 15), 0);
        assert_eq!(zero_point(1.0, 0.0, 15), 15);
        assert_eq!(zero_point(-3.0, 1.0, 15), 0);
        assert_eq!(zero_point(7.4, 1.0, 15), 7);
        assert_eq!(zero_point(7.5, 1.0, 15), 8);
        assert_eq!(zero_point(6.5, 1.0, 15), 6);
        assert_eq!(round_context(f32::INFINITY, 15), 15);
        assert_eq!(round_context(f32::NEG_INFINITY, 15), 0);
        for i in 0..=1500 {
            let v = i as f32 / 100.0;
            assert_eq!(round_context(v, 15), v.round_ties_even() as u8);
        }
    }
}

#[cfg(test)]
pub(crate) mod test_util {
    /// Deterministic pseudo-random bytes.
    pub fn noise(n: usize, seed: u64) -> Vec<u8> {
        let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
        (0..n)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                (x >> 24) as u8
            })
            .collect()
    }

    /// Checks that `enc`/`dec` round-trip `data` and that damaged
    /// encodings never panic.
    pub fn check(
        enc: fn(&[u8], &mut Vec<u8>) -> crate::Result<()>,
        dec: fn(&[u8], &mut [u8]) -> crate::Result<()>,
        data: &[u8],
    ) -> Vec<u8> {
        let mut buf = Vec::new();
        enc(data, &mut buf).unwrap();
        let mut back = vec![0u8; data.len()];
        dec(&buf, &mut back).unwrap();
        assert_eq!(back, data, "round trip of {} bytes", data.len());
        for cut in [
            0,
            1,
            buf.len() / 3,
            buf.len() / 2,
            buf.len().saturating_sub(1),
        ] {
            if cut < buf.len() {
                assert!(dec(&buf[..cut], &mut back).is_err(), "cut at {cut}");
            }
        }
        let step = (buf.len() / 40).max(1);
        for i in (0..buf.len()).step_by(step) {
            let mut bad = buf.clone();
            bad[i] ^= 0x5a;
            let _ = dec(&bad, &mut back);
        }
        buf
    }
}
