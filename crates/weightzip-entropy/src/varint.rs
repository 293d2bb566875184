//! LEB128 unsigned varints, the length prefix of every stream field.

use crate::error::{corrupt, truncated, Result};

/// Appends `value` as an unsigned LEB128 varint.
pub fn write_u64(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push((value as u8) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

/// Reads an unsigned LEB128 varint at `*pos`, advancing `*pos`.
/// Rejects encodings longer than 10 bytes or overflowing 64 bits.
pub fn read_u64(input: &[u8], pos: &mut usize) -> Result<u64> {
    let start = *pos;
    let mut value: u64 = 0;
    for i in 0..10 {
        let byte = *input
            .get(*pos)
            .ok_or_else(|| truncated("varint", *pos, 1, 0))?;
        *pos += 1;
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

/// Reads a varint that must fit in `usize` and be at most `limit`.
pub fn read_len(input: &[u8], pos: &mut usize, limit: usize, what: &str) -> Result<usize> {
    let start = *pos;
    let value = read_u64(input, pos)?;
    if value > limit as u64 {
        return Err(corrupt(
            start,
            format!("{what} {value} exceeds the limit {limit}"),
        ));
    }
    Ok(value as usize)
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
            write_u64(&mut buf, v);
            let mut pos = 0;
            assert_eq!(read_u64(&buf, &mut pos).unwrap(), v);
            assert_eq!(pos, buf.len());
        }
    }

    #[test]
    fn rejects_truncated_and_overlong() {
        let mut pos = 0;
        assert!(read_u64(&[0x80], &mut pos).is_err());
        let mut pos = 0;
        assert!(read_u64(&[0xff; 11], &mut pos).is_err());
        let mut pos = 0;
        assert!(read_u64(
            &[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02],
            &mut pos
        )
        .is_err());
        let mut pos = 0;
        assert!(read_len(&[0x05], &mut pos, 4, "count").is_err());
    }
}
