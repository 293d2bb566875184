//! A small static rANS coder whose table changes from symbol to symbol
//! following a periodic pattern (symbol `i` uses table `pattern[i % P]`),
//! used where one item holds several order-0 streams of very different
//! statistics (the 16 header bytes and 256 nibbles of a Q4_K block): one
//! payload, one set of lane states, instead of one stream per field.
//!
//! [`LANES`] interleaved 32-bit states (symbol `i` belongs to lane `i %
//! LANES`) share one stream of 16-bit words, as in [`crate::rans`]: states live in `[2^16, 2^32)`, precisions are 8..=15 bits, so a
//! decode step needs at most one word. Payload: the final states (u32 LE,
//! lane order), then the words (u16 LE) in decode order. Every state starts
//! and ends at 2^16 and every word must be consumed, which rejects most
//! damaged payloads.

use crate::error::{corrupt, truncated, EntropyError, Result};
use crate::table::FreqTable;

/// Interleaved states.
pub const LANES: usize = 4;
const RANS_L: u32 = 1 << 16;
/// Bytes of the state header.
pub const STATE_BYTES: usize = LANES * 4;

/// Encoder view of one table.
pub struct EncTable {
    bits: u32,
    freq: [u32; 256],
    start: [u32; 256],
}

impl EncTable {
    /// The encoder view of `t`.
    pub fn new(t: &FreqTable) -> Self {
        let mut start = [0u32; 256];
        let mut acc = 0;
        for (s, &f) in start.iter_mut().zip(t.freqs()) {
            *s = acc;
            acc += f;
        }
        Self {
            bits: t.prob_bits(),
            freq: *t.freqs(),
            start,
        }
    }
}

/// Decoder view of one table: per slot, `freq << 16 | (slot - start)` and
/// the symbol.
pub struct DecTable {
    bits: u32,
    entries: Vec<u32>,
    sym: Vec<u8>,
}

impl DecTable {
    /// The decoder view of `t`.
    pub fn new(t: &FreqTable) -> Self {
        let mut entries = Vec::with_capacity(1 << t.prob_bits());
        let mut sym = Vec::with_capacity(1 << t.prob_bits());
        for (s, &f) in t.freqs().iter().enumerate() {
            for bias in 0..f {
                entries.push((f << 16) | bias);
                sym.push(s as u8);
            }
        }
        Self {
            bits: t.prob_bits(),
            entries,
            sym,
        }
    }
}

