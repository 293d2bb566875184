//! The lab pipeline over the demo corpus (examples/corpus.toml, real weight
//! slices in tests/fixtures): dataset, atlas, training on the train split
//! only, bench with round-trip checks and resume, failures, report.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use weightzip_lab::atlas::{
    affine_residual, affine_unresidual, compute_atlas, plane_coded_bytes, residual_coded_bytes,
    write_atlas, AtlasOptions, FloatType, Residual,
};
use weightzip_lab::bench::{bench_items, run_bench, BenchOptions, Shard};
use weightzip_lab::corpus::Dataset;
use weightzip_lab::manifest::{CorpusKind, Split};
use weightzip_lab::methods::{train_profiles, MethodSet, Profiles};
use weightzip_lab::progress::NoProgress;
use weightzip_lab::records::read_results;
use weightzip_lab::report::{build_report, to_markdown, ReportOptions};
use weightzip_lab::weightzip_methods::{Corpus, Method, MethodClass, Profile, Result as MResult};
use weightzip_lab::LabError;

fn demo() -> Dataset {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/corpus.toml");
    Dataset::load(path).unwrap()
}

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures")
}

fn fnv(data: &[u8]) -> u64 {
    data.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// A trained method that remembers every item it was trained on.
#[derive(Default)]
struct Spy {
    seen: Mutex<Vec<(Corpus, u64)>>,
}

impl Method for Spy {
    fn name(&self) -> &'static str {
        "spy_trained"
    }
    fn class(&self) -> MethodClass {
        MethodClass::TrainedProfile
    }
    fn applies_to(&self, _: Corpus) -> bool {
        true
    }
    fn is_trained(&self) -> bool {
        true
    }
    fn train(&self, corpus: Corpus, items: &[&[u8]]) -> MResult<Option<Profile>> {
        let mut seen = self.seen.lock().unwrap();
        seen.extend(items.iter().map(|i| (corpus, fnv(i))));
        Ok(Some(Profile::new("spy_trained", vec![7; 10])))
    }
    fn compress(&self, input: &[u8], profile: Option<&Profile>) -> MResult<Vec<u8>> {
        assert!(profile.is_some());
        Ok(input.to_vec())
    }
    fn decompress(&self, c: &[u8], _: usize, _: Option<&Profile>) -> MResult<Vec<u8>> {
        Ok(c.to_vec())
    }
}

/// Decodes to wrong bytes.
struct Broken;

impl Method for Broken {
    fn name(&self) -> &'static str {
        "broken"
    }
    fn class(&self) -> MethodClass {
        MethodClass::GeneralPurpose
    }
    fn applies_to(&self, c: Corpus) -> bool {
        c == Corpus::Bf16Tensor
    }
    fn compress(&self, input: &[u8], _: Option<&Profile>) -> MResult<Vec<u8>> {
        Ok(input.to_vec())
    }
    fn decompress(&self, c: &[u8], _: usize, _: Option<&Profile>) -> MResult<Vec<u8>> {
        let mut v = c.to_vec();
        if let Some(b) = v.last_mut() {
            *b ^= 1;
        }
        Ok(v)
    }
}

/// Counts its compress calls.
struct Counting(Arc<AtomicUsize>);

impl Method for Counting {
    fn name(&self) -> &'static str {
        "counting"
    }
    fn class(&self) -> MethodClass {
        MethodClass::GeneralPurpose
    }
    fn applies_to(&self, _: Corpus) -> bool {
        true
    }
    fn compress(&self, input: &[u8], _: Option<&Profile>) -> MResult<Vec<u8>> {
        self.0.fetch_add(1, Ordering::SeqCst);
        Ok(input.to_vec())
    }
    fn decompress(&self, c: &[u8], _: usize, _: Option<&Profile>) -> MResult<Vec<u8>> {
        Ok(c.to_vec())
    }
}

fn registry(names: &[&str]) -> Vec<Arc<dyn Method>> {
    MethodSet::registry(&names.iter().map(|s| s.to_string()).collect::<Vec<_>>())
        .unwrap()
        .iter()
        .map(|(_, m)| m.name())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .map(|n| Arc::from(weightzip_lab::weightzip_methods::method_by_name(n).unwrap()))
        .collect()
}

