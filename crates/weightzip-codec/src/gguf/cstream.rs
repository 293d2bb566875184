//! A stream of byte symbols, each coded with the table of its context
//! (a byte the decoder computes before decoding the stream, from fields it
//! has already decoded).
//!
//! Layout: `mode: u8`, then
//! - `0` (raw): the `n` symbols verbatim;
//! - `1` (direct) or `2` (product): `bits: u8` (precision of the decode
//!   tables, ≤ 12), a bitmap of the contexts that occur (`ceil(n_ctx / 8)`
//!   bytes, bit `c % 8` of byte `c / 8`), one [`FreqTable`] per occurring
//!   context, `parts: u8` (1..=4) and for each part `payload_len: varint`
//!   and its [`ctx_rans`] payload. Part `k` of `p` holds the symbols from
//!   `32 * (k * (n / 32) / p)` to the start of the next part (the last ends
//!   at `n`); the decoder runs the parts side by side (more independent
//!   work in flight per step of its SIMD loop).
//!
//! - `3` (direct) or `4` (product) with one table for all contexts:
//!   `bits: u8`, the table, then the parts as above (short streams, where
//!   one table costs less than what separate tables would save).
//!
//! In direct mode each table is the context's 256-symbol table at `bits`.
//! In product mode each table is a 16-symbol *component* table and a symbol
//! is a byte of two 4-bit halves drawn independently from it: the decoder
//! builds the byte table with [`ctx_rans::product_table`]. A component table
//! costs ~20 bytes where a byte table costs ~300, which matters for the
//! small chunks of small tensors. Contexts that do not occur get no table
//! (the decoder gives them a placeholder it never uses). The number of
//! contexts is fixed by the codec, not stored.

use weightzip_entropy::ctx_rans::{
    self, ContextDecoder, ContextEncoder, Contexts, Placement, STATE_BYTES,
};
use weightzip_entropy::rans::Kernel;
use weightzip_entropy::FreqTable;
use weightzip_entropy::{read_at, write_varint, Histogram};

use super::Reader;
use crate::error::{CodecError, EntropyContext, Result};

/// Which table forms the encoder may use.
#[derive(Clone, Copy, Debug)]
pub struct Options {
    /// Try one 256-symbol table per context.
    pub direct: bool,
    /// Try 16-symbol component tables (symbols are two 4-bit halves).
    pub product: bool,
    /// Decode-table precisions to try (each ≤ 12).
    pub bits: &'static [u32],
}

/// Precision of the component tables of product mode.
const COMPONENT_BITS: u32 = 12;
/// Symbols per part the encoder aims at (more parts for longer streams).
const PART_SYMBOLS: usize = 1 << 16;
/// Streams shorter than this may also use 10-bit tables.
const SMALL_STREAM: usize = 1 << 16;

/// The symbol ranges of `parts` parts of an `n`-symbol stream.
fn part_ranges(n: usize, parts: usize) -> Vec<std::ops::Range<usize>> {
    let groups = n / 32;
    let mut bounds: Vec<usize> = (0..parts).map(|k| 32 * (k * groups / parts)).collect();
    bounds.push(n);
    bounds.windows(2).map(|w| w[0]..w[1]).collect()
}

fn placeholder(bits: u32) -> Result<FreqTable> {
    let mut f = [0u32; 256];
    f[0] = 1 << bits;
    FreqTable::from_freqs(f, bits).map_err(|source| CodecError::Entropy {
        codec: "cstream",
        source,
    })
}

/// (cost in bits, mode, bits, tables written, tables used)
type Candidate = (f64, u8, u32, Vec<FreqTable>, Vec<FreqTable>);

/// Encoded size in bits of `counts` under `table`, plus the table.
fn table_cost(table: &FreqTable, counts: &Histogram) -> f64 {
    table.cost_bits(counts) + 8.0 * table.serialized_len() as f64
}