/// Appends the payload of `symbols` to `out`; symbol `i` is coded with
/// `tables[pattern[i % pattern.len()]]`.
pub fn encode(
    symbols: &[u8],
    pattern: &[usize],
    tables: &[EncTable],
    out: &mut Vec<u8>,
) -> Result<()> {
    if pattern.is_empty() || pattern.iter().any(|&t| t >= tables.len()) {
        return Err(EntropyError::InvalidArgument("bad table pattern".into()));
    }
    let p = pattern.len();
    let mut states = [RANS_L; LANES];
    let mut words: Vec<u16> = Vec::with_capacity(symbols.len() / 2 + 16);
    let n = symbols.len();
    let mut j = if n == 0 { 0 } else { (n - 1) % p };
    let mut lane = if n == 0 { 0 } else { (n - 1) % LANES };
    for &s in symbols.iter().rev() {
        let t = &tables[pattern[j]];
        let f = t.freq[s as usize];
        if f == 0 {
            return Err(EntropyError::InvalidArgument(format!(
                "symbol {s} has frequency 0 in table {}",
                pattern[j]
            )));
        }
        let mut x = states[lane];
        if u64::from(x) >= u64::from(f) << (32 - t.bits) {
            words.push(x as u16);
            x >>= 16;
        }
        states[lane] = ((x / f) << t.bits) + (x % f) + t.start[s as usize];
        j = if j == 0 { p - 1 } else { j - 1 };
        lane = if lane == 0 { LANES - 1 } else { lane - 1 };
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

/// Decodes `out.len()` symbols from exactly one payload `input`.
pub fn decode(input: &[u8], pattern: &[usize], tables: &[DecTable], out: &mut [u8]) -> Result<()> {
    if pattern.is_empty() || pattern.iter().any(|&t| t >= tables.len()) {
        return Err(EntropyError::InvalidArgument("bad table pattern".into()));
    }
    for t in tables {
        if t.sym.len() != 1usize << t.bits || t.entries.len() != t.sym.len() {
            return Err(EntropyError::InvalidArgument(
                "incomplete decode table".into(),
            ));
        }
    }
    if input.len() < STATE_BYTES {
        return Err(truncated("lane states", 0, STATE_BYTES, input.len()));
    }
    let (head, words) = input.split_at(STATE_BYTES);
    let mut states = [0u32; LANES];
    for (s, b) in states.iter_mut().zip(head.chunks_exact(4)) {
        *s = u32::from_le_bytes([b[0], b[1], b[2], b[3]]);
        if *s < RANS_L {
            return Err(corrupt(0, "lane state below 2^16"));
        }
    }
    let n = out.len();
    let p = pattern.len();
    let mut pos = 0usize;
    let mut j = 0usize;
    let mut i = 0usize;
    // Fast path: a group of LANES symbols reads at most LANES words, so
    // with that many left every read is in bounds and the refill is a select.
    while i + LANES <= n && words.len() - pos >= 2 * LANES {
        for (lane, state) in states.iter_mut().enumerate() {
            let t = &tables[pattern[j]];
            let x = *state;
            let slot = (x & ((1u32 << t.bits) - 1)) as usize;
            let e = t.entries[slot];
            out[i + lane] = t.sym[slot];
            let x = (e >> 16) * (x >> t.bits) + (e & 0xffff);
            let w = u32::from(u16::from_le_bytes([words[pos], words[pos + 1]]));
            let refill = x < RANS_L;
            *state = if refill { (x << 16) | w } else { x };
            pos += usize::from(refill) * 2;
            j += 1;
            if j == p {
                j = 0;
            }
        }
        i += LANES;
    }
    while i < n {
        let t = &tables[pattern[j]];
        let lane = i % LANES;
        let x = states[lane];
        let slot = (x & ((1u32 << t.bits) - 1)) as usize;
        let e = t.entries[slot];
        out[i] = t.sym[slot];
        let mut x = (e >> 16) * (x >> t.bits) + (e & 0xffff);
        if x < RANS_L {
            let w = words
                .get(pos..pos + 2)
                .ok_or_else(|| truncated("rANS word", STATE_BYTES + pos, 2, words.len() - pos))?;
            x = (x << 16) | u32::from(u16::from_le_bytes([w[0], w[1]]));
            pos += 2;
        }
        states[lane] = x;
        j += 1;
        if j == p {
            j = 0;
        }
        i += 1;
    }
    if pos != words.len() {
        return Err(corrupt(
            STATE_BYTES + pos,
            format!("{} bytes left after the last symbol", words.len() - pos),
        ));
    }
    if states.iter().any(|&s| s != RANS_L) {
        return Err(corrupt(0, "a lane did not return to its initial state"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_with_a_pattern() {
        let mut h0 = [0u64; 256];
        let mut h1 = [0u64; 256];
        let data: Vec<u8> = (0..10_007u32)
            .map(|i| {
                if i % 3 == 2 {
                    (i * 7 % 16) as u8
                } else {
                    (i.wrapping_mul(2_654_435_761) >> 24) as u8
                }
            })
            .collect();
        for (i, &s) in data.iter().enumerate() {
            if i % 3 == 2 {
                h1[s as usize] += 1;
            } else {
                h0[s as usize] += 1;
            }
        }
        let t0 = FreqTable::from_counts(&h0, 12).unwrap();
        let t1 = FreqTable::from_counts(&h1, 15).unwrap();
        let pattern = [0, 0, 1];
        for n in [0usize, 1, 2, 3, 5, 17, 10_007] {
            let mut buf = Vec::new();
            encode(
                &data[..n],
                &pattern,
                &[EncTable::new(&t0), EncTable::new(&t1)],
                &mut buf,
            )
            .unwrap();
            let mut back = vec![0u8; n];
            let dec = [DecTable::new(&t0), DecTable::new(&t1)];
            decode(&buf, &pattern, &dec, &mut back).unwrap();
            assert_eq!(back, &data[..n]);
            for cut in [0, buf.len() / 2, buf.len().saturating_sub(1)] {
                if cut < buf.len() {
                    assert!(decode(&buf[..cut], &pattern, &dec, &mut back).is_err());
                }
            }
        }
    }
}
