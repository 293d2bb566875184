"""``safe_open``: lazy, per-tensor reading of a ``.wz`` archive with the
interface of ``safetensors.safe_open``."""

from __future__ import annotations

import json
import os
from math import prod
from typing import Any, Dict, List, Optional

import numpy as np

from . import _dtypes
from ._native import Archive, TensorNotFoundError, WeightzipError

_FRAMEWORKS = {"np": "np", "numpy": "np", "pt": "pt", "torch": "pt", "pytorch": "pt"}


class _Tensor:
    """One tensor as the archive index describes it."""

    __slots__ = ("entry", "name", "type", "ggml", "stored_shape", "nbytes", "chunks")

    def __init__(self, entry, row):
        self.entry = entry
        self.name, self.type, self.ggml, shape, self.nbytes, self.chunks = row
        self.stored_shape = list(shape)

    @property
    def quantized(self) -> bool:
        return self.ggml and self.type not in _dtypes.GGML_PLAIN

    def shape(self) -> List[int]:
        """Outermost dimension first (numpy / torch order)."""
        if not self.ggml:
            return list(self.stored_shape)
        dims = list(reversed(self.stored_shape)) or [1]
        if self.quantized:
            # Raw block bytes: the innermost dimension becomes bytes per row,
            # as gguf-py's GGUFReader lays them out.
            outer = prod(dims[:-1])
            dims[-1] = self.nbytes // outer if outer else 0
        return dims

    def type_name(self) -> str:
        """safetensors dtype name the array gets (``"U8"`` for raw blocks)."""
        return "U8" if self.quantized else self.type


def _numpy_dtype(t: _Tensor) -> np.dtype:
    name = t.type_name()
    return np.dtype(_dtypes.GGML_PLAIN[name]) if t.ggml and name != "U8" else _dtypes.numpy_dtype(name)


def _as_array(buf: bytearray, t: _Tensor, shape, framework: str):
    """Wraps a decoded buffer as a numpy array or torch tensor, no copy."""
    if framework == "np":
        return np.frombuffer(buf, dtype=_numpy_dtype(t)).reshape(shape)
    import torch

    dt = _dtypes.torch_dtype(t.type_name())
    if len(buf) == 0:
        return torch.empty(shape, dtype=dt)
    return torch.frombuffer(buf, dtype=dt).reshape(shape)


def _view_array(flat, offset: int, t: _Tensor, framework: str):
    """Tensor ``t`` as a view of ``flat`` (the uint8 numpy array or torch
    tensor over a ``TensorMemory``) from byte ``offset``, no copy."""
    part = flat[offset : offset + t.nbytes]
    if framework == "np":
        return part.view(_numpy_dtype(t)).reshape(t.shape())
    import torch

    dt = _dtypes.torch_dtype(t.type_name())
    if t.nbytes == 0:
        return torch.empty(t.shape(), dtype=dt)
    return part.view(dt).reshape(t.shape())


