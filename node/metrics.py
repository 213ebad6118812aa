"""A node's metrics: what the Server counts, as :class:`messages.admin.MetricFamily` records.

Names follow go-ethereum's p2p metrics (p2p/metrics.go, p2p/discover/metrics.go) as its
Prometheus exporter writes them (metrics/prometheus: "/" becomes "_"), with the path segments
that go-ethereum puts in the name given as labels instead: ``p2p/dials/error/saturated`` is
``p2p_dials_total{result="saturated"}``.  The table of names is in docs/operators.md.
"""

from __future__ import annotations

from bisect import bisect_left

from messages.admin import MetricFamily
from rlpx.disc import DiscReason

from .traffic import Traffic

HANDSHAKE_BUCKETS_S = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
"""Upper bounds of the handshake latency histogram, seconds (prometheus_client's defaults)."""

REASON_RESULTS = {
    DiscReason.TOO_MANY_PEERS: "saturated",
    DiscReason.ALREADY_CONNECTED: "known",
    DiscReason.SELF: "self",
    DiscReason.USELESS_PEER: "useless",
    DiscReason.UNEXPECTED_IDENTITY: "id_unexpected",
}
"""go-ethereum p2p/metrics.go ``markDialError`` / ``markServeError``: the Disconnect reasons
with a meter of their own (``p2p/dials/error/saturated`` ...)."""

RESULTS = ("success", "connection", "saturated", "known", "self", "useless", "id_unexpected", "rlpx_enc",
           "rlpx_proto", "other")
"""Values of the ``result`` label of dials and serves: go-ethereum's meters under ``p2p/dials``
(``success``, ``error/connection``, ``error/saturated``, ..., ``error/rlpx/enc``,
``error/rlpx/proto``, ``error/other``)."""


def setup_result(reason: DiscReason, stage: str, cause: str) -> str:
    """The ``result`` label (:data:`RESULTS`) of a connection that ended before it was added:
    the reason's own meter if it has one; else the TCP connect ("connection": refused, timed
    out, unreachable, unresolved), the RLPx auth/ack ("rlpx_enc"), the Hello ("rlpx_proto"),
    or "other" (go-ethereum p2p/metrics.go ``markDialError``)."""
    result = REASON_RESULTS.get(reason)
    if result is not None:
        return result
    if stage == "connect" or cause == "resolve":
        return "connection"
    if stage == "handshake":
        return "rlpx_enc"
    if stage == "hello":
        return "rlpx_proto"
    return "other"


