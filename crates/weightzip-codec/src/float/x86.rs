//! x86-64 SIMD helpers of the float codecs.

use std::arch::x86_64::*;

use weightzip_entropy::rans::fused::simd::{
    assemble, byte_tables, interleave_indices, six_bit_fields,
};

/// Whether [`merge_joint`] can run its AVX-512 VBMI loop here.
fn has_vbmi() -> bool {
    use std::sync::OnceLock;
    static HAS: OnceLock<bool> = OnceLock::new();
    *HAS.get_or_init(|| {
        is_x86_feature_detected!("avx512f")
            && is_x86_feature_detected!("avx512bw")
            && is_x86_feature_detected!("avx512vbmi")
    })
}

/// The AVX-512 VBMI part of `bf16_joint::merge_joint`: 64 values per step, the
/// top parts looked up with byte permutes (two 128-byte halves of a
/// 256-entry table per output byte), the 6-bit fields unpacked with
/// `vpmultishiftqb`. Returns how many values it wrote (a multiple of 64);
/// the caller finishes the rest.
pub(super) fn merge_joint(tops: &[u16; 256], symbols: &[u8], bits: &[u8], out: &mut [u8]) -> usize {
    let steps = (symbols.len() / 64)
        .min(bits.len() / 48)
        .min(out.len() / 128);
    if steps == 0 || !has_vbmi() {
        return 0;
    }
    // SAFETY: the CPU has AVX-512 F/BW/VBMI (checked); every slice holds
    // `steps` whole steps (64 symbols, 48 bit bytes, 128 output bytes).
    unsafe { merge_joint_vbmi(tops, symbols, bits, out, steps) };
    steps * 64
}

/// # Safety
/// AVX-512 F/BW/VBMI must be available; `symbols`, `bits` and `out` must
/// hold at least `steps * 64`, `steps * 48` and `steps * 128` bytes.
#[target_feature(enable = "avx512f,avx512bw,avx512vbmi")]
unsafe fn merge_joint_vbmi(
    tops: &[u16; 256],
    symbols: &[u8],
    bits: &[u8],
    out: &mut [u8],
    steps: usize,
) {
    // Low and high bytes of the 256 top parts, as 4 + 4 registers.
    let mut lo = [0u8; 256];
    let mut hi = [0u8; 256];
    for (i, t) in tops.iter().enumerate() {
        lo[i] = *t as u8;
        hi[i] = (*t >> 8) as u8;
    }
    // SAFETY: each array holds 256 bytes: four 64-byte loads.
    let (lo, hi) = unsafe {
        (
            [0, 1, 2, 3].map(|q| _mm512_loadu_si512(lo.as_ptr().add(q * 64).cast())),
            [0, 1, 2, 3].map(|q| _mm512_loadu_si512(hi.as_ptr().add(q * 64).cast())),
        )
    };
    let [il0, il1] = interleave_indices();
    for s in 0..steps {
        // SAFETY: s < steps: 64 symbols and 48 bit bytes are in bounds
        // (the masked load touches only 48 bytes).
        let (idx, packed) = unsafe {
            (
                _mm512_loadu_si512(symbols.as_ptr().add(s * 64).cast()),
                _mm512_maskz_loadu_epi8(0xffff_ffff_ffff, bits.as_ptr().add(s * 48).cast()),
            )
        };
        let upper = _mm512_movepi8_mask(idx);
        let lo_b = _mm512_mask_blend_epi8(
            upper,
            _mm512_permutex2var_epi8(lo[0], idx, lo[1]),
            _mm512_permutex2var_epi8(lo[2], idx, lo[3]),
        );
        let hi_b = _mm512_mask_blend_epi8(
            upper,
            _mm512_permutex2var_epi8(hi[0], idx, hi[1]),
            _mm512_permutex2var_epi8(hi[2], idx, hi[3]),
        );
        let fields = six_bit_fields(packed);
        let lo_b = _mm512_or_si512(lo_b, fields);
        // SAFETY: s < steps: 128 output bytes are in bounds.
        unsafe {
            let o = out.as_mut_ptr().add(s * 128);
            _mm512_storeu_si512(o.cast(), _mm512_permutex2var_epi8(lo_b, il0, hi_b));
            _mm512_storeu_si512(o.add(64).cast(), _mm512_permutex2var_epi8(lo_b, il1, hi_b));
        }
    }
}

/// The AVX-512 VBMI part of `bf16_alias::merge`: 64 values per step, index
/// `symbol + 64 * raw bit` looked up in the 128-entry top table with one
/// byte permute per output byte, the 6-bit fields unpacked as in
/// [`merge_joint`]. Returns how many values it wrote (a multiple of 64).
pub(super) fn merge_alias(
    tops: &[u16; 128],
    symbols: &[u8],
    plane: &[u8],
    low: &[u8],
    out: &mut [u8],
) -> usize {
    let steps = (symbols.len() / 64)
        .min(plane.len() / 8)
        .min(low.len() / 48)
        .min(out.len() / 128);
    if steps == 0 || !has_vbmi() {
        return 0;
    }
    // SAFETY: the CPU has AVX-512 F/BW/VBMI (checked); every slice holds
    // `steps` whole steps (64 symbols, 8 plane bytes, 48 low bytes, 128
    // output bytes).
    unsafe { merge_alias_vbmi(tops, symbols, plane, low, out, steps) };
    steps * 64
}

