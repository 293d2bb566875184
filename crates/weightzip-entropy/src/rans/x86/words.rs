//! AVX-512 VBMI helpers of the word assembly (the callers check the CPU
//! features): shared by the fused decoder and the float codecs.

use std::arch::x86_64::*;

/// The 64 6-bit fields packed in the low 48 bytes of `packed` (field
/// `i` at bit `6i`), one per byte.
///
/// # Safety
/// Callers without the function's target features must check that the
/// CPU has them (AVX-512 F, BW and VBMI).
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512vbmi")]
pub fn six_bit_fields(packed: __m512i) -> __m512i {
    // Qword q of the spread bits holds bytes 6q..6q+6 of the 48: 8 fields.
    let spread = _mm512_set_epi8(
        47, 47, 47, 46, 45, 44, 43, 42, 41, 41, 41, 40, 39, 38, 37, 36, 35, 35, 35, 34, 33, 32, 31,
        30, 29, 29, 29, 28, 27, 26, 25, 24, 23, 23, 23, 22, 21, 20, 19, 18, 17, 17, 17, 16, 15, 14,
        13, 12, 11, 11, 11, 10, 9, 8, 7, 6, 5, 5, 5, 4, 3, 2, 1, 0,
    );
    let shifts = _mm512_set1_epi64(0x2a24_1e18_120c_0600);
    _mm512_and_si512(
        _mm512_multishift_epi64_epi8(shifts, _mm512_permutexvar_epi8(spread, packed)),
        _mm512_set1_epi8(0x3f),
    )
}

/// Byte permutes that interleave 64 low bytes (first operand) and 64
/// high bytes (second) into little-endian 16-bit values: values 0..32,
/// then 32..64. Output byte 2i takes low byte i, byte 2i + 1 high byte i.
///
/// # Safety
/// Callers without the function's target features must check that the
/// CPU has them (AVX-512 F, BW and VBMI).
#[target_feature(enable = "avx512f")]
pub fn interleave_indices() -> [__m512i; 2] {
    let mut il = [[0i8; 64]; 2];
    for (half, idx) in il.iter_mut().enumerate() {
        for (j, v) in idx.iter_mut().enumerate() {
            let i = (half * 32 + j / 2) as i8;
            *v = if j % 2 == 0 { i } else { 64 + i };
        }
    }
    // SAFETY: 64 bytes each.
    il.map(|idx| unsafe { _mm512_loadu_si512(idx.as_ptr().cast()) })
}

/// The low and high bytes of a 128-entry word table, each as two
/// registers (the halves a two-register byte permute reads).
///
/// # Safety
/// Callers without the function's target features must check that the
/// CPU has them (AVX-512 F, BW and VBMI).
#[target_feature(enable = "avx512f")]
pub fn byte_tables(tops: &[u16; 128]) -> [[__m512i; 2]; 2] {
    let mut lo = [0u8; 128];
    let mut hi = [0u8; 128];
    for (i, t) in tops.iter().enumerate() {
        lo[i] = *t as u8;
        hi[i] = (*t >> 8) as u8;
    }
    // SAFETY: each array holds 128 bytes: two 64-byte loads.
    [lo, hi].map(|t| [0, 1].map(|q| unsafe { _mm512_loadu_si512(t.as_ptr().add(q * 64).cast()) }))
}

/// The 64 words of one step: `tops[symbol + 64 * bit] | field` for the
/// symbols in the bytes of `symbols` (below 64; bit 7 of each byte is
/// ignored), the raw bits of `bits` and the 48 packed field bytes in
/// `packed`, as two registers of 32 little-endian words.
///
/// # Safety
/// Callers without the function's target features must check that the
/// CPU has them (AVX-512 F, BW and VBMI).
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512vbmi")]
pub fn assemble(
    tables: &[[__m512i; 2]; 2],
    interleave: &[__m512i; 2],
    symbols: __m512i,
    bits: __mmask64,
    packed: __m512i,
) -> [__m512i; 2] {
    // Bit 6 of each symbol byte is clear (symbols are below 64); the
    // two-register permutes read bits 0..6 of the index, so bit 7 is
    // ignored.
    let idx = _mm512_mask_add_epi8(symbols, bits, symbols, _mm512_set1_epi8(64));
    let [lo, hi] = tables;
    let lo_b = _mm512_or_si512(
        _mm512_permutex2var_epi8(lo[0], idx, lo[1]),
        six_bit_fields(packed),
    );
    let hi_b = _mm512_permutex2var_epi8(hi[0], idx, hi[1]);
    interleave.map(|il| _mm512_permutex2var_epi8(lo_b, il, hi_b))
}
