//! Block-by-block decoding, pairs, keyed encoding and corrupt input.

use super::*;

#[test]
fn block_by_block_and_pairs_match_whole_decodes() {
    let a = random_source(5000, 1);
    let b = skewed(5000, 2);
    let ta = FreqTable::from_counts(&histogram(&a), 12).unwrap();
    let tb = FreqTable::from_counts(&histogram(&b), 11).unwrap();
    let (da, db) = (DecodeTable::new(&ta), DecodeTable::new(&tb));
    let (mut pa, mut pb) = (Vec::new(), Vec::new());
    encode(&a, &EncodeTable::new(&ta), &mut pa).unwrap();
    encode(&b, &EncodeTable::new(&tb), &mut pb).unwrap();
    for k in Kernel::supported() {
        for block in [32usize, 64, 96, 2048] {
            let mut da_ = Decoder::new(&pa, &da, a.len()).unwrap();
            let mut db_ = Decoder::new(&pb, &db, b.len()).unwrap();
            let (mut oa, mut ob) = (vec![0u8; a.len()], vec![0u8; b.len()]);
            for (ca, cb) in oa.chunks_mut(block).zip(ob.chunks_mut(block)) {
                decode_pair(&mut da_, ca, &mut db_, cb, k).unwrap();
            }
            da_.finish().unwrap();
            db_.finish().unwrap();
            assert_eq!((oa, ob), (a.clone(), b.clone()), "{k:?} block {block}");
        }
        // Three payloads of different lengths in lock step.
        let mut d1 = Decoder::new(&pa, &da, a.len()).unwrap();
        let mut d2 = Decoder::new(&pb, &db, b.len()).unwrap();
        let mut d3 = Decoder::new(&pa, &da, a.len()).unwrap();
        let (mut o1, mut o2, mut o3) = (vec![0u8; a.len()], vec![0u8; b.len()], vec![0u8; a.len()]);
        let (h1, t1) = o1.split_at_mut(4096);
        let (h2, t2) = o2.split_at_mut(1024);
        let (h3, t3) = o3.split_at_mut(2048);
        decode_many([&mut d1, &mut d2, &mut d3], [h1, h2, h3], k).unwrap();
        decode_many([&mut d1, &mut d2, &mut d3], [t1, t2, t3], k).unwrap();
        for d in [d1, d2, d3] {
            d.finish().unwrap();
        }
        assert_eq!((&o1, &o2, &o3), (&a, &b, &a), "{k:?} many");
        let mut d = Decoder::new(&pa, &da, a.len()).unwrap();
        assert!(d.decode_with(&mut [0u8; 33], k).is_err());
    }
}

#[test]
fn pair_encoding_matches_single_encodes() {
    for (na, nb, bits_a, bits_b) in [
        (0usize, 0usize, 12u32, 12u32),
        (5, 0, 12, 12),
        (1000, 1000, 12, 11),
        (4096, 33, 10, 15),
        (31, 5000, 9, 12),
        (6400, 6431, 12, 12),
    ] {
        let a = random_source(na, na as u64 + 7);
        let b = skewed(nb, nb as u64 + 9);
        let ta =
            FreqTable::from_counts(&histogram(&[a.as_slice(), &[3]].concat()), bits_a).unwrap();
        let tb =
            FreqTable::from_counts(&histogram(&[b.as_slice(), &[3]].concat()), bits_b).unwrap();
        let (ea, eb) = (EncodeTable::new(&ta), EncodeTable::new(&tb));
        let (mut sa, mut sb) = (Vec::new(), Vec::new());
        encode(&a, &ea, &mut sa).unwrap();
        encode(&b, &eb, &mut sb).unwrap();
        for k in Kernel::supported() {
            let (pa, pb) = encode_pair(&a, &ea, &b, &eb, k, |pa, pb| {
                let (mut va, mut vb) = (Vec::new(), Vec::new());
                pa.write_to(&mut va);
                pb.write_to(&mut vb);
                assert_eq!((pa.len(), pb.len()), (va.len(), vb.len()));
                (va, vb)
            })
            .unwrap();
            assert_eq!(pa, sa, "{k:?} {na} {nb}");
            assert_eq!(pb, sb, "{k:?} {na} {nb}");
        }
        assert!(
            encode_pair(&[1, 2], &ea, &b, &eb, Kernel::best(), |_, _| ()).is_err()
                || ta.freqs()[1] > 0
        );
    }
}

