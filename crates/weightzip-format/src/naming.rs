//! Classification of tensor names into coarse categories, fine roles and
//! layer indices, so tensors with similar statistics can be grouped.
//!
//! Covered naming families (first matching rule wins, see [`RULES`]):
//!
//! * Hugging Face decoder LLMs (Llama, Qwen, Mistral, Gemma, Phi):
//!   `model.layers.3.self_attn.q_proj.weight`, `mlp.gate_proj`,
//!   `input_layernorm`, `model.embed_tokens`, `model.norm`, `lm_head`;
//! * Meta's original Llama checkpoints: `layers.0.attention.wq`, `feed_forward.w1`;
//! * GPT-2: `h.0.attn.c_attn`, `mlp.c_fc`, `ln_1`, `wte`, `wpe`, `ln_f`;
//! * BERT / MiniLM: `encoder.layer.0.attention.self.query`,
//!   `attention.output.dense`, `intermediate.dense`, `output.dense`,
//!   `LayerNorm`, `embeddings.word_embeddings`;
//! * Whisper / BART style (`decoder.layers.0.self_attn.q_proj`, `encoder_attn`,
//!   `fc1`, `fc2`, `self_attn_layer_norm`, `embed_positions`) and the
//!   CTranslate2 spelling of the same models
//!   (`decoder/layer_0/self_attention/linear_0/weight`, `attention/linear_1`,
//!   `ffn/linear_0`, `layer_norm/gamma`);
//! * GGUF (llama.cpp): `token_embd`, `blk.N.attn_q`, `attn_output`, `attn_qkv`,
//!   `ffn_gate`/`ffn_up`/`ffn_down` (also `_exps`, `_shexp`), `attn_norm`,
//!   `ffn_norm`, `output_norm`, `output`, `position_embd`, BERT-style
//!   `attn_output_norm`, `layer_output_norm`, `token_types`.
//!
//! Roles are short lower-case strings: attention `q`, `k`, `v`, `o`, `qkv`,
//! `kv`, and `cross_q`, `cross_k`, `cross_v`, `cross_kv`, `cross_o` for
//! encoder–decoder cross-attention; MLP `gate`, `up`, `down`, `gate_up`,
//! `fc1`, `fc2`, `router`; embeddings `embed`, `pos_embed`, `type_embed`;
//! `lm_head`; norms `attn_norm`, `cross_attn_norm`, `ffn_norm`,
//! `post_attn_norm`, `post_ffn_norm`, `q_norm`, `k_norm`, `embed_norm`,
//! `final_norm`, `norm`; others `conv1`, `conv2`, `pooler`, `rope`,
//! `position_ids`, `attn_mask`. Weights and biases of the same module share
//! the role. Norm roles follow the name literally (Llama's
//! `post_attention_layernorm` is `post_attn_norm` even though it feeds the MLP).

use std::fmt;

/// Coarse tensor category.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TensorCategory {
    /// Token, position and token-type embeddings.
    Embedding,
    /// Attention projections.
    Attention,
    /// Feed-forward / MLP projections (including MoE experts and routers).
    Mlp,
    /// Output projection to the vocabulary.
    LmHead,
    /// Normalisation weights and biases.
    Norm,
    /// Anything else.
    Other,
}

impl TensorCategory {
    /// Every category.
    pub const ALL: [TensorCategory; 6] = [
        TensorCategory::Embedding,
        TensorCategory::Attention,
        TensorCategory::Mlp,
        TensorCategory::LmHead,
        TensorCategory::Norm,
        TensorCategory::Other,
    ];

    /// `"embedding"`, `"attention"`, `"mlp"`, `"lm_head"`, `"norm"` or `"other"`.
    pub fn as_str(self) -> &'static str {
        match self {
            TensorCategory::Embedding => "embedding",
            TensorCategory::Attention => "attention",
            TensorCategory::Mlp => "mlp",
            TensorCategory::LmHead => "lm_head",
            TensorCategory::Norm => "norm",
            TensorCategory::Other => "other",
        }
    }
}

