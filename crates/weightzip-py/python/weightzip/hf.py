"""Hugging Face ``transformers`` on ``.wz`` weights.

A model folder in the weightzip layout is a downloaded Hugging Face folder
whose ``*.safetensors`` files were replaced by ``*.safetensors.wz``
archives (``compress_folder`` makes it); config, tokenizer and every other
file stay as they are. ``from_pretrained`` decodes the archives straight
into torch tensors and hands them to transformers' own
``from_pretrained``, so key renaming, tied weights and dtype handling are
transformers' and the model is the one the original folder gives, bit for
bit.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Dict, List, Optional, Union

from ._native import WeightzipError

__all__ = ["compress_folder", "from_pretrained", "load_state_dict", "weight_archives"]

PathLike = Union[str, os.PathLike]


def compress_folder(
    src: PathLike,
    dst: Optional[PathLike] = None,
    level: str = "fast",
    threads: int = 0,
    overwrite: bool = False,
) -> Path:
    """Copies the Hugging Face folder ``src`` to ``dst`` (default:
    ``<src>-wz``) with every ``*.safetensors`` compressed to
    ``*.safetensors.wz``; returns ``dst``. ``weightzip decompress`` of each
    archive gives back the original file byte for byte."""
    from . import compress

    src = Path(src)
    if not src.is_dir():
        raise WeightzipError(f"{src}: not a folder")
    dst = Path(dst) if dst is not None else src.with_name(src.name + "-wz")
    if dst.exists() and not overwrite:
        raise WeightzipError(f"{dst} already exists (pass overwrite=True)")
    dst.mkdir(parents=True, exist_ok=True)
    for p in sorted(src.rglob("*")):
        rel = p.relative_to(src)
        if p.is_dir():
            (dst / rel).mkdir(parents=True, exist_ok=True)
        elif p.suffix == ".safetensors":
            compress(p, dst / (str(rel) + ".wz"), level=level, threads=threads, overwrite=overwrite)
        else:
            (dst / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(p, dst / rel)
    return dst


def weight_archives(folder: PathLike) -> List[Path]:
    """The ``*.safetensors.wz`` archives directly in ``folder``, sorted."""
    found = sorted(Path(folder).glob("*.safetensors.wz"))
    if not found:
        raise WeightzipError(f"{folder}: no *.safetensors.wz weights (make them with weightzip.hf.compress_folder)")
    return found


def load_state_dict(folder: PathLike, threads: int = 0) -> Dict[str, "object"]:
    """Every tensor of every weight archive of ``folder`` (all shards)."""
    from .torch import load_file

    state: Dict[str, object] = {}
    for archive in weight_archives(folder):
        part = load_file(archive, threads=threads)
        clash = state.keys() & part.keys()
        if clash:
            raise WeightzipError(f"{archive}: tensor {sorted(clash)[0]!r} is also in another shard")
        state.update(part)
    return state


def from_pretrained(model_class, folder: PathLike, threads: int = 0, **kwargs):
    """``model_class.from_pretrained`` on a folder in the weightzip layout,
    e.g. ``from_pretrained(AutoModel, "minilm-wz")``. Keyword arguments go
    to transformers (``torch_dtype``, ``device_map`` ...)."""
    from transformers import AutoConfig

    folder = Path(folder)
    config = kwargs.pop("config", None) or AutoConfig.from_pretrained(folder)
    state = load_state_dict(folder, threads=threads)
    mapping = getattr(model_class, "_model_mapping", None)
    if mapping is not None:  # an Auto class: the concrete class for this config
        from transformers.models.auto.auto_factory import _get_model_class

        model_class = _get_model_class(config, mapping)
    return model_class.from_pretrained(None, config=config, state_dict=state, **kwargs)
