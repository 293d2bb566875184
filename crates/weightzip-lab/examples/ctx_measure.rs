//! Measures, on real bf16 / fp16 safetensors files, the conditional entropies
//! that context coding can use, the ceilings they imply after table costs,
//! and what `wz_bf16_ctx` / `wz_fp16_ctx` achieve beside the fast codecs.
//!
//! ```text
//! cargo run --release -p weightzip-lab --example ctx_measure -- FILE... [--min-bytes N] [--no-hint] [--tensors]
//! ```
//!
//! Per tensor (with `--tensors`) and per file, byte-weighted: R_marginal =
//! 16 / (H(low byte) + H(high byte)); the entropies H(e), H(s), H(m | e),
//! H(e | previous e in the row), H(e | e above), H(e | row), H(e | column);
//! ceilings 16 / bits where bits count every context table (10 bits per
//! non-zero entry + 24); then achieved ratios of the codecs on the
//! container's 4 MiB chunks and their single-thread encode / decode MB/s.

use std::collections::BTreeMap;
use std::time::Instant;

use weightzip_codec::{ctx, float};
use weightzip_format::{Dtype, SafetensorsFile};
use weightzip_lab::naming::classify;

const CHUNK: usize = 4 << 20;

type Res = weightzip_codec::Result<()>;
type FastEnc = fn(&[u8], &mut Vec<u8>) -> Res;
type CtxEnc = fn(&[u8], Option<usize>, &mut Vec<u8>) -> Res;
type Dec = fn(&[u8], &mut [u8]) -> Res;

fn entropy(counts: &[u64]) -> f64 {
    let total: u64 = counts.iter().sum();
    if total == 0 {
        return 0.0;
    }
    let t = total as f64;
    counts
        .iter()
        .filter(|&&c| c > 0)
        .map(|&c| {
            let p = c as f64 / t;
            -p * p.log2()
        })
        .sum()
}

/// Bits to code Y given X from a joint table `joint[x * ny + y]`, with a
/// static table per context charged at 10 bits per non-zero entry + 24.
fn cond_cost(joint: &[u64], ny: usize) -> (f64, f64) {
    let mut bits = 0.0;
    let mut tables = 0.0;
    for row in joint.chunks(ny) {
        let n: u64 = row.iter().sum();
        if n > 0 {
            bits += n as f64 * entropy(row);
            tables += 10.0 * row.iter().filter(|&&c| c > 0).count() as f64 + 24.0;
        }
    }
    (bits, tables)
}

#[derive(Default, Clone)]
struct Acc {
    n: f64,
    bytes: f64,
    h_hi: f64,
    h_lo: f64,
    h_e: f64,
    h_s: f64,
    h_sm: f64,
    h_m_e: f64,
    h_st_e: f64,
    h_e_prev: f64,
    h_e_above: f64,
    h_e_row: f64,
    h_e_col: f64,
    // ceilings' bits (incl. tables)
    c_split: f64,
    c_mant: f64,
    c_prev: f64,
    c_above: f64,
    c_row: f64,
    c_col: f64,
    // achieved
    fast: f64,
    ctx_hint: f64,
    ctx_nohint: f64,
    t_fast_enc: f64,
    t_fast_dec: f64,
    t_ctx_enc: f64,
    t_ctx_dec: f64,
}

impl Acc {
    fn add(&mut self, o: &Acc) {
        macro_rules! sum {
            ($($f:ident),*) => { $( self.$f += o.$f; )* };
        }
        sum!(
            n, bytes, h_hi, h_lo, h_e, h_s, h_sm, h_m_e, h_st_e, h_e_prev, h_e_above, h_e_row,
            h_e_col, c_split, c_mant, c_prev, c_above, c_row, c_col, fast, ctx_hint, ctx_nohint,
            t_fast_enc, t_fast_dec, t_ctx_enc, t_ctx_dec
        );
    }
}