impl fmt::Display for TensorCategory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a tensor name says about the tensor.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct TensorName {
    /// Coarse category.
    pub category: TensorCategory,
    /// Fine role inside the category, when recognised (see the module docs).
    pub role: Option<&'static str>,
    /// Transformer block index, when the tensor belongs to one.
    pub layer: Option<u32>,
}

/// Where a rule applies relative to transformer blocks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LayerReq {
    /// Inside or outside a block.
    Any,
    /// Only inside a numbered block.
    InLayer,
    /// Only outside numbered blocks.
    TopLevel,
}

/// One classification rule: the name's path (lower-cased segments split on
/// `.` and `/`, without block numbers and without a trailing
/// `weight`/`bias`/`gamma`/`beta`/`scale`/`encodings`) must end with `suffix`.
#[derive(Clone, Copy, Debug)]
pub struct Rule {
    /// Trailing path segments to match.
    pub suffix: &'static [&'static str],
    /// Block requirement.
    pub layer: LayerReq,
    /// Resulting category.
    pub category: TensorCategory,
    /// Resulting role.
    pub role: &'static str,
}

const fn rule(
    suffix: &'static [&'static str],
    layer: LayerReq,
    category: TensorCategory,
    role: &'static str,
) -> Rule {
    Rule {
        suffix,
        layer,
        category,
        role,
    }
}

use LayerReq::{Any, InLayer, TopLevel};
use TensorCategory::{
    Attention as A, Embedding as E, LmHead as H, Mlp as M, Norm as N, Other as O,
};

