"""``weightzip.numpy``: ``load_file`` / ``save_file`` as in ``safetensors.numpy``."""

from __future__ import annotations

from typing import Dict, Optional

import numpy as np

from ._load import load_all, save_bytes

__all__ = ["load_file", "save_file", "save"]


def load_file(filename, file: Optional[str] = None, threads: int = 0) -> Dict[str, np.ndarray]:
    """All tensors of a ``.wz`` archive as numpy arrays (bf16: see
    ``weightzip._dtypes``). ``file`` picks a member of a folder archive."""
    return load_all(filename, "np", file=file, threads=threads)


def save(tensors: Dict[str, np.ndarray], metadata: Optional[Dict[str, str]] = None) -> bytes:
    """The safetensors file ``safetensors.numpy.save`` makes (uncompressed)."""
    import safetensors.numpy

    return safetensors.numpy.save(tensors, metadata=metadata)


def save_file(
    tensors: Dict[str, np.ndarray],
    filename,
    metadata: Optional[Dict[str, str]] = None,
    level: str = "fast",
    threads: int = 0,
) -> None:
    """Writes ``filename`` (a ``.wz`` archive) holding exactly the file that
    ``safetensors.numpy.save_file`` would have written; ``weightzip
    decompress`` restores it byte for byte."""
    save_bytes(save(tensors, metadata), filename, level=level, threads=threads)
