//! The last step of decoding a word delta: every new word from its delta
//! word (high and low byte planes) and its base word.
//!
//! One portable loop, in blocks of words the compiler turns into vector
//! code; on x86-64 the same loop is also compiled for AVX2 and AVX-512BW
//! and picked at run time by [`Kernel`] (baseline x86-64 has only SSE2,
//! whose byte interleaving the compiler does word by word: 5–7× slower).

use weightzip_entropy::Kernel;

use super::{ordered, unordered, unzigzag};

/// Words per block of the vectorised loop.
const L: usize = 64;

/// Writes the new word of every delta word `hi[i] << 8 | lo[i]` and base
/// word (`SUB`: the exponent-aware difference, else xor) to `out`, as many
/// words as all four slices hold, with `kernel`'s instructions (any kernel
/// gives the same bytes).
pub(super) fn combine<const SUB: bool>(
    out: &mut [u8],
    base: &[u8],
    hi: &[u8],
    lo: &[u8],
    kernel: Kernel,
) {
    #[cfg(target_arch = "x86_64")]
    match kernel {
        Kernel::Avx512 if std::arch::is_x86_feature_detected!("avx512bw") => {
            // SAFETY: the CPU runs AVX-512BW (checked here); the body is
            // safe code.
            return unsafe { combine_avx512::<SUB>(out, base, hi, lo) };
        }
        Kernel::Avx2 | Kernel::Avx512 if std::arch::is_x86_feature_detected!("avx2") => {
            // SAFETY: the CPU runs AVX2 (checked here); the body is safe
            // code.
            return unsafe { combine_avx2::<SUB>(out, base, hi, lo) };
        }
        _ => {}
    }
    let _ = kernel;
    combine_words::<SUB>(out, base, hi, lo)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn combine_avx2<const SUB: bool>(out: &mut [u8], base: &[u8], hi: &[u8], lo: &[u8]) {
    combine_words::<SUB>(out, base, hi, lo)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw,avx2")]
unsafe fn combine_avx512<const SUB: bool>(out: &mut [u8], base: &[u8], hi: &[u8], lo: &[u8]) {
    combine_words::<SUB>(out, base, hi, lo)
}

#[inline(always)]
fn word_of<const SUB: bool>(d: u16, b: u16) -> u16 {
    if SUB {
        unordered(ordered(b).wrapping_add(unzigzag(d) as u16))
    } else {
        d ^ b
    }
}

#[inline(always)]
fn combine_words<const SUB: bool>(out: &mut [u8], base: &[u8], hi: &[u8], lo: &[u8]) {
    let n = hi
        .len()
        .min(lo.len())
        .min(out.len() / 2)
        .min(base.len() / 2);
    let blocks = n / L;
    let (out_blocks, out_rest) = out[..2 * n].split_at_mut(2 * L * blocks);
    let (base_blocks, base_rest) = base[..2 * n].split_at(2 * L * blocks);
    let (hi_blocks, hi_rest) = hi[..n].split_at(L * blocks);
    let (lo_blocks, lo_rest) = lo[..n].split_at(L * blocks);
    let groups = out_blocks
        .chunks_exact_mut(2 * L)
        .zip(base_blocks.chunks_exact(2 * L))
        .zip(hi_blocks.chunks_exact(L).zip(lo_blocks.chunks_exact(L)));
    for ((o, b), (h, l)) in groups {
        let mut w = [0u16; L];
        for i in 0..L {
            let d = (u16::from(h[i]) << 8) | u16::from(l[i]);
            w[i] = word_of::<SUB>(d, u16::from_le_bytes([b[2 * i], b[2 * i + 1]]));
        }
        for i in 0..L {
            o[2 * i..2 * i + 2].copy_from_slice(&w[i].to_le_bytes());
        }
    }
    let rest = out_rest
        .chunks_exact_mut(2)
        .zip(base_rest.chunks_exact(2))
        .zip(hi_rest.iter().zip(lo_rest));
    for ((o, b), (&h, &l)) in rest {
        let d = (u16::from(h) << 8) | u16::from(l);
        o.copy_from_slice(&word_of::<SUB>(d, u16::from_le_bytes([b[0], b[1]])).to_le_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every kernel this CPU runs gives the words of a one-word-at-a-time
    /// loop, for lengths around the block size.
    #[test]
    fn every_kernel_combines_like_a_word_loop() {
        for n in [0usize, 1, 63, 64, 65, 1000, 4097] {
            let word = |i: usize, k: u32| ((i as u32).wrapping_mul(k) >> 7) as u16;
            let hi: Vec<u8> = (0..n).map(|i| (word(i, 2654435761) >> 8) as u8).collect();
            let lo: Vec<u8> = (0..n).map(|i| word(i, 40503) as u8).collect();
            let base: Vec<u8> = (0..n)
                .flat_map(|i| word(i, 2246822519).to_le_bytes())
                .collect();
            for kernel in Kernel::supported() {
                for sub in [false, true] {
                    let mut out = vec![0u8; 2 * n];
                    if sub {
                        combine::<true>(&mut out, &base, &hi, &lo, kernel);
                    } else {
                        combine::<false>(&mut out, &base, &hi, &lo, kernel);
                    }
                    for i in 0..n {
                        let d = (u16::from(hi[i]) << 8) | u16::from(lo[i]);
                        let b = u16::from_le_bytes([base[2 * i], base[2 * i + 1]]);
                        let w = if sub {
                            unordered(ordered(b).wrapping_add(unzigzag(d) as u16))
                        } else {
                            d ^ b
                        };
                        let got = u16::from_le_bytes([out[2 * i], out[2 * i + 1]]);
                        assert_eq!(got, w, "{kernel:?} sub {sub} n {n} word {i}");
                    }
                }
            }
        }
    }
}
