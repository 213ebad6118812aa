"""go-ethereum's discv4 tools against the node's discovery (actors/discovery.py): `devp2p
discv4 ping`, `devp2p discv4 requestenr`, and the whole `devp2p discv4 test` suite (15 cases,
cmd/devp2p/internal/v4test), each case's result printed and checked.  The tester's second
address is 127.0.0.2, on loopback like the first."""

from __future__ import annotations

import re

import pytest

from discovery.enr import parse_text
from support.geth import devp2p

pytestmark = pytest.mark.integration

DISCV4_CASES = ("Ping/Basic", "Ping/WrongTo", "Ping/WrongFrom", "Ping/ExtraData", "Ping/ExtraDataWrongFrom",
                "Ping/PastExpiration", "Ping/WrongPacketType", "Ping/BondThenPingWithWrongFrom", "ENRRequest",
                "Findnode/WithoutEndpointProof", "Findnode/BasicFindnode", "Findnode/UnsolicitedNeighbors",
                "Findnode/PastExpiration", "Amplification/InvalidPongHash", "Amplification/WrongIP")
"""go-ethereum v1.17.10 cmd/devp2p/internal/v4test/discv4tests.go ``AllTests``."""


@pytest.fixture
def node(nodes, tmp_path):
    return nodes.start("alpha", discovery=True, no_dial=True, node_db=str(tmp_path / "alpha.nodes.sqlite"))


def test_devp2p_discv4_ping(node):
    out = devp2p("discv4", "ping", node.enode, timeout_s=60)
    assert out.returncode == 0, out.stdout + out.stderr


def test_devp2p_discv4_requestenr(node, nodes):
    out = devp2p("discv4", "requestenr", node.enode, timeout_s=60)
    assert out.returncode == 0, out.stdout + out.stderr
    text = out.stdout.strip()
    record = parse_text(re.search(r"enr:[A-Za-z0-9_-]+", text).group(0))
    assert record.node_id == node.node_id and record.udp == node.port and record.tcp == node.port


def test_devp2p_discv4_test_suite(node):
    out = devp2p("discv4", "test", "--remote", node.enode, "--listen1", "127.0.0.1", "--listen2", "127.0.0.2",
                 timeout_s=300)
    text = out.stdout + out.stderr
    results = {m.group(2): m.group(1) for m in re.finditer(r"-- (OK|FAIL) (\S+)", text)}
    print("discv4 test cases:", " ".join(f"{c}={r}" for c, r in sorted(results.items())))
    assert set(results) == set(DISCV4_CASES), text[-3000:]
    failed = sorted(c for c, r in results.items() if r != "OK")
    assert not failed, f"failed: {failed}\n{text[-4000:]}"