#[test]
fn demo_dataset_derives_every_corpus() {
    let ds = demo();
    let count = |s, k| ds.of(s, k).count();
    // At least 5 test items per corpus (the study's notebook keeps a fig5
    // point only with 5 rows).
    assert_eq!(count(Split::Test, CorpusKind::Bf16), 5);
    assert_eq!(count(Split::Test, CorpusKind::Fp16), 5);
    assert_eq!(count(Split::Test, CorpusKind::Q4k), 5);
    assert_eq!(count(Split::Test, CorpusKind::Gguf), 5);
    assert_eq!(count(Split::Train, CorpusKind::Bf16), 11);
    assert_eq!(count(Split::Train, CorpusKind::Fp16), 0);
    assert_eq!(count(Split::Train, CorpusKind::Q4k), 2);
    assert_eq!(count(Split::Train, CorpusKind::Gguf), 1);
    for it in &ds.items {
        let b = ds.bytes(it).unwrap();
        assert_eq!(b.len() as u64, it.input_bytes);
        if it.kind == CorpusKind::Q4k {
            assert_eq!(b.len() % 144, 0);
        }
    }
    let q = ds
        .items
        .iter()
        .find(|i| i.name == "encoder.layer.1.attention.self.query.weight")
        .unwrap();
    assert_eq!(q.category, "attention");
    assert_eq!(q.layer, Some(1));
}

#[test]
fn cast_to_bf16_and_filters() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("corpus.toml");
    let fx = fixtures();
    std::fs::write(
        &path,
        format!(
            "[[model]]\nname = \"w\"\npath = \"{}\"\nsplit = \"test\"\ncast = \"bf16\"\ninclude = [\"*/weight\"]\n",
            fx.join("lab-whisper-small-layer0-selfattn.fp16.safetensors").display()
        ),
    )
    .unwrap();
    let ds = Dataset::load(&path).unwrap();
    assert_eq!(ds.items.len(), 1);
    let it = &ds.items[0];
    assert_eq!(
        (it.kind, it.dtype.as_str(), it.source_dtype.as_deref()),
        (CorpusKind::Bf16, "bf16", Some("fp16"))
    );
    let cast = ds.bytes(it).unwrap();
    // The fixture's bf16 copy was made by the same round-to-nearest-even rule.
    let bf = weightzip_format::SafetensorsFile::open(
        fx.join("lab-whisper-small-layer0-selfattn.bf16.safetensors"),
    )
    .unwrap();
    assert_eq!(&cast[..], bf.tensor_bytes(&it.name).unwrap());
}

#[test]
fn atlas_of_the_demo_corpus_is_sane() {
    let ds = demo();
    let atlas = compute_atlas(&ds, &AtlasOptions::default(), &NoProgress).unwrap();
    let big: Vec<_> = atlas
        .floats
        .iter()
        .filter(|r| r.dtype == "bf16" && r.input_bytes >= 200_000)
        .collect();
    assert!(big.len() >= 9);
    for r in &big {
        assert!(
            (7.8..=8.0).contains(&r.H_byte0),
            "{} {}",
            r.tensor_name,
            r.H_byte0
        );
        assert!(
            (2.3..=3.1).contains(&r.H_byte1),
            "{} {}",
            r.tensor_name,
            r.H_byte1
        );
        assert!((r.R_marginal - 16.0 / (r.H_byte0 + r.H_byte1)).abs() < 1e-12);
        assert!(r.R_ctx.unwrap() >= r.R_exp_split.unwrap() - 1e-9);
    }
    assert_eq!(atlas.q4k.len(), 7);
    for q in &atlas.q4k {
        assert!((3.5..=4.0).contains(&q.H_nibble), "{}", q.H_nibble);
        assert_eq!(q.H_header_bytes.len(), 16);
        assert!(q.ceiling_ratio > 1.0 && q.ceiling_ratio < 1.2);
        assert!((q.nibble_ceiling - 8.0 / q.H_byte).abs() < 1e-12);
    }
    // MiniLM layers 0-1: q, k, v, o in bf16 and ffn_down in Q4_K.
    assert_eq!(atlas.pairs.len(), 5);
    for p in &atlas.pairs {
        assert_eq!(p.k, 0);
        assert!(p.corr_pearson.unwrap().abs() < 0.05, "{p:?}");
    }
    assert!(atlas
        .pairs
        .iter()
        .filter(|p| p.dtype == "bf16")
        .all(|p| p.affine_gain.is_some()));
    let dir = tempfile::tempdir().unwrap();
    write_atlas(&atlas, dir.path()).unwrap();
    for f in [
        "bf16.jsonl",
        "fp16.jsonl",
        "fp32.jsonl",
        "q4k.jsonl",
        "layer_pairs.jsonl",
        "summary.json",
    ] {
        assert!(dir.path().join(f).exists(), "{f}");
    }
    let line = std::fs::read_to_string(dir.path().join("bf16.jsonl")).unwrap();
    let row: serde_json::Value = serde_json::from_str(line.lines().next().unwrap()).unwrap();
    for key in [
        "H_byte0",
        "H_byte1",
        "ceiling_ratio",
        "R_marginal",
        "H_exp",
        "H_sign_mant",
        "H_mant_given_exp",
        "H_sign",
        "R_exp_split",
        "R_ctx",
    ] {
        assert!(row.get(key).is_some(), "{key}");
    }
}

