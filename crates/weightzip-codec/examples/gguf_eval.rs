//! Ratio and single-thread decode speed of the GGUF block codecs on real
//! files, per tensor type, beside zstd -19 on the same chunks.
//!
//! `cargo run --release -p weightzip-codec --example gguf_eval -- FILE.gguf...`
//! Options (environment): `CHUNK_MIB` (default 4, as the container),
//! `ZSTD=0` to skip zstd, `REPEATS` (default 3). Decode time is this thread's CPU time
//! (`/proc/thread-self/schedstat`) averaged over the repeats (`cpu`), and
//! the best wall time of the repeats (`best`), both single thread.

use std::collections::BTreeMap;
use std::time::Instant;

use weightzip_codec::{codec_for, CodecId, Level};
use weightzip_format::{layout_of, TensorType};

/// CPU time of this thread in seconds (Linux; wall time elsewhere is not
/// comparable on a shared machine).
fn cpu_s() -> f64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse::<u64>().ok())
        .map(|ns| ns as f64 * 1e-9)
        .unwrap_or_else(|| {
            static T0: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
            T0.get_or_init(Instant::now).elapsed().as_secs_f64()
        })
}

#[derive(Default)]
struct Acc {
    tensors: usize,
    raw: usize,
    coded: usize,
    zstd: usize,
    dec_s: f64,
    dec_wall: f64,
    zdec_s: f64,
    zdec_wall: f64,
}

fn main() {
    let chunk_mib: usize = std::env::var("CHUNK_MIB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(4);
    let with_zstd = std::env::var("ZSTD").map(|v| v != "0").unwrap_or(true);
    let repeats: usize = std::env::var("REPEATS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3);
    for path in std::env::args().skip(1) {
        let bytes = std::fs::read(&path).expect("read");
        let layout = layout_of(&bytes).expect("layout");
        let mut acc: BTreeMap<(String, &str), Acc> = BTreeMap::new();
        for t in &layout.tensors {
            let TensorType::Ggml(g) = t.ty else { continue };
            let codec = codec_for(t.ty, Level::Max);
            if matches!(codec, CodecId::Zstd | CodecId::Store) {
                continue;
            }
            let data = &bytes[t.offset as usize..(t.offset + t.len) as usize];
            let granule = g.type_size();
            let step = ((chunk_mib << 20) / granule * granule).max(granule);
            let a = acc.entry((g.name().to_string(), codec.name())).or_default();
            a.tensors += 1;
            for chunk in data.chunks(step) {
                let mut enc = Vec::new();
                codec.encode(chunk, Level::Max, &mut enc).expect("encode");
                let mut back = vec![0u8; chunk.len()];
                let t0 = cpu_s();
                let mut wall = f64::MAX;
                for _ in 0..repeats {
                    let w = Instant::now();
                    codec.decode(&enc, &mut back).expect("decode");
                    wall = wall.min(w.elapsed().as_secs_f64());
                }
                let best = (cpu_s() - t0) / repeats as f64;
                a.dec_wall += wall;
                assert!(back == chunk, "{}: round trip failed", t.name);
                a.raw += chunk.len();
                a.coded += enc.len().min(chunk.len());
                a.dec_s += best;
                if with_zstd {
                    let z = zstd::bulk::compress(chunk, 19).expect("zstd");
                    let t0 = cpu_s();
                    let mut wall = f64::MAX;
                    for _ in 0..repeats {
                        let w = Instant::now();
                        let n = zstd::bulk::decompress_to_buffer(&z, &mut back).expect("unzstd");
                        assert_eq!(n, chunk.len());
                        wall = wall.min(w.elapsed().as_secs_f64());
                    }
                    let best = (cpu_s() - t0) / repeats as f64;
                    a.zdec_wall += wall;
                    a.zstd += z.len();
                    a.zdec_s += best;
                }
            }
        }
        println!("== {path}");
        println!(
            "{:6} {:9} {:>4} {:>11} {:>8} {:>9} {:>9} {:>8} {:>9} {:>9}",
            "type",
            "codec",
            "n",
            "bytes",
            "ratio",
            "dec cpu",
            "dec best",
            "zstd19",
            "zdec cpu",
            "zdec best"
        );
        for ((ty, codec), a) in &acc {
            let mbs = |s: f64| a.raw as f64 / 1e6 / s.max(1e-12);
            println!(
                "{:6} {:9} {:>4} {:>11} {:>8.4} {:>9.0} {:>9.0} {:>8.4} {:>9.0} {:>9.0}",
                ty,
                codec,
                a.tensors,
                a.raw,
                a.raw as f64 / a.coded as f64,
                mbs(a.dec_s),
                mbs(a.dec_wall),
                a.raw as f64 / a.zstd.max(1) as f64,
                mbs(a.zdec_s),
                mbs(a.zdec_wall),
            );
        }
    }
}