fn measure(dtype: Dtype, shape: &[u64], data: &[u8], hint: bool, timing: bool) -> Acc {
    let n = data.len() / 2;
    let cols = shape.last().copied().unwrap_or(n as u64).max(1) as usize;
    let v: Vec<u16> = data
        .chunks_exact(2)
        .map(|c| u16::from_le_bytes([c[0], c[1]]))
        .collect();
    let (e_shift, e_bits, m_bits, t_bits) = match dtype {
        Dtype::BF16 => (7u32, 8u32, 7u32, 3u32),
        _ => (10, 5, 10, 2),
    };
    let ne = 1usize << e_bits;
    let nm = 1usize << m_bits;
    let e: Vec<usize> = v
        .iter()
        .map(|&x| ((x >> e_shift) as usize) & (ne - 1))
        .collect();
    let mut hi = vec![0u64; 256];
    let mut lo = vec![0u64; 256];
    let mut he = vec![0u64; ne];
    let mut hs = vec![0u64; 2];
    let mut hsm = vec![0u64; 2 * nm];
    let mut j_me = vec![0u64; ne * nm];
    let mut j_ste = vec![0u64; ne << (t_bits + 1)];
    let mut j_prev = vec![0u64; ne * ne];
    let mut j_above = vec![0u64; ne * ne];
    let rows = n / cols;
    let mut j_row = vec![0u64; rows.max(1) * ne];
    let mut j_col = vec![0u64; cols * ne];
    for (i, &x) in v.iter().enumerate() {
        hi[(x >> 8) as usize] += 1;
        lo[(x & 0xff) as usize] += 1;
        let ei = e[i];
        he[ei] += 1;
        let s = (x >> 15) as usize;
        hs[s] += 1;
        let m = (x as usize) & (nm - 1);
        hsm[s * nm + m] += 1;
        j_me[ei * nm + m] += 1;
        let st = (s << t_bits) | (m >> (m_bits - t_bits));
        j_ste[(ei << (t_bits + 1)) + st] += 1;
        let c = i % cols;
        let prev = if c > 0 { e[i - 1] } else { 0 };
        j_prev[prev * ne + ei] += 1;
        let above = if i >= cols { e[i - cols] } else { 0 };
        j_above[above * ne + ei] += 1;
        if i / cols < rows {
            j_row[(i / cols) * ne + ei] += 1;
        }
        j_col[c * ne + ei] += 1;
    }
    let nf = n as f64;
    let mut a = Acc {
        n: nf,
        bytes: data.len() as f64,
        ..Default::default()
    };
    a.h_hi = entropy(&hi) * nf;
    a.h_lo = entropy(&lo) * nf;
    a.h_e = entropy(&he) * nf;
    a.h_s = entropy(&hs) * nf;
    a.h_sm = entropy(&hsm) * nf;
    let (me, me_t) = cond_cost(&j_me, nm);
    a.h_m_e = me;
    a.h_st_e = cond_cost(&j_ste, 2 << t_bits).0;
    let (pv, pv_t) = cond_cost(&j_prev, ne);
    let (ab, ab_t) = cond_cost(&j_above, ne);
    let (rw, rw_t) = cond_cost(&j_row, ne);
    let (cl, cl_t) = cond_cost(&j_col, ne);
    a.h_e_prev = pv;
    a.h_e_above = ab;
    a.h_e_row = rw;
    a.h_e_col = cl;
    let (e0, e0_t) = cond_cost(&he, ne);
    let (sm0, sm0_t) = cond_cost(&hsm, 2 * nm);
    let hs_bits = a.h_s;
    a.c_split = e0 + e0_t + sm0 + sm0_t;
    a.c_mant = e0 + e0_t + hs_bits + me + me_t;
    a.c_prev = pv + pv_t + hs_bits + me + me_t;
    a.c_above = ab + ab_t + hs_bits + me + me_t;
    a.c_row = rw + rw_t + hs_bits + me + me_t;
    a.c_col = cl + cl_t + hs_bits + me + me_t;

    // Codecs on the container's chunks (whole elements, 4 MiB).
    let (fast_enc, fast_dec): (FastEnc, Dec) = match dtype {
        Dtype::BF16 => (float::bf16_planes::encode, float::bf16_planes::decode),
        _ => (float::fp16::encode, float::fp16::decode),
    };
    let (ctx_enc, ctx_dec): (CtxEnc, Dec) = match dtype {
        Dtype::BF16 => (ctx::bf16::encode, ctx::bf16::decode),
        _ => (ctx::fp16::encode, ctx::fp16::decode),
    };
    let reps = if timing { 3 } else { 1 };
    // CTX_WHOLE: one chunk per tensor, as the lab bench codes items.
    let chunk_len = if std::env::var("CTX_WHOLE").is_ok() {
        data.len().max(1)
    } else {
        CHUNK
    };
    for chunk in data.chunks(chunk_len) {
        let mut buf = Vec::new();
        let t = Instant::now();
        fast_enc(chunk, &mut buf).unwrap();
        a.t_fast_enc += t.elapsed().as_secs_f64();
        a.fast += buf.len() as f64;
        let mut back = vec![0u8; chunk.len()];
        let mut best = f64::INFINITY;
        for _ in 0..reps {
            let t = Instant::now();
            fast_dec(&buf, &mut back).unwrap();
            best = best.min(t.elapsed().as_secs_f64());
        }
        a.t_fast_dec += best;
        assert_eq!(back, chunk);

        for with_hint in [true, false] {
            if with_hint && !hint {
                continue;
            }
            let mut buf = Vec::new();
            let t = Instant::now();
            ctx_enc(chunk, if with_hint { Some(cols) } else { None }, &mut buf).unwrap();
            let te = t.elapsed().as_secs_f64();
            let mut best = f64::INFINITY;
            for _ in 0..reps {
                let t = Instant::now();
                ctx_dec(&buf, &mut back).unwrap();
                best = best.min(t.elapsed().as_secs_f64());
            }
            assert_eq!(back, chunk, "ctx round trip");
            if with_hint {
                a.ctx_hint += buf.len() as f64;
                a.t_ctx_enc += te;
                a.t_ctx_dec += best;
            } else {
                a.ctx_nohint += buf.len() as f64;
                if !hint {
                    a.t_ctx_enc += te;
                    a.t_ctx_dec += best;
                }
            }
        }
    }
    if !hint {
        a.ctx_hint = a.ctx_nohint;
    }
    a
}

