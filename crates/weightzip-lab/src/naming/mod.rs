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

mod rules;

pub use rules::RULES;

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
mod tests;
