//! Static order-0 rANS with [`LANES`] interleaved states over one shared
//! stream of 16-bit words (the "rans_word" construction).
//!
//! Symbol `i` belongs to lane `i % LANES`. The encoder walks the symbols
//! backwards and the decoder forwards, so the decoder reads words in exactly
//! the order it needs them, and lanes that are independent in the decoder
//! let the CPU (or SIMD lanes) overlap their table lookups.
//!
//! Payload layout: `LANES` final encoder states (u32 LE, lane order), then
//! the words (u16 LE) in decode order. Every state starts and ends at
//! [`RANS_L`], so a decoder that ends elsewhere has seen corrupt data.
//!
//! State invariants: states live in `[RANS_L, 2^32)`. With precision
//! `p <= 15` a decode step leaves the state at `>= 2^(16-p) >= 2`, so one
//! 16-bit refill always restores the invariant: exactly zero or one word per
//! symbol, which keeps the decode loop branch-free.

use crate::error::{corrupt, truncated, EntropyError, Result};
use crate::table::{DecodeTable, EncodeTable};

/// Number of interleaved rANS states.
pub const LANES: usize = 32;
/// Lower bound of the normalised state interval.
pub const RANS_L: u32 = 1 << 16;
/// Bytes of the state header at the start of every payload.
pub const STATE_BYTES: usize = LANES * 4;

/// Appends the rANS payload of `symbols` coded with `table` to `out`.
///
/// Fails if a symbol has frequency 0 in the table.
pub fn encode(symbols: &[u8], table: &EncodeTable, out: &mut Vec<u8>) -> Result<()> {
    let bits = table.prob_bits;
    let mut states = [RANS_L; LANES];
    // Words come out last-needed first; they are reversed at the end.
    let mut words: Vec<u16> = Vec::with_capacity(symbols.len() / 2 + LANES);
    let n = symbols.len();
    let tail = n % LANES;
    let full = n - tail;
    // The partial last group first (it is the first one walking backwards).
    for i in (full..n).rev() {
        encode_one(&mut states[i - full], symbols[i], table, bits, &mut words)?;
    }
    for group in symbols[..full].chunks_exact(LANES).rev() {
        for lane in (0..LANES).rev() {
            encode_one(&mut states[lane], group[lane], table, bits, &mut words)?;
        }
    }
    out.reserve(STATE_BYTES + words.len() * 2);
    for s in states {
        out.extend_from_slice(&s.to_le_bytes());
    }
    for w in words.iter().rev() {
        out.extend_from_slice(&w.to_le_bytes());
    }
    Ok(())
}

#[inline(always)]
fn encode_one(
    state: &mut u32,
    symbol: u8,
    table: &EncodeTable,
    bits: u32,
    words: &mut Vec<u16>,
) -> Result<()> {
    let e = table.syms[symbol as usize];
    if e.freq == 0 {
        return Err(EntropyError::InvalidArgument(format!(
            "symbol {symbol} has frequency 0 in the table"
        )));
    }
    let mut x = *state;
    if u64::from(x) >= e.x_max {
        words.push(x as u16);
        x >>= 16;
    }
    *state = ((x / e.freq) << bits) + (x % e.freq) + e.start;
    Ok(())
}

