//! The registry: every name of DESIGN.md §4, unique names, classes, corpora.

use weightzip_methods::{
    all_methods, method_by_name, method_for, method_names, methods_for, Corpus, MethodClass,
};

const STUDY: &[(&str, &str)] = &[
    ("gzip6", "general-purpose"),
    ("brotli_q9", "general-purpose"),
    ("xz9", "general-purpose"),
    ("zstd3_raw", "general-purpose"),
    ("zstd19_raw", "general-purpose"),
    ("whole_zstd3", "general-purpose"),
    ("whole_zstd9", "general-purpose"),
    ("whole_zstd19", "general-purpose"),
    ("whole_xz6", "general-purpose"),
    ("zstd19_bytegrouped", "byte-grouped"),
    ("bf16_split", "byte-grouped"),
    ("scape_per_file", "format-aware"),
    ("qa", "format-aware"),
    ("decomp_perstream_zstd3", "format-aware"),
    ("decomp_perstream_zstd19", "format-aware"),
    ("decomp_perstream_xz6", "format-aware"),
    ("decomp_perstream_zstd19_bgscale", "format-aware"),
    ("zstd19_dict", "trained-profile"),
    ("bf16_pretrained_k1", "trained-profile"),
    ("bf16_mixture_k4", "trained-profile"),
    ("qb_k4", "trained-profile"),
    ("qb_k8", "trained-profile"),
    ("qb_k16", "trained-profile"),
    ("decomp_qb_full", "trained-profile"),
    ("wz_bf16", "weightzip"),
    ("wz_fp16", "weightzip"),
    ("wz_fp32", "weightzip"),
    ("wz_gguf", "weightzip"),
];

#[test]
fn every_study_name_is_registered_with_its_class() {
    for &(name, class) in STUDY {
        let m = method_by_name(name).unwrap_or_else(|| panic!("{name} missing"));
        assert_eq!(m.class().as_str(), class, "{name}");
        assert_eq!(
            m.is_trained(),
            m.class() == MethodClass::TrainedProfile,
            "{name}"
        );
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
