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

use super::{Decoder, Kernel, LANES};

mod alias;
mod alias_avx2;
mod decode;
mod encode;
pub mod words;

use alias::{
    alias_kernel_supported, avx512_alias, avx512_alias_escaped, avx512_alias_high_bytes,
    avx512_alias_words,
};
pub(crate) use decode::REFILL_PERMUTATIONS;
use decode::{avx2, avx512};
pub(super) use encode::{encode_groups_avx2, encode_groups_avx512, ENCODE_MIN_BITS};

use crate::table::AliasShape;

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
            match (shared, wide) {
                // SAFETY: (all four) the CPU runs the kernel and every table
                // has the alias tables at 12 bits (checked above), shared
                // when `SHARED` and of the wide shape when `WIDE` (checked
                // here); `groups` whole groups fit in every output; the
                // kernel checks the word window per group.
                (true, true) => unsafe { avx512_alias::<K, true, true>(decs, outs, groups) },
                // SAFETY: as above.
                (true, false) => unsafe { avx512_alias::<K, true, false>(decs, outs, groups) },
                // SAFETY: as above.
                (false, true) => unsafe { avx512_alias::<K, false, true>(decs, outs, groups) },
                // SAFETY: as above.
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

/// The shape of the one alias table both decoders share, with its packed
/// entries at 12 bits (what the fused kernels need); `None` otherwise.
fn shared_alias_shape(decs: &[&mut Decoder<'_>; 2]) -> Option<AliasShape> {
    let [a, b] = decs;
    let shape = a.table.alias.as_ref()?.shape;
    (std::ptr::eq(a.table, b.table) && a.table.prob_bits == 12 && a.table.packed.len() == 1 << 12)
        .then_some(shape)
}

/// [`super::decode_pair_words`] on x86: the fused kernel when the CPU runs
/// it and both decoders share one 12-bit alias table; else nothing.
pub(super) fn decode_pair_words(
    kernel: Kernel,
    decs: [&mut Decoder<'_>; 2],
    sinks: [&mut crate::rans::fused::WordSink<'_>; 2],
) -> usize {
    let Some(shape) = shared_alias_shape(&decs) else {
        return 0;
    };
    let [a, b] = &decs;
    let steps = (a.left / 64)
        .min(b.left / 64)
        .min(sinks[0].steps())
        .min(sinks[1].steps());
    if kernel == Kernel::Avx512 && alias_kernel_supported() {
        return if shape == AliasShape::Wide {
            // SAFETY: the CPU runs the kernel; both decoders share one alias
            // table of the wide shape at 12 bits (checked above); both sinks
            // hold `steps` steps and both decoders 64 * `steps` symbols.
            unsafe { avx512_alias_words::<true>(decs, sinks, steps) }
        } else {
            // SAFETY: as above, of the narrow shape.
            unsafe { avx512_alias_words::<false>(decs, sinks, steps) }
        };
    }
    // AVX2 (and AVX-512 without VBMI): the AVX2 kernel, when both sinks
    // share tops whose raw bit is one XOR.
    let xor = alias_avx2::raw_bit_xor(sinks[0].tops, a.table);
    let Some(xor) = xor.filter(|_| std::ptr::eq(sinks[0].tops, sinks[1].tops)) else {
        return 0;
    };
    if kernel == Kernel::Scalar || !Kernel::Avx2.is_supported() {
        return 0;
    }
    // SAFETY: the CPU runs AVX2 and POPCNT (`Kernel::is_supported`,
    // checked above); both decoders share one alias table with its packed
    // entries at 12 bits (checked above), so every gather index is inside
    // the table; `xor` is the sinks' (shared) raw-bit XOR; both sinks hold
    // `steps` steps and both decoders 64 * `steps` symbols.
    unsafe { alias_avx2::avx2_alias_words(decs, sinks, steps, xor) }
}

/// [`super::fused::decode_pair_escaped`] on x86: the fused AVX-512 kernel
/// when the CPU runs it (VBMI and VBMI2) and both decoders share one 12-bit
/// alias table; else nothing.
pub(super) fn decode_pair_escaped(
    kernel: Kernel,
    decs: [&mut Decoder<'_>; 2],
    sinks: [&mut crate::rans::fused::EscapeSink<'_>; 2],
) -> usize {
    let Some(shape) = shared_alias_shape(&decs) else {
        return 0;
    };
    let [a, b] = &decs;
    if kernel != Kernel::Avx512
        || !alias_kernel_supported()
        || !is_x86_feature_detected!("avx512vl")
        || !is_x86_feature_detected!("avx512vbmi2")
    {
        return 0;
    }
    let steps = (a.left / 64)
        .min(b.left / 64)
        .min(sinks[0].steps())
        .min(sinks[1].steps());
    if shape == AliasShape::Wide {
        // SAFETY: the CPU runs the kernel (VBMI, VL and VBMI2 checked
        // above); both decoders share one alias table of the wide shape at
        // 12 bits (checked above); both sinks hold `steps` steps and both
        // decoders 64 * `steps` symbols.
        unsafe { avx512_alias_escaped::<true>(decs, sinks, steps) }
    } else {
        // SAFETY: as above, of the narrow shape.
        unsafe { avx512_alias_escaped::<false>(decs, sinks, steps) }
    }
}

/// [`super::fused::decode_pair_high_bytes`] on x86: the fused AVX-512
/// kernel (with VBMI) or the AVX2 one when both decoders share one 12-bit
/// alias table; else nothing.
pub(super) fn decode_pair_high_bytes(
    kernel: Kernel,
    decs: [&mut Decoder<'_>; 2],
    sinks: [&mut crate::rans::fused::HighByteSink<'_>; 2],
) -> usize {
    let Some(shape) = shared_alias_shape(&decs) else {
        return 0;
    };
    let [a, b] = &decs;
    let steps = (a.left / 64)
        .min(b.left / 64)
        .min(sinks[0].steps())
        .min(sinks[1].steps());
    if kernel == Kernel::Avx512 && alias_kernel_supported() {
        return if shape == AliasShape::Wide {
            // SAFETY: the CPU runs the kernel (checked above); both
            // decoders share one alias table of the wide shape at 12 bits
            // (checked above); both sinks hold `steps` steps and both
            // decoders 64 * `steps` symbols.
            unsafe { avx512_alias_high_bytes::<true>(decs, sinks, steps) }
        } else {
            // SAFETY: as above, of the narrow shape.
            unsafe { avx512_alias_high_bytes::<false>(decs, sinks, steps) }
        };
    }
    if kernel == Kernel::Scalar || !Kernel::Avx2.is_supported() {
        return 0;
    }
    // SAFETY: the CPU runs AVX2 and POPCNT (`Kernel::is_supported`, checked
    // above); both decoders share one alias table with its packed entries
    // at 12 bits (checked above), so every gather index is inside the
    // table; both sinks hold `steps` steps and both decoders 64 * `steps`
    // symbols.
    unsafe { alias_avx2::avx2_alias_high_bytes(decs, sinks, steps) }
}

/// `[[f(k, 0), f(k, 1)]; K]`: one value per register of `K` payloads.
#[inline(always)]
fn each<T, const K: usize>(mut f: impl FnMut(usize, usize) -> T) -> [[T; 2]; K] {
    std::array::from_fn(|k| [f(k, 0), f(k, 1)])
}
