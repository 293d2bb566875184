//! Tests of the rANS coder against textbook reference coders, on every kernel.

use super::fused::*;
use super::*;
use crate::histogram::histogram;
use crate::table::{AliasShape, DecodeTable, EncodeTable, FreqTable};

mod alias;
mod blocks;
mod escaped;
mod high_bytes;

/// The textbook coder, one symbol at a time with u64 arithmetic and no
/// fast paths: the interleaved coder must produce identical bytes.
fn reference_encode(symbols: &[u8], t: &FreqTable) -> Vec<u8> {
    let bits = t.prob_bits();
    let f = t.freqs();
    let cum: Vec<u64> = (0..256)
        .map(|s| f[..s].iter().map(|&x| u64::from(x)).sum())
        .collect();
    let mut states = [u64::from(RANS_L); LANES];
    let mut words = Vec::new();
    for i in (0..symbols.len()).rev() {
        let s = symbols[i] as usize;
        let freq = u64::from(f[s]);
        let x = &mut states[i % LANES];
        if *x >= ((u64::from(RANS_L) >> bits) << 16) * freq {
            words.push((*x & 0xffff) as u16);
            *x >>= 16;
        }
        *x = ((*x / freq) << bits) + *x % freq + cum[s];
    }
    reference_payload(&states, &words)
}

/// The textbook decoder, one symbol at a time, every read checked.
fn reference_decode(input: &[u8], t: &FreqTable, n: usize) -> Option<Vec<u8>> {
    let bits = t.prob_bits();
    let f = t.freqs();
    let mut sym_of = Vec::new();
    let mut cum = [0u32; 256];
    for s in 0..256 {
        cum[s] = sym_of.len() as u32;
        sym_of.extend(std::iter::repeat_n(s as u8, f[s] as usize));
    }
    let mut states = reference_states(input)?;
    let mut pos = STATE_BYTES;
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        let x = &mut states[i % LANES];
        let slot = *x & ((1 << bits) - 1);
        let s = sym_of[slot as usize];
        out.push(s);
        *x = f[s as usize] * (*x >> bits) + slot - cum[s as usize];
        if *x < RANS_L {
            let w = input.get(pos..pos + 2)?;
            *x = (*x << 16) | u32::from(u16::from_le_bytes([w[0], w[1]]));
            pos += 2;
        }
    }
    (pos == input.len() && states.iter().all(|&s| s == RANS_L)).then_some(out)
}

fn round_trip(symbols: &[u8], bits: u32) {
    let t = FreqTable::from_counts(&histogram(symbols), bits).unwrap();
    let expected = reference_encode(symbols, &t);
    for k in Kernel::supported() {
        let mut payload = Vec::new();
        encode_with(symbols, &EncodeTable::new(&t), &mut payload, k).unwrap();
        assert_eq!(payload, expected, "{k:?} differs from the reference");
        let mut back = vec![0u8; symbols.len()];
        decode_with(&payload, &DecodeTable::new(&t), &mut back, k).unwrap();
        assert_eq!(back, symbols, "{k:?}");
    }
}

/// Small xorshift generator for reproducible test data.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

fn skewed(n: usize, seed: u64) -> Vec<u8> {
    let mut r = Rng(seed | 1);
    (0..n)
        .map(|_| {
            let x = r.next();
            // Roughly geometric around 120: an exponent-like stream.
            (120 + (x % 64).trailing_zeros() as u8 * if x & 64 == 0 { 1 } else { 0 })
                .wrapping_sub((x >> 20 & 3) as u8)
        })
        .collect()
}

/// Symbols drawn from a random distribution over a random alphabet:
/// from one dominant symbol to near-uniform over all 256.
fn random_source(n: usize, seed: u64) -> Vec<u8> {
    let mut r = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
    let alphabet = 1 + (r.next() % 256) as usize;
    let skew = 1 + r.next() % 6;
    let weights: Vec<u64> = (0..alphabet)
        .map(|i| 1 + (r.next() % 1000) / (1 + (i as u64 >> skew)))
        .collect();
    let total: u64 = weights.iter().sum();
    let base = (r.next() % 256) as u8;
    (0..n)
        .map(|_| {
            let mut v = r.next() % total;
            let mut s = 0;
            while v >= weights[s] {
                v -= weights[s];
                s += 1;
            }
            base.wrapping_add((s * 37) as u8)
        })
        .collect()
}

#[test]
fn round_trips_lengths_around_the_lane_count() {
    for n in [1usize, 2, 31, 32, 33, 63, 64, 65, 100, 1000, 4097] {
        round_trip(&skewed(n, n as u64), 12);
    }
}

#[test]
fn round_trips_every_precision_and_uniform_data() {
    let uniform: Vec<u8> = (0..70_000u32)
        .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
        .collect();
    for bits in 8..=15 {
        round_trip(&skewed(10_000, bits as u64), bits);
        round_trip(&uniform, bits);
    }
}

#[test]
fn lone_symbol_at_full_frequency() {
    round_trip(&[7u8; 1000], 15);
    round_trip(&[7u8; 1000], 12);
    round_trip(&[7u8; 1000], 8);
}

