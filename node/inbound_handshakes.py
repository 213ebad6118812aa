"""Inbound connections before their Peer exists: the RLPx auth/ack of every pending connection,
its deadline, and the pending-slot policy, as a plain class driven by the Listener actor (no
sockets: the Listener passes bytes in and writes what it gets back).

go-ethereum p2p/server.go gives each accepted connection a goroutine and at most
``MaxPendingPeers`` (50) of them run the handshake at once; here one would be a process, so the
Listener runs every auth/ack itself and the Server forks a Peer only for a connection whose
auth was valid and answered (issue 18 point 2).  Rules:

* at most ``max_pending`` connections hold a slot: those reading their auth here, and those
  handed to the Server until it frees the slot (the peer was added, or is gone);
* when every slot is taken, one connection is closed to make room for the new one, in this order
  of preference: the oldest that has not sent a complete auth and is at least
  :data:`MIN_EVICT_AGE_S` old; else the oldest handed to the Server at least
  :data:`HANDED_EVICT_AGE_S` ago and not yet added (a valid auth, then no Hello: the Listener
  asks the Server to drop its Peer); else the oldest without a complete auth, whatever its age;
  else the one handed on first, whatever its age (cause "evicted").  So neither a flood faster
  than the eviction rate nor valid auths that go silent stop the accepting, and a real peer
  keeps its slot until ``max_pending`` newer connections have come.  go-ethereum has no
  eviction (its 50 slots wait), but a slot there costs a goroutine, not a process;
* each connection has ``handshake_s`` (5 s, go-ethereum ``handshakeTimeout``) from its accept to
  a complete auth (cause "timeout");
* a bad auth (rlpx.handshake's errors: ECIES, size above 2048 bytes, bad signature) closes it
  (cause "protocol_error"); no Disconnect exists before the session keys do.
"""

from __future__ import annotations

from dataclasses import dataclass

from rlpx.errors import RLPxError
from rlpx.handshake import Recipient, Secrets

MIN_EVICT_AGE_S = 0.25
"""A silent connection younger than this is evicted only when no other can be (a real peer's auth
is usually in its first segment; this gives it one round trip and a scheduling delay), seconds."""

HANDED_EVICT_AGE_S = 2.0
"""A connection handed to the Server is evicted, under pressure, only this long after its ack:
time for the Peer's fork, checkpoint 1 and the remote's Hello, seconds."""


@dataclass
class Answered:
    """The auth of ``conn_id`` was valid: write ``ack``, then hand the connection to the Server
    with ``secrets`` and ``leftover`` (bytes received after the auth)."""

    conn_id: str
    ack: bytes
    secrets: Secrets
    leftover: bytes


class AuthFailed(Exception):
    """The handshake of ``conn_id`` from ``remote`` (host, port) failed at ``stage`` ("auth")
    with ``cause`` (:data:`messages.peer.CAUSES`) and ``error`` (one line): close the connection."""

    def __init__(self, conn_id: str, stage: str, cause: str, error: str, remote: tuple = ()):
        super().__init__(error)
        self.conn_id, self.stage, self.cause, self.error, self.remote = conn_id, stage, cause, error, remote


class _Pending:
    __slots__ = ("conn_id", "remote", "accepted_at", "hs", "handed", "handed_at")

    def __init__(self, conn_id: str, remote: tuple, accepted_at: float, hs: Recipient | None):
        self.conn_id, self.remote, self.accepted_at, self.hs = conn_id, remote, accepted_at, hs
        self.handed = False
        self.handed_at = 0.0