#[test]
fn keyed_pairs_match_the_materialised_planes() {
    for (na, nb, shift) in [
        (0usize, 0usize, 6u32),
        (40, 1000, 6),
        (4096, 4127, 8),
        (3, 70, 12),
    ] {
        let values: Vec<u8> = random_source(2 * (na + nb), (na * 31 + nb) as u64);
        let keys = 1usize << (16 - shift);
        // Keys to symbols: many keys share a symbol, as alphabet indices do.
        let symbol_of: Vec<u16> = (0..keys).map(|k| (k * 7 % 200) as u16).collect();
        let plane = |v: &[u8]| -> Vec<u8> {
            v.chunks_exact(2)
                .map(|x| symbol_of[usize::from(u16::from_le_bytes([x[0], x[1]]) >> shift)] as u8)
                .collect()
        };
        let (va, vb) = values.split_at(2 * na);
        let (pa, pb) = (plane(va), plane(vb));
        let counts = histogram(&[pa.as_slice(), &pb, &[0]].concat());
        let t = FreqTable::from_counts(&counts, 12).unwrap();
        let et = EncodeTable::new(&t);
        let kt = KeyedEncodeTable::new(&et, &symbol_of, shift).unwrap();
        let expected = encode_pair(&pa, &et, &pb, &et, Kernel::Scalar, |a, b| {
            let (mut x, mut y) = (Vec::new(), Vec::new());
            a.write_to(&mut x);
            b.write_to(&mut y);
            (x, y)
        })
        .unwrap();
        for k in Kernel::supported() {
            let got = encode_pair_keyed(va, &kt, vb, &kt, k, |a, b| {
                let (mut x, mut y) = (Vec::new(), Vec::new());
                a.write_to(&mut x);
                b.write_to(&mut y);
                (x, y)
            })
            .unwrap();
            assert_eq!(got, expected, "{k:?} {na} {nb} {shift}");
        }
    }
    // A key without a symbol is an error, on every kernel.
    let t = FreqTable::from_counts(&histogram(&[0, 1]), 12).unwrap();
    let et = EncodeTable::new(&t);
    let mut symbol_of = vec![0u16; 1024];
    symbol_of[5] = u16::MAX;
    let kt = KeyedEncodeTable::new(&et, &symbol_of, 6).unwrap();
    let values: Vec<u8> = (0..100u16).flat_map(|i| (i << 6).to_le_bytes()).collect();
    for k in Kernel::supported() {
        assert!(encode_pair_keyed(&values, &kt, &values, &kt, k, |_, _| ()).is_err());
    }
    assert!(KeyedEncodeTable::new(&et, &symbol_of[..1000], 6).is_err());
}

#[test]
fn rejects_a_symbol_missing_from_the_table() {
    let t = FreqTable::from_counts(&histogram(&[1, 2, 3]), 12).unwrap();
    for k in Kernel::supported() {
        let mut out = Vec::new();
        assert!(encode_with(&[1, 2, 4], &EncodeTable::new(&t), &mut out, k).is_err());
        assert!(out.is_empty());
    }
    // In the SIMD groups too, with tables of few symbols (looked up in
    // registers) and with alias tables, for a symbol absent below 64
    // and one above.
    for missing in [4u8, 63, 64, 200] {
        let mut symbols: Vec<u8> = (0..1000).map(|i| 1 + (i % 3) as u8).collect();
        symbols[500] = missing;
        for table in [
            EncodeTable::new(&t),
            EncodeTable::alias(&t, AliasShape::Narrow).unwrap(),
            EncodeTable::alias(&t, AliasShape::Wide).unwrap(),
        ] {
            for k in Kernel::supported() {
                let mut out = Vec::new();
                assert!(
                    encode_with(&symbols, &table, &mut out, k).is_err(),
                    "{missing} {k:?}"
                );
            }
        }
    }
}

#[test]
fn corrupt_payloads_error_without_panicking() {
    let symbols = skewed(5000, 9);
    let t = FreqTable::from_counts(&histogram(&symbols), 12).unwrap();
    let mut payload = Vec::new();
    encode(&symbols, &EncodeTable::new(&t), &mut payload).unwrap();
    let dt = DecodeTable::new(&t);
    let mut back = vec![0u8; symbols.len()];
    for cut in [
        0,
        1,
        STATE_BYTES - 1,
        STATE_BYTES,
        payload.len() / 2,
        payload.len() - 1,
    ] {
        assert!(
            decode(&payload[..cut], &dt, &mut back).is_err(),
            "cut at {cut}"
        );
    }
    let mut longer = payload.clone();
    longer.extend_from_slice(&[0, 0]);
    assert!(decode(&longer, &dt, &mut back).is_err());
    // Flipping a bit anywhere must be detected by the final-state check
    // or decode to different symbols; never panic.
    for i in (0..payload.len()).step_by(97) {
        let mut bad = payload.clone();
        bad[i] ^= 0x10;
        if decode(&bad, &dt, &mut back).is_ok() {
            assert_ne!(back, symbols, "flip at {i} went unnoticed");
        }
    }
}
