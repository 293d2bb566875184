//! The decoders of the multi-context coder: one payload, one payload
//! placed into a strided output, and several payloads side by side.

#[cfg(target_arch = "x86_64")]
use super::x86;
use super::{ContextDecoder, Contexts, LANES, RANS_L, STATE_BYTES};
use crate::error::{corrupt, truncated, EntropyError, Result};
use crate::rans::Kernel;

/// Decodes `out.len()` symbols (symbol `i` with table `ctx[i]`) from
/// exactly one payload `input`.
pub fn decode(input: &[u8], ctx: &[u8], dec: &ContextDecoder, out: &mut [u8]) -> Result<()> {
    decode_with(input, ctx, dec, out, Kernel::best())
}

/// [`decode`] with an explicit kernel (falls back to a supported one).
pub fn decode_with(
    input: &[u8],
    ctx: &[u8],
    dec: &ContextDecoder,
    out: &mut [u8],
    kernel: Kernel,
) -> Result<()> {
    if ctx.len() != out.len() {
        return Err(EntropyError::LengthMismatch {
            expected: out.len(),
            found: ctx.len(),
        });
    }
    let n = out.len();
    decode_placed(
        input,
        n,
        Contexts::per_symbol(ctx),
        dec,
        out,
        Placement::CONTIGUOUS,
        kernel,
    )
}

/// Where decoded symbols go in the output: symbol `i` at
/// `(i / run) * stride + offset + i % run`, so that runs of symbols land in
/// fixed-size records (e.g. the 32 quants of each 34-byte Q8_0 block)
/// without a copy. The bytes between runs are left as they are.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Placement {
    /// Symbols per record (a multiple of 16 for the SIMD kernels).
    pub run: usize,
    /// Bytes per record (`offset + run <= stride`).
    pub stride: usize,
    /// Where the run starts inside its record.
    pub offset: usize,
}

impl Placement {
    /// Symbol `i` at byte `i`.
    pub const CONTIGUOUS: Placement = Placement {
        run: 16,
        stride: 16,
        offset: 0,
    };

    #[inline]
    pub(super) fn index(self, i: usize) -> usize {
        (i / self.run) * self.stride + self.offset + i % self.run
    }

    /// Checks that `n` symbols fit `out_len` bytes without overlapping.
    fn check(self, n: usize, out_len: usize) -> Result<()> {
        let ok = self.run > 0
            && self
                .offset
                .checked_add(self.run)
                .is_some_and(|e| e <= self.stride)
            && (n == 0
                || (n - 1)
                    .checked_div(self.run)
                    .and_then(|r| r.checked_mul(self.stride))
                    .and_then(|b| b.checked_add(self.offset + (n - 1) % self.run))
                    .is_some_and(|last| last < out_len));
        if ok {
            Ok(())
        } else {
            Err(EntropyError::InvalidArgument(format!(
                "{n} symbols placed as {self:?} do not fit {out_len} bytes"
            )))
        }
    }
}

/// Decodes `n` symbols (each with the table of its context) from exactly
/// one payload `input`, writing them into `out` as `place` says.
pub fn decode_placed(
    input: &[u8],
    n: usize,
    ctx: Contexts<'_>,
    dec: &ContextDecoder,
    out: &mut [u8],
    place: Placement,
    kernel: Kernel,
) -> Result<()> {
    let range = 0..n;
    decode_parts(
        &[input],
        std::slice::from_ref(&range),
        ctx,
        dec,
        out,
        place,
        kernel,
    )
}

/// Most parts [`decode_parts`] decodes side by side.
pub const MAX_PARTS: usize = 4;