class InboundHandshakes:
    """The pending table (see the module docstring).  ``private_key`` 32 bytes; times are
    monotonic seconds.  Insertion order is accept order, so the first silent entry is the oldest."""

    def __init__(self, private_key: bytes, max_pending: int, handshake_s: float,
                 min_evict_age_s: float = MIN_EVICT_AGE_S, handed_evict_age_s: float = HANDED_EVICT_AGE_S):
        self.private_key = private_key
        self.max_pending = max_pending
        self.handshake_s = handshake_s
        self.min_evict_age_s = min_evict_age_s
        self.handed_evict_age_s = handed_evict_age_s
        self.table: dict[str, _Pending] = {}

    def __len__(self) -> int:
        return len(self.table)

    def __contains__(self, conn_id: str) -> bool:
        return conn_id in self.table

    def reading(self) -> list[str]:
        """The conn_ids whose auth is still awaited here (their sockets are watched)."""
        return [p.conn_id for p in self.table.values() if not p.handed]

    def remote(self, conn_id: str) -> tuple:
        """(host, port) of ``conn_id``, () if unknown."""
        p = self.table.get(conn_id)
        return p.remote if p is not None else ()

    # -- slots ---------------------------------------------------------------------------
    def evictable(self, now: float) -> str | None:
        """The conn_id to close to make room now, by the module docstring's order of preference;
        None only if the table is empty."""
        silent = next((p for p in self.table.values() if not p.handed), None)
        if silent is not None and now - silent.accepted_at >= self.min_evict_age_s:
            return silent.conn_id
        handed = [p for p in self.table.values() if p.handed]
        first = min(handed, key=lambda p: p.handed_at) if handed else None
        if first is not None and now - first.handed_at >= self.handed_evict_age_s:
            return first.conn_id
        victim = silent or first
        return victim.conn_id if victim is not None else None

    def handed(self, conn_id: str) -> bool:
        """True if ``conn_id`` was handed to the Server (evicting it means dropping its Peer)."""
        p = self.table.get(conn_id)
        return p is not None and p.handed

    def room(self, now: float) -> tuple[bool, str | None]:
        """Whether one more connection may be accepted now, and which one to evict for it first
        (None: a slot is free, or none can be evicted)."""
        if len(self.table) < self.max_pending:
            return True, None
        victim = self.evictable(now)
        return victim is not None, victim

    def accepted(self, conn_id: str, remote: tuple, now: float) -> None:
        """A connection was accepted at ``now``: it takes a slot and its handshake deadline runs."""
        self.table[conn_id] = _Pending(conn_id, tuple(remote), now, None)  # Recipient at its first byte

    def received(self, conn_id: str, data: bytes, now: float) -> Answered | None:
        """Bytes from ``conn_id``: the answer once its auth is complete and valid, else None.
        Raises :class:`AuthFailed` (stage "auth", cause "protocol_error") for a bad auth;
        the entry is then gone."""
        p = self.table.get(conn_id)
        if p is None or p.handed:
            return None
        if p.hs is None:
            p.hs = Recipient(self.private_key)  # an ephemeral key costs ~0.1 ms: not for the silent ones
        try:
            ack = p.hs.feed(data)
        except RLPxError as exc:
            del self.table[conn_id]
            raise AuthFailed(conn_id, "auth", "protocol_error", f"bad auth: {type(exc).__name__}: {exc}",
                             p.remote) from None
        if ack is None:
            return None
        p.handed, p.handed_at = True, now
        answered = Answered(conn_id, ack, p.hs.secrets, p.hs.leftover)
        p.hs = None  # its keys now belong to the connection's Peer
        return answered

    def freed(self, conn_id: str) -> None:
        """The connection left the table: closed here, or its Peer was added or is gone."""
        self.table.pop(conn_id, None)

    # -- time ----------------------------------------------------------------------------
    def expired(self, now: float) -> list[str]:
        """The conn_ids whose ``handshake_s`` ran out without a complete auth (still listed:
        close each and call :meth:`freed`)."""
        return [p.conn_id for p in self.table.values()
                if not p.handed and now >= p.accepted_at + self.handshake_s]

    def next_deadline(self, now: float) -> float | None:
        """The next handshake deadline (monotonic seconds), or None."""
        times = [p.accepted_at + self.handshake_s for p in self.table.values() if not p.handed]
        return min(times) if times else None


class RateLimit:
    """At most ``per_s`` events in any one-second window (windows start at the first event),
    counting the ones held back: :meth:`allow` returns (allowed, suppressed before this one).
    A count left at the end of a burst is not lost: at :meth:`flush_due` the owner calls
    :meth:`flush` and publishes the last event held back, with the count of those before it."""

    def __init__(self, per_s: int = 10):
        self.per_s = per_s
        self.window_start = float("-inf")
        self.in_window = 0
        self.suppressed = 0

    def allow(self, now: float) -> tuple[bool, int]:
        """Whether an event at ``now`` may go out, and how many were suppressed since the last
        that went out (reported with it, then reset)."""
        if now - self.window_start >= 1.0:
            self.window_start, self.in_window = now, 0
        if self.in_window >= self.per_s:
            self.suppressed += 1
            return False, 0
        self.in_window += 1
        suppressed, self.suppressed = self.suppressed, 0
        return True, suppressed

    def flush_due(self) -> float | None:
        """When the held-back count must go out if no event is allowed first (the end of the
        current window), or None if nothing is held back."""
        return self.window_start + 1.0 if self.suppressed else None

    def flush(self, now: float) -> int:
        """At or after :meth:`flush_due`: the number of events held back (then reset; 0 if none
        or not yet due).  The flush opens a new window and counts as its first event."""
        if not self.suppressed or now - self.window_start < 1.0:
            return 0
        held, self.suppressed = self.suppressed, 0
        self.window_start, self.in_window = now, 1
        return held


__all__ = ["InboundHandshakes", "Answered", "AuthFailed", "RateLimit", "MIN_EVICT_AGE_S", "HANDED_EVICT_AGE_S"]