/// The rule table, most specific first.
pub const RULES: &[Rule] = &[
    // --- cross-attention (before the generic projections) ---
    rule(&["encoder_attn", "q_proj"], Any, A, "cross_q"),
    rule(&["encoder_attn", "k_proj"], Any, A, "cross_k"),
    rule(&["encoder_attn", "v_proj"], Any, A, "cross_v"),
    rule(&["encoder_attn", "out_proj"], Any, A, "cross_o"),
    rule(&["encoder_attn", "o_proj"], Any, A, "cross_o"),
    rule(&["encoder_attn_layer_norm"], Any, N, "cross_attn_norm"),
    // CTranslate2: `attention` is the decoder's cross-attention.
    rule(&["attention", "linear_0"], Any, A, "cross_q"),
    rule(&["attention", "linear_1"], Any, A, "cross_kv"),
    rule(&["attention", "linear_2"], Any, A, "cross_o"),
    rule(&["attention", "layer_norm"], Any, N, "cross_attn_norm"),
    // --- CTranslate2 self-attention and FFN ---
    rule(&["self_attention", "linear_0"], Any, A, "qkv"),
    rule(&["self_attention", "linear_1"], Any, A, "o"),
    rule(&["self_attention", "layer_norm"], Any, N, "attn_norm"),
    rule(&["ffn", "linear_0"], Any, M, "fc1"),
    rule(&["ffn", "linear_0_noact"], Any, M, "up"),
    rule(&["ffn", "linear_1"], Any, M, "fc2"),
    rule(&["ffn", "layer_norm"], Any, N, "ffn_norm"),
    rule(&["position_encodings"], Any, E, "pos_embed"),
    rule(&["projection"], TopLevel, H, "lm_head"),
    // --- BERT ---
    rule(&["attention", "self", "query"], Any, A, "q"),
    rule(&["attention", "self", "key"], Any, A, "k"),
    rule(&["attention", "self", "value"], Any, A, "v"),
    rule(&["attention", "output", "dense"], Any, A, "o"),
    rule(
        &["attention", "output", "layernorm"],
        Any,
        N,
        "post_attn_norm",
    ),
    rule(&["intermediate", "dense"], Any, M, "fc1"),
    rule(&["output", "dense"], InLayer, M, "fc2"),
    rule(&["output", "layernorm"], InLayer, N, "post_ffn_norm"),
    rule(&["embeddings", "word_embeddings"], Any, E, "embed"),
    rule(&["word_embeddings"], Any, E, "embed"),
    rule(&["position_embeddings"], Any, E, "pos_embed"),
    rule(&["token_type_embeddings"], Any, E, "type_embed"),
    rule(&["embeddings", "layernorm"], Any, N, "embed_norm"),
    rule(&["embeddings", "layer_norm"], Any, N, "embed_norm"),
    rule(&["embeddings", "position_ids"], Any, O, "position_ids"),
    rule(&["pooler", "dense"], Any, O, "pooler"),
    rule(&["cls", "predictions", "decoder"], Any, H, "lm_head"),
    // --- Hugging Face attention ---
    rule(&["q_proj"], Any, A, "q"),
    rule(&["k_proj"], Any, A, "k"),
    rule(&["v_proj"], Any, A, "v"),
    rule(&["o_proj"], Any, A, "o"),
    rule(&["self_attn", "out_proj"], Any, A, "o"),
    rule(&["attn", "out_proj"], Any, A, "o"),
    rule(&["attention", "out_proj"], Any, A, "o"),
    rule(&["qkv_proj"], Any, A, "qkv"),
    rule(&["query_key_value"], Any, A, "qkv"),
    rule(&["q_norm"], Any, N, "q_norm"),
    rule(&["k_norm"], Any, N, "k_norm"),
    rule(&["rotary_emb", "inv_freq"], Any, O, "rope"),
    // --- Meta Llama checkpoints ---
    rule(&["attention", "wq"], Any, A, "q"),
    rule(&["attention", "wk"], Any, A, "k"),
    rule(&["attention", "wv"], Any, A, "v"),
    rule(&["attention", "wo"], Any, A, "o"),
    rule(&["attention_norm"], Any, N, "attn_norm"),
    rule(&["feed_forward", "w1"], Any, M, "gate"),
    rule(&["feed_forward", "w3"], Any, M, "up"),
    rule(&["feed_forward", "w2"], Any, M, "down"),
    rule(&["tok_embeddings"], Any, E, "embed"),
    // --- GPT-2 ---
    rule(&["attn", "c_attn"], Any, A, "qkv"),
    rule(&["attn", "c_proj"], Any, A, "o"),
    rule(&["attn", "masked_bias"], Any, O, "attn_mask"),
    // `h.N.attn.bias` is GPT-2's causal-mask buffer (the trailing `bias` is stripped).
    rule(&["h", "attn"], InLayer, O, "attn_mask"),
    rule(&["mlp", "c_fc"], Any, M, "fc1"),
    rule(&["mlp", "c_proj"], Any, M, "fc2"),
    rule(&["ln_1"], Any, N, "attn_norm"),
    rule(&["ln_2"], Any, N, "ffn_norm"),
    rule(&["ln_f"], Any, N, "final_norm"),
    rule(&["wte"], Any, E, "embed"),
    rule(&["wpe"], Any, E, "pos_embed"),
    // --- Hugging Face MLP and MoE ---
    rule(&["gate_proj"], Any, M, "gate"),
    rule(&["up_proj"], Any, M, "up"),
    rule(&["down_proj"], Any, M, "down"),
    rule(&["gate_up_proj"], Any, M, "gate_up"),
    rule(&["experts", "w1"], Any, M, "gate"),
    rule(&["experts", "w3"], Any, M, "up"),
    rule(&["experts", "w2"], Any, M, "down"),
    rule(&["mlp", "gate"], Any, M, "router"),
    rule(&["block_sparse_moe", "gate"], Any, M, "router"),
    rule(&["shared_expert_gate"], Any, M, "router"),
    rule(&["fc1"], Any, M, "fc1"),
    rule(&["fc2"], Any, M, "fc2"),
    rule(&["dense_h_to_4h"], Any, M, "fc1"),
    rule(&["dense_4h_to_h"], Any, M, "fc2"),
    // --- Hugging Face norms and embeddings ---
    rule(&["input_layernorm"], Any, N, "attn_norm"),
    rule(&["post_attention_layernorm"], Any, N, "post_attn_norm"),
    rule(&["pre_feedforward_layernorm"], Any, N, "ffn_norm"),
    rule(&["post_feedforward_layernorm"], Any, N, "post_ffn_norm"),
    rule(&["self_attn_layer_norm"], Any, N, "attn_norm"),
    rule(&["final_layer_norm"], InLayer, N, "ffn_norm"),
    rule(&["final_layer_norm"], TopLevel, N, "final_norm"),
    rule(&["embed_tokens"], Any, E, "embed"),
    rule(&["embed_positions"], Any, E, "pos_embed"),
    rule(&["lm_head"], Any, H, "lm_head"),
    rule(&["proj_out"], TopLevel, H, "lm_head"),
    rule(&["embed_out"], TopLevel, H, "lm_head"),
    rule(&["conv1"], Any, O, "conv1"),
    rule(&["conv2"], Any, O, "conv2"),
    // --- GGUF ---
    rule(&["token_embd"], Any, E, "embed"),
    rule(&["token_embd_norm"], Any, N, "embed_norm"),
    rule(&["position_embd"], Any, E, "pos_embed"),
    rule(&["pos_embd"], Any, E, "pos_embed"),
    rule(&["token_types"], Any, E, "type_embed"),
    rule(&["attn_q"], Any, A, "q"),
    rule(&["attn_k"], Any, A, "k"),
    rule(&["attn_v"], Any, A, "v"),
    rule(&["attn_output"], Any, A, "o"),
    rule(&["attn_qkv"], Any, A, "qkv"),
    rule(&["attn_q_norm"], Any, N, "q_norm"),
    rule(&["attn_k_norm"], Any, N, "k_norm"),
    rule(&["attn_norm"], Any, N, "attn_norm"),
    rule(&["attn_output_norm"], Any, N, "post_attn_norm"),
    rule(&["post_attention_norm"], Any, N, "post_attn_norm"),
    rule(&["ffn_norm"], Any, N, "ffn_norm"),
    rule(&["post_ffw_norm"], Any, N, "post_ffn_norm"),
    rule(&["layer_output_norm"], Any, N, "post_ffn_norm"),
    rule(&["ffn_gate"], Any, M, "gate"),
    rule(&["ffn_up"], Any, M, "up"),
    rule(&["ffn_down"], Any, M, "down"),
    rule(&["ffn_gate_exps"], Any, M, "gate"),
    rule(&["ffn_up_exps"], Any, M, "up"),
    rule(&["ffn_down_exps"], Any, M, "down"),
    rule(&["ffn_gate_shexp"], Any, M, "gate"),
    rule(&["ffn_up_shexp"], Any, M, "up"),
    rule(&["ffn_down_shexp"], Any, M, "down"),
    rule(&["ffn_gate_inp"], Any, M, "router"),
    rule(&["output_norm"], Any, N, "final_norm"),
    rule(&["rope_freqs"], Any, O, "rope"),
    rule(&["output"], TopLevel, H, "lm_head"),
    // --- generic embeddings / final norms (after everything more specific) ---
    rule(&["embeddings"], Any, E, "embed"),
    rule(&["embedding"], Any, E, "embed"),
    rule(&["shared"], TopLevel, E, "embed"),
    rule(&["norm"], TopLevel, N, "final_norm"),
    rule(&["norm_f"], TopLevel, N, "final_norm"),
    rule(&["layer_norm"], TopLevel, N, "final_norm"),
    rule(&["layernorm"], TopLevel, N, "final_norm"),
];

