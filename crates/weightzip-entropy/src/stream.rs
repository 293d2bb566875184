//! A self-describing symbol stream: the smallest of raw bytes, a constant
//! run, or order-0 rANS with its table inline.
//!
//! Layout: `mode: u8`, `n: varint` (symbol count), then
//! - `Raw`: `n` bytes;
//! - `Constant`: the one symbol (1 byte);
//! - `Rans`: the [`FreqTable`], `payload_len: varint`, the [`rans`] payload.

use crate::bytes::{write_varint, ByteReader};
use crate::error::{corrupt, EntropyError, Result};
use crate::histogram::{histogram, Histogram};
use crate::rans::{self, Kernel};
use crate::table::{DecodeTable, EncodeTable, FreqTable, DEFAULT_PROB_BITS};

/// How a stream is stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum StreamMode {
    /// The symbols verbatim (they would not shrink).
    Raw = 0,
    /// Every symbol is the same.
    Constant = 1,
    /// Static order-0 rANS with the table inline.
    Rans = 2,
}

/// A parsed stream that borrows its payload from the input.
#[derive(Clone, Debug)]
pub enum StreamView<'a> {
    /// Raw symbols, usable in place.
    Raw(&'a [u8]),
    /// `n` copies of one symbol.
    Constant {
        /// The symbol.
        symbol: u8,
        /// How many.
        n: usize,
    },
    /// rANS-coded symbols.
    Rans {
        // Boxed: the table is 1 KiB and the other variants are two words.
        /// The table the payload is coded with.
        table: Box<FreqTable>,
        /// The [`crate::rans`] payload.
        payload: &'a [u8],
        /// Symbols in the payload.
        n: usize,
    },
}

impl StreamView<'_> {
    /// Number of symbols the stream decodes to.
    pub fn len(&self) -> usize {
        match self {
            StreamView::Raw(b) => b.len(),
            StreamView::Constant { n, .. } | StreamView::Rans { n, .. } => *n,
        }
    }

    /// True when the stream holds no symbols.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Decodes the symbols into `out`, whose length must equal [`Self::len`].
    pub fn decode_into(&self, out: &mut [u8]) -> Result<()> {
        if out.len() != self.len() {
            return Err(EntropyError::LengthMismatch {
                expected: out.len(),
                found: self.len(),
            });
        }
        match self {
            StreamView::Raw(b) => out.copy_from_slice(b),
            StreamView::Constant { symbol, .. } => out.fill(*symbol),
            StreamView::Rans { table, payload, .. } => {
                rans::decode(payload, &DecodeTable::new(table), out)?
            }
        }
        Ok(())
    }
}

/// Encodes `symbols` in the smallest mode at the default precision, appending
/// to `out`; returns the mode chosen.
pub fn encode_stream(symbols: &[u8], out: &mut Vec<u8>) -> Result<StreamMode> {
    encode_stream_with(symbols, &histogram(symbols), DEFAULT_PROB_BITS, out)
}

/// [`encode_stream`], but raw unless rANS would save at least `saving` (a
/// fraction of the raw size, estimated): for symbols read where decode
/// speed matters more than a few near-uniform bits.
pub fn encode_stream_saving(symbols: &[u8], saving: f64, out: &mut Vec<u8>) -> Result<StreamMode> {
    let counts = histogram(symbols);
    if let Plan::Rans(table) = plan(symbols, &counts, DEFAULT_PROB_BITS)? {
        if table.cost_bits(&counts) / 8.0 > symbols.len() as f64 * (1.0 - saving) {
            return Ok(write_raw(symbols, out));
        }
    }
    encode_stream_with(symbols, &counts, DEFAULT_PROB_BITS, out)
}

/// Encodes `symbols` whose histogram the caller already has (`counts` must
/// be exactly the histogram of `symbols`) at precision `prob_bits`.
pub fn encode_stream_with(
    symbols: &[u8],
    counts: &Histogram,
    prob_bits: u32,
    out: &mut Vec<u8>,
) -> Result<StreamMode> {
    match plan(symbols, counts, prob_bits)? {
        Plan::Constant => Ok(write_constant(symbols, out)),
        Plan::Raw => Ok(write_raw(symbols, out)),
        Plan::Rans(table) => {
            let enc = EncodeTable::new(&table);
            rans::encode_then(symbols, &enc, Kernel::best(), |payload| {
                write_rans(symbols, &table, &payload, out)
            })
        }
    }
}