/// Frequencies at the extremes (1, 2, the table size minus a few) with
/// symbols drawn regardless of them: the SIMD encoders' approximate
/// quotients (a float division, or a multiply by a float reciprocal)
/// meet their largest errors, and must still code what the reference
/// codes.
#[test]
fn every_kernel_matches_the_reference_at_extreme_frequencies() {
    let mut r = Rng(77);
    for bits in [12u32, 15] {
        let total = 1u32 << bits;
        for freqs in [
            vec![1, total - 1],
            vec![total - 1, 1],
            vec![1, total - 3, 2],
            vec![3, 1, total - 5, 1],
            vec![total / 2 + 1, total / 2 - 1],
        ] {
            let mut f = [0u32; 256];
            f[..freqs.len()].copy_from_slice(&freqs);
            let t = FreqTable::from_freqs(f, bits).unwrap();
            let symbols: Vec<u8> = (0..5000)
                .map(|_| (r.next() % freqs.len() as u64) as u8)
                .collect();
            let expected = reference_encode(&symbols, &t);
            for k in Kernel::supported() {
                let mut payload = Vec::new();
                encode_with(&symbols, &EncodeTable::new(&t), &mut payload, k).unwrap();
                assert_eq!(payload, expected, "{k:?} bits={bits} {freqs:?}");
                let mut back = vec![0u8; symbols.len()];
                decode_with(&payload, &DecodeTable::new(&t), &mut back, k).unwrap();
                assert_eq!(back, symbols, "{k:?} bits={bits} {freqs:?}");
            }
        }
    }
}

#[test]
fn every_kernel_matches_the_reference_on_many_inputs() {
    for seed in 0..40u64 {
        for n in (0..200).step_by(7).chain([200, 1000, 3000 + seed as usize]) {
            let bits = 8 + (seed as u32 + n as u32) % 8;
            let symbols = random_source(n, seed * 1000 + n as u64);
            if symbols.is_empty() {
                let t = FreqTable::from_counts(&histogram(&[1]), bits).unwrap();
                for k in Kernel::supported() {
                    let mut p = Vec::new();
                    encode_with(&[], &EncodeTable::new(&t), &mut p, k).unwrap();
                    decode_with(&p, &DecodeTable::new(&t), &mut [], k).unwrap();
                }
                continue;
            }
            let t = FreqTable::from_counts(&histogram(&symbols), bits).unwrap();
            let expected = reference_encode(&symbols, &t);
            let dt = DecodeTable::new(&t);
            for k in Kernel::supported() {
                let mut payload = Vec::new();
                encode_with(&symbols, &EncodeTable::new(&t), &mut payload, k).unwrap();
                assert_eq!(payload, expected, "{k:?} n={n} bits={bits}");
                let mut back = vec![0u8; n];
                decode_with(&payload, &dt, &mut back, k).unwrap();
                assert_eq!(back, symbols, "{k:?} n={n} bits={bits}");
            }
        }
    }
}

#[test]
fn kernels_agree_on_corrupt_and_truncated_payloads() {
    let mut r = Rng(77);
    for bits in 8..=15 {
        for n in [33usize, 200, 1500] {
            let symbols = random_source(n, bits as u64 * 31 + n as u64);
            let t = FreqTable::from_counts(&histogram(&symbols), bits).unwrap();
            let dt = DecodeTable::new(&t);
            let mut payload = Vec::new();
            encode(&symbols, &EncodeTable::new(&t), &mut payload).unwrap();
            let mut cases: Vec<Vec<u8>> = Vec::new();
            for cut in [0, STATE_BYTES - 1, STATE_BYTES, payload.len() / 2] {
                cases.push(payload[..cut.min(payload.len())].to_vec());
            }
            cases.push(payload[..payload.len().saturating_sub(1)].to_vec());
            for _ in 0..12 {
                let mut bad = payload.clone();
                let i = (r.next() as usize) % bad.len();
                bad[i] ^= 1 << (r.next() % 8);
                cases.push(bad);
            }
            let mut longer = payload.clone();
            longer.extend_from_slice(&[0, 0]);
            cases.push(longer);
            for case in &cases {
                let expected = reference_decode(case, &t, n);
                for k in Kernel::supported() {
                    let mut back = vec![0u8; n];
                    let got = decode_with(case, &dt, &mut back, k).ok().map(|_| back);
                    assert_eq!(got, expected, "{k:?} bits={bits} n={n}");
                }
            }
        }
    }
}

/// A payload from a reference encoder's final states and its words in
/// the order they were pushed (the decoder reads them backwards).
fn reference_payload(states: &[u64; LANES], words: &[u16]) -> Vec<u8> {
    let mut out = Vec::new();
    for &s in states {
        out.extend_from_slice(&(s as u32).to_le_bytes());
    }
    for w in words.iter().rev() {
        out.extend_from_slice(&w.to_le_bytes());
    }
    out
}

/// The 32 initial states of a payload, if present and valid.
fn reference_states(input: &[u8]) -> Option<[u32; LANES]> {
    let mut states = [0u32; LANES];
    for (lane, s) in states.iter_mut().enumerate() {
        *s = u32::from_le_bytes(input.get(lane * 4..lane * 4 + 4)?.try_into().ok()?);
        if *s < RANS_L {
            return None;
        }
    }
    Some(states)
}
