//! Delta codecs for 16-bit float tensors (bf16, fp16) against the same
//! tensor of a base checkpoint: a fine-tune moves most weights by a few
//! units in the last place or not at all, so the difference of the two
//! words is far more compressible than either.
//!
//! Two transforms of the words:
//! - [`DeltaKind::Xor`]: `new ^ base` per 16-bit word;
//! - [`DeltaKind::Sub`]: the exponent-aware difference — both words mapped
//!   to integers that order like the floats they stand for (sign-magnitude
//!   to two's complement), subtracted, zigzag-coded: one unit in the last
//!   place is 1 or 2 whatever bits it flips.
//!
//! Xor and Sub code the delta words' high and low byte planes as the
//! entropy crate's streams (raw / constant / rANS). [`DeltaKind::SubEscape`]
//! ([`escape`]) codes Sub's delta words as one alias-coded symbol each, the
//! large ones escaped to byte planes: about Sub's size, and one fast symbol
//! to decode per word instead of two. [`DeltaKind::SubEscapeSplit`] (what
//! the writer uses) first splits off 0 to 4 raw low bits of every delta
//! word, so that larger fine-tune steps escape far fewer words. A chunk
//! whose bytes equal its base's is [`DeltaKind::Same`], whatever its type.
//!
//! Payload: `kind u8` (0 same, 1 xor, 2 sub, 3 escape-coded sub, 4 split
//! escape-coded sub), then `n varint`: bytes for same, 16-bit words
//! otherwise, followed for xor and sub by the high-byte and the low-byte
//! plane, each one stream of the entropy crate (`docs/FORMAT.md`,
//! "Stream"), and for kinds 3 and 4 by the layout in [`escape`]. Decoding
//! needs the base's bytes and restores the new ones exactly, in place of
//! the base's ([`decode_in_place`]) or beside them ([`decode`]). The
//! container stores these payloads as delta chunks (format version 4, kind
//! 3 from version 5, kind 4 from version 6): `compress --base` codes a
//! checkpoint against another, and a folder of checkpoints is coded as a
//! chain.

use weightzip_entropy::{encode_stream, write_varint, ByteReader, EntropyError, Kernel};

mod combine;
mod escape;
use combine::combine;

/// How the two words are combined.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeltaKind {
    /// The bytes are the base's.
    Same = 0,
    /// Bitwise exclusive or.
    Xor = 1,
    /// Difference of the order-preserving integers, zigzag-coded.
    Sub = 2,
    /// As [`DeltaKind::Sub`], the small delta words coded as one
    /// alias-coded symbol each and the rest escaped ([`escape`]).
    SubEscape = 3,
    /// As [`DeltaKind::SubEscape`], the delta words split: their low bits
    /// (0 to 4, chosen per chunk) raw, the rest escape-coded ([`escape`]).
    SubEscapeSplit = 4,
}

impl DeltaKind {
    fn from_u8(b: u8) -> Option<Self> {
        match b {
            0 => Some(DeltaKind::Same),
            1 => Some(DeltaKind::Xor),
            2 => Some(DeltaKind::Sub),
            3 => Some(DeltaKind::SubEscape),
            4 => Some(DeltaKind::SubEscapeSplit),
            _ => None,
        }
    }
}

/// A 16-bit float word as an integer that orders like the float: a
/// negative word flipped whole, a positive one with its sign bit set
/// (branch-free, so that the loops over words vectorise).
#[inline(always)]
fn ordered(w: u16) -> u16 {
    let negative = ((w as i16) >> 15) as u16;
    w ^ (negative | 0x8000)
}

#[inline(always)]
fn unordered(o: u16) -> u16 {
    let below_zero = !(((o as i16) >> 15) as u16);
    o ^ (below_zero | 0x8000)
}

fn zigzag(d: i16) -> u16 {
    ((d << 1) ^ (d >> 15)) as u16
}

#[inline(always)]
fn unzigzag(z: u16) -> i16 {
    ((z >> 1) as i16) ^ -((z & 1) as i16)
}

fn word(b: &[u8], i: usize) -> u16 {
    u16::from_le_bytes([b[2 * i], b[2 * i + 1]])
}

fn bad(reason: &str) -> EntropyError {
    EntropyError::InvalidArgument(reason.to_string())
}

/// The delta word of `n` against `b`.
fn forward(kind: DeltaKind, n: u16, b: u16) -> u16 {
    match kind {
        DeltaKind::Same | DeltaKind::Xor => n ^ b,
        DeltaKind::Sub | DeltaKind::SubEscape | DeltaKind::SubEscapeSplit => {
            zigzag(ordered(n).wrapping_sub(ordered(b)) as i16)
        }
    }
}

/// Appends the payload that says "the base's `len` bytes" to `out`.
pub fn encode_same(len: usize, out: &mut Vec<u8>) {
    out.push(DeltaKind::Same as u8);
    write_varint(out, len as u64);
}

