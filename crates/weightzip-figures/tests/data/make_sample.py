#!/usr/bin/env python3
"""Writes the small synthetic sample records the figure tests render.

The numbers follow the study's magnitudes (bf16 byte entropies ~2.7 / ~7.97
bits, ratios ~1.49, Q4_K H(nibble) ~3.86, adjacent-layer r ~ 0 +- 0.005); they
are made up, not measured. Regenerate with:

    python3 make_sample.py && zstd -19 -f --rm results.jsonl -o results.jsonl.zst
"""
import json
import os
import random

rng = random.Random(20260101)
HERE = os.path.dirname(os.path.abspath(__file__))


def clamp(v, lo, hi):
    return max(lo, min(hi, v))


def method(cls, ratio, input_bytes, dec, enc=None, profile=0, ok=True):
    comp = int(round(input_bytes / ratio)) - profile
    comp = max(comp, 1)
    real = input_bytes / (comp + profile)
    return {
        "class": cls,
        "ratio": round(real, 6) if ok else None,
        "compressed_bytes": comp,
        "profile_bytes": profile,
        "compress_MBps": round(enc if enc else dec * 0.4, 2),
        "decompress_MBps": round(dec * rng.uniform(0.85, 1.15), 2),
        "roundtrip_ok": ok,
        "threads": 1,
    }