/// # Safety
/// AVX-512 F/BW/VBMI must be available; `symbols`, `plane`, `low` and
/// `out` must hold at least `steps` times 64, 8, 48 and 128 bytes.
#[target_feature(enable = "avx512f,avx512bw,avx512vbmi")]
unsafe fn merge_alias_vbmi(
    tops: &[u16; 128],
    symbols: &[u8],
    plane: &[u8],
    low: &[u8],
    out: &mut [u8],
    steps: usize,
) {
    let tables = byte_tables(tops);
    let interleave = interleave_indices();
    for s in 0..steps {
        // SAFETY: s < steps: 64 symbols, 8 plane bytes and 48 low bytes are
        // in bounds (the masked load touches only 48 bytes).
        let (sym, bit, packed) = unsafe {
            (
                _mm512_loadu_si512(symbols.as_ptr().add(s * 64).cast()),
                _cvtu64_mask64(plane.as_ptr().add(s * 8).cast::<u64>().read_unaligned()),
                _mm512_maskz_loadu_epi8(0xffff_ffff_ffff, low.as_ptr().add(s * 48).cast()),
            )
        };
        let words = assemble(&tables, &interleave, sym, bit, packed);
        // SAFETY: s < steps: 128 output bytes are in bounds.
        unsafe {
            let o = out.as_mut_ptr().add(s * 128);
            _mm512_storeu_si512(o.cast(), words[0]);
            _mm512_storeu_si512(o.add(64).cast(), words[1]);
        }
    }
}

/// The x86 part of `bf16_alias::pack_raw`: 64 values per step with AVX-512
/// VBMI, then (or without VBMI) 8 per step with BMI2 `pext`, which every
/// AVX-512 CPU runs fast (older AMD cores microcode it). Returns how many
/// values it packed (a multiple of 8: all but the last partial group).
pub(super) fn pack_raw(values: &[u8], bit: u32, plane: &mut [u8], low: &mut [u8]) -> usize {
    let mut done = 0;
    if has_vbmi() && bit < 16 {
        let steps = (values.len() / 128)
            .min(plane.len() / 8)
            .min(low.len() / 48);
        // SAFETY: the CPU has AVX-512 F/BW/VBMI (checked); every slice holds
        // `steps` whole steps (128 value bytes, 8 plane bytes, 48 low bytes).
        unsafe { pack_raw_vbmi(values, bit, plane, low, steps) };
        done = steps * 64;
    }
    if !is_x86_feature_detected!("bmi2") {
        return done;
    }
    let (values, plane, low) = (
        &values[done * 2..],
        &mut plane[done / 8..],
        &mut low[done / 8 * 6..],
    );
    // SAFETY: BMI2 is available (checked).
    done + unsafe { pack_raw_bmi2(values, bit, plane, low) }
}

/// # Safety
/// AVX-512 F/BW/VBMI must be available; `values`, `plane` and `low` must
/// hold at least `steps` times 128, 8 and 48 bytes; `bit < 16`.
#[target_feature(enable = "avx512f,avx512bw,avx512vbmi")]
unsafe fn pack_raw_vbmi(values: &[u8], bit: u32, plane: &mut [u8], low: &mut [u8], steps: usize) {
    let to_top = _mm_cvtsi32_si128(15 - bit as i32);
    let six = _mm512_set1_epi8(0x3f);
    // Pairs of fields to 12 bits, pairs of those to 24 (value i at bit 6i).
    let pair = _mm512_set1_epi16(0x4001);
    let quad = _mm512_set1_epi32(0x1000_0001);
    // Bytes 0..3 of every dword, in order: 48 bytes of bit stream.
    let mut idx = [0u8; 64];
    for (j, v) in idx.iter_mut().take(48).enumerate() {
        *v = (j / 3 * 4 + j % 3) as u8;
    }
    // SAFETY: 64 bytes.
    let squeeze = unsafe { _mm512_loadu_si512(idx.as_ptr().cast()) };
    for s in 0..steps {
        // SAFETY: s < steps: 128 value bytes are in bounds.
        let (v0, v1) = unsafe {
            let p = values.as_ptr().add(s * 128);
            (
                _mm512_loadu_si512(p.cast()),
                _mm512_loadu_si512(p.add(64).cast()),
            )
        };
        let bits = u64::from(_mm512_movepi16_mask(_mm512_sll_epi16(v0, to_top)))
            | u64::from(_mm512_movepi16_mask(_mm512_sll_epi16(v1, to_top))) << 32;
        let fields = _mm512_and_si512(
            _mm512_inserti64x4::<1>(
                _mm512_castsi256_si512(_mm512_cvtepi16_epi8(v0)),
                _mm512_cvtepi16_epi8(v1),
            ),
            six,
        );
        let packed = _mm512_madd_epi16(_mm512_maddubs_epi16(fields, pair), quad);
        // SAFETY: s < steps: 8 plane bytes and 48 low bytes are in bounds
        // (the masked store writes only 48).
        unsafe {
            plane
                .as_mut_ptr()
                .add(s * 8)
                .cast::<u64>()
                .write_unaligned(bits.to_le());
            _mm512_mask_storeu_epi8(
                low.as_mut_ptr().add(s * 48).cast(),
                0xffff_ffff_ffff,
                _mm512_permutexvar_epi8(squeeze, packed),
            );
        }
    }
}

