//! Small shared pieces: a bounded reader over hostile input, byte planes,
//! and the precision search for inline tables.

use weightzip_entropy::histogram::Histogram;
use weightzip_entropy::rans::STATE_BYTES;
use weightzip_entropy::stream::encode_stream_with;
use weightzip_entropy::{rans, ByteReader, DecodeTable, FreqTable};

use crate::error::{corrupt, Context, Result};

/// Table precisions the per-file coders try (the smallest total wins).
pub(crate) const INLINE_PRECISIONS: std::ops::RangeInclusive<u32> = 12..=15;

/// [`ByteReader`] with the method's name for errors.
pub(crate) struct Reader<'a> {
    inner: ByteReader<'a>,
    method: &'static str,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(method: &'static str, buf: &'a [u8]) -> Self {
        Self {
            inner: ByteReader::new(buf),
            method,
        }
    }

    /// The offset of the next byte.
    pub(crate) fn pos(&self) -> usize {
        self.inner.pos()
    }

    pub(crate) fn u8(&mut self, what: &'static str) -> Result<u8> {
        self.inner.u8(what).in_method(self.method)
    }

    pub(crate) fn varint(&mut self) -> Result<u64> {
        self.inner.varint().in_method(self.method)
    }

    /// A varint length that must be at most `limit`.
    pub(crate) fn len(&mut self, limit: usize, what: &str) -> Result<usize> {
        self.inner.len(limit, what).in_method(self.method)
    }

    pub(crate) fn bytes(&mut self, n: usize, what: &'static str) -> Result<&'a [u8]> {
        self.inner.bytes(n, what).in_method(self.method)
    }

    /// A varint-length-prefixed byte string.
    pub(crate) fn prefixed(&mut self, what: &'static str) -> Result<&'a [u8]> {
        self.inner.prefixed(what).in_method(self.method)
    }

    /// A frequency table ([`FreqTable::write`]).
    pub(crate) fn table(&mut self) -> Result<FreqTable> {
        FreqTable::read(&mut self.inner).in_method(self.method)
    }

    pub(crate) fn remaining(&self) -> usize {
        self.inner.remaining()
    }

    /// Consumes and returns every byte left.
    pub(crate) fn rest(&mut self) -> &'a [u8] {
        let s = self.inner.rest();
        self.inner = ByteReader::at(self.inner.buf(), self.inner.buf().len());
        s
    }

    /// Fails unless every byte was consumed.
    pub(crate) fn finish(&self) -> Result<()> {
        if self.remaining() != 0 {
            return Err(corrupt(
                self.method,
                self.pos(),
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
    let at = r.pos();
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
            let table = r.table()?;
            let payload = r.prefixed("rANS payload")?;
            let mut out = vec![0u8; n];
            rans::decode(payload, &DecodeTable::new(&table), &mut out).in_method(method)?;
            Ok(out)
        }
        other => Err(corrupt(method, at, format!("unknown stream mode {other}"))),
    }
}
