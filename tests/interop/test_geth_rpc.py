"""The node's HTTP JSON-RPC against geth's (pinned in requirements/go-ethereum.txt, built by
scripts/tools.sh): geth and the node, each the other's only peer, are asked the same methods
and our answers must have every key geth's have, with the same JSON types (recursively for
admin_peers[0] and admin_nodeInfo), and the same error codes.  The keys geth has and we do not
are listed in :data:`KNOWN_DIFFERENCES`, each with its reason.  Our /health and /metrics
(which geth serves elsewhere, if at all) are read once the peer is up."""

from __future__ import annotations

import json
import re
import urllib.request

import pytest

from config.model import ProtocolConfig, Timeouts
from protocols.eth.store import ensure_imported
from rlpx.enode import Enode
from rlpx.keys import generate_private_key, node_id_from_private_key
from support.geth import Geth, ethtest_chain
from support.system import free_port
from support.wait import wait_until

pytestmark = pytest.mark.timeout(120)

KNOWN_DIFFERENCES = {
    "admin_nodeInfo.protocols.snap": "the node runs no snap protocol",
    "admin_nodeInfo.protocols.eth.config": "geth's params.ChainConfig: our chain options keep only the fork numbers",
}
"""Paths (method.key.key...) geth answers and the node does not, with the reason."""


def eth(version: int, db_dir) -> ProtocolConfig:
    """eth/``version`` serving go-ethereum's ethtest chain, imported into a database in ``db_dir``
    (as tests/interop/test_geth.py does)."""
    chain = ethtest_chain()
    db = str(db_dir / "ethtest.sqlite")
    ensure_imported(str(chain / "chain.rlp"), db, 0, str(chain / "genesis.json"))
    return ProtocolConfig("eth", version, (("genesis", str(chain / "genesis.json")),
                                           ("chain_file", str(chain / "chain.rlp")), ("db", db)))