/// Appends the stream of `symbols` with contexts `ctx` (each < `n_ctx`).
pub fn encode(
    codec: &'static str,
    symbols: &[u8],
    ctx: Contexts<'_>,
    n_ctx: usize,
    opts: Options,
    out: &mut Vec<u8>,
) -> Result<()> {
    let n = symbols.len();
    let mut pair = vec![[0u64; 256]; n_ctx];
    if ctx.marks {
        for (i, &s) in symbols.iter().enumerate() {
            pair[usize::from(ctx.get(i))][usize::from(s)] += 1;
        }
    } else {
        for (run, &c) in symbols.chunks(1 << ctx.shift).zip(ctx.bytes) {
            let h = &mut pair[usize::from(c)];
            for &s in run {
                h[usize::from(s)] += 1;
            }
        }
    }
    let present: Vec<bool> = pair.iter().map(|h| h.iter().any(|&c| c > 0)).collect();
    // Short streams may take coarser tables: they cost fewer bytes, and
    // decode speed hardly matters there.
    let mut bit_options = opts.bits.to_vec();
    if n < SMALL_STREAM && !bit_options.contains(&10) {
        bit_options.push(10);
    }
    let mut best: Option<Candidate> = None;
    let fixed = 8.0 * (STATE_BYTES + 8 + n_ctx.div_ceil(8)) as f64;
    // One table for every context (modes 3 and 4): no bitmap, one table.
    let mut merged = [0u64; 256];
    for h in &pair {
        for (m, &c) in merged.iter_mut().zip(h.iter()) {
            *m += c;
        }
    }
    if n > 0 {
        let shared_fixed = 8.0 * (STATE_BYTES + 8) as f64;
        for &bits in &bit_options {
            if opts.direct {
                let t = FreqTable::from_counts(&merged, bits).in_codec(codec)?;
                let cost = shared_fixed + table_cost(&t, &merged);
                if best.as_ref().is_none_or(|b| cost < b.0) {
                    best = Some((cost, 3, bits, vec![t.clone()], vec![t]));
                }
            }
            if opts.product {
                let mut nib = [0u64; 256];
                for (s, &c) in merged.iter().enumerate() {
                    nib[s & 15] += c;
                    nib[s >> 4] += c;
                }
                let comp = FreqTable::from_counts(&nib, COMPONENT_BITS).in_codec(codec)?;
                let t = ctx_rans::product_table(&comp, &comp, bits).in_codec(codec)?;
                let cost = shared_fixed + t.cost_bits(&merged) + 8.0 * comp.serialized_len() as f64;
                if best.as_ref().is_none_or(|b| cost < b.0) {
                    best = Some((cost, 4, bits, vec![comp], vec![t]));
                }
            }
        }
    }
    if opts.product {
        let mut comps = Vec::with_capacity(n_ctx);
        for h in &pair {
            let mut nib = [0u64; 256];
            for (s, &c) in h.iter().enumerate() {
                nib[s & 15] += c;
                nib[s >> 4] += c;
            }
            comps.push(nib);
        }
        let comp_tables: Vec<Option<FreqTable>> = comps
            .iter()
            .zip(&present)
            .map(|(h, &p)| {
                p.then(|| FreqTable::from_counts(h, COMPONENT_BITS))
                    .transpose()
            })
            .collect::<std::result::Result<_, _>>()
            .in_codec(codec)?;
        for &bits in &bit_options {
            let mut cost = fixed;
            let mut used = Vec::with_capacity(n_ctx);
            let mut written = Vec::new();
            for (c, t) in comp_tables.iter().enumerate() {
                match t {
                    Some(t) => {
                        let p = ctx_rans::product_table(t, t, bits).in_codec(codec)?;
                        cost += p.cost_bits(&pair[c]) + 8.0 * t.serialized_len() as f64;
                        written.push(t.clone());
                        used.push(p);
                    }
                    None => used.push(placeholder(bits)?),
                }
            }
            if best.as_ref().is_none_or(|b| cost < b.0) {
                best = Some((cost, 2, bits, written, used));
            }
        }
    }
    if opts.direct {
        for &bits in &bit_options {
            let mut cost = fixed;
            let mut used = Vec::with_capacity(n_ctx);
            let mut written = Vec::new();
            for (h, &p) in pair.iter().zip(&present) {
                if p {
                    let t = FreqTable::from_counts(h, bits).in_codec(codec)?;
                    cost += table_cost(&t, h);
                    written.push(t.clone());
                    used.push(t);
                } else {
                    used.push(placeholder(bits)?);
                }
            }
            if best.as_ref().is_none_or(|b| cost < b.0) {
                best = Some((cost, 1, bits, written, used));
            }
        }
    }
    match best {
        Some((cost, mode, bits, written, used)) if cost < 8.0 * n as f64 => {
            let start = out.len();
            out.push(mode);
            out.push(bits as u8);
            let shared = mode >= 3;
            if !shared {
                let mut bitmap = vec![0u8; n_ctx.div_ceil(8)];
                for (c, &p) in present.iter().enumerate() {
                    if p {
                        bitmap[c / 8] |= 1 << (c % 8);
                    }
                }
                out.extend_from_slice(&bitmap);
            }
            for t in &written {
                t.write(out);
            }
            let ctx = if shared { Contexts::constant() } else { ctx };
            let enc = ContextEncoder::new(&used).in_codec(codec)?;
            let parts = (n / PART_SYMBOLS).clamp(1, 2);
            out.push(parts as u8);
            let mut payload = Vec::with_capacity(n / parts + 256);
            for range in part_ranges(n, parts) {
                payload.clear();
                ctx_rans::encode_range(symbols, range, ctx, &enc, &mut payload).in_codec(codec)?;
                write_varint(out, payload.len() as u64);
                out.extend_from_slice(&payload);
            }
            if out.len() - start < n + 1 {
                return Ok(());
            }
            out.truncate(start);
        }
        _ => {}
    }
    out.push(0);
    out.extend_from_slice(symbols);
    Ok(())
}

