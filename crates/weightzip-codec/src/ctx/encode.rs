//! The encoder.

use super::*;

pub(super) fn encode_with(
    l: Layout,
    data: &[u8],
    row_len: Option<usize>,
    out: &mut Vec<u8>,
) -> Result<()> {
    let n = data.len() / 2;
    let tail = &data[n * 2..];
    write_varint(out, n as u64);
    out.push(tail.len() as u8);
    out.extend_from_slice(tail);
    let start = out.len();
    out.push(1);
    let body = &data[..n * 2];
    if encode_coded(l, body, row_len, out).is_err() || out.len() - start > n * 2 + 1 {
        out.truncate(start);
        out.push(0);
        out.extend_from_slice(body);
    }
    // Small chunks (norms, biases): the fast codec's planes may be smaller
    // than contexts plus their tables; keep whichever is.
    if n < FAST_CHECK_BELOW {
        let mut fast = vec![2u8];
        (l.fast_encode)(body, &mut fast)?;
        if fast.len() < out.len() - start {
            out.truncate(start);
            out.extend_from_slice(&fast);
        }
    }
    Ok(())
}

pub(super) fn encode_coded(
    l: Layout,
    data: &[u8],
    hint: Option<usize>,
    out: &mut Vec<u8>,
) -> Result<()> {
    let n = data.len() / 2;
    let tb = l.t_bits();
    let mut e = Vec::with_capacity(n);
    let mut top = Vec::with_capacity(n);
    let mut sign = vec![0u8; n.div_ceil(8)];
    let mut low = vec![0u8; l.low_plane_len(n)];
    let mut lowv = Vec::with_capacity(n);
    let mut signv = Vec::with_capacity(n);
    for (i, c) in data.chunks_exact(2).enumerate() {
        let v = u16::from_le_bytes([c[0], c[1]]);
        e.push(((v >> l.e_shift) & l.e_mask) as u8);
        top.push(((v >> l.low_bits) & ((1 << tb) - 1)) as u8);
        sign[i / 8] |= ((v >> 15) as u8) << (i % 8);
        signv.push((v >> 15) as u8);
        let lo = (v & ((1 << l.low_bits) - 1)) as u8;
        lowv.push(lo);
        if l.low_bits == 4 {
            low[i / 2] |= lo << ((i & 1) * 4);
        } else {
            low[i] = lo;
        }
    }
    let ecount = weightzip_entropy::histogram(&e);
    let a = choose_alphabet(l, &ecount, n);
    let esc = a.esc();
    let mut sym = Vec::with_capacity(n);
    let mut esc_e = Vec::new();
    let mut esc_t = Vec::new();
    for (&x, &t) in e.iter().zip(&top) {
        let k = x.wrapping_sub(a.e_lo) as usize;
        if k < a.n_freq {
            sym.push(((k << tb) as u8) | t);
        } else {
            sym.push(esc);
            esc_e.push(x);
            esc_t.push(t);
        }
    }
    let rep = a.rep();
    // Scale model, if it beats one table.
    let mut khist: Histogram = [0; 256];
    for &s in &sym {
        khist[(s >> tb) as usize] += 1;
    }
    let mut model: Option<ExpModel> = None;
    if n >= 4 * LANES {
        let sample = &sym[..n.min(SEARCH_SAMPLE)];
        // Stage 1: many row lengths, rows only, on a small sample.
        // Rows longer than the chunk would only cost side bytes (and the
        // decoder rejects them, bounding what it allocates by the output).
        let mut cands = row_candidates(&e, hint);
        cands.retain(|&(d, _)| d <= n);
        if cands.len() > 3 {
            let small = &sym[..n.min(SEARCH_SAMPLE / 4)];
            let mut first: Vec<(f64, (usize, usize))> = cands
                .iter()
                .map(|&(d, ph)| {
                    let g = Grid {
                        row_len: d,
                        phase: ph,
                    };
                    (fit_exp_model(small, a, &rep, g, false).cost, (d, ph))
                })
                .collect();
            first.sort_by(|x, y| x.0.total_cmp(&y.0));
            cands = first.iter().take(3).map(|c| c.1).collect();
        }
        // Stage 2: the best few, with and without column statistics.
        let mut scored: Vec<(f64, Grid, bool)> = Vec::new();
        for (d, ph) in cands {
            let g = Grid {
                row_len: d,
                phase: ph,
            };
            scored.push((fit_exp_model(sample, a, &rep, g, false).cost, g, false));
            if d <= MAX_COL_ROW_LEN {
                scored.push((fit_exp_model(sample, a, &rep, g, true).cost, g, true));
            }
        }
        scored.sort_by(|x, y| x.0.total_cmp(&y.0));
        if let Some(&(_, g, cols)) = scored.first() {
            let m = fit_exp_model(&sym, a, &rep, g, cols);
            if m.cost < ideal_cost(&khist) {
                model = Some(m);
            }
        }
    }
    let ctx = match &model {
        Some(m) => scale_contexts(n, m.grid, &m.rowq, &m.colq, &class_lut(&m.thresholds)),
        None => vec![0u8; n],
    };
    let n_ctx = model.as_ref().map_or(1, |m| m.thresholds.len() + 1);
    let mut ch: Vec<Histogram> = vec![[0; 256]; n_ctx];
    let mut th: Vec<Histogram> = vec![[0; 256]; a.n_freq];
    for (&s, &c) in sym.iter().zip(&ctx) {
        let k = (s >> tb) as usize;
        ch[c as usize][k] += 1;
        if k < a.n_freq {
            th[k][(s & ((1 << tb) - 1)) as usize] += 1;
        }
    }
    let ef: Vec<FreqTable> = ch
        .iter()
        .map(|h| table(h, JOINT_BITS))
        .collect::<Result<_>>()?;
    let tf: Vec<FreqTable> = th
        .iter()
        .map(|h| table(h, TOP_BITS_PREC))
        .collect::<Result<_>>()?;
    let joint = joint_tables(a, &ef, &tf)?;
    // Header, scale bytes, tables, payloads.
    let grid = model.as_ref().map(|m| m.grid);
    write_varint(out, grid.map_or(0, |g| g.row_len) as u64);
    write_varint(out, grid.map_or(0, |g| g.phase) as u64);
    if let Some(m) = &model {
        out.push(u8::from(!m.colq.is_empty()));
        encode_stream(&m.rowq, out).in_codec(l.name)?;
        if !m.colq.is_empty() {
            encode_stream(&m.colq, out).in_codec(l.name)?;
        }
    }
    out.push(n_ctx as u8);
    for &t in model.iter().flat_map(|m| &m.thresholds) {
        write_varint(out, u64::from(t));
    }
    out.push(a.e_lo);
    out.push(a.n_freq as u8);
    for t in ef.iter().chain(&tf) {
        t.write(out);
    }
    put_payload(l, &sym, &ctx, &joint, out)?;
    encode_stream(&esc_e, out).in_codec(l.name)?;
    encode_stream(&esc_t, out).in_codec(l.name)?;
    // Low bits: raw, unless their distribution given the exponent pays for
    // its tables (values widened from a narrower format, subnormal ranges).
    let mut lh: Vec<Histogram> = vec![[0; 256]; a.n_freq + 1];
    for (&s, &lo) in sym.iter().zip(&lowv) {
        lh[(s >> tb) as usize][lo as usize] += 1;
    }
    let coded: f64 = lh.iter().map(ideal_cost).sum();
    let raw = (n * l.low_bits as usize) as f64;
    if coded < raw * 0.97 - 1024.0 {
        out.push(1);
        let lt: Vec<FreqTable> = lh
            .iter()
            .map(|h| table(h, JOINT_BITS))
            .collect::<Result<_>>()?;
        for t in &lt {
            t.write(out);
        }
        let lctx: Vec<u8> = sym.iter().map(|&s| s >> tb).collect();
        put_payload(l, &lowv, &lctx, &lt, out)?;
        low.clear();
    } else {
        out.push(0);
    }
    // Signs: raw bits, unless the columns' shares of negative values pay
    // (embedding dimensions with a non-zero mean): a second rANS pass in
    // the decoder, so only where it saves 3 % of the sign bits or more.
    // Column classes per block of rows: the whole chunk, or blocks of
    // 4096 / 1024 / 256 rows where the signs drift (token embeddings).
    let n_sctx = if grid.is_some() { SIGN_CLASSES } else { 1 };
    // (cost, block rows, stored classes, histograms)
    type SignModel = (f64, usize, Vec<u8>, Vec<Histogram>);
    // Counts per 256-row block and column, merged for the coarser blocks:
    // the histograms follow from the counts, one pass over the signs.
    let mut best: Option<SignModel> = None;
    let fine = grid.map(|g| sign_counts(&signv, g, 256));
    for block_rows in [0usize, 4096, 1024, 256] {
        let (sclass, sh) = match (grid, &fine) {
            (Some(g), Some(fine)) if block_rows == 0 || g.rows(n) > block_rows => {
                let cs = merge_sign_counts(fine, g.row_len, block_rows / 256);
                let mut sh: Vec<Histogram> = vec![[0; 256]; n_sctx];
                let classes: Vec<u8> = cs
                    .iter()
                    .map(|&(neg, k)| {
                        let c = sign_class(neg, k);
                        sh[c as usize][1] += u64::from(neg);
                        sh[c as usize][0] += u64::from(k - neg);
                        c
                    })
                    .collect();
                (classes, sh)
            }
            (None, _) if block_rows == 0 => {
                let neg = signv.iter().map(|&s| u64::from(s)).sum::<u64>();
                let mut h: Histogram = [0; 256];
                h[1] = neg;
                h[0] = n as u64 - neg;
                (Vec::new(), vec![h])
            }
            _ => continue,
        };
        let side = if grid.is_some() {
            ideal_cost(&weightzip_entropy::histogram(&sclass))
        } else {
            0.0
        };
        let coded: f64 = sh.iter().map(ideal_cost).sum::<f64>() + side;
        if best.as_ref().is_none_or(|b| coded < b.0) {
            best = Some((coded, block_rows, sclass, sh));
        }
    }
    let (coded, block_rows, sclass, sh) = best.ok_or_else(|| corrupt(l, 0, "no sign model"))?;
    let sctx = match grid {
        Some(g) => sign_contexts(n, g, &sclass, block_rows),
        None => vec![0u8; n],
    };
    if coded < n as f64 * 0.97 - 1024.0 {
        out.push(1);
        if grid.is_some() {
            write_varint(out, block_rows as u64);
            encode_stream(&sclass, out).in_codec(l.name)?;
        }
        let st: Vec<FreqTable> = sh
            .iter()
            .map(|h| table(h, JOINT_BITS))
            .collect::<Result<_>>()?;
        for t in &st {
            t.write(out);
        }
        put_payload(l, &signv, &sctx, &st, out)?;
    } else {
        out.push(0);
        out.extend_from_slice(&sign);
    }
    out.extend_from_slice(&low);
    Ok(())
}

/// Appends `len: varint` and the multi-table rANS payload of `symbols`.
pub(super) fn put_payload(
    l: Layout,
    symbols: &[u8],
    ctx: &[u8],
    tables: &[FreqTable],
    out: &mut Vec<u8>,
) -> Result<()> {
    let enc = ContextEncoder::new(tables).in_codec(l.name)?;
    let mut payload = Vec::with_capacity(symbols.len() / 2 + 256);
    ctx_rans::encode(symbols, Contexts::per_symbol(ctx), &enc, &mut payload).in_codec(l.name)?;
    write_varint(out, payload.len() as u64);
    out.extend_from_slice(&payload);
    Ok(())
}
