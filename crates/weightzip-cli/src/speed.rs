//! `weightzip speed`: encode / decode throughput of weightzip's codecs next
//! to memcpy, zstd -1 / -3 and lz4 on the same tensor bytes, in one run.
//!
//! The tensors are coded exactly as `compress` codes them: each tensor is
//! cut by the container's plan ([`plan_tensor`]: whole rows, its shape) and
//! every chunk goes through the container's [`select`] (the codec for its
//! type, the zstd retry of small tensors, storing what does not shrink), so
//! a weightzip row's ratio is the one the archive's tensor chunks reach.
//! Rows are grouped by tensor type (all bf16 tensors of the inputs, all
//! fp16, each GGUF quant type, ...); every contender codes the same chunks,
//! checked for a byte-exact round trip first. MB/s = input bytes / 1e6 /
//! seconds, median of the repeats; single-thread rows and rows on `-T`
//! threads (chunks handed out statically, like the container).
//! `--cpu-time` times single-thread rows by the thread's CPU time instead of
//! the wall clock, which keeps them steady on a busy machine.

use std::io::Write;
use std::path::PathBuf;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use clap::Args;
use weightzip_codec::select::{plan_tensor, select, ChunkPlan};
use weightzip_codec::{codec_by_name, CodecId, Level};
use weightzip_entropy::rans::Kernel;
use weightzip_format::{layout_of, Dtype, GgmlType, TensorType};

/// Arguments of `weightzip speed`.
#[derive(Args)]
pub struct SpeedArgs {
    /// Model files (safetensors or GGUF) whose tensors are measured.
    #[arg(required = true)]
    files: Vec<PathBuf>,
    /// Timed repeats per measurement (the median is reported).
    #[arg(long, default_value_t = 5)]
    repeats: usize,
    /// Chunk size in MiB.
    #[arg(long, default_value_t = 4)]
    chunk_mib: usize,
    /// Thread count of the multi-thread rows (default: all cores).
    #[arg(short = 'T', long, default_value_t = 0)]
    threads: usize,
    /// Take whole tensors of each type until they hold this many MiB (the
    /// last one is taken whole).
    #[arg(long, default_value_t = 256)]
    max_mib: usize,
    /// Codec level of the weightzip codecs.
    #[arg(long, default_value = "fast")]
    level: String,
    /// Only these contenders (comma-separated: memcpy, lz4, zstd-1, zstd-3,
    /// wz for weightzip's codecs, or a codec's row name such as wz_bf16j).
    #[arg(long, value_delimiter = ',')]
    only: Vec<String>,
    /// Also measure these weightzip codecs on the tensor types they code
    /// (default: `wz_bf16j` and `wz_bf16` on bf16 tensors).
    #[arg(long = "codec", value_delimiter = ',')]
    extra_codecs: Vec<String>,
    /// Also measure weightzip's codec with every SIMD kernel this CPU runs
    /// (scalar, avx2, avx512), each in its own row.
    #[arg(long)]
    kernels: bool,
    /// Time single-thread rows by the thread's CPU time (steady on a busy
    /// machine) instead of the wall clock.
    #[arg(long)]
    cpu_time: bool,
    /// Also write the rows as JSON here.
    #[arg(long)]
    json: Option<PathBuf>,
}

/// Codes one chunk (with its plan) into the output and returns a tag the
/// decoder needs (weightzip: the codec [`select`] chose).
type Enc = Box<dyn Fn(&ChunkPlan, &[u8], &mut Vec<u8>) -> Result<u8> + Sync>;
/// Decodes one chunk given the encoder's tag.
type Dec = Box<dyn Fn(u8, &[u8], &mut [u8]) -> Result<()> + Sync>;

struct Contender {
    name: String,
    /// Key for `--only`.
    key: &'static str,
    /// The rANS kernel to force while this contender runs.
    kernel: Option<Kernel>,
    enc: Enc,
    dec: Dec,
}

