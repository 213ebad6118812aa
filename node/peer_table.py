"""The Server's table of connections and its two checkpoints (go-ethereum p2p/server.go
``Server.run``: the ``peers`` map, ``checkpointPostHandshake`` and ``checkpointAddPeer``).

A record follows one Peer actor from its creation: ``handshake`` (created) -> ``connected``
(checkpoint 1 passed) -> ``added`` (checkpoint 2 passed, a peer of the node).  The admission
rules are :class:`node.admission.Admission`'s.  The table also says what each ending means:
the event to publish (:mod:`messages.events`), and which of the Listener's slots or the
Dialer's dials it frees.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from messages.admission import ADD_PEER, POST_HANDSHAKE
from messages.events import DialFailed, EventRecord, PeerAdded, PeerRejected, PeerRemoved
from rlpx.disc import DiscReason

from .admission import Admission

HANDSHAKE, CONNECTED, ADDED = "handshake", "connected", "added"
"""A record's states."""


@dataclass
class PeerRecord:
    """One connection the Server knows of.

    ``addr`` is its Peer actor's address (an opaque value compared with ``==``); ``conn_id`` the
    Listener's slot (inbound) and ``dial_id`` the dialled 64-byte node id (outbound); ``node_id``
    the remote's id once checkpoint 1 passed, ``seen_id`` the handshake's identity even if
    rejected; ``info`` its admin_peers entry as last known; ``traffic`` its counters as last
    reported (node/traffic.py ``Traffic.snapshot``, None before the first report); ``remote``
    (host, port); ``pid`` its process.  ``addr`` is None until the Peer's first message (the
    Spawner forks it); ``outbox`` holds what is to be sent to it meanwhile."""

    key: int
    addr: object
    inbound: bool
    conn_id: str | None = None
    dial_id: bytes | None = None
    static: bool = False
    remote: tuple = ()
    pid: int | None = None
    node_id: bytes | None = None
    seen_id: bytes | None = None
    state: str = HANDSHAKE
    info: dict = field(default_factory=dict)
    traffic: tuple | None = None
    since: float = field(default_factory=time.time)
    outbox: list = field(default_factory=list, repr=False)

    @property
    def who(self) -> str:
        """A 16-hex prefix of the best id known, for log lines."""
        return (self.node_id or self.seen_id or self.dial_id or b"").hex()[:16] or "?"

    @property
    def where(self) -> str:
        """"host:port" of the remote, or "?"."""
        return "%s:%s" % tuple(self.remote[:2]) if self.remote else "?"


@dataclass(frozen=True)
class Checkpoint:
    """The outcome of a checkpoint: ``reason`` None to go on (else the DiscReason), and what it
    changed: ``connected`` (checkpoint 1 passed: tell the Dialer), ``added`` (a new peer)."""

    reason: DiscReason | None
    connected: bool = False
    added: bool = False