/// Encodes two symbol planes as two consecutive streams (exactly the bytes
/// of two [`encode_stream_with`] calls), coding both with rANS in lock step
/// when both need it. `counts_*` must be the histograms of the planes.
pub fn encode_stream_pair_with(
    a: &[u8],
    counts_a: &Histogram,
    b: &[u8],
    counts_b: &Histogram,
    prob_bits: u32,
    out: &mut Vec<u8>,
) -> Result<(StreamMode, StreamMode)> {
    let plan_a = plan(a, counts_a, prob_bits)?;
    let plan_b = plan(b, counts_b, prob_bits)?;
    let (Plan::Rans(ta), Plan::Rans(tb)) = (&plan_a, &plan_b) else {
        let ma = encode_stream_with(a, counts_a, prob_bits, out)?;
        let mb = encode_stream_with(b, counts_b, prob_bits, out)?;
        return Ok((ma, mb));
    };
    let (ea, eb) = (EncodeTable::new(ta), EncodeTable::new(tb));
    rans::encode_pair(a, &ea, b, &eb, Kernel::best(), |pa, pb| {
        let ma = write_rans(a, ta, &pa, out);
        let mb = write_rans(b, tb, &pb, out);
        (ma, mb)
    })
}

/// [`encode_stream_pair_with`] for two symbol planes given as the keys of
/// 16-bit little-endian values: the symbol of value `v` is
/// `symbol_of_key[v >> shift]` (see [`rans::fused::KeyedEncodeTable`]), and
/// `counts_*` are the histograms of those symbols. When both streams are
/// rANS-coded (the usual case) the planes are never materialised.
#[allow(clippy::too_many_arguments)]
pub fn encode_stream_pair_keyed(
    values_a: &[u8],
    counts_a: &Histogram,
    values_b: &[u8],
    counts_b: &Histogram,
    symbol_of_key: &[u16],
    shift: u32,
    prob_bits: u32,
    out: &mut Vec<u8>,
) -> Result<(StreamMode, StreamMode)> {
    let plane = |values: &[u8]| -> Vec<u8> {
        values
            .chunks_exact(2)
            .map(|v| symbol_of_key[usize::from(u16::from_le_bytes([v[0], v[1]]) >> shift)] as u8)
            .collect()
    };
    let (na, nb) = (values_a.len() / 2, values_b.len() / 2);
    let plan_a = plan_n(na, counts_a, prob_bits)?;
    let plan_b = plan_n(nb, counts_b, prob_bits)?;
    let (Plan::Rans(ta), Plan::Rans(tb)) = (&plan_a, &plan_b) else {
        let (a, b) = (plane(values_a), plane(values_b));
        return encode_stream_pair_with(&a, counts_a, &b, counts_b, prob_bits, out);
    };
    let (ea, eb) = (EncodeTable::new(ta), EncodeTable::new(tb));
    let ka = rans::fused::KeyedEncodeTable::new(&ea, symbol_of_key, shift)?;
    let kb = rans::fused::KeyedEncodeTable::new(&eb, symbol_of_key, shift)?;
    rans::fused::encode_pair_keyed(values_a, &ka, values_b, &kb, Kernel::best(), |pa, pb| {
        let ma = write_rans_or(na, ta, &pa, out, |out| write_raw(&plane(values_a), out));
        let mb = write_rans_or(nb, tb, &pb, out, |out| write_raw(&plane(values_b), out));
        (ma, mb)
    })
}

/// How a plane will be stored, decided from its histogram.
enum Plan {
    Constant,
    Raw,
    /// rANS with this table, if the payload turns out smaller than raw.
    Rans(Box<FreqTable>),
}

fn plan(symbols: &[u8], counts: &Histogram, prob_bits: u32) -> Result<Plan> {
    plan_n(symbols.len(), counts, prob_bits)
}

fn plan_n(n: usize, counts: &Histogram, prob_bits: u32) -> Result<Plan> {
    let present = counts.iter().filter(|&&c| c > 0).count();
    if present == 1 && n > 0 {
        return Ok(Plan::Constant);
    }
    if n > 0 {
        let table = FreqTable::from_counts(counts, prob_bits)?;
        // The coded size is known to within a few bytes before coding:
        // words are ~cost/16 each, plus the lane states and the table.
        let estimate = table.cost_bits(counts) / 8.0
            + (rans::STATE_BYTES + table.serialized_len() + 16) as f64;
        if estimate < n as f64 {
            return Ok(Plan::Rans(Box::new(table)));
        }
    }
    Ok(Plan::Raw)
}

