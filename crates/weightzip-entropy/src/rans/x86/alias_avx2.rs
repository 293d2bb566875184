//! The AVX2 decoder of alias tables fused with the word assembly: two
//! payloads that share one 12-bit alias table decoded straight into the
//! 16-bit words of a [`WordSink`], 32 values of each per group.
//!
//! Per register of 8 lanes: the slot's packed entry (`rank << 20 | freq << 8
//! | sym`) by one `vpgatherdd`, the state update `freq * (x >> 12) + rank`,
//! and the refill of the lanes below 2^16: the next 8 words in both halves
//! of a register, moved into the refilled lanes by one byte shuffle from a
//! 256-entry table indexed by the refill mask. On Zen 3
//! the gather measured faster than looking the bucket's two entries up in
//! registers (four `vpermd` and three blends per entry, as the AVX-512
//! kernel does with two-register permutes): 1.35–1.9 against 1.15 GB/s.
//! The 32 symbols of a group are narrowed to bytes, and the words
//! assembled with byte shuffles: the two bytes of `tops[symbol]` from
//! 16-entry `vpshufb` tables, the raw bit as a constant XOR (the kernel
//! runs only when `tops[symbol + 64] = tops[symbol] ^ D` for one `D` with
//! no bit below 6, which holds for every float codec), and the 6-bit fields
//! spread to bytes with one shuffle and a 16-bit multiply.
//!
//! Bounds: a group starts only if the 64 bytes its four registers may read
//! are inside the payload (each reads 16 bytes at most 48 past the group's
//! start); the sinks hold every step the caller asks for.

use std::arch::x86_64::*;

use crate::rans::fused::{HighByteSink, WordSink};
use crate::rans::{Decoder, GROUP_WINDOW, LANES};
use crate::table::AliasShape;

/// The XOR that turns `tops[s]` into `tops[s + 64]` for every symbol `s`
/// the table decodes, if it is one value with no bit below 6.
pub(super) fn raw_bit_xor(tops: &[u16; 128], table: &crate::DecodeTable) -> Option<u16> {
    let a = table.alias.as_deref()?;
    let n = a.shape.buckets();
    let syms = a.low[..n]
        .iter()
        .chain(&a.high[..n])
        .map(|&e| (e & 0x3f) as usize);
    let mut d = None;
    for s in syms {
        let x = tops[s] ^ tops[s + 64];
        if *d.get_or_insert(x) != x {
            return None;
        }
    }
    d.filter(|&d| d & 0x3f == 0)
}

/// For a refill mask of 8 lanes, the byte shuffle that moves each refilled
/// lane's word (lane `i` takes word `popcount(mask & ((1 << i) - 1))` of
/// the next 8, which both 128-bit halves hold) into its low 16 bits and
/// zeroes every other byte.
const fn refill_shuffles() -> [[u8; 32]; 256] {
    let mut t = [[0x80u8; 32]; 256];
    let mut m = 0;
    while m < 256 {
        let mut used = 0;
        let mut i = 0;
        while i < 8 {
            if (m >> i) & 1 == 1 {
                t[m][4 * i] = 2 * used;
                t[m][4 * i + 1] = 2 * used + 1;
                used += 1;
            }
            i += 1;
        }
        m += 1;
    }
    t
}

static REFILL_SHUFFLES: [[u8; 32]; 256] = refill_shuffles();

/// What the group loop keeps per payload.
struct Payload {
    st: [__m256i; 4],
    pos: usize,
    words: *const u8,
}

