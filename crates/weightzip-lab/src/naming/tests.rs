//! Names of real model families and what they classify as.

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

#[test]
fn every_tensor_of_a_real_gguf_slice_has_a_category_and_layer() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures/lab-minilm-layers0-1.Q4_K_M.gguf");
    let bytes = std::fs::read(path).unwrap();
    let view = weightzip_format::GgufView::parse(&bytes).unwrap();
    assert!(!view.header().tensors.is_empty());
    for t in &view.header().tensors {
        let n = classify(&t.name);
        assert_ne!(n.category, TensorCategory::Other, "{}", t.name);
        assert!(n.layer.is_some(), "{}", t.name);
    }
}
