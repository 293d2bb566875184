//! Delta codecs for 16-bit float tensors (bf16, fp16) against the same
//! tensor of a base checkpoint: a fine-tune moves most weights by a few
//! units in the last place or not at all, so the difference of the two
//! words is far more compressible than either.
//!
//! Two transforms, each followed by the entropy crate's streams (raw /
//! constant / rANS) on the high and low byte planes coded apart:
//! - [`DeltaKind::Xor`]: `new ^ base` per 16-bit word;
//! - [`DeltaKind::Sub`]: the exponent-aware difference — both words mapped
//!   to integers that order like the floats they stand for (sign-magnitude
//!   to two's complement), subtracted, zigzag-coded: one unit in the last
//!   place is 1 or 2 whatever bits it flips.
//!
//! Payload: `kind u8` (1 xor, 2 sub), `n varint` words, then the
//! high-byte and the low-byte plane, each one stream of the entropy crate
//! (`docs/FORMAT.md`, "Stream"). Decoding needs the base's bytes and
//! restores the new ones exactly.
//!
//! These are the codecs only: the container does not yet write or read
//! delta chunks (no `--base` yet); `examples/delta_curve.rs` measures what
//! they would save on real checkpoints.

use weightzip_entropy::{decode_stream, encode_stream, write_varint, ByteReader, EntropyError};

/// How the two words are combined.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeltaKind {
    /// Bitwise exclusive or.
    Xor = 1,
    /// Difference of the order-preserving integers, zigzag-coded.
    Sub = 2,
}

impl DeltaKind {
    fn from_u8(b: u8) -> Option<Self> {
        match b {
            1 => Some(DeltaKind::Xor),
            2 => Some(DeltaKind::Sub),
            _ => None,
        }
    }
}

/// A 16-bit float word as an integer that orders like the float.
fn ordered(w: u16) -> u16 {
    if w & 0x8000 != 0 {
        !w
    } else {
        w | 0x8000
    }
}

fn unordered(o: u16) -> u16 {
    if o & 0x8000 != 0 {
        o & 0x7fff
    } else {
        !o
    }
}

fn zigzag(d: i16) -> u16 {
    ((d << 1) ^ (d >> 15)) as u16
}

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
        DeltaKind::Xor => n ^ b,
        DeltaKind::Sub => zigzag(ordered(n).wrapping_sub(ordered(b)) as i16),
    }
}

/// The new word from delta `d` and base `b`.
fn inverse(kind: DeltaKind, d: u16, b: u16) -> u16 {
    match kind {
        DeltaKind::Xor => d ^ b,
        DeltaKind::Sub => unordered(ordered(b).wrapping_add(unzigzag(d) as u16)),
    }
}

/// Appends the delta of the 16-bit words `new` against `base` (same even
/// length) to `out`.
pub fn encode(
    kind: DeltaKind,
    new: &[u8],
    base: &[u8],
    out: &mut Vec<u8>,
) -> Result<(), EntropyError> {
    if new.len() != base.len() || !new.len().is_multiple_of(2) {
        return Err(bad("a delta needs two tensors of the same even length"));
    }
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
    if out.len() != base.len() || !out.len().is_multiple_of(2) {
        return Err(bad("a delta restores a tensor of its base's even length"));
    }
    let mut r = ByteReader::new(payload);
    let kind = DeltaKind::from_u8(r.u8("delta kind")?).ok_or_else(|| EntropyError::Corrupt {
        offset: 0,
        reason: "unknown delta kind".into(),
    })?;
    let n = r.varint()?;
    if n != (out.len() / 2) as u64 {
        return Err(EntropyError::LengthMismatch {
            expected: out.len() / 2,
            found: usize::try_from(n).unwrap_or(usize::MAX),
        });
    }
    let n = out.len() / 2;
    let (mut hi, mut lo) = (vec![0u8; n], vec![0u8; n]);
    decode_stream(&mut r, &mut hi)?;
    decode_stream(&mut r, &mut lo)?;
    if r.remaining() != 0 {
        return Err(EntropyError::Corrupt {
            offset: r.pos(),
            reason: "bytes after the delta".into(),
        });
    }
    for i in 0..n {
        let d = (u16::from(hi[i]) << 8) | u16::from(lo[i]);
        let w = inverse(kind, d, word(base, i));
        out[2 * i..2 * i + 2].copy_from_slice(&w.to_le_bytes());
    }
    Ok(())
}

#[cfg(test)]
mod tests;