/// The loop both AVX2 alias kernels share: two payloads with one shared
/// alias table, 64 values of each per step (two groups of 32), each
/// group's 32 symbols narrowed to bytes and handed to `assemble(k, v,
/// symbols)` (payload `k`, first value `v`). Returns the values decoded per
/// payload (a multiple of 64).
///
/// # Safety
/// The CPU must run AVX2 and POPCNT; both decoders must share one table
/// with its packed entries at 12 bits; both decoders must hold `64 * steps`
/// more symbols, and `assemble` must accept every group of those steps.
#[inline]
#[target_feature(enable = "avx2,popcnt")]
unsafe fn avx2_alias_groups(
    decs: [&mut Decoder<'_>; 2],
    steps: usize,
    mut assemble: impl FnMut(usize, usize, __m256i),
) -> usize {
    let table = decs[0].table;
    let zero = _mm256_setzero_si256();
    let m12 = _mm256_set1_epi32(0xfff);
    let mff = _mm256_set1_epi32(0xff);
    let unshuffle = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
    let packed: *const i32 = table.packed.as_ptr().cast();
    let mut p: [Payload; 2] = std::array::from_fn(|k| {
        let d = &decs[k];
        Payload {
            // SAFETY: `states` holds 32 u32: four unaligned 32-byte loads.
            st: std::array::from_fn(|q| unsafe {
                _mm256_loadu_si256(d.states.as_ptr().add(8 * q).cast())
            }),
            pos: d.pos,
            words: d.words.as_ptr(),
        }
    });
    let words_len = [decs[0].words.len(), decs[1].words.len()];

    // One step of one register: the next state and the lane's symbol.
    let step = |x: __m256i| -> (__m256i, __m256i) {
        let slot = _mm256_and_si256(x, _mm256_set1_epi32(0xfff));
        // SAFETY: every index is `x & 4095`, inside the packed table of
        // 4096 entries (the caller's contract).
        let e = unsafe { _mm256_i32gather_epi32::<4>(packed, slot) };
        let freq = _mm256_and_si256(_mm256_srli_epi32::<8>(e), m12);
        let bias = _mm256_srli_epi32::<20>(e);
        let xn = _mm256_add_epi32(_mm256_mullo_epi32(freq, _mm256_srli_epi32::<12>(x)), bias);
        (xn, _mm256_and_si256(e, mff))
    };

    let mut s = 0;
    while s < steps
        && p[0].pos + 2 * GROUP_WINDOW <= words_len[0]
        && p[1].pos + 2 * GROUP_WINDOW <= words_len[1]
    {
        for g in 0..2 {
            // One payload's group at a time: its four registers, then its
            // words (two payloads' at once measured slower: spills).
            for (k, pk) in p.iter_mut().enumerate() {
                let mut sy = [zero; 4];
                for (q, sym_q) in sy.iter_mut().enumerate() {
                    let (xn, sym) = step(pk.st[q]);
                    *sym_q = sym;
                    let refill = _mm256_cmpeq_epi32(_mm256_srli_epi32::<16>(xn), zero);
                    let m = _mm256_movemask_ps(_mm256_castsi256_ps(refill)) as usize & 0xff;
                    // SAFETY: the position is at most 48 bytes past the
                    // group's start, whose 64-byte window is inside the
                    // words (checked for both groups of the step).
                    let w = unsafe {
                        _mm256_broadcastsi128_si256(_mm_loadu_si128(pk.words.add(pk.pos).cast()))
                    };
                    // SAFETY: the table row holds 32 bytes.
                    let shuffle = unsafe { _mm256_loadu_si256(REFILL_SHUFFLES[m].as_ptr().cast()) };
                    let w = _mm256_shuffle_epi8(w, shuffle);
                    pk.st[q] = _mm256_blendv_epi8(
                        xn,
                        _mm256_or_si256(_mm256_slli_epi32::<16>(xn), w),
                        refill,
                    );
                    pk.pos += 2 * m.count_ones() as usize;
                }
                let ab = _mm256_packus_epi32(sy[0], sy[1]);
                let cd = _mm256_packus_epi32(sy[2], sy[3]);
                let sy = _mm256_permutevar8x32_epi32(_mm256_packus_epi16(ab, cd), unshuffle);
                assemble(k, s * 64 + g * 32, sy);
            }
        }
        s += 1;
    }
    for (d, pk) in decs.into_iter().zip(&p) {
        for (q, st) in pk.st.iter().enumerate() {
            // SAFETY: `states` holds 32 u32.
            unsafe { _mm256_storeu_si256(d.states.as_mut_ptr().add(8 * q).cast(), *st) };
        }
        d.pos = pk.pos;
    }
    debug_assert_eq!(LANES, 32);
    s * 64
}

/// A 64-entry byte table (`t[i]` for symbols `i < 64`) as four 16-entry
/// shuffle tables, each in both 128-bit halves.
#[inline]
#[target_feature(enable = "avx2")]
fn shuffle_tables(t: impl Fn(usize) -> u8) -> [__m256i; 4] {
    std::array::from_fn(|q| {
        let bytes: [u8; 16] = std::array::from_fn(|i| t(16 * q + i));
        // SAFETY: 16 bytes.
        let r = unsafe { _mm_loadu_si128(bytes.as_ptr().cast()) };
        _mm256_broadcastsi128_si256(r)
    })
}

/// Looks the 32 symbol bytes of `sy` up in [`shuffle_tables`] `t` (all 64
/// entries, or the first 32 when not `narrow`).
#[inline]
#[target_feature(enable = "avx2")]
fn look_up(t: &[__m256i; 4], sy: __m256i, narrow: bool) -> __m256i {
    // Bit 4 (and 5) of each symbol byte to bit 7, the blend's.
    let sel4 = _mm256_slli_epi16::<3>(sy);
    let a = _mm256_blendv_epi8(
        _mm256_shuffle_epi8(t[0], sy),
        _mm256_shuffle_epi8(t[1], sy),
        sel4,
    );
    if narrow {
        let b = _mm256_blendv_epi8(
            _mm256_shuffle_epi8(t[2], sy),
            _mm256_shuffle_epi8(t[3], sy),
            sel4,
        );
        _mm256_blendv_epi8(a, b, _mm256_slli_epi16::<2>(sy))
    } else {
        a
    }
}

/// The 32 bytes of 0xff / 0 for the raw bits of 32 values (`bits`, value
/// `i` at bit `i`).
#[inline]
#[target_feature(enable = "avx2")]
fn bit_masks(bits: u32) -> __m256i {
    let spread = _mm256_setr_epi8(
        0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3,
        3, 3,
    );
    let bitsel = _mm256_set1_epi64x(0x8040_2010_0804_0201u64 as i64);
    let bm = _mm256_shuffle_epi8(_mm256_set1_epi32(bits as i32), spread);
    _mm256_cmpeq_epi8(_mm256_and_si256(bm, bitsel), bitsel)
}

/// Stores the 32 words of `lo` / `hi` bytes (in value order) at `o`.
///
/// # Safety
/// `o` must be valid for 64 bytes of writes.
#[inline]
#[target_feature(enable = "avx2")]
unsafe fn store_words(o: *mut u8, lo: __m256i, hi: __m256i) {
    let w0 = _mm256_unpacklo_epi8(lo, hi);
    let w1 = _mm256_unpackhi_epi8(lo, hi);
    // SAFETY: the caller's contract.
    unsafe {
        _mm256_storeu_si256(o.cast(), _mm256_permute2x128_si256::<0x20>(w0, w1));
        _mm256_storeu_si256(o.add(32).cast(), _mm256_permute2x128_si256::<0x31>(w0, w1));
    }
}

/// Decodes two payloads with one shared alias table into words, 64 values
/// of each per step (two groups); returns the values written per payload
/// (a multiple of 64).
///
/// # Safety
/// The CPU must run AVX2 and POPCNT; both decoders must share one
/// table with alias tables and packed entries at 12 bits; `xor` must be [`raw_bit_xor`] of the sinks'
/// tops (both sinks share them); both sinks must hold `steps` whole steps
/// and both decoders `64 * steps` more symbols.
#[target_feature(enable = "avx2,popcnt")]
pub(super) unsafe fn avx2_alias_words(
    decs: [&mut Decoder<'_>; 2],
    sinks: [&mut WordSink<'_>; 2],
    steps: usize,
    xor: u16,
) -> usize {
    let Some(alias) = decs[0].table.alias.as_deref() else {
        return 0;
    };
    let narrow = alias.shape == AliasShape::Narrow;
    // The bytes of tops[0..64] as four 16-entry shuffle tables each.
    let tops = sinks[0].tops;
    let tlo = shuffle_tables(|i| tops[i] as u8);
    let thi = shuffle_tables(|i| (tops[i] >> 8) as u8);
    let xlo = _mm256_set1_epi8(xor as u8 as i8);
    let xhi = _mm256_set1_epi8((xor >> 8) as u8 as i8);
    let arrange = _mm256_setr_epi8(
        0, 1, 1, 2, 3, 4, 4, 5, 6, 7, 7, 8, 9, 10, 10, 11, 4, 5, 5, 6, 7, 8, 8, 9, 10, 11, 11, 12,
        13, 14, 14, 15,
    );
    let field_mask = _mm256_set1_epi32(0xfff0_0fffu32 as i32);
    let field_mul = _mm256_set1_epi32(0x0001_0010);
    let m3f = _mm256_set1_epi16(0x003f);
    let m3f00 = _mm256_set1_epi16(0x3f00);
    let out = [0, 1].map(|k| {
        (
            sinks[k].out.as_mut_ptr(),
            sinks[k].plane.as_ptr(),
            sinks[k].fields.as_ptr(),
        )
    });
    let assemble = |k: usize, v: usize, sy: __m256i| {
        let (o, plane, fields) = out[k];
        // SAFETY: v is a group of the first `steps` steps, so the 4
        // plane bytes, 24 field bytes (two 16-byte loads at +0 and +8)
        // and 64 output bytes of values v..v + 32 are in the sink's
        // slices (the caller's contract).
        unsafe {
            let bits = plane.add(v / 8).cast::<u32>().read_unaligned();
            let f = _mm256_loadu2_m128i(
                fields.add(v / 8 * 6 + 8).cast(),
                fields.add(v / 8 * 6).cast(),
            );
            let bm = bit_masks(bits);
            let t = _mm256_mullo_epi16(
                _mm256_and_si256(_mm256_shuffle_epi8(f, arrange), field_mask),
                field_mul,
            );
            let fb = _mm256_or_si256(
                _mm256_and_si256(_mm256_srli_epi16::<4>(t), m3f),
                _mm256_and_si256(_mm256_srli_epi16::<2>(t), m3f00),
            );
            let lo = _mm256_xor_si256(
                _mm256_or_si256(look_up(&tlo, sy, narrow), fb),
                _mm256_and_si256(bm, xlo),
            );
            let hi = _mm256_xor_si256(look_up(&thi, sy, narrow), _mm256_and_si256(bm, xhi));
            store_words(o.add(v * 2), lo, hi);
        }
    };
    // SAFETY: the caller's contract; every group handed to `assemble` is
    // one of the `steps` steps the sinks hold.
    unsafe { avx2_alias_groups(decs, steps, assemble) }
}

/// [`avx2_alias_words`] for a [`HighByteSink`]: the high byte of each
/// symbol by shuffle-table lookup, its two raw bits from the bit planes,
/// the low byte loaded; 64 values of each payload per step.
///
/// # Safety
/// The CPU must run AVX2 and POPCNT; both decoders must share one table
/// with alias tables and packed entries at 12 bits; both sinks must hold
/// `steps` whole steps and both decoders `64 * steps` more symbols.
#[target_feature(enable = "avx2,popcnt")]
pub(super) unsafe fn avx2_alias_high_bytes(
    decs: [&mut Decoder<'_>; 2],
    sinks: [&mut HighByteSink<'_>; 2],
    steps: usize,
) -> usize {
    let Some(alias) = decs[0].table.alias.as_deref() else {
        return 0;
    };
    let narrow = alias.shape == AliasShape::Narrow;
    let tables = [0, 1].map(|k| {
        let highs = sinks[k].highs;
        shuffle_tables(|i| highs[i])
    });
    let (one, two) = (_mm256_set1_epi8(1), _mm256_set1_epi8(2));
    let out = [0, 1].map(|k| {
        (
            sinks[k].out.as_mut_ptr(),
            sinks[k].bits8.as_ptr(),
            sinks[k].bits9.as_ptr(),
            sinks[k].low.as_ptr(),
        )
    });
    let assemble = |k: usize, v: usize, sy: __m256i| {
        let (o, bits8, bits9, low) = out[k];
        // SAFETY: v is a group of the first `steps` steps, so the 4
        // bytes of each bit plane, 32 low bytes and 64 output bytes of
        // values v..v + 32 are in the sink's slices.
        unsafe {
            let b8 = bit_masks(bits8.add(v / 8).cast::<u32>().read_unaligned());
            let b9 = bit_masks(bits9.add(v / 8).cast::<u32>().read_unaligned());
            let hi = _mm256_or_si256(
                look_up(&tables[k], sy, narrow),
                _mm256_or_si256(_mm256_and_si256(b8, one), _mm256_and_si256(b9, two)),
            );
            let lo = _mm256_loadu_si256(low.add(v).cast());
            store_words(o.add(v * 2), lo, hi);
        }
    };
    // SAFETY: the caller's contract; every group handed to `assemble` is
    // one of the `steps` steps the sinks hold.
    unsafe { avx2_alias_groups(decs, steps, assemble) }
}