/// Segments that introduce a numbered transformer block (`layers.3`, `h.0`, `blk.12`).
const BLOCK_CONTAINERS: &[&str] = &["layers", "layer", "h", "blk", "blocks", "block"];

/// Trailing segments naming the parameter rather than the module.
const PARAM_SUFFIXES: &[&str] = &["weight", "bias", "gamma", "beta", "scale", "encodings"];

/// Splits `name` into lower-case path segments without numbers, and finds the
/// block index.
fn normalize(name: &str) -> (Vec<String>, Option<u32>) {
    let mut layer = None;
    let mut path: Vec<String> = Vec::new();
    let mut prev_is_container = false;
    for seg in name.split(['.', '/']).filter(|s| !s.is_empty()) {
        let seg = seg.to_ascii_lowercase();
        if let Ok(n) = seg.parse::<u32>() {
            // Only the first number after a block container is the layer;
            // other numbers (expert indices, ModuleList positions) are dropped.
            if prev_is_container && layer.is_none() {
                layer = Some(n);
            }
            prev_is_container = false;
            continue;
        }
        // CTranslate2 writes blocks as `layer_12`.
        if let Some(n) = seg
            .strip_prefix("layer_")
            .and_then(|d| d.parse::<u32>().ok())
        {
            if layer.is_none() {
                layer = Some(n);
            }
            prev_is_container = false;
            continue;
        }
        prev_is_container = BLOCK_CONTAINERS.contains(&seg.as_str());
        path.push(seg);
    }
    if path
        .last()
        .is_some_and(|last| PARAM_SUFFIXES.contains(&last.as_str()))
    {
        path.pop();
    }
    (path, layer)
}

