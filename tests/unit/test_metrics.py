"""node/traffic.py, node/metrics.py and node/prometheus.py: counting, go-ethereum's result
classes (p2p/metrics.go markDialError), and Prometheus text that prometheus_client's own
parser reads back."""

from __future__ import annotations

import pytest
from prometheus_client.parser import text_string_to_metric_families

from messages.admin import MetricFamily
from messages.discovery import DiscoveryInfo
from node.metrics import NodeMetrics, setup_result
from node.prometheus import exposition
from node.traffic import Traffic
from rlpx.disc import DiscReason


def parsed(families) -> dict:
    """{sample name: {frozenset(labels): value}} of the exposition of ``families``."""
    out: dict = {}
    for fam in text_string_to_metric_families(exposition(families).decode()):
        for s in fam.samples:
            out.setdefault(s.name, {})[frozenset(s.labels.items())] = s.value
    return out


def test_traffic_counts_packets_by_direction_capability_and_code():
    t = Traffic()
    t.count("ingress", "eth/69", [(3, b"abc"), (3, b"de"), (4, b"")])
    t.count("egress", "eth/69", [(3, b"x" * 10)])
    t.wire_in, t.wire_out = 100, 50
    assert t.packets == {("ingress", "eth/69", 3): [2, 5], ("ingress", "eth/69", 4): [1, 0],
                         ("egress", "eth/69", 3): [1, 10]}
    total = Traffic.total(t, [t.snapshot()])
    assert (total.wire_in, total.wire_out) == (200, 100)
    assert total.packets[("ingress", "eth/69", 3)] == [4, 10]
    assert t.packets[("ingress", "eth/69", 3)] == [2, 5], "total() must not change its base"


@pytest.mark.parametrize("reason,stage,cause,want", [
    (DiscReason.TOO_MANY_PEERS, "hello", "remote_disconnect", "saturated"),
    (DiscReason.ALREADY_CONNECTED, "checkpoint", "rejected", "known"),
    (DiscReason.SELF, "checkpoint", "rejected", "self"),
    (DiscReason.USELESS_PEER, "checkpoint", "rejected", "useless"),
    (DiscReason.UNEXPECTED_IDENTITY, "handshake", "protocol_error", "id_unexpected"),
    (DiscReason.NETWORK_ERROR, "connect", "refused", "connection"),
    (DiscReason.NETWORK_ERROR, "connect", "timeout", "connection"),
    (DiscReason.NETWORK_ERROR, "connect", "resolve", "connection"),
    (DiscReason.NETWORK_ERROR, "handshake", "reset", "rlpx_enc"),
    (DiscReason.PROTOCOL_ERROR, "hello", "protocol_error", "rlpx_proto"),
    (DiscReason.QUITTING, "checkpoint", "requested", "other"),
])
def test_setup_results_follow_go_ethereums_dial_error_meters(reason, stage, cause, want):
    assert setup_result(reason, stage, cause) == want


