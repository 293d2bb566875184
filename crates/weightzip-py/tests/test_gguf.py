"""GGUF archives: raw block bytes equal gguf-py's GGUFReader (llama.cpp's
reference reader), with the ggml type and dims of every tensor; optional
dequantisation equals gguf-py's reference dequantizer."""

from __future__ import annotations

import numpy as np
import pytest

import weightzip

from conftest import GGUF

gguf = pytest.importorskip("gguf")


@pytest.mark.parametrize("src", GGUF, ids=lambda p: p.name)
def test_gguf_tensors_equal_gguf_reader(src, archives):
    reader = gguf.GGUFReader(src)
    with weightzip.safe_open(archives[src], framework="np") as f:
        assert sorted(f.keys()) == sorted(t.name for t in reader.tensors)
        meta = f.metadata()
        assert meta["general.architecture"] == reader.fields["general.architecture"].contents()
        for t in reader.tensors:
            info = f.tensor_info(t.name)
            assert info["ggml_type"] == t.tensor_type.name
            assert info["dims"] == [int(d) for d in t.shape]
            arr = f.get_tensor(t.name)
            assert arr.dtype == t.data.dtype and arr.shape == t.data.shape
            assert arr.tobytes() == np.ascontiguousarray(t.data).tobytes()
            rows = arr.shape[0]
            np.testing.assert_array_equal(f.get_slice(t.name)[rows // 3 : rows // 2], t.data[rows // 3 : rows // 2])
        quantized = [t for t in reader.tensors if t.tensor_type.name not in ("F32", "F16")]
        assert quantized
        for t in quantized[:4]:
            values = f.get_tensor(t.name, dequantize=True)
            np.testing.assert_array_equal(values, gguf.quants.dequantize(t.data, t.tensor_type))


@pytest.mark.parametrize("src", GGUF[:1], ids=lambda p: p.name)
def test_gguf_torch_gets_the_same_bytes(src, archives):
    torch = pytest.importorskip("torch")
    reader = gguf.GGUFReader(src)
    with weightzip.safe_open(archives[src], framework="pt") as f:
        for t in reader.tensors:
            got = f.get_tensor(t.name)
            assert isinstance(got, torch.Tensor)
            assert got.numpy().tobytes() == np.ascontiguousarray(t.data).tobytes()
