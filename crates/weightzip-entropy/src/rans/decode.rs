//! The decoder: symbols walked forwards, block by block.

#[cfg(target_arch = "x86_64")]
use super::x86;
use super::{Kernel, GROUP_WINDOW, LANES, RANS_L, STATE_BYTES};
use crate::error::{corrupt, truncated, EntropyError, Result};
use crate::table::DecodeTable;

/// Decodes `out.len()` symbols from the payload `input` (exactly one
/// payload: trailing bytes are an error) with `table`.
pub fn decode(input: &[u8], table: &DecodeTable, out: &mut [u8]) -> Result<()> {
    decode_with(input, table, out, Kernel::best())
}

/// [`decode`] with an explicit kernel (falls back to a supported one).
pub fn decode_with(
    input: &[u8],
    table: &DecodeTable,
    out: &mut [u8],
    kernel: Kernel,
) -> Result<()> {
    let mut d = Decoder::new(input, table, out.len())?;
    d.decode_with(out, kernel)?;
    d.finish()
}

/// A payload being decoded, block by block.
///
/// Each block passed to [`Decoder::decode`] must hold a multiple of
/// [`LANES`] symbols, except the last one, which takes all that remain.
/// [`Decoder::finish`] then checks that the payload was consumed exactly.
pub struct Decoder<'a> {
    pub(in crate::rans) states: [u32; LANES],
    /// The words after the state header.
    pub(in crate::rans) words: &'a [u8],
    /// Next byte of `words` to read.
    pub(in crate::rans) pos: usize,
    pub(in crate::rans) table: &'a DecodeTable,
    /// Symbols not decoded yet.
    pub(in crate::rans) left: usize,
}

impl<'a> Decoder<'a> {
    /// Starts decoding `n` symbols from `payload` with `table`.
    pub fn new(payload: &'a [u8], table: &'a DecodeTable, n: usize) -> Result<Self> {
        if payload.len() < STATE_BYTES {
            return Err(truncated("rANS states", 0, STATE_BYTES, payload.len()));
        }
        let (state_bytes, words) = payload.split_at(STATE_BYTES);
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
        let slots = 1usize << table.prob_bits;
        if table.entries.len() != slots
            || table.syms.len() != slots
            || !(table.packed.is_empty() || table.packed.len() == slots)
        {
            return Err(EntropyError::InvalidArgument(
                "decode table is incomplete".into(),
            ));
        }
        Ok(Self {
            states,
            words,
            pos: 0,
            table,
            left: n,
        })
    }

    /// Symbols not decoded yet.
    pub fn remaining(&self) -> usize {
        self.left
    }

    /// Decodes the next `out.len()` symbols with the best kernel.
    pub fn decode(&mut self, out: &mut [u8]) -> Result<()> {
        self.decode_with(out, Kernel::best())
    }

    /// Decodes the next `out.len()` symbols with `kernel` (or the best
    /// supported one below it).
    pub fn decode_with(&mut self, out: &mut [u8], kernel: Kernel) -> Result<()> {
        self.check_block(out.len())?;
        let done = match kernel.or_supported() {
            Kernel::Scalar => 0,
            #[cfg(target_arch = "x86_64")]
            k => {
                let full = out.len() / LANES * LANES;
                x86::decode_groups::<1>(k, [&mut *self], [&mut out[..full]])
            }
            #[cfg(not(target_arch = "x86_64"))]
            _ => 0,
        };
        self.left -= done;
        self.decode_scalar(&mut out[done..])
    }

    fn check_block(&self, len: usize) -> Result<()> {
        if len > self.left || (len != self.left && !len.is_multiple_of(LANES)) {
            return Err(EntropyError::InvalidArgument(format!(
                "block of {len} symbols with {} left: blocks must be whole groups of {LANES} or the rest",
                self.left
            )));
        }
        Ok(())
    }