fn line(name: &str, a: &Acc) -> String {
    let n = a.n;
    let r = |bits: f64| 16.0 * n / bits;
    format!(
        "{name:<48} {:>9.0} Rm={:.4} He={:.3} Hs={:.4} Hm|e={:.3} Hst|e={:.3} He|prev={:.3} He|above={:.3} He|row={:.3} He|col={:.3} | ceil split={:.4} m|e={:.4} prev={:.4} above={:.4} row={:.4} col={:.4} | fast={:.4} ctx={:.4} ctx_nohint={:.4} ctx/Rm={:.4}",
        a.bytes,
        16.0 / ((a.h_hi + a.h_lo) / n),
        a.h_e / n,
        a.h_s / n,
        a.h_m_e / n,
        a.h_st_e / n,
        a.h_e_prev / n,
        a.h_e_above / n,
        a.h_e_row / n,
        a.h_e_col / n,
        r(a.c_split),
        r(a.c_mant),
        r(a.c_prev),
        r(a.c_above),
        r(a.c_row),
        r(a.c_col),
        a.bytes / a.fast,
        a.bytes / a.ctx_hint,
        a.bytes / a.ctx_nohint,
        (a.bytes / a.ctx_hint) / (16.0 / ((a.h_hi + a.h_lo) / n)),
    )
}

