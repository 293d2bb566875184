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
pub(super) fn combine<const SUB: bool>(words: &mut [u8], hi: &[u8], lo: &[u8], kernel: Kernel) {
    #[cfg(target_arch = "x86_64")]
    match kernel {
        Kernel::Avx512 if std::arch::is_x86_feature_detected!("avx512bw") => {
            // SAFETY: the CPU runs AVX-512BW (checked here); the body is
            // safe code.
            return unsafe { combine_avx512::<SUB>(words, hi, lo) };
        }
        Kernel::Avx2 | Kernel::Avx512 if std::arch::is_x86_feature_detected!("avx2") => {
            // SAFETY: the CPU runs AVX2 (checked here); the body is safe
            // code.
            return unsafe { combine_avx2::<SUB>(words, hi, lo) };
        }
        _ => {}
    }
    let _ = kernel;
    combine_words::<SUB>(words, hi, lo)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn combine_avx2<const SUB: bool>(words: &mut [u8], hi: &[u8], lo: &[u8]) {
    combine_words::<SUB>(words, hi, lo)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw,avx2")]
unsafe fn combine_avx512<const SUB: bool>(words: &mut [u8], hi: &[u8], lo: &[u8]) {
    combine_words::<SUB>(words, hi, lo)
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
fn combine_words<const SUB: bool>(words: &mut [u8], hi: &[u8], lo: &[u8]) {
    let n = hi.len().min(lo.len()).min(words.len() / 2);
    let blocks = n / L;
    let (word_blocks, word_rest) = words[..2 * n].split_at_mut(2 * L * blocks);
    let (hi_blocks, hi_rest) = hi[..n].split_at(L * blocks);
    let (lo_blocks, lo_rest) = lo[..n].split_at(L * blocks);
    let groups = word_blocks
        .chunks_exact_mut(2 * L)
        .zip(hi_blocks.chunks_exact(L).zip(lo_blocks.chunks_exact(L)));
    for (o, (h, l)) in groups {
        let mut w = [0u16; L];
        for i in 0..L {
            let d = (u16::from(h[i]) << 8) | u16::from(l[i]);
            w[i] = word_of::<SUB>(d, u16::from_le_bytes([o[2 * i], o[2 * i + 1]]));
        }
        for i in 0..L {
            o[2 * i..2 * i + 2].copy_from_slice(&w[i].to_le_bytes());
        }
    }
    let rest = word_rest
        .chunks_exact_mut(2)
        .zip(hi_rest.iter().zip(lo_rest));
    for (o, (&h, &l)) in rest {
        let d = (u16::from(h) << 8) | u16::from(l);
        let w = word_of::<SUB>(d, u16::from_le_bytes([o[0], o[1]]));
        o.copy_from_slice(&w.to_le_bytes());
    }
}

/// Writes the new word of every escape-coded delta word (a symbol below
/// `escape` is the delta word; `escape` takes the next escaped word, its
/// high byte from `hi` and low byte from `lo`, in order) and base word to
/// `words`: in place of the base word, or from `base` when given; as many
/// words as `symbols`, `words` (and `base`) hold.
/// With raw-bit planes, each delta word is that value shifted over its
/// raw low bits (plane `k` holds bit `k` of word `i` at bit `i % 8` of
/// byte `i / 8`), and as many words as the planes hold are done.
/// Returns the number of escapes seen; escapes past the end of `hi` / `lo`
/// read 0 (the caller refuses a count other than the escaped words it
/// has). Give `hi` and `lo` 32 bytes more than the escaped words: the SIMD
/// code reads them 32 at a time.
pub(super) fn combine_escaped(
    words: &mut [u8],
    base: Option<&[u8]>,
    symbols: &[u8],
    escape: u8,
    (hi, lo): (&[u8], &[u8]),
    raw_bits: &[&[u8]],
    kernel: Kernel,
) -> usize {
    #[cfg_attr(not(target_arch = "x86_64"), allow(unused_mut))]
    let mut done = (0, 0);
    #[cfg(target_arch = "x86_64")]
    match kernel {
        Kernel::Avx512
            if raw_bits.is_empty()
                && std::arch::is_x86_feature_detected!("avx512bw")
                && std::arch::is_x86_feature_detected!("avx512vl")
                && std::arch::is_x86_feature_detected!("avx512vbmi2") =>
        {
            // SAFETY: the CPU runs AVX-512BW/VL and VBMI2 (checked here).
            done = unsafe { x86::escaped_vbmi2(words, base, symbols, escape, hi, lo) };
        }
        Kernel::Avx2 | Kernel::Avx512 if std::arch::is_x86_feature_detected!("avx2") => {
            // SAFETY: the CPU runs AVX2 (checked here); the body is safe
            // code.
            return unsafe { escaped_avx2(words, base, symbols, escape, hi, lo, raw_bits) };
        }
        _ => {}
    }
    let _ = kernel;
    escaped_words(words, base, symbols, escape, (hi, lo), raw_bits, done)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn escaped_avx2(
    words: &mut [u8],
    base: Option<&[u8]>,
    symbols: &[u8],
    escape: u8,
    hi: &[u8],
    lo: &[u8],
    raw_bits: &[&[u8]],
) -> usize {
    escaped_words(words, base, symbols, escape, (hi, lo), raw_bits, (0, 0))
}

/// [`combine_escaped`] from word `from.0` on, the next escaped word being
/// number `from.1`.
#[inline(always)]
fn escaped_words(
    words: &mut [u8],
    base: Option<&[u8]>,
    symbols: &[u8],
    escape: u8,
    (hi, lo): (&[u8], &[u8]),
    raw_bits: &[&[u8]],
    from: (usize, usize),
) -> usize {
    let n = symbols
        .len()
        .min(words.len() / 2)
        .min(base.map_or(usize::MAX, |b| b.len() / 2))
        .min(
            raw_bits
                .iter()
                .map(|p| p.len() * 8)
                .min()
                .unwrap_or(usize::MAX),
        );
    let (mut i, mut j) = from;
    let mut z = [0u16; L];
    while i < n {
        let len = L.min(n - i);
        let s = &symbols[i..i + len];
        // The escape is the largest symbol: a block below it has none.
        if s.iter().fold(0u8, |m, &c| m.max(c)) < escape {
            for (zi, &c) in z.iter_mut().zip(s) {
                *zi = u16::from(c);
            }
        } else {
            for (zi, &c) in z.iter_mut().zip(s) {
                let is = c == escape;
                let h = hi.get(j).copied().unwrap_or(0);
                let l = lo.get(j).copied().unwrap_or(0);
                *zi = if is {
                    (u16::from(h) << 8) | u16::from(l)
                } else {
                    u16::from(c)
                };
                j += usize::from(is);
            }
        }
        if !raw_bits.is_empty() {
            let shift = raw_bits.len() as u32;
            for (at, zi) in (i..).zip(&mut z[..len]) {
                let raw = (0..).zip(raw_bits).fold(0u16, |raw, (k, p)| {
                    raw | (u16::from((p[at / 8] >> (at % 8)) & 1) << k)
                });
                *zi = zi.checked_shl(shift).unwrap_or(0) | raw;
            }
        }
        let o = &mut words[2 * i..2 * (i + len)];
        match base {
            Some(b) => {
                let b = &b[2 * i..2 * (i + len)];
                for ((o, b), &zi) in o.chunks_exact_mut(2).zip(b.chunks_exact(2)).zip(&z) {
                    let w = word_of::<true>(zi, u16::from_le_bytes([b[0], b[1]]));
                    o.copy_from_slice(&w.to_le_bytes());
                }
            }
            None => {
                for (o, &zi) in o.chunks_exact_mut(2).zip(&z) {
                    let w = word_of::<true>(zi, u16::from_le_bytes([o[0], o[1]]));
                    o.copy_from_slice(&w.to_le_bytes());
                }
            }
        }
        i += len;
    }
    j
}

/// Replaces every byte `b` of `bytes` by `table[b & 63]`.
pub(super) fn map_bytes(bytes: &mut [u8], table: &[u8; 64], kernel: Kernel) {
    #[cfg_attr(not(target_arch = "x86_64"), allow(unused_mut))]
    let mut done = 0;
    #[cfg(target_arch = "x86_64")]
    if kernel == Kernel::Avx512
        && std::arch::is_x86_feature_detected!("avx512bw")
        && std::arch::is_x86_feature_detected!("avx512vbmi")
    {
        // SAFETY: the CPU runs AVX-512BW and VBMI (checked here).
        done = unsafe { x86::map_bytes_vbmi(bytes, table) };
    }
    let _ = kernel;
    for b in &mut bytes[done..] {
        *b = table[usize::from(*b & 63)];
    }
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use std::arch::x86_64::*;

    /// [`super::map_bytes`] 64 bytes per step with one byte permute;
    /// returns the bytes done (a multiple of 64).
    ///
    /// # Safety
    /// The CPU must run AVX-512F/BW and VBMI.
    #[target_feature(enable = "avx512f,avx512bw,avx512vbmi")]
    pub(super) unsafe fn map_bytes_vbmi(bytes: &mut [u8], table: &[u8; 64]) -> usize {
        // SAFETY: 64 bytes.
        let t = unsafe { _mm512_loadu_si512(table.as_ptr().cast()) };
        let mut i = 0;
        while i + 64 <= bytes.len() {
            // SAFETY: i + 64 <= bytes.len(): 64 bytes, read then written.
            unsafe {
                let at = bytes.as_mut_ptr().add(i);
                let v = _mm512_loadu_si512(at.cast());
                // The permute reads the low 6 bits of each index byte.
                _mm512_storeu_si512(at.cast(), _mm512_permutexvar_epi8(v, t));
            }
            i += 64;
        }
        i
    }

    /// The escape combine 32 words per step: the next 32 escaped words
    /// assembled from their bytes and moved into the escaped lanes by one
    /// expand. Returns the words done and the escapes seen (the rest is
    /// left to portable code).
    ///
    /// # Safety
    /// The CPU must run AVX-512F/BW/VL and VBMI2.
    #[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vbmi2")]
    pub(super) unsafe fn escaped_vbmi2(
        words: &mut [u8],
        base: Option<&[u8]>,
        symbols: &[u8],
        escape: u8,
        hi: &[u8],
        lo: &[u8],
    ) -> (usize, usize) {
        let n = symbols
            .len()
            .min(words.len() / 2)
            .min(base.map_or(usize::MAX, |b| b.len() / 2));
        let src = base.map_or(words.as_ptr(), <[u8]>::as_ptr);
        let esc = _mm256_set1_epi8(escape as i8);
        let top = _mm512_set1_epi16(0x8000u16 as i16);
        let one = _mm512_set1_epi16(1);
        let zero = _mm512_setzero_si512();
        let ones = _mm512_set1_epi16(-1);
        let planes = hi.len().min(lo.len());
        let (mut i, mut j) = (0, 0);
        while i + 32 <= n && j + 32 <= planes {
            // SAFETY: i + 32 <= n <= symbols.len(): 32 bytes.
            let s8 = unsafe { _mm256_loadu_si256(symbols.as_ptr().add(i).cast()) };
            let mask = _mm256_cmpeq_epi8_mask(s8, esc);
            // SAFETY: j + 32 <= hi.len(), lo.len() (loop condition).
            let (h, l) = unsafe {
                (
                    _mm256_loadu_si256(hi.as_ptr().add(j).cast()),
                    _mm256_loadu_si256(lo.as_ptr().add(j).cast()),
                )
            };
            let next = _mm512_or_si512(
                _mm512_slli_epi16::<8>(_mm512_cvtepu8_epi16(h)),
                _mm512_cvtepu8_epi16(l),
            );
            let z = _mm512_mask_expand_epi16(_mm512_cvtepu8_epi16(s8), mask, next);
            j += mask.count_ones() as usize;
            // SAFETY: 2 * (i + 32) <= 2n <= the length of `words` and of
            // `base` (when given): 64 bytes.
            let b = unsafe { _mm512_loadu_si512(src.add(2 * i).cast()) };
            // ordered(b) = b ^ (sign fill | 0x8000)
            let ob = _mm512_xor_si512(b, _mm512_or_si512(_mm512_srai_epi16::<15>(b), top));
            // unzigzag(z) = (z >> 1) ^ -(z & 1)
            let d = _mm512_xor_si512(
                _mm512_srli_epi16::<1>(z),
                _mm512_sub_epi16(zero, _mm512_and_si512(z, one)),
            );
            let o = _mm512_add_epi16(ob, d);
            // unordered(o) = o ^ (!sign fill | 0x8000)
            let fill = _mm512_andnot_si512(_mm512_srai_epi16::<15>(o), ones);
            let w = _mm512_xor_si512(o, _mm512_or_si512(fill, top));
            // SAFETY: 2 * (i + 32) <= words.len(): 64 bytes.
            unsafe { _mm512_storeu_si512(words.as_mut_ptr().add(2 * i).cast(), w) };
            i += 32;
        }
        (i, j)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn word(i: usize, k: u32) -> u16 {
        ((i as u32).wrapping_mul(k) >> 7) as u16
    }

    fn sub(z: u16, b: u16) -> u16 {
        unordered(ordered(b).wrapping_add(unzigzag(z) as u16))
    }

    /// Every kernel this CPU runs gives the words of a one-word-at-a-time
    /// loop, for lengths around the block sizes.
    #[test]
    fn every_kernel_combines_like_a_word_loop() {
        for n in [0usize, 1, 31, 32, 63, 64, 65, 1000, 4097] {
            let hi: Vec<u8> = (0..n).map(|i| (word(i, 2654435761) >> 8) as u8).collect();
            let lo: Vec<u8> = (0..n).map(|i| word(i, 40503) as u8).collect();
            let base: Vec<u8> = (0..n)
                .flat_map(|i| word(i, 2246822519).to_le_bytes())
                .collect();
            for kernel in Kernel::supported() {
                for is_sub in [false, true] {
                    let mut out = base.clone();
                    if is_sub {
                        combine::<true>(&mut out, &hi, &lo, kernel);
                    } else {
                        combine::<false>(&mut out, &hi, &lo, kernel);
                    }
                    for i in 0..n {
                        let d = (u16::from(hi[i]) << 8) | u16::from(lo[i]);
                        let b = u16::from_le_bytes([base[2 * i], base[2 * i + 1]]);
                        let w = if is_sub { sub(d, b) } else { d ^ b };
                        let got = u16::from_le_bytes([out[2 * i], out[2 * i + 1]]);
                        assert_eq!(got, w, "{kernel:?} sub {is_sub} n {n} word {i}");
                    }
                }
            }
        }
    }

    #[test]
    fn every_kernel_maps_bytes_like_a_lookup() {
        let table: [u8; 64] = std::array::from_fn(|i| (i as u8).wrapping_mul(37) ^ 0x5a);
        for n in [0usize, 1, 63, 64, 65, 1000] {
            let bytes: Vec<u8> = (0..n).map(|i| word(i, 2654435761) as u8).collect();
            for kernel in Kernel::supported() {
                let mut got = bytes.clone();
                map_bytes(&mut got, &table, kernel);
                let want: Vec<u8> = bytes.iter().map(|&b| table[usize::from(b & 63)]).collect();
                assert_eq!(got, want, "{kernel:?} n {n}");
            }
        }
    }

    /// Every kernel combines escape-coded words like a loop that takes the
    /// escaped words in order, with few and with many escapes, and counts
    /// the escapes also when the escaped words run out.
    #[test]
    fn every_kernel_combines_escapes_like_a_word_loop() {
        for (n, every) in [
            (0usize, 3usize),
            (1, 1),
            (33, 2),
            (100, 7),
            (4097, 3),
            (5000, 50),
        ] {
            let escape = 31u8;
            let symbols: Vec<u8> = (0..n)
                .map(|i| {
                    if i % every == 0 {
                        escape
                    } else {
                        (word(i, 40503) % 31) as u8
                    }
                })
                .collect();
            let e = symbols.iter().filter(|&&s| s == escape).count();
            let escaped: Vec<u16> = (0..e).map(|j| word(j, 2654435761) | 0x1f).collect();
            let mut hi: Vec<u8> = escaped.iter().map(|&w| (w >> 8) as u8).collect();
            let mut lo: Vec<u8> = escaped.iter().map(|&w| w as u8).collect();
            hi.resize(e + 32, 0);
            lo.resize(e + 32, 0);
            let base: Vec<u8> = (0..n)
                .flat_map(|i| word(i, 2246822519).to_le_bytes())
                .collect();
            for shift in [0, 2] {
                // Raw low bits: plane k of word i is bit k of word(i, 97).
                let planes: Vec<Vec<u8>> = (0..shift)
                    .map(|k| {
                        (0..n.div_ceil(8))
                            .map(|b| {
                                (0..8)
                                    .filter(|t| 8 * b + t < n && word(8 * b + t, 97) >> k & 1 == 1)
                                    .fold(0u8, |m, t| m | 1 << t)
                            })
                            .collect()
                    })
                    .collect();
                let raw: Vec<&[u8]> = planes.iter().map(Vec::as_slice).collect();
                let mut want = base.clone();
                let mut j = 0;
                for i in 0..n {
                    let v = if symbols[i] == escape {
                        j += 1;
                        escaped[j - 1]
                    } else {
                        u16::from(symbols[i])
                    };
                    let z = (v << shift) | (word(i, 97) & ((1 << shift) - 1));
                    let b = u16::from_le_bytes([base[2 * i], base[2 * i + 1]]);
                    want[2 * i..2 * i + 2].copy_from_slice(&sub(z, b).to_le_bytes());
                }
                for kernel in Kernel::supported() {
                    let mut out = base.clone();
                    let seen =
                        combine_escaped(&mut out, None, &symbols, escape, (&hi, &lo), &raw, kernel);
                    assert_eq!(seen, e, "{kernel:?} n {n}");
                    assert!(out == want, "{kernel:?} n {n} every {every} shift {shift}");
                    // The base apart: the same words.
                    let mut apart = vec![0u8; base.len()];
                    let seen = combine_escaped(
                        &mut apart,
                        Some(&base),
                        &symbols,
                        escape,
                        (&hi, &lo),
                        &raw,
                        kernel,
                    );
                    assert_eq!(seen, e, "{kernel:?} n {n} apart");
                    assert!(apart == want, "{kernel:?} n {n} every {every} apart");
                    // Too few escaped words: still counted, never out of bounds.
                    let mut out = base.clone();
                    let short = e / 2;
                    let seen = combine_escaped(
                        &mut out,
                        None,
                        &symbols,
                        escape,
                        (&hi[..short], &lo[..short]),
                        &raw,
                        kernel,
                    );
                    assert_eq!(seen, e, "{kernel:?} n {n} short");
                }
            }
        }
    }
}