#[test]
fn affine_residual_is_exactly_invertible() {
    let mut s = 0x1234_5678_9abc_def0u64;
    let mut next = || {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        s
    };
    for ty in [FloatType::Bf16, FloatType::Fp16, FloatType::Fp32] {
        let n = 5000 * ty.width();
        let mut x: Vec<u8> = (0..n).map(|_| next() as u8).collect();
        let mut y: Vec<u8> = (0..n).map(|_| next() as u8).collect();
        // Special values: ±0, ±inf, NaN, subnormals.
        let specials: &[u32] = match ty {
            FloatType::Fp32 => &[
                0,
                0x8000_0000,
                0x7F80_0000,
                0xFF80_0000,
                0x7FC0_0001,
                1,
                0x8000_0001,
            ],
            _ => &[0, 0x8000, 0x7F80, 0xFF80, 0x7C00, 0x7FC1, 1, 0x8001],
        };
        for (i, &v) in specials.iter().enumerate() {
            let w = ty.width();
            x[i * w..(i + 1) * w].copy_from_slice(&v.to_le_bytes()[..w]);
            y[(i + 9) * w..(i + 10) * w].copy_from_slice(&v.to_le_bytes()[..w]);
        }
        for (a, b) in [
            (0.5f32, 0.01f32),
            (-1.25, 3.0),
            (0.0, 0.0),
            (1e30, -1e-30),
            (f32::NAN, 1.0),
        ] {
            for mode in [Residual::FloatDiff, Residual::KeyDiff, Residual::Xor] {
                let r = affine_residual(ty, &x, &y, a, b, mode);
                let halves = if mode == Residual::FloatDiff { 2 } else { 1 };
                assert_eq!(r.len(), halves * y.len());
                assert_eq!(
                    affine_unresidual(ty, &x, &r, a, b, mode),
                    y,
                    "{ty:?} {mode:?} a={a} b={b}"
                );
            }
        }
        // A perfect prediction leaves an almost empty residual.
        let r = affine_residual(ty, &x, &x, 1.0, 0.0, Residual::FloatDiff);
        let coded = residual_coded_bytes(&r, ty.width(), Residual::FloatDiff).unwrap();
        let alone = plane_coded_bytes(&x, ty.width()).unwrap();
        assert!(coded * 5 < alone, "{ty:?} {coded} vs {alone}");
    }
}

#[test]
fn training_sees_only_the_train_split() {
    let ds = demo();
    let spy = Arc::new(Spy::default());
    let set = MethodSet::from_methods(vec![spy.clone() as Arc<dyn Method>]);
    let mut profiles = Profiles::default();
    let report = train_profiles(&ds, &set, &[], &mut profiles, &NoProgress).unwrap();
    let seen = spy.seen.lock().unwrap().clone();
    let hashes = |split| -> BTreeSet<u64> {
        ds.split(split)
            .map(|i| fnv(&ds.bytes(i).unwrap()))
            .collect()
    };
    let train = hashes(Split::Train);
    let test = hashes(Split::Test);
    assert!(!seen.is_empty());
    assert!(seen
        .iter()
        .all(|(_, h)| train.contains(h) && !test.contains(h)));
    assert_eq!(seen.iter().map(|(_, h)| *h).collect::<BTreeSet<_>>(), train);
    // One profile per corpus that has train items (bf16, q4k, gguf; no fp16, fp32).
    assert_eq!(profiles.len(), 3);
    assert!(report
        .skipped
        .iter()
        .any(|(_, k, _)| *k == CorpusKind::Fp32));

    // The bench charges the profile to every item.
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("r.jsonl.zst");
    let opts = BenchOptions {
        repeats: 1,
        ..BenchOptions::default()
    };
    let summary = run_bench(&ds, &set, &profiles, &opts, &out, &NoProgress).unwrap();
    let rows = read_results(&out).unwrap().rows;
    assert_eq!(rows.len(), ds.split(Split::Test).count());
    // No train item is fp16, so the fp16 rows run without the trained
    // method, and the run says why.
    assert!(summary.notes.iter().any(|n| n.contains("spy_trained")));
    for r in &rows {
        assert_eq!(r.split, "test");
        if r.dtype == "fp16" {
            assert!(!r.methods.contains_key("spy_trained"));
            continue;
        }
        let m = &r.methods["spy_trained"];
        assert_eq!(m.profile_bytes, 10);
        let want = r.input_bytes as f64 / (r.input_bytes + 10) as f64;
        assert!((m.ratio.unwrap() - want).abs() < 1e-12);
    }
}

