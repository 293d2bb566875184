//! Alias tables and the fused word decoder against the reference coders.

use super::*;

/// The textbook coder of an alias layout: the slot of a symbol's rank
/// comes from the layout instead of `start + rank`.
fn reference_alias_encode(symbols: &[u8], t: &FreqTable, shape: AliasShape) -> Vec<u8> {
    let slot_of_rank = crate::table::AliasLayout::new(t, shape)
        .unwrap()
        .slot_of_rank(t);
    let f = t.freqs();
    let mut states = [u64::from(RANS_L); LANES];
    let mut words = Vec::new();
    for i in (0..symbols.len()).rev() {
        let s = symbols[i] as usize;
        let freq = u64::from(f[s]);
        let x = &mut states[i % LANES];
        if *x >= ((u64::from(RANS_L) >> 12) << 16) * freq {
            words.push((*x & 0xffff) as u16);
            *x >>= 16;
        }
        let start: u64 = f[..s].iter().map(|&v| u64::from(v)).sum();
        let slot = slot_of_rank[(start + *x % freq) as usize];
        *x = ((*x / freq) << 12) + u64::from(slot);
    }
    reference_payload(&states, &words)
}

/// The textbook decoder of an alias layout.
fn reference_alias_decode(
    input: &[u8],
    t: &FreqTable,
    shape: AliasShape,
    n: usize,
) -> Option<Vec<u8>> {
    let layout = crate::table::AliasLayout::new(t, shape).unwrap();
    let f = t.freqs();
    let mut states = reference_states(input)?;
    let mut pos = STATE_BYTES;
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        let x = &mut states[i % LANES];
        let slot = (*x & 4095) as usize;
        let s = layout.sym_of_slot[slot];
        out.push(s);
        *x = f[s as usize] * (*x >> 12) + u32::from(layout.rank_of_slot[slot]);
        if *x < RANS_L {
            let w = input.get(pos..pos + 2)?;
            *x = (*x << 16) | u32::from(u16::from_le_bytes([w[0], w[1]]));
            pos += 2;
        }
    }
    (pos == input.len() && states.iter().all(|&s| s == RANS_L)).then_some(out)
}

/// A random source over the symbols a `shape` table holds.
fn alias_source(n: usize, seed: u64, shape: AliasShape) -> Vec<u8> {
    random_source(n, seed)
        .into_iter()
        .map(|s| s % shape.buckets() as u8)
        .collect()
}

#[test]
fn alias_layouts_match_the_reference_on_every_kernel() {
    let mut r = Rng(99);
    for seed in 0..30u64 {
        let shape = if seed % 2 == 0 {
            AliasShape::Narrow
        } else {
            AliasShape::Wide
        };
        for n in [1usize, 31, 32, 33, 64, 65, 200, 1000, 5000 + seed as usize] {
            let symbols = alias_source(n, seed * 7919 + n as u64, shape);
            let t = FreqTable::from_counts(&histogram(&symbols), 12).unwrap();
            if !shape.fits(&t) {
                continue; // one symbol: a constant stream
            }
            let expected = reference_alias_encode(&symbols, &t, shape);
            let (et, dt) = (
                EncodeTable::alias(&t, shape).unwrap(),
                DecodeTable::alias(&t, shape).unwrap(),
            );
            for k in Kernel::supported() {
                let mut payload = Vec::new();
                encode_with(&symbols, &et, &mut payload, k).unwrap();
                assert_eq!(payload, expected, "{k:?} n={n} seed={seed}");
                let mut back = vec![0u8; n];
                decode_with(&payload, &dt, &mut back, k).unwrap();
                assert_eq!(back, symbols, "{k:?} n={n} seed={seed}");
            }
            // Damaged payloads: every kernel gives the reference's verdict.
            let mut cases = vec![expected[..expected.len() / 2].to_vec()];
            for _ in 0..4 {
                let mut bad = expected.clone();
                let i = (r.next() as usize) % bad.len();
                bad[i] ^= 1 << (r.next() % 8);
                cases.push(bad);
            }
            for case in &cases {
                let want = reference_alias_decode(case, &t, shape, n);
                for k in Kernel::supported() {
                    let mut back = vec![0u8; n];
                    let got = decode_with(case, &dt, &mut back, k).ok().map(|_| back);
                    assert_eq!(got, want, "{k:?} n={n} seed={seed}");
                }
            }
        }
    }
}