class safe_open:
    """Opens a ``.wz`` archive for lazy reading, like ``safetensors.safe_open``.

    ``framework`` is ``"np"`` or ``"pt"``; ``device`` is where torch tensors
    go (decoding happens on the CPU). In a folder archive, ``file`` names
    the member to read (e.g. ``"model-00001-of-00002.safetensors"``);
    without it every weight file of the folder is visible at once.
    ``base`` is the checkpoint the archive was coded against
    (``compress(..., base=...)``), if it was.
    """

    def __init__(
        self,
        filename,
        framework: str = "np",
        device: str = "cpu",
        file: Optional[str] = None,
        backend: Optional[str] = None,
        base=None,
    ):
        if framework not in _FRAMEWORKS:
            raise ValueError(f"framework must be 'np' or 'pt', not {framework!r}")
        self._framework = _FRAMEWORKS[framework]
        self._device = device
        if self._framework == "np" and str(device) != "cpu":
            raise ValueError("numpy arrays live on the cpu")
        self._path = os.fspath(filename)
        self._archive = Archive(self._path, None if base is None else os.fspath(base))
        entries = self._archive.entries()
        if file is not None:
            picked = [i for i, e in enumerate(entries) if e[0] == file]
            if not picked:
                names = ", ".join(e[0] for e in entries)
                raise WeightzipError(f"{self._path}: no file {file!r} in the archive (it holds: {names})")
        else:
            picked = [i for i, e in enumerate(entries) if e[2] in ("safetensors", "gguf")]
        self._entries = picked
        self._kinds = {i: entries[i][2] for i in picked}
        self._tensors: Dict[str, _Tensor] = {}
        for i in picked:
            for row in self._archive.tensors(i):
                if row[0] in self._tensors:
                    raise WeightzipError(
                        f"{self._path}: tensor {row[0]!r} is in several files; pick one with file="
                    )
                self._tensors[row[0]] = _Tensor(i, row)

    # context manager, as safetensors' handle
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def close(self) -> None:
        self._archive = None

    def _arch(self) -> Archive:
        if self._archive is None:
            raise WeightzipError(f"{self._path}: archive is closed")
        return self._archive

    def _tensor(self, name: str) -> _Tensor:
        try:
            return self._tensors[name]
        except KeyError:
            raise TensorNotFoundError(f"{self._path}: no tensor named {name!r}") from None

    def files(self) -> List[str]:
        """Paths of the files being read (one for a single-file archive)."""
        entries = self._arch().entries()
        return [entries[i][0] for i in self._entries]

    def keys(self) -> List[str]:
        """Tensor names: sorted for safetensors (as safetensors does), file order for GGUF."""
        if all(self._kinds[i] == "safetensors" for i in self._entries):
            return sorted(self._tensors)
        return list(self._tensors)

    def offset_keys(self) -> List[str]:
        """Tensor names in file order."""
        return list(self._tensors)

    def metadata(self) -> Optional[Dict[str, Any]]:
        """safetensors: the ``__metadata__`` map (None if absent). GGUF: the
        key/value pairs of the header as Python values."""
        out: Optional[Dict[str, Any]] = None
        for i in self._entries:
            m = self._arch().metadata(i)
            if m is not None:
                out = {**(out or {}), **m}
        return out

    def tensor_info(self, name: str) -> Dict[str, Any]:
        """Type and shape of a tensor as its file stores them. For GGUF:
        ``ggml_type`` (``"Q4_K"`` ...), ``dims`` in ggml order (row length
        first), and the shape and dtype that ``get_tensor`` returns."""
        t = self._tensor(name)
        info = {
            "dtype": t.type_name(),
            "shape": t.shape(),
            "nbytes": t.nbytes,
            "chunks": t.chunks,
            "file": self._arch().entries()[t.entry][0],
        }
        if t.ggml:
            info["ggml_type"] = t.type
            info["dims"] = list(t.stored_shape)
        return info

    def get_tensor(self, name: str, dequantize: bool = False):
        """The whole tensor, decoded (only its chunks) into a new array.

        GGUF tensors of quantized types arrive as their raw block bytes
        (``uint8``, one row of blocks per row); ``dequantize=True`` turns them
        into float32 with gguf-py's reference dequantizer (``pip install gguf``).
        """
        t = self._tensor(name)
        buf = self._arch().read(t.entry, name)
        return self._finish(_as_array(buf, t, t.shape(), self._framework), t, dequantize)

    def get_slice(self, name: str) -> "_Slice":
        """A lazy view: index it (``[a:b]``, ``[i]``, ``[a:b, ...]``) to
        decode only the chunks that hold the rows asked for."""
        return _Slice(self, self._tensor(name))

    def _finish(self, arr, t: _Tensor, dequantize: bool):
        if dequantize and t.ggml:
            arr = _dequantize(arr, t)
        if self._framework == "pt" and str(self._device) != "cpu":
            arr = arr.to(self._device)
        return arr

    def _rows(self, t: _Tensor, lo: int, hi: int):
        shape = t.shape()
        row_bytes = t.nbytes // shape[0] if shape[0] else 0
        buf = self._arch().read(t.entry, t.name, lo * row_bytes, (hi - lo) * row_bytes)
        return _as_array(buf, t, [hi - lo] + shape[1:], self._framework)


def _dequantize(arr, t: _Tensor):
    """float32 values of a GGUF tensor (reference math of gguf-py)."""
    try:
        from gguf import GGMLQuantizationType
        from gguf.quants import dequantize
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise WeightzipError("dequantize=True needs the gguf package (pip install gguf)") from e
    qtype = GGMLQuantizationType[t.type]
    is_torch = not isinstance(arr, np.ndarray)
    raw = arr.numpy() if is_torch else arr
    out = dequantize(raw, qtype).astype(np.float32, copy=False)
    if is_torch:
        import torch

        return torch.from_numpy(out)
    return out


class _Slice:
    """What ``get_slice`` returns: shape and dtype without decoding, rows on indexing."""

    def __init__(self, handle: safe_open, t: _Tensor):
        self._h = handle
        self._t = t

    def get_shape(self) -> List[int]:
        return self._t.shape()

    def get_dtype(self) -> str:
        return self._t.type_name()

    def __getitem__(self, index):
        shape = self._t.shape()
        if not isinstance(index, tuple):
            index = (index,)
        if not shape:
            if index in ((), (Ellipsis,)):  # what transformers asks of scalars
                return self._h.get_tensor(self._t.name)
            raise IndexError("a 0-dimensional tensor takes only [...]")
        if not index:
            index = (slice(None),)
        first, rest = index[0], index[1:]
        if first is Ellipsis:
            first, rest = slice(None), index
        n0 = shape[0]
        if isinstance(first, (int, np.integer)):
            i = int(first) + (n0 if first < 0 else 0)
            if not 0 <= i < n0:
                raise IndexError(f"index {int(first)} is out of range for {n0} rows")
            rows = self._h._rows(self._t, i, i + 1)
            local = (0,)
        elif isinstance(first, slice):
            r = range(*first.indices(n0))
            if len(r) == 0:
                rows, local = self._h._rows(self._t, 0, 0), (slice(None),)
            else:
                lo, hi = min(r), max(r) + 1
                rows = self._h._rows(self._t, lo, hi)
                if r.step > 0:
                    local = (slice(None, None, r.step),)
                else:
                    # Negative steps: numpy can, torch cannot; indices work for both.
                    idx = [k - lo for k in r]
                    local = (np.array(idx) if isinstance(rows, np.ndarray) else _torch_index(idx),)
        else:
            raise TypeError("get_slice(...)[...] takes integers, slices and ...")
        out = rows[local + tuple(rest)]
        return self._h._finish(out, self._t, False)


def _torch_index(idx):
    import torch

    return torch.tensor(idx, dtype=torch.long)


def _header_json(handle: safe_open, entry: int) -> dict:
    """The JSON header of a safetensors member (for tools and tests)."""
    head = bytes(handle._arch().header(entry))
    n = int.from_bytes(head[:8], "little")
    return json.loads(head[8 : 8 + n])