/// Appends the delta of the 16-bit words `new` against `base` (same even
/// length) to `out` ([`DeltaKind::Same`] takes any length, and no words).
pub fn encode(
    kind: DeltaKind,
    new: &[u8],
    base: &[u8],
    out: &mut Vec<u8>,
) -> Result<(), EntropyError> {
    if kind == DeltaKind::Same {
        if new != base {
            return Err(bad("bytes that differ from their base are not the same"));
        }
        encode_same(new.len(), out);
        return Ok(());
    }
    if new.len() != base.len() || !new.len().is_multiple_of(2) {
        return Err(bad("a delta needs two tensors of the same even length"));
    }
    let escaped = matches!(kind, DeltaKind::SubEscape | DeltaKind::SubEscapeSplit);
    if escaped && escape::encode(new, base, out, kind == DeltaKind::SubEscapeSplit)? {
        return Ok(());
    }
    // Words whose symbols would all be one are coded as Sub.
    let kind = if escaped { DeltaKind::Sub } else { kind };
    let n = new.len() / 2;
    let (mut hi, mut lo) = (Vec::with_capacity(n), Vec::with_capacity(n));
    for i in 0..n {
        let d = forward(kind, word(new, i), word(base, i));
        hi.push((d >> 8) as u8);
        lo.push(d as u8);
    }
    out.push(kind as u8);
    write_varint(out, n as u64);
    encode_stream(&hi, out)?;
    encode_stream(&lo, out)?;
    Ok(())
}

/// Restores the new words from `payload` and `base` into `out` (both the
/// length of the tensor).
pub fn decode(payload: &[u8], base: &[u8], out: &mut [u8]) -> Result<(), EntropyError> {
    if out.len() != base.len() {
        return Err(bad("a delta restores bytes of its base's length"));
    }
    decode_from(payload, Some(base), out)
}

/// Restores the new words from `payload` in `words`, which hold the base's
/// bytes on entry (no second buffer: the base is read straight into the
/// output).
pub fn decode_in_place(payload: &[u8], words: &mut [u8]) -> Result<(), EntropyError> {
    decode_from(payload, None, words)
}

/// Restores the new words into `words` from `payload` and the base's words:
/// `base` when given (as long as `words`), else `words` on entry. The
/// escape-coded kind reads the base where it is; the others copy it into
/// `words` first and work in place.
fn decode_from(payload: &[u8], base: Option<&[u8]>, words: &mut [u8]) -> Result<(), EntropyError> {
    let mut r = ByteReader::new(payload);
    let kind = DeltaKind::from_u8(r.u8("delta kind")?).ok_or_else(|| EntropyError::Corrupt {
        offset: 0,
        reason: "unknown delta kind".into(),
    })?;
    let n = r.varint()?;
    if kind == DeltaKind::Same {
        if n != words.len() as u64 || r.remaining() != 0 {
            return Err(EntropyError::Corrupt {
                offset: r.pos(),
                reason: "a same-as-base delta of another length, or with bytes after it".into(),
            });
        }
        if let Some(b) = base {
            words.copy_from_slice(b);
        }
        return Ok(());
    }
    if !words.len().is_multiple_of(2) {
        return Err(bad("a word delta restores an even number of bytes"));
    }
    if n != (words.len() / 2) as u64 {
        return Err(EntropyError::LengthMismatch {
            expected: words.len() / 2,
            found: usize::try_from(n).unwrap_or(usize::MAX),
        });
    }
    if matches!(kind, DeltaKind::SubEscape | DeltaKind::SubEscapeSplit) {
        return escape::decode(&mut r, base, words, kind == DeltaKind::SubEscapeSplit);
    }
    if let Some(b) = base {
        words.copy_from_slice(b);
    }
    let n = words.len() / 2;
    PLANES.with(|cell| {
        let mut planes = cell.borrow_mut();
        let (hi, lo) = &mut *planes;
        // Reused from call to call: no zeroing once they have grown.
        hi.resize(n, 0);
        lo.resize(n, 0);
        // Both planes in lock step: twice the independent work per step.
        weightzip_entropy::stream::decode_stream_pair(&mut r, hi, lo)?;
        if r.remaining() != 0 {
            return Err(EntropyError::Corrupt {
                offset: r.pos(),
                reason: "bytes after the delta".into(),
            });
        }
        // One loop per kind, each free of branches.
        match kind {
            DeltaKind::Sub => combine::<true>(words, hi, lo, Kernel::best()),
            _ => combine::<false>(words, hi, lo, Kernel::best()),
        }
        Ok(())
    })
}

thread_local! {
    /// The two byte planes of the delta being decoded.
    static PLANES: std::cell::RefCell<(Vec<u8>, Vec<u8>)> =
        const { std::cell::RefCell::new((Vec::new(), Vec::new())) };
}

#[cfg(test)]
mod tests;
