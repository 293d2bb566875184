//! The fused decoder of escape-coded deltas against decoding the symbols
//! and combining them word by word.

use super::*;

fn ordered(w: u16) -> u16 {
    w ^ ((((w as i16) >> 15) as u16) | 0x8000)
}

fn unordered(o: u16) -> u16 {
    o ^ ((!(((o as i16) >> 15) as u16)) | 0x8000)
}

fn unzigzag(z: u16) -> u16 {
    (z >> 1) ^ (z & 1).wrapping_neg()
}

/// Reference: every value's delta word (its symbol, or the next escaped
/// word, shifted over its raw low bits) applied to its base word; returns
/// the escaped words taken.
fn combine(
    words: &mut [u8],
    symbols: &[u8],
    escape: u8,
    (hi, lo): (&[u8], &[u8]),
    raw: &[Vec<u8>],
    from: usize,
) -> usize {
    let mut j = 0;
    for (i, (w, &s)) in words.chunks_exact_mut(2).zip(symbols).enumerate() {
        let v = if s == escape {
            j += 1;
            (u16::from(hi[j - 1]) << 8) | u16::from(lo[j - 1])
        } else {
            u16::from(s)
        };
        let at = from + i;
        let z = raw.iter().enumerate().fold(v << raw.len(), |z, (k, p)| {
            z | (u16::from(p[at / 8] >> (at % 8) & 1) << k)
        });
        let b = u16::from_le_bytes([w[0], w[1]]);
        w.copy_from_slice(&unordered(ordered(b).wrapping_add(unzigzag(z))).to_le_bytes());
    }
    j
}

#[test]
fn fused_escape_decoding_matches_symbols_then_combining() {
    let mut r = Rng(977);
    for (shape, shift) in [
        (AliasShape::Narrow, 0),
        (AliasShape::Wide, 0),
        (AliasShape::Narrow, 3),
        (AliasShape::Wide, 1),
        (AliasShape::Wide, 4),
    ] {
        let escape = (shape.buckets() - 1) as u8;
        for (na, nb) in [(64, 64), (100, 130), (4096, 4160), (9000, 9160)] {
            // Skewed small symbols with a share of escapes, as deltas are.
            let source = |n: usize, r: &mut Rng| -> Vec<u8> {
                (0..n)
                    .map(|_| {
                        let x = r.next();
                        if x.is_multiple_of(7) {
                            escape
                        } else {
                            ((x >> 8) % u64::from(escape)) as u8 / (1 + (x >> 40) as u8 % 4)
                        }
                    })
                    .collect()
            };
            let (a, b) = (source(na, &mut r), source(nb, &mut r));
            let t =
                FreqTable::from_counts(&histogram(&[a.clone(), b.clone()].concat()), 12).unwrap();
            assert!(shape.fits(&t));
            let et = EncodeTable::alias(&t, shape).unwrap();
            let dt = DecodeTable::alias(&t, shape).unwrap();
            let (mut pa, mut pb) = (Vec::new(), Vec::new());
            encode(&a, &et, &mut pa).unwrap();
            encode(&b, &et, &mut pb).unwrap();
            let [ea, eb] = [&a, &b].map(|s| s.iter().filter(|&&c| c == escape).count());
            let hi: Vec<u8> = (0..ea + eb + 32).map(|_| r.next() as u8).collect();
            let lo: Vec<u8> = (0..ea + eb + 32).map(|_| r.next() as u8).collect();
            let base: Vec<u8> = (0..2 * (na + nb)).map(|_| r.next() as u8).collect();
            // Each half's raw-bit planes apart.
            let planes = |n: usize, r: &mut Rng| -> Vec<Vec<u8>> {
                (0..shift)
                    .map(|_| (0..n.div_ceil(8)).map(|_| r.next() as u8).collect())
                    .collect()
            };
            let (raw_a, raw_b) = (planes(na, &mut r), planes(nb, &mut r));
            let mut want = base.clone();
            let (wa, wb) = want.split_at_mut(2 * na);
            assert_eq!(combine(wa, &a, escape, (&hi, &lo), &raw_a, 0), ea);
            assert_eq!(
                combine(wb, &b, escape, (&hi[ea..], &lo[ea..]), &raw_b, 0),
                eb
            );
            let raw_a: Vec<&[u8]> = raw_a.iter().map(Vec::as_slice).collect();
            let raw_b: Vec<&[u8]> = raw_b.iter().map(Vec::as_slice).collect();
            for (kernel, apart) in Kernel::supported()
                .into_iter()
                .flat_map(|k| [(k, false), (k, true)])
            {
                // In place (the base in the words), or the base apart.
                let mut words = if apart {
                    vec![0u8; base.len()]
                } else {
                    base.clone()
                };
                let (oa, ob) = words.split_at_mut(2 * na);
                let (ba, bb) = base.split_at(2 * na);
                let mut x = Decoder::new(&pa, &dt, na).unwrap();
                let mut y = Decoder::new(&pb, &dt, nb).unwrap();
                let mut sink_a = EscapeSink {
                    words: oa,
                    base: apart.then_some(ba),
                    escape,
                    hi: &hi,
                    lo: &lo,
                    used: 0,
                    raw_bits: &raw_a,
                };
                let mut sink_b = EscapeSink {
                    words: ob,
                    base: apart.then_some(bb),
                    escape,
                    hi: &hi[ea..],
                    lo: &lo[ea..],
                    used: 0,
                    raw_bits: &raw_b,
                };
                let done = decode_pair_escaped(&mut x, &mut sink_a, &mut y, &mut sink_b, kernel);
                assert_eq!(done % 64, 0);
                if kernel == Kernel::Avx512 && escape_kernel_runs() && na >= 4096 {
                    assert!(done + 512 >= na.min(nb), "{kernel:?} did {done}");
                }
                // The rest: symbols, then the reference combine in place.
                let (ua, ub) = (sink_a.used, sink_b.used);
                let (oa, ob) = (sink_a.words, sink_b.words);
                oa[2 * done..].copy_from_slice(&ba[2 * done..]);
                ob[2 * done..].copy_from_slice(&bb[2 * done..]);
                let (mut sa, mut sb) = (vec![0u8; na - done], vec![0u8; nb - done]);
                decode_pair(&mut x, &mut sa, &mut y, &mut sb, kernel).unwrap();
                x.finish().unwrap();
                y.finish().unwrap();
                let rest_a = combine(
                    &mut oa[2 * done..],
                    &sa,
                    escape,
                    (&hi[ua..], &lo[ua..]),
                    &planes_of(&raw_a),
                    done,
                );
                let rest_b = combine(
                    &mut ob[2 * done..],
                    &sb,
                    escape,
                    (&hi[ea + ub..], &lo[ea + ub..]),
                    &planes_of(&raw_b),
                    done,
                );
                assert_eq!((ua + rest_a, ub + rest_b), (ea, eb));
                assert!(
                    words == want,
                    "{shape:?} {shift} raw bits, {na}+{nb} {kernel:?} apart {apart}"
                );
            }
        }
    }
}

fn planes_of(raw: &[&[u8]]) -> Vec<Vec<u8>> {
    raw.iter().map(|p| p.to_vec()).collect()
}

/// Whether this CPU runs the fused AVX-512 escape kernel.
fn escape_kernel_runs() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        Kernel::Avx512.is_supported()
            && std::arch::is_x86_feature_detected!("avx512vbmi")
            && std::arch::is_x86_feature_detected!("avx512vl")
            && std::arch::is_x86_feature_detected!("avx512vbmi2")
    }
    #[cfg(not(target_arch = "x86_64"))]
    false
}
