//! The registry: every name of DESIGN.md §4, unique names, classes, corpora.

use weightzip_methods::{
    all_methods, method_by_name, method_for, method_names, methods_for, Corpus,
};

/// The study's figure notebook (committed unchanged with the lab's tests):
/// its `METHOD_CLASS` table is the contract for every method's class.
const NOTEBOOK: &str = include_str!("../../weightzip-lab/tests/notebook/study_figures.ipynb");

/// `METHOD_CLASS` of the notebook, as (method, class) pairs.
fn notebook_classes() -> Vec<(String, String)> {
    let start = NOTEBOOK
        .find("METHOD_CLASS = {")
        .expect("notebook has METHOD_CLASS");
    let body = &NOTEBOOK[start..];
    let body = &body[..body.find('}').expect("METHOD_CLASS is closed")];
    let quoted: Vec<&str> = body.split('\'').skip(1).step_by(2).collect();
    quoted
        .chunks(2)
        .map(|p| (p[0].to_string(), p[1].to_string()))
        .collect()
}

/// Methods of the study that learn a profile from the train split.
const TRAINED: &[&str] = &[
    "zstd19_dict",
    "bf16_pretrained_k1",
    "bf16_mixture_k4",
    "qb_k4",
    "qb_k8",
    "qb_k16",
    "decomp_qb_full",
];

/// Our own methods, outside the notebook's table.
const OURS: &[&str] = &["wz_bf16", "wz_fp16", "wz_fp32", "wz_gguf"];

#[test]
fn every_study_name_is_registered_with_its_class() {
    let classes = notebook_classes();
    assert_eq!(classes.len(), 24, "{classes:?}");
    for (name, class) in &classes {
        let m = method_by_name(name).unwrap_or_else(|| panic!("{name} missing"));
        assert_eq!(m.class().as_str(), class, "{name}");
        assert_eq!(m.is_trained(), TRAINED.contains(&name.as_str()), "{name}");
    }
    for name in OURS {
        let m = method_by_name(name).unwrap_or_else(|| panic!("{name} missing"));
        assert_eq!(m.class().as_str(), "weightzip", "{name}");
        assert!(!m.is_trained(), "{name}");
    }
    let names = method_names();
    let unique: std::collections::BTreeSet<_> = names.iter().collect();
    assert_eq!(unique.len(), names.len(), "duplicate names");
    assert_eq!(all_methods().len(), names.len());
    assert!(method_by_name("nope").is_none());
    assert!(!names.contains(&"store") && !names.contains(&"zstd"));
}

#[test]
fn corpora_get_the_study_methods() {
    let has = |c: Corpus, n: &str| methods_for(c).iter().any(|m| m.name() == n);
    for n in [
        "zstd19_raw",
        "bf16_split",
        "scape_per_file",
        "bf16_mixture_k4",
        "wz_bf16",
        "wz_bf16j",
        "wz_bf16a",
    ] {
        assert!(has(Corpus::Bf16Tensor, n), "{n}");
    }
    for n in ["bf16_split", "wz_fp16", "zstd19_bytegrouped"] {
        assert!(has(Corpus::Fp16Tensor, n), "{n}");
    }
    for n in ["qa", "qb_k4", "qb_k16", "gzip6", "zstd3_raw"] {
        assert!(has(Corpus::Q4kStream, n), "{n}");
    }
    for n in [
        "whole_zstd3",
        "whole_xz6",
        "decomp_qb_full",
        "wz_gguf",
        "xz9",
    ] {
        assert!(has(Corpus::GgufFile, n), "{n}");
    }
    assert!(!has(Corpus::GgufFile, "zstd3_raw"));
    assert!(!has(Corpus::Bf16Tensor, "whole_zstd3"));
    assert!(!has(Corpus::Fp32Tensor, "wz_bf16"));
    assert!(method_for("qa", Corpus::Bf16Tensor).is_none());
    for c in Corpus::ALL {
        assert_eq!(Corpus::from_name(c.as_str()), Some(c));
    }
}
