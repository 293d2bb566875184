//! Round trips of every kernel, placements, parts and product tables.

use super::*;
use crate::ctx_rans::product_table;
use crate::histogram::histogram;
use crate::rans::Kernel;
use crate::rans::ALL_KERNELS;

fn rng(seed: u64) -> impl FnMut() -> u64 {
    let mut x = seed | 1;
    move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    }
}

/// Symbols whose distribution depends on the context, and the tables.
fn sample(n: usize, nctx: usize, bits: u32, seed: u64) -> (Vec<u8>, Vec<u8>, Vec<FreqTable>) {
    let mut r = rng(seed);
    let ctx: Vec<u8> = (0..n).map(|_| (r() % nctx as u64) as u8).collect();
    let sym: Vec<u8> = ctx
        .iter()
        .map(|&c| {
            let s: u64 = (0..4).map(|_| r() % 40).sum();
            (s as u8).wrapping_add(c.wrapping_mul(23))
        })
        .collect();
    let tables = (0..nctx)
        .map(|c| {
            let mut h = [0u64; 256];
            for (&s, &cx) in sym.iter().zip(&ctx) {
                if usize::from(cx) == c {
                    h[usize::from(s)] += 1;
                }
            }
            h[0] += 1;
            FreqTable::from_counts(&h, bits).unwrap()
        })
        .collect();
    (sym, ctx, tables)
}

#[test]
fn every_kernel_round_trips_every_length() {
    for n in [0usize, 1, 31, 32, 33, 64, 65, 100, 1000, 4097, 20_000] {
        for (nctx, bits) in [(1, 12), (5, 11), (16, 10)] {
            let (sym, ctx, tables) = sample(n, nctx, bits, n as u64 + 7);
            let mut payload = Vec::new();
            encode(
                &sym,
                Contexts::per_symbol(&ctx),
                &ContextEncoder::new(&tables).unwrap(),
                &mut payload,
            )
            .unwrap();
            let dec = ContextDecoder::new(&tables).unwrap();
            for k in ALL_KERNELS {
                let mut back = vec![0u8; n];
                decode_with(&payload, &ctx, &dec, &mut back, k).unwrap();
                assert_eq!(back, sym, "n {n} ctx {nctx} kernel {}", k.name());
            }
        }
    }
}

#[test]
fn placed_output_matches_contiguous() {
    let (sym, ctx, tables) = sample(32 * 70 + 20, 3, 12, 9);
    let mut payload = Vec::new();
    encode(
        &sym,
        Contexts::per_symbol(&ctx),
        &ContextEncoder::new(&tables).unwrap(),
        &mut payload,
    )
    .unwrap();
    let dec = ContextDecoder::new(&tables).unwrap();
    for (run, stride, offset) in [(32, 34, 2), (128, 144, 16), (16, 22, 6), (20, 21, 1)] {
        let place = Placement {
            run,
            stride,
            offset,
        };
        let records = sym.len().div_ceil(run);
        for k in ALL_KERNELS {
            let mut out = vec![0xEEu8; records * stride];
            decode_placed(
                &payload,
                sym.len(),
                Contexts::per_symbol(&ctx),
                &dec,
                &mut out,
                place,
                k,
            )
            .unwrap();
            for (i, &s) in sym.iter().enumerate() {
                assert_eq!(out[place.index(i)], s);
            }
            let placed: usize = out.iter().filter(|&&b| b == 0xEE).count();
            assert!(placed <= records * stride - sym.len());
            let short = &mut out[..records * stride - stride + offset];
            assert!(decode_placed(
                &payload,
                sym.len(),
                Contexts::per_symbol(&ctx),
                &dec,
                short,
                place,
                k
            )
            .is_err());
        }
    }
}

