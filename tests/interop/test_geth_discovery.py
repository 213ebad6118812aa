"""go-ethereum's discv4 tools against the node's discovery (actors/discovery.py): `devp2p
discv4 ping`, `devp2p discv4 requestenr`, and the whole `devp2p discv4 test` suite (15 cases,
cmd/devp2p/internal/v4test), each case's result printed and checked.  The tester's second
address is 127.0.0.2, on loopback like the first."""

from __future__ import annotations

import re

import pytest

from discovery.enr import parse_text
from support.geth import Geth, devp2p, ethtest_chain
from support.wait import wait_until
from test_geth import eth, geth_sees

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


def test_two_geths_find_each_other_through_our_table_and_we_dial_them(nodes, tmp_path):
    """Two geths (discv4 on, discv5 off, NetRestrict 127.0.0.0/8), each given only our node as
    bootnode: they find each other through our table and connect; our node, with no static
    nodes, finds them by discovery and runs eth with both; and after geth drops us
    (admin_removePeer), our Dialer dials it again from discovery alone."""
    chain = ethtest_chain()
    ours = nodes.start("alpha", protocols=[eth(69, tmp_path)], discovery=True,
                       node_db=str(tmp_path / "alpha.nodes.sqlite"))
    gs = [Geth(tmp_path / f"g{i}", chain / "genesis.json", discovery=True, extra_args=("--bootnodes", ours.enode))
          for i in (1, 2)]
    try:
        g1, g2 = gs
        ids = {g.enode.split("@")[0] for g in gs}

        def geths_connected():
            return any(p["enode"].split("@")[0] == g2.enode.split("@")[0] for p in g1.peers())

        wait_until(geths_connected, 90, "the two geths connected, having found each other through our table")
        for g in gs:
            wait_until(lambda g=g: isinstance((geth_sees(g, ours) or {}).get("protocols", {}).get("eth"), dict),
                       90, f"geth {g.enode[:20]} runs eth with our node")
        # geth's view can come before our event of its Status reaches the collector: await both
        accepted = nodes.expect("protocol_event", node="alpha", count=2, timeout_s=30, kind="eth_status",
                                data__side="remote")
        assert all(e.data["data"].get("accepted", True) for e in accepted), [e.data for e in accepted]
        # geth drops us; it will not dial us back for its 35 s dial history, so only our Dialer,
        # fed by discovery (no static nodes), can bring the connection back
        mark = nodes.mark()
        assert g1.rpc("admin_removePeer", ours.enode) is True
        g1_id = g1.enode.split("@")[0].removeprefix("enode://")
        nodes.expect("peer_removed", node="alpha", since=mark, peer_id=g1_id, timeout_s=30)
        [again] = nodes.expect("peer_added", node="alpha", since=mark, peer_id=g1_id, timeout_s=60)
        assert again.data["inbound"] is False, "our node dialled geth again"
        assert ours.config.static_nodes == () and len(ids) == 2
    finally:
        for g in gs:
            g.stop()
