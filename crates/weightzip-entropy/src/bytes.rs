//! Reading and writing the bytes of a coded field: [`ByteReader`], the one
//! bounds-checked cursor every decoder of the workspace reads with, and
//! LEB128 unsigned varints, the length prefix of every stream field.

use crate::error::{corrupt, truncated, Result};

/// Appends `value` as an unsigned LEB128 varint.
pub fn write_varint(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push((value as u8) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

/// A cursor over untrusted bytes. Every read is bounds-checked and fails
/// with an [`EntropyError`](crate::EntropyError) that names the field and
/// its offset (from the start of the slice the reader was made over).
#[derive(Clone, Debug)]
pub struct ByteReader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> ByteReader<'a> {
    /// A reader at the start of `buf`.
    pub fn new(buf: &'a [u8]) -> Self {
        Self { buf, pos: 0 }
    }

    /// A reader at offset `pos` of `buf` (offsets in errors stay relative
    /// to `buf`).
    pub fn at(buf: &'a [u8], pos: usize) -> Self {
        Self { buf, pos }
    }

    /// The offset of the next byte.
    pub fn pos(&self) -> usize {
        self.pos
    }

    /// The whole slice the reader runs over.
    pub fn buf(&self) -> &'a [u8] {
        self.buf
    }

    /// Bytes left after the cursor.
    pub fn remaining(&self) -> usize {
        self.buf.len().saturating_sub(self.pos)
    }

    /// The bytes left after the cursor (without consuming them).
    pub fn rest(&self) -> &'a [u8] {
        self.buf.get(self.pos..).unwrap_or(&[])
    }

    /// One byte.
    pub fn u8(&mut self, what: &'static str) -> Result<u8> {
        let b = *self
            .buf
            .get(self.pos)
            .ok_or_else(|| truncated(what, self.pos, 1, 0))?;
        self.pos += 1;
        Ok(b)
    }

    /// The next `n` bytes.
    pub fn bytes(&mut self, n: usize, what: &'static str) -> Result<&'a [u8]> {
        let s = self
            .pos
            .checked_add(n)
            .and_then(|end| self.buf.get(self.pos..end))
            .ok_or_else(|| truncated(what, self.pos, n, self.remaining()))?;
        self.pos += n;
        Ok(s)
    }

    /// The next `N` bytes as an array.
    pub fn array<const N: usize>(&mut self, what: &'static str) -> Result<[u8; N]> {
        let mut a = [0u8; N];
        a.copy_from_slice(self.bytes(N, what)?);
        Ok(a)
    }

    /// A little-endian u32.
    pub fn u32_le(&mut self, what: &'static str) -> Result<u32> {
        self.array(what).map(u32::from_le_bytes)
    }

    /// A little-endian u64.
    pub fn u64_le(&mut self, what: &'static str) -> Result<u64> {
        self.array(what).map(u64::from_le_bytes)
    }

    /// An unsigned LEB128 varint. Rejects encodings longer than 10 bytes
    /// or overflowing 64 bits.
    pub fn varint(&mut self) -> Result<u64> {
        let start = self.pos;
        let mut value: u64 = 0;
        for i in 0..10 {
            let byte = self.u8("varint")?;
            let bits = u64::from(byte & 0x7f);
            if i == 9 && bits > 1 {
                return Err(corrupt(start, "varint overflows 64 bits"));
            }
            value |= bits << (7 * i);
            if byte & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(corrupt(start, "varint longer than 10 bytes"))
    }

    /// A varint that must be at most `limit` (a length or a count).
    pub fn len(&mut self, limit: usize, what: &str) -> Result<usize> {
        let start = self.pos;
        let value = self.varint()?;
        if value > limit as u64 {
            return Err(corrupt(
                start,
                format!("{what} {value} exceeds the limit {limit}"),
            ));
        }
        Ok(value as usize)
    }

    /// A varint length, then that many bytes.
    pub fn prefixed(&mut self, what: &'static str) -> Result<&'a [u8]> {
        let n = self.len(self.remaining(), what)?;
        self.bytes(n, what)
    }
}

/// Runs `read` on a [`ByteReader`] at `*pos` of `buf` and moves `*pos` past
/// what it read (also when it fails): for decoders that keep a position
/// next to their input.
pub fn read_at<'a, T>(
    buf: &'a [u8],
    pos: &mut usize,
    read: impl FnOnce(&mut ByteReader<'a>) -> Result<T>,
) -> Result<T> {
    let mut r = ByteReader::at(buf, *pos);
    let v = read(&mut r);
    *pos = r.pos();
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_edge_values() {
        for v in [
            0u64,
            1,
            127,
            128,
            300,
            u32::MAX as u64,
            u64::MAX - 1,
            u64::MAX,
        ] {
            let mut buf = Vec::new();
            write_varint(&mut buf, v);
            let mut r = ByteReader::new(&buf);
            assert_eq!(r.varint().unwrap(), v);
            assert_eq!(r.pos(), buf.len());
        }
    }

    #[test]
    fn rejects_truncated_and_overlong() {
        assert!(ByteReader::new(&[0x80]).varint().is_err());
        assert!(ByteReader::new(&[0xff; 11]).varint().is_err());
        assert!(
            ByteReader::new(&[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02])
                .varint()
                .is_err()
        );
        assert!(ByteReader::new(&[0x05]).len(4, "count").is_err());
    }

    #[test]
    fn fixed_fields_are_bounds_checked() {
        let buf = [1u8, 2, 3, 4, 5, 6, 7, 8, 9];
        let mut r = ByteReader::new(&buf);
        assert_eq!(r.u8("a").unwrap(), 1);
        assert_eq!(r.u32_le("b").unwrap(), 0x0504_0302);
        assert!(r.u64_le("c").is_err());
        assert_eq!(r.bytes(4, "d").unwrap(), &[6, 7, 8, 9]);
        assert!(r.u8("e").is_err());
        assert!(r.bytes(usize::MAX, "f").is_err());
        let mut r = ByteReader::new(&[3, 10, 11, 12, 13]);
        assert_eq!(r.prefixed("g").unwrap(), &[10, 11, 12]);
        assert_eq!(r.remaining(), 1);
        let mut pos = 1;
        assert_eq!(read_at(&buf, &mut pos, |r| r.u8("h")).unwrap(), 2);
        assert_eq!(pos, 2);
    }
}
