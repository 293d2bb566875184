//! AVX-512 (two registers of 16 lanes per part) and AVX2 (four of 8)
//! kernels over `K` parts in lock step. One step of a register:
//! `index = ctx << bits | (x & mask)`, gather the packed entries, store
//! the symbol bytes, `x = freq * (x >> bits) + bias`, and refill the
//! lanes below 2^16 with the next words in lane order (`vpexpandd` on
//! AVX-512, a permutation table on AVX2).

use std::arch::x86_64::*;

use super::decode::Part;
use super::{ContextDecoder, Contexts, Placement, GROUP_WINDOW, LANES, RANS_L};
use crate::rans::Kernel;

/// Contexts of the 16 lanes from symbol `at` (a multiple of 16), each
/// shifted left by `bits`: one byte per lane (`shift = 0`), two bytes
/// for the two halves (`shift = 3`), one byte for all lanes (`shift >=
/// 4`), or a mark byte (see [`Contexts::marks`]).
///
/// # Safety
/// AVX-512F; `ctx` covers symbols `at..at + 16`; `shift` is not 1 or 2.
#[inline]
#[target_feature(enable = "avx512f")]
unsafe fn ctx16(ctx: Contexts<'_>, at: usize, bits: __m128i) -> __m512i {
    let p = ctx.bytes.as_ptr();
    let v = match ctx.shift {
        // SAFETY: 16 bytes at `at` are contexts of symbols at..at + 16.
        0 => _mm512_cvtepu8_epi32(unsafe { _mm_loadu_si128(p.add(at).cast()) }),
        3 => {
            // SAFETY: bytes at >> 3 and (at >> 3) + 1 cover the 16 symbols.
            let (c0, c1) = unsafe { (*p.add(at >> 3), *p.add((at >> 3) + 1)) };
            let lo = _mm256_set1_epi32(i32::from(c0));
            let hi = _mm256_set1_epi32(i32::from(c1));
            _mm512_inserti64x4::<1>(_mm512_castsi256_si512(lo), hi)
        }
        5 if ctx.marks => {
            // SAFETY: mark byte at >> 5 covers the 16 symbols.
            let m = unsafe { *p.add(at >> 5) };
            let hit = m < 64 && usize::from((m & 31) >> 4) == (at >> 4) & 1;
            let lane = u16::from(hit) << (m & 15);
            _mm512_maskz_set1_epi32(lane, i32::from(1 + (m >> 5)))
        }
        // SAFETY: byte at >> shift covers the 16 symbols (shift >= 4).
        s => _mm512_set1_epi32(i32::from(unsafe { *p.add(at >> s) })),
    };
    _mm512_sll_epi32(v, bits)
}

/// # Safety
/// AVX-512F must be available; `parts.len() == K`; every context of
/// the parts' symbols must be below `dec.count`, whose table holds
/// `count << bits` entries; `ctx` must cover every part's symbols with
/// a shift other than 1 and 2; `place` (whose run is a multiple of 16)
/// must put each of them inside `out`.
#[target_feature(enable = "avx512f,popcnt")]
pub(super) unsafe fn avx512<const K: usize>(
    parts: &mut [Part<'_>],
    ctx: Contexts<'_>,
    dec: &ContextDecoder,
    out: &mut [u8],
    place: Placement,
) {
    let lv = _mm512_set1_epi32(RANS_L as i32);
    let m12 = _mm512_set1_epi32(0xfff);
    let one = _mm512_set1_epi32(1);
    let mask = _mm512_set1_epi32(((1u32 << dec.bits) - 1) as i32);
    let shift = _mm_cvtsi32_si128(dec.bits as i32);
    let table: *const i32 = dec.packed.as_ptr().cast();
    let groups = parts.iter().map(|p| p.groups()).min().unwrap_or(0);
    let mut s = [[_mm512_setzero_si512(); 2]; K];
    let mut pos = [0usize; K];
    let mut at = [0usize; K];
    let mut base = [0usize; K];
    let mut rp = [0usize; K];
    for k in 0..K {
        let p = &parts[k];
        // SAFETY: `states` holds 32 u32: two unaligned 64-byte loads.
        s[k] = unsafe {
            [
                _mm512_loadu_si512(p.states.as_ptr().cast()),
                _mm512_loadu_si512(p.states.as_ptr().add(16).cast()),
            ]
        };
        pos[k] = p.pos;
        at[k] = p.next;
        base[k] = (p.next / place.run) * place.stride + place.offset;
        rp[k] = p.next % place.run;
    }
    let mut g = 0;
    'groups: while g < groups {
        for k in 0..K {
            if pos[k] + GROUP_WINDOW > parts[k].words.len() {
                break 'groups;
            }
        }
        for k in 0..K {
            let wp = parts[k].words.as_ptr();
            for state in s[k].iter_mut() {
                let x = *state;
                // SAFETY: symbols at..at + 16 are in this part's range.
                let c = unsafe { ctx16(ctx, at[k], shift) };
                let idx = _mm512_or_si512(c, _mm512_and_si512(x, mask));
                // SAFETY: ctx < count and slot < 2^bits: inside the table.
                let e = unsafe { _mm512_i32gather_epi32::<4>(idx, table) };
                // SAFETY: symbols at..at + 16 are one piece of a run,
                // at base + rp.., inside `out` by the placement check.
                unsafe {
                    _mm_storeu_si128(
                        out.as_mut_ptr().add(base[k] + rp[k]).cast(),
                        _mm512_cvtepi32_epi8(e),
                    )
                };
                at[k] += 16;
                rp[k] += 16;
                if rp[k] == place.run {
                    rp[k] = 0;
                    base[k] += place.stride;
                }
                let freq = _mm512_add_epi32(_mm512_srli_epi32::<20>(e), one);
                let bias = _mm512_and_si512(_mm512_srli_epi32::<8>(e), m12);
                let xn =
                    _mm512_add_epi32(_mm512_mullo_epi32(freq, _mm512_srl_epi32(x, shift)), bias);
                let refill = _mm512_cmplt_epu32_mask(xn, lv);
                // SAFETY: pos is at most 32 bytes past the group's
                // start, whose 64-byte window lies inside the words.
                let w = unsafe { _mm512_cvtepu16_epi32(_mm256_loadu_si256(wp.add(pos[k]).cast())) };
                let w = _mm512_maskz_expand_epi32(refill, w);
                *state = _mm512_or_si512(_mm512_mask_slli_epi32(xn, refill, xn, 16), w);
                pos[k] += 2 * refill.count_ones() as usize;
            }
        }
        g += 1;
    }
    for k in 0..K {
        let p = &mut parts[k];
        // SAFETY: `states` holds 32 u32.
        unsafe {
            _mm512_storeu_si512(p.states.as_mut_ptr().cast(), s[k][0]);
            _mm512_storeu_si512(p.states.as_mut_ptr().add(16).cast(), s[k][1]);
        }
        p.pos = pos[k];
        p.next += g * LANES;
    }
}

