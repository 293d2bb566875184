//! Round trips, row finding and corrupt input.

use super::*;

fn noisy(n: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    let mut v = Vec::with_capacity(2 * n);
    for i in 0..n {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        // Row scale varies every 256 elements; a few escapes.
        let scale = 118 + ((i / 256) % 5) as u16;
        let e = if x.is_multiple_of(97) {
            (x >> 40) as u16 & 0xff
        } else {
            scale - (x % 16).trailing_zeros().min(6) as u16
        };
        let val = ((x >> 20) as u16 & 0x807f) | (e << 7);
        v.extend_from_slice(&val.to_le_bytes());
    }
    v
}

type Enc = fn(&[u8], Option<usize>, &mut Vec<u8>) -> Result<()>;
type Dec = fn(&[u8], &mut [u8]) -> Result<()>;
const CODECS: [(Enc, Dec); 2] = [(bf16::encode, bf16::decode), (fp16::encode, fp16::decode)];

#[test]
fn round_trips_and_finds_rows() {
    for n in [0usize, 1, 2, 7, 8, 9, 33, 200, 5000, 40_000] {
        let mut data = noisy(n, n as u64 + 1);
        data.push(7);
        for hint in [None, Some(256), Some(100)] {
            for (enc, dec) in CODECS {
                let mut buf = Vec::new();
                enc(&data, hint, &mut buf).unwrap();
                let mut back = vec![0u8; data.len()];
                dec(&buf, &mut back).unwrap();
                assert_eq!(back, data, "n={n} hint={hint:?}");
            }
        }
    }
}

/// Column-biased signs and zero low bits (values widened from a
/// narrower format) switch on the coded sign and low-bit planes.
#[test]
fn coded_sign_and_low_planes_round_trip() {
    let rows = 300;
    let cols = 256;
    let mut x = 0x1234_5678_9abc_def1u64;
    let mut data = Vec::new();
    for _ in 0..rows {
        for c in 0..cols {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let neg = (x % 16) < if c % 3 == 0 { 1 } else { 12 };
            let e = 120 - (x >> 8 & 15).trailing_zeros().min(5) as u16;
            let v = (u16::from(neg) << 15) | (e << 7) | ((x >> 30) as u16 & 0x70);
            data.extend_from_slice(&v.to_le_bytes());
        }
    }
    for (enc, dec) in CODECS {
        let mut buf = Vec::new();
        enc(&data, Some(cols), &mut buf).unwrap();
        assert!(buf.len() < data.len() * 6 / 16, "{}", buf.len());
        let mut back = vec![0u8; data.len()];
        dec(&buf, &mut back).unwrap();
        assert_eq!(back, data);
        for cut in (0..buf.len()).step_by(53) {
            assert!(dec(&buf[..cut], &mut back).is_err());
        }
        for i in (0..buf.len()).step_by(11) {
            let mut bad = buf.clone();
            bad[i] ^= 0x41;
            let _ = dec(&bad, &mut back);
        }
    }
}

#[test]
fn every_bit_pattern_round_trips() {
    let data: Vec<u8> = (0..=u16::MAX).flat_map(|v| v.to_le_bytes()).collect();
    for (enc, dec) in CODECS {
        let mut buf = Vec::new();
        enc(&data, Some(256), &mut buf).unwrap();
        let mut back = vec![0u8; data.len()];
        dec(&buf, &mut back).unwrap();
        assert_eq!(back, data);
    }
}
