//! The AVX-512 and AVX2 decoders of plain (non-alias) tables.

use std::arch::x86_64::*;

use crate::rans::{Decoder, GROUP_WINDOW, LANES, RANS_L};

/// What both AVX-512 decoders keep per payload: its two registers of 16
/// states, its word position and bounds, and its output.
pub(super) struct Payloads512<const K: usize> {
    pub(super) st: [[__m512i; 2]; K],
    pub(super) pos: [usize; K],
    pub(super) words: [*const u8; K],
    pub(super) words_len: [usize; K],
    pub(super) out: [*mut u8; K],
}

impl<const K: usize> Payloads512<K> {
    #[inline]
    #[target_feature(enable = "avx512f")]
    pub(super) fn load(decs: &[&mut Decoder<'_>; K], outs: &mut [&mut [u8]; K]) -> Self {
        let mut p = Self {
            st: [[_mm512_setzero_si512(); 2]; K],
            pos: [0; K],
            words: [std::ptr::null(); K],
            words_len: [0; K],
            out: [std::ptr::null_mut(); K],
        };
        for k in 0..K {
            let d = &decs[k];
            // SAFETY: `states` holds 32 u32, two unaligned 64-byte loads.
            unsafe {
                p.st[k][0] = _mm512_loadu_si512(d.states.as_ptr().cast());
                p.st[k][1] = _mm512_loadu_si512(d.states.as_ptr().add(16).cast());
            }
            p.pos[k] = d.pos;
            p.words[k] = d.words.as_ptr();
            p.words_len[k] = d.words.len();
            p.out[k] = outs[k].as_mut_ptr();
        }
        p
    }

    /// Whether every payload holds the words a whole group may read.
    #[inline]
    pub(super) fn group_window(&self) -> bool {
        self.window(GROUP_WINDOW)
    }

    /// Whether every payload holds `bytes` more bytes of words (a group
    /// window per group the caller decodes before checking again).
    #[inline]
    pub(super) fn window(&self, bytes: usize) -> bool {
        (0..K).all(|k| self.pos[k] + bytes <= self.words_len[k])
    }

    /// Register `h` of payload `k` after a step to `xn`: the lanes in
    /// `refill` (below 2^16) take the next words of the payload in lane
    /// order, which `vpexpandd` does exactly.
    ///
    /// # Safety
    /// [`Self::group_window`] held at the start of this group (the position
    /// is then at most 32 bytes past the group's start).
    #[inline]
    #[target_feature(enable = "avx512f,popcnt")]
    pub(super) unsafe fn refill(&mut self, k: usize, h: usize, xn: __m512i, refill: __mmask16) {
        // SAFETY: the caller's contract: 32 bytes at `pos` are in the words.
        let w = unsafe {
            _mm512_cvtepu16_epi32(_mm256_loadu_si256(self.words[k].add(self.pos[k]).cast()))
        };
        let w = _mm512_maskz_expand_epi32(refill, w);
        self.st[k][h] = _mm512_or_si512(_mm512_mask_slli_epi32(xn, refill, xn, 16), w);
        self.pos[k] += 2 * refill.count_ones() as usize;
    }

    /// Hands the states and positions back to the decoders.
    #[inline]
    #[target_feature(enable = "avx512f")]
    pub(super) fn store(self, decs: [&mut Decoder<'_>; K]) {
        for (k, d) in decs.into_iter().enumerate() {
            // SAFETY: `states` holds 32 u32.
            unsafe {
                _mm512_storeu_si512(d.states.as_mut_ptr().cast(), self.st[k][0]);
                _mm512_storeu_si512(d.states.as_mut_ptr().add(16).cast(), self.st[k][1]);
            }
            d.pos = self.pos[k];
        }
    }
}

/// # Safety
/// AVX-512F must be available; every decoder's table must be packed with
/// `2^prob_bits` entries; every output must hold `groups * LANES` bytes.
#[target_feature(enable = "avx512f,popcnt")]
pub(super) unsafe fn avx512<const K: usize>(
    decs: [&mut Decoder<'_>; K],
    mut outs: [&mut [u8]; K],
    groups: usize,
) -> usize {
    let lv = _mm512_set1_epi32(RANS_L as i32);
    let m12 = _mm512_set1_epi32(0xfff);
    let mut p = Payloads512::<K>::load(&decs, &mut outs);
    let mut mask = [_mm512_setzero_si512(); K];
    let mut shift = [_mm_setzero_si128(); K];
    let mut table = [std::ptr::null::<i32>(); K];
    for k in 0..K {
        let d = &decs[k];
        mask[k] = _mm512_set1_epi32(((1u32 << d.table.prob_bits) - 1) as i32);
        shift[k] = _mm_cvtsi32_si128(d.table.prob_bits as i32);
        table[k] = d.table.packed.as_ptr().cast();
    }
    let mut g = 0;
    while g < groups && p.group_window() {
        for k in 0..K {
            for h in 0..2 {
                let x = p.st[k][h];
                let slot = _mm512_and_si512(x, mask[k]);
                // SAFETY: every index is `x & (2^bits - 1)`, inside the
                // packed table of 2^bits entries.
                let e = unsafe { _mm512_i32gather_epi32::<4>(slot, table[k]) };
                // SAFETY: g < groups, so 16 bytes at g * 32 + h * 16 are in
                // the output.
                unsafe {
                    _mm_storeu_si128(
                        p.out[k].add(g * LANES + h * 16).cast(),
                        _mm512_cvtepi32_epi8(e),
                    );
                }
                let freq = _mm512_and_si512(_mm512_srli_epi32::<8>(e), m12);
                let bias = _mm512_srli_epi32::<20>(e);
                let xn = _mm512_add_epi32(
                    _mm512_mullo_epi32(freq, _mm512_srl_epi32(x, shift[k])),
                    bias,
                );
                // SAFETY: the group window was checked for this group.
                unsafe { p.refill(k, h, xn, _mm512_cmplt_epu32_mask(xn, lv)) };
            }
        }
        g += 1;
    }
    p.store(decs);
    g * LANES
}

/// For a refill mask of 8 lanes, where each lane finds its word among the
/// next 8: lane `i` takes word `popcount(mask & ((1 << i) - 1))`.
const fn refill_permutations() -> [[i32; 8]; 256] {
    let mut t = [[0i32; 8]; 256];
    let mut m = 0;
    while m < 256 {
        let mut used = 0;
        let mut i = 0;
        while i < 8 {
            if (m >> i) & 1 == 1 {
                t[m][i] = used;
                used += 1;
            }
            i += 1;
        }
        m += 1;
    }
    t
}

/// Shared with the context coder's AVX2 decoder (`ctx_rans/x86.rs`).
pub(crate) static REFILL_PERMUTATIONS: [[i32; 8]; 256] = refill_permutations();

/// # Safety
/// AVX2 must be available; every decoder's table must be packed with
/// `2^prob_bits` entries; every output must hold `groups * LANES` bytes.
#[target_feature(enable = "avx2,popcnt")]
pub(super) unsafe fn avx2<const K: usize>(
    decs: [&mut Decoder<'_>; K],
    outs: [&mut [u8]; K],
    groups: usize,
) -> usize {
    let zero = _mm256_setzero_si256();
    let m12 = _mm256_set1_epi32(0xfff);
    let mff = _mm256_set1_epi32(0xff);
    let unshuffle = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
    let mut st = [[zero; 4]; K];
    let mut mask = [zero; K];
    let mut shift = [_mm_setzero_si128(); K];
    let mut pos = [0usize; K];
    let mut table = [std::ptr::null::<i32>(); K];
    let mut words = [std::ptr::null::<u8>(); K];
    let mut words_len = [0usize; K];
    let mut out = [std::ptr::null_mut::<u8>(); K];
    for k in 0..K {
        let d = &decs[k];
        for (q, s) in st[k].iter_mut().enumerate() {
            // SAFETY: `states` holds 32 u32, four unaligned 32-byte loads.
            *s = unsafe { _mm256_loadu_si256(d.states.as_ptr().add(q * 8).cast()) };
        }
        mask[k] = _mm256_set1_epi32(((1u32 << d.table.prob_bits) - 1) as i32);
        shift[k] = _mm_cvtsi32_si128(d.table.prob_bits as i32);
        pos[k] = d.pos;
        table[k] = d.table.packed.as_ptr().cast();
        words[k] = d.words.as_ptr();
        words_len[k] = d.words.len();
        out[k] = outs[k].as_mut_ptr();
    }
    let mut g = 0;
    'groups: while g < groups {
        for k in 0..K {
            if pos[k] + GROUP_WINDOW > words_len[k] {
                break 'groups;
            }
        }
        for k in 0..K {
            let mut syms = [zero; 4];
            for (q, state) in st[k].iter_mut().enumerate() {
                let x = *state;
                let slot = _mm256_and_si256(x, mask[k]);
                // SAFETY: every index is `x & (2^bits - 1)`, inside the
                // packed table of 2^bits entries.
                let e = unsafe { _mm256_i32gather_epi32::<4>(table[k], slot) };
                syms[q] = _mm256_and_si256(e, mff);
                let freq = _mm256_and_si256(_mm256_srli_epi32::<8>(e), m12);
                let bias = _mm256_srli_epi32::<20>(e);
                let xn = _mm256_add_epi32(
                    _mm256_mullo_epi32(freq, _mm256_srl_epi32(x, shift[k])),
                    bias,
                );
                let refill = _mm256_cmpeq_epi32(_mm256_srli_epi32::<16>(xn), zero);
                let m = _mm256_movemask_ps(_mm256_castsi256_ps(refill)) as usize & 0xff;
                // SAFETY: pos[k] is at most 48 bytes past the group's start,
                // whose 64-byte window is inside the words.
                let w =
                    unsafe { _mm256_cvtepu16_epi32(_mm_loadu_si128(words[k].add(pos[k]).cast())) };
                // SAFETY: the table row holds 8 i32.
                let perm = unsafe { _mm256_loadu_si256(REFILL_PERMUTATIONS[m].as_ptr().cast()) };
                let w = _mm256_permutevar8x32_epi32(w, perm);
                *state =
                    _mm256_blendv_epi8(xn, _mm256_or_si256(_mm256_slli_epi32::<16>(xn), w), refill);
                pos[k] += 2 * m.count_ones() as usize;
            }
            // 4 x 8 dwords -> 32 bytes in lane order.
            let ab = _mm256_packus_epi32(syms[0], syms[1]);
            let cd = _mm256_packus_epi32(syms[2], syms[3]);
            let bytes = _mm256_permutevar8x32_epi32(_mm256_packus_epi16(ab, cd), unshuffle);
            // SAFETY: g < groups, so 32 bytes at g * 32 are in the output.
            unsafe { _mm256_storeu_si256(out[k].add(g * LANES).cast(), bytes) };
        }
        g += 1;
    }
    for (k, d) in decs.into_iter().enumerate() {
        for (q, s) in st[k].iter().enumerate() {
            // SAFETY: `states` holds 32 u32.
            unsafe { _mm256_storeu_si256(d.states.as_mut_ptr().add(q * 8).cast(), *s) };
        }
        d.pos = pos[k];
    }
    g * LANES
}