// Refill permutations: lane `i` of 8 takes word `popcount(mask & ((1 << i) - 1))`.
use crate::rans::x86::REFILL_PERMUTATIONS as REFILL;

/// # Safety
/// As [`avx512`], with AVX2.
#[target_feature(enable = "avx2,popcnt")]
pub(super) unsafe fn avx2<const K: usize>(
    parts: &mut [Part<'_>],
    ctx: Contexts<'_>,
    dec: &ContextDecoder,
    out: &mut [u8],
    place: Placement,
) {
    let bias_flip = _mm256_set1_epi32(i32::MIN);
    let lv = _mm256_set1_epi32((RANS_L as i32) ^ i32::MIN);
    let m12 = _mm256_set1_epi32(0xfff);
    let one = _mm256_set1_epi32(1);
    let mask = _mm256_set1_epi32(((1u32 << dec.bits) - 1) as i32);
    let shift = _mm_cvtsi32_si128(dec.bits as i32);
    // Byte 0 of each dword to the low 4 bytes of each 128-bit half.
    let pick = _mm256_setr_epi8(
        0, 4, 8, 12, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, 0, 4, 8, 12, -1, -1, -1, -1,
        -1, -1, -1, -1, -1, -1, -1, -1,
    );
    let table: *const i32 = dec.packed.as_ptr().cast();
    let cp = ctx.bytes.as_ptr();
    let iota = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    let groups = parts.iter().map(|p| p.groups()).min().unwrap_or(0);
    let mut s = [[_mm256_setzero_si256(); 4]; K];
    let mut pos = [0usize; K];
    let mut at = [0usize; K];
    let mut base = [0usize; K];
    let mut rp = [0usize; K];
    for k in 0..K {
        let p = &parts[k];
        for (q, v) in s[k].iter_mut().enumerate() {
            // SAFETY: `states` holds 32 u32: four unaligned 32-byte loads.
            *v = unsafe { _mm256_loadu_si256(p.states.as_ptr().add(q * 8).cast()) };
        }
        pos[k] = p.pos;
        at[k] = p.next;
        base[k] = (p.next / place.run) * place.stride + place.offset;
        rp[k] = p.next % place.run;
    }
    let mut g = 0;
    'groups: while g < groups {
        for k in 0..K {
            if pos[k] + GROUP_WINDOW > parts[k].words.len() {
                break 'groups;
            }
        }
        for k in 0..K {
            let wp = parts[k].words.as_ptr();
            for state in s[k].iter_mut() {
                let x = *state;
                let c = if ctx.shift == 0 {
                    // SAFETY: symbols at..at + 8 are in this part's range.
                    _mm256_cvtepu8_epi32(unsafe { _mm_loadl_epi64(cp.add(at[k]).cast()) })
                } else if ctx.marks {
                    // SAFETY: mark byte at >> 5 covers the 8 symbols.
                    let m = unsafe { *cp.add(at[k] >> 5) };
                    let hit = m < 64 && usize::from((m & 31) >> 3) == (at[k] >> 3) & 3;
                    let lane = _mm256_set1_epi32(if hit { i32::from(m & 7) } else { -1 });
                    let eq = _mm256_cmpeq_epi32(lane, iota);
                    _mm256_and_si256(eq, _mm256_set1_epi32(i32::from(1 + (m >> 5))))
                } else {
                    // SAFETY: byte at >> shift covers the 8 symbols (shift >= 3).
                    _mm256_set1_epi32(i32::from(unsafe { *cp.add(at[k] >> ctx.shift) }))
                };
                let idx = _mm256_or_si256(_mm256_sll_epi32(c, shift), _mm256_and_si256(x, mask));
                // SAFETY: ctx < count and slot < 2^bits: inside the table.
                let e = unsafe { _mm256_i32gather_epi32::<4>(table, idx) };
                let sy = _mm256_shuffle_epi8(e, pick);
                let sy = _mm_unpacklo_epi32(
                    _mm256_castsi256_si128(sy),
                    _mm256_extracti128_si256::<1>(sy),
                );
                // SAFETY: symbols at..at + 8 are one piece of a run, at
                // base + rp.., inside `out` by the placement check.
                unsafe { _mm_storel_epi64(out.as_mut_ptr().add(base[k] + rp[k]).cast(), sy) };
                at[k] += 8;
                rp[k] += 8;
                if rp[k] == place.run {
                    rp[k] = 0;
                    base[k] += place.stride;
                }
                let freq = _mm256_add_epi32(_mm256_srli_epi32::<20>(e), one);
                let bias = _mm256_and_si256(_mm256_srli_epi32::<8>(e), m12);
                let xn =
                    _mm256_add_epi32(_mm256_mullo_epi32(freq, _mm256_srl_epi32(x, shift)), bias);
                // Unsigned x < 2^16 as a signed compare of both sides flipped.
                let need = _mm256_cmpgt_epi32(lv, _mm256_xor_si256(xn, bias_flip));
                let m = _mm256_movemask_ps(_mm256_castsi256_ps(need)) as usize;
                // SAFETY: pos is at most 48 bytes past the group's
                // start, whose 64-byte window lies inside the words.
                let w = unsafe { _mm256_cvtepu16_epi32(_mm_loadu_si128(wp.add(pos[k]).cast())) };
                // SAFETY: each permutation is 8 i32s, one 32-byte load.
                let perm = unsafe { _mm256_loadu_si256(REFILL[m & 0xff].as_ptr().cast()) };
                let w = _mm256_permutevar8x32_epi32(w, perm);
                let refilled = _mm256_or_si256(_mm256_slli_epi32::<16>(xn), w);
                *state = _mm256_blendv_epi8(xn, refilled, need);
                pos[k] += 2 * m.count_ones() as usize;
            }
        }
        g += 1;
    }
    for k in 0..K {
        let p = &mut parts[k];
        for (q, v) in s[k].iter().enumerate() {
            // SAFETY: `states` holds 32 u32.
            unsafe { _mm256_storeu_si256(p.states.as_mut_ptr().add(q * 8).cast(), *v) };
        }
        p.pos = pos[k];
        p.next += g * LANES;
    }
}

