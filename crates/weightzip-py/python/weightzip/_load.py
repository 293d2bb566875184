"""Whole-archive loads and saves shared by ``weightzip.numpy`` and
``weightzip.torch``."""

from __future__ import annotations

import os
from typing import Dict, Optional

from ._native import compress_bytes_to
from ._open import _as_array, safe_open


def load_all(filename, framework: str, file: Optional[str] = None, threads: int = 0) -> Dict[str, object]:
    """Every tensor of the archive (or of member ``file``), the chunks of
    all of them decoded in parallel straight into the returned arrays."""
    with safe_open(filename, framework=framework, file=file) as f:
        out: Dict[str, object] = {}
        by_entry: Dict[int, list] = {}
        order = f.offset_keys()  # safetensors' load_file order: by data offset
        for name in order:
            by_entry.setdefault(f._tensors[name].entry, []).append(name)
        bufs = {}
        for entry, names in by_entry.items():
            for name, buf in zip(names, f._arch().read_many(entry, names, threads)):
                bufs[name] = buf
        for name in order:
            t = f._tensors[name]
            out[name] = _as_array(bufs[name], t, t.shape(), f._framework)
        return out


def entry_name(filename) -> str:
    """The name the saved file gets inside its archive: the archive's file
    name without ``.wz``."""
    base = os.path.basename(os.fspath(filename))
    return base[: -len(".wz")] if base.endswith(".wz") and len(base) > 3 else base


def save_bytes(data: bytes, filename, level: str = "fast", threads: int = 0) -> None:
    """Compresses one in-memory safetensors file into the archive ``filename``."""
    compress_bytes_to(data, os.fspath(filename), entry_name(filename), level=level, threads=threads)