class NodeMetrics:
    """The Server's counters.  Its hooks are called as connections are set up and end; the
    gauges (peers, the discovery table) are read at :meth:`families` time."""

    def __init__(self):
        self.setups: dict[tuple, int] = {}  # (direction, result) -> count
        self.handshakes: dict[tuple, int] = {}  # (direction, outcome) -> count
        self.latency = {d: [0] * (len(HANDSHAKE_BUCKETS_S) + 1) for d in ("inbound", "outbound")}
        self.latency_sum = {"inbound": 0.0, "outbound": 0.0}
        self.disconnects: dict[tuple, int] = {}  # (reason name, "true"/"false" remote requested) -> count
        self.restarts: dict[str, int] = {}  # actor kind -> count
        self.retired = Traffic()  # counters of the connections that have ended

    @staticmethod
    def _bump(table: dict, key, n: int = 1) -> None:
        table[key] = table.get(key, 0) + n

    def added(self, inbound: bool, setup_s: float) -> None:
        """A connection became a peer ``setup_s`` seconds after its start (outbound: the TCP
        connect; inbound: the Peer's start, after the Listener's auth/ack)."""
        d = "inbound" if inbound else "outbound"
        self._bump(self.setups, (d, "success"))
        self._bump(self.handshakes, (d, "success"))
        self.latency[d][bisect_left(HANDSHAKE_BUCKETS_S, setup_s)] += 1
        self.latency_sum[d] += max(0.0, setup_s)

    def ended(self, inbound: bool, was_added: bool, reason: DiscReason, remote: bool, stage: str,
              cause: str) -> None:
        """A connection ended: a disconnect of a peer, or a failed set-up (:func:`setup_result`)."""
        if was_added:
            self._bump(self.disconnects, (reason.name, "true" if remote else "false"))
            return
        d = "inbound" if inbound else "outbound"
        result = setup_result(reason, stage, cause)
        self._bump(self.setups, (d, result))
        if result != "connection":
            self._bump(self.handshakes, (d, result))

    def handshake_failed(self, stage: str, cause: str, suppressed: int) -> None:
        """``1 + suppressed`` inbound handshakes failed in the Listener, before any Peer (stage
        "auth", "ack" or "handoff"): go-ethereum's ``p2p/serves/error/rlpx/enc``."""
        n = 1 + max(0, suppressed)
        self._bump(self.setups, ("inbound", "rlpx_enc"), n)
        self._bump(self.handshakes, ("inbound", "rlpx_enc"), n)

    def restarted(self, actor: str) -> None:
        """A supervised actor of kind ``actor`` (listener, dialer, discovery, http, protocol) was restarted."""
        self._bump(self.restarts, actor)

    def retire(self, traffic: tuple) -> None:
        """A connection ended with these counters (:meth:`node.traffic.Traffic.snapshot`)."""
        self.retired.add(traffic)

    def families(self, inbound: int, outbound: int, live_traffic, discovery=None) -> tuple:
        """Every metric as of now: ``inbound``/``outbound`` peers, ``live_traffic`` the snapshots
        of the connections still open, ``discovery`` a :class:`messages.discovery.DiscoveryInfo`
        or None (no discovery)."""
        t = Traffic.total(self.retired, live_traffic)
        fam = [
            MetricFamily("p2p_peers", "gauge", "Connected peers (go-ethereum p2p/peers).", (), (((), inbound + outbound),)),
            MetricFamily("p2p_peers_inbound", "gauge", "Connected inbound peers.", (), (((), inbound),)),
            MetricFamily("p2p_peers_outbound", "gauge", "Connected outbound peers.", (), (((), outbound),)),
            MetricFamily("p2p_dials", "counter", "Dials by result (go-ethereum p2p/dials, p2p/dials/success, "
                         "p2p/dials/error/*).", ("result",),
                         tuple(((r,), n) for (d, r), n in sorted(self.setups.items()) if d == "outbound")),
            MetricFamily("p2p_serves", "counter", "Inbound connections by result (go-ethereum p2p/serves, "
                         "p2p/serves/success, p2p/serves/error/*).", ("result",),
                         tuple(((r,), n) for (d, r), n in sorted(self.setups.items()) if d == "inbound")),
            MetricFamily("p2p_handshakes", "counter", "RLPx and Hello handshakes by direction and outcome.",
                         ("direction", "outcome"), tuple((k, n) for k, n in sorted(self.handshakes.items()))),
            MetricFamily("p2p_handshake_seconds", "histogram", "Time from a connection's start to the peer's "
                         "addition, seconds.", ("direction",), tuple(
                             ((d,), self._buckets(d), self.latency_sum[d]) for d in ("inbound", "outbound"))),
            MetricFamily("p2p_disconnects", "counter", "Peers disconnected, by DiscReason and whether the remote "
                         "sent the Disconnect.", ("reason", "remote"),
                         tuple((k, n) for k, n in sorted(self.disconnects.items()))),
            MetricFamily("p2p_actor_restarts", "counter", "Supervised actors restarted, by kind.", ("kind",),
                         tuple(((k,), n) for k, n in sorted(self.restarts.items()))),
            MetricFamily("p2p_ingress", "counter", "Bytes read from peers' sockets after the RLPx handshake "
                         "(go-ethereum p2p/ingress).", (), (((), t.wire_in),)),
            MetricFamily("p2p_egress", "counter", "Bytes written to peers' sockets after the RLPx handshake "
                         "(go-ethereum p2p/egress).", (), (((), t.wire_out),)),
        ]
        for direction in ("ingress", "egress"):
            rows = sorted((cap, code, n, b) for (d, cap, code), (n, b) in t.packets.items() if d == direction)
            labels = ("protocol", "code")
            fam.append(MetricFamily(f"p2p_{direction}_packets", "counter", f"Subprotocol messages, {direction}, by "
                                    "capability and code relative to its offset (go-ethereum "
                                    f"p2p/{direction}/<name>/<version>/<code>/packets).", labels,
                                    tuple(((cap, f"{code:#04x}"), n) for cap, code, n, b in rows)))
            fam.append(MetricFamily(f"p2p_{direction}_packet_bytes", "counter", f"Subprotocol message payload "
                                    f"bytes, {direction}, by capability and code (go-ethereum "
                                    f"p2p/{direction}/<name>/<version>/<code>).", labels,
                                    tuple(((cap, f"{code:#04x}"), b) for cap, code, n, b in rows)))
        if discovery is not None:
            fam += _discovery_families(discovery)
        return tuple(fam)

    def _buckets(self, direction: str) -> tuple:
        counts, total, out = self.latency[direction], 0, []
        for bound, n in zip(HANDSHAKE_BUCKETS_S, counts):
            total += n
            out.append((bound, total))
        out.append(("+Inf", total + counts[-1]))
        return tuple(out)


def _discovery_families(info) -> list:
    """discv4's table and packets (go-ethereum p2p/discover/metrics.go: ``discover/ingress``,
    ``discover/egress`` bytes, ``discover/ingress/<PACKET>/v4`` packets, ``discover/bucket/<n>/count``)."""
    c = info.counters
    packets = []
    for key, n in sorted(c.items()):
        direction, _, name = key.partition(".")
        if direction in ("in", "out") and name:
            packets.append(((("ingress" if direction == "in" else "egress"), name), n))
    bad = tuple(((key.partition(".")[2],), n) for key, n in sorted(c.items()) if key.startswith("bad."))
    return [
        MetricFamily("discover_table_nodes", "gauge", "Nodes in the discv4 Kademlia table.", (), (((), info.table),)),
        MetricFamily("discover_bucket_nodes", "gauge", "Nodes per Kademlia bucket (go-ethereum "
                     "discover/bucket/<n>/count).", ("bucket",),
                     tuple(((str(i),), n) for i, n in enumerate(info.buckets))),
        MetricFamily("discover_packets", "counter", "discv4 packets by direction and type (go-ethereum "
                     "discover/ingress/<PACKET>/v4).", ("direction", "type"), tuple(packets)),
        MetricFamily("discover_v4_bad", "counter", "discv4 packets dropped, by kind (go-ethereum discover/v4/bad).",
                     ("kind",), bad),
        MetricFamily("discover_ingress", "counter", "discv4 bytes received (go-ethereum discover/ingress).", (),
                     (((), c.get("ingress_bytes", 0)),)),
        MetricFamily("discover_egress", "counter", "discv4 bytes sent (go-ethereum discover/egress).", (),
                     (((), c.get("egress_bytes", 0)),)),
    ]
