"""Run a protocol in-process against a scripted remote, with a fake clock.

The counterpart of go-ethereum's ``p2p.MsgPipe`` / ``p2p.NewPeerPipe`` for testing a protocol
without a node: the test plays the remote, :meth:`ProtocolHarness.deliver` hands the protocol
a message, and :attr:`ProtocolHarness.sent` holds what it sent, decoded.  Time moves only with
:meth:`ProtocolHarness.advance`.  An exception from the protocol ends it as a node would
(SUBPROTOCOL_ERROR) and is kept in :attr:`ProtocolHarness.error`.
"""

from __future__ import annotations

import heapq
import logging
from dataclasses import dataclass, field

from rlpx.disc import DiscReason

from .api import PeerSession, Protocol
from .options import build_options

REMOTE_ID = bytes(range(64))
"""Node id (64 bytes) of the scripted remote unless the test gives one."""


@dataclass
class Ended:
    """How the protocol's run ended: ``reason`` a DiscReason, ``error`` text ("" = clean)."""

    reason: DiscReason
    error: str = ""
    remote_requested: bool = False


@dataclass
class FakeClock:
    """Monotonic time in seconds that moves only when told to."""

    now: float = 1000.0
    timers: list = field(default_factory=list)  # heap of (due, seq, name)
    _seq: int = 0

    def set(self, name: str, due: float) -> None:
        self.cancel(name)
        self._seq += 1
        heapq.heappush(self.timers, (due, self._seq, name))

    def cancel(self, name: str) -> None:
        self.timers = [t for t in self.timers if t[2] != name]
        heapq.heapify(self.timers)

    def pop_due(self) -> str | None:
        if self.timers and self.timers[0][0] <= self.now:
            return heapq.heappop(self.timers)[2]
        return None


class ProtocolHarness:
    """One protocol instance on a scripted peer.

    ``cls`` a :class:`protocols.api.Protocol` subclass; ``options`` a mapping as in the config
    (validated as the config loader does; raises :class:`protocols.options.OptionError`);
    ``session`` overrides fields of the default :class:`protocols.api.PeerSession`.
    The protocol is started at once (its handshake lands in :attr:`sent`).
    """

    def __init__(self, cls: type[Protocol], options: dict | None = None, **session):
        self.log = logging.getLogger(f"devp2p.harness.{cls.NAME}")
        self.clock = FakeClock()
        self.sent: list = []
        self.events: list[tuple[str, dict]] = []
        self.ended: Ended | None = None
        self.error: Exception | None = None
        s = dict(peer_id=REMOTE_ID, client_id="harness/v0", caps=(f"{cls.NAME}/{cls.VERSION}",), inbound=False,
                 remote_addr=("127.0.0.1", 30303), name=cls.NAME, version=cls.VERSION, length=cls.LENGTH)
        s.update(session)
        self.proto = cls(self, PeerSession(**s), build_options(cls.Options, options or {}))
        self._guard(self.proto.started)

    # -- the test's side ------------------------------------------------------------------
    def deliver(self, msg_or_code, payload: bytes | None = None) -> None:
        """The remote sends a message: a message instance, or a relative code and raw payload
        bytes (for malformed input).  Does nothing once the protocol has ended."""
        if self.ended is not None:
            return
        if payload is None:
            code, payload = msg_or_code.CODE, msg_or_code.encode()
        else:
            code = msg_or_code
        if not 0 <= code < self.proto.length:
            # the Peer disconnects for a code outside every protocol's range (PROTOCOL_ERROR)
            raise ValueError(f"code {code} is outside {self.proto.name}'s length {self.proto.length}")
        self._guard(self.proto.receive, code, payload)

    def advance(self, seconds: float) -> None:
        """Move the clock on by ``seconds``, firing due timers in order."""
        end = self.clock.now + seconds
        while self.clock.timers and self.clock.timers[0][0] <= end and self.ended is None:
            self.clock.now = max(self.clock.now, self.clock.timers[0][0])
            name = self.clock.pop_due()
            if name is not None and self.proto.running:
                self._guard(self.proto.on_timer, name)
        self.clock.now = end

    def stop(self, reason: DiscReason = DiscReason.QUITTING) -> None:
        """The connection closes with ``reason`` (the protocol's ``stopped`` hook runs)."""
        self.proto.running = False
        if self.ended is None:
            self.ended = Ended(reason, "", True)
        self.proto.stopped(reason)

    def take(self) -> list:
        """The messages sent since the last call, decoded; clears :attr:`sent`."""
        out, self.sent = self.sent, []
        return out

    # -- protocols.api.Host -----------------------------------------------------------------
    def send_message(self, code: int, payload: bytes) -> None:
        cls = self.proto._by_code.get(code)
        self.sent.append(cls.decode(payload) if cls is not None else (code, payload))

    def disconnect(self, reason: int, error: str) -> None:
        self.ended = Ended(DiscReason(reason), error)

    def end(self, error: str) -> None:
        self.ended = Ended(DiscReason.SUBPROTOCOL_ERROR if error else DiscReason.QUITTING, error)

    def emit(self, kind: str, data: dict) -> None:
        self.events.append((kind, data))

    def after(self, name: str, seconds: float) -> None:
        self.clock.set(name, self.clock.now + seconds)

    def cancel(self, name: str) -> None:
        self.clock.cancel(name)

    def now(self) -> float:
        return self.clock.now

    def _guard(self, fn, *args) -> None:
        try:
            fn(*args)
        except Exception as exc:  # noqa: BLE001 - as the host: a failing protocol disconnects its peer
            self.error = exc
            self.proto.running = False
            if self.ended is None:
                self.ended = Ended(DiscReason.SUBPROTOCOL_ERROR, f"{type(exc).__name__}: {exc}")
