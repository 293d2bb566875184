//! Context-switched static rANS: the [`crate::rans`] construction (32
//! interleaved lanes over one shared stream of 16-bit words, states in
//! `[2^16, 2^32)`) where every symbol is coded with one of several frequency
//! tables, picked by a *context* byte.
//!
//! The decoder must know each symbol's context before decoding it. Contexts
//! are asked for one group of [`LANES`] symbols at a time, with every earlier
//! symbol already decoded, so a context may depend on any symbol of an
//! earlier group (the previous row, the running mean of the row so far, a
//! plane decoded before) but never on a symbol of its own group. That keeps
//! the 32 lanes independent inside a group: a table switch costs one add.
//!
//! Payload layout (as `rans`): `LANES` final encoder states (u32 LE), then
//! the words (u16 LE) in decode order. Every state starts and ends at
//! [`RANS_L`]; a decoder that ends elsewhere has seen corrupt data.
//!
//! Tables: every context has a [`FreqTable`] of exactly [`CTX_PROB_BITS`]
//! bits. The decoder packs each slot into one u32 (`(freq - 1) << 20 |
//! bias << 8 | symbol`), 16 KiB per table; a fixed size lets the decode loop
//! index tables without bounds checks.

use crate::error::{corrupt, truncated, EntropyError, Result};
use crate::table::{EncodeTable, FreqTable};

/// Number of interleaved rANS states (symbol `i` is in lane `i % LANES`).
pub const LANES: usize = 32;
/// Lower bound of the normalised state interval.
pub const RANS_L: u32 = 1 << 16;
/// Bytes of the state header at the start of every payload.
pub const STATE_BYTES: usize = LANES * 4;
/// Precision of every context table (the packed slot format needs
/// `bias < 2^12`).
pub const CTX_PROB_BITS: u32 = 12;
const SLOTS: usize = 1 << CTX_PROB_BITS;
const MASK: u32 = (1 << CTX_PROB_BITS) - 1;

/// Decoder tables of every context, packed one u32 per slot.
#[derive(Clone, Debug)]
pub struct CtxDecodeTables {
    packed: Vec<[u32; SLOTS]>,
}

impl CtxDecodeTables {
    /// Builds the decoder tables for `tables` (context `c` uses `tables[c]`;
    /// 1 to 256 tables, each of [`CTX_PROB_BITS`] bits).
    pub fn new(tables: &[FreqTable]) -> Result<Self> {
        check_tables(tables)?;
        let mut packed = vec![[0u32; SLOTS]; tables.len()];
        for (p, t) in packed.iter_mut().zip(tables) {
            let mut slot = 0;
            for (s, &f) in t.freqs().iter().enumerate() {
                for bias in 0..f {
                    p[slot] = ((f - 1) << 20) | (bias << 8) | s as u32;
                    slot += 1;
                }
            }
        }
        Ok(Self { packed })
    }

    /// Number of contexts.
    pub fn len(&self) -> usize {
        self.packed.len()
    }

    /// True when there are no tables.
    pub fn is_empty(&self) -> bool {
        self.packed.is_empty()
    }
}

fn check_tables<T: HasBits>(tables: &[T]) -> Result<()> {
    if tables.is_empty() || tables.len() > 256 {
        return Err(EntropyError::InvalidArgument(format!(
            "{} context tables (1..=256 supported)",
            tables.len()
        )));
    }
    if let Some(b) = tables
        .iter()
        .map(|t| t.bits())
        .find(|&b| b != CTX_PROB_BITS)
    {
        return Err(EntropyError::InvalidArgument(format!(
            "context table precision {b}, expected {CTX_PROB_BITS}"
        )));
    }
    Ok(())
}

trait HasBits {
    fn bits(&self) -> u32;
}
impl HasBits for FreqTable {
    fn bits(&self) -> u32 {
        self.prob_bits()
    }
}
impl HasBits for EncodeTable {
    fn bits(&self) -> u32 {
        self.prob_bits()
    }
}

