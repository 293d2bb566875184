//! x86-64 SIMD kernels of the rANS coder: decoders for AVX2 (four
//! registers of 8 lanes per payload) and AVX-512 (two registers of 16
//! lanes), and an AVX-512 encoder.
//!
//! One step for a register of lanes: `slot = x & mask`, gather the packed
//! table entries (`bias << 20 | freq << 8 | sym`), store the symbol bytes,
//! `x = freq * (x >> bits) + bias`, and refill the lanes that fell below
//! 2^16 with the next words in lane order — `vpexpandd` does exactly that
//! on AVX-512; AVX2 permutes the words with a 256-entry table indexed by the
//! refill mask. The word position is the only dependency between registers.
//!
//! Safety contract, checked by [`decode_groups`] before any SIMD runs: the
//! table is the packed one with `2^bits` entries (every gather index is
//! `x & (2^bits - 1)`), and a group starts only if the 64 bytes it may read
//! lie inside the payload (each register reads 16 or 32 bytes at a position
//! at most 32 or 48 bytes past the group's start).

use std::arch::x86_64::*;

use super::{Decoder, EncodeState, Kernel, GROUP_WINDOW, LANES, RANS_L};
use crate::alias::AliasShape;

/// Decodes whole groups of `K` payloads in lock step with `kernel`, while
/// every payload still holds a full group window. Returns the number of
/// symbols decoded per payload (a multiple of [`LANES`]); the caller
/// finishes the rest with the scalar code. Does nothing (returns 0) unless
/// every table has the packed form.
pub(super) fn decode_groups<const K: usize>(
    kernel: Kernel,
    decs: [&mut Decoder<'_>; K],
    outs: [&mut [u8]; K],
) -> usize {
    let packed = decs
        .iter()
        .all(|d| d.table.packed.len() == 1 << d.table.prob_bits);
    if !packed || !kernel.is_supported() {
        return 0;
    }
    let groups = outs.iter().map(|o| o.len() / LANES).min().unwrap_or(0);
    let alias = alias_kernel_supported()
        && decs
            .iter()
            .all(|d| d.table.alias.is_some() && d.table.prob_bits == 12);
    match kernel {
        Kernel::Avx512 if alias => {
            // One table for every payload (the usual case in the codecs)
            // keeps the tables in registers.
            let shared = decs.iter().all(|d| std::ptr::eq(d.table, decs[0].table));
            let wide = decs
                .iter()
                .all(|d| d.table.alias.as_ref().map(|a| a.shape) == Some(AliasShape::Wide));
            // SAFETY (all four): the CPU runs the kernel and every table has
            // the alias tables at 12 bits (checked above), shared when
            // `SHARED` and of the wide shape when `WIDE` (checked here);
            // `groups` whole groups fit in every output; the kernel checks
            // the word window per group.
            match (shared, wide) {
                (true, true) => unsafe { avx512_alias::<K, true, true>(decs, outs, groups) },
                (true, false) => unsafe { avx512_alias::<K, true, false>(decs, outs, groups) },
                (false, true) => unsafe { avx512_alias::<K, false, true>(decs, outs, groups) },
                (false, false) => unsafe { avx512_alias::<K, false, false>(decs, outs, groups) },
            }
        }
        // SAFETY: the CPU supports AVX-512F (checked above); the tables are
        // complete packed tables (checked above); `groups` whole groups fit
        // in every output; the kernel checks the word window per group.
        Kernel::Avx512 => unsafe { avx512::<K>(decs, outs, groups) },
        // SAFETY: as above, with AVX2.
        Kernel::Avx2 => unsafe { avx2::<K>(decs, outs, groups) },
        Kernel::Scalar => 0,
    }
}

/// [`super::decode_pair_words`] on x86: the fused kernel when the CPU runs
/// it and both decoders share one 12-bit alias table; else nothing.
pub(super) fn decode_pair_words(
    kernel: Kernel,
    decs: [&mut Decoder<'_>; 2],
    sinks: [&mut crate::words::WordSink<'_>; 2],
) -> usize {
    let [a, b] = &decs;
    let shape = a.table.alias.as_ref().map(|t| t.shape);
    if kernel != Kernel::Avx512
        || !alias_kernel_supported()
        || !std::ptr::eq(a.table, b.table)
        || a.table.prob_bits != 12
        || a.table.packed.len() != 1 << 12
        || shape.is_none()
    {
        return 0;
    }
    let steps = (a.left / 64)
        .min(b.left / 64)
        .min(sinks[0].steps())
        .min(sinks[1].steps());
    if shape == Some(AliasShape::Wide) {
        // SAFETY: the CPU runs the kernel; both decoders share one alias
        // table of the wide shape at 12 bits (checked above); both sinks
        // hold `steps` steps and both decoders 64 * `steps` symbols.
        unsafe { avx512_alias_words::<true>(decs, sinks, steps) }
    } else {
        // SAFETY: as above, of the narrow shape.
        unsafe { avx512_alias_words::<false>(decs, sinks, steps) }
    }
}

/// What both AVX-512 decoders keep per payload: its two registers of 16
/// states, its word position and bounds, and its output.
struct Payloads512<const K: usize> {
    st: [[__m512i; 2]; K],
    pos: [usize; K],
    words: [*const u8; K],
    words_len: [usize; K],
    out: [*mut u8; K],
}

impl<const K: usize> Payloads512<K> {
    #[inline]
    #[target_feature(enable = "avx512f")]
    fn load(decs: &[&mut Decoder<'_>; K], outs: &mut [&mut [u8]; K]) -> Self {
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
    fn group_window(&self) -> bool {
        self.window(GROUP_WINDOW)
    }

    /// Whether every payload holds `bytes` more bytes of words (a group
    /// window per group the caller decodes before checking again).
    #[inline]
    fn window(&self, bytes: usize) -> bool {
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
    unsafe fn refill(&mut self, k: usize, h: usize, xn: __m512i, refill: __mmask16) {
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
    fn store(self, decs: [&mut Decoder<'_>; K]) {
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
unsafe fn avx512<const K: usize>(
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

/// Whether the CPU runs [`avx512_alias`]: AVX-512 F/BW with the byte
/// permutes of VBMI.
fn alias_kernel_supported() -> bool {
    use std::sync::OnceLock;
    static HAS: OnceLock<bool> = OnceLock::new();
    *HAS.get_or_init(|| Kernel::Avx512.is_supported() && is_x86_feature_detected!("avx512vbmi"))
}

/// The register tables and constants of the alias decoders, and their
/// step (see [`avx512_alias`]).
struct AliasRegs<const K: usize, const SHARED: bool, const WIDE: bool> {
    lv: __m512i,
    upper_bit: __m512i,
    part_bit: __m512i,
    m12: __m512i,
    /// Per payload (only the first with `SHARED`): the to-high bytes.
    to_high: [__m512i; K],
    /// Per payload: the low and high entries as 4 registers of 16 each
    /// (only the first 2 are read with 32 buckets).
    entries: [[[__m512i; 4]; 2]; K],
}

impl<const K: usize, const SHARED: bool, const WIDE: bool> AliasRegs<K, SHARED, WIDE> {
    /// The tables of `decs`, or `None` if one lacks alias tables.
    #[inline]
    #[target_feature(enable = "avx512f")]
    fn load(decs: &[&mut Decoder<'_>; K]) -> Option<Self> {
        let mut r = Self {
            lv: _mm512_set1_epi32(RANS_L as i32),
            upper_bit: _mm512_set1_epi32(1 << 11),
            // Bit log2(slots per bucket): where the divider's carry lands.
            part_bit: _mm512_set1_epi32(if WIDE { 128 } else { 64 }),
            m12: _mm512_set1_epi32(0xfff),
            to_high: [_mm512_setzero_si512(); K],
            entries: [[[_mm512_setzero_si512(); 4]; 2]; K],
        };
        for (k, d) in decs.iter().enumerate().take(if SHARED { 1 } else { K }) {
            let a = d.table.alias.as_deref()?;
            // SAFETY: 64 bytes.
            r.to_high[k] = unsafe { _mm512_loadu_si512(a.to_high.as_ptr().cast()) };
            for (regs, list) in r.entries[k].iter_mut().zip([&a.low, &a.high]) {
                for (q, reg) in regs.iter_mut().enumerate() {
                    // SAFETY: 16 u32 at q * 16 of a 64-entry array.
                    *reg = unsafe { _mm512_loadu_si512(list.as_ptr().add(q * 16).cast()) };
                }
            }
        }
        Some(r)
    }

    /// One step of every register of `p`; returns each lane's entry (its
    /// symbol in the low byte, below bit 6).
    ///
    /// # Safety
    /// [`Payloads512::group_window`] holds for this group.
    #[inline]
    #[target_feature(enable = "avx512f,avx512bw,avx512vbmi,popcnt")]
    unsafe fn step(&self, p: &mut Payloads512<K>) -> [[__m512i; 2]; K] {
        // Every register advances one step, phase by phase across all of
        // them: the independent work of the other registers sits next to
        // each long-latency operation (permutes, mask compares, expands),
        // so the out-of-order window overlaps it.
        // Register h of payload k is [k][h]: two registers of 16 lanes each.
        let table = |k: usize| if SHARED { 0 } else { k };
        let x = p.st;
        // Bucket = slot >> 6 (or >> 7): the permutes read its low 5 (dword)
        // or 6 (byte) bits; with 64 buckets the blends read its top bit.
        let idx = each::<_, K>(|k, h| {
            if WIDE {
                _mm512_srli_epi32::<7>(x[k][h])
            } else {
                _mm512_srli_epi32::<6>(x[k][h])
            }
        });
        // Byte 0 of each lane holds to_high[bucket]; the other bytes are
        // garbage that only carries upwards, away from the part bit (and so
        // do the bits of x above the bucket's low two, see AliasBuckets).
        let in_high = each::<_, K>(|k, h| {
            let sum = _mm512_add_epi32(
                x[k][h],
                _mm512_permutexvar_epi8(idx[k][h], self.to_high[table(k)]),
            );
            _mm512_test_epi32_mask(sum, self.part_bit)
        });
        let e = if WIDE {
            each::<_, K>(|k, h| {
                let [low, high] = &self.entries[table(k)];
                _mm512_mask_blend_epi32(
                    in_high[k][h],
                    _mm512_permutex2var_epi32(low[0], idx[k][h], low[1]),
                    _mm512_permutex2var_epi32(high[0], idx[k][h], high[1]),
                )
            })
        } else {
            let upper = each::<_, K>(|k, h| _mm512_test_epi32_mask(x[k][h], self.upper_bit));
            let look = |k: usize, h: usize, t: &[__m512i; 4]| {
                _mm512_mask_blend_epi32(
                    upper[k][h],
                    _mm512_permutex2var_epi32(t[0], idx[k][h], t[1]),
                    _mm512_permutex2var_epi32(t[2], idx[k][h], t[3]),
                )
            };
            each::<_, K>(|k, h| {
                let [low, high] = &self.entries[table(k)];
                _mm512_mask_blend_epi32(in_high[k][h], look(k, h, low), look(k, h, high))
            })
        };
        // x - (4096 - freq) * (x >> 12) + bias = freq * (x >> 12) + rank.
        let xn = each::<_, K>(|k, h| {
            let complement = _mm512_and_si512(_mm512_srli_epi32::<7>(e[k][h]), self.m12);
            let bias = _mm512_srai_epi32::<19>(e[k][h]);
            _mm512_add_epi32(
                _mm512_sub_epi32(
                    x[k][h],
                    _mm512_mullo_epi32(complement, _mm512_srli_epi32::<12>(x[k][h])),
                ),
                bias,
            )
        });
        let refill = each::<_, K>(|k, h| _mm512_cmplt_epu32_mask(xn[k][h], self.lv));
        for k in 0..K {
            for h in 0..2 {
                // SAFETY: the group window was checked for this group.
                unsafe { p.refill(k, h, xn[k][h], refill[k][h]) };
            }
        }
        e
    }
}

/// Byte 4i of register pair (a, b): lane i's entry's low byte, a's lanes
/// first, in bytes 0..32.
#[inline]
#[target_feature(enable = "avx512f")]
fn narrow_indices() -> __m512i {
    _mm512_set_epi8(
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        0, 0, 124, 120, 116, 112, 108, 104, 100, 96, 92, 88, 84, 80, 76, 72, 68, 64, 60, 56, 52,
        48, 44, 40, 36, 32, 28, 24, 20, 16, 12, 8, 4, 0,
    )
}

/// The AVX-512 decoder of alias-layout tables (see [`crate::alias`]): the
/// symbol of a slot comes from tables held in registers instead of a
/// gather from the 4096-entry table — one byte permute for the bucket's
/// divider, then for each of its two entries two `vpermt2d` plus a blend
/// on the bucket's top bit (64 buckets) or one `vpermt2d` (32 buckets,
/// `WIDE`); the symbols of a register pair are narrowed with one byte
/// permute. Same steps, refill and output as [`avx512`].
///
/// On Zen 4 this runs at ~1.2 cycles per symbol with 64 buckets and ~1.05
/// with 32 (two payloads in lock step), where a gather of 16 lanes alone
/// takes ~17 cycles.
///
/// With `SHARED`, every payload uses the first one's table.
///
/// # Safety
/// The CPU must pass [`alias_kernel_supported`]; every decoder's table must
/// have alias tables and 12-bit precision (and with `SHARED` be the first
/// one's, with `WIDE` have the wide shape); every output must hold
/// `groups * LANES` bytes.
#[target_feature(enable = "avx512f,avx512bw,avx512vbmi,popcnt")]
unsafe fn avx512_alias<const K: usize, const SHARED: bool, const WIDE: bool>(
    decs: [&mut Decoder<'_>; K],
    mut outs: [&mut [u8]; K],
    groups: usize,
) -> usize {
    let Some(regs) = AliasRegs::<K, SHARED, WIDE>::load(&decs) else {
        return 0;
    };
    let m6b = _mm256_set1_epi8(0x3f);
    let narrow = narrow_indices();
    let mut p = Payloads512::<K>::load(&decs, &mut outs);
    let mut g = 0;
    while g < groups && p.group_window() {
        // SAFETY: the group window was checked for this group.
        let e = unsafe { regs.step(&mut p) };
        for (&[e0, e1], out) in e.iter().zip(p.out) {
            let symbols = _mm512_castsi512_si256(_mm512_permutex2var_epi8(e0, narrow, e1));
            // SAFETY: g < groups, so the 32 bytes at g * 32 are in the output.
            unsafe {
                _mm256_storeu_si256(out.add(g * LANES).cast(), _mm256_and_si256(symbols, m6b));
            }
        }
        g += 1;
    }
    p.store(decs);
    g * LANES
}

/// Two payloads with one shared alias table decoded straight into words
/// (see [`crate::words::WordSink`]), 64 values of each per step: two steps
/// of [`AliasRegs::step`], the 64 symbols narrowed into one register and
/// assembled in registers, so the symbols never go through memory and the
/// word stores overlap the next steps' arithmetic. Returns the values
/// written per payload (a multiple of 64).
///
/// # Safety
/// The CPU must pass [`alias_kernel_supported`]; both decoders must share
/// one table with alias tables (of the wide shape with `WIDE`) and 12-bit
/// precision; both sinks must hold `steps` whole steps and both decoders
/// `64 * steps` more symbols.
#[target_feature(enable = "avx512f,avx512bw,avx512vbmi,popcnt")]
pub(super) unsafe fn avx512_alias_words<const WIDE: bool>(
    decs: [&mut Decoder<'_>; 2],
    sinks: [&mut crate::words::WordSink<'_>; 2],
    steps: usize,
) -> usize {
    use crate::words::x86::{assemble, byte_tables, interleave_indices};
    let Some(regs) = AliasRegs::<2, true, WIDE>::load(&decs) else {
        return 0;
    };
    let tables = [byte_tables(sinks[0].tops), byte_tables(sinks[1].tops)];
    let interleave = interleave_indices();
    // Not written through: the kernel writes words through the sinks'
    // pointers below.
    let mut no_symbols: [&mut [u8]; 2] = [&mut [], &mut []];
    let mut p = Payloads512::<2>::load(&decs, &mut no_symbols);
    let out = sinks.map(|s| (s.out.as_mut_ptr(), s.plane.as_ptr(), s.fields.as_ptr()));
    let mut s = 0;
    while s < steps && p.window(2 * GROUP_WINDOW) {
        // SAFETY: the window of both groups was checked.
        let [first, second] = unsafe { [regs.step(&mut p), regs.step(&mut p)] };
        for k in 0..2 {
            let [a0, a1] = first[k];
            let [b0, b1] = second[k];
            // Each register's low bytes with `vpmovdb`, which measured 2 %
            // faster here than two-register byte permutes.
            let half = |r0: __m512i, r1: __m512i| {
                _mm256_inserti128_si256::<1>(
                    _mm256_castsi128_si256(_mm512_cvtepi32_epi8(r0)),
                    _mm512_cvtepi32_epi8(r1),
                )
            };
            let symbols =
                _mm512_inserti64x4::<1>(_mm512_castsi256_si512(half(a0, a1)), half(b0, b1));
            let (o, plane, fields) = out[k];
            // SAFETY: s < steps, so 8 plane bytes, 48 field bytes (the
            // masked load touches only those) and 128 output bytes at this
            // step are in the sink's slices (the caller's contract).
            unsafe {
                let bits = _cvtu64_mask64(plane.add(s * 8).cast::<u64>().read_unaligned());
                let packed = _mm512_maskz_loadu_epi8(0xffff_ffff_ffff, fields.add(s * 48).cast());
                let words = assemble(&tables[k], &interleave, symbols, bits, packed);
                let o = o.add(s * 128);
                _mm512_storeu_si512(o.cast(), words[0]);
                _mm512_storeu_si512(o.add(64).cast(), words[1]);
            }
        }
        s += 1;
    }
    p.store(decs);
    s * 64
}

/// `[[f(k, 0), f(k, 1)]; K]`: one value per register of `K` payloads.
#[inline(always)]
fn each<T, const K: usize>(mut f: impl FnMut(usize, usize) -> T) -> [[T; 2]; K] {
    std::array::from_fn(|k| [f(k, 0), f(k, 1)])
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

/// Shared with the context coder's AVX2 decoder (`multi.rs`).
pub(crate) static REFILL_PERMUTATIONS: [[i32; 8]; 256] = refill_permutations();

/// # Safety
/// AVX2 must be available; every decoder's table must be packed with
/// `2^prob_bits` entries; every output must hold `groups * LANES` bytes.
#[target_feature(enable = "avx2,popcnt")]
unsafe fn avx2<const K: usize>(
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

/// Lowest precision the SIMD encoder handles: its f32 quotient is then
/// within one of the exact one (see [`encode_groups_avx512`]).
pub(super) const ENCODE_MIN_BITS: u32 = 10;

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
pub(super) fn encode_groups_avx512<const K: usize>(encs: [&mut EncodeState<'_>; K], count: usize) {
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
pub(super) fn encode_groups_avx2(e: &mut EncodeState<'_>, count: usize) {
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