/// Decodes `out.len()` symbols from the payload `input` (exactly one
/// payload: trailing bytes are an error) with `table`.
pub fn decode(input: &[u8], table: &DecodeTable, out: &mut [u8]) -> Result<()> {
    if input.len() < STATE_BYTES {
        return Err(truncated("rANS states", 0, STATE_BYTES, input.len()));
    }
    let (state_bytes, words) = input.split_at(STATE_BYTES);
    let mut states = [0u32; LANES];
    for (lane, (s, b)) in states
        .iter_mut()
        .zip(state_bytes.chunks_exact(4))
        .enumerate()
    {
        *s = u32::from_le_bytes([b[0], b[1], b[2], b[3]]);
        if *s < RANS_L {
            return Err(corrupt(
                lane * 4,
                format!("rANS lane {lane} state {s:#x} below 2^16"),
            ));
        }
    }
    if table.entries.len() != 1usize << table.prob_bits {
        return Err(EntropyError::InvalidArgument(
            "decode table is incomplete".into(),
        ));
    }
    let bits = table.prob_bits;
    let mask = (1u32 << bits) - 1;
    let entries = &table.entries[..];
    let syms = &table.syms[..];
    let mut pos = 0usize;

    let mut groups = out.chunks_exact_mut(LANES);
    for group in &mut groups {
        // A group reads at most one word per lane; with that many bytes left
        // the reads below cannot run out, so the refill is a select, not a branch.
        let window: Option<&[u8; LANES * 2]> = words
            .get(pos..pos + LANES * 2)
            .and_then(|w| w.try_into().ok());
        if let Some(window) = window {
            let mut used = 0usize;
            for (lane, slot_out) in group.iter_mut().enumerate() {
                let x = states[lane];
                let slot = (x & mask) as usize;
                let e = entries[slot];
                *slot_out = syms[slot];
                let x = (e >> 16).wrapping_mul(x >> bits).wrapping_add(e & 0xffff);
                // Arithmetic select: a branch here mispredicts on every
                // other symbol. `used` < 64 before the last lane, so the
                // mask only tells the compiler the index is in bounds.
                let refill = u32::from(x < RANS_L);
                let at = used & (LANES * 2 - 2);
                let w = u32::from(u16::from_le_bytes([window[at], window[at | 1]]));
                states[lane] = (x << (refill << 4)) | (w & refill.wrapping_neg());
                used += (refill as usize) << 1;
            }
            pos += used;
        } else {
            for (lane, slot_out) in group.iter_mut().enumerate() {
                decode_checked(
                    &mut states[lane],
                    slot_out,
                    entries,
                    syms,
                    bits,
                    mask,
                    words,
                    &mut pos,
                )?;
            }
        }
    }
    for (lane, slot_out) in groups.into_remainder().iter_mut().enumerate() {
        decode_checked(
            &mut states[lane],
            slot_out,
            entries,
            syms,
            bits,
            mask,
            words,
            &mut pos,
        )?;
    }
    if pos != words.len() {
        return Err(corrupt(
            STATE_BYTES + pos,
            format!(
                "{} bytes left over after the last rANS symbol",
                words.len() - pos
            ),
        ));
    }
    if let Some(lane) = states.iter().position(|&s| s != RANS_L) {
        return Err(corrupt(
            0,
            format!("rANS lane {lane} did not return to its initial state"),
        ));
    }
    Ok(())
}

#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn decode_checked(
    state: &mut u32,
    slot_out: &mut u8,
    entries: &[u32],
    syms: &[u8],
    bits: u32,
    mask: u32,
    words: &[u8],
    pos: &mut usize,
) -> Result<()> {
    let x = *state;
    let slot = (x & mask) as usize;
    let e = entries[slot];
    *slot_out = syms[slot];
    let mut x = (e >> 16).wrapping_mul(x >> bits).wrapping_add(e & 0xffff);
    if x < RANS_L {
        let w = words
            .get(*pos..*pos + 2)
            .ok_or_else(|| truncated("rANS word", STATE_BYTES + *pos, 2, words.len() - *pos))?;
        x = (x << 16) | u32::from(u16::from_le_bytes([w[0], w[1]]));
        *pos += 2;
    }
    *state = x;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::histogram::histogram;
    use crate::table::FreqTable;

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
        let mut out = Vec::new();
        for s in states {
            out.extend_from_slice(&(s as u32).to_le_bytes());
        }
        for w in words.iter().rev() {
            out.extend_from_slice(&w.to_le_bytes());
        }
        out
    }

    fn round_trip(symbols: &[u8], bits: u32) {
        let t = FreqTable::from_counts(&histogram(symbols), bits).unwrap();
        let mut payload = Vec::new();
        encode(symbols, &EncodeTable::new(&t), &mut payload).unwrap();
        assert_eq!(
            payload,
            reference_encode(symbols, &t),
            "differs from the reference"
        );
        let mut back = vec![0u8; symbols.len()];
        decode(&payload, &DecodeTable::new(&t), &mut back).unwrap();
        assert_eq!(back, symbols);
    }

    fn skewed(n: usize, seed: u64) -> Vec<u8> {
        let mut x = seed | 1;
        (0..n)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                // Roughly geometric around 120: an exponent-like stream.
                (120 + (x % 64).trailing_zeros() as u8 * if x & 64 == 0 { 1 } else { 0 })
                    .wrapping_sub((x >> 20 & 3) as u8)
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
    }

    #[test]
    fn rejects_a_symbol_missing_from_the_table() {
        let t = FreqTable::from_counts(&histogram(&[1, 2, 3]), 12).unwrap();
        let mut out = Vec::new();
        assert!(encode(&[1, 2, 4], &EncodeTable::new(&t), &mut out).is_err());
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
}