thread_local! {
    /// The zstd contexts of this thread (see `contenders`).
    static ZSTD_ENC: std::cell::RefCell<Option<(i32, zstd::bulk::Compressor<'static>)>> =
        const { std::cell::RefCell::new(None) };
    static ZSTD_DEC: std::cell::RefCell<Option<zstd::bulk::Decompressor<'static>>> =
        const { std::cell::RefCell::new(None) };
}

fn contenders(codecs: &[CodecId], kernels: bool) -> Vec<Contender> {
    // zstd keeps one context per thread and level, as a program coding
    // many chunks would: a fresh context per chunk allocates and clears
    // megabytes of tables, which made zstd's encode speed depend on the
    // allocator's state (up to 1.8x between otherwise equal runs).
    let zstd_at = |lvl: i32, key| Contender {
        name: format!("zstd -{lvl}"),
        key,
        kernel: None,
        enc: Box::new(move |_, d, o| {
            o.reserve(zstd::zstd_safe::compress_bound(d.len()));
            ZSTD_ENC.with(|cell| {
                let mut cache = cell.borrow_mut();
                if cache.as_ref().is_none_or(|(l, _)| *l != lvl) {
                    *cache = Some((lvl, zstd::bulk::Compressor::new(lvl)?));
                }
                let (_, c) = cache.as_mut().expect("set above");
                c.compress_to_buffer(d, o)?;
                anyhow::Ok(0)
            })
        }),
        dec: Box::new(|_, i, o| {
            let n = ZSTD_DEC.with(|cell| {
                let mut cache = cell.borrow_mut();
                if cache.is_none() {
                    *cache = Some(zstd::bulk::Decompressor::new()?);
                }
                let d = cache.as_mut().expect("set above");
                anyhow::Ok(d.decompress_to_buffer(i, o)?)
            })?;
            if n != o.len() {
                bail!("zstd: short output");
            }
            Ok(())
        }),
    };
    let ours = |codec: CodecId, kernel: Option<Kernel>| Contender {
        name: match kernel {
            None => codec.name().to_string(),
            Some(k) => format!("{}[{}]", codec.name(), k.name()),
        },
        key: "wz",
        kernel,
        // The container's choice for the chunk, with `codec` first.
        enc: Box::new(move |plan, d, o| {
            let plan = ChunkPlan { codec, ..*plan };
            Ok(select(d, &plan, o)? as u8)
        }),
        dec: Box::new(move |tag, i, o| {
            let chosen = weightzip_codec::codec_by_id(tag)?;
            Ok(chosen.decode(i, o)?)
        }),
    };
    let mut v = vec![
        Contender {
            name: "memcpy".into(),
            key: "memcpy",
            kernel: None,
            enc: Box::new(|_, d, o| {
                o.extend_from_slice(d);
                Ok(0)
            }),
            dec: Box::new(|_, i, o| {
                o.copy_from_slice(i);
                Ok(())
            }),
        },
        Contender {
            name: "lz4".into(),
            key: "lz4",
            kernel: None,
            enc: Box::new(|_, d, o| {
                o.extend_from_slice(&lz4_flex::block::compress(d));
                Ok(0)
            }),
            dec: Box::new(|_, i, o| {
                let n = lz4_flex::block::decompress_into(i, o)?;
                if n != o.len() {
                    bail!("lz4: short output");
                }
                Ok(())
            }),
        },
        zstd_at(1, "zstd-1"),
        zstd_at(3, "zstd-3"),
    ];
    for &codec in codecs {
        v.push(ours(codec, None));
        if kernels {
            v.extend(
                Kernel::supported()
                    .into_iter()
                    .map(|k| ours(codec, Some(k))),
            );
        }
    }
    v
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// CPU seconds used by the calling thread.
#[cfg(target_os = "linux")]
fn thread_cpu_seconds() -> Option<f64> {
    #[repr(C)]
    struct Timespec {
        sec: i64,
        nsec: i64,
    }
    extern "C" {
        fn clock_gettime(clock: i32, ts: *mut Timespec) -> i32;
    }
    const CLOCK_THREAD_CPUTIME_ID: i32 = 3;
    let mut ts = Timespec { sec: 0, nsec: 0 };
    // SAFETY: clock_gettime writes one timespec through a valid pointer.
    let rc = unsafe { clock_gettime(CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    (rc == 0).then_some(ts.sec as f64 + ts.nsec as f64 * 1e-9)
}

#[cfg(not(target_os = "linux"))]
fn thread_cpu_seconds() -> Option<f64> {
    None
}

/// Runs `f` over chunk indices on `threads` threads (static interleaving).
fn par_chunks(n: usize, threads: usize, f: &(dyn Fn(usize) -> Result<()> + Sync)) -> Result<()> {
    if threads <= 1 {
        return (0..n).try_for_each(f);
    }
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| s.spawn(move || (t..n).step_by(threads).try_for_each(f)))
            .collect();
        handles
            .into_iter()
            .try_for_each(|h| h.join().unwrap_or_else(|_| bail!("worker panicked")))
    })
}

/// The tensors of one type: their bytes back to back, and the container's
/// chunks of each tensor (ranges in `data`) with their plans.
struct Group {
    ty: TensorType,
    codec: CodecId,
    data: Vec<u8>,
    chunks: Vec<(std::ops::Range<usize>, ChunkPlan)>,
}

/// One measured row.
struct Row {
    ty: String,
    name: String,
    bytes: usize,
    stored: usize,
    enc1: f64,
    dec1: f64,
    enc_t: f64,
    dec_t: f64,
}

/// Runs the benchmark and prints a table.
pub fn run(a: SpeedArgs) -> Result<()> {
    let mut out = std::io::stdout().lock();
    let level = match a.level.as_str() {
        "fast" => Level::Fast,
        "max" => Level::Max,
        other => bail!("--level must be fast or max, not {other}"),
    };
    let threads = if a.threads == 0 {
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    } else {
        a.threads
    };
    let cpu_clock = a.cpu_time && thread_cpu_seconds().is_some();
    let cap = a.max_mib << 20;
    let chunk_size = (a.chunk_mib << 20).max(16) as u64;
    // Tensor chunks grouped by tensor type, cut and planned as the
    // container does: (type, its codec, bytes, chunk ranges in the bytes
    // with each chunk's plan).
    let mut groups: Vec<Group> = Vec::new();
    for f in &a.files {
        let bytes = std::fs::read(f).with_context(|| format!("reading {}", f.display()))?;
        let layout = layout_of(&bytes).with_context(|| format!("parsing {}", f.display()))?;
        for t in &layout.tensors {
            let plan = plan_tensor(t.ty, &t.shape, t.len, chunk_size, level);
            if plan.codec == CodecId::Zstd {
                continue;
            }
            let key = match t.ty {
                TensorType::Ggml(GgmlType::BF16) => TensorType::St(Dtype::BF16),
                TensorType::Ggml(GgmlType::F16) => TensorType::St(Dtype::F16),
                TensorType::Ggml(GgmlType::F32) => TensorType::St(Dtype::F32),
                other => other,
            };
            let slot = match groups.iter().position(|g| g.ty == key) {
                Some(i) => i,
                None => {
                    groups.push(Group {
                        ty: key,
                        codec: plan.codec,
                        data: Vec::new(),
                        chunks: Vec::new(),
                    });
                    groups.len() - 1
                }
            };
            let g = &mut groups[slot];
            // Whole tensors until the group holds the cap.
            if g.data.len() >= cap {
                continue;
            }
            let (start, len) = (t.offset as usize, t.len as usize);
            let base = g.data.len();
            g.data.extend_from_slice(&bytes[start..start + len]);
            for r in plan.chunks(t.len) {
                let range = base + r.start as usize..base + r.end as usize;
                g.chunks.push((range, plan.chunk(false)));
            }
        }
    }
    if groups.is_empty() {
        bail!("no tensors with a dedicated codec in the inputs");
    }
    writeln!(
        out,
        "single thread timed by {}; {threads} threads by the wall clock; median of {} repeats",
        if cpu_clock {
            "thread CPU time"
        } else {
            "the wall clock"
        },
        a.repeats.max(1)
    )?;
    writeln!(
        out,
        "{:<8} {:<18} {:>9} {:>8} {:>10} {:>10} {:>12} {:>12}",
        "dtype",
        "codec",
        "MB",
        "ratio",
        "enc MB/s",
        "dec MB/s",
        format!("enc MB/s x{threads}"),
        format!("dec MB/s x{threads}")
    )?;
    let mut rows: Vec<Row> = Vec::new();
    for Group {
        ty,
        codec,
        data,
        chunks: planned,
    } in &groups
    {
        let chunks: Vec<&[u8]> = planned.iter().map(|(r, _)| &data[r.clone()]).collect();
        let ty_name = match ty {
            TensorType::St(d) => d.name().to_string(),
            TensorType::Ggml(g) => g.name().to_string(),
        };
        let mut codecs = vec![*codec];
        let extra = if !a.extra_codecs.is_empty() {
            a.extra_codecs.clone()
        } else if *ty == TensorType::St(Dtype::BF16) {
            vec!["wz_bf16j".to_string(), "wz_bf16".to_string()]
        } else {
            Vec::new()
        };
        for name in &extra {
            let c = codec_by_name(name).with_context(|| format!("--codec {name}"))?;
            if !codecs.contains(&c) {
                codecs.push(c);
            }
        }
        for c in contenders(&codecs, a.kernels) {
            if !a.only.is_empty() && !a.only.iter().any(|o| *o == c.key || *o == c.name) {
                continue;
            }
            Kernel::set_preferred(c.kernel);
            let mut encoded: Vec<Vec<u8>> = Vec::new();
            let mut tags: Vec<u8> = Vec::new();
            for (ch, (_, plan)) in chunks.iter().zip(planned) {
                let mut o = Vec::new();
                tags.push((c.enc)(plan, ch, &mut o)?);
                encoded.push(o);
            }
            // Every measurement is checked for a byte-exact round trip first.
            for ((ch, e), &tag) in chunks.iter().zip(&encoded).zip(&tags) {
                let mut back = vec![0u8; ch.len()];
                (c.dec)(tag, e, &mut back)?;
                if back != *ch {
                    bail!("{}: round trip differs on {ty_name}", c.name);
                }
            }
            let stored: usize = encoded.iter().map(Vec::len).sum();
            let mut outs: Vec<std::sync::Mutex<Vec<u8>>> = chunks
                .iter()
                .map(|ch| std::sync::Mutex::new(vec![0u8; ch.len()]))
                .collect();
            let time = |t: usize, decode: bool| -> Result<f64> {
                let mut mbps = Vec::new();
                let cpu = cpu_clock && t == 1;
                for _ in 0..a.repeats.max(1) {
                    let wall = Instant::now();
                    let cpu0 = if cpu { thread_cpu_seconds() } else { None };
                    if decode {
                        par_chunks(chunks.len(), t, &|i| {
                            let mut o = outs[i].lock().map_err(|_| anyhow::anyhow!("poisoned"))?;
                            (c.dec)(tags[i], &encoded[i], &mut o)
                        })?;
                    } else {
                        par_chunks(chunks.len(), t, &|i| {
                            let mut o = Vec::with_capacity(chunks[i].len());
                            (c.enc)(&planned[i].1, chunks[i], &mut o).map(|_| ())
                        })?;
                    }
                    let secs = match (cpu0, if cpu { thread_cpu_seconds() } else { None }) {
                        (Some(t0), Some(t1)) => t1 - t0,
                        _ => wall.elapsed().as_secs_f64(),
                    };
                    mbps.push(data.len() as f64 / 1e6 / secs);
                }
                Ok(median(mbps))
            };
            let row = Row {
                ty: ty_name.clone(),
                name: c.name.clone(),
                bytes: data.len(),
                stored,
                enc1: time(1, false)?,
                dec1: time(1, true)?,
                enc_t: time(threads, false)?,
                dec_t: time(threads, true)?,
            };
            outs.clear();
            Kernel::set_preferred(None);
            writeln!(
                out,
                "{:<8} {:<18} {:>9.1} {:>8.4} {:>10.0} {:>10.0} {:>12.0} {:>12.0}",
                row.ty,
                row.name,
                row.bytes as f64 / 1e6,
                row.bytes as f64 / row.stored as f64,
                row.enc1,
                row.dec1,
                row.enc_t,
                row.dec_t
            )?;
            rows.push(row);
        }
    }
    // Each weightzip row against zstd -3 and memcpy of the same run.
    let find = |ty: &str, name: &str| rows.iter().find(|r| r.ty == ty && r.name == name);
    for r in &rows {
        if r.name.starts_with("wz_") {
            if let (Some(z), Some(m)) = (find(&r.ty, "zstd -3"), find(&r.ty, "memcpy")) {
                writeln!(
                    out,
                    "{} {}: decode {:.2}x zstd -3, {:.2}x memcpy; encode {:.2}x zstd -3; \
                     x{threads} threads: decode {:.2}x, encode {:.2}x one thread",
                    r.ty,
                    r.name,
                    r.dec1 / z.dec1,
                    r.dec1 / m.dec1,
                    r.enc1 / z.enc1,
                    r.dec_t / r.dec1,
                    r.enc_t / r.enc1
                )?;
            }
        }
    }
    if let Some(p) = &a.json {
        let json: Vec<_> = rows
            .iter()
            .map(|r| {
                serde_json::json!({
                    "dtype": r.ty, "codec": r.name, "input_bytes": r.bytes,
                    "compressed_bytes": r.stored, "ratio": r.bytes as f64 / r.stored as f64,
                    "compress_MBps_1t": r.enc1, "decompress_MBps_1t": r.dec1,
                    "threads": threads, "compress_MBps_nt": r.enc_t, "decompress_MBps_nt": r.dec_t,
                    "chunk_bytes": chunk_size, "repeats": a.repeats,
                    "single_thread_clock": if cpu_clock { "thread_cpu" } else { "wall" },
                })
            })
            .collect();
        std::fs::write(p, serde_json::to_string_pretty(&json)?)
            .with_context(|| format!("writing {}", p.display()))?;
    }
    Ok(())
}
