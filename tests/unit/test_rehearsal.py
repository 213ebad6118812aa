"""actors/rehearsal.py: the Spawner's rehearsal connection runs in one process, with no actor
system, gets its echoes back, and leaves no fd, no logging change and no child behind."""

from __future__ import annotations

import logging
import os

import pytest

import actors.rehearsal as rehearsal
from config.model import NodeConfig, ProtocolConfig
from rlpx.keys import generate_private_key


def _fds() -> set[str]:
    return set(os.listdir("/proc/self/fd"))


def test_the_rehearsal_completes_and_leaves_nothing_open():
    cfg = NodeConfig("n", generate_private_key(), listen_port=30303,
                     protocols=(ProtocolConfig("eth", 69, (("network_id", 1),)),))  # replaced by test/1
    before = _fds()
    rehearsal.rehearse_peer(cfg)
    assert _fds() == before
    assert logging.root.manager.disable == logging.NOTSET


def test_a_rehearsal_without_echoes_raises_and_still_cleans_up(monkeypatch):
    monkeypatch.setattr(rehearsal, "REHEARSAL_PAYLOAD_SIZES", (100,) * 50)  # more than the loop moves
    monkeypatch.setattr(rehearsal, "MAX_ROUNDS", 3)
    before = _fds()
    with pytest.raises(RuntimeError, match="echoes"):
        rehearsal.rehearse_peer(NodeConfig("n", generate_private_key(), listen_port=30303))
    assert _fds() == before
    assert logging.root.manager.disable == logging.NOTSET