    /// Decodes `out` (whole groups, then possibly the final partial group)
    /// with scalar code.
    fn decode_scalar(&mut self, out: &mut [u8]) -> Result<()> {
        let bits = self.table.prob_bits;
        let mut groups = out.chunks_exact_mut(LANES);
        for group in &mut groups {
            let group: &mut [u8; LANES] = group.try_into().expect("whole group");
            let window: Option<&[u8; GROUP_WINDOW]> = self
                .words
                .get(self.pos..self.pos + GROUP_WINDOW)
                .and_then(|w| w.try_into().ok());
            match window {
                Some(window) => {
                    self.pos += if self.table.packed.is_empty() {
                        group_fast(
                            &mut self.states,
                            &Split(&self.table.entries, &self.table.syms),
                            bits,
                            window,
                            group,
                        )
                    } else {
                        group_fast(
                            &mut self.states,
                            &Packed(&self.table.packed),
                            bits,
                            window,
                            group,
                        )
                    };
                }
                None => {
                    for (lane, slot_out) in group.iter_mut().enumerate() {
                        self.step_checked(lane, slot_out)?;
                    }
                }
            }
        }
        for (lane, slot_out) in groups.into_remainder().iter_mut().enumerate() {
            self.step_checked(lane, slot_out)?;
        }
        self.left -= out.len();
        Ok(())
    }

    #[inline(always)]
    fn step_checked(&mut self, lane: usize, slot_out: &mut u8) -> Result<()> {
        let bits = self.table.prob_bits;
        let x = self.states[lane];
        let slot = (x & ((1 << bits) - 1)) as usize;
        let e = self.table.entries[slot];
        *slot_out = self.table.syms[slot];
        let mut x = (e >> 16).wrapping_mul(x >> bits).wrapping_add(e & 0xffff);
        if x < RANS_L {
            let w = self.words.get(self.pos..self.pos + 2).ok_or_else(|| {
                truncated(
                    "rANS word",
                    STATE_BYTES + self.pos,
                    2,
                    self.words.len() - self.pos,
                )
            })?;
            x = (x << 16) | u32::from(u16::from_le_bytes([w[0], w[1]]));
            self.pos += 2;
        }
        self.states[lane] = x;
        Ok(())
    }

    /// Checks that every symbol was decoded, every word consumed, and every
    /// lane is back at its initial state.
    pub fn finish(self) -> Result<()> {
        if self.left != 0 {
            return Err(EntropyError::InvalidArgument(format!(
                "{} symbols left undecoded",
                self.left
            )));
        }
        if self.pos != self.words.len() {
            return Err(corrupt(
                STATE_BYTES + self.pos,
                format!(
                    "{} bytes left over after the last rANS symbol",
                    self.words.len() - self.pos
                ),
            ));
        }
        if let Some(lane) = self.states.iter().position(|&s| s != RANS_L) {
            return Err(corrupt(
                0,
                format!("rANS lane {lane} did not return to its initial state"),
            ));
        }
        Ok(())
    }
}

/// Decodes the next `out_a.len()` symbols of `a` and the next `out_b.len()`
/// of `b` (same block rules as [`Decoder::decode`]), the groups they have
/// in common in lock step: twice the independent work per loop iteration,
/// which hides the latency of the table lookups.
pub fn decode_pair<'a>(
    a: &mut Decoder<'a>,
    out_a: &mut [u8],
    b: &mut Decoder<'a>,
    out_b: &mut [u8],
    kernel: Kernel,
) -> Result<()> {
    a.check_block(out_a.len())?;
    b.check_block(out_b.len())?;
    #[cfg(target_arch = "x86_64")]
    let full = out_a.len().min(out_b.len()) / LANES * LANES;
    let done = match kernel.or_supported() {
        // Scalar code is bound by throughput, not latency; AVX2 has four
        // registers per payload already, and two payloads would not fit
        // its 16 registers.
        Kernel::Scalar | Kernel::Avx2 => 0,
        #[cfg(target_arch = "x86_64")]
        k => x86::decode_groups::<2>(
            k,
            [&mut *a, &mut *b],
            [&mut out_a[..full], &mut out_b[..full]],
        ),
        #[cfg(not(target_arch = "x86_64"))]
        _ => 0,
    };
    a.left -= done;
    b.left -= done;
    a.decode_with(&mut out_a[done..], kernel)?;
    b.decode_with(&mut out_b[done..], kernel)
}