#[test]
fn alias_pairs_decode_in_lock_step() {
    for shape in [AliasShape::Narrow, AliasShape::Wide] {
        alias_pair_in_lock_step(shape);
    }
}

/// The words of [`WordSink`] for `symbols` from value `first` on,
/// assembled one by one.
fn assemble_words(
    symbols: &[u8],
    first: usize,
    tops: &[u16; 128],
    plane: &[u8],
    fields: &[u8],
) -> Vec<u8> {
    symbols
        .iter()
        .enumerate()
        .flat_map(|(j, &s)| {
            let i = first + j;
            let bit = (plane[i / 8] >> (i % 8)) & 1;
            let at = 6 * i;
            let two =
                u16::from(fields[at / 8]) | (u16::from(*fields.get(at / 8 + 1).unwrap_or(&0)) << 8);
            let field = (two >> (at % 8)) & 0x3f;
            (tops[usize::from(s) + 64 * usize::from(bit)] | field).to_le_bytes()
        })
        .collect()
}

/// The fused word decoder gives the words of a symbol decode and a
/// one-by-one assembly, on valid and damaged payloads, for both shapes,
/// and leaves the decoders where the symbol decoder continues.
#[test]
fn fused_word_decoding_matches_symbols_then_assembly() {
    let mut r = Rng(4242);
    for shape in [AliasShape::Narrow, AliasShape::Wide] {
        for (na, nb) in [
            (64, 64),
            (100, 130),
            (1024, 1024),
            (4096, 4160),
            (9000, 9160),
        ] {
            let a = alias_source(na, r.next() % 1000, shape);
            let b = alias_source(nb, r.next() % 1000, shape);
            let t =
                FreqTable::from_counts(&histogram(&[a.clone(), b.clone()].concat()), 12).unwrap();
            if !shape.fits(&t) {
                continue;
            }
            let et = EncodeTable::alias(&t, shape).unwrap();
            let dt = DecodeTable::alias(&t, shape).unwrap();
            let (mut pa, mut pb) = (Vec::new(), Vec::new());
            encode(&a, &et, &mut pa).unwrap();
            encode(&b, &et, &mut pb).unwrap();
            let n = na + nb;
            // Arbitrary tops, and tops whose raw bit is one XOR (as the
            // float codecs' are: the AVX2 kernel needs that).
            let random: [u16; 128] = std::array::from_fn(|_| r.next() as u16 & !0x3f);
            let with_xor = |d: u16| -> [u16; 128] {
                std::array::from_fn(|i| {
                    if i < 64 {
                        random[i] & !d
                    } else {
                        random[i - 64] & !d ^ d
                    }
                })
            };
            for (tops, xor) in [
                (random, false),
                (with_xor(0x8000), true),
                (with_xor(0x40), true),
            ] {
                for kernel in Kernel::supported() {
                    let plane: Vec<u8> = (0..n.div_ceil(8) + 8).map(|_| r.next() as u8).collect();
                    let fields: Vec<u8> = (0..(6 * n).div_ceil(8) + 48)
                        .map(|_| r.next() as u8)
                        .collect();
                    let mut damaged = pb.clone();
                    let at = damaged.len() / 2;
                    damaged[at] ^= 0x10;
                    for pb in [&pb, &damaged] {
                        // Reference: symbols, then words.
                        let (mut sa, mut sb) = (vec![0u8; na], vec![0u8; nb]);
                        let ra = Decoder::new(&pa, &dt, na).and_then(|mut d| {
                            d.decode_with(&mut sa, Kernel::Scalar).and(d.finish())
                        });
                        let rb = Decoder::new(pb, &dt, nb).and_then(|mut d| {
                            d.decode_with(&mut sb, Kernel::Scalar).and(d.finish())
                        });
                        let want = [
                            assemble_words(&sa, 0, &tops, &plane, &fields),
                            assemble_words(&sb, na, &tops, &plane, &fields),
                        ];
                        // Fused, then the rest symbol by symbol.
                        let mut x = Decoder::new(&pa, &dt, na).unwrap();
                        let mut y = Decoder::new(pb, &dt, nb).unwrap();
                        let mut out = vec![0u8; 2 * n];
                        let (oa, ob) = out.split_at_mut(2 * na);
                        let done = decode_pair_words(
                            &mut x,
                            &mut WordSink {
                                tops: &tops,
                                plane: &plane,
                                fields: &fields,
                                out: oa,
                            },
                            &mut y,
                            &mut WordSink {
                                tops: &tops,
                                plane: &plane[na / 8..],
                                fields: &fields[na / 8 * 6..],
                                out: ob,
                            },
                            kernel,
                        );
                        assert_eq!(done % 64, 0);
                        let (mut ra2, mut rb2) = (vec![0u8; na - done], vec![0u8; nb - done]);
                        let fa = x.decode_with(&mut ra2, Kernel::Scalar).and(x.finish());
                        let fb = y.decode_with(&mut rb2, Kernel::Scalar).and(y.finish());
                        assert_eq!((fa.is_ok(), fb.is_ok()), (ra.is_ok(), rb.is_ok()));
                        out[2 * done..2 * na]
                            .copy_from_slice(&assemble_words(&ra2, done, &tops, &plane, &fields));
                        out[2 * (na + done)..].copy_from_slice(&assemble_words(
                            &rb2,
                            na + done,
                            &tops,
                            &plane,
                            &fields,
                        ));
                        assert_eq!(
                            &out[..2 * na],
                            &want[0][..],
                            "{shape:?} {na} {nb} done {done}"
                        );
                        assert_eq!(
                            &out[2 * na..],
                            &want[1][..],
                            "{shape:?} {na} {nb} done {done}"
                        );
                        // Some fused kernel runs on every CPU (the portable
                        // one when no SIMD kernel applies).
                        if na >= 1024 {
                            assert!(done > 0, "{kernel:?}");
                        }
                        // And the SIMD kernel itself where it applies: the
                        // words compared above are its own.
                        #[cfg(target_arch = "x86_64")]
                        if na >= 1024
                            && ((kernel == Kernel::Avx512
                                && std::arch::is_x86_feature_detected!("avx512vbmi"))
                                || (kernel != Kernel::Scalar && xor))
                        {
                            let mut x = Decoder::new(&pa, &dt, na).unwrap();
                            let mut y = Decoder::new(pb, &dt, nb).unwrap();
                            let mut scratch = vec![0u8; 2 * n];
                            let (oa, ob) = scratch.split_at_mut(2 * na);
                            let simd = crate::rans::x86::decode_pair_words(
                                kernel,
                                [&mut x, &mut y],
                                [
                                    &mut WordSink {
                                        tops: &tops,
                                        plane: &plane,
                                        fields: &fields,
                                        out: oa,
                                    },
                                    &mut WordSink {
                                        tops: &tops,
                                        plane: &plane[na / 8..],
                                        fields: &fields[na / 8 * 6..],
                                        out: ob,
                                    },
                                ],
                            );
                            assert_eq!(simd, done, "{kernel:?} ran its SIMD kernel");
                        }
                    }
                }
            }
        }
    }
}

