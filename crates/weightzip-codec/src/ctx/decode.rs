//! The decoder.

use super::*;

pub(super) fn corrupt(l: Layout, offset: usize, reason: impl Into<String>) -> CodecError {
    CodecError::Corrupt {
        codec: l.name,
        offset,
        reason: reason.into(),
    }
}

/// Walks the header of the [`weightzip_entropy::stream`] at `pos` and checks
/// that an rANS payload fits in the input before `parse_stream` slices it
/// (its length is bounded there by the bytes left before the length field).
pub(super) fn check_stream(l: Layout, input: &[u8], mut pos: usize) -> Result<()> {
    if input.get(pos) == Some(&2) {
        pos += 1;
        read_at(input, &mut pos, ByteReader::varint).in_codec(l.name)?;
        read_at(input, &mut pos, FreqTable::read).in_codec(l.name)?;
        let len = read_at(input, &mut pos, ByteReader::varint).in_codec(l.name)?;
        if len > (input.len() - pos) as u64 {
            return Err(corrupt(l, pos, "escape stream longer than the input"));
        }
    }
    Ok(())
}

pub(super) fn decode_with(l: Layout, input: &[u8], out: &mut [u8]) -> Result<()> {
    let mut pos = 0;
    let n_stored = read_at(input, &mut pos, ByteReader::varint).in_codec(l.name)?;
    let n = out.len() / 2;
    if n_stored != n as u64 {
        return Err(corrupt(
            l,
            0,
            format!("holds {n_stored} elements, the output needs {n}"),
        ));
    }
    let tail_len = out.len() - n * 2;
    if input.get(pos).copied().map(usize::from) != Some(tail_len) {
        return Err(corrupt(l, pos, format!("tail length, expected {tail_len}")));
    }
    pos += 1;
    let tail = input
        .get(pos..pos + tail_len)
        .ok_or_else(|| corrupt(l, pos, "truncated tail"))?;
    out[n * 2..].copy_from_slice(tail);
    pos += tail_len;
    let mode = *input.get(pos).ok_or_else(|| corrupt(l, pos, "no mode"))?;
    pos += 1;
    match mode {
        0 => {
            let body = input
                .get(pos..)
                .filter(|b| b.len() == n * 2)
                .ok_or_else(|| corrupt(l, pos, "stored body has the wrong length"))?;
            out[..n * 2].copy_from_slice(body);
            Ok(())
        }
        1 => decode_coded(l, input, pos, &mut out[..n * 2]),
        2 => (l.fast_decode)(&input[pos..], &mut out[..n * 2]),
        m => Err(corrupt(l, pos - 1, format!("unknown mode {m}"))),
    }
}

/// Reads `len: varint` and that many payload bytes at `*pos`.
pub(super) fn get_payload<'a>(l: Layout, input: &'a [u8], pos: &mut usize) -> Result<&'a [u8]> {
    let avail = input.len() - *pos;
    let len = read_at(input, pos, |r| r.len(avail, "payload length")).in_codec(l.name)?;
    let p = input
        .get(*pos..*pos + len)
        .ok_or_else(|| corrupt(l, *pos, "truncated payload"))?;
    *pos += len;
    Ok(p)
}

/// Reads `count` tables of `bits` bits whose symbols are below `symbols`.
pub(super) fn read_tables(
    l: Layout,
    input: &[u8],
    pos: &mut usize,
    count: usize,
    bits: u32,
    symbols: usize,
) -> Result<Vec<FreqTable>> {
    (0..count)
        .map(|_| {
            let at = *pos;
            let t = read_at(input, pos, FreqTable::read).in_codec(l.name)?;
            if t.prob_bits() != bits || t.freqs()[symbols.min(256)..].iter().any(|&f| f > 0) {
                return Err(corrupt(l, at, "table out of range"));
            }
            Ok(t)
        })
        .collect()
}

/// Reads a stream of exactly `n` bytes at `*pos`.
pub(super) fn read_bytes(l: Layout, input: &[u8], pos: &mut usize, n: usize) -> Result<Vec<u8>> {
    check_stream(l, input, *pos)?;
    let v = read_at(input, pos, |r| parse_stream(r, n)).in_codec(l.name)?;
    let mut out = vec![0u8; n];
    v.decode_into(&mut out).in_codec(l.name)?;
    Ok(out)
}

