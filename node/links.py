"""The Peer's view of one running subprotocol: flow control both ways, and its restarts.

Inbound (Peer -> Protocol actor): decoded messages wait in ``pending`` and leave as
:class:`messages.protocol.ToProtocol` batches of about ``MAX_BATCH_BYTES``; at most
``INBOUND_WINDOW`` batches are unacknowledged, and while a window is full the Peer stops reading
its socket, so TCP pushes back on the remote.  Outbound (Protocol actor -> Peer): each
:class:`messages.protocol.FromProtocol` batch is credited once written to the out-buffer; the
credit rides on the next ToProtocol unless half of ``OUTBOUND_WINDOW`` is uncredited, so a
request/response costs no extra wake-up.  Above the out-buffer's high-water mark credit is
withheld until it drains.  Window and batch sizes: docs/architecture.md ("Memory per peer").
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from config.model import ProtocolConfig
from messages.protocol import (INBOUND_WINDOW, MAX_BATCH_BYTES, OUTBOUND_WINDOW, WINDOW_BYTES, OutboundCredit,
                               ToProtocol)

from .supervision import ChildSupervisor


@dataclass(frozen=True)
class ProtocolSpec:
    """A protocol this node runs: ``name``, ``version``, ``length`` (message codes), ``cls`` (the
    "module.Class" its host actor runs) and ``options`` ((key, value) pairs)."""

    name: str
    version: int
    length: int
    cls: str
    options: tuple = ()


class ProtocolLink:
    """Flow-control and supervision state of one matched protocol on one connection.

    ``offset``/``length`` its code range; ``config`` its ProtocolConfig (``on_failure``,
    ``restart`` policy, ``hold_max``).  The Peer's machine drives it; it sends nothing itself.
    """

    def __init__(self, spec: ProtocolSpec, offset: int, config: ProtocolConfig):
        self.spec = spec
        self.name, self.version, self.length, self.offset = spec.name, spec.version, spec.length, offset
        self.cap = f"{spec.name}/{spec.version}"  # capability, as metrics label it
        self.config = config
        self.sup = ChildSupervisor(config.restart)
        self.running = False       # its actor is started and not known dead
        self.restarting = False    # dead, a restart is scheduled
        self.incarnation = 0
        self.info = None           # its last peer_info answer
        self.pending: deque = deque()   # inbound (code, payload) not yet sent
        self.unacked: deque = deque()   # (seq, batch) sent, not acknowledged (kept for a restart)
        self.in_flight: deque = deque()  # (seq, payload bytes) of the batches sent, not acknowledged
        self.in_flight_bytes = 0
        self.sent = 0              # inbound batches sent
        self.acked = 0             # inbound batches acknowledged
        self.withheld = 0          # outbound seq whose credit waits for the out-buffer to drain
        self.credited = 0          # outbound seq last credited
        self.credit_due = 0        # outbound seq that may be credited (rides on the next ToProtocol)
        self.uncredited_bytes = 0  # payload bytes of the batches written since the last credit

    @property
    def window_full(self) -> bool:
        """True while inbound messages wait or the inbound window (batches or bytes) is used up:
        stop reading."""
        return (bool(self.pending) or self.sent - self.acked >= INBOUND_WINDOW
                or self.in_flight_bytes >= WINDOW_BYTES)

    @property
    def over_hold(self) -> bool:
        """True when more inbound messages wait for a restarting actor than ``hold_max``."""
        return self.restarting and len(self.pending) > self.config.hold_max

    def started(self) -> None:
        """Its actor (a new incarnation) has been created."""
        self.incarnation = self.sup.started()
        self.running, self.restarting = True, False

    def batches(self) -> list[ToProtocol]:
        """Inbound batches that may be sent now (none while restarting), each carrying the
        outbound credit that is due."""
        out = []
        if not self.running:
            return out
        keep = self.config.on_failure == "restart"
        while self.pending and self.sent - self.acked < INBOUND_WINDOW and self.in_flight_bytes < WINDOW_BYTES:
            batch, size = [], 0
            while self.pending and (not batch or size < MAX_BATCH_BYTES):
                m = self.pending.popleft()
                batch.append(m)
                size += len(m[1])
            self.sent += 1
            self.in_flight.append((self.sent, size))
            self.in_flight_bytes += size
            if keep:
                self.unacked.append((self.sent, batch))
            credit = 0
            if self.credit_due > self.credited:
                credit = self.credited = self.credit_due
                self.uncredited_bytes = 0
            out.append(ToProtocol(self.sent, tuple(batch), credit))
        return out

    def acknowledge(self, ack: int) -> bool:
        """Inbound batches up to ``ack`` were handled; True if that opened the window."""
        if ack <= self.acked:
            return False
        self.acked = ack
        while self.unacked and self.unacked[0][0] <= ack:
            self.unacked.popleft()
        while self.in_flight and self.in_flight[0][0] <= ack:
            self.in_flight_bytes -= self.in_flight.popleft()[1]
        return True

    def written(self, seq: int, over_high_water: bool, size: int = 0) -> OutboundCredit | None:
        """Outbound batch ``seq`` (``size`` payload bytes) is in the out-buffer.  Returns a credit
        to send now, or None (it rides on the next ToProtocol, or is withheld while
        ``over_high_water``).  Credit goes at once when half the window, in batches or in bytes,
        waits for it: the Protocol actor may be sending nothing else until it comes."""
        self.uncredited_bytes += size
        if over_high_water:
            self.withheld = seq
            return None
        self.credit_due = max(self.credit_due, seq)
        if (self.credit_due - self.credited >= OUTBOUND_WINDOW // 2
                or self.uncredited_bytes >= WINDOW_BYTES // 2) and self.credit_due > self.credited:
            return self._credit()
        return None

    def _credit(self) -> OutboundCredit:
        self.credited = self.credit_due
        self.uncredited_bytes = 0
        return OutboundCredit(self.credited)

    def release(self) -> OutboundCredit | None:
        """The out-buffer drained below its low-water mark: the withheld credit, if any."""
        if not self.withheld:
            return None
        self.credit_due = max(self.credit_due, self.withheld)
        self.withheld = 0
        return self._credit()

    def exited(self) -> None:
        """Its actor died and will be restarted: everything it had not acknowledged goes back
        to the front of ``pending``, in order (at-least-once), and the counters start again."""
        resend = [m for _, batch in self.unacked for m in batch]
        self.pending.extendleft(reversed(resend))
        self.unacked.clear()
        self.in_flight.clear()
        self.in_flight_bytes = self.uncredited_bytes = 0
        self.sent = self.acked = self.withheld = self.credited = self.credit_due = 0
        self.running, self.restarting = False, True
        self.info = None
