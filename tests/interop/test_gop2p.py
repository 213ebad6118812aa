"""The node against go-ethereum's p2p package: bench/gop2p (a ``p2p.Server`` with test/1 at the
pinned go-ethereum version, built by scripts/tools.sh), in both directions, and gop2p against
itself (it stands in for ethereumjs in bench/run_all.py, so its own behaviour is checked too).

Hello with test/1, echo of N messages (correct and in order: the sender checks every echo
against what it sent, by sequence number), the round-trip mode, and a clean Disconnect.
Skipped when the binary has not been built."""

from __future__ import annotations

import pytest

from support.gop2p import GoPeer, gop2p_missing
from support.nodes import echo, sender

MiB = 1 << 20

pytestmark = [pytest.mark.timeout(180),
              pytest.mark.skipif(gop2p_missing() is not None, reason=str(gop2p_missing()))]


@pytest.fixture
def gop2p(tmp_path):
    """Start GoPeer(tmp_path, name, **options); every one is closed (quit, then SIGKILL) at the end."""
    peers = []

    def start(name="go", **options):
        p = GoPeer(tmp_path, name, **options)
        peers.append(p)
        return p
    yield start
    for p in peers:
        p.close()
    assert all(p.proc.returncode is not None for p in peers)


def _hello_checks(ours: dict, theirs: dict, go: GoPeer, node, node_dialled: bool) -> None:
    """Both sides saw the other's Hello: name, test/1, direction."""
    assert ours["peer_id"] == go.id_hex and ours["name"] == f"gop2p-{go.name}"
    assert ours["caps"] == ["test/1"]
    assert ours["inbound"] is (not node_dialled)
    assert [(o["name"], o["offset"], o["length"]) for o in ours["offsets"]] == [("test", 0x10, 8)]
    assert theirs["id"] == node.id_hex and theirs["clientId"] == node.name
    assert theirs["caps"] == ["test/1"] and theirs["inbound"] is node_dialled


@pytest.mark.parametrize("count, size", [(2000, 100), (12, MiB)], ids=["2000x100B", "12x1MiB"])
def test_node_sends_gop2p_echoes(nodes, gop2p, count, size):
    go = gop2p("echoer", echo=True)
    a = nodes.start("alpha", protocols=[sender(count, size, window=64)])
    nodes.connect(a, go)
    ours = nodes.expect("peer_added", node="alpha", timeout_s=15)[0].data
    theirs = go.expect("peer_added", timeout_s=15)[0]
    _hello_checks(ours, theirs, go, a, node_dialled=True)
    report = nodes.report(a, timeout_s=120)
    assert report["count"] == count and report["size"] == size
    assert report["mismatches"] == 0 and report["duplicates"] == 0
    # clean Disconnect from our side: go-ethereum hears "disconnect requested"
    since = nodes.mark()
    nodes.admin(a, "remove_peer", go.enode)
    gone = go.expect("peer_removed", timeout_s=15)[0]
    assert gone["reason"] == 0 and gone["error"] == "disconnect requested" and gone["disconnectWe"] is False
    removed = nodes.expect("peer_removed", node="alpha", since=since, timeout_s=15)[0].data
    assert removed["reason"] == "REQUESTED" and removed["remote_requested"] is False


@pytest.mark.parametrize("count, size", [(2000, 100), (12, MiB)], ids=["2000x100B", "12x1MiB"])
def test_gop2p_sends_node_echoes(nodes, gop2p, count, size):
    b = nodes.start("beta", protocols=[echo()])
    go = gop2p("sender", dial=b.enode, send={"count": count, "size": size, "window": 64, "rounds": 2, "pauseMs": 50})
    ours = nodes.expect("peer_added", node="beta", timeout_s=15)[0].data
    theirs = go.expect("peer_added", timeout_s=15)[0]
    _hello_checks(ours, theirs, go, b, node_dialled=False)
    reports = go.expect("test_report", count=2, timeout_s=120)
    assert [r["round"] for r in reports] == [0, 1]
    assert all(r["count"] == count and r["size"] == size and r["mismatches"] == 0 for r in reports)
    # clean Disconnect from go-ethereum's side: quitting
    assert go.close() == 0
    gone = nodes.expect("peer_removed", node="beta", timeout_s=15)[0].data
    assert gone["reason"] == "QUITTING" and gone["remote_requested"] is True


def test_round_trip_mode_both_ways(nodes, gop2p):
    n = 200
    # node sends with rtt (window 1: sequential round trips), gop2p echoes
    go = gop2p("echoer", echo=True)
    a = nodes.start("alpha", protocols=[sender(n, 100, window=1, rtt=True)])
    nodes.connect(a, go)
    report = nodes.report(a, timeout_s=60)
    assert report["mismatches"] == 0 and report["rtt_ms"]["count"] == n
    assert 0 < report["rtt_ms"]["min"] <= report["rtt_ms"]["median"] <= report["rtt_ms"]["p99"]
    # gop2p sends with rtt, the node echoes
    b = nodes.start("beta", protocols=[echo()])
    go2 = gop2p("sender", dial=b.enode, send={"count": n, "size": 100, "window": 1, "rtt": True})
    theirs = go2.expect("test_report", timeout_s=60)[0]
    assert theirs["mismatches"] == 0 and theirs["rtt_ms"]["count"] == n
    assert 0 < theirs["rtt_ms"]["min"] <= theirs["rtt_ms"]["median"] <= theirs["rtt_ms"]["p99"]


def test_gop2p_against_itself(gop2p):
    e = gop2p("echoer", echo=True)
    s = gop2p("sender", dial=e.enode, send={"count": 3000, "size": 100, "window": 256, "rounds": 2, "pauseMs": 50})
    added = s.expect("peer_added", timeout_s=15)[0]
    assert added["id"] == e.id_hex and added["clientId"] == "gop2p-echoer" and added["inbound"] is False
    assert e.expect("peer_added", timeout_s=15)[0]["inbound"] is True
    reps = s.expect("test_report", count=2, timeout_s=60)
    assert all(r["count"] == 3000 and r["mismatches"] == 0 for r in reps)
    # round-trip mode
    r = gop2p("rtt", dial=e.enode, send={"count": 100, "size": 100, "window": 1, "rtt": True})
    rep = r.expect("test_report", timeout_s=30)[0]
    assert rep["mismatches"] == 0 and rep["rtt_ms"]["count"] == 100
    # the dial loop: connect -> peer added, disconnect, again
    d = gop2p("dialer", quietPeers=True, dialBench={"enode": e.enode, "count": 3, "pauseMs": 50})
    lat = d.expect("dial_report", timeout_s=60)[0]["latencies_ms"]
    assert len(lat) == 3 and all(0 < x < 10_000 for x in lat)
    assert not d.events("error")
    # the sender quits: the echoer hears "client quitting" from it
    since = e.mark()
    assert s.close() == 0
    gone = e.expect("peer_removed", since=since, timeout_s=15, id=s.id_hex)[0]
    assert gone["reason"] == 8 and gone["disconnectWe"] is False
