"""weightzip: lossless compression of LLM weight files, read the way
safetensors files are read.

>>> import weightzip
>>> weightzip.compress("model.safetensors", "model.safetensors.wz")
>>> with weightzip.safe_open("model.safetensors.wz", framework="pt") as f:
...     w = f.get_tensor("model.embed_tokens.weight")
"""

from __future__ import annotations

from typing import Dict

from . import _native
from ._native import (
    CorruptArchiveError,
    OutputExistsError,
    TensorNotFoundError,
    WeightzipError,
    WrongBaseError,
)
from ._open import safe_open

__all__ = [
    "safe_open",
    "compress",
    "decompress",
    "verify",
    "decode_stats",
    "reset_decode_stats",
    "WeightzipError",
    "CorruptArchiveError",
    "TensorNotFoundError",
    "OutputExistsError",
    "WrongBaseError",
]


def compress(
    src,
    dst,
    level: str = "fast",
    threads: int = 0,
    overwrite: bool = False,
    verify: bool = True,
    chunk_size: int = 0,
    base=None,
) -> Dict[str, int]:
    """Compresses the file or folder ``src`` into the archive ``dst``
    (``level`` ``"fast"`` or ``"max"``; ``threads=0``: all cores;
    ``chunk_size``: most decoded bytes per chunk, 0 for the default 4 MiB;
    ``base``: a checkpoint file, folder or ``.wz`` to code tensors as deltas
    against — reading the archive then needs the same base)."""
    import os

    return _native.compress(
        os.fspath(src),
        os.fspath(dst),
        level=level,
        threads=threads,
        overwrite=overwrite,
        verify=verify,
        chunk_size=chunk_size,
        base=None if base is None else os.fspath(base),
    )


def decompress(src, dst, threads: int = 0, overwrite: bool = False, base=None) -> None:
    """Restores the archive ``src`` at ``dst``, byte for byte (``base``: the
    checkpoint it was coded against, if it was; ``WrongBaseError`` if it is
    missing or another one)."""
    import os

    _native.decompress(
        os.fspath(src), os.fspath(dst), threads=threads, overwrite=overwrite, base=None if base is None else os.fspath(base)
    )


def verify(path, threads: int = 0) -> Dict[str, int]:
    """Decodes the archive and checks every checksum; raises
    ``CorruptArchiveError`` on damage."""
    import os

    return _native.verify(os.fspath(path), threads=threads)


def decode_stats() -> Dict[str, int]:
    """Chunks decoded and stored bytes read by this process's tensor reads
    since the last ``reset_decode_stats()``."""
    return _native.decode_stats()


def reset_decode_stats() -> None:
    _native.reset_decode_stats()
