"""Whole-archive loads and saves shared by ``weightzip.numpy`` and
``weightzip.torch``."""

from __future__ import annotations

import os
from typing import Dict, Optional

from ._native import compress_bytes_to
import numpy as np

from ._open import _view_array, safe_open


def load_all(filename, framework: str, file: Optional[str] = None, threads: int = 0) -> Dict[str, object]:
    """Every tensor of the archive (or of member ``file``), the chunks of
    all of them decoded in parallel straight into one ``TensorMemory`` per
    file, which the returned arrays are views of (as safetensors' tensors
    are views of its file mapping: the memory is freed when the last of
    them is)."""
    with safe_open(filename, framework=framework, file=file) as f:
        by_entry: Dict[int, list] = {}
        order = f.offset_keys()  # safetensors' load_file order: by data offset
        for name in order:
            by_entry.setdefault(f._tensors[name].entry, []).append(name)
        views = {}
        for entry, names in by_entry.items():
            memory, offsets = f._arch().read_many_mapped(entry, names, threads)
            flat = np.asarray(memory)
            if framework == "pt":
                import torch

                flat = torch.from_numpy(flat)
            for name, offset in zip(names, offsets):
                views[name] = _view_array(flat, offset, f._tensors[name], framework)
        return {name: views[name] for name in order}


def entry_name(filename) -> str:
    """The name the saved file gets inside its archive: the archive's file
    name without ``.wz``."""
    base = os.path.basename(os.fspath(filename))
    return base[: -len(".wz")] if base.endswith(".wz") and len(base) > 3 else base


def save_bytes(data: bytes, filename, level: str = "fast", threads: int = 0) -> None:
    """Compresses one in-memory safetensors file into the archive ``filename``."""
    compress_bytes_to(data, os.fspath(filename), entry_name(filename), level=level, threads=threads)
