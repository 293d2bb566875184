"""Hugging Face ``transformers`` on ``.wz`` weights.

A model folder in the weightzip layout is a downloaded Hugging Face folder
whose ``*.safetensors`` files were replaced by ``*.safetensors.wz``
archives (``compress_folder`` makes it); config, tokenizer, the shard
index and every other file stay as they are. Two ways to load one:

- ``from_pretrained(AutoModel, folder)`` decodes every archive in one
  parallel pass straight into torch tensors and hands them to
  transformers' own ``from_pretrained`` as its ``state_dict``;
- ``with loading(): AutoModel.from_pretrained(folder)`` (or
  ``patch_transformers()`` / its ``undo()``) routes transformers' own
  safetensors loading to weightzip, so any code that calls
  ``from_pretrained`` on a local folder reads ``.wz`` weights unchanged.

Either way key renaming, tied weights and dtype handling are
transformers', and the model is the one the original folder gives, bit for
bit.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
import threading
from pathlib import Path
from typing import Callable, Dict, Iterator, List, Optional, Union

from ._native import WeightzipError

__all__ = [
    "compress_folder",
    "from_pretrained",
    "load_state_dict",
    "loading",
    "patch_transformers",
    "weight_archives",
]

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


def _variant(name: str, variant: Optional[str]) -> str:
    """``model.safetensors`` with a variant: ``model.<variant>.safetensors``
    (transformers' naming)."""
    if not variant:
        return name
    stem, ext = name.split(".", 1)
    return f"{stem}.{variant}.{ext}"


def weight_archives(folder: PathLike, variant: Optional[str] = None) -> List[Path]:
    """The weight archives transformers would read in ``folder``, as it
    picks the weight files: the shards that ``model.safetensors.index.json``
    names (each as ``<shard>.wz``), else ``model.safetensors.wz``.
    ``variant`` as in transformers (``model.<variant>.safetensors``)."""
    import json

    folder = Path(folder)
    index = folder / _variant("model.safetensors.index.json", variant)
    single = folder / (_variant("model.safetensors", variant) + ".wz")
    if index.is_file():
        try:
            shards = sorted(set(json.loads(index.read_text(encoding="utf-8"))["weight_map"].values()))
        except (ValueError, KeyError, TypeError, AttributeError) as e:
            raise WeightzipError(f"{index}: not a safetensors shard index ({e})") from e
        archives = [folder / (s + ".wz") for s in shards]
        absent = [a.name for a in archives if not a.is_file()]
        if absent:
            raise WeightzipError(f"{folder}: the shard index names {absent[0]}, which is not there")
        return archives
    if single.is_file():
        return [single]
    raise WeightzipError(
        f"{folder}: no {single.name} nor {index.name} (make the layout with weightzip.hf.compress_folder)"
    )


def load_state_dict(folder: PathLike, threads: int = 0, variant: Optional[str] = None) -> Dict[str, "object"]:
    """Every tensor of the weight archives of ``folder`` (all shards; see
    ``weight_archives``), each archive decoded in one parallel pass."""
    from .torch import load_file

    state: Dict[str, object] = {}
    for archive in weight_archives(folder, variant):
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
    state = load_state_dict(folder, threads=threads, variant=kwargs.pop("variant", None))
    mapping = getattr(model_class, "_model_mapping", None)
    if mapping is not None:  # an Auto class: the concrete class for this config
        from transformers.models.auto.auto_factory import _get_model_class

        model_class = _get_model_class(config, mapping)
    return model_class.from_pretrained(None, config=config, state_dict=state, **kwargs)


# --- routing transformers' own loading ---------------------------------

#: Modules of transformers that call ``safetensors.safe_open`` on weight
#: files (they import it by name, so each module's name is rebound).
_SAFE_OPEN_USERS = (
    "transformers.modeling_utils",
    "transformers.modeling_layers",
    "transformers.integrations.accelerate",
    "transformers.quantizers.quantizer_torchao",
)


def _archive_for(path) -> Optional[str]:
    """The ``.wz`` archive that stands for the weight file ``path``: the
    path itself if it names an archive, else ``<path>.wz`` when ``path``
    does not exist and that archive does."""
    p = os.fspath(path)
    if p.endswith(".wz") and os.path.isfile(p):
        return p
    if not os.path.exists(p) and os.path.isfile(p + ".wz"):
        return p + ".wz"
    return None


def _routed_safe_open(original: Callable) -> Callable:
    def safe_open(filename, framework="pt", device="cpu", *args, **kwargs):
        archive = _archive_for(filename)
        if archive is None:
            return original(filename, framework, device, *args, **kwargs)
        from ._open import safe_open as wz_safe_open

        return wz_safe_open(archive, framework=framework, device=device)

    safe_open.__wrapped__ = original
    return safe_open


def _routed_resolution(original: Callable) -> Callable:
    """Wraps transformers' ``_get_resolved_checkpoint_files``: a local
    folder holding ``model.safetensors.wz`` (and no ``model.safetensors``)
    resolves to ``model.safetensors``, which the routed ``safe_open`` then
    reads from the archive. Sharded folders need nothing: their index file
    names the shards, whose archives the routed ``safe_open`` finds."""
    import inspect

    from transformers.modeling_utils import _add_variant
    from transformers.utils import SAFE_WEIGHTS_INDEX_NAME, SAFE_WEIGHTS_NAME

    sig = inspect.signature(original)

    def resolve(*args, **kwargs):
        a = sig.bind_partial(*args, **kwargs).arguments
        folder = a.get("pretrained_model_name_or_path")
        download = a.get("download_kwargs") or {}
        variant = a.get("variant")
        if (
            folder is not None
            and a.get("gguf_file") is None
            and a.get("use_safetensors") is not False
            and a.get("transformers_explicit_filename") is None
            and os.path.isdir(folder)
        ):
            base = os.path.join(os.fspath(folder), download.get("subfolder") or "")
            single = os.path.join(base, _add_variant(SAFE_WEIGHTS_NAME, variant))
            index = os.path.join(base, _add_variant(SAFE_WEIGHTS_INDEX_NAME, variant))
            if not os.path.exists(single) and not os.path.exists(index) and os.path.isfile(single + ".wz"):
                return [single], None
        return original(*args, **kwargs)

    resolve.__wrapped__ = original
    return resolve


class _Patch:
    """The rebinding ``patch_transformers`` made; ``undo()`` restores it."""

    def __init__(self, saved):
        self._saved = saved

    def undo(self) -> None:
        with _PATCH_LOCK:
            for module, name, value in reversed(self._saved):
                setattr(module, name, value)
            self._saved = []

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.undo()
        return False


_PATCH_LOCK = threading.Lock()


def patch_transformers() -> _Patch:
    """Routes transformers' loading of safetensors weights to weightzip
    until ``undo()`` is called on the result: ``from_pretrained`` on a
    local folder in the weightzip layout then reads its ``*.safetensors.wz``
    archives (single file or sharded with ``model.safetensors.index.json``)
    with ``weightzip.safe_open``. Folders and files without archives load
    as before. (Folders on an hf-mount file system, which transformers reads
    without ``safe_open``, are not covered.)"""
    import importlib

    import transformers.modeling_utils as mu

    saved = []
    with _PATCH_LOCK:
        for name in _SAFE_OPEN_USERS:
            module = sys.modules.get(name)
            if module is None and name == "transformers.modeling_utils":
                module = importlib.import_module(name)
            if module is None or not hasattr(module, "safe_open"):
                continue  # not imported yet: nothing of it can be running
            saved.append((module, "safe_open", module.safe_open))
            module.safe_open = _routed_safe_open(module.safe_open)
        saved.append((mu, "_get_resolved_checkpoint_files", mu._get_resolved_checkpoint_files))
        mu._get_resolved_checkpoint_files = _routed_resolution(mu._get_resolved_checkpoint_files)
    return _Patch(saved)


@contextlib.contextmanager
def loading() -> Iterator[None]:
    """``with weightzip.hf.loading(): model = AutoModel.from_pretrained(folder)``
    loads a folder whose weights are ``.wz`` archives (see
    ``patch_transformers``); the patch is undone on leaving the block."""
    patch = patch_transformers()
    try:
        yield
    finally:
        patch.undo()
