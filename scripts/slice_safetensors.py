#!/usr/bin/env python3
"""Copies some tensors of a safetensors file, bytes unchanged, into a new
one (small real fixtures from big checkpoints).

    python3 scripts/slice_safetensors.py IN.safetensors OUT.safetensors NAME...
"""
import sys

from safetensors.torch import load_file, save_file


def main() -> None:
    src, dst, names = sys.argv[1], sys.argv[2], sys.argv[3:]
    state = load_file(src)
    save_file({n: state[n].contiguous() for n in names}, dst)
    print(f"{dst}: {len(names)} tensors of {src}")


if __name__ == "__main__":
    main()
