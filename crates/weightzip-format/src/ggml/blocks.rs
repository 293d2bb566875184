//! Zero-copy views of the blocks of the most used quantized types, and
//! the scalar conversions their fields need.

use super::*;

/// Bytes per `block_q4_K`.
pub const Q4_K_BLOCK_BYTES: usize = 144;
/// Bytes per `block_q5_K`.
pub const Q5_K_BLOCK_BYTES: usize = 176;
/// Bytes per `block_q6_K`.
pub const Q6_K_BLOCK_BYTES: usize = 210;
/// Bytes per `block_q8_0`.
pub const Q8_0_BLOCK_BYTES: usize = 34;

/// Iterator over consecutive `N`-byte chunks of a slice, yielding arrays.
/// The caller checks beforehand that the slice length is a multiple of `N`.
#[derive(Clone, Debug)]
pub struct Blocks<'a, const N: usize> {
    rest: &'a [u8],
}

impl<'a, const N: usize> Iterator for Blocks<'a, N> {
    type Item = &'a [u8; N];

    fn next(&mut self) -> Option<Self::Item> {
        let (block, rest) = self.rest.split_first_chunk::<N>()?;
        self.rest = rest;
        Some(block)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = self.rest.len() / N;
        (n, Some(n))
    }
}

impl<const N: usize> ExactSizeIterator for Blocks<'_, N> {}

/// Splits `data` into whole `N`-byte blocks, or errors if `data.len()` is not
/// a multiple of `N`.
pub fn blocks<'a, const N: usize>(ty: &'static str, data: &'a [u8]) -> Result<Blocks<'a, N>> {
    if N == 0 || !data.len().is_multiple_of(N) {
        return Err(FormatError::BlockLength {
            ty,
            len: data.len() as u64,
            block_bytes: N as u64,
        });
    }
    Ok(Blocks { rest: data })
}

/// Reads a little-endian u16 from the first two bytes of `b`.
pub(crate) fn le16(b: &[u8; 2]) -> u16 {
    u16::from_le_bytes(*b)
}

/// Takes the next `L` bytes of `*rest` as an array, or `None` if fewer remain.
pub(crate) fn take<'a, const L: usize>(rest: &mut &'a [u8]) -> Option<&'a [u8; L]> {
    let (head, tail) = rest.split_first_chunk::<L>()?;
    *rest = tail;
    Some(head)
}

/// Zero-copy view of one `block_q4_K` (144 bytes).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Q4KBlock<'a> {
    /// Super-block scale for the quantized scales (f16 bits).
    pub d: u16,
    /// Super-block scale for the quantized mins (f16 bits).
    pub dmin: u16,
    /// Eight 6-bit scales and eight 6-bit mins, packed (see [`unpack_q4k_scales`]).
    pub scales: &'a [u8; 12],
    /// 256 4-bit quants.
    pub qs: &'a [u8; 128],
}

impl<'a> Q4KBlock<'a> {
    /// Views one block; `None` unless `block` is exactly 144 bytes.
    pub fn parse(block: &'a [u8]) -> Option<Q4KBlock<'a>> {
        let mut rest = block;
        let d = le16(take::<2>(&mut rest)?);
        let dmin = le16(take::<2>(&mut rest)?);
        let scales = take::<12>(&mut rest)?;
        let qs = take::<128>(&mut rest)?;
        rest.is_empty().then_some(Q4KBlock {
            d,
            dmin,
            scales,
            qs,
        })
    }
}

/// Zero-copy view of one `block_q5_K` (176 bytes).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Q5KBlock<'a> {
    /// Super-block scale for the quantized scales (f16 bits).
    pub d: u16,
    /// Super-block scale for the quantized mins (f16 bits).
    pub dmin: u16,
    /// Packed 6-bit scales and mins, same packing as Q4_K.
    pub scales: &'a [u8; 12],
    /// High (5th) bits of the quants.
    pub qh: &'a [u8; 32],
    /// Low 4 bits of the quants.
    pub qs: &'a [u8; 128],
}

impl<'a> Q5KBlock<'a> {
    /// Views one block; `None` unless `block` is exactly 176 bytes.
    pub fn parse(block: &'a [u8]) -> Option<Q5KBlock<'a>> {
        let mut rest = block;
        let d = le16(take::<2>(&mut rest)?);
        let dmin = le16(take::<2>(&mut rest)?);
        let scales = take::<12>(&mut rest)?;
        let qh = take::<32>(&mut rest)?;
        let qs = take::<128>(&mut rest)?;
        rest.is_empty().then_some(Q5KBlock {
            d,
            dmin,
            scales,
            qh,
            qs,
        })
    }
}

/// Zero-copy view of one `block_q6_K` (210 bytes). Field order is the one
/// of ggml-common.h: `ql`, `qh`, `scales`, `d`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Q6KBlock<'a> {
    /// Lower 4 bits of the 256 quants.
    pub ql: &'a [u8; 128],
    /// Upper 2 bits of the 256 quants.
    pub qh: &'a [u8; 64],
    /// Sixteen int8 sub-block scales (reinterpret each byte as `i8`).
    pub scales: &'a [u8; 16],
    /// Super-block scale (f16 bits).
    pub d: u16,
}

impl<'a> Q6KBlock<'a> {
    /// Views one block; `None` unless `block` is exactly 210 bytes.
    pub fn parse(block: &'a [u8]) -> Option<Q6KBlock<'a>> {
        let mut rest = block;
        let ql = take::<128>(&mut rest)?;
        let qh = take::<64>(&mut rest)?;
        let scales = take::<16>(&mut rest)?;
        let d = le16(take::<2>(&mut rest)?);
        rest.is_empty().then_some(Q6KBlock { ql, qh, scales, d })
    }
}

/// Zero-copy view of one `block_q8_0` (34 bytes).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Q80Block<'a> {
    /// Block scale (f16 bits).
    pub d: u16,
    /// 32 int8 quants (reinterpret each byte as `i8`).
    pub qs: &'a [u8; 32],
}

