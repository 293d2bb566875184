//! The fused decoder of high-byte words against decoding the symbols and
//! assembling the words one by one.

use super::*;

#[test]
fn fused_high_byte_decoding_matches_symbols_then_assembly() {
    let mut r = Rng(31337);
    for shape in [AliasShape::Narrow, AliasShape::Wide] {
        let highs: [u8; 64] = std::array::from_fn(|_| r.next() as u8 & !3);
        for (na, nb) in [(64, 64), (100, 130), (4096, 4160), (9000, 9160)] {
            let source = |n: usize, r: &mut Rng| -> Vec<u8> {
                (0..n)
                    .map(|_| {
                        let x = r.next();
                        ((x % shape.buckets() as u64) as u8) / (1 + (x >> 40) as u8 % 3)
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
            let n = na + nb;
            let bits8: Vec<u8> = (0..n.div_ceil(8) + 8).map(|_| r.next() as u8).collect();
            let bits9: Vec<u8> = (0..n.div_ceil(8) + 8).map(|_| r.next() as u8).collect();
            let low: Vec<u8> = (0..n + 64).map(|_| r.next() as u8).collect();
            let word = |i: usize, s: u8| -> [u8; 2] {
                let bit = |p: &[u8]| (p[i / 8] >> (i % 8)) & 1;
                [
                    low[i],
                    highs[usize::from(s)] | bit(&bits8) | (bit(&bits9) << 1),
                ]
            };
            let want: Vec<u8> = a
                .iter()
                .chain(&b)
                .enumerate()
                .flat_map(|(i, &s)| word(i, s))
                .collect();
            for kernel in Kernel::supported() {
                let mut out = vec![0u8; 2 * n];
                let (oa, ob) = out.split_at_mut(2 * na);
                let mut x = Decoder::new(&pa, &dt, na).unwrap();
                let mut y = Decoder::new(&pb, &dt, nb).unwrap();
                let done = decode_pair_high_bytes(
                    &mut x,
                    &mut HighByteSink {
                        highs: &highs,
                        bits8: &bits8,
                        bits9: &bits9,
                        low: &low,
                        out: oa,
                    },
                    &mut y,
                    &mut HighByteSink {
                        highs: &highs,
                        bits8: &bits8[na / 8..],
                        bits9: &bits9[na / 8..],
                        low: &low[na..],
                        out: ob,
                    },
                    kernel,
                );
                assert_eq!(done % 64, 0);
                if kernel != Kernel::Scalar && na >= 4096 {
                    assert!(done + 256 >= na.min(nb), "{kernel:?} did {done}");
                }
                let (mut sa, mut sb) = (vec![0u8; na - done], vec![0u8; nb - done]);
                decode_pair(&mut x, &mut sa, &mut y, &mut sb, kernel).unwrap();
                x.finish().unwrap();
                y.finish().unwrap();
                for (j, &s) in sa.iter().enumerate() {
                    out[2 * (done + j)..2 * (done + j) + 2].copy_from_slice(&word(done + j, s));
                }
                for (j, &s) in sb.iter().enumerate() {
                    let i = na + done + j;
                    out[2 * i..2 * i + 2].copy_from_slice(&word(i, s));
                }
                assert!(out == want, "{shape:?} {na}+{nb} {kernel:?}");
            }
        }
    }
}