/// Runs the SIMD kernels over `parts` (see `decode::simd`): all parts in
/// lock step while each has whole groups and a full word window, then each
/// part alone. Does nothing for placements or contexts the kernels do not
/// take.
pub(super) fn decode_parts(
    kernel: Kernel,
    parts: &mut [Part<'_>],
    ctx: Contexts<'_>,
    dec: &ContextDecoder,
    out: &mut [u8],
    place: Placement,
) {
    if !place.run.is_multiple_of(16) || matches!(ctx.shift, 1 | 2) {
        return;
    }
    let kernel = if kernel.is_supported() {
        kernel
    } else {
        Kernel::Scalar
    };
    let run = |parts: &mut [Part<'_>], out: &mut [u8]| match (kernel, parts.len()) {
        // SAFETY: (all arms) the CPU has the features (checked above);
        // every context of symbols below n is below `dec.count` and
        // the table holds `count << bits` entries (checked by
        // `decode_parts`), so every gather index is inside it; `place`
        // puts every symbol below n inside `out` in runs of a multiple
        // of 16; each part decodes only whole groups of its own range;
        // the kernel checks every part's word window per group.
        (Kernel::Avx512, 1) => unsafe { avx512::<1>(parts, ctx, dec, out, place) },
        // SAFETY: as above.
        (Kernel::Avx512, _) => unsafe { avx512::<2>(parts, ctx, dec, out, place) },
        // SAFETY: as above.
        (Kernel::Avx2, _) => unsafe { avx2::<1>(parts, ctx, dec, out, place) },
        (Kernel::Scalar, _) => {}
    };
    // AVX-512 runs parts two at a time in lock step (four spill
    // registers: slower); AVX2 has too few registers for even two.
    if kernel == Kernel::Avx512 {
        for pair in parts.chunks_mut(2).filter(|p| p.len() == 2) {
            run(pair, out);
        }
    }
    for p in parts.iter_mut() {
        run(std::slice::from_mut(p), out);
    }
}
