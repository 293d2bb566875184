//! `wz_bf16j`: bf16 as one entropy-coded symbol per value plus raw bits.
//!
//! The top 10 bits of a value (sign, 8 exponent bits, the top mantissa
//! bit) form a joint symbol, coded with order-0 rANS over the alphabet of
//! the values present (at most 256); the low 6 mantissa bits are stored
//! raw. Joint coding captures the dependence between sign, exponent and the
//! leading mantissa bit (which the split into exponent and sign + mantissa
//! planes of [`super::bf16_planes`] loses), and decoding costs one table lookup per value
//! instead of two, so it is both smaller and about twice as fast.
//!
//! Layout after the common header (`n`, tail): `layout: u8`, then
//! - `0` (split, used when more than 256 distinct top parts occur): the two
//!   plane streams of [`super::bf16_planes`], exactly;
//! - `1` (joint): `count - 1: u8`; the `count` distinct 10-bit top parts in
//!   ascending order as varints (the first, then each difference); `m:
//!   varint`, the values in the first half; the symbol stream (indices into
//!   the alphabet) of values `0..m`, then of values `m..n` (two independent
//!   streams, decoded in lock step); then the low bits, 6 per value in a
//!   little-endian bit stream (`ceil(6n / 8)` bytes, value `i` at bit
//!   `6i`).

use super::*;
const NAME: &str = "wz_bf16j";
/// Layout byte: the plane streams of `wz_bf16` follow.
const SPLIT: u8 = 0;
/// Layout byte: joint symbols and raw low bits follow.
const JOINT: u8 = 1;
/// Raw low bits per value.
const LOW: u32 = 6;
/// Distinct top parts (2^(16 - LOW)).
const TOPS: usize = 1 << (16 - LOW);

/// Appends the encoding of `data` (little-endian bf16 values).
pub fn encode(data: &[u8], out: &mut Vec<u8>) -> Result<()> {
    let n = write_header::<2>(data, out);
    encode_body(&data[..n * 2], out)
}

/// Appends the layout byte and what follows it for `values` (whole
/// bf16 values; the header is the caller's).
pub(super) fn encode_body(values: &[u8], out: &mut Vec<u8>) -> Result<()> {
    let n = values.len() / 2;
    // The first half is a whole number of rANS groups.
    let m = n / 64 * 32;
    let (ha, hb) = top_histograms(values, m);
    let alphabet: Vec<u16> = (0..TOPS as u16)
        .filter(|&t| ha[t as usize] + hb[t as usize] > 0)
        .collect();
    if alphabet.is_empty() || alphabet.len() > 256 {
        out.push(SPLIT);
        return encode_plane_streams::<2, 2>(NAME, values, out, super::bf16_planes::split);
    }
    out.push(JOINT);
    write_alphabet(&alphabet, out);
    write_varint(out, m as u64);
    // Symbols are the alphabet indices of the top parts; the encoder
    // looks them up by top part straight from the values.
    let mut symbol_of = [u16::MAX; TOPS];
    let (mut ca, mut cb) = ([0u64; 256], [0u64; 256]);
    for (i, &t) in alphabet.iter().enumerate() {
        symbol_of[t as usize] = i as u16;
        ca[i] = ha[t as usize];
        cb[i] = hb[t as usize];
    }
    let (a, b) = values.split_at(m * 2);
    encode_stream_pair_keyed(a, &ca, b, &cb, &symbol_of, LOW, DEFAULT_PROB_BITS, out)
        .in_codec(NAME)?;
    let low_len = (n * LOW as usize).div_ceil(8);
    let at = out.len();
    out.resize(at + low_len, 0);
    pack_low(values, &mut out[at..]);
    Ok(())
}

/// Histograms of the top parts of the values `0..m` and `m..`.
pub(super) fn top_histograms(values: &[u8], m: usize) -> ([u64; TOPS], [u64; TOPS]) {
    let mut h = [[0u64; TOPS]; 2];
    let (a, b) = values.split_at(m * 2);
    for (half, hist) in [a, b].into_iter().zip(h.iter_mut()) {
        // Four sub-histograms break the store-to-load chains of
        // repeated values; u32 counts cannot overflow in 2^30 values.
        let mut sub = vec![[0u32; TOPS]; 4];
        for block in half.chunks(2 << 30) {
            let mut quads = block.chunks_exact(8);
            for q in &mut quads {
                let v = u64::from_le_bytes(q.try_into().expect("8 bytes"));
                sub[0][(v >> 6 & 0x3ff) as usize] += 1;
                sub[1][(v >> 22 & 0x3ff) as usize] += 1;
                sub[2][(v >> 38 & 0x3ff) as usize] += 1;
                sub[3][(v >> 54) as usize] += 1;
            }
            for v in quads.remainder().chunks_exact(2) {
                sub[0][(u16::from_le_bytes([v[0], v[1]]) >> 6) as usize] += 1;
            }
            for s in sub.iter_mut() {
                for (t, c) in hist.iter_mut().zip(s.iter_mut()) {
                    *t += u64::from(*c);
                    *c = 0;
                }
            }
        }
    }
    let [a, b] = h;
    (a, b)
}

