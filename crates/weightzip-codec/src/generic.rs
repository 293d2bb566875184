//! `zstd`: the general-purpose fallback for tensor types without a
//! dedicated codec and for the non-tensor bytes of a file.

use crate::error::{CodecError, Result};

const NAME: &str = "zstd";

/// Appends a zstd frame of `data` at `level`.
pub fn encode(data: &[u8], level: i32, out: &mut Vec<u8>) -> Result<()> {
    let frame = zstd::bulk::compress(data, level).map_err(|e| CodecError::Backend {
        codec: NAME,
        message: e.to_string(),
    })?;
    out.extend_from_slice(&frame);
    Ok(())
}

/// Decodes one zstd frame that must fill `out` exactly.
pub fn decode(input: &[u8], out: &mut [u8]) -> Result<()> {
    let mut decoder = zstd::bulk::Decompressor::new().map_err(|e| CodecError::Backend {
        codec: NAME,
        message: e.to_string(),
    })?;
    // A frame longer than `out` fails ("destination too small"), a shorter
    // one is caught by the length check.
    let n = decoder
        .decompress_to_buffer(input, out)
        .map_err(|e| CodecError::Corrupt {
            codec: NAME,
            offset: 0,
            reason: format!("zstd frame does not decode into {} bytes: {e}", out.len()),
        })?;
    if n != out.len() {
        return Err(CodecError::Corrupt {
            codec: NAME,
            offset: 0,
            reason: format!("zstd frame holds {n} bytes, expected {}", out.len()),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_checks_length() {
        let data: Vec<u8> = (0..10_000u32).map(|i| (i % 251) as u8).collect();
        let mut buf = Vec::new();
        encode(&data, 3, &mut buf).unwrap();
        let mut back = vec![0u8; data.len()];
        decode(&buf, &mut back).unwrap();
        assert_eq!(back, data);
        let mut short = vec![0u8; data.len() - 1];
        assert!(decode(&buf, &mut short).is_err());
        let mut long = vec![0u8; data.len() + 1];
        assert!(decode(&buf, &mut long).is_err());
        assert!(decode(&buf[..buf.len() / 2], &mut back).is_err());
        let mut empty = Vec::new();
        encode(&[], 3, &mut empty).unwrap();
        decode(&empty, &mut []).unwrap();
    }
}
