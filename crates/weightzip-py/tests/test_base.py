"""Checkpoint deltas from Python: a real fine-tune step (MiniLM, step 100)
coded against its base (step 0) reads back only with that base; without
it, or with another file, ``WrongBaseError``."""

from __future__ import annotations

import pytest
from safetensors.numpy import load_file as st_load

import weightzip
from conftest import FIXTURES

BASE = FIXTURES / "minilm-finetune-step0000.slice.bf16.safetensors"
STEP = FIXTURES / "minilm-finetune-step0100.slice.bf16.safetensors"


def test_a_delta_archive_needs_its_base(tmp_path):
    wz = tmp_path / "step.wz"
    alone = tmp_path / "alone.wz"
    weightzip.compress(STEP, wz, base=BASE)
    weightzip.compress(STEP, alone)
    assert wz.stat().st_size < alone.stat().st_size

    out = tmp_path / "step.safetensors"
    with pytest.raises(weightzip.WrongBaseError, match="--base"):
        weightzip.decompress(wz, out)
    assert not out.exists()
    with pytest.raises(weightzip.WrongBaseError, match="not the base"):
        weightzip.decompress(wz, out, base=STEP)
    weightzip.decompress(wz, out, base=BASE)
    assert out.read_bytes() == STEP.read_bytes()

    expected = st_load(str(STEP))
    with weightzip.safe_open(wz, framework="np", base=BASE) as f:
        for name in f.keys():
            got = f.get_tensor(name)
            assert got.tobytes() == expected[name].tobytes(), name
    with weightzip.safe_open(wz, framework="np") as f:
        with pytest.raises(weightzip.WrongBaseError):
            f.get_tensor(next(iter(f.keys())))