/// Writes the low bits of every value to the bit stream `low` (zeroed
/// beyond the last value's bits).
pub(super) fn pack_low(values: &[u8], low: &mut [u8]) {
    // 8 values (16 bytes) to 6 bytes at a time.
    let mut eights = values.chunks_exact(16);
    for (v, o) in (&mut eights).zip(low.chunks_exact_mut(6)) {
        let lo = u64::from_le_bytes(v[..8].try_into().expect("8 bytes"));
        let hi = u64::from_le_bytes(v[8..].try_into().expect("8 bytes"));
        let mut bits = 0u64;
        for k in 0..4 {
            bits |= ((lo >> (16 * k)) & 0x3f) << (6 * k);
            bits |= ((hi >> (16 * k)) & 0x3f) << (24 + 6 * k);
        }
        o.copy_from_slice(&bits.to_le_bytes()[..6]);
    }
    // The last 1..7 values.
    let rest = eights.remainder();
    let mut bits = 0u64;
    for (k, v) in rest.chunks_exact(2).enumerate() {
        bits |= u64::from(v[0] & 0x3f) << (6 * k);
    }
    // The tail starts after the whole groups of 8 values (the bit
    // stream of 5..7 values can itself be a whole 6 bytes).
    let tail = &mut low[values.len() / 16 * 6..];
    let len = tail.len();
    tail.copy_from_slice(&bits.to_le_bytes()[..len]);
}

/// Decodes one encoding into `out`.
pub fn decode(input: &[u8], out: &mut [u8]) -> Result<()> {
    decode_with(input, out, Kernel::best())
}

/// [`decode`] with an explicit kernel (tests run every one).
pub fn decode_with(input: &[u8], out: &mut [u8], kernel: Kernel) -> Result<()> {
    let (n, tail, pos) = parse_header::<2>(NAME, input, out.len())?;
    let (body, rest) = out.split_at_mut(n * 2);
    decode_body(input, pos, body, kernel)?;
    rest.copy_from_slice(tail);
    Ok(())
}

/// Decodes the layout byte at `pos` and what follows it (to the end of
/// `input`) into the whole values `body`.
pub(super) fn decode_body(
    input: &[u8],
    mut pos: usize,
    body: &mut [u8],
    kernel: Kernel,
) -> Result<()> {
    let n = body.len() / 2;
    let corrupt = |offset: usize, reason: String| CodecError::Corrupt {
        codec: NAME,
        offset,
        reason,
    };
    let layout = *input
        .get(pos)
        .ok_or_else(|| corrupt(pos, "truncated layout byte".into()))?;
    pos += 1;
    match layout {
        SPLIT => decode_plane_streams::<2>(NAME, input, pos, n, |at, [exp, sm]| {
            super::bf16_planes::merge(exp, sm, &mut body[at * 2..(at + exp.len()) * 2]);
        })?,
        JOINT => decode_joint(input, pos, n, body, kernel)?,
        other => return Err(corrupt(pos - 1, format!("unknown layout {other}"))),
    }
    Ok(())
}