/// Decodes a stream cut into parts: part `k` is the payload `inputs[k]` of
/// the symbols `ranges[k]` (written by [`encode_range`](super::encode_range)). The ranges must
/// follow each other from 0 and start at multiples of [`LANES`]. The SIMD
/// kernels decode the parts in lock step, which hides the latency of each
/// part's gather → multiply → refill chain behind the others'.
pub fn decode_parts(
    inputs: &[&[u8]],
    ranges: &[std::ops::Range<usize>],
    ctx: Contexts<'_>,
    dec: &ContextDecoder,
    out: &mut [u8],
    place: Placement,
    kernel: Kernel,
) -> Result<()> {
    if inputs.len() != ranges.len() || inputs.is_empty() || inputs.len() > MAX_PARTS {
        return Err(EntropyError::InvalidArgument(format!(
            "{} payloads for {} ranges (1..={MAX_PARTS})",
            inputs.len(),
            ranges.len()
        )));
    }
    let mut next = 0;
    for r in ranges {
        if r.start != next || r.end < r.start || r.start % LANES != 0 {
            return Err(EntropyError::InvalidArgument(format!(
                "part {r:?} does not follow at a multiple of {LANES} from {next}"
            )));
        }
        next = r.end;
    }
    let n = next;
    place.check(n, out.len())?;
    ctx.check(n, dec.count)?;
    if dec.packed.len() != dec.count << dec.bits {
        return Err(EntropyError::InvalidArgument(
            "decode tables are incomplete".into(),
        ));
    }
    let mut parts = Vec::with_capacity(inputs.len());
    for (input, r) in inputs.iter().zip(ranges) {
        parts.push(Part::new(input, r.clone())?);
    }
    simd(kernel, &mut parts, ctx, dec, out, place);
    for p in &mut parts {
        scalar(p, ctx, dec, out, place)?;
        p.finish()?;
    }
    Ok(())
}

/// One payload being decoded: lane states, read position in its words,
/// and the symbols it still has to produce.
pub(super) struct Part<'a> {
    pub(super) states: [u32; LANES],
    pub(super) words: &'a [u8],
    pub(super) pos: usize,
    pub(super) next: usize,
    pub(super) end: usize,
}

impl<'a> Part<'a> {
    pub(super) fn new(input: &'a [u8], range: std::ops::Range<usize>) -> Result<Self> {
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
        Ok(Self {
            states,
            words,
            pos: 0,
            next: range.start,
            end: range.end,
        })
    }

    /// Whole groups left.
    #[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
    pub(super) fn groups(&self) -> usize {
        (self.end - self.next) / LANES
    }

    /// Checks that the payload was consumed exactly.
    pub(super) fn finish(&self) -> Result<()> {
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

/// Runs the SIMD kernels: all parts in lock step while each has whole
/// groups and a full word window, then each part alone; the scalar code
/// finishes what is left.
fn simd(
    kernel: Kernel,
    parts: &mut [Part<'_>],
    ctx: Contexts<'_>,
    dec: &ContextDecoder,
    out: &mut [u8],
    place: Placement,
) {
    #[cfg(target_arch = "x86_64")]
    x86::decode_parts(kernel, parts, ctx, dec, out, place);
    #[cfg(not(target_arch = "x86_64"))]
    {
        let _ = (kernel, parts, ctx, dec, out, place);
    }
}

/// Portable decoder for what is left of a part.
fn scalar(
    p: &mut Part<'_>,
    ctx: Contexts<'_>,
    dec: &ContextDecoder,
    out: &mut [u8],
    place: Placement,
) -> Result<()> {
    let bits = dec.bits;
    let mask = (1u32 << bits) - 1;
    let packed = &dec.packed[..];
    while p.next < p.end {
        let i = p.next;
        let len = (p.end - i).min(LANES);
        let mut xs = [0u32; LANES];
        for (lane, xl) in xs.iter_mut().enumerate().take(len) {
            let x = p.states[lane];
            let e = packed[(usize::from(ctx.get(i + lane)) << bits) | (x & mask) as usize];
            out[place.index(i + lane)] = e as u8;
            *xl = ((e >> 20) + 1) * (x >> bits) + ((e >> 8) & 0xfff);
        }
        for (lane, &x) in xs.iter().enumerate().take(len) {
            let x = if x < RANS_L {
                let w = p.words.get(p.pos..p.pos + 2).ok_or_else(|| {
                    truncated(
                        "rANS word",
                        STATE_BYTES + p.pos,
                        2,
                        p.words.len().saturating_sub(p.pos),
                    )
                })?;
                p.pos += 2;
                (x << 16) | u32::from(u16::from_le_bytes([w[0], w[1]]))
            } else {
                x
            };
            p.states[lane] = x;
        }
        p.next += len;
    }
    Ok(())
}
