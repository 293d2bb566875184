//! The AVX-512 and AVX2 encoders.

use std::arch::x86_64::*;

use crate::rans::encode::EncodeState;
use crate::rans::{Kernel, LANES};

/// Lowest precision the SIMD encoder handles: its f32 quotient is then
/// within one of the exact one (see [`encode_groups_avx512`]).
pub(in crate::rans) const ENCODE_MIN_BITS: u32 = 10;

/// Codes the last `count` groups left of `K` streams in lock step with
/// AVX-512, continuing their states and word scratch exactly as the scalar
/// encoder would.
///
/// The quotient `x / freq` comes from an f32 division: after the flush,
/// `x < freq * 2^(32 - bits)`, so the exact quotient is below
/// `2^(32 - bits) <= 2^22`; two roundings of at most 2^-24 each leave the
/// f32 result within `2^22 * 2^-23 = 0.5` of it, so the truncated quotient
/// is off by at most one, and one correction step each way (on the
/// remainder `x - q * freq`) makes it exact.
pub(in crate::rans) fn encode_groups_avx512<const K: usize>(
    encs: [&mut EncodeState<'_>; K],
    count: usize,
) {
    for e in &encs {
        assert!(count <= e.groups_left && e.len <= e.words.len());
        assert!(e.prob_bits >= ENCODE_MIN_BITS);
        // Every gather index is a byte or a 16-bit value's key.
        let keys = e.key_shift.map_or(256, |shift| 1usize << (16 - shift));
        assert!(e.start_freq.len() >= keys);
        assert!(e.input.len() >= e.len * if e.key_shift.is_some() { 2 } else { 1 });
        // Alias slot lookups are masked to the table's length.
        assert!(e.slot_of_rank.is_none_or(|t| t.len().is_power_of_two()));
    }
    assert!(Kernel::Avx512.is_supported());
    // SAFETY: AVX-512F is available (asserted); each stream has `count`
    // groups left and a word slot per symbol (asserted).
    unsafe { encode_avx512::<K>(encs, count) }
}

/// # Safety
/// AVX-512F must be available; every stream must have `count` groups left
/// and `words.len() >= symbols.len()`.
#[target_feature(enable = "avx512f,popcnt")]
unsafe fn encode_avx512<const K: usize>(mut encs: [&mut EncodeState<'_>; K], count: usize) {
    let zero = _mm512_setzero_si512();
    let one = _mm512_set1_epi32(1);
    let low16 = _mm512_set1_epi32(0xffff);
    // Registers hold lanes in descending order (element i = lane 15 - i of
    // its half), so compressing the flushed words in element order yields
    // them in the scalar encoder's order: lane 31 first.
    let rev = _mm512_setr_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0);
    let rev_bytes = _mm_setr_epi8(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0);
    let mut x = [[zero; 2]; K];
    let mut flush_shift = [_mm_setzero_si128(); K];
    let mut bits_shift = [_mm_setzero_si128(); K];
    let mut start_freq = [std::ptr::null::<i32>(); K];
    // Alias layouts: the slot-by-rank table and its index mask.
    let mut slot_of_rank = [std::ptr::null::<i32>(); K];
    let mut rank_mask = [zero; K];
    // Symbol tables of at most 64 symbols (bytes in, no symbol above 63 in
    // the table) are looked up in registers instead of gathered.
    let mut small = [false; K];
    let mut small_table = [[zero; 4]; K];
    let mut small_rcp = [[_mm512_setzero_ps(); 4]; K];
    let (bit5, below64) = (_mm512_set1_epi32(32), _mm512_set1_epi32(64));
    let mut symbols = [std::ptr::null::<u8>(); K];
    let mut keyed = [false; K];
    let mut key_shift = [_mm_setzero_si128(); K];
    let mut words = [std::ptr::null_mut::<u16>(); K];
    let mut wp = [0usize; K];
    let mut first_group = [0usize; K];
    let mut absent: [__mmask16; K] = [0; K];
    for (k, e) in encs.iter_mut().enumerate() {
        // SAFETY: `states` holds 32 u32: two unaligned 64-byte loads.
        unsafe {
            x[k][0] =
                _mm512_permutexvar_epi32(rev, _mm512_loadu_si512(e.states.as_ptr().add(16).cast()));
            x[k][1] = _mm512_permutexvar_epi32(rev, _mm512_loadu_si512(e.states.as_ptr().cast()));
        }
        let bits = e.prob_bits as i32;
        flush_shift[k] = _mm_cvtsi32_si128(32 - bits);
        bits_shift[k] = _mm_cvtsi32_si128(bits);
        start_freq[k] = e.start_freq.as_ptr().cast();
        small[k] = e.key_shift.is_none() && e.start_freq[64..].iter().all(|&x| x == 0);
        if small[k] {
            for (q, r) in small_table[k].iter_mut().enumerate() {
                // SAFETY: 16 u32 at q * 16 of the 256-entry table.
                *r = unsafe { _mm512_loadu_si512(e.start_freq.as_ptr().add(q * 16).cast()) };
            }
            let rcp: [f32; 64] = std::array::from_fn(|s| {
                let f = e.start_freq[s] >> 16;
                if f == 0 {
                    0.0
                } else {
                    1.0 / f as f32
                }
            });
            for (q, r) in small_rcp[k].iter_mut().enumerate() {
                // SAFETY: 16 f32 at q * 16 of 64.
                *r = unsafe { _mm512_loadu_ps(rcp.as_ptr().add(q * 16)) };
            }
        }
        if let Some(slots) = e.slot_of_rank {
            slot_of_rank[k] = slots.as_ptr().cast();
            rank_mask[k] = _mm512_set1_epi32(slots.len() as i32 - 1);
        }
        symbols[k] = e.input.as_ptr();
        keyed[k] = e.key_shift.is_some();
        key_shift[k] = _mm_cvtsi32_si128(e.key_shift.unwrap_or(0) as i32);
        words[k] = e.words.as_mut_ptr();
        wp[k] = e.wp;
        first_group[k] = e.groups_left - count;
    }
    for step in (0..count).rev() {
        for k in 0..K {
            let g = first_group[k] + step;
            // x[k][0] holds lanes 31..16, x[k][1] lanes 15..0: the scalar order.
            for (h, xh) in x[k].iter_mut().enumerate() {
                let first = g * LANES + (1 - h) * 16;
                let idx = if keyed[k] {
                    // SAFETY: g < groups_left, so the 16 values at `first`
                    // (32 bytes) are in the input.
                    let v = unsafe { _mm256_loadu_si256(symbols[k].add(2 * first).cast()) };
                    let v = _mm512_permutexvar_epi32(rev, _mm512_cvtepu16_epi32(v));
                    _mm512_srl_epi32(v, key_shift[k])
                } else {
                    // SAFETY: g < groups_left, so first + 16 <= len.
                    let sym = unsafe { _mm_loadu_si128(symbols[k].add(first).cast()) };
                    _mm512_cvtepu8_epi32(_mm_shuffle_epi8(sym, rev_bytes))
                };
                let mut rcp = None;
                let e = if small[k] {
                    let t = &small_table[k];
                    let upper = _mm512_test_epi32_mask(idx, bit5);
                    let e = _mm512_mask_blend_epi32(
                        upper,
                        _mm512_permutex2var_epi32(t[0], idx, t[1]),
                        _mm512_permutex2var_epi32(t[2], idx, t[3]),
                    );
                    let rt = &small_rcp[k];
                    rcp = Some(_mm512_mask_blend_ps(
                        upper,
                        _mm512_permutex2var_ps(rt[0], idx, rt[1]),
                        _mm512_permutex2var_ps(rt[2], idx, rt[3]),
                    ));
                    // A symbol above 63 has no entry: frequency 0, absent.
                    _mm512_maskz_mov_epi32(_mm512_cmplt_epu32_mask(idx, below64), e)
                } else {
                    // SAFETY: indices are bytes or 16-bit keys, and the table
                    // has an entry for each (asserted by the caller).
                    unsafe { _mm512_i32gather_epi32::<4>(idx, start_freq[k]) }
                };
                let freq = _mm512_srli_epi32::<16>(e);
                let start = _mm512_and_si512(e, low16);
                absent[k] |= _mm512_cmpeq_epi32_mask(freq, zero);
                let xv = *xh;
                let flush = _mm512_cmpge_epu32_mask(_mm512_srl_epi32(xv, flush_shift[k]), freq);
                let out = _mm512_cvtepi32_epi16(_mm512_maskz_compress_epi32(flush, xv));
                // SAFETY: wp is at most the number of symbols coded before
                // this register, so wp + 16 <= symbols.len() <= words.len().
                unsafe { _mm256_storeu_si256(words[k].add(wp[k]).cast(), out) };
                wp[k] += flush.count_ones() as usize;
                let xs = _mm512_mask_srli_epi32(xv, flush, xv, 16);
                // With a register table, xs times the f32 reciprocal of freq:
                // xs < 2^20 * freq, so the three roundings (xs, 1 / freq, the
                // product) leave the quotient off by less than 0.2, which the
                // corrections below fix as they fix the division's error;
                // a multiply costs much less than a division.
                let qf = match rcp {
                    Some(rcp) => _mm512_mul_ps(_mm512_cvtepu32_ps(xs), rcp),
                    None => _mm512_div_ps(_mm512_cvtepu32_ps(xs), _mm512_cvtepu32_ps(freq)),
                };
                let mut q = _mm512_cvttps_epu32(qf);
                let mut r = _mm512_sub_epi32(xs, _mm512_mullo_epi32(q, freq));
                let over = _mm512_cmplt_epi32_mask(r, zero);
                q = _mm512_mask_sub_epi32(q, over, q, one);
                r = _mm512_mask_add_epi32(r, over, r, freq);
                let under = _mm512_cmpge_epu32_mask(r, freq);
                q = _mm512_mask_add_epi32(q, under, q, one);
                r = _mm512_mask_sub_epi32(r, under, r, freq);
                // (q << bits) + (x mod freq) + start, as the scalar encoder;
                // an alias layout looks the slot of rank x mod freq up.
                let low = if slot_of_rank[k].is_null() {
                    _mm512_add_epi32(r, start)
                } else {
                    let at = _mm512_and_si512(_mm512_add_epi32(r, start), rank_mask[k]);
                    // SAFETY: `at` is masked to the table's power-of-two
                    // length (asserted by the caller).
                    unsafe { _mm512_i32gather_epi32::<4>(at, slot_of_rank[k]) }
                };
                *xh = _mm512_add_epi32(_mm512_sll_epi32(q, bits_shift[k]), low);
            }
        }
    }
    for (k, e) in encs.into_iter().enumerate() {
        // SAFETY: `states` holds 32 u32.
        unsafe {
            _mm512_storeu_si512(
                e.states.as_mut_ptr().add(16).cast(),
                _mm512_permutexvar_epi32(rev, x[k][0]),
            );
            _mm512_storeu_si512(
                e.states.as_mut_ptr().cast(),
                _mm512_permutexvar_epi32(rev, x[k][1]),
            );
        }
        e.wp = wp[k];
        e.absent |= absent[k] != 0;
        e.groups_left = first_group[k];
    }
}

/// For a mask of 8 lanes, the lanes whose bit is set, first and in order
/// (the rest arbitrary): a compress for AVX2, which has none.
const fn compress_permutations() -> [[i32; 8]; 256] {
    let mut t = [[0i32; 8]; 256];
    let mut m = 0;
    while m < 256 {
        let mut used = 0;
        let mut i = 0;
        while i < 8 {
            if (m >> i) & 1 == 1 {
                t[m][used] = i;
                used += 1;
            }
            i += 1;
        }
        m += 1;
    }
    t
}

static COMPRESS_PERMUTATIONS: [[i32; 8]; 256] = compress_permutations();

/// [`encode_groups_avx512`] with AVX2: four registers of 8 lanes, the
/// flushed words compressed through a permutation table, and the same f32
/// quotient with one correction each way. The u32 states are converted to
/// f32 in two exact 16-bit halves (AVX2 converts only signed integers).
pub(in crate::rans) fn encode_groups_avx2(e: &mut EncodeState<'_>, count: usize) {
    assert!(count <= e.groups_left && e.len <= e.words.len());
    assert!(e.prob_bits >= ENCODE_MIN_BITS);
    let keys = e.key_shift.map_or(256, |shift| 1usize << (16 - shift));
    assert!(e.start_freq.len() >= keys);
    assert!(e.input.len() >= e.len * if e.key_shift.is_some() { 2 } else { 1 });
    // Alias slot lookups are masked to the table's length.
    assert!(e.slot_of_rank.is_none_or(|t| t.len().is_power_of_two()));
    assert!(Kernel::Avx2.is_supported());
    // SAFETY: AVX2 is available (asserted); the stream has `count` groups
    // left, a word slot per symbol and a table entry per key (asserted).
    unsafe { encode_avx2(e, count) }
}

/// # Safety
/// AVX2 must be available; the stream must have `count` groups left,
/// `words.len() >= len`, and a `start_freq` entry for every key.
#[target_feature(enable = "avx2,fma,popcnt")]
unsafe fn encode_avx2(e: &mut EncodeState<'_>, count: usize) {
    let zero = _mm256_setzero_si256();
    let one = _mm256_set1_epi32(1);
    let low16 = _mm256_set1_epi32(0xffff);
    let bits = e.prob_bits as i32;
    let flush_shift = _mm_cvtsi32_si128(32 - bits);
    let bits_shift = _mm_cvtsi32_si128(bits);
    let key_shift = _mm_cvtsi32_si128(e.key_shift.unwrap_or(0) as i32);
    let keyed = e.key_shift.is_some();
    let two16 = _mm256_set1_ps(65536.0);
    let rev8 = _mm256_setr_epi32(7, 6, 5, 4, 3, 2, 1, 0);
    // Low 16 bits of each dword to the low 8 bytes of each 128-bit lane.
    let words_of = _mm256_setr_epi8(
        0, 1, 4, 5, 8, 9, 12, 13, -1, -1, -1, -1, -1, -1, -1, -1, 0, 1, 4, 5, 8, 9, 12, 13, -1, -1,
        -1, -1, -1, -1, -1, -1,
    );
    // Register q holds lanes 31 - 8q down to 24 - 8q: the scalar order.
    let mut x = [zero; 4];
    for (q, xq) in x.iter_mut().enumerate() {
        // SAFETY: `states` holds 32 u32; 8 at 24 - 8q.
        let v = unsafe { _mm256_loadu_si256(e.states.as_ptr().add(24 - 8 * q).cast()) };
        *xq = _mm256_permutevar8x32_epi32(v, rev8);
    }
    let start_freq = e.start_freq.as_ptr().cast::<i32>();
    // Alias layouts: the slot-by-rank table and its index mask.
    let slot_of_rank = e.slot_of_rank.map(|t| t.as_ptr().cast::<i32>());
    let rank_mask = _mm256_set1_epi32(e.slot_of_rank.map_or(0, |t| t.len() as i32 - 1));
    let input = e.input.as_ptr();
    let words = e.words.as_mut_ptr();
    let mut wp = e.wp;
    let mut absent = 0i32;
    let first_group = e.groups_left - count;
    for g in (first_group..e.groups_left).rev() {
        for (q, xq) in x.iter_mut().enumerate() {
            let first = g * LANES + 24 - 8 * q;
            let idx = if keyed {
                // SAFETY: g < groups_left: 8 values (16 bytes) at `first`.
                let v = unsafe { _mm_loadu_si128(input.add(2 * first).cast()) };
                let v = _mm256_permutevar8x32_epi32(_mm256_cvtepu16_epi32(v), rev8);
                _mm256_srl_epi32(v, key_shift)
            } else {
                // SAFETY: g < groups_left: 8 symbols at `first`.
                let v = unsafe { _mm_loadl_epi64(input.add(first).cast()) };
                _mm256_permutevar8x32_epi32(_mm256_cvtepu8_epi32(v), rev8)
            };
            // SAFETY: indices are bytes or keys with a table entry each.
            let ent = unsafe { _mm256_i32gather_epi32::<4>(start_freq, idx) };
            let freq = _mm256_srli_epi32::<16>(ent);
            let start = _mm256_and_si256(ent, low16);
            absent |= _mm256_movemask_ps(_mm256_castsi256_ps(_mm256_cmpeq_epi32(freq, zero)));
            let xv = *xq;
            // Both sides are below 2^16: a signed compare is exact.
            let keep = _mm256_cmpgt_epi32(freq, _mm256_srl_epi32(xv, flush_shift));
            let flush_mask = !_mm256_movemask_ps(_mm256_castsi256_ps(keep)) & 0xff;
            // SAFETY: the table row holds 8 i32.
            let perm = unsafe {
                _mm256_loadu_si256(COMPRESS_PERMUTATIONS[flush_mask as usize].as_ptr().cast())
            };
            let packed = _mm256_shuffle_epi8(_mm256_permutevar8x32_epi32(xv, perm), words_of);
            let packed = _mm256_permute4x64_epi64::<0b1000>(packed);
            // SAFETY: wp is at most the number of symbols coded before this
            // register, so wp + 8 <= len <= words.len().
            unsafe { _mm_storeu_si128(words.add(wp).cast(), _mm256_castsi256_si128(packed)) };
            wp += flush_mask.count_ones() as usize;
            let xs = _mm256_blendv_epi8(_mm256_srli_epi32::<16>(xv), xv, keep);
            // Exact u32 -> f32: high and low halves, one rounding.
            let xf = _mm256_fmadd_ps(
                _mm256_cvtepi32_ps(_mm256_srli_epi32::<16>(xs)),
                two16,
                _mm256_cvtepi32_ps(_mm256_and_si256(xs, low16)),
            );
            let mut qv = _mm256_cvttps_epi32(_mm256_div_ps(xf, _mm256_cvtepi32_ps(freq)));
            let mut r = _mm256_sub_epi32(xs, _mm256_mullo_epi32(qv, freq));
            let over = _mm256_cmpgt_epi32(zero, r);
            qv = _mm256_add_epi32(qv, over);
            r = _mm256_add_epi32(r, _mm256_and_si256(over, freq));
            let under = _mm256_cmpgt_epi32(r, _mm256_sub_epi32(freq, one));
            qv = _mm256_sub_epi32(qv, under);
            r = _mm256_sub_epi32(r, _mm256_and_si256(under, freq));
            let low = match slot_of_rank {
                None => _mm256_add_epi32(r, start),
                Some(table) => {
                    let at = _mm256_and_si256(_mm256_add_epi32(r, start), rank_mask);
                    // SAFETY: `at` is masked to the table's power-of-two
                    // length (asserted by the caller).
                    unsafe { _mm256_i32gather_epi32::<4>(table, at) }
                }
            };
            *xq = _mm256_add_epi32(_mm256_sll_epi32(qv, bits_shift), low);
        }
    }
    for (q, xq) in x.iter().enumerate() {
        // SAFETY: `states` holds 32 u32.
        unsafe {
            _mm256_storeu_si256(
                e.states.as_mut_ptr().add(24 - 8 * q).cast(),
                _mm256_permutevar8x32_epi32(*xq, rev8),
            )
        };
    }
    e.wp = wp;
    e.absent |= absent != 0;
    e.groups_left = first_group;
}
