//! The encoder of the multi-context coder.

use super::{ContextEncoder, Contexts, LANES, RANS_L, STATE_BYTES};
use crate::error::{EntropyError, Result};

/// Appends the payload of `symbols` (symbol `i` coded with the table of
/// its context). Fails, leaving `out` unchanged, if a symbol has frequency
/// 0 in its table or a context has no table.
pub fn encode(
    symbols: &[u8],
    ctx: Contexts<'_>,
    enc: &ContextEncoder,
    out: &mut Vec<u8>,
) -> Result<()> {
    encode_range(symbols, 0..symbols.len(), ctx, enc, out)
}

/// Appends the payload of `symbols[range]`, symbol `i` (an index into the
/// whole `symbols`) coded with the table of context `ctx.get(i)`: one part
/// of a stream cut into parts that [`decode_parts`](super::decode_parts) decodes side by side.
pub fn encode_range(
    symbols: &[u8],
    range: std::ops::Range<usize>,
    ctx: Contexts<'_>,
    enc: &ContextEncoder,
    out: &mut Vec<u8>,
) -> Result<()> {
    if range.start > range.end || range.end > symbols.len() {
        return Err(EntropyError::InvalidArgument(format!(
            "range {range:?} outside {} symbols",
            symbols.len()
        )));
    }
    ctx.check(range.end, enc.syms.len())?;
    let bits = enc.bits;
    let mut states = [RANS_L; LANES];
    let mut words: Vec<u16> = Vec::with_capacity(range.len() / 2 + 16);
    for i in range.clone().rev() {
        let c = ctx.get(i);
        let e = enc.syms[usize::from(c)][usize::from(symbols[i])];
        if e.freq == 0 {
            return Err(EntropyError::InvalidArgument(format!(
                "symbol {} has frequency 0 in table {c}",
                symbols[i]
            )));
        }
        let x = &mut states[(i - range.start) % LANES];
        // x >= freq << (32 - bits): one flush brings x below the bound.
        if (*x >> (32 - bits)) >= e.freq {
            words.push(*x as u16);
            *x >>= 16;
        }
        *x = ((*x / e.freq) << bits) + (*x % e.freq) + e.start;
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

/// Exact size in bytes of the payload [`encode`] would write, without
/// keeping it (for choosing between table sets).
pub fn encoded_len(symbols: &[u8], ctx: Contexts<'_>, enc: &ContextEncoder) -> Result<usize> {
    let mut out = Vec::new();
    encode(symbols, ctx, enc, &mut out)?;
    Ok(out.len())
}
