//! The AVX-512 VBMI decoders of alias tables, plain and fused with the
//! word assembly.

use std::arch::x86_64::*;

use super::decode::Payloads512;
use super::each;
use crate::rans::{Decoder, Kernel, GROUP_WINDOW, LANES, RANS_L};

/// Whether the CPU runs [`avx512_alias`]: AVX-512 F/BW with the byte
/// permutes of VBMI.
pub(super) fn alias_kernel_supported() -> bool {
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

/// The 32 symbol bytes of one group's two entry registers, in value order
/// (each lane's low byte, with `vpmovdb`, which measured 2 % faster than
/// two-register byte permutes; bits above the symbol are left in).
#[inline]
#[target_feature(enable = "avx512f")]
fn group_symbols([r0, r1]: [__m512i; 2]) -> __m256i {
    _mm256_inserti128_si256::<1>(
        _mm256_castsi128_si256(_mm512_cvtepi32_epi8(r0)),
        _mm512_cvtepi32_epi8(r1),
    )
}

/// The 64 symbol bytes of a payload's two groups of one step.
#[inline]
#[target_feature(enable = "avx512f")]
fn step_symbols(first: [__m512i; 2], second: [__m512i; 2]) -> __m512i {
    _mm512_inserti64x4::<1>(
        _mm512_castsi256_si512(group_symbols(first)),
        group_symbols(second),
    )
}

/// The AVX-512 decoder of alias-layout tables (see [`crate::AliasShape`]): the
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
pub(super) unsafe fn avx512_alias<const K: usize, const SHARED: bool, const WIDE: bool>(
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
/// (see [`crate::rans::fused::WordSink`]), 64 values of each per step: two steps
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
    sinks: [&mut crate::rans::fused::WordSink<'_>; 2],
    steps: usize,
) -> usize {
    use super::words::{assemble, byte_tables, interleave_indices};
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
            let symbols = step_symbols(first[k], second[k]);
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

/// Word permutes of the escape decoder: the low word of each of 32 entry
/// dwords of a register pair (first index list), and the 32 escaped
/// words from 32 low bytes then 32 high bytes (second).
#[inline]
#[target_feature(enable = "avx512f")]
fn escape_indices() -> (__m512i, __m512i) {
    let mut words = [0i16; 32];
    for (i, w) in words.iter_mut().enumerate() {
        // Dword i of the first register, else of the second (index bit 5).
        *w = if i < 16 {
            2 * i as i16
        } else {
            32 + 2 * (i as i16 - 16)
        };
    }
    let mut bytes = [0i8; 64];
    for (j, b) in bytes.iter_mut().enumerate() {
        *b = (j / 2) as i8 + if j % 2 == 0 { 0 } else { 32 };
    }
    // SAFETY: 64 bytes each.
    unsafe {
        (
            _mm512_loadu_si512(words.as_ptr().cast()),
            _mm512_loadu_si512(bytes.as_ptr().cast()),
        )
    }
}

/// Two payloads with one shared alias table decoded straight into the new
/// words of an escape-coded 16-bit delta (see
/// [`crate::rans::fused::EscapeSink`]), 64 values of each per step: two
/// steps of [`AliasRegs::step`], then per 32 values the escaped words moved
/// into the escape lanes by one expand, the raw low bits shifted in under
/// their masks, and the exponent-aware sum with the base words, in place. Returns the values written per payload (a
/// multiple of 64); each sink's `used` counts the escaped words taken.
///
/// # Safety
/// The CPU must pass [`alias_kernel_supported`] and run AVX-512VL and
/// VBMI2; both decoders must share one table with alias tables (of the
/// wide shape with `WIDE`) and 12-bit precision; both sinks must hold
/// `steps` whole steps (of their words, base and raw-bit planes: see
/// `EscapeSink::steps`) and both decoders `64 * steps` more symbols.
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vbmi,avx512vbmi2,popcnt")]
pub(super) unsafe fn avx512_alias_escaped<const WIDE: bool>(
    decs: [&mut Decoder<'_>; 2],
    sinks: [&mut crate::rans::fused::EscapeSink<'_>; 2],
    steps: usize,
) -> usize {
    let Some(regs) = AliasRegs::<2, true, WIDE>::load(&decs) else {
        return 0;
    };
    let mut no_symbols: [&mut [u8]; 2] = [&mut [], &mut []];
    let mut p = Payloads512::<2>::load(&decs, &mut no_symbols);
    let top = _mm512_set1_epi16(0x8000u16 as i16);
    let low15 = _mm512_set1_epi16(0x7fff);
    let m6w = _mm512_set1_epi16(0x3f);
    let esc = [sinks[0].escape, sinks[1].escape].map(|e| _mm512_set1_epi16(i16::from(e)));
    let (symbol_words, escaped_words) = escape_indices();
    let planes = [0, 1].map(|k| sinks[k].hi.len().min(sinks[k].lo.len()));
    let ptrs = [0, 1].map(|k| {
        let words = sinks[k].words.as_mut_ptr();
        let base = sinks[k].base.map_or(words.cast_const(), <[u8]>::as_ptr);
        (words, base, sinks[k].hi.as_ptr(), sinks[k].lo.as_ptr())
    });
    let mut used = [sinks[0].used, sinks[1].used];
    // The raw low-bit planes (at most MAX_RAW_BITS: `EscapeSink::steps`).
    let raw = [0, 1].map(|k| {
        let mut planes = [std::ptr::null::<u8>(); crate::rans::fused::MAX_RAW_BITS];
        for (p, plane) in planes.iter_mut().zip(sinks[k].raw_bits) {
            *p = plane.as_ptr();
        }
        (planes, sinks[k].raw_bits.len().min(planes.len()))
    });
    let bit = [1, 2, 4, 8].map(|b| _mm512_set1_epi16(b));
    let mut s = 0;
    // A step takes at most 64 escaped words of each sink, read 32 at a time
    // from at most 32 past the step's first.
    while s < steps
        && p.window(2 * GROUP_WINDOW)
        && used[0] + 64 <= planes[0]
        && used[1] + 64 <= planes[1]
    {
        // Each group's words are done before the next group is decoded
        // (fewer registers live).
        for q in 0..2 {
            // SAFETY: the window of both groups was checked.
            let e = unsafe { regs.step(&mut p) };
            for (k, [r0, r1]) in e.into_iter().enumerate() {
                let (words, base, hi, lo) = ptrs[k];
                // The 32 symbols as 16-bit lanes: each entry's low word.
                let symbols =
                    _mm512_and_si512(_mm512_permutex2var_epi16(r0, symbol_words, r1), m6w);
                let mask = _mm512_cmpeq_epi16_mask(symbols, esc[k]);
                // SAFETY: used + 32 <= planes (checked for the step: at
                // most 32 were taken by its first half); 32 bytes of each.
                let (l, h) = unsafe {
                    (
                        _mm256_loadu_si256(lo.add(used[k]).cast()),
                        _mm256_loadu_si256(hi.add(used[k]).cast()),
                    )
                };
                // The next 32 escaped words, their bytes interleaved.
                let next = _mm512_permutexvar_epi8(
                    escaped_words,
                    _mm512_inserti64x4::<1>(_mm512_castsi256_si512(l), h),
                );
                let mut z = _mm512_mask_expand_epi16(symbols, mask, next);
                used[k] += mask.count_ones() as usize;
                let (planes, shift) = raw[k];
                if shift > 0 {
                    z = _mm512_sll_epi16(z, _mm_cvtsi32_si128(shift as i32));
                    for (j, &plane) in planes[..shift].iter().enumerate() {
                        // SAFETY: s < steps: the 8 bytes of step s are in
                        // each plane (the caller's contract), 4 per half.
                        let m = unsafe { plane.add(s * 8 + q * 4).cast::<u32>().read_unaligned() };
                        // The low bits are clear after the shift: add is or.
                        z = _mm512_mask_add_epi16(z, m, z, bit[j]);
                    }
                }
                // SAFETY: s < steps: the 64 bytes of values s * 64 + q * 32
                // onwards are in the sink's words and base (the caller's
                // contract).
                let at = unsafe { words.add(s * 128 + q * 64) };
                // SAFETY: as above.
                let b = unsafe { _mm512_loadu_si512(base.add(s * 128 + q * 64).cast()) };
                // Ternary-logic immediates are f(0xf0, 0xcc, 0xaa) of the
                // operands (a, b, c).
                // ordered(b) = b ^ (sign fill | 0x8000)
                let ob = _mm512_ternarylogic_epi32::<0x1e>(b, _mm512_srai_epi16::<15>(b), top);
                // unzigzag(z) = (z >> 1) ^ -(z & 1): with r = z rotated right
                // by one (z's low bit on top), r ^ (r's sign fill & 0x7fff).
                let r = _mm512_shrdi_epi16::<1>(z, z);
                let d = _mm512_ternarylogic_epi32::<0x78>(r, _mm512_srai_epi16::<15>(r), low15);
                let o = _mm512_add_epi16(ob, d);
                // unordered(o) = o ^ (!sign fill | 0x8000)
                let w = _mm512_ternarylogic_epi32::<0x4b>(o, _mm512_srai_epi16::<15>(o), top);
                // SAFETY: the same 64 bytes.
                unsafe { _mm512_storeu_si512(at.cast(), w) };
            }
        }
        s += 1;
    }
    p.store(decs);
    sinks[0].used = used[0];
    sinks[1].used = used[1];
    s * 64
}

/// Two payloads with one shared alias table decoded straight into 16-bit
/// words with a high byte from the symbol and two raw bits and a raw low
/// byte (see [`crate::rans::fused::HighByteSink`]), 64 values of each per
/// step: two steps of [`AliasRegs::step`], the 64 symbols narrowed into
/// one register, their high bytes looked up with one byte permute, the
/// raw bits added under their masks, and the bytes interleaved. Returns
/// the values written per payload (a multiple of 64).
///
/// # Safety
/// The CPU must pass [`alias_kernel_supported`]; both decoders must share
/// one table with alias tables (of the wide shape with `WIDE`) and 12-bit
/// precision; both sinks must hold `steps` whole steps and both decoders
/// `64 * steps` more symbols.
#[target_feature(enable = "avx512f,avx512bw,avx512vbmi,popcnt")]
pub(super) unsafe fn avx512_alias_high_bytes<const WIDE: bool>(
    decs: [&mut Decoder<'_>; 2],
    sinks: [&mut crate::rans::fused::HighByteSink<'_>; 2],
    steps: usize,
) -> usize {
    use super::words::interleave_indices;
    let Some(regs) = AliasRegs::<2, true, WIDE>::load(&decs) else {
        return 0;
    };
    // SAFETY: 64 bytes each.
    let highs = [0, 1].map(|k| unsafe { _mm512_loadu_si512(sinks[k].highs.as_ptr().cast()) });
    let interleave = interleave_indices();
    let (one, two) = (_mm512_set1_epi8(1), _mm512_set1_epi8(2));
    let mut no_symbols: [&mut [u8]; 2] = [&mut [], &mut []];
    let mut p = Payloads512::<2>::load(&decs, &mut no_symbols);
    let out = sinks.map(|s| {
        (
            s.out.as_mut_ptr(),
            s.bits8.as_ptr(),
            s.bits9.as_ptr(),
            s.low.as_ptr(),
        )
    });
    let mut s = 0;
    while s < steps && p.window(2 * GROUP_WINDOW) {
        // SAFETY: the window of both groups was checked.
        let [first, second] = unsafe { [regs.step(&mut p), regs.step(&mut p)] };
        for k in 0..2 {
            // The permute reads the low 6 bits of each symbol byte.
            let symbols = step_symbols(first[k], second[k]);
            let (o, bits8, bits9, low) = out[k];
            // SAFETY: s < steps, so the 8 bytes of each bit plane, 64 low
            // bytes and 128 output bytes of this step are in the sink's
            // slices (the caller's contract).
            unsafe {
                let k8 = _cvtu64_mask64(bits8.add(s * 8).cast::<u64>().read_unaligned());
                let k9 = _cvtu64_mask64(bits9.add(s * 8).cast::<u64>().read_unaligned());
                let hi = _mm512_permutexvar_epi8(symbols, highs[k]);
                let hi = _mm512_mask_add_epi8(hi, k8, hi, one);
                let hi = _mm512_mask_add_epi8(hi, k9, hi, two);
                let lo = _mm512_loadu_si512(low.add(s * 64).cast());
                let words = interleave.map(|il| _mm512_permutex2var_epi8(lo, il, hi));
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