/// Appends the payload of `symbols`, symbol `i` coded with
/// `tables[contexts[i]]`. Fails if a context has no table or a symbol has
/// frequency 0 in its table.
pub fn encode(
    symbols: &[u8],
    contexts: &[u8],
    tables: &[EncodeTable],
    out: &mut Vec<u8>,
) -> Result<()> {
    if contexts.len() != symbols.len() {
        return Err(EntropyError::LengthMismatch {
            expected: symbols.len(),
            found: contexts.len(),
        });
    }
    check_tables(tables)?;
    if let Some(&c) = contexts.iter().max() {
        if c as usize >= tables.len() {
            return Err(EntropyError::InvalidArgument(format!(
                "context {c} has no table ({} tables)",
                tables.len()
            )));
        }
    }
    let mut states = [RANS_L; LANES];
    let mut words: Vec<u16> = Vec::with_capacity(symbols.len() / 2 + LANES);
    for i in (0..symbols.len()).rev() {
        let t = &tables[contexts[i] as usize];
        let s = symbols[i];
        let e = t.syms[s as usize];
        if e.freq == 0 {
            return Err(EntropyError::InvalidArgument(format!(
                "symbol {s} has frequency 0 in the table of context {}",
                contexts[i]
            )));
        }
        let x = &mut states[i % LANES];
        if u64::from(*x) >= e.x_max {
            words.push(*x as u16);
            *x >>= 16;
        }
        *x = ((*x / e.freq) << CTX_PROB_BITS) + (*x % e.freq) + e.start;
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

/// Decodes `out.len()` symbols from exactly one payload.
///
/// Before each group of [`LANES`] symbols starting at index `start`,
/// `contexts(start, &out[..start], &mut ctx)` must fill `ctx[..len]` (len =
/// the group's size) with the contexts of symbols `start..start + len`. A
/// context at or above the number of tables is read as the last table.
pub fn decode<F>(
    input: &[u8],
    tables: &CtxDecodeTables,
    out: &mut [u8],
    mut contexts: F,
) -> Result<()>
where
    F: FnMut(usize, &[u8], &mut [u8; LANES]),
{
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
    let packed = &tables.packed[..];
    let last = packed
        .len()
        .checked_sub(1)
        .ok_or_else(|| EntropyError::InvalidArgument("no context tables".into()))?;
    let mut pos = 0usize;
    let mut ctx = [0u8; LANES];
    let n = out.len();
    let mut start = 0usize;
    while start < n {
        let len = (n - start).min(LANES);
        let (done, rest) = out.split_at_mut(start);
        contexts(start, done, &mut ctx);
        let group = &mut rest[..len];
        let window: Option<&[u8; LANES * 2]> = words
            .get(pos..pos + LANES * 2)
            .and_then(|w| w.try_into().ok());
        match window {
            Some(window) if len == LANES => {
                let mut used = 0usize;
                for (lane, slot_out) in group.iter_mut().enumerate() {
                    let x = states[lane];
                    let e = packed[(ctx[lane] as usize).min(last)][(x & MASK) as usize];
                    *slot_out = e as u8;
                    let x = ((e >> 20) + 1)
                        .wrapping_mul(x >> CTX_PROB_BITS)
                        .wrapping_add((e >> 8) & 0xfff);
                    let refill = u32::from(x < RANS_L);
                    let at = used & (LANES * 2 - 2);
                    let w = u32::from(u16::from_le_bytes([window[at], window[at | 1]]));
                    states[lane] = (x << (refill << 4)) | (w & refill.wrapping_neg());
                    used += (refill as usize) << 1;
                }
                pos += used;
            }
            _ => {
                for (lane, slot_out) in group.iter_mut().enumerate() {
                    let x = states[lane];
                    let e = packed[(ctx[lane] as usize).min(last)][(x & MASK) as usize];
                    *slot_out = e as u8;
                    let mut x = ((e >> 20) + 1)
                        .wrapping_mul(x >> CTX_PROB_BITS)
                        .wrapping_add((e >> 8) & 0xfff);
                    if x < RANS_L {
                        let w = words.get(pos..pos + 2).ok_or_else(|| {
                            truncated(
                                "rANS word",
                                STATE_BYTES + pos,
                                2,
                                words.len().saturating_sub(pos),
                            )
                        })?;
                        x = (x << 16) | u32::from(u16::from_le_bytes([w[0], w[1]]));
                        pos += 2;
                    }
                    states[lane] = x;
                }
            }
        }
        start += len;
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

/// Exact cost in bits of coding, for each context, the histogram `counts[c]`
/// with `tables[c]` (excluding the tables).
pub fn cost_bits(counts: &[crate::Histogram], tables: &[FreqTable]) -> f64 {
    counts.iter().zip(tables).map(|(h, t)| t.cost_bits(h)).sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::histogram::Histogram;

    fn xorshift(seed: u64) -> impl FnMut() -> u64 {
        let mut x = seed | 1;
        move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        }
    }

    /// Symbols whose distribution depends on the previous group's first
    /// symbol: the context a decoder can compute.
    fn data(n: usize, seed: u64) -> (Vec<u8>, Vec<u8>) {
        let mut r = xorshift(seed);
        let mut syms = vec![0u8; n];
        let mut ctxs = vec![0u8; n];
        for i in 0..n {
            let c = if i < LANES {
                0
            } else {
                syms[(i / LANES - 1) * LANES] % 3
            };
            ctxs[i] = c;
            let v = r();
            syms[i] = match c {
                0 => (v % 4) as u8,
                1 => 100 + (v % 64).trailing_zeros() as u8,
                _ => (v % 256) as u8,
            };
        }
        (syms, ctxs)
    }

    fn tables_for(syms: &[u8], ctxs: &[u8], k: usize, bits: u32) -> Vec<FreqTable> {
        let mut h: Vec<Histogram> = vec![[0u64; 256]; k];
        for (&s, &c) in syms.iter().zip(ctxs) {
            h[c as usize][s as usize] += 1;
        }
        h.iter()
            .map(|h| {
                let mut h = *h;
                if h.iter().all(|&c| c == 0) {
                    h[0] = 1;
                }
                FreqTable::from_counts(&h, bits).unwrap()
            })
            .collect()
    }

    fn round_trip(n: usize, seed: u64, bits: u32) -> usize {
        let (syms, ctxs) = data(n, seed);
        let tables = tables_for(&syms, &ctxs, 3, bits);
        let enc: Vec<EncodeTable> = tables.iter().map(EncodeTable::new).collect();
        let mut payload = Vec::new();
        encode(&syms, &ctxs, &enc, &mut payload).unwrap();
        let dec = CtxDecodeTables::new(&tables).unwrap();
        let mut back = vec![0u8; n];
        decode(&payload, &dec, &mut back, |start, done, c| {
            for (j, slot) in c.iter_mut().enumerate() {
                let i = start + j;
                *slot = if i < LANES {
                    0
                } else {
                    done[(i / LANES - 1) * LANES] % 3
                };
            }
        })
        .unwrap();
        assert_eq!(back, syms, "n={n} bits={bits}");
        payload.len()
    }

    #[test]
    fn round_trips_lengths_and_precisions() {
        for n in [0usize, 1, 31, 32, 33, 64, 65, 1000, 5003] {
            round_trip(n, n as u64 + 7, CTX_PROB_BITS);
        }
    }

    #[test]
    fn lone_symbol_at_full_frequency() {
        let mut h = [0u64; 256];
        h[9] = 10;
        let t = FreqTable::from_counts(&h, 12).unwrap();
        let syms = vec![9u8; 100];
        let ctxs = vec![0u8; 100];
        let mut payload = Vec::new();
        encode(&syms, &ctxs, &[EncodeTable::new(&t)], &mut payload).unwrap();
        let dec = CtxDecodeTables::new(&[t]).unwrap();
        let mut back = vec![0u8; 100];
        decode(&payload, &dec, &mut back, |_, _, c| c.fill(0)).unwrap();
        assert_eq!(back, syms);
    }

    #[test]
    fn context_tables_beat_one_table() {
        let (syms, ctxs) = data(50_000, 3);
        let ctx_len = round_trip(50_000, 3, 12);
        let t = FreqTable::from_counts(&crate::histogram(&syms), 12).unwrap();
        let mut one = Vec::new();
        crate::rans::encode(&syms, &EncodeTable::new(&t), &mut one).unwrap();
        assert!(ctx_len < one.len(), "{ctx_len} vs {}", one.len());
        let _ = ctxs;
    }

    #[test]
    fn bad_input_errors_without_panicking() {
        let (syms, ctxs) = data(3000, 5);
        let tables = tables_for(&syms, &ctxs, 3, CTX_PROB_BITS);
        let enc: Vec<EncodeTable> = tables.iter().map(EncodeTable::new).collect();
        let mut payload = Vec::new();
        encode(&syms, &ctxs, &enc, &mut payload).unwrap();
        let dec = CtxDecodeTables::new(&tables).unwrap();
        let mut back = vec![0u8; syms.len()];
        let f = |start: usize, done: &[u8], c: &mut [u8; LANES]| {
            for (j, slot) in c.iter_mut().enumerate() {
                let i = start + j;
                *slot = if i < LANES {
                    0
                } else {
                    done[(i / LANES - 1) * LANES] % 3
                };
            }
        };
        for cut in [0, 1, STATE_BYTES, payload.len() / 2, payload.len() - 1] {
            assert!(decode(&payload[..cut], &dec, &mut back, f).is_err());
        }
        for i in (0..payload.len()).step_by(13) {
            let mut bad = payload.clone();
            bad[i] ^= 0x21;
            if decode(&bad, &dec, &mut back, f).is_ok() {
                assert_ne!(back, syms, "flip at {i} went unnoticed");
            }
        }
        // A context without a table reads the last table: no panic.
        let _ = decode(&payload, &dec, &mut back, |_, _, c| c.fill(7));
        // Encoder argument checks.
        assert!(encode(&syms, &ctxs[1..], &enc, &mut Vec::new()).is_err());
        assert!(encode(&syms, &vec![5u8; syms.len()], &enc, &mut Vec::new()).is_err());
        let t11 = FreqTable::from_counts(&crate::histogram(&syms), 11).unwrap();
        assert!(CtxDecodeTables::new(&[t11]).is_err());
        assert!(CtxDecodeTables::new(&[]).is_err());
    }
}