/// [`decode_pair`] for `K` payloads: decodes the next `outs[k].len()`
/// symbols of every decoder, their common groups in lock step.
pub fn decode_many<'a, const K: usize>(
    decs: [&mut Decoder<'a>; K],
    outs: [&mut [u8]; K],
    kernel: Kernel,
) -> Result<()> {
    for (d, o) in decs.iter().zip(&outs) {
        d.check_block(o.len())?;
    }
    #[cfg(target_arch = "x86_64")]
    let full = outs.iter().map(|o| o.len()).min().unwrap_or(0) / LANES * LANES;
    let mut decs = decs;
    let mut outs = outs;
    let done = match kernel.or_supported() {
        Kernel::Scalar | Kernel::Avx2 => 0,
        #[cfg(target_arch = "x86_64")]
        k => {
            let views: [&mut [u8]; K] = {
                let mut it = outs.iter_mut();
                std::array::from_fn(|_| {
                    let o = it.next().expect("K outputs");
                    &mut o[..full]
                })
            };
            let ds: [&mut Decoder<'a>; K] = {
                let mut it = decs.iter_mut();
                std::array::from_fn(|_| &mut **it.next().expect("K decoders"))
            };
            x86::decode_groups::<K>(k, ds, views)
        }
        #[cfg(not(target_arch = "x86_64"))]
        _ => 0,
    };
    for (d, o) in decs.iter_mut().zip(outs.iter_mut()) {
        d.left -= done;
        d.decode_with(&mut o[done..], kernel)?;
    }
    Ok(())
}

/// Slot lookup of the scalar decoder: (symbol, frequency, bias).
trait Lookup {
    fn get(&self, slot: usize) -> (u8, u32, u32);
}

/// The one-word form `bias << 20 | freq << 8 | sym`.
struct Packed<'a>(&'a [u32]);

impl Lookup for Packed<'_> {
    #[inline(always)]
    fn get(&self, slot: usize) -> (u8, u32, u32) {
        let e = self.0[slot];
        (e as u8, (e >> 8) & 0xfff, e >> 20)
    }
}

/// The general form: `freq << 16 | bias` and the symbol apart.
struct Split<'a>(&'a [u32], &'a [u8]);

impl Lookup for Split<'_> {
    #[inline(always)]
    fn get(&self, slot: usize) -> (u8, u32, u32) {
        let e = self.0[slot];
        (self.1[slot], e >> 16, e & 0xffff)
    }
}

/// One group of [`LANES`] symbols whose words are all in `window`: every
/// lane's lookup first (independent work), then the refills, which only
/// chain through the word position. Returns the bytes of words used.
#[inline(always)]
fn group_fast<L: Lookup>(
    states: &mut [u32; LANES],
    lookup: &L,
    bits: u32,
    window: &[u8; GROUP_WINDOW],
    out: &mut [u8; LANES],
) -> usize {
    let mask = (1u32 << bits) - 1;
    let mut next = [0u32; LANES];
    for lane in 0..LANES {
        let x = states[lane];
        let (sym, freq, bias) = lookup.get((x & mask) as usize);
        out[lane] = sym;
        next[lane] = freq.wrapping_mul(x >> bits).wrapping_add(bias);
    }
    let mut used = 0usize;
    for lane in 0..LANES {
        let x = next[lane];
        // Arithmetic select: a branch here mispredicts on every other symbol.
        // `used` < 64 before the last lane; the mask only proves the bound.
        let refill = u32::from(x < RANS_L);
        let at = used & (GROUP_WINDOW - 2);
        let w = u32::from(u16::from_le_bytes([window[at], window[at | 1]]));
        states[lane] = (x << (refill << 4)) | (w & refill.wrapping_neg());
        used += (refill as usize) << 1;
    }
    used
}
