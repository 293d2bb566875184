//! [`DeltaKind::SubEscape`] and [`DeltaKind::SubEscapeSplit`]: the zigzag
//! delta words of [`DeltaKind::Sub`] with the small ones as one alias-coded
//! symbol each (the entropy crate's fastest decoder) and the rest escaped
//! to two byte planes; split, the low `k` bits of every word raw first.
//!
//! A fine-tune moves most weights by a few units in the last place: most
//! delta words `z` are below 31 or 63, and those are their own symbol in a
//! 32- or 64-symbol alias table whose last symbol is the escape. The
//! escaped words are listed in order, their high bytes alias-coded (they
//! take few values) and their low bytes, near uniform in such large words,
//! raw (a copy to decode) unless coding them saves 5 %. The AVX-512 kernel
//! ([`fused::decode_pair_escaped`]) decodes both halves' symbols straight
//! into the new words. The sizes stay about Sub's — the symbols hold the
//! small words' whole information, the planes the large words' — and
//! decoding is one fast symbol per word plus the planes of the escaped
//! words. Larger steps spread the delta words wider: the split kind codes
//! `v = z >> k` that way and the `k` low bits raw, one bit plane each,
//! which the kernel shifts in (`k` and the table's shape: [`choose`]).
//! Words that would all be one symbol are coded as Sub (an alias table
//! holds two symbols or more).
//!
//! Payload after `kind u8` (3 or 4) and `n varint` (words): for kind 4 `k
//! u8` (0 to 4); `symbols u8` (32 or 64: the table's shape; its symbol
//! `symbols - 1` is the escape), the frequency table (12-bit precision,
//! symbols below `symbols`), the rANS payloads of the symbols of words
//! `0..m` and `m..n` (`m = n / 64 * 32`), each as `len varint` and its
//! bytes, decoded in lock step with the one table; `e_a varint` and `e_b
//! varint`, the escaped words of each half (the escape symbols decoded
//! there); the escaped words' high bytes (see [`write_high_bytes`]: two
//! streams, or alias-coded indices into their 2 to 64 values); then one
//! stream of their `e_a + e_b` low bytes (half a's first); for kind 4, `k`
//! raw planes of `ceil(n / 8)` bytes. Word `i`'s value `v` is its symbol,
//! or for an escape the next escaped word of its half, `hi << 8 | lo`; its
//! delta word `z = v << k | raw bits`; the new word is
//! `unordered(ordered(base) + unzigzag(z))` as for Sub. `docs/FORMAT.md`
//! gives every byte.

use std::cell::RefCell;

use weightzip_entropy::decode_stream;
use weightzip_entropy::rans::fused::{self, EscapeSink, MAX_RAW_BITS};
use weightzip_entropy::rans::{self, Decoder};
use weightzip_entropy::stream::{decode_stream_pair, encode_stream_saving};
use weightzip_entropy::{
    encode_stream, write_varint, AliasShape, ByteReader, DecodeTable, EncodeTable, EntropyError,
    FreqTable, Kernel, ALIAS_BITS,
};

use super::{forward, word, DeltaKind};

mod choose;
use choose::WordCounts;

/// The escaped words' low bytes are rANS-coded only if that saves this
/// fraction of their size.
const LOW_SAVING: f64 = 0.05;

fn corrupt(offset: usize, reason: String) -> EntropyError {
    EntropyError::Corrupt { offset, reason }
}

/// Scratch of the coder, reused from chunk to chunk.
#[derive(Default)]
struct Scratch {
    /// Delta words (encoder).
    z: Vec<u16>,
    /// One symbol per word.
    symbols: Vec<u8>,
    /// High and low bytes of the escaped words (with [`ESCAPE_PAD`] more
    /// in the decoder, read by the SIMD kernels).
    hi: Vec<u8>,
    lo: Vec<u8>,
    /// Raw low-bit planes (encoder).
    planes: Vec<u8>,
}

/// Bytes after the escaped words that the SIMD kernels may read, not use:
/// a fused step reads 64 from where it stands, so with this many the
/// kernels never stop short of the last escaped word (with fewer, every
/// word after the last escapes but one would be decoded the slow way).
const ESCAPE_PAD: usize = 64;

thread_local! {
    static SCRATCH: RefCell<Scratch> = RefCell::new(Scratch::default());
}

/// Writes `shape`'s byte and the alias table of `counts` (two symbols or
/// more) and returns its encoder table.
fn write_table(
    shape: AliasShape,
    counts: &[u64; 64],
    out: &mut Vec<u8>,
) -> Result<EncodeTable, EntropyError> {
    let mut all = [0u64; 256];
    all[..64].copy_from_slice(counts);
    let table = FreqTable::from_counts(&all, ALIAS_BITS)?;
    out.push(shape.buckets() as u8);
    table.write(out);
    EncodeTable::alias(&table, shape)
}

