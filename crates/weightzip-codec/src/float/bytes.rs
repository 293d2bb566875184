//! `wz_bytes`: one order-0 stream over the bytes themselves (int8, fp8,
//! bool, u8 tensors).

use super::*;
const NAME: &str = "wz_bytes";

/// Appends the encoding of `data`.
pub fn encode(data: &[u8], out: &mut Vec<u8>) -> Result<()> {
    encode_planes::<1, 1>(NAME, data, out, |e| *e)
}

/// Decodes one encoding into `out`.
pub fn decode(input: &[u8], out: &mut [u8]) -> Result<()> {
    decode_planes::<1, 1>(NAME, input, out.len(), |at, [plane]| {
        out[at..at + plane.len()].copy_from_slice(plane);
    })?;
    Ok(())
}