/// # Safety
/// BMI2 must be available.
#[target_feature(enable = "bmi2")]
unsafe fn pack_raw_bmi2(values: &[u8], bit: u32, plane: &mut [u8], low: &mut [u8]) -> usize {
    const SIX: u64 = 0x003f_003f_003f_003f;
    let one = 0x0001_0001_0001_0001u64 << bit;
    let groups = (values.len() / 16).min(plane.len()).min(low.len() / 6);
    for (g, v) in values.chunks_exact(16).take(groups).enumerate() {
        let lo = u64::from_le_bytes(v[..8].try_into().expect("8 bytes"));
        let hi = u64::from_le_bytes(v[8..].try_into().expect("8 bytes"));
        plane[g] = (_pext_u64(lo, one) | (_pext_u64(hi, one) << 4)) as u8;
        let fields = _pext_u64(lo, SIX) | (_pext_u64(hi, SIX) << 24);
        low[g * 6..g * 6 + 6].copy_from_slice(&fields.to_le_bytes()[..6]);
    }
    groups * 8
}

/// The AVX-512 VBMI part of `bf16_alias::symbol_bytes`: 64 values per step, the
/// 9-bit field (`value >> shift`) looked up in the 512-byte table with four
/// 128-byte permutes blended on the field's top two bits. Returns how many
/// values it wrote (a multiple of 64).
pub(super) fn symbol_bytes(
    values: &[u8],
    shift: u32,
    symbol_of_field: &[u8; 512],
    out: &mut [u8],
) -> usize {
    let steps = (values.len() / 128).min(out.len() / 64);
    if steps == 0 || !has_vbmi() || !(6..=7).contains(&shift) {
        return 0;
    }
    // SAFETY: the CPU has AVX-512 F/BW/VBMI (checked); `values` and `out`
    // hold `steps` whole steps (128 and 64 bytes).
    unsafe { symbol_bytes_vbmi(values, shift, symbol_of_field, out, steps) };
    steps * 64
}

/// # Safety
/// AVX-512 F/BW/VBMI must be available; `values` and `out` must hold at
/// least `steps * 128` and `steps * 64` bytes.
#[target_feature(enable = "avx512f,avx512bw,avx512vbmi")]
unsafe fn symbol_bytes_vbmi(
    values: &[u8],
    shift: u32,
    symbol_of_field: &[u8; 512],
    out: &mut [u8],
    steps: usize,
) {
    // SAFETY: 512 bytes: eight 64-byte loads.
    let table: [__m512i; 8] = std::array::from_fn(|q| unsafe {
        _mm512_loadu_si512(symbol_of_field.as_ptr().add(q * 64).cast())
    });
    let count = _mm_cvtsi32_si128(shift as i32);
    let (bit7, bit8) = (_mm512_set1_epi16(0x80), _mm512_set1_epi16(0x100));
    for s in 0..steps {
        // SAFETY: s < steps: 128 value bytes are in bounds.
        let (v0, v1) = unsafe {
            let p = values.as_ptr().add(s * 128);
            (
                _mm512_loadu_si512(p.cast()),
                _mm512_loadu_si512(p.add(64).cast()),
            )
        };
        let (f0, f1) = (_mm512_srl_epi16(v0, count), _mm512_srl_epi16(v1, count));
        // Low byte of each field; the permutes read its low 7 bits.
        let idx = _mm512_inserti64x4::<1>(
            _mm512_castsi256_si512(_mm512_cvtepi16_epi8(f0)),
            _mm512_cvtepi16_epi8(f1),
        );
        let b7 = _mm512_kunpackd(
            _mm512_test_epi16_mask(f1, bit7).into(),
            _mm512_test_epi16_mask(f0, bit7).into(),
        );
        let b8 = _mm512_kunpackd(
            _mm512_test_epi16_mask(f1, bit8).into(),
            _mm512_test_epi16_mask(f0, bit8).into(),
        );
        let quarter = |q: usize| _mm512_permutex2var_epi8(table[2 * q], idx, table[2 * q + 1]);
        let low = _mm512_mask_blend_epi8(b7, quarter(0), quarter(1));
        let high = _mm512_mask_blend_epi8(b7, quarter(2), quarter(3));
        // SAFETY: s < steps: 64 output bytes are in bounds.
        unsafe {
            _mm512_storeu_si512(
                out.as_mut_ptr().add(s * 64).cast(),
                _mm512_mask_blend_epi8(b8, low, high),
            );
        }
    }
}