pub(super) fn decode_coded(l: Layout, input: &[u8], mut pos: usize, out: &mut [u8]) -> Result<()> {
    let n = out.len() / 2;
    let tb = l.t_bits();
    let row_len =
        read_at(input, &mut pos, |r| r.len(MAX_ROW_LEN, "row length")).in_codec(l.name)?;
    let phase = read_at(input, &mut pos, ByteReader::varint).in_codec(l.name)?;
    if (row_len > 0 && phase >= row_len as u64) || (row_len == 0 && phase != 0) {
        return Err(corrupt(l, pos, "row phase out of range"));
    }
    if row_len > n {
        return Err(corrupt(l, pos, "rows longer than the chunk"));
    }
    let grid = (row_len > 0).then_some(Grid {
        row_len,
        phase: phase as usize,
    });
    let (mut rowq, mut colq) = (Vec::new(), Vec::new());
    if let Some(g) = grid {
        let cols = *input.get(pos).ok_or_else(|| corrupt(l, pos, "truncated"))?;
        pos += 1;
        if cols > 1 || (cols == 1 && row_len > MAX_COL_ROW_LEN) {
            return Err(corrupt(l, pos - 1, "bad column flag"));
        }
        rowq = read_bytes(l, input, &mut pos, g.rows(n))?;
        if cols == 1 {
            colq = read_bytes(l, input, &mut pos, row_len)?;
        }
    }
    let classes = *input.get(pos).ok_or_else(|| corrupt(l, pos, "truncated"))? as usize;
    pos += 1;
    if !(1..=MAX_CLASSES).contains(&classes) || (grid.is_none() && classes != 1) {
        return Err(corrupt(l, pos - 1, format!("{classes} classes")));
    }
    let mut thresholds = Vec::with_capacity(classes - 1);
    for _ in 1..classes {
        let t = read_at(input, &mut pos, |r| r.len(511, "threshold")).in_codec(l.name)? as u32;
        if thresholds.last().is_some_and(|&p| p >= t) {
            return Err(corrupt(l, pos, "thresholds not increasing"));
        }
        thresholds.push(t);
    }
    let hdr = input
        .get(pos..pos + 2)
        .ok_or_else(|| corrupt(l, pos, "truncated"))?;
    let a = Alphabet {
        t_bits: tb,
        e_lo: hdr[0],
        n_freq: hdr[1] as usize,
    };
    pos += 2;
    if a.n_freq == 0
        || a.n_freq > l.max_freq()
        || usize::from(a.e_lo) + a.n_freq > usize::from(l.e_mask) + 1
    {
        return Err(corrupt(l, pos - 2, "exponent range out of bounds"));
    }
    let ef = read_tables(l, input, &mut pos, classes, JOINT_BITS, a.n_freq + 1)?;
    let tf = read_tables(l, input, &mut pos, a.n_freq, TOP_BITS_PREC, 1 << tb)?;
    let joint = joint_tables(a, &ef, &tf)?;
    let dec = ContextDecoder::new(&joint).in_codec(l.name)?;
    let payload = get_payload(l, input, &mut pos)?;
    let ctx = match grid {
        Some(g) => scale_contexts(n, g, &rowq, &colq, &class_lut(&thresholds)),
        None => vec![0u8; n],
    };
    let mut sym = vec![0u8; n];
    ctx_rans::decode(payload, &ctx, &dec, &mut sym).in_codec(l.name)?;
    let esc = a.esc();
    let n_esc = sym.iter().filter(|&&s| s == esc).count();
    check_stream(l, input, pos)?;
    let esc_e = read_at(input, &mut pos, |r| parse_stream(r, n_esc)).in_codec(l.name)?;
    check_stream(l, input, pos)?;
    let esc_t = read_at(input, &mut pos, |r| parse_stream(r, n_esc)).in_codec(l.name)?;
    let low_mode = *input.get(pos).ok_or_else(|| corrupt(l, pos, "truncated"))?;
    pos += 1;
    let mut low_coded = Vec::new();
    match low_mode {
        0 => {}
        1 => {
            let lt = read_tables(
                l,
                input,
                &mut pos,
                a.n_freq + 1,
                JOINT_BITS,
                1 << l.low_bits,
            )?;
            let ldec = ContextDecoder::new(&lt).in_codec(l.name)?;
            let lpay = get_payload(l, input, &mut pos)?;
            let lctx: Vec<u8> = sym.iter().map(|&s| (s >> tb).min(a.n_freq as u8)).collect();
            low_coded = vec![0u8; n];
            ctx_rans::decode(lpay, &lctx, &ldec, &mut low_coded).in_codec(l.name)?;
        }
        m => return Err(corrupt(l, pos - 1, format!("unknown low-bit mode {m}"))),
    }
    let sign_mode = *input.get(pos).ok_or_else(|| corrupt(l, pos, "truncated"))?;
    pos += 1;
    let mut sign_coded = Vec::new();
    match sign_mode {
        0 => {}
        1 => {
            let sctx = match grid {
                Some(g) => {
                    let block_rows = read_at(input, &mut pos, |r| r.len(g.rows(n), "sign block"))
                        .in_codec(l.name)?;
                    let count = g.row_len * sign_blocks(n, g, block_rows);
                    let mut c = read_bytes(l, input, &mut pos, count)?;
                    for x in c.iter_mut() {
                        *x = (*x).min(SIGN_CLASSES as u8 - 1);
                    }
                    sign_contexts(n, g, &c, block_rows)
                }
                None => vec![0u8; n],
            };
            let count = if grid.is_some() { SIGN_CLASSES } else { 1 };
            let st = read_tables(l, input, &mut pos, count, JOINT_BITS, 2)?;
            let sdec = ContextDecoder::new(&st).in_codec(l.name)?;
            let spay = get_payload(l, input, &mut pos)?;
            let mut signs = vec![0u8; n];
            ctx_rans::decode(spay, &sctx, &sdec, &mut signs).in_codec(l.name)?;
            // Pack into the raw layout the join reads.
            sign_coded = vec![0u8; n.div_ceil(8)];
            for (b, s8) in sign_coded.iter_mut().zip(signs.chunks(8)) {
                *b = s8
                    .iter()
                    .enumerate()
                    .fold(0, |acc, (j, &s)| acc | ((s & 1) << j));
            }
        }
        m => return Err(corrupt(l, pos - 1, format!("unknown sign mode {m}"))),
    }
    let sign_len = if sign_mode == 0 { n.div_ceil(8) } else { 0 };
    let low_len = if low_mode == 0 { l.low_plane_len(n) } else { 0 };
    let rest = input
        .get(pos..)
        .filter(|b| b.len() == sign_len + low_len)
        .ok_or_else(|| corrupt(l, pos, "sign and low-bit planes have the wrong length"))?;
    let (sign, low) = rest.split_at(sign_len);
    let sign: &[u8] = if sign_mode == 1 { &sign_coded } else { sign };
    // Per-element low bits (one byte each) when they were coded.
    let low: &[u8] = if low_mode == 1 { &low_coded } else { low };
    let low_mask = ((1u16 << l.low_bits) - 1) as u8;
    let packed = low_mode == 0 && l.low_bits == 4;

    // Values without the escapes' exponent and top bits.
    let mut base = [0u16; 256];
    for (s, b) in base.iter_mut().enumerate() {
        let k = s >> tb;
        if k < a.n_freq {
            *b = ((u16::from(a.e_lo) + k as u16) << l.e_shift)
                | (((s & ((1 << tb) - 1)) as u16) << l.low_bits);
        }
    }
    let blocks = n / 8;
    if packed {
        for (((o, s8), l4), &sg) in out[..blocks * 16]
            .chunks_exact_mut(16)
            .zip(sym.chunks_exact(8))
            .zip(low.chunks_exact(4))
            .zip(sign)
        {
            for j in 0..8 {
                let lo = (l4[j / 2] >> ((j & 1) * 4)) & 0xf;
                let v = base[s8[j] as usize] | (u16::from((sg >> j) & 1) << 15) | u16::from(lo);
                o[2 * j..2 * j + 2].copy_from_slice(&v.to_le_bytes());
            }
        }
    } else {
        for (((o, s8), l8), &sg) in out[..blocks * 16]
            .chunks_exact_mut(16)
            .zip(sym.chunks_exact(8))
            .zip(low.chunks_exact(8))
            .zip(sign)
        {
            for j in 0..8 {
                let v = base[s8[j] as usize]
                    | (u16::from((sg >> j) & 1) << 15)
                    | u16::from(l8[j] & low_mask);
                o[2 * j..2 * j + 2].copy_from_slice(&v.to_le_bytes());
            }
        }
    }
    for i in blocks * 8..n {
        let lo = if packed {
            (low[i / 2] >> ((i & 1) * 4)) & 0xf
        } else {
            low[i] & low_mask
        };
        let v =
            base[sym[i] as usize] | (u16::from((sign[i / 8] >> (i % 8)) & 1) << 15) | u16::from(lo);
        out[2 * i..2 * i + 2].copy_from_slice(&v.to_le_bytes());
    }
    if n_esc > 0 {
        let mut ee = vec![0u8; n_esc];
        let mut et = vec![0u8; n_esc];
        esc_e.decode_into(&mut ee).in_codec(l.name)?;
        esc_t.decode_into(&mut et).in_codec(l.name)?;
        let mut patches = ee.iter().zip(&et);
        let mut patch = |i: usize, out: &mut [u8]| {
            if let Some((&pe, &pt)) = patches.next() {
                let add = ((u16::from(pe) & l.e_mask) << l.e_shift)
                    | ((u16::from(pt) & ((1 << tb) - 1)) << l.low_bits);
                let o = &mut out[2 * i..2 * i + 2];
                let v = u16::from_le_bytes([o[0], o[1]]) | add;
                o.copy_from_slice(&v.to_le_bytes());
            }
        };
        // Escapes are rare: skip 8 symbols at a time unless one of them is ESC.
        let pattern = u64::from_ne_bytes([esc; 8]);
        let mut words = sym.chunks_exact(8);
        for (b, w) in (&mut words).enumerate() {
            let x = u64::from_ne_bytes([w[0], w[1], w[2], w[3], w[4], w[5], w[6], w[7]]) ^ pattern;
            if x.wrapping_sub(0x0101_0101_0101_0101) & !x & 0x8080_8080_8080_8080 != 0 {
                for (j, &s) in w.iter().enumerate() {
                    if s == esc {
                        patch(b * 8 + j, out);
                    }
                }
            }
        }
        let rest = n - words.remainder().len();
        for (j, &s) in words.remainder().iter().enumerate() {
            if s == esc {
                patch(rest + j, out);
            }
        }
    }
    Ok(())
}
