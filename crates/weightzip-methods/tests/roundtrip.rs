//! Every method round-trips real weight slices of every corpus it applies
//! to; trained methods train on one fixture and code another.

mod common;

use weightzip_entropy::{entropy_bits, histogram};
use weightzip_methods::{all_methods, method_for, methods_for, Corpus, Method, Profile};

fn train(m: &dyn Method, corpus: Corpus, items: &[Vec<u8>]) -> Option<Profile> {
    let refs: Vec<&[u8]> = items.iter().map(|v| v.as_slice()).collect();
    let p = m
        .train(corpus, &refs)
        .unwrap_or_else(|e| panic!("{} train: {e}", m.name()));
    assert_eq!(p.is_some(), m.is_trained(), "{}", m.name());
    p
}

#[test]
fn every_method_round_trips_real_slices() {
    let mut covered = std::collections::BTreeSet::new();
    for split in common::splits() {
        for m in methods_for(split.corpus) {
            let profile = train(m.as_ref(), split.corpus, &split.train);
            for item in &split.test {
                let z = m
                    .compress(item, profile.as_ref())
                    .unwrap_or_else(|e| panic!("{} on {:?}: {e}", m.name(), split.corpus));
                let back = m
                    .decompress(&z, item.len(), profile.as_ref())
                    .unwrap_or_else(|e| panic!("{} on {:?}: {e}", m.name(), split.corpus));
                assert!(
                    back == *item,
                    "{} on {:?}: round trip differs",
                    m.name(),
                    split.corpus
                );
                if item.len() > 50_000 {
                    let charged = profile.as_ref().map_or(0, |p| p.bytes.len());
                    println!(
                        "{:<34} {:<12} {:>8} -> {:>8} (+{:>6} profile) ratio {:.4}",
                        m.name(),
                        split.corpus.as_str(),
                        item.len(),
                        z.len(),
                        charged,
                        item.len() as f64 / (z.len() + charged) as f64
                    );
                }
            }
            covered.insert(m.name());
        }
    }
    for m in all_methods() {
        if Corpus::ALL.iter().any(|&c| m.applies_to(c)) {
            assert!(covered.contains(m.name()), "{} never tested", m.name());
        }
    }
}

/// Prop. 1: bf16_split sits within 1 % of 16 / (H_byte0 + H_byte1) (and,
/// being an order-0 coder of the same streams, never above it).
#[test]
fn bf16_split_reaches_the_byte_marginal_ceiling() {
    let m = method_for("bf16_split", Corpus::Bf16Tensor).unwrap();
    for name in [
        "bf16_minilm_query.bin",
        "bf16_minilm_intermediate_400rows.bin",
    ] {
        let data = common::fixture(name);
        assert!(data.len() >= 290_000);
        let lo: Vec<u8> = data.iter().step_by(2).copied().collect();
        let hi: Vec<u8> = data.iter().skip(1).step_by(2).copied().collect();
        let ceiling = 16.0 / (entropy_bits(&histogram(&lo)) + entropy_bits(&histogram(&hi)));
        let z = m.compress(&data, None).unwrap();
        let ratio = data.len() as f64 / z.len() as f64;
        println!("{name}: bf16_split {ratio:.4}, R_marginal {ceiling:.4}");
        assert!(ratio >= 0.99 * ceiling, "{name}: {ratio} vs {ceiling}");
        assert!(ratio <= ceiling * 1.0005, "{name}: {ratio} above {ceiling}");
    }
}

#[test]
fn q4k_inputs_must_be_whole_blocks() {
    let train = common::fixture("q4k_whisper_attn_linear0.bin");
    for m in methods_for(Corpus::Q4kStream) {
        let name = m.name();
        if !(name == "qa" || name.starts_with("qb_")) {
            continue;
        }
        let p = train_one(m.as_ref(), &train);
        assert!(m.compress(&train[..1000], p.as_ref()).is_err(), "{name}");
        assert!(m.decompress(&[0; 64], 1000, p.as_ref()).is_err(), "{name}");
    }
}

fn train_one(m: &dyn Method, item: &[u8]) -> Option<Profile> {
    m.train(Corpus::Q4kStream, &[item]).unwrap()
}

#[test]
fn trained_methods_need_their_own_profile() {
    let item = common::fixture("bf16_minilm_query.bin");
    let k1 = method_for("bf16_pretrained_k1", Corpus::Bf16Tensor).unwrap();
    let k4 = method_for("bf16_mixture_k4", Corpus::Bf16Tensor).unwrap();
    assert!(k1.compress(&item, None).is_err());
    let p = k1.train(Corpus::Bf16Tensor, &[&item]).unwrap().unwrap();
    assert!(k4.compress(&item, Some(&p)).is_err());
    let z = k1.compress(&item, Some(&p)).unwrap();
    assert!(k1.decompress(&z, item.len(), None).is_err());
    let bad = Profile::new("bf16_pretrained_k1", vec![1, 2, 3]);
    assert!(k1.decompress(&z, item.len(), Some(&bad)).is_err());
}

#[test]
fn profiles_survive_a_file() {
    let item = common::fixture("q4k_whisper_attn_linear0.bin");
    let m = method_for("qb_k4", Corpus::Q4kStream).unwrap();
    let p = m.train(Corpus::Q4kStream, &[&item]).unwrap().unwrap();
    let path = std::env::temp_dir().join(format!("wz-methods-profile-{}.bin", std::process::id()));
    p.save(&path).unwrap();
    let back = Profile::load(&path).unwrap();
    let _ = std::fs::remove_file(&path);
    assert_eq!(back, p);
    assert_eq!(back.charged_bytes(), p.bytes.len());
    let mut image = p.to_file_bytes();
    let last = image.len() - 1;
    image[last] ^= 1;
    assert!(Profile::from_file_bytes(&image, "x").is_err());
    for cut in [0, 5, 12, image.len() - 1] {
        assert!(Profile::from_file_bytes(&image[..cut], "x").is_err());
    }
}

#[test]
fn zstd19_bytegrouped_uses_the_corpus_width() {
    let fp32 = common::fixture("fp32_minilm_key_48rows.bin");
    let w4 = method_for("zstd19_bytegrouped", Corpus::Fp32Tensor).unwrap();
    let w2 = method_for("zstd19_bytegrouped", Corpus::Bf16Tensor).unwrap();
    let z4 = w4.compress(&fp32, None).unwrap();
    let z2 = w2.compress(&fp32, None).unwrap();
    assert_ne!(z4, z2);
    assert_eq!(w4.decompress(&z4, fp32.len(), None).unwrap(), fp32);
}

#[test]
fn gguf_decomposition_finds_every_tensor() {
    use weightzip_methods::gguf::{q4k_tensors, segments, SegmentKind};
    let file = common::fixture("gguf_minilm_small.gguf");
    let segs = segments(&file);
    assert_eq!(segs.iter().map(|s| s.1).sum::<usize>(), file.len());
    let kinds: Vec<SegmentKind> = segs
        .iter()
        .map(|s| s.0)
        .filter(|k| *k != SegmentKind::Meta)
        .collect();
    use SegmentKind::*;
    assert_eq!(
        kinds,
        [Plain, OtherQuant, Q4k, Q4k, OtherQuant, OtherQuant, Plain]
    );
    let q4k: Vec<usize> = q4k_tensors(&file).iter().map(|t| t.len()).collect();
    assert_eq!(q4k, [384 * 144, 192 * 144]);
    assert_eq!(segments(b"not a gguf"), [(Meta, 10)]);
    assert!(segments(&[]).is_empty());
}
