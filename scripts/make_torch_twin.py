#!/usr/bin/env python3
"""Writes the PyTorch twin of a safetensors file: `torch.save` of the very
state dict `safetensors.torch.load_file` reads from it (same tensors, same
bytes), the way a Hugging Face folder ships `pytorch_model.bin` beside
`model.safetensors`.

    python3 scripts/make_torch_twin.py IN.safetensors OUT.bin
"""
import sys

import torch
from safetensors.torch import load_file


def main() -> None:
    src, dst = sys.argv[1], sys.argv[2]
    state = load_file(src)
    torch.save(state, dst)
    print(f"{dst}: {len(state)} tensors (torch {torch.__version__})")


if __name__ == "__main__":
    main()
