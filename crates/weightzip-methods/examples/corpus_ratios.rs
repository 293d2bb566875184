//! Manual check (not run in CI): every method over the real corpus files,
//! byte-weighted ratios with profiles charged per item.
//!
//! ```text
//! cargo run --release -p weightzip-methods --example corpus_ratios -- CORPUS_DIR [corpus-name ...]
//! ```
//! Train split = Whisper files, test split = MiniLM files (the corpus
//! README's suggestion). Corpora with a single source model (fp16: Whisper,
//! fp32: MiniLM) train on every other tensor (largest first) and test on
//! the rest. `WZ_SKIP=name,name` skips methods.

use std::path::Path;
use std::time::Instant;

use weightzip_format::{layout_of, Dtype, GgmlType, TensorType};
use weightzip_methods::{methods_for, Corpus};

fn tensors(path: &Path, want: TensorType) -> Vec<Vec<u8>> {
    let Ok(data) = std::fs::read(path) else {
        eprintln!("skip {} (missing)", path.display());
        return Vec::new();
    };
    let Ok(layout) = layout_of(&data) else {
        return Vec::new();
    };
    layout
        .tensors
        .iter()
        .filter(|t| t.ty == want)
        .map(|t| data[t.offset as usize..(t.offset + t.len) as usize].to_vec())
        .collect()
}

/// Alternate tensors, largest first, between train and test.
fn halves(mut v: Vec<Vec<u8>>) -> (Vec<Vec<u8>>, Vec<Vec<u8>>) {
    v.sort_by_key(|t| std::cmp::Reverse(t.len()));
    let mut train = Vec::new();
    let mut test = Vec::new();
    for (i, t) in v.into_iter().enumerate() {
        if i % 2 == 0 {
            train.push(t);
        } else {
            test.push(t);
        }
    }
    (train, test)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let root = Path::new(args.get(1).map_or("../shared/corpus", String::as_str));
    let only: Vec<&str> = args.iter().skip(2).map(String::as_str).collect();
    let fx = root.join("fixtures");
    let bf16 = TensorType::St(Dtype::BF16);
    let q4k = TensorType::Ggml(GgmlType::Q4_K);
    type Split = (Corpus, Vec<Vec<u8>>, Vec<Vec<u8>>);
    let mut corpora: Vec<Split> = Vec::new();
    corpora.push((
        Corpus::Bf16Tensor,
        tensors(
            &fx.join("whisper-small-layer0-selfattn.bf16.safetensors"),
            bf16,
        ),
        tensors(&root.join("minilm/model.bf16.safetensors"), bf16),
    ));
    let (a, b) = halves(tensors(
        &fx.join("whisper-small-layer0-selfattn.fp16.safetensors"),
        TensorType::St(Dtype::F16),
    ));
    corpora.push((Corpus::Fp16Tensor, a, b));
    let (a, b) = halves(tensors(
        &fx.join("minilm-layer0-attention.fp32.safetensors"),
        TensorType::St(Dtype::F32),
    ));
    corpora.push((Corpus::Fp32Tensor, a, b));
    corpora.push((
        Corpus::Q4kStream,
        tensors(&root.join("whisper-small-partial/Q4_K.gguf"), q4k),
        tensors(&root.join("minilm/Q4_K_M.gguf"), q4k),
    ));
    let read = |p: &str| std::fs::read(root.join(p)).ok();
    corpora.push((
        Corpus::GgufFile,
        read("whisper-small-partial/Q4_K.gguf")
            .into_iter()
            .collect(),
        ["minilm/Q4_K_M.gguf", "minilm/Q6_K.gguf", "minilm/Q8_0.gguf"]
            .iter()
            .filter_map(|p| read(p))
            .collect(),
    ));
    for (corpus, train, test) in corpora {
        if !only.is_empty() && !only.contains(&corpus.as_str()) {
            continue;
        }
        let input: usize = test.iter().map(Vec::len).sum();
        println!(
            "== {} : {} train items, {} test items, {:.1} MB",
            corpus.as_str(),
            train.len(),
            test.len(),
            input as f64 / 1e6
        );
        let refs: Vec<&[u8]> = train.iter().map(Vec::as_slice).collect();
        let skip = std::env::var("WZ_SKIP").unwrap_or_default();
        let skip: Vec<&str> = skip.split(',').collect();
        let only_m = std::env::var("WZ_ONLY").unwrap_or_default();
        let only_m: Vec<&str> = only_m.split(',').filter(|s| !s.is_empty()).collect();
        for m in methods_for(corpus) {
            if skip.contains(&m.name()) || (!only_m.is_empty() && !only_m.contains(&m.name())) {
                continue;
            }
            let t0 = Instant::now();
            let profile = match m.train(corpus, &refs) {
                Ok(p) => p,
                Err(e) => {
                    println!("{:<34} train failed: {e}", m.name());
                    continue;
                }
            };
            let train_s = t0.elapsed().as_secs_f64();
            let charged = profile.as_ref().map_or(0, |p| p.bytes.len());
            let (mut out, mut enc_s, mut dec_s, mut ok) = (0usize, 0.0, 0.0, true);
            let mut ratios = Vec::new();
            let mut worst_gap = 0.0f64;
            for item in &test {
                let t = Instant::now();
                let z = match m.compress(item, profile.as_ref()) {
                    Ok(z) => z,
                    Err(e) => {
                        println!("{:<34} compress failed: {e}", m.name());
                        ok = false;
                        break;
                    }
                };
                enc_s += t.elapsed().as_secs_f64();
                let t = Instant::now();
                let back = m.decompress(&z, item.len(), profile.as_ref());
                dec_s += t.elapsed().as_secs_f64();
                ok &= back.as_deref().ok() == Some(item.as_slice());
                out += z.len() + charged;
                if m.name() == "bf16_split" && item.len() >= 1 << 20 {
                    let lo: Vec<u8> = item.iter().step_by(2).copied().collect();
                    let hi: Vec<u8> = item.iter().skip(1).step_by(2).copied().collect();
                    let h = |d: &[u8]| {
                        weightzip_entropy::entropy_bits(&weightzip_entropy::histogram(d))
                    };
                    let ceiling = 16.0 / (h(&lo) + h(&hi));
                    let r = item.len() as f64 / z.len() as f64;
                    worst_gap = worst_gap.max(1.0 - r / ceiling);
                }
                ratios.push(item.len() as f64 / (z.len() + charged) as f64);
            }
            if m.name() == "bf16_split" {
                println!(
                    "bf16_split: worst gap to R_marginal on tensors >= 1 MiB: {:.3} %",
                    worst_gap * 100.0
                );
            }
            ratios.sort_by(f64::total_cmp);
            let median = ratios.get(ratios.len() / 2).copied().unwrap_or(0.0);
            println!(
                "{:<34} {:<16} bw {:.4}  median {:.4}  profile {:>7} B  enc {:>7.1} MB/s  dec {:>7.1} MB/s  train {:>5.1} s{}",
                m.name(),
                m.class().as_str(),
                input as f64 / out.max(1) as f64,
                median,
                charged,
                input as f64 / 1e6 / enc_s.max(1e-9),
                input as f64 / 1e6 / dec_s.max(1e-9),
                train_s,
                if ok { "" } else { "  ROUND TRIP FAILED" }
            );
        }
    }
}
