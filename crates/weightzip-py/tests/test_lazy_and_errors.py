"""Lazy access decodes only the chunks asked for; damage raises the right
exception and never a panic."""

from __future__ import annotations

import shutil

import pytest
import safetensors

import weightzip
from weightzip._native import Archive

from conftest import SAFETENSORS


def test_get_tensor_decodes_only_its_chunks(tmp_path):
    src = SAFETENSORS[0]
    wz = tmp_path / "m.wz"
    weightzip.compress(src, wz, chunk_size=64 << 10)  # several chunks per tensor
    with weightzip.safe_open(wz, framework="np") as f:
        sizes = {n: f.tensor_info(n) for n in f.keys()}
        total = sum(i["chunks"] for i in sizes.values())
        name = max(sizes, key=lambda n: sizes[n]["nbytes"])
        weightzip.reset_decode_stats()
        f.get_tensor(name)
        got = weightzip.decode_stats()
        assert got["chunks_decoded"] == sizes[name]["chunks"] < total
        assert sizes[name]["chunks"] >= 4
        first_row = f.get_slice(name).get_shape()[0] // 2
        weightzip.reset_decode_stats()
        f.get_slice(name)[first_row]
        assert weightzip.decode_stats()["chunks_decoded"] == 1
    a = Archive(str(wz))
    row = next(r for r in a.tensors(0) if r[0] == name)
    assert weightzip.decode_stats()["stored_bytes_read"] < row[4]


def flip(path, at):
    data = bytearray(path.read_bytes())
    data[at] ^= 0x20
    path.write_bytes(bytes(data))


def test_damaged_archives_raise_corrupt_archive_error(tmp_path):
    src = SAFETENSORS[0]
    good = tmp_path / "good.wz"
    weightzip.compress(src, good)
    with safetensors.safe_open(src, framework="np") as ref:
        names = list(ref.keys())

    bad = tmp_path / "flip.wz"
    shutil.copy(good, bad)
    flip(bad, good.stat().st_size // 3)
    with pytest.raises(weightzip.CorruptArchiveError):
        weightzip.verify(bad)
    with pytest.raises(weightzip.CorruptArchiveError):
        with weightzip.safe_open(bad) as f:
            for n in names:
                f.get_tensor(n)

    cut = tmp_path / "cut.wz"
    cut.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    with pytest.raises(weightzip.CorruptArchiveError):
        weightzip.safe_open(cut)

    tail = tmp_path / "tail.wz"
    shutil.copy(good, tail)
    flip(tail, good.stat().st_size - 40)  # inside the index
    with pytest.raises(weightzip.CorruptArchiveError):
        weightzip.safe_open(tail)

    with pytest.raises(weightzip.CorruptArchiveError, match="not a .wz"):
        weightzip.safe_open(src)  # a safetensors file is no archive
    with pytest.raises(weightzip.WeightzipError):
        weightzip.safe_open(tmp_path / "absent.wz")

    with weightzip.safe_open(good) as f:
        with pytest.raises(weightzip.TensorNotFoundError):
            f.get_tensor("no.such.tensor")
        with pytest.raises(weightzip.WeightzipError):
            f._arch().read(0, names[0], 1 << 40, 4)  # range outside the tensor
    assert issubclass(weightzip.CorruptArchiveError, weightzip.WeightzipError)
    assert issubclass(weightzip.TensorNotFoundError, weightzip.WeightzipError)
    assert issubclass(weightzip.WrongBaseError, weightzip.WeightzipError)
    assert not issubclass(weightzip.WrongBaseError, weightzip.CorruptArchiveError)


def test_entries_label_each_file_kind(tmp_path):
    """Archive.entries() names file kinds 1, 2 and 3 of the index:
    safetensors, GGUF and a PyTorch zip checkpoint (torch.save of real
    fixture tensors); anything else is "other"."""
    torch = pytest.importorskip("torch")
    import safetensors.torch

    from conftest import GGUF

    folder = tmp_path / "model"
    folder.mkdir()
    src = SAFETENSORS[0]
    shutil.copy(src, folder / src.name)
    shutil.copy(GGUF[0], folder / GGUF[0].name)
    torch.save(safetensors.torch.load_file(src), folder / "model.pt")
    (folder / "README.txt").write_text("not weights\n")
    wz = tmp_path / "model.wz"
    weightzip.compress(folder, wz)
    kinds = {path.rsplit("/", 1)[-1]: kind for path, _, kind in Archive(str(wz)).entries()}
    assert kinds == {
        src.name: "safetensors",
        GGUF[0].name: "gguf",
        "model.pt": "pytorch",
        "README.txt": "other",
    }