fn alias_pair_in_lock_step(shape: AliasShape) {
    let a = alias_source(9000, 5, shape);
    let b = alias_source(7000, 6, shape);
    let (ta, tb) = (
        FreqTable::from_counts(&histogram(&a), 12).unwrap(),
        FreqTable::from_counts(&histogram(&b), 12).unwrap(),
    );
    let (mut pa, mut pb) = (Vec::new(), Vec::new());
    encode(&a, &EncodeTable::alias(&ta, shape).unwrap(), &mut pa).unwrap();
    encode(&b, &EncodeTable::alias(&tb, shape).unwrap(), &mut pb).unwrap();
    let (da, db) = (
        DecodeTable::alias(&ta, shape).unwrap(),
        DecodeTable::alias(&tb, shape).unwrap(),
    );
    for k in Kernel::supported() {
        let mut x = Decoder::new(&pa, &da, a.len()).unwrap();
        let mut y = Decoder::new(&pb, &db, b.len()).unwrap();
        let (mut oa, mut ob) = (vec![0u8; a.len()], vec![0u8; b.len()]);
        for (ca, cb) in oa.chunks_mut(2048).zip(ob.chunks_mut(2048)) {
            decode_pair(&mut x, ca, &mut y, cb, k).unwrap();
        }
        let done = 7000 / 2048 * 2048 + 2048;
        x.decode_with(&mut oa[done..], k).unwrap();
        x.finish().unwrap();
        y.finish().unwrap();
        assert_eq!((&oa, &ob), (&a, &b), "{k:?}");
    }
}
