"""Element types: safetensors / GGUF type names to numpy and torch dtypes.

bf16 and the fp8 types have no numpy dtype of their own. With the
``ml_dtypes`` package installed numpy arrays get ``ml_dtypes.bfloat16``
(``float8_e4m3fn``, ``float8_e5m2``); without it they arrive as unsigned
integers holding the same bits (bf16 as ``uint16``, fp8 as ``uint8``), so
no byte is ever changed. Torch gets ``torch.bfloat16`` and torch's fp8
types.
"""

from __future__ import annotations

import numpy as np

try:  # optional: real numpy dtypes for bf16 / fp8
    import ml_dtypes as _ml
except ImportError:  # pragma: no cover - depends on the environment
    _ml = None

_NUMPY_PLAIN = {
    "BOOL": np.bool_,
    "U8": np.uint8,
    "I8": np.int8,
    "I16": np.int16,
    "U16": np.uint16,
    "F16": np.float16,
    "I32": np.int32,
    "U32": np.uint32,
    "F32": np.float32,
    "F64": np.float64,
    "I64": np.int64,
    "U64": np.uint64,
    "C64": np.complex64,
}

#: The numpy dtype bf16 tensors get: ``ml_dtypes.bfloat16`` or ``uint16``.
BF16_NUMPY = np.dtype(_ml.bfloat16) if _ml is not None else np.dtype(np.uint16)

_NUMPY_EXTENDED = {
    "BF16": BF16_NUMPY,
    "F8_E4M3": np.dtype(_ml.float8_e4m3fn) if _ml is not None else np.dtype(np.uint8),
    "F8_E5M2": np.dtype(_ml.float8_e5m2) if _ml is not None else np.dtype(np.uint8),
    "F8_E8M0": np.dtype(np.uint8),
}

#: GGUF types that GGUF readers (gguf-py's GGUFReader) return as typed
#: arrays; every other ggml type arrives as its raw block bytes.
GGML_PLAIN = {
    "F32": np.float32,
    "F16": np.float16,
    "F64": np.float64,
    "I8": np.int8,
    "I16": np.int16,
    "I32": np.int32,
    "I64": np.int64,
}


def numpy_dtype(name: str) -> np.dtype:
    """The numpy dtype of safetensors type ``name``."""
    if name in _NUMPY_PLAIN:
        return np.dtype(_NUMPY_PLAIN[name])
    if name in _NUMPY_EXTENDED:
        return _NUMPY_EXTENDED[name]
    raise TypeError(f"weightzip: no numpy dtype for safetensors type {name!r}")


def torch_dtype(name: str):
    """The torch dtype of safetensors type ``name``."""
    import torch

    table = {
        "BOOL": torch.bool,
        "U8": torch.uint8,
        "I8": torch.int8,
        "I16": torch.int16,
        "F16": torch.float16,
        "BF16": torch.bfloat16,
        "I32": torch.int32,
        "F32": torch.float32,
        "F64": torch.float64,
        "I64": torch.int64,
        "C64": torch.complex64,
    }
    for st, attr in (
        ("U16", "uint16"),
        ("U32", "uint32"),
        ("U64", "uint64"),
        ("F8_E4M3", "float8_e4m3fn"),
        ("F8_E5M2", "float8_e5m2"),
        ("F8_E8M0", "float8_e8m0fnu"),
    ):
        if hasattr(torch, attr):
            table[st] = getattr(torch, attr)
    if name not in table:
        raise TypeError(f"weightzip: no torch dtype for safetensors type {name!r}")
    return table[name]
