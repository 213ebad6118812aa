"""Inbound connections before their Peer exists: the RLPx auth/ack of every pending connection,
its deadline, and the pending-slot policy, as a plain class driven by the Listener actor (no
sockets: the Listener passes bytes in and writes what it gets back).

go-ethereum p2p/server.go gives each accepted connection a goroutine and at most
``MaxPendingPeers`` (50) of them run the handshake at once; here one would be a process, so the
Listener runs every auth/ack itself and the Server forks a Peer only for a connection whose
auth was valid and answered.  Rules:

* a connection whose auth is being read costs a socket and a table entry here, not a process:
  at most ``max_reading`` (default :data:`READING_PER_SLOT` x ``max_pending``, 400 at go-ethereum's
  50) are read at once, and when they are full the oldest is closed for the new one (cause
  "evicted").  The accepting never stops, and a real peer has until ``max_reading`` newer
  connections came (0.4 s at 1,000/s) to send its auth; a small table would give it ``max_pending``
  (50 ms);
* a connection whose auth was valid is handed to the Server, which forks its Peer, and keeps one of
  ``max_pending`` slots (go-ethereum ``MaxPendingPeers``, a goroutine there, a process here) until
  the Server frees it (the peer was added, or is gone).  A valid auth that finds the slots full
  takes the slot of the oldest one handed on at least :data:`HANDED_EVICT_AGE_S` ago (a valid
  auth, then no Hello: the Listener asks the Server to drop its Peer), so valid auths that go
  silent keep a real peer out for at most that long; if none is that old, it waits, answered
  (the ack written) but not handed on, until a slot frees or one becomes that old, as go-ethereum's
  accepts wait while its slots are full.  So a crowd of real peers is served in turn, not evicted
  in turn.  At most ``max_reading`` wait, each at most ``handshake_s``, the oldest closed first;
* each connection has ``handshake_s`` (5 s, go-ethereum ``handshakeTimeout``) from its accept to
  a complete auth (cause "timeout");
* a bad auth (rlpx.handshake's errors: ECIES, size above 2048 bytes, bad signature) closes it
  (cause "protocol_error"); no Disconnect exists before the session keys do.
"""

from __future__ import annotations

from dataclasses import dataclass

from rlpx.errors import RLPxError
from rlpx.handshake import Recipient, Secrets

READING_PER_SLOT = 8
"""Connections whose auth is read at once, per pending slot (``max_reading`` by default)."""

HANDED_EVICT_AGE_S = 2.0
"""A connection handed on this long ago without its peer added may lose its slot to a waiting
valid auth, seconds: a real peer's fork and Hello take tens of milliseconds, a few hundred on a
loaded machine."""



@dataclass
class Answered:
    """The auth of ``conn_id`` was valid: write ``ack``, then hand the connection to the Server
    with ``secrets`` and ``leftover`` (bytes received after the auth).  ``evicted``: the conn_id
    handed on earlier whose slot this one took (its Peer must be dropped), or None.  ``wait``:
    the slots are full: write the ack, keep the socket unread, and hand it on when
    :meth:`InboundHandshakes.promote` returns it."""

    conn_id: str
    ack: bytes
    secrets: Secrets
    leftover: bytes
    evicted: str | None = None
    wait: bool = False


class AuthFailed(Exception):
    """The handshake of ``conn_id`` from ``remote`` (host, port) failed at ``stage`` ("auth")
    with ``cause`` (:data:`messages.peer.CAUSES`) and ``error`` (one line): close the connection."""

    def __init__(self, conn_id: str, stage: str, cause: str, error: str, remote: tuple = ()):
        super().__init__(error)
        self.conn_id, self.stage, self.cause, self.error, self.remote = conn_id, stage, cause, error, remote


class _Pending:
    __slots__ = ("conn_id", "remote", "accepted_at", "hs", "handed", "handed_at", "waiting", "answer")

    def __init__(self, conn_id: str, remote: tuple, accepted_at: float, hs: Recipient | None):
        self.conn_id, self.remote, self.accepted_at, self.hs = conn_id, remote, accepted_at, hs
        self.handed = False
        self.handed_at = 0.0  # when handed on; for a waiting one, when its auth was answered
        self.waiting = False
        self.answer: Answered | None = None