#[test]
fn run_contexts_match_per_symbol_contexts() {
    for shift in 0..=6u32 {
        for n in [0usize, 5, 32, 100, 32 * 41 + 3] {
            let (sym, _, tables) = sample(n, 6, 11, u64::from(shift) * 100 + n as u64);
            let runs: Vec<u8> = (0..n.div_ceil(1 << shift))
                .map(|k| (k * 5 % 6) as u8)
                .collect();
            let per: Vec<u8> = (0..n).map(|i| runs[i >> shift]).collect();
            // Symbols must be codable under their run's table: re-draw them.
            let sym: Vec<u8> = sym
                .iter()
                .zip(&per)
                .map(|(&s, &c)| {
                    if tables[usize::from(c)].freqs()[usize::from(s)] > 0 {
                        s
                    } else {
                        0
                    }
                })
                .collect();
            let enc = ContextEncoder::new(&tables).unwrap();
            let mut a = Vec::new();
            encode(&sym, Contexts::runs(&runs, shift), &enc, &mut a).unwrap();
            let mut b = Vec::new();
            encode(&sym, Contexts::per_symbol(&per), &enc, &mut b).unwrap();
            assert_eq!(a, b);
            let dec = ContextDecoder::new(&tables).unwrap();
            for k in ALL_KERNELS {
                let mut out = vec![0u8; n];
                let ctx = Contexts::runs(&runs, shift);
                decode_placed(&a, n, ctx, &dec, &mut out, Placement::CONTIGUOUS, k).unwrap();
                assert_eq!(out, sym, "shift {shift} n {n} kernel {}", k.name());
            }
            if !runs.is_empty() {
                let short = Contexts::runs(&runs[..runs.len() - 1], shift);
                let mut out = vec![0u8; n];
                assert!(decode_placed(
                    &a,
                    n,
                    short,
                    &dec,
                    &mut out,
                    Placement::CONTIGUOUS,
                    Kernel::Scalar
                )
                .is_err());
            }
        }
    }
}

#[test]
fn marks_match_per_symbol_contexts() {
    for n in [0usize, 31, 32, 33, 32 * 77 + 5, 32 * 300] {
        let marks: Vec<u8> = (0..n.div_ceil(32)).map(|g| (g * 37 % 80) as u8).collect();
        let ctx = Contexts::marks(&marks);
        let per: Vec<u8> = (0..n).map(|i| ctx.get(i)).collect();
        let (sym, _, tables) = sample(n, 3, 12, n as u64 + 3);
        let sym: Vec<u8> = sym
            .iter()
            .zip(&per)
            .map(|(&s, &c)| {
                if tables[usize::from(c)].freqs()[usize::from(s)] > 0 {
                    s
                } else {
                    0
                }
            })
            .collect();
        let enc = ContextEncoder::new(&tables).unwrap();
        let mut a = Vec::new();
        encode(&sym, ctx, &enc, &mut a).unwrap();
        let mut b = Vec::new();
        encode(&sym, Contexts::per_symbol(&per), &enc, &mut b).unwrap();
        assert_eq!(a, b);
        let dec = ContextDecoder::new(&tables).unwrap();
        for k in ALL_KERNELS {
            let mut out = vec![0u8; n];
            decode_placed(&a, n, ctx, &dec, &mut out, Placement::CONTIGUOUS, k).unwrap();
            assert_eq!(out, sym, "n {n} kernel {}", k.name());
        }
    }
}

#[test]
fn parts_decode_side_by_side() {
    let n = 32 * 300 + 17;
    let (sym, ctx, tables) = sample(n, 4, 12, 21);
    let enc = ContextEncoder::new(&tables).unwrap();
    let dec = ContextDecoder::new(&tables).unwrap();
    let ctx = Contexts::per_symbol(&ctx);
    for cuts in [
        vec![],
        vec![32 * 150],
        vec![32 * 10, 32 * 200],
        vec![32, 64, 32 * 299],
    ] {
        let mut bounds = vec![0];
        bounds.extend(&cuts);
        bounds.push(n);
        let ranges: Vec<_> = bounds.windows(2).map(|w| w[0]..w[1]).collect();
        let payloads: Vec<Vec<u8>> = ranges
            .iter()
            .map(|r| {
                let mut p = Vec::new();
                encode_range(&sym, r.clone(), ctx, &enc, &mut p).unwrap();
                p
            })
            .collect();
        let inputs: Vec<&[u8]> = payloads.iter().map(|p| &p[..]).collect();
        for k in ALL_KERNELS {
            let mut out = vec![0u8; n];
            let place = Placement::CONTIGUOUS;
            decode_parts(&inputs, &ranges, ctx, &dec, &mut out, place, k).unwrap();
            assert_eq!(out, sym, "{} parts, kernel {}", ranges.len(), k.name());
            if inputs.len() > 1 {
                let mut swapped = inputs.clone();
                swapped.swap(0, 1);
                let r = decode_parts(&swapped, &ranges, ctx, &dec, &mut out, place, k);
                assert!(r.is_err() || out != sym);
            }
        }
    }
    let mut out = vec![0u8; n];
    let bad = [0..33, 33..n];
    let p = [&[][..], &[][..]];
    assert!(decode_parts(
        &p,
        &bad,
        ctx,
        &dec,
        &mut out,
        Placement::CONTIGUOUS,
        Kernel::Scalar
    )
    .is_err());
}

