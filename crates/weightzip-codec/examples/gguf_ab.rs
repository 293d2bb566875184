//! Decode speed of the GGUF block codecs per SIMD kernel, robust to a
//! noisy machine: encodes every chunk of the tensors of one type once, then
//! decodes them with each kernel in turn for many rounds and keeps each
//! chunk's fastest decode (single thread).
//!
//! `cargo run --release -p weightzip-codec --example gguf_ab -- FILE TYPE [ROUNDS]`
//! (`KERNELS=avx512,avx2` to measure only some kernels).

use std::time::Instant;

use weightzip_codec::{codec_for, Level};
use weightzip_entropy::rans::Kernel;
use weightzip_format::{layout_of, TensorType};

fn main() {
    let a: Vec<String> = std::env::args().collect();
    let bytes = std::fs::read(&a[1]).expect("read");
    let ty = &a[2];
    let rounds: usize = a.get(3).and_then(|r| r.parse().ok()).unwrap_or(10);
    let layout = layout_of(&bytes).expect("layout");
    let mut chunks = Vec::new();
    for t in &layout.tensors {
        let TensorType::Ggml(g) = t.ty else { continue };
        if g.name() != ty {
            continue;
        }
        let data = &bytes[t.offset as usize..(t.offset + t.len) as usize];
        let step = (4 << 20) / g.type_size() * g.type_size();
        let codec = codec_for(t.ty, Level::Max);
        for c in data.chunks(step) {
            let mut enc = Vec::new();
            codec.encode(c, Level::Max, &mut enc).expect("encode");
            chunks.push((c, codec, enc));
        }
    }
    let total: usize = chunks.iter().map(|c| c.0.len()).sum();
    let size: usize = chunks.iter().map(|c| c.2.len()).sum();
    println!(
        "{ty}: {total} bytes, ratio {:.4}",
        total as f64 / size as f64
    );
    // KERNELS=avx512,avx2 restricts the kernels measured.
    let kernels: Vec<Kernel> = match std::env::var("KERNELS") {
        Ok(list) => list.split(',').filter_map(Kernel::from_name).collect(),
        Err(_) => Kernel::supported(),
    };
    let mut best = vec![vec![f64::MAX; chunks.len()]; kernels.len()];
    let mut back = vec![0u8; 4 << 20];
    for _ in 0..rounds {
        for (ki, &k) in kernels.iter().enumerate() {
            Kernel::set_preferred(Some(k));
            for (ci, (c, codec, enc)) in chunks.iter().enumerate() {
                let out = &mut back[..c.len()];
                let t = Instant::now();
                codec.decode(enc, out).expect("decode");
                best[ki][ci] = best[ki][ci].min(t.elapsed().as_secs_f64());
                assert!(out == *c);
            }
        }
    }
    Kernel::set_preferred(None);
    for (ki, k) in kernels.iter().enumerate() {
        let s: f64 = best[ki].iter().sum();
        println!(
            "  {:7} best decode {:6.0} MB/s",
            k.name(),
            total as f64 / 1e6 / s
        );
    }
}
