//! Real-weight fixtures shared by the integration tests (see
//! fixtures/make_fixtures.py for where each slice comes from).
#![allow(dead_code)]

use weightzip_methods::Corpus;

pub fn fixture(name: &str) -> Vec<u8> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Train items and test items of one corpus: trained methods learn from the
/// first list only and are evaluated on the second.
pub struct Split {
    pub corpus: Corpus,
    pub train: Vec<Vec<u8>>,
    pub test: Vec<Vec<u8>>,
}

pub fn splits() -> Vec<Split> {
    let query = fixture("bf16_minilm_query.bin");
    let inter = fixture("bf16_minilm_intermediate_400rows.bin");
    let ln = fixture("bf16_minilm_ln_weight.bin");
    let fp16 = fixture("fp16_whisper_selfattn_linear1_128rows.bin");
    let fp32 = fixture("fp32_minilm_key_48rows.bin");
    let (fp16_a, fp16_b) = fp16.split_at(fp16.len() / 2);
    let (fp32_a, fp32_b) = fp32.split_at(fp32.len() / 2);
    vec![
        Split {
            corpus: Corpus::Bf16Tensor,
            train: vec![inter.clone()],
            test: vec![query.clone(), ln, query[..1001].to_vec(), Vec::new()],
        },
        Split {
            corpus: Corpus::Fp16Tensor,
            train: vec![fp16_a.to_vec()],
            test: vec![fp16_b.to_vec(), fp16_b[..777].to_vec()],
        },
        Split {
            corpus: Corpus::Fp32Tensor,
            train: vec![fp32_a.to_vec()],
            test: vec![fp32_b.to_vec(), fp32_b[..1003].to_vec()],
        },
        Split {
            corpus: Corpus::Q4kStream,
            train: vec![
                fixture("q4k_whisper_attn_linear0.bin"),
                fixture("q4k_whisper_selfattn_linear1.bin"),
            ],
            test: vec![fixture("q4k_minilm_ffn_down.bin"), Vec::new()],
        },
        Split {
            corpus: Corpus::GgufFile,
            train: vec![fixture("gguf_whisper_small.gguf")],
            // A real GGUF, then a file that is not one (a single meta
            // segment for the decomposition), then an empty file.
            test: vec![
                fixture("gguf_minilm_small.gguf"),
                fixture("fp32_minilm_key_48rows.bin")[..5000].to_vec(),
                Vec::new(),
            ],
        },
    ]
}