#[test]
fn one_table_matches_the_plain_coder() {
    let (sym, _, tables) = sample(5000, 1, 12, 3);
    let ctx = vec![0u8; sym.len()];
    let mut a = Vec::new();
    encode(
        &sym,
        Contexts::per_symbol(&ctx),
        &ContextEncoder::new(&tables).unwrap(),
        &mut a,
    )
    .unwrap();
    let mut b = Vec::new();
    crate::rans::encode(&sym, &crate::EncodeTable::new(&tables[0]), &mut b).unwrap();
    assert_eq!(a, b);
}

#[test]
fn rejects_bad_contexts_and_corrupt_payloads() {
    let (sym, ctx, tables) = sample(3000, 4, 12, 5);
    let enc = ContextEncoder::new(&tables).unwrap();
    let mut payload = Vec::new();
    encode(&sym, Contexts::per_symbol(&ctx), &enc, &mut payload).unwrap();
    let dec = ContextDecoder::new(&tables).unwrap();
    let mut back = vec![0u8; sym.len()];
    let mut bad_ctx = ctx.clone();
    bad_ctx[100] = 4;
    assert!(decode(&payload, &bad_ctx, &dec, &mut back).is_err());
    assert!(encode(&sym, Contexts::per_symbol(&bad_ctx), &enc, &mut Vec::new()).is_err());
    for k in ALL_KERNELS {
        for cut in [0, 1, STATE_BYTES, payload.len() / 2, payload.len() - 1] {
            assert!(decode_with(&payload[..cut], &ctx, &dec, &mut back, k).is_err());
        }
        let mut longer = payload.clone();
        longer.extend_from_slice(&[0, 0]);
        assert!(decode_with(&longer, &ctx, &dec, &mut back, k).is_err());
        for i in (0..payload.len()).step_by(61) {
            let mut bad = payload.clone();
            bad[i] ^= 0x24;
            if decode_with(&bad, &ctx, &dec, &mut back, k).is_ok() {
                assert_ne!(back, sym, "flip at {i} went unnoticed");
            }
        }
    }
}

#[test]
fn product_tables_sum_exactly_and_track_the_product() {
    let mut r = rng(11);
    for trial in 0..200 {
        let mut hl = [0u64; 256];
        let mut hh = [0u64; 256];
        for s in 0..16 {
            hl[s] = if r().is_multiple_of(5) { 0 } else { r() % 1000 };
            hh[s] = if r().is_multiple_of(7) {
                0
            } else {
                r() % 50 + 1
            };
        }
        hl[trial % 16] += 1;
        let lo = FreqTable::from_counts(&hl, 8 + (trial % 5) as u32).unwrap();
        let hi = FreqTable::from_counts(&hh, 12).unwrap();
        for bits in [8, 10, 12] {
            let p = product_table(&lo, &hi, bits).unwrap();
            let sum: u32 = p.freqs().iter().sum();
            assert_eq!(sum, 1 << bits);
            for s in 0..256 {
                let present = lo.freqs()[s & 15] > 0 && hi.freqs()[s >> 4] > 0;
                assert_eq!(p.freqs()[s] > 0, present);
            }
            // Deterministic.
            assert_eq!(p, product_table(&lo, &hi, bits).unwrap());
        }
    }
    let h = histogram(&[1, 2, 3]);
    let t = FreqTable::from_counts(&h, 12).unwrap();
    let wide = FreqTable::from_counts(&histogram(&[1, 200]), 12).unwrap();
    assert!(product_table(&t, &wide, 12).is_err());
}