#[test]
fn bench_over_the_demo_corpus_round_trips_and_reports() {
    let ds = demo();
    let set = MethodSet::from_methods(registry(&["zstd3_raw", "bf16_split", "qa", "whole_zstd3"]));
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("results/results.jsonl.zst");
    let opts = BenchOptions {
        repeats: 2,
        ..BenchOptions::default()
    };
    let s = run_bench(&ds, &set, &Profiles::default(), &opts, &out, &NoProgress).unwrap();
    assert_eq!(s.items, 20);
    assert!(s.failures.is_empty());
    let rows = read_results(&out).unwrap().rows;
    assert_eq!(rows.len(), 20);
    let kinds: BTreeSet<_> = rows.iter().map(|r| r.kind.as_str()).collect();
    assert_eq!(
        kinds,
        BTreeSet::from(["Q4_K_benchmark", "bench_bf16_perfile", "bench_fp16"])
    );
    assert_eq!(rows.iter().filter(|r| r.is_gguf_file()).count(), 5);
    for r in &rows {
        assert!(!r.methods.is_empty());
        for (name, m) in &r.methods {
            assert!(m.roundtrip_ok, "{} {name}", r.tensor_name);
            assert_eq!(m.threads, 1);
            assert!(
                m.ratio.unwrap() > if r.kind == "bench_fp16" { 0.9 } else { 1.0 },
                "{} {name} {:?}",
                r.tensor_name,
                m.ratio
            );
            assert!(m.decompress_mbps.unwrap() > 0.0 && m.compress_mbps.unwrap() > 0.0);
        }
        match r.kind.as_str() {
            "bench_bf16_perfile" => {
                let rm = r.r_marginal.unwrap();
                assert!(
                    r.methods.contains_key("bf16_split") && r.methods.contains_key("zstd3_raw")
                );
                if r.input_bytes >= 1_000_000 {
                    let got = r.methods["bf16_split"].ratio.unwrap();
                    assert!(
                        (got - rm).abs() / rm < 0.01,
                        "{}: {got} vs {rm}",
                        r.tensor_name
                    );
                }
            }
            "Q4_K_benchmark" if r.is_gguf_file() => {
                assert_eq!(r.dtype, "GGUF");
                assert!(r.methods.contains_key("whole_zstd3"));
            }
            "Q4_K_benchmark" => {
                assert!(r.nibble_ceiling.is_some());
                assert!(r.methods.contains_key("qa"));
            }
            _ => assert!(r.methods.contains_key("bf16_split")),
        }
    }
    let report = build_report(&rows, &ReportOptions::default());
    let md = to_markdown(&report);
    assert!(
        md.contains("bench_bf16_perfile") && md.contains("bf16_split"),
        "{md}"
    );
    let bf = report
        .corpora
        .iter()
        .find(|c| c.kind == "bench_bf16_perfile")
        .unwrap();
    let split = bf
        .methods
        .iter()
        .find(|m| m.method == "bf16_split")
        .unwrap();
    assert_eq!(split.n, 5);
    assert!(split.geomean_ci.is_some() && split.median_ci.is_some());
    assert!(split.ci_lo.unwrap() <= split.byte_weighted.unwrap());
    assert!(split.byte_weighted.unwrap() <= split.ci_hi.unwrap());
}

#[test]
fn a_wrong_round_trip_is_recorded_and_fails_the_bench() {
    let ds = demo();
    let mut methods = registry(&["zstd3_raw"]);
    methods.push(Arc::new(Broken));
    let set = MethodSet::from_methods(methods);
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("r.jsonl.zst");
    let opts = BenchOptions {
        repeats: 1,
        kinds: vec![CorpusKind::Bf16],
        ..BenchOptions::default()
    };
    let err = run_bench(&ds, &set, &Profiles::default(), &opts, &out, &NoProgress).unwrap_err();
    match &err {
        LabError::RoundTripFailures { count, .. } => assert_eq!(*count, 5),
        other => panic!("{other}"),
    }
    let rows = read_results(&out).unwrap().rows;
    assert_eq!(rows.len(), 5);
    for r in &rows {
        let b = &r.methods["broken"];
        assert!(!b.roundtrip_ok && b.ratio.is_none() && b.error.is_some());
        assert!(r.methods["zstd3_raw"].roundtrip_ok);
    }
    let report = build_report(&rows, &ReportOptions::default());
    let m = report.corpora[0]
        .methods
        .iter()
        .find(|m| m.method == "broken")
        .unwrap();
    assert_eq!((m.n, m.failures), (0, 5));
}

