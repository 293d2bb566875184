//! Manifest parsing, statistics and record files.

use std::path::{Path, PathBuf};

use weightzip_lab::manifest::{CorpusKind, Manifest, Split};
use weightzip_lab::stats::{self, Bootstrap, CiLevel};
use weightzip_lab::LabError;

fn demo_manifest() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/corpus.toml")
}

fn parse_err(text: &str) -> String {
    match Manifest::parse(text, Path::new("/corpora/bad.toml")) {
        Ok(m) => panic!("expected an error, parsed {m:?}"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn demo_manifest_parses_with_paths_relative_to_it() {
    let m = Manifest::load(demo_manifest()).unwrap();
    assert_eq!(m.models.len(), 9);
    let test: Vec<_> = m.models_of(Split::Test).collect();
    assert_eq!(test.len(), 7);
    assert!(test.iter().all(|e| e.name == "whisper-small"));
    for e in &m.models {
        assert!(e.path.exists(), "{}", e.path.display());
        assert!(e.path.starts_with(demo_manifest().parent().unwrap()));
    }
}

#[test]
fn manifest_options_parse() {
    let m = Manifest::parse(
        r#"
        name = "x"
        [[model]]
        path = "a/model.safetensors"
        split = "train"
        cast = "bf16"
        include = ["*.weight"]
        exclude = ["*norm*"]
        min_bytes = 1024
        corpora = ["bf16", "q4k"]
        kind_override = "bench_7B"
        "#,
        Path::new("/c/corpus.toml"),
    )
    .unwrap();
    let e = &m.models[0];
    assert_eq!(e.name, "model");
    assert_eq!(e.path, Path::new("/c/a/model.safetensors"));
    assert!(e.keeps_tensor("l.0.q.weight"));
    assert!(!e.keeps_tensor("l.0.q.bias"));
    assert!(!e.keeps_tensor("l.0.norm.weight"));
    assert!(e.takes(CorpusKind::Q4k) && !e.takes(CorpusKind::Gguf));
    assert_eq!(e.kind_override.as_deref(), Some("bench_7B"));
}

#[test]
fn manifest_errors_name_the_file_and_the_key() {
    let e = parse_err("[[model]]\npath = \"m.safetensors\"\nsplit = \"tset\"\n");
    assert!(e.contains("/corpora/bad.toml"), "{e}");
    assert!(e.contains("split") && e.contains("tset"), "{e}");

    let e = parse_err("[[model]]\npath = \"m.safetensors\"\nsplit = \"test\"\nsplt = 1\n");
    assert!(e.contains("/corpora/bad.toml") && e.contains("splt"), "{e}");

    let e = parse_err("[[model]]\npath = \"m.safetensors\"\n");
    assert!(e.contains("split"), "{e}");

    let e = parse_err("[[model]]\npath = \"m.safetensors\"\nsplit = \"test\"\ncast = \"int4\"\n");
    assert!(e.contains("cast") && e.contains("int4"), "{e}");

    let e = parse_err(
        "[[model]]\nname = \"a\"\npath = \"x\"\nsplit = \"test\"\n\
         [[model]]\nname = \"a\"\npath = \"y\"\nsplit = \"train\"\n",
    );
    assert!(
        e.contains("model[1].split") && e.contains("by model"),
        "{e}"
    );

    let e = parse_err("name = \"empty\"\n");
    assert!(e.contains("[[model]]"), "{e}");

    let e = parse_err("[[model]]\npath = \"x\"\nsplit = \"test\"\ninclude = [\"\"]\n");
    assert!(e.contains("model[0].include"), "{e}");
}

#[test]
fn missing_model_file_names_the_entry() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("corpus.toml");
    std::fs::write(
        &path,
        "[[model]]\npath = \"nope.safetensors\"\nsplit = \"test\"\n",
    )
    .unwrap();
    let err = weightzip_lab::corpus::Dataset::load(&path).unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, LabError::Manifest { .. }), "{msg}");
    assert!(
        msg.contains("corpus.toml") && msg.contains("model[0].path"),
        "{msg}"
    );
}

#[test]
fn byte_weighted_differs_from_geomean_on_known_numbers() {
    // 100 bytes -> 50 (2x) and 900 bytes -> 900 (1x).
    let pairs = [(100.0, 50.0), (900.0, 900.0)];
    let bw = stats::byte_weighted(&pairs).unwrap();
    assert!((bw - 1000.0 / 950.0).abs() < 1e-12);
    let g = stats::geomean(&[2.0, 1.0]).unwrap();
    assert!((g - 2f64.sqrt()).abs() < 1e-12);
    assert_eq!(stats::median(&[2.0, 1.0, 4.0]), Some(2.0));
    assert_eq!(stats::min(&[2.0, 1.0, 4.0]), Some(1.0));
    assert_eq!(stats::byte_weighted(&[]), None);
    assert_eq!(stats::geomean(&[1.0, 0.0]), None);
}

fn sample_items() -> Vec<(&'static str, f64, f64)> {
    let models = ["a", "b", "c", "d", "e"];
    let mut v = Vec::new();
    for (k, m) in models.iter().enumerate() {
        for j in 0..4 {
            let input = 1000.0 + 100.0 * j as f64;
            let ratio = 1.40 + 0.02 * k as f64 + 0.005 * j as f64;
            v.push((*m, input, input / ratio));
        }
    }
    v
}

#[test]
fn bootstrap_is_deterministic_and_contains_the_estimate() {
    let items = sample_items();
    let boot = Bootstrap {
        resamples: 500,
        seed: 7,
        coverage: 0.95,
    };
    let a = boot.byte_weighted_ci(&items).unwrap();
    let b = boot.byte_weighted_ci(&items).unwrap();
    assert_eq!(a, b);
    assert_eq!(a.level, CiLevel::Model);
    assert_eq!(a.clusters, 5);
    let pairs: Vec<(f64, f64)> = items.iter().map(|&(_, i, o)| (i, o)).collect();
    let point = stats::byte_weighted(&pairs).unwrap();
    assert!(a.lo <= point && point <= a.hi, "{a:?} vs {point}");
    assert!(a.hi - a.lo > 0.005, "{a:?}");
    let other = Bootstrap { seed: 8, ..boot }
        .byte_weighted_ci(&items)
        .unwrap();
    assert_ne!(a, other);

    // One model: falls back to resampling items.
    let one: Vec<_> = items.iter().filter(|i| i.0 == "c").copied().collect();
    let ci = boot.byte_weighted_ci(&one).unwrap();
    assert_eq!(ci.level, CiLevel::Item);
}

#[test]
fn method_selection_by_globs_and_exclusions() {
    use weightzip_lab::methods::MethodSet;
    let names = |p: &[&str]| {
        MethodSet::registry(&p.iter().map(|s| s.to_string()).collect::<Vec<_>>())
            .unwrap()
            .names()
    };
    let zstd = names(&["zstd*"]);
    assert!(zstd.contains(&"zstd3_raw") && zstd.iter().all(|n| n.starts_with("zstd")));
    let all = names(&[]);
    let no_xz = names(&["!xz9", "!whole_xz6"]);
    assert_eq!(no_xz.len() + 2, all.len());
    assert!(!no_xz.contains(&"xz9"));
    let err = MethodSet::registry(&["nosuch".to_string()])
        .unwrap_err()
        .to_string();
    assert!(err.contains("nosuch") && err.contains("zstd3_raw"), "{err}");
}
