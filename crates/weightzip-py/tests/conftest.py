"""Shared fixtures: the repository's real weight files, and their archives."""

from __future__ import annotations

import pathlib

import pytest

import weightzip

FIXTURES = pathlib.Path(__file__).resolve().parents[3] / "tests" / "fixtures"
SAFETENSORS = sorted(FIXTURES.glob("*.safetensors"))
GGUF = sorted(FIXTURES.glob("*.gguf"))


@pytest.fixture(scope="session")
def archives(tmp_path_factory):
    """Every real fixture compressed once: {original path: archive path}."""
    out = tmp_path_factory.mktemp("wz")
    made = {}
    for src in SAFETENSORS + GGUF:
        dst = out / (src.name + ".wz")
        weightzip.compress(src, dst)
        made[src] = dst
    return made