#[test]
fn bench_resumes_and_shards() {
    let ds = demo();
    let calls = Arc::new(AtomicUsize::new(0));
    let set = MethodSet::from_methods(vec![Arc::new(Counting(calls.clone()))]);
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("r.jsonl.zst");
    let opts = BenchOptions {
        repeats: 1,
        kinds: vec![CorpusKind::Bf16],
        ..BenchOptions::default()
    };
    let s = run_bench(&ds, &set, &Profiles::default(), &opts, &out, &NoProgress).unwrap();
    assert_eq!((s.items, s.skipped), (5, 0));
    assert_eq!(calls.load(Ordering::SeqCst), 5);
    let s = run_bench(&ds, &set, &Profiles::default(), &opts, &out, &NoProgress).unwrap();
    assert_eq!((s.items, s.skipped, s.evaluations), (0, 5, 0));
    assert_eq!(calls.load(Ordering::SeqCst), 5);

    // A new method: only it runs, rows are rewritten without duplicates.
    let mut methods: Vec<Arc<dyn Method>> = vec![Arc::new(Counting(calls.clone()))];
    methods.extend(registry(&["zstd3_raw"]));
    let set2 = MethodSet::from_methods(methods);
    let opts_all = BenchOptions {
        repeats: 1,
        ..BenchOptions::default()
    };
    let s = run_bench(
        &ds,
        &set2,
        &Profiles::default(),
        &opts_all,
        &out,
        &NoProgress,
    )
    .unwrap();
    assert_eq!(s.items, 20);
    assert_eq!(calls.load(Ordering::SeqCst), 5 + 15);
    let rows = read_results(&out).unwrap().rows;
    assert_eq!(rows.len(), 20);
    assert!(rows
        .iter()
        .filter(|r| r.kind == "bench_bf16_perfile")
        .all(|r| r.methods.len() == 2));

    // Shards partition the items.
    let shards: Vec<Vec<String>> = (0..3)
        .map(|i| {
            let o = BenchOptions {
                shard: Some(Shard { index: i, count: 3 }),
                ..BenchOptions::default()
            };
            // An item is identified by its record key: the bf16 and fp16
            // copies of a tensor share a name.
            bench_items(&ds, &o)
                .iter()
                .map(|it| format!("{}/{}/{}", it.record_kind, it.model, it.name))
                .collect()
        })
        .collect();
    let all: BTreeSet<_> = shards.iter().flatten().cloned().collect();
    assert_eq!(shards.iter().map(Vec::len).sum::<usize>(), 20);
    assert_eq!(all.len(), 20);
    assert!("3/3".parse::<Shard>().is_err());
    assert_eq!(
        "1/4".parse::<Shard>().unwrap(),
        Shard { index: 1, count: 4 }
    );
}

#[test]
fn a_model_folder_takes_every_model_file_in_it() {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("whisper");
    std::fs::create_dir(&model).unwrap();
    for f in [
        "lab-whisper-small-layer0-selfattn.bf16.safetensors",
        "lab-whisper-small-layer0-attention-linear_0.Q4_K.gguf",
        "lab-whisper-small-layer0-attention-linear_2.Q4_K.gguf",
    ] {
        std::fs::copy(fixtures().join(f), model.join(f)).unwrap();
    }
    std::fs::write(model.join("config.json"), "{}").unwrap();
    let path = dir.path().join("corpus.toml");
    std::fs::write(
        &path,
        "[[model]]\npath = \"whisper\"\nsplit = \"train\"\ncorpora = [\"bf16\", \"q4k\"]\nmin_bytes = 4096\n",
    )
    .unwrap();
    let ds = Dataset::load(&path).unwrap();
    let kinds: Vec<_> = ds
        .items
        .iter()
        .map(|i| (i.kind, i.model.as_str()))
        .collect();
    // Files in name order; the bf16 file holds two tensors of at least
    // 4096 bytes (the 768x768 weight and the 2304-value bias).
    assert_eq!(
        kinds,
        [
            (CorpusKind::Q4k, "whisper"),
            (CorpusKind::Q4k, "whisper"),
            (CorpusKind::Bf16, "whisper"),
            (CorpusKind::Bf16, "whisper")
        ]
    );
}