impl<'a> Q80Block<'a> {
    /// Views one block; `None` unless `block` is exactly 34 bytes.
    pub fn parse(block: &'a [u8]) -> Option<Q80Block<'a>> {
        let mut rest = block;
        let d = le16(take::<2>(&mut rest)?);
        let qs = take::<32>(&mut rest)?;
        rest.is_empty().then_some(Q80Block { d, qs })
    }
}

// The iterators below feed `parse` exact-size chunks (after checking that the
// data length is a whole number of blocks), so `map_while` never stops early;
// it merely avoids a panic path.
/// Views `data` as consecutive Q4_K blocks; errors if the length is not a multiple of 144.
pub fn q4k_blocks(data: &[u8]) -> Result<impl Iterator<Item = Q4KBlock<'_>>> {
    Ok(blocks::<Q4_K_BLOCK_BYTES>("Q4_K", data)?.map_while(|b| Q4KBlock::parse(b)))
}

/// Views `data` as consecutive Q5_K blocks; errors if the length is not a multiple of 176.
pub fn q5k_blocks(data: &[u8]) -> Result<impl Iterator<Item = Q5KBlock<'_>>> {
    Ok(blocks::<Q5_K_BLOCK_BYTES>("Q5_K", data)?.map_while(|b| Q5KBlock::parse(b)))
}

/// Views `data` as consecutive Q6_K blocks; errors if the length is not a multiple of 210.
pub fn q6k_blocks(data: &[u8]) -> Result<impl Iterator<Item = Q6KBlock<'_>>> {
    Ok(blocks::<Q6_K_BLOCK_BYTES>("Q6_K", data)?.map_while(|b| Q6KBlock::parse(b)))
}

/// Views `data` as consecutive Q8_0 blocks; errors if the length is not a multiple of 34.
pub fn q8_0_blocks(data: &[u8]) -> Result<impl Iterator<Item = Q80Block<'_>>> {
    Ok(blocks::<Q8_0_BLOCK_BYTES>("Q8_0", data)?.map_while(|b| Q80Block::parse(b)))
}

/// Unpacks the 12-byte `scales` field of Q4_K / Q5_K into eight 6-bit scales
/// and eight 6-bit mins, exactly as llama.cpp's `get_scale_min_k4`:
///
/// * `j < 4`: scale = `q[j] & 63`, min = `q[j+4] & 63`;
/// * `j >= 4`: scale = `(q[j+4] & 0xF) | ((q[j-4] >> 6) << 4)`,
///   min = `(q[j+4] >> 4) | ((q[j] >> 6) << 4)`.
///
/// All 96 bits are used (16 values × 6 bits), so this is a bijection between
/// 12-byte arrays and pairs of eight 6-bit values; [`pack_q4k_scales`] is its inverse.
pub fn unpack_q4k_scales(q: &[u8; 12]) -> ([u8; 8], [u8; 8]) {
    let mut sc = [0u8; 8];
    let mut mn = [0u8; 8];
    for j in 0..4 {
        sc[j] = q[j] & 63;
        mn[j] = q[j + 4] & 63;
        sc[j + 4] = (q[j + 8] & 0x0F) | ((q[j] >> 6) << 4);
        mn[j + 4] = (q[j + 8] >> 4) | ((q[j + 4] >> 6) << 4);
    }
    (sc, mn)
}

/// Packs eight 6-bit scales and eight 6-bit mins into the Q4_K / Q5_K
/// 12-byte layout; inverse of [`unpack_q4k_scales`]. Bits above the low six
/// of each input are ignored.
pub fn pack_q4k_scales(scales: &[u8; 8], mins: &[u8; 8]) -> [u8; 12] {
    let mut q = [0u8; 12];
    for j in 0..4 {
        let (s_lo, s_hi) = (scales[j] & 63, scales[j + 4] & 63);
        let (m_lo, m_hi) = (mins[j] & 63, mins[j + 4] & 63);
        q[j] = s_lo | ((s_hi >> 4) << 6);
        q[j + 4] = m_lo | ((m_hi >> 4) << 6);
        q[j + 8] = (s_hi & 0x0F) | ((m_hi & 0x0F) << 4);
    }
    q
}

/// Converts IEEE half-precision bits to `f32` exactly (subnormals, infinities
/// and NaN payloads included).
pub fn f16_to_f32(h: u16) -> f32 {
    let sign = u32::from(h & 0x8000) << 16;
    let exp = u32::from((h >> 10) & 0x1F);
    let mant = u32::from(h & 0x03FF);
    let bits = match (exp, mant) {
        (0, 0) => sign,
        (0, _) => {
            // Subnormal half: renormalise so the leading one lands on bit 10;
            // every f16 subnormal is a normal f32.
            let shift = mant.leading_zeros() - 21; // 1..=10
            let m = (mant << shift) & 0x03FF;
            let e = 113 - shift; // 127 - 14 - shift
            sign | (e << 23) | (m << 13)
        }
        (31, _) => sign | 0x7F80_0000 | (mant << 13),
        _ => sign | ((exp + 112) << 23) | (mant << 13),
    };
    f32::from_bits(bits)
}

/// Converts bfloat16 bits to `f32` (exact: bf16 is the top half of an f32).
pub fn bf16_to_f32(b: u16) -> f32 {
    f32::from_bits(u32::from(b) << 16)
}