fn write_constant(symbols: &[u8], out: &mut Vec<u8>) -> StreamMode {
    out.push(StreamMode::Constant as u8);
    write_varint(out, symbols.len() as u64);
    out.push(symbols[0]);
    StreamMode::Constant
}

fn write_raw(symbols: &[u8], out: &mut Vec<u8>) -> StreamMode {
    out.push(StreamMode::Raw as u8);
    write_varint(out, symbols.len() as u64);
    out.extend_from_slice(symbols);
    StreamMode::Raw
}

/// Writes the rANS stream if its payload is smaller than the symbols, else
/// the raw stream.
fn write_rans(
    symbols: &[u8],
    table: &FreqTable,
    payload: &rans::Payload<'_>,
    out: &mut Vec<u8>,
) -> StreamMode {
    write_rans_or(symbols.len(), table, payload, out, |out| {
        write_raw(symbols, out)
    })
}

/// Writes the rANS stream of `n` symbols if its payload is smaller than
/// `n`, else what `raw` writes.
fn write_rans_or(
    n: usize,
    table: &FreqTable,
    payload: &rans::Payload<'_>,
    out: &mut Vec<u8>,
    raw: impl FnOnce(&mut Vec<u8>) -> StreamMode,
) -> StreamMode {
    if payload.len() >= n {
        return raw(out);
    }
    out.push(StreamMode::Rans as u8);
    write_varint(out, n as u64);
    table.write(out);
    write_varint(out, payload.len() as u64);
    payload.write_to(out);
    StreamMode::Rans
}

/// Parses one stream that must hold `expected` symbols. Bounds every
/// length by the input before trusting it.
pub fn parse_stream<'a>(r: &mut ByteReader<'a>, expected: usize) -> Result<StreamView<'a>> {
    let start = r.pos();
    let mode = r.u8("stream mode")?;
    let n = r.varint()?;
    if n != expected as u64 {
        return Err(EntropyError::LengthMismatch {
            expected,
            found: usize::try_from(n).unwrap_or(usize::MAX),
        });
    }
    match mode {
        0 => Ok(StreamView::Raw(r.bytes(expected, "raw stream")?)),
        1 => Ok(StreamView::Constant {
            symbol: r.u8("constant stream symbol")?,
            n: expected,
        }),
        2 => {
            let table = FreqTable::read(r)?;
            // The limit is measured before the length's own bytes.
            let limit = r.remaining();
            let len = r.len(limit, "rANS payload length")?;
            let payload = r.bytes(len, "rANS payload")?;
            Ok(StreamView::Rans {
                table: Box::new(table),
                payload,
                n: expected,
            })
        }
        other => Err(corrupt(start, format!("unknown stream mode {other}"))),
    }
}

/// Decodes one stream into `out` (its length is the expected symbol count).
pub fn decode_stream(r: &mut ByteReader<'_>, out: &mut [u8]) -> Result<()> {
    parse_stream(r, out.len())?.decode_into(out)
}