fn ends_with(path: &[String], suffix: &[&str]) -> bool {
    path.len() >= suffix.len()
        && path
            .iter()
            .rev()
            .zip(suffix.iter().rev())
            .all(|(p, s)| p == s)
}

/// Classifies a tensor name (see the module docs for the naming families).
pub fn classify(name: &str) -> TensorName {
    let (path, layer) = normalize(name);
    for r in RULES {
        let layer_ok = match r.layer {
            LayerReq::Any => true,
            LayerReq::InLayer => layer.is_some(),
            LayerReq::TopLevel => layer.is_none(),
        };
        if layer_ok && ends_with(&path, r.suffix) {
            return TensorName {
                category: r.category,
                role: Some(r.role),
                layer,
            };
        }
    }
    TensorName {
        category: fallback_category(&path),
        role: None,
        layer,
    }
}

/// Keyword heuristics for names no rule knows.
fn fallback_category(path: &[String]) -> TensorCategory {
    let last = path.last().map(String::as_str).unwrap_or_default();
    let any = |pred: &dyn Fn(&str) -> bool| path.iter().any(|s| pred(s));
    if last.contains("norm") || last.starts_with("ln") {
        TensorCategory::Norm
    } else if any(&|s| s.contains("attn") || s.contains("attention")) {
        TensorCategory::Attention
    } else if any(&|s| {
        s.contains("mlp") || s.contains("ffn") || s.contains("feed_forward") || s == "experts"
    }) {
        TensorCategory::Mlp
    } else if any(&|s| s.contains("embed")) {
        TensorCategory::Embedding
    } else if any(&|s| s.contains("norm")) {
        TensorCategory::Norm
    } else {
        TensorCategory::Other
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use TensorCategory::*;

    fn check(name: &str, category: TensorCategory, role: Option<&str>, layer: Option<u32>) {
        let got = classify(name);
        assert_eq!(
            (got.category, got.role, got.layer),
            (category, role, layer),
            "{name}"
        );
    }

    #[test]
    fn hf_llama_qwen_mistral_gemma() {
        check("model.embed_tokens.weight", Embedding, Some("embed"), None);
        check(
            "model.layers.3.self_attn.q_proj.weight",
            Attention,
            Some("q"),
            Some(3),
        );
        check(
            "model.layers.3.self_attn.q_proj.bias",
            Attention,
            Some("q"),
            Some(3),
        );
        check(
            "model.layers.31.self_attn.k_proj.weight",
            Attention,
            Some("k"),
            Some(31),
        );
        check(
            "model.layers.0.self_attn.v_proj.weight",
            Attention,
            Some("v"),
            Some(0),
        );
        check(
            "model.layers.0.self_attn.o_proj.weight",
            Attention,
            Some("o"),
            Some(0),
        );
        check(
            "model.layers.7.self_attn.q_norm.weight",
            Norm,
            Some("q_norm"),
            Some(7),
        );
        check(
            "model.layers.2.mlp.gate_proj.weight",
            Mlp,
            Some("gate"),
            Some(2),
        );
        check(
            "model.layers.2.mlp.up_proj.weight",
            Mlp,
            Some("up"),
            Some(2),
        );
        check(
            "model.layers.2.mlp.down_proj.weight",
            Mlp,
            Some("down"),
            Some(2),
        );
        check(
            "model.layers.5.input_layernorm.weight",
            Norm,
            Some("attn_norm"),
            Some(5),
        );
        check(
            "model.layers.5.post_attention_layernorm.weight",
            Norm,
            Some("post_attn_norm"),
            Some(5),
        );
        check(
            "model.layers.5.pre_feedforward_layernorm.weight",
            Norm,
            Some("ffn_norm"),
            Some(5),
        );
        check("model.norm.weight", Norm, Some("final_norm"), None);
        check("lm_head.weight", LmHead, Some("lm_head"), None);
        check(
            "model.layers.1.self_attn.rotary_emb.inv_freq",
            Other,
            Some("rope"),
            Some(1),
        );
        // MoE
        check(
            "model.layers.4.mlp.experts.17.down_proj.weight",
            Mlp,
            Some("down"),
            Some(4),
        );
        check(
            "model.layers.4.mlp.gate.weight",
            Mlp,
            Some("router"),
            Some(4),
        );
        check(
            "model.layers.4.block_sparse_moe.experts.3.w1.weight",
            Mlp,
            Some("gate"),
            Some(4),
        );
        check(
            "model.layers.0.self_attn.qkv_proj.weight",
            Attention,
            Some("qkv"),
            Some(0),
        );
        check(
            "model.layers.0.mlp.gate_up_proj.weight",
            Mlp,
            Some("gate_up"),
            Some(0),
        );
    }

    #[test]
    fn meta_llama() {
        check("tok_embeddings.weight", Embedding, Some("embed"), None);
        check(
            "layers.0.attention.wq.weight",
            Attention,
            Some("q"),
            Some(0),
        );
        check(
            "layers.0.attention.wo.weight",
            Attention,
            Some("o"),
            Some(0),
        );
        check(
            "layers.9.feed_forward.w2.weight",
            Mlp,
            Some("down"),
            Some(9),
        );
        check(
            "layers.9.attention_norm.weight",
            Norm,
            Some("attn_norm"),
            Some(9),
        );
        check("layers.9.ffn_norm.weight", Norm, Some("ffn_norm"), Some(9));
        check("norm.weight", Norm, Some("final_norm"), None);
        check("output.weight", LmHead, Some("lm_head"), None);
    }

    #[test]
    fn gpt2() {
        check("wte.weight", Embedding, Some("embed"), None);
        check("transformer.wpe.weight", Embedding, Some("pos_embed"), None);
        check("h.0.attn.c_attn.weight", Attention, Some("qkv"), Some(0));
        check(
            "transformer.h.11.attn.c_proj.bias",
            Attention,
            Some("o"),
            Some(11),
        );
        check("h.0.attn.bias", Other, Some("attn_mask"), Some(0));
        check("h.0.attn.masked_bias", Other, Some("attn_mask"), Some(0));
        check("h.3.mlp.c_fc.weight", Mlp, Some("fc1"), Some(3));
        check("h.3.mlp.c_proj.weight", Mlp, Some("fc2"), Some(3));
        check("h.3.ln_1.weight", Norm, Some("attn_norm"), Some(3));
        check("h.3.ln_2.bias", Norm, Some("ffn_norm"), Some(3));
        check("transformer.ln_f.weight", Norm, Some("final_norm"), None);
        check("lm_head.weight", LmHead, Some("lm_head"), None);
    }

    #[test]
    fn bert_minilm_from_corpus() {
        // Names as found in all-MiniLM-L6-v2's model.safetensors.
        check(
            "embeddings.word_embeddings.weight",
            Embedding,
            Some("embed"),
            None,
        );
        check(
            "embeddings.position_embeddings.weight",
            Embedding,
            Some("pos_embed"),
            None,
        );
        check(
            "embeddings.token_type_embeddings.weight",
            Embedding,
            Some("type_embed"),
            None,
        );
        check(
            "embeddings.LayerNorm.weight",
            Norm,
            Some("embed_norm"),
            None,
        );
        check("embeddings.LayerNorm.bias", Norm, Some("embed_norm"), None);
        check("embeddings.position_ids", Other, Some("position_ids"), None);
        check(
            "encoder.layer.0.attention.self.query.weight",
            Attention,
            Some("q"),
            Some(0),
        );
        check(
            "encoder.layer.0.attention.self.key.bias",
            Attention,
            Some("k"),
            Some(0),
        );
        check(
            "encoder.layer.5.attention.self.value.weight",
            Attention,
            Some("v"),
            Some(5),
        );
        check(
            "encoder.layer.0.attention.output.dense.weight",
            Attention,
            Some("o"),
            Some(0),
        );
        check(
            "encoder.layer.0.attention.output.LayerNorm.weight",
            Norm,
            Some("post_attn_norm"),
            Some(0),
        );
        check(
            "encoder.layer.0.intermediate.dense.weight",
            Mlp,
            Some("fc1"),
            Some(0),
        );
        check(
            "encoder.layer.0.output.dense.weight",
            Mlp,
            Some("fc2"),
            Some(0),
        );
        check(
            "encoder.layer.0.output.LayerNorm.bias",
            Norm,
            Some("post_ffn_norm"),
            Some(0),
        );
        check("pooler.dense.weight", Other, Some("pooler"), None);
        check(
            "bert.encoder.layer.2.output.dense.bias",
            Mlp,
            Some("fc2"),
            Some(2),
        );
    }

    #[test]
    fn whisper_hf() {
        check("model.encoder.conv1.weight", Other, Some("conv1"), None);
        check(
            "model.encoder.embed_positions.weight",
            Embedding,
            Some("pos_embed"),
            None,
        );
        check(
            "model.decoder.embed_tokens.weight",
            Embedding,
            Some("embed"),
            None,
        );
        check(
            "model.decoder.layers.0.self_attn.q_proj.weight",
            Attention,
            Some("q"),
            Some(0),
        );
        check(
            "model.decoder.layers.0.self_attn.out_proj.bias",
            Attention,
            Some("o"),
            Some(0),
        );
        check(
            "model.decoder.layers.1.encoder_attn.k_proj.weight",
            Attention,
            Some("cross_k"),
            Some(1),
        );
        check(
            "model.decoder.layers.1.encoder_attn.out_proj.weight",
            Attention,
            Some("cross_o"),
            Some(1),
        );
        check(
            "model.decoder.layers.1.encoder_attn_layer_norm.weight",
            Norm,
            Some("cross_attn_norm"),
            Some(1),
        );
        check(
            "model.decoder.layers.1.self_attn_layer_norm.bias",
            Norm,
            Some("attn_norm"),
            Some(1),
        );
        check(
            "model.decoder.layers.1.fc1.weight",
            Mlp,
            Some("fc1"),
            Some(1),
        );
        check("model.decoder.layers.1.fc2.bias", Mlp, Some("fc2"), Some(1));
        check(
            "model.decoder.layers.1.final_layer_norm.weight",
            Norm,
            Some("ffn_norm"),
            Some(1),
        );
        check(
            "model.decoder.layer_norm.weight",
            Norm,
            Some("final_norm"),
            None,
        );
        check("proj_out.weight", LmHead, Some("lm_head"), None);
    }

    #[test]
    fn whisper_ctranslate2_from_corpus() {
        // Names as found in the whisper-small CTranslate2 conversion.
        check("decoder/embeddings/weight", Embedding, Some("embed"), None);
        check(
            "decoder/position_encodings/encodings",
            Embedding,
            Some("pos_embed"),
            None,
        );
        check(
            "decoder/layer_0/self_attention/linear_0/weight",
            Attention,
            Some("qkv"),
            Some(0),
        );
        check(
            "decoder/layer_0/self_attention/linear_1/bias",
            Attention,
            Some("o"),
            Some(0),
        );
        check(
            "decoder/layer_0/self_attention/layer_norm/gamma",
            Norm,
            Some("attn_norm"),
            Some(0),
        );
        check(
            "decoder/layer_2/attention/linear_0/weight",
            Attention,
            Some("cross_q"),
            Some(2),
        );
        check(
            "decoder/layer_2/attention/linear_1/weight",
            Attention,
            Some("cross_kv"),
            Some(2),
        );
        check(
            "decoder/layer_2/attention/linear_2/bias",
            Attention,
            Some("cross_o"),
            Some(2),
        );
        check(
            "decoder/layer_2/attention/layer_norm/beta",
            Norm,
            Some("cross_attn_norm"),
            Some(2),
        );
        check(
            "decoder/layer_1/ffn/linear_0/weight",
            Mlp,
            Some("fc1"),
            Some(1),
        );
        check(
            "decoder/layer_1/ffn/linear_1/weight",
            Mlp,
            Some("fc2"),
            Some(1),
        );
        check(
            "decoder/layer_1/ffn/layer_norm/gamma",
            Norm,
            Some("ffn_norm"),
            Some(1),
        );
        check("decoder/layer_norm/gamma", Norm, Some("final_norm"), None);
        check("decoder/projection/weight", LmHead, Some("lm_head"), None);
        check("encoder/conv1/weight", Other, Some("conv1"), None);
    }

    #[test]
    fn gguf_from_corpus() {
        // BERT GGUF (MiniLM) names.
        check("token_embd.weight", Embedding, Some("embed"), None);
        check("position_embd.weight", Embedding, Some("pos_embed"), None);
        check("token_types.weight", Embedding, Some("type_embed"), None);
        check("token_embd_norm.weight", Norm, Some("embed_norm"), None);
        check("blk.0.attn_q.weight", Attention, Some("q"), Some(0));
        check("blk.0.attn_q.bias", Attention, Some("q"), Some(0));
        check("blk.1.attn_k.weight", Attention, Some("k"), Some(1));
        check("blk.2.attn_v.weight", Attention, Some("v"), Some(2));
        check("blk.2.attn_output.weight", Attention, Some("o"), Some(2));
        check(
            "blk.2.attn_output_norm.bias",
            Norm,
            Some("post_attn_norm"),
            Some(2),
        );
        check("blk.2.ffn_up.weight", Mlp, Some("up"), Some(2));
        check("blk.2.ffn_down.weight", Mlp, Some("down"), Some(2));
        check(
            "blk.2.layer_output_norm.weight",
            Norm,
            Some("post_ffn_norm"),
            Some(2),
        );
        // Llama-architecture GGUF (SmolLM2) names.
        check("blk.29.attn_norm.weight", Norm, Some("attn_norm"), Some(29));
        check("blk.29.ffn_norm.weight", Norm, Some("ffn_norm"), Some(29));
        check("blk.29.ffn_gate.weight", Mlp, Some("gate"), Some(29));
        check("blk.0.attn_qkv.weight", Attention, Some("qkv"), Some(0));
        check("blk.0.ffn_gate_exps.weight", Mlp, Some("gate"), Some(0));
        check("blk.0.ffn_gate_inp.weight", Mlp, Some("router"), Some(0));
        check("blk.0.attn_q_norm.weight", Norm, Some("q_norm"), Some(0));
        check("output_norm.weight", Norm, Some("final_norm"), None);
        check("output.weight", LmHead, Some("lm_head"), None);
        check("rope_freqs.weight", Other, Some("rope"), None);
        check("pos_embd.weight", Embedding, Some("pos_embed"), None);
    }

    #[test]
    fn fallbacks_and_edge_cases() {
        check("", Other, None, None);
        check("weight", Other, None, None);
        check("blk.0.attn_kv_a_mqa.weight", Attention, None, Some(0));
        check("blk.0.ffn_something.weight", Mlp, None, Some(0));
        check("model.layers.0.some_norm.weight", Norm, None, Some(0));
        check("foo.bar", Other, None, None);
        check("layers.4294967296.x", Other, None, None);
        check("....//..", Other, None, None);
        // Block output norm inside a layer is not the final norm.
        check(
            "encoder.layer.3.output.LayerNorm.weight",
            Norm,
            Some("post_ffn_norm"),
            Some(3),
        );
        assert_eq!(TensorCategory::LmHead.as_str(), "lm_head");
        assert_eq!(TensorCategory::ALL.len(), 6);
    }
}