class InboundHandshakes:
    """The pending table (see the module docstring).  ``private_key`` 32 bytes; times are
    monotonic seconds.  Insertion order is accept order, so the first silent entry is the oldest."""

    def __init__(self, private_key: bytes, max_pending: int, handshake_s: float, max_reading: int | None = None):
        self.private_key = private_key
        self.max_pending = max_pending
        self.max_reading = READING_PER_SLOT * max_pending if max_reading is None else max_reading
        self.handshake_s = handshake_s
        self.table: dict[str, _Pending] = {}
        self.n_handed = 0

    def __len__(self) -> int:
        return len(self.table)

    def __contains__(self, conn_id: str) -> bool:
        return conn_id in self.table

    def reading(self) -> list[str]:
        """The conn_ids whose auth is still awaited here (their sockets are watched)."""
        return [p.conn_id for p in self.table.values() if not p.handed and not p.waiting]

    def remote(self, conn_id: str) -> tuple:
        """(host, port) of ``conn_id``, () if unknown."""
        p = self.table.get(conn_id)
        return p.remote if p is not None else ()

    def handed(self, conn_id: str) -> bool:
        """True if ``conn_id`` was handed to the Server (evicting it means dropping its Peer)."""
        p = self.table.get(conn_id)
        return p is not None and p.handed

    # -- slots ---------------------------------------------------------------------------
    def room(self, now: float) -> tuple[bool, str | None]:
        """Whether one more connection may be accepted now (False only with ``max_reading`` 0),
        and which one to close for it first: the oldest still being read when ``max_reading`` are
        (None: there is room)."""
        reading = [p for p in self.table.values() if not p.handed and not p.waiting]
        if len(reading) < self.max_reading:
            return True, None
        return bool(reading), reading[0].conn_id if reading else None

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
        answered = Answered(conn_id, ack, p.hs.secrets, p.hs.leftover)
        p.hs = None  # its keys now belong to the connection's Peer
        if self.n_handed < self.max_pending:
            self._hand(p, now)
            return answered
        victim = self._evictable(now)
        if victim is not None:
            self.freed(victim.conn_id)
            self._hand(p, now)
            answered.evicted = victim.conn_id
            return answered
        p.waiting, p.handed_at, p.answer = True, now, answered
        answered.wait = True
        return answered

    def _hand(self, p: _Pending, now: float) -> None:
        p.handed, p.handed_at, p.waiting, p.answer = True, now, False, None
        self.n_handed += 1

    def _evictable(self, now: float) -> _Pending | None:
        """The oldest handed-on connection at least :data:`HANDED_EVICT_AGE_S` old, or None."""
        handed = [q for q in self.table.values() if q.handed and now - q.handed_at >= HANDED_EVICT_AGE_S]
        return min(handed, key=lambda q: q.handed_at) if handed else None

    def promote(self, now: float) -> list[Answered]:
        """Waiting valid auths to hand on now, oldest first: into free slots, then into those of
        handed-on connections :data:`HANDED_EVICT_AGE_S` old (``evicted`` set).  The waiting
        beyond ``max_pending`` are not returned: :meth:`expired` lists the oldest of them."""
        out = []
        for p in [q for q in self.table.values() if q.waiting]:
            answered = p.answer
            if self.n_handed >= self.max_pending:
                victim = self._evictable(now)
                if victim is None:
                    break
                self.freed(victim.conn_id)
                answered.evicted = victim.conn_id
            answered.wait = False
            self._hand(p, now)
            out.append(answered)
        return out

    def freed(self, conn_id: str) -> None:
        """The connection left the table: closed here, or its Peer was added or is gone."""
        p = self.table.pop(conn_id, None)
        if p is not None and p.handed:
            self.n_handed -= 1

    # -- time ----------------------------------------------------------------------------
    def expired(self, now: float) -> list[str]:
        """The conn_ids whose ``handshake_s`` ran out without a complete auth, or that waited
        ``handshake_s`` for a slot, and the oldest waiting beyond ``max_pending`` (still listed:
        close each and call :meth:`freed`)."""
        waiting = [p for p in self.table.values() if p.waiting]
        over = {p.conn_id for p in waiting[:max(0, len(waiting) - self.max_reading)]}
        return [p.conn_id for p in self.table.values()
                if (not p.handed and not p.waiting and now >= p.accepted_at + self.handshake_s)
                or (p.waiting and (now >= p.handed_at + self.handshake_s or p.conn_id in over))]

    def next_deadline(self, now: float) -> float | None:
        """The next handshake deadline (monotonic seconds), or None."""
        times = [p.accepted_at + self.handshake_s for p in self.table.values() if not p.handed and not p.waiting]
        waiting = [p.handed_at + self.handshake_s for p in self.table.values() if p.waiting]
        times += waiting
        if waiting:  # a slot may become evictable for them
            times += [q.handed_at + HANDED_EVICT_AGE_S for q in self.table.values() if q.handed]
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


__all__ = ["InboundHandshakes", "Answered", "AuthFailed", "RateLimit", "READING_PER_SLOT"]