fn decode_joint(
    input: &[u8],
    mut pos: usize,
    n: usize,
    body: &mut [u8],
    kernel: Kernel,
) -> Result<()> {
    let corrupt = |offset: usize, reason: String| CodecError::Corrupt {
        codec: NAME,
        offset,
        reason,
    };
    let alphabet = read_alphabet(NAME, input, &mut pos, TOPS as u16)?;
    let count = alphabet.len();
    // Each index's top part, already shifted into place; indices past
    // the alphabet never decode (checked below) and map to 0.
    let mut tops = [0u16; 256];
    for (top, &t) in tops.iter_mut().zip(&alphabet) {
        *top = t << LOW;
    }
    let m = read_first_half(NAME, input, &mut pos, n)?;
    let views = [
        read_at(input, &mut pos, |r| parse_stream(r, m)).in_codec(NAME)?,
        read_at(input, &mut pos, |r| parse_stream(r, n - m)).in_codec(NAME)?,
    ];
    let low_len = (n * LOW as usize).div_ceil(8);
    if input.len() != pos + low_len {
        return Err(corrupt(
            pos,
            format!(
                "{} bytes of low bits, expected {low_len}",
                input.len().saturating_sub(pos)
            ),
        ));
    }
    let low = &input[pos..];
    for view in &views {
        let fits = match view {
            StreamView::Raw(bytes) => bytes.iter().all(|&b| usize::from(b) < count),
            StreamView::Constant { symbol, .. } => usize::from(*symbol) < count,
            StreamView::Rans { table, .. } => table.freqs()[count..].iter().all(|&f| f == 0),
        };
        if !fits {
            return Err(corrupt(pos, "symbol outside the alphabet".into()));
        }
    }
    let tables = views.clone().map(|v| match v {
        StreamView::Rans { table, .. } => Some(DecodeTable::new(&table)),
        _ => None,
    });
    let mut bufs = [[0u8; BLOCK]; 2];
    let mut sources: [Option<Source<'_>>; 2] = [None, None];
    for (p, view) in views.into_iter().enumerate() {
        sources[p] = Some(match view {
            StreamView::Raw(bytes) => Source::Raw(bytes),
            StreamView::Constant { symbol, .. } => {
                bufs[p].fill(symbol);
                Source::Constant
            }
            StreamView::Rans { payload, n, .. } => Source::Rans(
                Decoder::new(payload, tables[p].as_ref().expect("built above"), n)
                    .in_codec(NAME)?,
            ),
        });
    }
    let lens = [m, n - m];
    let mut start = 0;
    while start < lens[1] {
        let len = [
            BLOCK.min(lens[0].saturating_sub(start)),
            BLOCK.min(lens[1] - start),
        ];
        let [ba, bb] = &mut bufs;
        match &mut sources {
            [Some(Source::Rans(da)), Some(Source::Rans(db))] => {
                decode_pair(da, &mut ba[..len[0]], db, &mut bb[..len[1]], kernel).in_codec(NAME)?;
            }
            [a, b] => {
                if let Some(Source::Rans(d)) = a {
                    d.decode_with(&mut ba[..len[0]], kernel).in_codec(NAME)?;
                }
                if let Some(Source::Rans(d)) = b {
                    d.decode_with(&mut bb[..len[1]], kernel).in_codec(NAME)?;
                }
            }
        }
        for (p, first) in [(0, start), (1, m + start)] {
            if len[p] == 0 {
                continue;
            }
            let symbols = match &sources[p] {
                Some(Source::Raw(bytes)) => &bytes[start..start + len[p]],
                _ => &bufs[p][..len[p]],
            };
            // `first` is a multiple of 32, so its bits start a byte.
            let bit_bytes = (len[p] * LOW as usize).div_ceil(8);
            let bits = &low[first / 8 * LOW as usize..][..bit_bytes];
            merge_joint(
                &tops,
                symbols,
                bits,
                &mut body[first * 2..(first + len[p]) * 2],
                kernel,
            );
        }
        start += BLOCK;
    }
    for source in sources.into_iter().flatten() {
        if let Source::Rans(d) = source {
            d.finish().in_codec(NAME)?;
        }
    }
    Ok(())
}

/// Writes value `i` = `tops[symbols[i]] | bits_i` for every symbol, the
/// low bits read from the bit stream `bits` (which starts at value 0).
pub(super) fn merge_joint(
    tops: &[u16; 256],
    symbols: &[u8],
    bits: &[u8],
    out: &mut [u8],
    kernel: Kernel,
) {
    // Only x86 has SIMD parts to do first.
    #[cfg_attr(not(target_arch = "x86_64"), allow(unused_mut))]
    let mut done = 0;
    #[cfg(target_arch = "x86_64")]
    if kernel == Kernel::Avx512 {
        done = x86::merge_joint(tops, symbols, bits, out);
    }
    let _ = kernel;
    let (symbols, bits, out) = (
        &symbols[done..],
        &bits[done / 8 * 6..],
        &mut out[done * 2..],
    );
    let mut groups = symbols.chunks_exact(4);
    let mut outs = out.chunks_exact_mut(8);
    for ((s, b), o) in (&mut groups).zip(bits.chunks_exact(3)).zip(&mut outs) {
        let w = u32::from_le_bytes([b[0], b[1], b[2], 0]);
        for k in 0..4 {
            let v = tops[usize::from(s[k])] | ((w >> (6 * k)) & 0x3f) as u16;
            o[2 * k..2 * k + 2].copy_from_slice(&v.to_le_bytes());
        }
    }
    let rest = groups.remainder();
    if !rest.is_empty() {
        let at = (symbols.len() - rest.len()) / 4 * 3;
        let mut w = [0u8; 4];
        let tail = &bits[at..];
        w[..tail.len()].copy_from_slice(tail);
        let w = u32::from_le_bytes(w);
        for (k, (&s, o)) in rest
            .iter()
            .zip(outs.into_remainder().chunks_exact_mut(2))
            .enumerate()
        {
            let v = tops[usize::from(s)] | ((w >> (6 * k)) & 0x3f) as u16;
            o.copy_from_slice(&v.to_le_bytes());
        }
    }
}