/// Makes `v` at least `n` long (a scratch buffer: never shrunk, so only
/// its growth is zeroed).
fn grow(v: &mut Vec<u8>, n: usize) {
    if v.len() < n {
        v.resize(n, 0);
    }
}

/// Reads a table written by [`write_table`] whose symbols are below
/// `count` (at most its shape's).
fn read_table(
    r: &mut ByteReader<'_>,
    count: Option<usize>,
) -> Result<(AliasShape, DecodeTable), EntropyError> {
    let at = r.pos();
    let shape = match r.u8("escape delta symbols")? {
        32 => AliasShape::Wide,
        64 => AliasShape::Narrow,
        other => return Err(corrupt(at, format!("an escape delta of {other} symbols"))),
    };
    let at = r.pos();
    let table = FreqTable::read(r)?;
    let count = count.unwrap_or(shape.buckets());
    if !shape.fits(&table)
        || count > shape.buckets()
        || table.freqs()[count..].iter().any(|&f| f > 0)
    {
        return Err(corrupt(
            at,
            "not an alias table of its shape and symbols".into(),
        ));
    }
    Ok((shape, DecodeTable::alias(&table, shape)?))
}

fn read_payload<'a>(r: &mut ByteReader<'a>) -> Result<&'a [u8], EntropyError> {
    let limit = r.remaining();
    let len = r.len(limit, "escape delta payload length")?;
    r.bytes(len, "escape delta payload")
}

/// Appends the [`DeltaKind::SubEscapeSplit`] payload (`split`, else the
/// [`DeltaKind::SubEscape`] one: no raw bits) of the words `new` against
/// `base` (same even length) to `out` and returns `true`; or returns
/// `false`, `out` unchanged, when every word would be one symbol (an alias
/// table holds two or more: such words are coded as [`DeltaKind::Sub`],
/// whose constant streams take a few bytes).
pub(super) fn encode(
    new: &[u8],
    base: &[u8],
    out: &mut Vec<u8>,
    split: bool,
) -> Result<bool, EntropyError> {
    let n = new.len() / 2;
    let start = out.len();
    let coded = SCRATCH.with(|cell| {
        let s = &mut *cell.borrow_mut();
        s.z.clear();
        s.z.extend((0..n).map(|i| forward(DeltaKind::Sub, word(new, i), word(base, i))));
        let words = WordCounts::of(&s.z);
        let Some((shift, shape)) = words.split(if split { MAX_RAW_BITS as u32 } else { 0 }) else {
            return Ok(false);
        };
        let (counts, _) = words.symbols(shape, shift);
        // The raw low bits, one plane per bit, then the words above them.
        s.planes.clear();
        for k in 0..shift {
            s.planes.extend(s.z.chunks(8).map(|eight| {
                (0..)
                    .zip(eight)
                    .fold(0u8, |b, (t, &v)| b | (((v >> k) & 1) as u8) << t)
            }));
        }
        for v in &mut s.z {
            *v >>= shift;
        }
        let escape = shape.buckets() as u16 - 1;
        s.symbols.clear();
        s.symbols.extend(s.z.iter().map(|&d| d.min(escape) as u8));
        let kind = if split {
            DeltaKind::SubEscapeSplit
        } else {
            DeltaKind::SubEscape
        };
        out.push(kind as u8);
        write_varint(out, n as u64);
        if split {
            out.push(shift as u8);
        }
        let et = write_table(shape, &counts, out)?;
        let (a, b) = s.symbols.split_at(n / 64 * 32);
        rans::encode_pair(a, &et, b, &et, Kernel::best(), |pa, pb| {
            for p in [pa, pb] {
                write_varint(out, p.len() as u64);
                p.write_to(out);
            }
        })?;
        s.hi.clear();
        s.lo.clear();
        for &d in s.z.iter().filter(|&&d| d >= escape) {
            s.hi.push((d >> 8) as u8);
            s.lo.push(d as u8);
        }
        // The escapes of each half apart, for a decoder that combines the
        // halves in lock step.
        let e_a = s.symbols[..n / 64 * 32]
            .iter()
            .filter(|&&c| u16::from(c) == escape)
            .count();
        write_varint(out, e_a as u64);
        write_varint(out, (s.hi.len() - e_a) as u64);
        write_high_bytes(&mut s.hi, e_a, out)?;
        encode_stream_saving(&s.lo, LOW_SAVING, out)?;
        out.extend_from_slice(&s.planes);
        Ok(true)
    });
    if coded.is_err() {
        out.truncate(start);
    }
    coded
}

