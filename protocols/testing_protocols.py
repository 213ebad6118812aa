"""Test-only variants of the ``test`` subprotocol, for the integration tests (tests/integration/test_node_*.py).

Protocol classes must be importable by the actor processes, so they live here rather than
under tests/.  Run one under any name with
``ProtocolConfig(name, version, options, length=N, actor="protocols.testing_protocols.StressTestProtocol")``.

:class:`StressTestProtocol` accepts every :class:`protocols.test_protocol.TestProtocol` option plus:

* ``filler`` ("random", default, or "zero"): the bytes after the 8-byte sequence number.
  "zero" makes payloads compressible, so a payload of 2**24 - 1 bytes (the largest a
  message may decompress to) fits a frame after snappy, which random bytes cannot (snappy
  expands incompressible data slightly and the frame-data limit is also 2**24 - 1).
* ``duplex`` (bool, default False): both sides may send at once.  Own messages go out on
  even codes; a message received on an even code is the remote's and is echoed on the next
  (odd) code; a message received on an odd code is the echo of one of ours.  The length
  must be at least 2.  The ``test_report`` event then covers our own stream, and the
  remote's report covers the echoes we sent back, so two clean reports mean both
  directions arrived complete and in order.  ``duplex_received`` (count of the remote's
  messages received, and how many arrived out of order) is added to the report.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .test_protocol import TestOptions, TestProtocol


@dataclass(frozen=True)
class StressOptions(TestOptions):
    """TestOptions plus ``filler`` ("random" or "zero") and ``duplex``."""

    filler: str = "random"
    duplex: bool = False

    def __post_init__(self):
        if self.filler not in ("random", "zero"):
            raise ValueError(f"filler must be random or zero, got {self.filler!r}")


@dataclass(frozen=True)
class TickOptions(TestOptions):
    """TestOptions plus ``tick_count`` (messages) and ``tick_s`` (seconds between them)."""

    tick_count: int = field(default=0, metadata={"min": 0})
    tick_s: float = field(default=0.001, metadata={"min": 0})


class StressTestProtocol(TestProtocol):
    """test/1 with a compressible filler and a full-duplex mode (see the module docstring)."""

    __test__ = False
    Options = StressOptions

    def started(self):
        self.zero_filler = self.options.filler == "zero"
        self.duplex = self.options.duplex
        self.remote_received = 0
        self.remote_out_of_order = 0
        if self.duplex and self.length < 2:
            raise ValueError("duplex mode needs a protocol length of at least 2")
        super().started()

    def _payload(self, seq: int) -> bytes:
        if not self.zero_filler or self.size < 8:
            return super()._payload(seq)
        return seq.to_bytes(8, "big") + bytes(self.size - 8)

    def _code(self, seq: int) -> int:
        if not self.duplex:
            return super()._code(seq)
        return 2 * (seq % (self.length // 2))

    def received(self, code, payload):
        if not self.duplex:
            super().received(code, payload)
            return
        self.received_count += 1
        if code % 2 == 0:
            # the remote's own message: must arrive in order; echo it on the odd code
            if int.from_bytes(payload[:8], "big") != self.remote_received:
                self.remote_out_of_order += 1
            self.remote_received += 1
            self.send_data(code + 1, payload)
        elif self.count:
            self._on_echo(code - 1, payload)
        else:
            self.mismatches += 1  # an echo although we sent nothing

    def emit(self, kind, data):
        if kind == "test_report" and getattr(self, "duplex", False):
            data = dict(data, duplex_received={"count": self.remote_received,
                                               "out_of_order": self.remote_out_of_order})
        super().emit(kind, data)


class TickSenderProtocol(TestProtocol):
    """Sends one message (code 0, 8-byte sequence number) per timer tick, one handler each, and
    never needs anything back: options ``tick_count`` (messages) and ``tick_s`` (seconds between
    them).  Each send is its own FromProtocol batch, so with a silent remote the Peer's outbound
    credit must come as explicit OutboundCredit messages (no ToProtocol to ride on)."""

    __test__ = False

    Options = TickOptions

    def started(self):
        super().started()
        self.tick_count = self.options.tick_count
        self.tick_s = self.options.tick_s
        self.ticks = 0
        if self.tick_count:
            self.after("tick", self.tick_s)

    def received(self, code, payload):
        pass

    def on_timer(self, name):
        if name == "tick" and self.running and self.ticks < self.tick_count:
            self.send_data(0, self.ticks.to_bytes(8, "big"))
            self.ticks += 1
            if self.ticks < self.tick_count:
                self.after("tick", self.tick_s)


class FailingProtocol(TestProtocol):
    """A test protocol whose ``started`` always raises: under the restart policy it must reach
    its restart intensity and get the peer dropped, not be retried forever."""

    def started(self):
        raise RuntimeError("FailingProtocol fails on every start, on purpose")