class PeerTable:
    """Every connection of one node (see the module docstring).

    ``admission`` decides the checkpoints; records are looked up by their actor's address.
    """

    def __init__(self, admission: Admission):
        self.admission = admission
        self.records: dict[int, PeerRecord] = {}
        self._next_key = 0
        self._seen: dict[str, int] = {}

    def __len__(self) -> int:
        return len(self.records)

    def __iter__(self):
        return iter(list(self.records.values()))

    def new(self, addr, inbound: bool, **kw) -> PeerRecord:
        """Record the Peer actor at ``addr`` (None: not known yet; keywords: PeerRecord fields)."""
        self._next_key += 1
        rec = PeerRecord(self._next_key, addr, inbound, **kw)
        self.records[rec.key] = rec
        return rec

    def by_key(self, key) -> PeerRecord | None:
        """The record with ``key`` (PeerRecord.key), or None."""
        return self.records.get(key)

    def bind(self, rec: PeerRecord, addr) -> None:
        """``rec``'s Peer actor is at ``addr`` (from the Peer's first message)."""
        rec.addr = addr

    def find(self, addr) -> PeerRecord | None:
        """The record of the Peer actor at ``addr``, or None.

        Addresses are compared with ``==`` (a freshly created child's address is a placeholder
        whose str() changes); a match is remembered under the str() of the address the Peer's
        own messages carry, so later lookups cost one comparison instead of a scan."""
        hint = self._seen.get(str(addr))
        if hint is not None:
            rec = self.records.get(hint)
            if rec is not None and rec.addr == addr:
                return rec
            del self._seen[str(addr)]
        for rec in self.records.values():
            if rec.addr is not None and rec.addr == addr:
                if len(self._seen) > 4 * len(self.records) + 64:
                    self._seen = {s: k for s, k in self._seen.items() if k in self.records}
                self._seen[str(addr)] = rec.key
                return rec
        return None

    def remove(self, rec: PeerRecord) -> None:
        """Forget ``rec``; an added peer's admission slot is freed."""
        self.records.pop(rec.key, None)
        if rec.state == ADDED:
            self.admission.remove(rec.node_id)

    def end(self, rec: PeerRecord, reason: DiscReason, remote: bool, error: str, stage: str = "",
            cause: str = "") -> Ended:
        """``rec``'s connection is over (``reason``, sent by the remote if ``remote``; ``stage``
        and ``cause`` as messages.peer.STAGES/CAUSES): forget it and say what follows."""
        was_added = rec.state == ADDED
        if was_added:
            what = "peer removed"
        else:
            what = ("dial failed" if not rec.inbound else "inbound connection ended") + (f" at {stage}" if stage else "")
        log = (f"{what} {rec.who} {rec.where}: {error or '-'} ({reason.name}"
               f"{', remote requested' if remote else ''})")
        event = ended_event(rec, reason, remote, error, stage, cause)
        self.remove(rec)
        out = Ended(log, event, was_added, peer_down=rec.node_id)
        if not was_added:
            if rec.inbound:
                out.free_slot = rec.conn_id
            else:
                out.dial_done = (rec.dial_id, error)
        return out

    def added(self) -> list[PeerRecord]:
        """The node's peers, by node id."""
        return sorted((r for r in self.records.values() if r.state == ADDED), key=lambda r: r.node_id)

    def with_prefix(self, prefix: str) -> list[PeerRecord]:
        """Added peers whose node id (hex) starts with ``prefix`` (case-insensitive)."""
        prefix = prefix.lower()
        return [r for r in self.added() if r.node_id.hex().startswith(prefix)]

    def for_node(self, node_id: bytes) -> list[PeerRecord]:
        """Connections to or from the 64-byte ``node_id`` (added, connecting, or being dialled)."""
        return [r for r in self.records.values() if node_id in (r.node_id, r.dial_id)]

    def checkpoint(self, rec: PeerRecord, stage: str, node_id: bytes, inbound: bool, matched: int = 0,
                   info: dict | None = None, stopping: bool = False) -> Checkpoint:
        """Answer checkpoint ``stage`` (POST_HANDSHAKE or ADD_PEER) for ``rec``'s remote
        ``node_id`` (64 bytes) with ``matched`` shared capabilities; a stopping node refuses
        with QUITTING.  An unknown stage is a PROTOCOL_ERROR."""
        if stopping:
            return Checkpoint(DiscReason.QUITTING)
        if stage == POST_HANDSHAKE:
            rec.seen_id = node_id
            reason = self.admission.post_handshake(node_id, inbound)
            if reason is None and rec.node_id is None:
                rec.node_id, rec.state = node_id, CONNECTED
                return Checkpoint(None, connected=True)
            return Checkpoint(reason)
        if stage == ADD_PEER:
            reason = self.admission.add_peer(node_id, inbound, matched)
            if reason is None:
                rec.state = ADDED
                rec.info = dict(info or {})
                return Checkpoint(None, added=True)
            return Checkpoint(reason)
        return Checkpoint(DiscReason.PROTOCOL_ERROR)


@dataclass
class Ended:
    """What the end of a connection asks of the Server (:meth:`PeerTable.end`): ``log`` its one
    log line (without the node's name), ``event`` to publish (None: none), ``was_added``,
    ``free_slot`` the Listener slot to free, ``dial_done`` (dial id, error) for the Dialer, and
    ``peer_down`` the node id the Dialer forgets as connected."""

    log: str
    event: EventRecord | None
    was_added: bool
    free_slot: str | None = None
    dial_done: tuple | None = None
    peer_down: bytes | None = None


def added_event(rec: PeerRecord) -> PeerAdded:
    """The ``peer_added`` record of a peer that was just added."""
    info = rec.info
    return PeerAdded(rec.node_id.hex(), info.get("name", ""), info.get("caps", []), rec.inbound,
                     info.get("network", {}).get("remoteAddress", ""), info.get("offsets", []), info.get("enode", ""))


def ended_event(rec: PeerRecord, reason: DiscReason, remote: bool, error: str, stage: str,
                cause: str) -> EventRecord | None:
    """What the end of ``rec``'s connection is: ``peer_removed`` for a peer, ``dial_failed`` for a
    dial, ``peer_rejected`` for an inbound connection whose identity was known, else None."""
    if rec.state == ADDED:
        return PeerRemoved(rec.node_id.hex(), reason.name, int(reason), remote, error, cause, rec.inbound)
    if not rec.inbound:
        return DialFailed(rec.dial_id.hex(), rec.where, reason.name, int(reason), remote, error, stage, cause)
    if rec.seen_id is not None:
        return PeerRejected(rec.seen_id.hex(), reason.name, int(reason), remote, error, stage, cause)
    return None
