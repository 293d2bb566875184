"""``weightzip.torch``: ``load_file`` / ``save_file`` as in ``safetensors.torch``."""

from __future__ import annotations

from typing import Dict, Optional

from ._load import load_all, save_bytes

__all__ = ["load_file", "save_file", "save"]


def load_file(filename, device="cpu", file: Optional[str] = None, threads: int = 0):
    """All tensors of a ``.wz`` archive as torch tensors (bf16 as
    ``torch.bfloat16``), decoded in parallel straight into their storage."""
    out = load_all(filename, "pt", file=file, threads=threads)
    if str(device) != "cpu":
        out = {k: v.to(device) for k, v in out.items()}
    return out


def save(tensors, metadata: Optional[Dict[str, str]] = None) -> bytes:
    """The safetensors file ``safetensors.torch.save`` makes (uncompressed)."""
    import safetensors.torch

    return safetensors.torch.save(tensors, metadata=metadata)


def save_file(tensors, filename, metadata: Optional[Dict[str, str]] = None, level: str = "fast", threads: int = 0) -> None:
    """Writes ``filename`` (a ``.wz`` archive) holding exactly the file that
    ``safetensors.torch.save_file`` would have written."""
    save_bytes(save(tensors, metadata), filename, level=level, threads=threads)