/// Writes the high bytes of the escaped words (`hi`, half a's `e_a` first)
/// as `mode u8` and: for mode 1, their alphabet (`count - 1 u8`, then the
/// values ascending as varints, the first and then each difference) and
/// the two halves' symbols (indices in the alphabet) alias-coded with one
/// table, as [`read_high_bytes`] reads them — when both halves have
/// escapes and 2 to 64 values occur; else mode 0, the two halves as two
/// streams. Leaves `hi` mapped to symbols in mode 1.
fn write_high_bytes(hi: &mut [u8], e_a: usize, out: &mut Vec<u8>) -> Result<(), EntropyError> {
    let mut present = [false; 256];
    for &h in hi.iter() {
        present[usize::from(h)] = true;
    }
    let alphabet: Vec<u8> = (0..=255u8).filter(|&h| present[usize::from(h)]).collect();
    if e_a == 0 || e_a == hi.len() || !(2..=64).contains(&alphabet.len()) {
        out.push(0);
        encode_stream(&hi[..e_a], out)?;
        encode_stream(&hi[e_a..], out)?;
        return Ok(());
    }
    out.push(1);
    out.push((alphabet.len() - 1) as u8);
    let mut last = 0;
    for (i, &h) in alphabet.iter().enumerate() {
        write_varint(out, u64::from(if i == 0 { h } else { h - last }));
        last = h;
    }
    let mut symbol_of = [0u8; 256];
    for (i, &h) in alphabet.iter().enumerate() {
        symbol_of[usize::from(h)] = i as u8;
    }
    let mut counts = [0u64; 64];
    for h in hi.iter_mut() {
        *h = symbol_of[usize::from(*h)];
        counts[usize::from(*h)] += 1;
    }
    let shape = if alphabet.len() <= AliasShape::Wide.buckets() {
        AliasShape::Wide
    } else {
        AliasShape::Narrow
    };
    let et = write_table(shape, &counts, out)?;
    let (a, b) = hi.split_at(e_a);
    rans::encode_pair(a, &et, b, &et, Kernel::best(), |pa, pb| {
        for p in [pa, pb] {
            write_varint(out, p.len() as u64);
            p.write_to(out);
        }
    })
}

/// Reads the high bytes of the escaped words written by
/// [`write_high_bytes`] into `hi` (half a's `e_a` first).
fn read_high_bytes(r: &mut ByteReader<'_>, hi: &mut [u8], e_a: usize) -> Result<(), EntropyError> {
    let at = r.pos();
    let (hi_a, hi_b) = hi.split_at_mut(e_a);
    match r.u8("escape delta high-byte mode")? {
        0 => decode_stream_pair(r, hi_a, hi_b),
        1 => {
            let count = usize::from(r.u8("high-byte values")?) + 1;
            let mut value_of = [0u8; 64];
            let mut last = 0u64;
            for (i, v) in value_of.iter_mut().take(count).enumerate() {
                let at = r.pos();
                let d = r.varint()?;
                let value = if i == 0 {
                    Some(d)
                } else {
                    last.checked_add(d).filter(|_| d > 0)
                };
                let value = value
                    .filter(|&v| v < 256)
                    .ok_or_else(|| corrupt(at, format!("high-byte value {d} after {last}")))?;
                *v = value as u8;
                last = value;
            }
            let (_, dt) = read_table(r, Some(count))?;
            let payloads = [read_payload(r)?, read_payload(r)?];
            let mut da = Decoder::new(payloads[0], &dt, hi_a.len())?;
            let mut db = Decoder::new(payloads[1], &dt, hi_b.len())?;
            rans::decode_pair(&mut da, hi_a, &mut db, hi_b, Kernel::best())?;
            da.finish()?;
            db.finish()?;
            // Symbols are below `count` (the table has no other).
            super::combine::map_bytes(hi, &value_of, Kernel::best());
            Ok(())
        }
        other => Err(corrupt(at, format!("high-byte mode {other}"))),
    }
}