fn main() {
    let mut files = Vec::new();
    let mut min_bytes = 0usize;
    let mut hint = true;
    let mut per_tensor = false;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--min-bytes" => min_bytes = args.next().unwrap().parse().unwrap(),
            "--no-hint" => hint = false,
            "--tensors" => per_tensor = true,
            "--decode-loop" => {
                let which = args.next().unwrap();
                let f = args.next().unwrap();
                decode_loop(&which, &f);
                return;
            }
            _ => files.push(a),
        }
    }
    for f in files {
        let file = SafetensorsFile::open(&f).expect("open safetensors");
        let mut total = Acc::default();
        let mut by_cat: BTreeMap<String, Vec<Acc>> = BTreeMap::new();
        let mut by_dtype: BTreeMap<String, Acc> = BTreeMap::new();
        let infos: Vec<_> = file.header().tensors.to_vec();
        for info in infos {
            if !matches!(info.dtype, Dtype::BF16 | Dtype::F16) || (info.len() as usize) < min_bytes
            {
                continue;
            }
            let data = file.tensor_bytes(&info.name).unwrap();
            let a = measure(info.dtype, &info.shape, data, hint, true);
            if per_tensor {
                println!("{}", line(&info.name, &a));
            }
            let cat = format!("{:?}/{:?}", info.dtype, classify(&info.name).category);
            by_cat.entry(cat).or_default().push(a.clone());
            by_dtype
                .entry(format!("{:?}", info.dtype))
                .or_default()
                .add(&a);
            total.add(&a);
        }
        println!("== {f}");
        for (cat, v) in &by_cat {
            let mut acc = Acc::default();
            for a in v {
                acc.add(a);
            }
            println!(
                "{}",
                line(&format!("{cat} ({} tensors, bw)", v.len()), &acc)
            );
        }
        for (dt, a) in &by_dtype {
            println!("{}", line(&format!("ALL {dt} (byte-weighted)"), a));
            println!(
                "   speed MB/s: fast enc {:.0} dec {:.0} | ctx enc {:.0} dec {:.0}",
                a.bytes / 1e6 / a.t_fast_enc,
                a.bytes / 1e6 / a.t_fast_dec,
                a.bytes / 1e6 / a.t_ctx_enc,
                a.bytes / 1e6 / a.t_ctx_dec
            );
        }
    }
}

/// Decodes the chunks of every bf16 / fp16 tensor of `path` 20 times with
/// `which` (`fast` or `ctx`) and prints decode MB/s.
fn decode_loop(which: &str, path: &str) {
    let file = SafetensorsFile::open(path).expect("open safetensors");
    let mut encoded = Vec::new();
    let mut bytes = 0usize;
    let mut concat = Vec::new();
    for info in file.header().tensors.iter() {
        if !matches!(info.dtype, Dtype::BF16 | Dtype::F16) || info.len() < 100_000 {
            continue;
        }
        let data = file.tensor_bytes(&info.name).unwrap();
        let cols = *info.shape.last().unwrap() as usize;
        if std::env::var("CTX_CONCAT").is_ok() {
            // As `weightzip speed`: every tensor of the type end to end.
            concat.extend_from_slice(data);
            continue;
        }
        let (fe, fd): (FastEnc, Dec) = match info.dtype {
            Dtype::BF16 => (float::bf16_planes::encode, float::bf16_planes::decode),
            _ => (float::fp16::encode, float::fp16::decode),
        };
        let (ce, cd): (CtxEnc, Dec) = match info.dtype {
            Dtype::BF16 => (ctx::bf16::encode, ctx::bf16::decode),
            _ => (ctx::fp16::encode, ctx::fp16::decode),
        };
        for chunk in data.chunks(CHUNK) {
            let mut buf = Vec::new();
            if which == "fast" {
                fe(chunk, &mut buf).unwrap();
                encoded.push((buf, chunk.len(), fd));
            } else {
                let hint = std::env::var("CTX_NOHINT").is_err().then_some(cols);
                ce(chunk, hint, &mut buf).unwrap();
                encoded.push((buf, chunk.len(), cd));
            }
            bytes += chunk.len();
        }
    }
    for chunk in concat.chunks(CHUNK) {
        let mut buf = Vec::new();
        if which == "fast" {
            float::bf16_planes::encode(chunk, &mut buf).unwrap();
            encoded.push((buf, chunk.len(), float::bf16_planes::decode as Dec));
        } else {
            ctx::bf16::encode(chunk, None, &mut buf).unwrap();
            encoded.push((buf, chunk.len(), ctx::bf16::decode as Dec));
        }
        bytes += chunk.len();
    }
    // CTX_REPS=0 encodes only: the task-clock difference of two runs under
    // `perf stat` is the decode CPU time, robust to a loaded machine.
    let reps: usize = std::env::var("CTX_REPS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20);
    let mut best = f64::INFINITY;
    for _ in 0..reps {
        let t = Instant::now();
        for (buf, len, dec) in &encoded {
            let mut out = vec![0u8; *len];
            dec(buf, &mut out).unwrap();
            std::hint::black_box(&out);
        }
        best = best.min(t.elapsed().as_secs_f64());
    }
    eprintln!(
        "{which}: {:.0} MB/s (best of {reps} passes over {:.1} MB)",
        bytes as f64 / 1e6 / best,
        bytes as f64 / 1e6
    );
}
