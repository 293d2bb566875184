//! `weightzip speed`: encode / decode throughput of weightzip's codecs next
//! to memcpy, zstd -1 / -3 and lz4 on the same tensor bytes, in one run.
//!
//! Bytes are grouped by tensor type (all bf16 tensors of the inputs, all
//! fp16, ...) and cut into the container's chunks; every codec codes the
//! same chunks. MB/s = input bytes / 1e6 / seconds, median of the repeats.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use clap::Args;
use weightzip_codec::{choose_codec, CodecId, Level};
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
    /// Use at most this many MiB of each tensor type.
    #[arg(long, default_value_t = 256)]
    max_mib: usize,
    /// Codec level of the weightzip codecs.
    #[arg(long, default_value = "fast")]
    level: String,
    /// Also write the rows as JSON here.
    #[arg(long)]
    json: Option<PathBuf>,
}

type Enc = Box<dyn Fn(&[u8], &mut Vec<u8>) -> Result<()> + Sync>;
type Dec = Box<dyn Fn(&[u8], &mut [u8]) -> Result<()> + Sync>;

struct Contender {
    name: String,
    enc: Enc,
    dec: Dec,
}

fn contenders(codec: CodecId, level: Level) -> Vec<Contender> {
    let zstd_at = |lvl: i32| Contender {
        name: format!("zstd -{lvl}"),
        enc: Box::new(move |d, o| {
            o.extend_from_slice(&zstd::bulk::compress(d, lvl)?);
            Ok(())
        }),
        dec: Box::new(|i, o| {
            let n = zstd::bulk::Decompressor::new()?.decompress_to_buffer(i, o)?;
            if n != o.len() {
                bail!("zstd: short output");
            }
            Ok(())
        }),
    };
    vec![
        Contender {
            name: "memcpy".into(),
            enc: Box::new(|d, o| {
                o.extend_from_slice(d);
                Ok(())
            }),
            dec: Box::new(|i, o| {
                o.copy_from_slice(i);
                Ok(())
            }),
        },
        Contender {
            name: "lz4".into(),
            enc: Box::new(|d, o| {
                o.extend_from_slice(&lz4_flex::block::compress(d));
                Ok(())
            }),
            dec: Box::new(|i, o| {
                let n = lz4_flex::block::decompress_into(i, o)?;
                if n != o.len() {
                    bail!("lz4: short output");
                }
                Ok(())
            }),
        },
        zstd_at(1),
        zstd_at(3),
        Contender {
            name: codec.name().into(),
            enc: Box::new(move |d, o| Ok(codec.encode(d, level, o)?)),
            dec: Box::new(move |i, o| Ok(codec.decode(i, o)?)),
        },
    ]
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
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

/// Runs the benchmark and prints a table.
pub fn run(a: SpeedArgs) -> Result<()> {
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
    let cap = a.max_mib << 20;
    // Tensor bytes grouped by the codec weightzip picks for them.
    let mut groups: Vec<(TensorType, CodecId, Vec<u8>)> = Vec::new();
    for f in &a.files {
        let bytes = std::fs::read(f).with_context(|| format!("reading {}", f.display()))?;
        let layout = layout_of(&bytes).with_context(|| format!("parsing {}", f.display()))?;
        for t in &layout.tensors {
            let codec = choose_codec(t.ty, level);
            if codec == CodecId::Zstd {
                continue;
            }
            let key = match t.ty {
                TensorType::Ggml(GgmlType::BF16) => TensorType::St(Dtype::BF16),
                TensorType::Ggml(GgmlType::F16) => TensorType::St(Dtype::F16),
                TensorType::Ggml(GgmlType::F32) => TensorType::St(Dtype::F32),
                other => other,
            };
            let slot = match groups.iter().position(|g| g.0 == key) {
                Some(i) => i,
                None => {
                    groups.push((key, codec, Vec::new()));
                    groups.len() - 1
                }
            };
            let buf = &mut groups[slot].2;
            let take = (t.len as usize).min(cap.saturating_sub(buf.len()));
            let start = t.offset as usize;
            buf.extend_from_slice(&bytes[start..start + take]);
        }
    }
    if groups.is_empty() {
        bail!("no tensors with a dedicated codec in the inputs");
    }
    let mut rows = Vec::new();
    println!(
        "{:<8} {:<10} {:>9} {:>8} {:>10} {:>10} {:>12} {:>12}",
        "dtype", "codec", "MB", "ratio", "enc MB/s", "dec MB/s", "enc MB/s xT", "dec MB/s xT"
    );
    for (ty, codec, data) in &groups {
        let chunk = (a.chunk_mib << 20).max(16);
        let chunks: Vec<&[u8]> = data.chunks(chunk).collect();
        let ty_name = match ty {
            TensorType::St(d) => d.name().to_string(),
            TensorType::Ggml(g) => g.name().to_string(),
        };
        for c in contenders(*codec, level) {
            let mut encoded: Vec<Vec<u8>> = Vec::new();
            for ch in &chunks {
                let mut o = Vec::new();
                (c.enc)(ch, &mut o)?;
                encoded.push(o);
            }
            // Every measurement is checked for a byte-exact round trip first.
            for (ch, e) in chunks.iter().zip(&encoded) {
                let mut back = vec![0u8; ch.len()];
                (c.dec)(e, &mut back)?;
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
                for _ in 0..a.repeats.max(1) {
                    let start = Instant::now();
                    if decode {
                        par_chunks(chunks.len(), t, &|i| {
                            let mut o = outs[i].lock().map_err(|_| anyhow::anyhow!("poisoned"))?;
                            (c.dec)(&encoded[i], &mut o)
                        })?;
                    } else {
                        par_chunks(chunks.len(), t, &|i| {
                            let mut o = Vec::with_capacity(chunks[i].len());
                            (c.enc)(chunks[i], &mut o)
                        })?;
                    }
                    mbps.push(data.len() as f64 / 1e6 / start.elapsed().as_secs_f64());
                }
                Ok(median(mbps))
            };
            let enc1 = time(1, false)?;
            let dec1 = time(1, true)?;
            let enc_t = time(threads, false)?;
            let dec_t = time(threads, true)?;
            outs.clear();
            let ratio = data.len() as f64 / stored as f64;
            println!(
                "{:<8} {:<10} {:>9.1} {:>8.4} {:>10.0} {:>10.0} {:>12.0} {:>12.0}",
                ty_name,
                c.name,
                data.len() as f64 / 1e6,
                ratio,
                enc1,
                dec1,
                enc_t,
                dec_t
            );
            rows.push(serde_json::json!({
                "dtype": ty_name, "codec": c.name, "input_bytes": data.len(), "compressed_bytes": stored,
                "ratio": ratio, "compress_MBps_1t": enc1, "decompress_MBps_1t": dec1,
                "threads": threads, "compress_MBps_nt": enc_t, "decompress_MBps_nt": dec_t,
                "chunk_bytes": chunk, "repeats": a.repeats,
            }));
        }
    }
    if let Some(p) = &a.json {
        std::fs::write(p, serde_json::to_string_pretty(&rows)?)
            .with_context(|| format!("writing {}", p.display()))?;
    }
    Ok(())
}
