"""safe_open / load_file against the safetensors package's own reader, on
every real safetensors fixture, in numpy and torch."""

from __future__ import annotations

import numpy as np
import pytest
import safetensors
import safetensors.numpy

import weightzip
import weightzip.numpy
from weightzip._dtypes import BF16_NUMPY

from conftest import SAFETENSORS

torch = pytest.importorskip("torch")
import safetensors.torch  # noqa: E402

import weightzip.torch  # noqa: E402


def same_torch(a, b):
    assert a.dtype == b.dtype and a.shape == b.shape
    assert torch.equal(a.view(torch.uint8) if a.dim() else a, b.view(torch.uint8) if b.dim() else b)


@pytest.mark.parametrize("src", SAFETENSORS, ids=lambda p: p.name)
def test_every_tensor_equals_safetensors_torch(src, archives):
    with safetensors.safe_open(src, framework="pt") as ref, weightzip.safe_open(archives[src], framework="pt") as wz:
        assert wz.keys() == ref.keys()
        assert wz.metadata() == ref.metadata()
        for name in ref.keys():
            same_torch(wz.get_tensor(name), ref.get_tensor(name))
            sl, rs = wz.get_slice(name), ref.get_slice(name)
            assert sl.get_shape() == rs.get_shape() and sl.get_dtype() == rs.get_dtype()
            shape = sl.get_shape()
            if not shape:
                continue
            n = shape[0]
            picks = [slice(1, n - 1), slice(0, n, 3), slice(None), n // 2, slice(n - 2, None), ...]
            if len(shape) >= 2:
                picks += [(slice(2, 5), slice(1, 3)), (slice(None), 0)]
            for idx in picks:
                same_torch(sl[idx].contiguous(), rs[idx].contiguous())
    loaded = weightzip.torch.load_file(archives[src])
    expected = safetensors.torch.load_file(src)
    assert list(loaded) == list(expected)
    for name, t in expected.items():
        same_torch(loaded[name], t)
        if t.dtype == torch.bfloat16:
            assert loaded[name].dtype == torch.bfloat16


@pytest.mark.parametrize("src", SAFETENSORS, ids=lambda p: p.name)
def test_every_tensor_equals_safetensors_numpy(src, archives):
    expected_bytes = {}
    with safetensors.safe_open(src, framework="pt") as ref:
        for name in ref.keys():
            t = ref.get_tensor(name)
            expected_bytes[name] = (t.contiguous().view(-1).view(torch.uint8).numpy().tobytes(), list(t.shape), ref.get_slice(name).get_dtype())
    loaded = weightzip.numpy.load_file(archives[src])
    assert sorted(loaded) == sorted(expected_bytes)
    with weightzip.safe_open(archives[src], framework="np") as wz:
        for name, (raw, shape, dtype) in expected_bytes.items():
            for arr in (loaded[name], wz.get_tensor(name)):
                assert isinstance(arr, np.ndarray) and list(arr.shape) == shape
                assert arr.tobytes() == raw
                if dtype == "BF16":
                    assert arr.dtype == BF16_NUMPY
    if not any(v[2] == "BF16" for v in expected_bytes.values()):
        # numpy has every dtype of these files: safetensors.numpy reads them too.
        ref = safetensors.numpy.load_file(src)
        for name, arr in ref.items():
            assert loaded[name].dtype == arr.dtype
            np.testing.assert_array_equal(loaded[name], arr)


def test_save_file_holds_what_safetensors_would_write(tmp_path):
    src = SAFETENSORS[0]
    tensors = safetensors.torch.load_file(src)
    # One key: safetensors writes a multi-key __metadata__ in HashMap order,
    # which differs from call to call.
    meta = {"format": "pt"}
    weightzip.torch.save_file(tensors, tmp_path / "m.safetensors.wz", metadata=meta)
    safetensors.torch.save_file(tensors, tmp_path / "ref.safetensors", metadata=meta)
    weightzip.decompress(tmp_path / "m.safetensors.wz", tmp_path / "out.safetensors")
    assert (tmp_path / "out.safetensors").read_bytes() == (tmp_path / "ref.safetensors").read_bytes()
    with weightzip.safe_open(tmp_path / "m.safetensors.wz", framework="pt") as f:
        assert f.files() == ["m.safetensors"]
        assert f.metadata() == meta
    arrays = {k: v.float().numpy() for k, v in list(tensors.items())[:3]}
    weightzip.numpy.save_file(arrays, tmp_path / "n.safetensors.wz")
    safetensors.numpy.save_file(arrays, tmp_path / "n.safetensors")
    weightzip.decompress(tmp_path / "n.safetensors.wz", tmp_path / "n.out")
    assert (tmp_path / "n.out").read_bytes() == (tmp_path / "n.safetensors").read_bytes()


def test_compress_decompress_verify_round_trip(tmp_path):
    src = SAFETENSORS[0]
    summary = weightzip.compress(src, tmp_path / "a.wz", threads=1)
    assert summary["input_bytes"] == src.stat().st_size and summary["output_bytes"] < summary["input_bytes"]
    with pytest.raises(weightzip.OutputExistsError):
        weightzip.compress(src, tmp_path / "a.wz")
    assert weightzip.verify(tmp_path / "a.wz")["bytes"] == src.stat().st_size
    weightzip.decompress(tmp_path / "a.wz", tmp_path / "back")
    assert (tmp_path / "back").read_bytes() == src.read_bytes()


def test_folder_archive_and_file_selection(tmp_path):
    folder = tmp_path / "model"
    folder.mkdir()
    for p in SAFETENSORS[:2]:
        (folder / p.name).write_bytes(p.read_bytes())
    (folder / "config.json").write_text('{"a": 1}')
    weightzip.compress(folder, tmp_path / "model.wz")
    with weightzip.safe_open(tmp_path / "model.wz", framework="pt", file=SAFETENSORS[1].name) as f, safetensors.safe_open(SAFETENSORS[1], framework="pt") as ref:
        assert f.files() == [SAFETENSORS[1].name]
        assert f.keys() == ref.keys()
        for name in ref.keys():
            same_torch(f.get_tensor(name), ref.get_tensor(name))
    with pytest.raises(weightzip.WeightzipError, match="no file"):
        weightzip.safe_open(tmp_path / "model.wz", file="absent.safetensors")
    loaded = weightzip.torch.load_file(tmp_path / "model.wz", file=SAFETENSORS[0].name)
    assert sorted(loaded) == sorted(safetensors.torch.load_file(SAFETENSORS[0]))


def test_load_file_tensors_keep_their_memory(archives):
    """load_file's tensors are views of one mapping per file: one kept
    tensor keeps it alive after the rest are gone, and it is writable."""
    import gc

    src = SAFETENSORS[0]
    expected = safetensors.torch.load_file(src)
    name = max(expected, key=lambda n: expected[n].numel())
    kept_t = weightzip.torch.load_file(archives[src])[name]
    kept_np = weightzip.numpy.load_file(archives[src])[name]
    gc.collect()
    scribble = [bytearray(b"\xa5" * (1 << 20)) for _ in range(32)]  # would land in freed memory
    same_torch(kept_t, expected[name])
    assert kept_np.tobytes() == expected[name].contiguous().view(-1).view(torch.uint8).numpy().tobytes()
    kept_t.view(-1)[0] = 0
    assert kept_np.flags.writeable
    del scribble
