"""Shared pytest fixtures."""

import json
import os
import pathlib

import pytest

os.environ.setdefault("THESPIAN_BASE_IPADDR", "127.0.0.1")

ROOT = pathlib.Path(__file__).resolve().parent.parent
VECTORS = ROOT / "tests" / "data" / "rlpx_vectors.json"


@pytest.fixture(scope="session")
def vectors():
    """The official RLPx test vectors from tests/data/rlpx_vectors.json (sources in tests/data/README.md)."""
    with open(VECTORS) as f:
        return json.load(f)
