"""admin_addPeer, admin_removePeer, admin_addTrustedPeer, admin_removeTrustedPeer on the node's
static and trusted sets (go-ethereum p2p/server.go ``AddPeer``, ``RemovePeer``,
``AddTrustedPeer``, ``RemoveTrustedPeer``)."""

from __future__ import annotations

from dataclasses import dataclass, field

from discovery.node_url import parse_node_url
from rlpx.errors import EnodeError

OPS = ("add_peer", "remove_peer", "add_trusted", "remove_trusted")


@dataclass
class AdminOutcome:
    """What an admin operation asks of the Server: ``error`` (one line) if refused; else the
    normalised ``enode`` URL to pass to the Dialer when ``to_dialer``, and ``disconnect``, the
    64-byte node id whose connections end with REQUESTED (None: none)."""

    error: str = ""
    enode: str = ""
    to_dialer: bool = False
    disconnect: bytes | None = None


@dataclass
class StaticAndTrusted:
    """The node's static nodes (enode URLs, in the order added) and trusted node ids (a set
    shared with :class:`node.admission.Admission`)."""

    static_nodes: list = field(default_factory=list)
    trusted: set = field(default_factory=set)

    def apply(self, op: str, url: str) -> AdminOutcome:
        """Carry out ``op`` (:data:`OPS`) for ``url``, an ``enode://`` URL or ``enr:`` record
        (kept as the enode URL it dials)."""
        if op not in OPS:
            return AdminOutcome(error=f"unknown admin operation {op!r}")
        try:
            enode = parse_node_url(url)
        except EnodeError as exc:
            return AdminOutcome(error=f"invalid enode: {exc}")
        normal = enode.url()
        if op == "add_peer":
            if normal not in self.static_nodes:
                self.static_nodes.append(normal)
            return AdminOutcome(enode=normal, to_dialer=True)
        if op == "remove_peer":
            self.static_nodes = [u for u in self.static_nodes if parse_node_url(u).node_id != enode.node_id]
            return AdminOutcome(enode=normal, to_dialer=True, disconnect=enode.node_id)
        if op == "add_trusted":
            self.trusted.add(enode.node_id)
        else:
            self.trusted.discard(enode.node_id)
        return AdminOutcome(enode=normal)