/// Restores the new words in `words` (`2n` bytes) from the payload after
/// its kind byte and word count, where `r` stands, and the base's words:
/// `base` when given (as long as `words`), else `words` on entry. `split`:
/// a [`DeltaKind::SubEscapeSplit`] payload (raw low bits), else
/// [`DeltaKind::SubEscape`].
pub(super) fn decode(
    r: &mut ByteReader<'_>,
    base: Option<&[u8]>,
    words: &mut [u8],
    split: bool,
) -> Result<(), EntropyError> {
    let n = words.len() / 2;
    let shift = if split {
        let at = r.pos();
        let k = usize::from(r.u8("raw low bits")?);
        if k > MAX_RAW_BITS {
            return Err(corrupt(
                at,
                format!("{k} raw low bits (at most {MAX_RAW_BITS})"),
            ));
        }
        k
    } else {
        0
    };
    let (shape, dt) = read_table(r, None)?;
    let escape = (shape.buckets() - 1) as u8;
    let payloads = [read_payload(r)?, read_payload(r)?];
    let m = n / 64 * 32;
    let e_at = r.pos();
    let mut escaped = [0usize; 2];
    for (e, words) in escaped.iter_mut().zip([m, n - m]) {
        let at = r.pos();
        let v = r.varint()?;
        *e = usize::try_from(v)
            .ok()
            .filter(|&v| v <= words)
            .ok_or_else(|| corrupt(at, format!("{v} escaped words of {words}")))?;
    }
    let [e_a, e_b] = escaped;
    let e = e_a + e_b;
    SCRATCH.with(|cell| {
        let s = &mut *cell.borrow_mut();
        // Reused from call to call, never shrunk: zeroed only as they grow.
        grow(&mut s.hi, e + ESCAPE_PAD);
        grow(&mut s.lo, e + ESCAPE_PAD);
        read_high_bytes(r, &mut s.hi[..e], e_a)?;
        decode_stream(r, &mut s.lo[..e])?;
        // Each plane's bytes where they are in the payload: half a's from
        // the first, half b's from word m on (m is a multiple of 8).
        let mut planes: [&[u8]; MAX_RAW_BITS] = [&[]; MAX_RAW_BITS];
        for p in &mut planes[..shift] {
            *p = r.bytes(n.div_ceil(8), "raw low bits")?;
        }
        let planes_b = planes.map(|p| p.get(m / 8..).unwrap_or(&[]));
        if r.remaining() != 0 {
            return Err(corrupt(r.pos(), "bytes after the delta".into()));
        }
        grow(&mut s.symbols, n);
        let mut da = Decoder::new(payloads[0], &dt, m)?;
        let mut db = Decoder::new(payloads[1], &dt, n - m)?;
        let (words_a, words_b) = words.split_at_mut(2 * m);
        let (hi, lo) = (&s.hi[..e + ESCAPE_PAD], &s.lo[..e + ESCAPE_PAD]);
        // The bulk decoded straight into the new words where the CPU has the
        // kernel; the rest (all, elsewhere) as symbols, then combined.
        let (base_a, base_b) = match base {
            Some(b) => {
                let (a, b) = b.split_at(2 * m);
                (Some(a), Some(b))
            }
            None => (None, None),
        };
        let raw = [&planes[..shift], &planes_b[..shift]];
        let mut sinks = [(words_a, base_a, 0, raw[0]), (words_b, base_b, e_a, raw[1])].map(
            |(words, base, first, raw_bits)| EscapeSink {
                words,
                base,
                escape,
                hi: &hi[first..],
                lo: &lo[first..],
                used: 0,
                raw_bits,
            },
        );
        let [sink_a, sink_b] = &mut sinks;
        let done = fused::decode_pair_escaped(&mut da, sink_a, &mut db, sink_b, Kernel::best());
        let (sa, sb) = s.symbols[..n].split_at_mut(m);
        let (sa, sb) = (&mut sa[done..], &mut sb[done..]);
        rans::decode_pair(&mut da, sa, &mut db, sb, Kernel::best())?;
        da.finish()?;
        db.finish()?;
        for (half, (sink, symbols, want)) in sinks
            .into_iter()
            .zip([(&*sa, e_a), (&*sb, e_b)])
            .map(|(k, (sy, w))| (k, sy, w))
            .enumerate()
        {
            // done is a multiple of 64: the planes go on at a whole byte.
            let rest = [planes, planes_b][half].map(|p| p.get(done / 8..).unwrap_or(&[]));
            let seen = sink.used
                + super::combine::combine_escaped(
                    &mut sink.words[2 * done..],
                    sink.base.map(|b| &b[2 * done..]),
                    symbols,
                    escape,
                    (
                        &sink.hi[sink.used.min(sink.hi.len())..],
                        &sink.lo[sink.used.min(sink.lo.len())..],
                    ),
                    &rest[..shift],
                    Kernel::best(),
                );
            if seen != want {
                return Err(corrupt(
                    e_at,
                    format!("half {half}: {seen} escape symbols but {want} escaped words"),
                ));
            }
        }
        Ok(())
    })
}