/// Decodes two consecutive streams into `a` and `b` (their lengths are the
/// expected symbol counts): when both are rANS-coded, in lock step
/// ([`rans::decode_pair`]), which hides the latency of the table lookups;
/// the same symbols as two [`decode_stream`] calls.
pub fn decode_stream_pair(r: &mut ByteReader<'_>, a: &mut [u8], b: &mut [u8]) -> Result<()> {
    let va = parse_stream(r, a.len())?;
    let vb = parse_stream(r, b.len())?;
    match (&va, &vb) {
        (
            StreamView::Rans {
                table: ta,
                payload: pa,
                ..
            },
            StreamView::Rans {
                table: tb,
                payload: pb,
                ..
            },
        ) => {
            let (ta, tb) = (DecodeTable::new(ta), DecodeTable::new(tb));
            let mut da = rans::Decoder::new(pa, &ta, a.len())?;
            let mut db = rans::Decoder::new(pb, &tb, b.len())?;
            rans::decode_pair(&mut da, a, &mut db, b, Kernel::best())?;
            da.finish()?;
            db.finish()
        }
        _ => {
            va.decode_into(a)?;
            vb.decode_into(b)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(symbols: &[u8]) -> (StreamMode, usize) {
        let mut buf = vec![9u8];
        let mode = encode_stream(symbols, &mut buf).unwrap();
        let mut r = ByteReader::at(&buf, 1);
        let mut back = vec![0u8; symbols.len()];
        decode_stream(&mut r, &mut back).unwrap();
        assert_eq!(r.pos(), buf.len());
        assert_eq!(back, symbols);
        (mode, buf.len() - 1)
    }

    #[test]
    fn a_pair_decodes_as_two_streams() {
        let skewed: Vec<u8> = (0..5000u32).map(|i| (i * i % 7) as u8).collect();
        let spread: Vec<u8> = (0..5000u32)
            .map(|i| (i.wrapping_mul(2654435761) >> 24) as u8)
            .collect();
        let few = vec![3u8; 100];
        for (a, b) in [(&skewed, &spread), (&spread, &few), (&few, &skewed)] {
            let mut buf = Vec::new();
            encode_stream(a, &mut buf).unwrap();
            encode_stream(b, &mut buf).unwrap();
            let mut r = ByteReader::new(&buf);
            let (mut ba, mut bb) = (vec![0u8; a.len()], vec![0u8; b.len()]);
            decode_stream_pair(&mut r, &mut ba, &mut bb).unwrap();
            assert_eq!((&ba, &bb), (a, b));
            assert_eq!(r.pos(), buf.len());
        }
    }

    #[test]
    fn picks_the_right_mode() {
        assert_eq!(round_trip(&[]).0, StreamMode::Raw);
        assert_eq!(round_trip(&[5; 1000]).0, StreamMode::Constant);
        let uniform: Vec<u8> = (0..4096u32)
            .map(|i| (i.wrapping_mul(2654435761) >> 11) as u8)
            .collect();
        assert_eq!(round_trip(&uniform).0, StreamMode::Raw);
        let skewed: Vec<u8> = (0..10_000u32)
            .map(|i| if i % 10 == 0 { 1 } else { 2 })
            .collect();
        let (mode, len) = round_trip(&skewed);
        assert_eq!(mode, StreamMode::Rans);
        assert!(len < 10_000 / 6, "len {len}");
        assert_eq!(round_trip(&[1, 2]).0, StreamMode::Raw);
    }

    #[test]
    fn every_truncation_of_a_rans_stream_is_an_error() {
        let symbols: Vec<u8> = (0..3000u32).map(|i| (i * i % 7) as u8).collect();
        let mut buf = Vec::new();
        assert_eq!(encode_stream(&symbols, &mut buf).unwrap(), StreamMode::Rans);
        let mut out = vec![0u8; symbols.len()];
        for cut in 0..buf.len() {
            assert!(
                decode_stream(&mut ByteReader::new(&buf[..cut]), &mut out).is_err(),
                "cut {cut}"
            );
        }
    }

    #[test]
    fn keyed_pairs_write_the_bytes_of_materialised_planes() {
        let shift = 8;
        let symbol_of: Vec<u16> = (0..256).map(|k| (k % 50) as u16).collect();
        let cases: Vec<Vec<u16>> = vec![
            (0..5000u16)
                .map(|i| (i.wrapping_mul(40503) >> 3) & 0x0fff)
                .collect(), // rANS
            vec![0x1234; 3000],                                        // constant
            (0..3000u16).map(|i| i.wrapping_mul(2654) << 8).collect(), // near-uniform
            Vec::new(),
        ];
        for a in &cases {
            for b in &cases {
                let bytes =
                    |v: &[u16]| -> Vec<u8> { v.iter().flat_map(|x| x.to_le_bytes()).collect() };
                let plane = |v: &[u16]| -> Vec<u8> {
                    v.iter()
                        .map(|&x| symbol_of[usize::from(x >> shift)] as u8)
                        .collect()
                };
                let (pa, pb) = (plane(a), plane(b));
                let (ha, hb) = (histogram(&pa), histogram(&pb));
                let mut expected = Vec::new();
                let modes = encode_stream_pair_with(&pa, &ha, &pb, &hb, 12, &mut expected).unwrap();
                let mut got = Vec::new();
                let keyed = encode_stream_pair_keyed(
                    &bytes(a),
                    &ha,
                    &bytes(b),
                    &hb,
                    &symbol_of,
                    shift,
                    12,
                    &mut got,
                )
                .unwrap();
                assert_eq!((got, keyed), (expected, modes));
            }
        }
    }

    #[test]
    fn wrong_expected_length_is_an_error() {
        let mut buf = Vec::new();
        encode_stream(&[1, 2, 3, 3, 3], &mut buf).unwrap();
        let mut out = [0u8; 4];
        assert!(matches!(
            decode_stream(&mut ByteReader::new(&buf), &mut out),
            Err(EntropyError::LengthMismatch { .. })
        ));
    }
}