def call(port: int, method: str, params=(), request_id: int = 7) -> dict:
    """POST one JSON-RPC call to 127.0.0.1:``port``; the whole reply object (result or error)."""
    body = json.dumps({"jsonrpc": "2.0", "id": request_id, "method": method, "params": list(params)}).encode()
    req = urllib.request.Request(f"http://127.0.0.1:{port}/", body, {"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as resp:
        assert resp.status == 200
        reply = json.loads(resp.read())
    assert reply.get("jsonrpc") == "2.0" and reply.get("id") == request_id, reply
    return reply


def result(port: int, method: str, *params):
    reply = call(port, method, params)
    assert "error" not in reply, f"{method} on :{port}: {reply['error']}"
    return reply["result"]


def json_type(value) -> str:
    """The JSON type of a decoded value: object, array, string, number, boolean or null."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    return {str: "string", list: "array", dict: "object"}[type(value)]


def compare(theirs, ours, path: str, missing: list, mismatched: list, extra: list) -> None:
    """Walk geth's answer ``theirs``: every key of each object must be in ``ours`` with the same
    JSON type (arrays: their first elements).  Collects the paths geth has and we lack
    (``missing``), the type differences (``mismatched``) and the keys only we have (``extra``)."""
    if json_type(theirs) != json_type(ours):
        mismatched.append(f"{path}: geth {json_type(theirs)}, ours {json_type(ours)}")
        return
    if isinstance(theirs, dict):
        for key, value in theirs.items():
            if key not in ours:
                missing.append(f"{path}.{key}")
            else:
                compare(value, ours[key], f"{path}.{key}", missing, mismatched, extra)
        extra.extend(f"{path}.{key}" for key in ours if key not in theirs)
    elif isinstance(theirs, list) and theirs and ours:
        compare(theirs[0], ours[0], f"{path}[0]", missing, mismatched, extra)


def assert_same_shape(method: str, theirs, ours) -> None:
    missing, mismatched, extra = [], [], []
    compare(theirs, ours, method, missing, mismatched, extra)
    print(f"{method}: geth only {missing or '-'}; ours only {extra or '-'}")
    assert not mismatched, mismatched
    unexplained = [p for p in missing if p not in KNOWN_DIFFERENCES]
    assert not unexplained, f"{method}: keys geth has and we do not: {unexplained}"
    listed = {p for p in KNOWN_DIFFERENCES if p.startswith(method + ".")}
    assert listed <= set(missing), f"{method}: listed as known differences but no longer: {listed - set(missing)}"


@pytest.fixture
def geth(tmp_path):
    """geth on loopback (genesis of go-ethereum's eth test chain) with admin, net and web3 on HTTP."""
    g = Geth(tmp_path / "geth", ethtest_chain() / "genesis.json", http_api="admin,net,web3")
    try:
        yield g
    finally:
        g.stop()


def some_enode() -> str:
    """A valid enode URL of nobody (a fresh key, a loopback port nothing listens on)."""
    return Enode(node_id_from_private_key(generate_private_key()), "127.0.0.1", free_port(), free_port()).url()


def test_our_json_rpc_answers_as_geth_does(nodes, geth, tmp_path):
    """geth dials the node (eth/70 on the ethtest chain, HTTP on): then the same calls on both
    sides, compared key by key and type by type, and by error code."""
    ours_port = free_port()
    a = nodes.start("alpha", protocols=[eth(70, tmp_path)], net_restrict=("127.0.0.0/8",), http_port=ours_port,
                    timeouts=Timeouts())  # go-ethereum's own timers: geth pings every 15 s
    gport = geth.http_port
    mark = nodes.mark()
    assert result(gport, "admin_addPeer", a.enode) is True
    nodes.expect("peer_added", node="alpha", since=mark, timeout_s=30)

    def eth_up(port):
        peers = result(port, "admin_peers")
        return peers if len(peers) == 1 and isinstance(peers[0]["protocols"].get("eth"), dict) else None

    # both sides have run the eth handshake: each one peer, the other, with its eth info
    theirs_peers = wait_until(lambda: eth_up(gport), 30, "geth's eth handshake with the node")
    ours_peers = wait_until(lambda: eth_up(ours_port), 30, "our eth handshake with geth")
    assert theirs_peers[0]["id"] == result(ours_port, "admin_nodeInfo")["id"]
    assert ours_peers[0]["id"] == result(gport, "admin_nodeInfo")["id"]
    assert_same_shape("admin_peers[0]", theirs_peers[0], ours_peers[0])
    theirs_info, ours_info = result(gport, "admin_nodeInfo"), result(ours_port, "admin_nodeInfo")
    assert_same_shape("admin_nodeInfo", theirs_info, ours_info)
    # the same chain: network id and genesis agree (geth holds only the genesis block, we serve 600)
    for key in ("network", "genesis"):
        assert ours_info["protocols"]["eth"][key] == theirs_info["protocols"]["eth"][key], key
    # our head, as geth saw it in our Status; geth's, as we saw it in its Status
    assert ours_info["protocols"]["eth"]["head"] == theirs_peers[0]["protocols"]["eth"]["latestBlockHash"]
    assert theirs_info["protocols"]["eth"]["head"] == ours_peers[0]["protocols"]["eth"]["latestBlockHash"]

    for method in ("net_peerCount", "net_listening", "web3_clientVersion"):
        theirs, ours = result(gport, method), result(ours_port, method)
        print(f"{method}: geth {theirs!r}, ours {ours!r}")
        assert json_type(theirs) == json_type(ours), (method, theirs, ours)
    assert result(gport, "net_peerCount") == result(ours_port, "net_peerCount") == "0x1"
    assert result(gport, "net_listening") is result(ours_port, "net_listening") is True

    # the static and trusted node methods, with a valid enode of nobody: true on both sides
    url = some_enode()
    for method in ("admin_addPeer", "admin_removePeer", "admin_addTrustedPeer", "admin_removeTrustedPeer"):
        assert result(gport, method, url) is True, method
        assert result(ours_port, method, url) is True, method

    # errors: the same codes (messages differ)
    cases = [(m, ["enode://not-an-enode@127.0.0.1:30303"], "invalid enode")
             for m in ("admin_addPeer", "admin_removePeer", "admin_addTrustedPeer", "admin_removeTrustedPeer")]
    cases += [("admin_noSuchMethod", [], "unknown method"),
              ("admin_addPeer", [], "missing argument"),
              ("admin_addPeer", [30303], "argument of the wrong type"),
              ("admin_addPeer", [url, url], "too many arguments"),
              ("net_peerCount", [1], "an argument to a method of none")]
    for method, params, what in cases:
        theirs, ours = call(gport, method, params), call(ours_port, method, params)
        print(f"{what} ({method} {params}): geth {theirs.get('error')}, ours {ours.get('error')}")
        assert "error" in theirs and "error" in ours, (what, theirs, ours)
        assert ours["error"]["code"] == theirs["error"]["code"], (what, theirs, ours)
        assert isinstance(ours["error"]["message"], str)

    # both still have their one peer: nothing above disturbed the connection
    assert result(gport, "net_peerCount") == result(ours_port, "net_peerCount") == "0x1"

    # our /health and /metrics (geth has neither on this port) see the same peer
    assert json.loads(get(ours_port, "/health")) == {"up": True, "peers": 1, "listening": True}
    metrics = get(ours_port, "/metrics")
    assert re.search(r"^p2p_peers 1(\.0)?$", metrics, re.M), metrics[:2000]
    status_in = [ln for ln in metrics.splitlines() if ln.startswith("p2p_ingress_packets")
                 and 'protocol="eth/70"' in ln and 'code="0x00"' in ln]  # geth's Status
    assert status_in and float(status_in[0].rsplit(" ", 1)[1]) >= 1, metrics[:2000]


def get(port: int, path: str) -> str:
    """GET ``path`` of 127.0.0.1:``port``; the body (status 200)."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as resp:
        assert resp.status == 200
        return resp.read().decode()
