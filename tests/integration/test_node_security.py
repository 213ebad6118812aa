"""Security: Thespian unpickles whatever reaches an actor's socket, so no socket of a running node
may listen on a non-loopback address - except the devp2p port itself (docs/architecture.md)."""

from __future__ import annotations

import ipaddress

from support.nodes import RawPeer, listening_sockets, sender, wait_until
from rlpx.connection import HelloReceived


def _loopback(host: str) -> bool:
    ip = ipaddress.ip_address(host)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    return ip.is_loopback


def test_only_loopback_listeners_besides_devp2p(nodes):
    a = nodes.start("alpha")
    b = nodes.start("beta", protocols=[sender(100000, 100)])
    nodes.connect(b, a)
    nodes.expect("peer_added", node="alpha")
    with RawPeer(a.enode) as raw:
        assert isinstance(raw.handshake(), HelloReceived)
        nodes.expect("peer_added", node="alpha", peer_id=raw.id_hex)
        # admin, logger, collector, 2 x (Server, Listener, Dialer), 3 Peers + 3 Protocols
        assert wait_until(lambda: len(nodes.pids()) >= 15, 5.0), nodes.pids()
        pids = nodes.pids()
        socks = listening_sockets(pids)

    devp2p_ports = {a.port, b.port}
    tcp = [s for s in socks if s["proto"].startswith("tcp")]
    # the scan sees what it must: the admin port, both devp2p ports, and a Thespian listener in
    # every process of the system (each actor, the admin and the logger listen for messages)
    ports = {s["port"] for s in tcp}
    assert nodes.admin_port in ports and devp2p_ports <= ports, (nodes.admin_port, devp2p_ports, tcp)
    assert {s["pid"] for s in tcp} == set(pids), (set(pids) - {s["pid"] for s in tcp})
    exposed = [s for s in socks if not _loopback(s["host"]) and not (s["proto"].startswith("tcp")
                                                                      and s["port"] in devp2p_ports)]
    assert exposed == [], f"sockets reachable from outside loopback: {exposed}"
    # and with the default listen_host the devp2p port is loopback too
    assert all(_loopback(s["host"]) for s in tcp if s["port"] in devp2p_ports)