def llama_tensors(prefix, layers, hidden, inter, vocab):
    out = [(f"{prefix}embed_tokens.weight", "embedding", [vocab, hidden])]
    for i in range(layers):
        p = f"{prefix}layers.{i}."
        out += [
            (p + "self_attn.q_proj.weight", "attention", [hidden, hidden]),
            (p + "self_attn.k_proj.weight", "attention", [hidden // 4, hidden]),
            (p + "self_attn.v_proj.weight", "attention", [hidden // 4, hidden]),
            (p + "self_attn.o_proj.weight", "attention", [hidden, hidden]),
            (p + "mlp.gate_proj.weight", "mlp", [inter, hidden]),
            (p + "mlp.up_proj.weight", "mlp", [inter, hidden]),
            (p + "mlp.down_proj.weight", "mlp", [hidden, inter]),
            (p + "input_layernorm.weight", "norm", [hidden]),
            (p + "post_attention_layernorm.weight", "norm", [hidden]),
        ]
    out.append((f"{prefix}norm.weight", "norm", [hidden]))
    out.append(("lm_head.weight", "lm_head", [vocab, hidden]))
    return out


def bert_tensors(layers, hidden):
    out = [("embeddings.word_embeddings.weight", "embedding", [30522, hidden]),
           ("embeddings.position_embeddings.weight", "embedding", [512, hidden]),
           ("embeddings.LayerNorm.weight", "norm", [hidden])]
    for i in range(layers):
        p = f"encoder.layer.{i}."
        out += [
            (p + "attention.self.query.weight", "attention", [hidden, hidden]),
            (p + "attention.self.key.weight", "attention", [hidden, hidden]),
            (p + "attention.self.value.weight", "attention", [hidden, hidden]),
            (p + "attention.output.dense.weight", "attention", [hidden, hidden]),
            (p + "attention.output.LayerNorm.weight", "norm", [hidden]),
            (p + "intermediate.dense.weight", "mlp", [4 * hidden, hidden]),
            (p + "output.dense.weight", "mlp", [hidden, 4 * hidden]),
            (p + "output.LayerNorm.weight", "norm", [hidden]),
        ]
    out.append(("pooler.dense.bias", "other", [hidden]))
    return out


def entropies(cat):
    if cat == "norm":
        return rng.uniform(6.0, 7.4), rng.uniform(0.9, 1.6)
    if cat == "other":
        return rng.uniform(7.6, 7.95), rng.uniform(3.0, 3.6)
    h1 = clamp(rng.gauss(2.72, 0.06), 2.55, 2.9)
    if cat == "embedding":
        h1 = rng.uniform(2.8, 3.0)
    h0 = clamp(rng.gauss(7.968, 0.006), 7.94, 7.995)
    return h0, h1


results, atlas_bf16, atlas_q4k, pairs = [], [], [], []

bf16_models = [
    ("minilm", "test", bert_tensors(6, 384)),
    ("tinyllama-mini", "train", llama_tensors("model.", 4, 512, 1408, 32000)),
    ("qwen2.5-mini", "test", llama_tensors("model.", 3, 448, 1216, 24000)),
]
failed_once = False
for model, split, tensors in bf16_models:
    for name, cat, shape in tensors:
        n = 1
        for d in shape:
            n *= d
        nbytes = 2 * n
        h0, h1 = entropies(cat)
        r_marg = 16.0 / (h0 + h1)
        atlas_bf16.append({
            "model": model, "split": split, "dtype": "BF16", "tensor_name": name,
            "tensor_category": cat, "input_bytes": nbytes, "H_byte0": round(h0, 5),
            "H_byte1": round(h1, 5), "ceiling_ratio": round(r_marg, 6),
            "R_marginal": round(r_marg, 6), "n_values": n,
        })
        small = nbytes < 8192
        m = {
            "gzip6": method("general-purpose", r_marg * 0.815, nbytes, 310),
            "brotli_q9": method("general-purpose", r_marg * 0.85, nbytes, 380),
            "xz9": method("general-purpose", r_marg * 0.89, nbytes, 95),
            "zstd3_raw": method("general-purpose", r_marg * 0.825, nbytes, 1250),
            "zstd19_raw": method("general-purpose", r_marg * 0.87, nbytes, 1150, enc=6),
            "zstd19_bytegrouped": method("byte-grouped", r_marg * 0.955, nbytes, 980, enc=7),
            "zstd19_dict": method("trained-profile", r_marg * 0.875, nbytes, 1050, enc=6, profile=0 if small else 112),
            "bf16_split": method("byte-grouped", r_marg - abs(rng.gauss(0.007, 0.003)) - (0.02 if small else 0), nbytes, 14.1, enc=21.6),
            "scape_per_file": method("format-aware", r_marg * 0.985, nbytes, 19),
            "bf16_pretrained_k1": method("trained-profile", r_marg * 0.993, nbytes, 15, profile=0 if small else 64),
            "bf16_mixture_k4": method("trained-profile", r_marg * 0.988, nbytes, 14, profile=0 if small else 96),
            "wz_bf16": method("weightzip", r_marg * 0.999, nbytes, 1480, enc=520),
        }
        if not failed_once and cat == "mlp":
            m["scape_per_file"] = method("format-aware", 1.0, nbytes, 19, ok=False)
            failed_once = True
        results.append({
            "_kind": "bench_bf16_perfile", "model": model, "split": split, "tensor_name": name,
            "dtype": "BF16", "shape": shape, "tensor_category": cat, "input_bytes": nbytes,
            "R_marginal": round(r_marg, 6), "methods": m, "wall_s": round(rng.uniform(0.1, 3), 3),
        })

# A 7B check: no R_marginal in the records, joined from the atlas instead.
for name, cat, shape in llama_tensors("model.", 1, 3584, 18944, 152064)[1:8]:
    n = shape[0] * (shape[1] if len(shape) > 1 else 1)
    nbytes = 2 * n
    h0, h1 = entropies(cat)
    r_marg = 16.0 / (h0 + h1)
    atlas_bf16.append({
        "model": "qwen2.5-7b", "split": "test", "dtype": "BF16", "tensor_name": name,
        "tensor_category": cat, "input_bytes": nbytes, "H_byte0": round(h0, 5),
        "H_byte1": round(h1, 5), "ceiling_ratio": round(r_marg, 6), "R_marginal": round(r_marg, 6),
    })
    results.append({
        "_kind": "bench_7B", "model": "qwen2.5-7b", "split": "test", "tensor_name": name,
        "dtype": "BF16", "shape": shape, "tensor_category": cat, "input_bytes": nbytes,
        "methods": {
            "bf16_split": method("byte-grouped", r_marg - abs(rng.gauss(0.012, 0.003)), nbytes, 14.0, enc=21),
            "zstd19_raw": method("general-purpose", r_marg * 0.87, nbytes, 1100, enc=5),
            "wz_bf16": method("weightzip", r_marg * 0.999, nbytes, 1450, enc=500),
        },
    })

# fp16 corpus: a few tensors.
for i in range(6):
    nbytes = 2 * 384 * 384
    results.append({
        "_kind": "bench_fp16", "model": "whisper-small-partial", "split": "test",
        "tensor_name": f"encoder.layers.{i}.fc1.weight", "dtype": "F16", "shape": [384, 384],
        "tensor_category": "mlp", "input_bytes": nbytes,
        "methods": {
            "zstd19_raw": method("general-purpose", rng.uniform(1.12, 1.15), nbytes, 1050, enc=5),
            "zstd19_bytegrouped": method("byte-grouped", rng.uniform(1.19, 1.22), nbytes, 900, enc=6),
            "wz_fp16": method("weightzip", rng.uniform(1.25, 1.27), nbytes, 1300, enc=450),
        },
    })

# Q4_K tensor streams: one model records nibble_ceiling, the other relies on the atlas.
for model, split, layers, with_ceiling in [("llama-3.2-mini-q4km", "test", 4, True), ("qwen2.5-mini-q4km", "train", 4, False)]:
    for i in range(layers):
        for role, rows, cols in [("attn_q", 512, 512), ("attn_k", 128, 512), ("ffn_gate", 1408, 512), ("ffn_up", 1408, 512), ("attn_output", 512, 512)]:
            name = f"blk.{i}.{role}.weight"
            n_blocks = rows * cols // 256
            nbytes = 144 * n_blocks
            h_nib = clamp(rng.gauss(3.862, 0.012), 3.80, 3.95)
            h_byte = 2 * h_nib - rng.uniform(0.005, 0.03)
            ceil = 8.0 / h_byte
            atlas_q4k.append({
                "model": model, "split": split, "tensor_name": name, "input_bytes": nbytes,
                "n_blocks": n_blocks, "H_nibble": round(h_nib, 5), "H_byte": round(h_byte, 5),
                "nibble_ceiling": round(ceil, 6), "ceiling_ratio": round(ceil * 1.038, 6),
                "H_scale_hi": round(rng.uniform(2.3, 2.45), 4),
            })
            rec = {
                "_kind": "Q4_K_benchmark", "model": model, "split": split, "tensor_name": name,
                "dtype": "Q4_K", "shape": [rows, cols], "tensor_category": "mlp" if "ffn" in role else "attention",
                "input_bytes": nbytes,
                "methods": {
                    "zstd19_raw": method("general-purpose", rng.uniform(1.012, 1.018), nbytes, 1500, enc=8),
                    "xz9": method("general-purpose", rng.uniform(1.018, 1.024), nbytes, 60),
                    "qa": method("format-aware", ceil * rng.uniform(0.995, 1.005), nbytes, 85),
                    "qb_k4": method("trained-profile", ceil * rng.uniform(1.005, 1.02), nbytes, 70, profile=277 // 40),
                    "qb_k8": method("trained-profile", ceil * rng.uniform(1.004, 1.019), nbytes, 66, profile=554 // 40),
                    "wz_q4k": method("weightzip", ceil * rng.uniform(1.02, 1.03), nbytes, 820, enc=300),
                },
            }
            if with_ceiling:
                rec["nibble_ceiling"] = round(ceil, 6)
            results.append(rec)

# Whole GGUF files.
for model, size in [("qwen2.5-7b-q4km", 4_683_073_184), ("llama-3.2-3b-q4km", 2_019_377_696), ("mistral-7b-q4km", 4_368_438_944)]:
    j = rng.uniform(-0.002, 0.002)
    results.append({
        "_kind": "gguf_whole", "model": model, "split": "test", "dtype": "GGUF", "input_bytes": size,
        "methods": {
            "whole_zstd3": method("general-purpose", 1.018 + j, size, 1400, enc=300),
            "whole_zstd19": method("general-purpose", 1.022 + j, size, 1300, enc=14),
            "whole_xz6": method("general-purpose", 1.021 + j, size, 85, enc=4),
            "decomp_perstream_zstd3": method("format-aware", 1.029 + j, size, 1250, enc=280),
            "decomp_perstream_zstd19": method("format-aware", 1.034 + j, size, 1200, enc=12),
            "decomp_perstream_zstd19_bgscale": method("format-aware", 1.042 + j, size, 1150, enc=11),
            "decomp_qb_full": method("trained-profile", 1.042 + j, size, 95, enc=4, profile=277),
            "wz_gguf": method("weightzip", 1.051 + j, size, 900, enc=200),
        },
    })

roles = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
for model, layers, shift in [("qwen2.5-0.5b", 19, 0.0003), ("qwen2.5-1.5b", 18, 0.0006)]:
    for role in roles:
        for k in range(layers - 1):
            r = clamp(rng.gauss(shift, 0.0032), -0.011, 0.011)
            pairs.append({
                "model": model, "role": role, "K": k, "corr_pearson": round(r, 6),
                "affine_gain": round(rng.gauss(-0.0005, 0.0002), 6), "n": 896 * 896,
            })


def write(path, rows):
    with open(path, "w") as f:
        for r in rows:
            f.write(json.dumps(r, separators=(",", ":")) + "\n")


write(os.path.join(HERE, "results.jsonl"), results)
write(os.path.join(HERE, "atlas", "bf16.jsonl"), atlas_bf16)
write(os.path.join(HERE, "atlas", "q4k.jsonl"), atlas_q4k)
write(os.path.join(HERE, "atlas", "layer_pairs.jsonl"), pairs)
print(len(results), len(atlas_bf16), len(atlas_q4k), len(pairs))
