//! Small shared pieces: a bounded reader over hostile input, byte planes,
//! and the precision search for inline tables.

use weightzip_entropy::histogram::Histogram;
use weightzip_entropy::rans::STATE_BYTES;
use weightzip_entropy::stream::encode_stream_with;
use weightzip_entropy::varint;
use weightzip_entropy::{rans, DecodeTable, FreqTable};

use crate::error::{corrupt, Context, Result};

/// Table precisions the per-file coders try (the smallest total wins).
pub(crate) const INLINE_PRECISIONS: std::ops::RangeInclusive<u32> = 12..=15;

/// A cursor over untrusted bytes: every read is bounds-checked.
pub(crate) struct Reader<'a> {
    pub(crate) buf: &'a [u8],
    pub(crate) pos: usize,
    method: &'static str,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(method: &'static str, buf: &'a [u8]) -> Self {
        Self {
            buf,
            pos: 0,
            method,
        }
    }

    pub(crate) fn u8(&mut self, what: &str) -> Result<u8> {
        let b = *self
            .buf
            .get(self.pos)
            .ok_or_else(|| corrupt(self.method, self.pos, format!("truncated {what}")))?;
        self.pos += 1;
        Ok(b)
    }

    pub(crate) fn varint(&mut self) -> Result<u64> {
        varint::read_u64(self.buf, &mut self.pos).in_method(self.method)
    }

    /// A varint length that must be at most `limit`.
    pub(crate) fn len(&mut self, limit: usize, what: &str) -> Result<usize> {
        let at = self.pos;
        let v = self.varint()?;
        if v > limit as u64 {
            return Err(corrupt(
                self.method,
                at,
                format!("{what} {v} exceeds the limit {limit}"),
            ));
        }
        Ok(v as usize)
    }

    pub(crate) fn bytes(&mut self, n: usize, what: &str) -> Result<&'a [u8]> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&e| e <= self.buf.len())
            .ok_or_else(|| {
                corrupt(
                    self.method,
                    self.pos,
                    format!(
                        "truncated {what}: needs {n} bytes, {} left",
                        self.remaining()
                    ),
                )
            })?;
        let s = &self.buf[self.pos..end];
        self.pos = end;
        Ok(s)
    }

    /// A varint-length-prefixed byte string.
    pub(crate) fn prefixed(&mut self, what: &str) -> Result<&'a [u8]> {
        let n = self.len(self.remaining(), what)?;
        self.bytes(n, what)
    }

    pub(crate) fn remaining(&self) -> usize {
        self.buf.len().saturating_sub(self.pos)
    }

    pub(crate) fn rest(&mut self) -> &'a [u8] {
        let s = &self.buf[self.pos.min(self.buf.len())..];
        self.pos = self.buf.len();
        s
    }

    /// Fails unless every byte was consumed.
    pub(crate) fn finish(&self) -> Result<()> {
        if self.pos != self.buf.len() {
            return Err(corrupt(
                self.method,
                self.pos,
                format!("{} trailing bytes", self.remaining()),
            ));
        }
        Ok(())
    }
}

/// Splits whole `width`-byte elements into `width` byte planes (plane `j`
/// holds byte `j` of every element); returns the planes and the tail bytes
/// that do not fill an element.
pub(crate) fn split_planes(data: &[u8], width: usize) -> (Vec<Vec<u8>>, &[u8]) {
    let n = data.len() / width;
    let mut planes: Vec<Vec<u8>> = (0..width).map(|_| Vec::with_capacity(n)).collect();
    if width == 2 {
        let (a, b) = planes.split_at_mut(1);
        for e in data[..n * 2].chunks_exact(2) {
            a[0].push(e[0]);
            b[0].push(e[1]);
        }
    } else {
        for e in data[..n * width].chunks_exact(width) {
            for (p, &b) in planes.iter_mut().zip(e) {
                p.push(b);
            }
        }
    }
    (planes, &data[n * width..])
}

/// Inverse of [`split_planes`]: interleaves equal-length planes, then the tail.
pub(crate) fn merge_planes(planes: &[&[u8]], tail: &[u8], out: &mut Vec<u8>) {
    let width = planes.len();
    let n = planes.first().map_or(0, |p| p.len());
    let start = out.len();
    out.resize(start + n * width, 0);
    let body = &mut out[start..];
    if width == 2 {
        for ((o, &a), &b) in body.chunks_exact_mut(2).zip(planes[0]).zip(planes[1]) {
            o[0] = a;
            o[1] = b;
        }
    } else {
        for (j, p) in planes.iter().enumerate() {
            for (o, &b) in body.chunks_exact_mut(width).zip(p.iter()) {
                o[j] = b;
            }
        }
    }
    out.extend_from_slice(tail);
}

/// Estimated bytes of coding `counts` with a table at `bits` inline: the
/// table, the rANS lane states and the exact cost of the symbols.
pub(crate) fn inline_cost_bytes(counts: &Histogram, bits: u32) -> Option<f64> {
    let t = FreqTable::from_counts(counts, bits).ok()?;
    Some(t.cost_bits(counts) / 8.0 + (t.serialized_len() + STATE_BYTES) as f64)
}

/// The precision in [`INLINE_PRECISIONS`] whose inline table plus coded
/// symbols is smallest (12 on an empty or constant histogram).
pub(crate) fn best_inline_precision(counts: &Histogram) -> u32 {
    let mut best = (f64::INFINITY, *INLINE_PRECISIONS.start());
    for bits in INLINE_PRECISIONS {
        if let Some(c) = inline_cost_bytes(counts, bits) {
            if c < best.0 {
                best = (c, bits);
            }
        }
    }
    best.1
}

/// Appends one self-describing weightzip_entropy stream of `symbols`
/// (raw, constant, or rANS with its table inline at the best precision).
pub(crate) fn encode_plane_stream(
    method: &'static str,
    symbols: &[u8],
    out: &mut Vec<u8>,
) -> Result<()> {
    let counts = weightzip_entropy::histogram(symbols);
    let bits = best_inline_precision(&counts);
    encode_stream_with(symbols, &counts, bits, out).in_method(method)?;
    Ok(())
}

/// Decodes one stream written by [`encode_plane_stream`] holding `n` symbols.
///
/// The stream layout is weightzip_entropy's (`mode: u8`, `n: varint`, then
/// raw bytes / one constant symbol / table + payload length + rANS
/// payload); it is parsed here with every length bounded by the input
/// before use.
pub(crate) fn decode_plane_stream(
    method: &'static str,
    r: &mut Reader<'_>,
    n: usize,
) -> Result<Vec<u8>> {
    let at = r.pos;
    let mode = r.u8("stream mode")?;
    let count = r.varint()?;
    if count != n as u64 {
        return Err(corrupt(
            method,
            at,
            format!("stream holds {count} symbols, expected {n}"),
        ));
    }
    match mode {
        0 => Ok(r.bytes(n, "raw stream")?.to_vec()),
        1 => Ok(vec![r.u8("constant symbol")?; n]),
        2 => {
            let table = FreqTable::read(r.buf, &mut r.pos).in_method(method)?;
            let payload = r.prefixed("rANS payload")?;
            let mut out = vec![0u8; n];
            rans::decode(payload, &DecodeTable::new(&table), &mut out).in_method(method)?;
            Ok(out)
        }
        other => Err(corrupt(method, at, format!("unknown stream mode {other}"))),
    }
}