def test_families_count_setups_handshakes_disconnects_restarts_and_traffic():
    m = NodeMetrics()
    m.added(inbound=False, setup_s=0.02)
    m.added(inbound=True, setup_s=3.0)
    m.ended(False, False, DiscReason.NETWORK_ERROR, False, "connect", "refused")
    m.ended(False, False, DiscReason.TOO_MANY_PEERS, True, "hello", "remote_disconnect")
    m.ended(True, True, DiscReason.QUITTING, True, "running", "remote_disconnect")
    m.handshake_failed("auth", "protocol_error", suppressed=4)
    m.restarted("listener")
    m.restarted("protocol")
    m.restarted("protocol")
    gone = Traffic()
    gone.count("ingress", "test/1", [(0, b"ping")])
    gone.wire_in = 40
    m.retire(gone.snapshot())
    live = Traffic()
    live.count("egress", "test/1", [(1, b"pong!")])
    live.wire_out = 60
    got = parsed(m.families(inbound=1, outbound=2, live_traffic=[live.snapshot()]))
    assert got["p2p_peers"] == {frozenset(): 3.0}
    assert got["p2p_peers_inbound"] == {frozenset(): 1.0}
    assert got["p2p_peers_outbound"] == {frozenset(): 2.0}
    assert got["p2p_dials_total"] == {frozenset({("result", "success")}): 1.0,
                                      frozenset({("result", "connection")}): 1.0,
                                      frozenset({("result", "saturated")}): 1.0}
    assert got["p2p_serves_total"] == {frozenset({("result", "success")}): 1.0,
                                       frozenset({("result", "rlpx_enc")}): 5.0}
    hs = got["p2p_handshakes_total"]
    assert hs[frozenset({("direction", "outbound"), ("outcome", "success")})] == 1.0
    assert hs[frozenset({("direction", "outbound"), ("outcome", "saturated")})] == 1.0
    assert frozenset({("direction", "outbound"), ("outcome", "connection")}) not in hs, \
        "a failed TCP connect is no handshake"
    assert hs[frozenset({("direction", "inbound"), ("outcome", "rlpx_enc")})] == 5.0
    buckets = got["p2p_handshake_seconds_bucket"]
    assert buckets[frozenset({("direction", "outbound"), ("le", "0.025")})] == 1.0
    assert buckets[frozenset({("direction", "outbound"), ("le", "0.01")})] == 0.0
    assert buckets[frozenset({("direction", "inbound"), ("le", "2.5")})] == 0.0
    assert buckets[frozenset({("direction", "inbound"), ("le", "5.0")})] == 1.0
    assert buckets[frozenset({("direction", "inbound"), ("le", "+Inf")})] == 1.0
    assert got["p2p_handshake_seconds_sum"][frozenset({("direction", "inbound")})] == pytest.approx(3.0)
    assert got["p2p_disconnects_total"] == {frozenset({("reason", "QUITTING"), ("remote", "true")}): 1.0}
    assert got["p2p_actor_restarts_total"] == {frozenset({("kind", "listener")}): 1.0,
                                               frozenset({("kind", "protocol")}): 2.0}
    assert got["p2p_ingress_total"] == {frozenset(): 40.0}
    assert got["p2p_egress_total"] == {frozenset(): 60.0}
    assert got["p2p_ingress_packets_total"] == {frozenset({("protocol", "test/1"), ("code", "0x00")}): 1.0}
    assert got["p2p_egress_packet_bytes_total"] == {frozenset({("protocol", "test/1"), ("code", "0x01")}): 5.0}
    assert not any(name.startswith("discover_") for name in got), "no discovery, no discover_* metrics"


def test_discovery_families_report_table_buckets_packets_and_bytes():
    info = DiscoveryInfo(3, (0, 1, 2), {"in.ping": 5, "out.pong": 5, "bad.expired": 2, "ingress_bytes": 500,
                                        "egress_bytes": 450, "skipped_neighbor": 1}, 2)
    got = parsed(NodeMetrics().families(0, 0, [], info))
    assert got["discover_table_nodes"] == {frozenset(): 3.0}
    assert got["discover_bucket_nodes"][frozenset({("bucket", "2")})] == 2.0
    assert got["discover_packets_total"] == {frozenset({("direction", "ingress"), ("type", "ping")}): 5.0,
                                             frozenset({("direction", "egress"), ("type", "pong")}): 5.0}
    assert got["discover_v4_bad_total"] == {frozenset({("kind", "expired")}): 2.0}
    assert got["discover_ingress_total"] == {frozenset(): 500.0}
    assert got["discover_egress_total"] == {frozenset(): 450.0}


def test_exposition_refuses_an_unknown_kind():
    with pytest.raises(ValueError, match="unknown metric kind"):
        exposition([MetricFamily("x", "summary", "?", (), (((), 1),))])