/// Decodes a stream written by [`encode`] into `out` (`ctx` as given to
/// the encoder, each < `n_ctx`).
pub fn decode(r: &mut Reader<'_>, ctx: Contexts<'_>, n_ctx: usize, out: &mut [u8]) -> Result<()> {
    let n = out.len();
    decode_placed(r, n, ctx, n_ctx, out, Placement::CONTIGUOUS)
}

/// [`decode`] of `n` symbols placed into `out` by `place`.
pub fn decode_placed(
    r: &mut Reader<'_>,
    n: usize,
    ctx: Contexts<'_>,
    n_ctx: usize,
    out: &mut [u8],
    place: Placement,
) -> Result<()> {
    let codec = r.codec;
    let mode = r.bytes(1, "stream mode")?[0];
    if mode == 0 {
        let raw = r.bytes(n, "raw symbols")?;
        if place.run == 0 {
            return Err(r.corrupt("empty placement run"));
        }
        for (k, piece) in raw.chunks(place.run).enumerate() {
            let at = k * place.stride + place.offset;
            out.get_mut(at..at + piece.len())
                .ok_or_else(|| r.corrupt("raw symbols do not fit the output"))?
                .copy_from_slice(piece);
        }
        return Ok(());
    }
    if mode > 4 {
        return Err(r.corrupt(format!("unknown stream mode {mode}")));
    }
    let bits = u32::from(r.bytes(1, "table precision")?[0]);
    if !(8..=ctx_rans::MAX_BITS).contains(&bits) {
        return Err(r.corrupt(format!("table precision {bits}")));
    }
    let shared = mode >= 3;
    let (mode, n_ctx, ctx) = if shared {
        (mode - 2, 1, Contexts::constant())
    } else {
        (mode, n_ctx, ctx)
    };
    let all = [1u8];
    let bitmap = if shared {
        &all[..]
    } else {
        r.bytes(n_ctx.div_ceil(8), "context bitmap")?
    };
    // Tables up to the last context present (a context past it never occurs
    // in a valid stream; the decoder rejects one) — but marks contexts need
    // all of theirs, as the encoder had: a chunk without a −127 mark still
    // decodes with a placeholder table for that context.
    let used = if ctx.marks {
        n_ctx
    } else {
        (0..n_ctx)
            .rev()
            .find(|&c| bitmap[c / 8] >> (c % 8) & 1 == 1)
            .map_or(1, |c| c + 1)
    };
    let mut tables = Vec::with_capacity(used);
    for c in 0..used {
        if bitmap[c / 8] >> (c % 8) & 1 == 0 {
            tables.push(placeholder(bits)?);
            continue;
        }
        let at = r.pos;
        let t = read_at(r.buf, &mut r.pos, FreqTable::read).in_codec(codec)?;
        let t = if mode == 1 {
            if t.prob_bits() != bits {
                return Err(CodecError::Corrupt {
                    codec,
                    offset: at,
                    reason: format!("table of {} bits in a {bits}-bit stream", t.prob_bits()),
                });
            }
            t
        } else {
            ctx_rans::product_table(&t, &t, bits).map_err(|e| CodecError::Corrupt {
                codec,
                offset: at,
                reason: e.to_string(),
            })?
        };
        tables.push(t);
    }
    if bitmap.len() * 8 > n_ctx && bitmap[n_ctx / 8] >> (n_ctx % 8) != 0 {
        return Err(r.corrupt("context bitmap marks contexts past the last"));
    }
    let parts = usize::from(r.bytes(1, "part count")?[0]);
    if !(1..=ctx_rans::MAX_PARTS).contains(&parts) {
        return Err(r.corrupt(format!("{parts} parts")));
    }
    let mut payloads = Vec::with_capacity(parts);
    for _ in 0..parts {
        let limit = r.buf.len().saturating_sub(r.pos);
        let len = read_at(r.buf, &mut r.pos, |r| r.len(limit, "payload")).in_codec(codec)?;
        payloads.push(r.bytes(len, "payload")?);
    }
    let dec = ContextDecoder::new(&tables).in_codec(codec)?;
    let ranges = part_ranges(n, parts);
    ctx_rans::decode_parts(&payloads, &ranges, ctx, &dec, out, place, Kernel::best())
        .in_codec(codec)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: Options = Options {
        direct: true,
        product: true,
        bits: &[11, 12],
    };

    fn round_trip(sym: &[u8], ctx: &[u8], n_ctx: usize, opts: Options) -> usize {
        let mut buf = Vec::new();
        let ctx = Contexts::per_symbol(ctx);
        encode("test", sym, ctx, n_ctx, opts, &mut buf).unwrap();
        let mut back = vec![0u8; sym.len()];
        let mut r = Reader::new("test", &buf);
        decode(&mut r, ctx, n_ctx, &mut back).unwrap();
        r.finish().unwrap();
        assert_eq!(back, sym);
        buf.len()
    }

    #[test]
    fn every_mode_round_trips() {
        let noise = super::super::test_util::noise(50_000, 1);
        // Two independent skewed nibbles per byte, skew by context.
        let ctx: Vec<u8> = noise.iter().map(|&b| b % 5).collect();
        let sym: Vec<u8> = noise
            .iter()
            .zip(&ctx)
            .map(|(&b, &c)| {
                let a = (b >> 3) % (4 + c);
                let h = (b.rotate_left(3) >> 2) % (4 + c);
                a | h << 4
            })
            .collect();
        let product = round_trip(&sym, &ctx, 7, ALL);
        assert!(product < sym.len() * 7 / 8, "{product}");
        let direct = round_trip(
            &sym,
            &ctx,
            7,
            Options {
                product: false,
                ..ALL
            },
        );
        assert!(direct < sym.len());
        // Uniform bytes go raw.
        let raw = round_trip(&noise, &vec![0; noise.len()], 1, ALL);
        assert_eq!(raw, noise.len() + 1);
        round_trip(&[], &[], 3, ALL);
        round_trip(&[9], &[2], 3, ALL);
    }
}
