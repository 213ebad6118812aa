"""The ``test`` subprotocol, version 1: 8 message codes, payloads are raw bytes (no RLP).

Options (from the node config's ``protocols`` entry):

* ``echo`` (bool, default True): send every received message back, same code, same payload;
* ``send_count`` (int, default 0) and ``send_size`` (bytes, default 100): on start, send that
  many messages (codes cycling 0..7, payload = 8-byte big-endian sequence number followed by
  pseudo-random bytes), at most ``window`` (default 256) un-echoed at a time, and once every
  echo is back publish a ``test_report`` event: count, elapsed_s, msgs_per_s, mb_per_s,
  mismatches (echoes that differ from what was sent or arrive out of order);
* ``report_received`` (bool, default False): publish a ``received`` event per message
  (code and payload length) - for tests of routing, not for traffic;
* ``repeat_every_s`` (number, default 0 = never): start the counted send again this many
  seconds after each report (the default config uses it to show continuous traffic);
* ``rtt`` (bool, default False): time every message from its send to its echo and add
  ``rtt_ms`` (count, min, median, p99, max, mean in milliseconds) to the ``test_report``;
  with ``window`` 1 these are sequential round trips on the established connection.

A side with ``send_count`` > 0 is the sender: every message it receives is taken as an echo
of its own and never echoed again, so two echoing peers cannot bounce a message forever.
Echoes are matched by the sequence number in their first 8 bytes: one that arrives again is
counted in ``duplicates`` (a restarted Protocol actor on the echoing side may be handed a
batch its predecessor processed but had not acknowledged), one that never arrives or arrives
changed or out of order is a ``mismatch``.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from .api import Protocol, raw_messages

LENGTH = 8
"""Message codes of test/1."""

MESSAGES = raw_messages("Data", LENGTH)
"""test/1's messages: ``Data0`` .. ``Data7``, raw payloads; every code is handled alike."""


@dataclass(frozen=True)
class TestOptions:
    """test/1's options (see the module docstring)."""

    __test__ = False
    echo: bool = True
    send_count: int = field(default=0, metadata={"min": 0})
    send_size: int = field(default=100, metadata={"min": 0})
    window: int = field(default=256, metadata={"min": 1})
    report_received: bool = False
    repeat_every_s: float = field(default=0.0, metadata={"min": 0})
    rtt: bool = False


def _rtt_summary(rtts: list[float]) -> dict:
    """count, min, median, p99 (nearest rank), max and mean of ``rtts`` (seconds), in ms."""
    if not rtts:
        return {"count": 0}
    xs = sorted(rtts)
    n = len(xs)
    ms = lambda x: round(x * 1000, 4)  # noqa: E731
    return {"count": n, "min": ms(xs[0]), "median": ms(xs[n // 2] if n % 2 else (xs[n // 2 - 1] + xs[n // 2]) / 2),
            "p99": ms(xs[min(n - 1, max(0, -(-99 * n // 100) - 1))]), "max": ms(xs[-1]), "mean": ms(sum(xs) / n)}


class TestProtocol(Protocol):
    """test/1: echo and a counted send with a report."""

    __test__ = False  # not a pytest test class
    NAME, VERSION, LENGTH = "test", 1, LENGTH
    MESSAGES = MESSAGES
    Options = TestOptions

    def started(self):
        opts = self.options
        self.echo = opts.echo
        self.report_received = opts.report_received
        self.count = opts.send_count
        self.size = opts.send_size
        self.window = opts.window
        self.repeat_every_s = opts.repeat_every_s
        self.rtt = opts.rtt
        self._sent_at: dict[int, float] = {}
        self._rtts: list[float] = []
        self.round = 0
        self.next_seq = 0
        self.expect_seq = 0
        self.outstanding: dict[int, bytes] = {}
        self.mismatches = 0
        self.duplicates = 0
        self.echoed = 0
        self.received_count = 0
        self.started_at = self.now()
        self._rng = random.Random(0x7e57)
        self._filler = self._rng.randbytes(max(self.size, 8))
        if self.count:
            self._send_more()

    def _new_round(self):
        self.round += 1
        self.next_seq = self.expect_seq = self.echoed = self.mismatches = self.duplicates = 0
        self.outstanding.clear()
        self._sent_at.clear()
        self._rtts.clear()
        self.started_at = self.now()
        self._send_more()

    def on_timer(self, name):
        if name == "repeat" and self.running:
            self._new_round()

    def _payload(self, seq: int) -> bytes:
        if self.size < 8:
            return seq.to_bytes(8, "big")[8 - self.size:]
        rot = seq % 251
        body = self._filler[rot:self.size - 8] + self._filler[:rot]
        return seq.to_bytes(8, "big") + body[:self.size - 8]

    def _code(self, seq: int) -> int:
        """Relative code of message ``seq``: cycles over ``min(length, len(MESSAGES))``, so every
        code stays inside the length a ProtocolConfig gives, even one below 8."""
        return seq % min(self.length, len(self.MESSAGES))

    def _send_more(self):
        while self.next_seq < self.count and len(self.outstanding) < self.window:
            seq = self.next_seq
            payload = self._payload(seq)
            self.outstanding[seq] = payload
            if self.rtt:
                self._sent_at[seq] = self.now()
            self.send_data(self._code(seq), payload)
            self.next_seq += 1

    def send_data(self, code: int, payload: bytes) -> None:
        """Send ``payload`` on relative ``code`` (test/1 treats every code alike)."""
        if code >= len(self.MESSAGES):
            raise ValueError(f"test/1 has {len(self.MESSAGES)} codes, not {code + 1}")
        self.send(self.MESSAGES[code](payload))

    def on_message(self, msg):
        self.received(msg.CODE, msg.payload)

    def received(self, code: int, payload: bytes) -> None:
        """One message on relative ``code``: echo it, or take it as the echo of ours."""
        self.received_count += 1
        if self.report_received:
            self.emit("received", {"code": code, "size": len(payload), "head": payload[:16].hex()})
        if self.count:
            self._on_echo(code, payload)
        elif self.echo:
            self.send_data(code, payload)

    def _on_echo(self, code, payload):
        seq = self.expect_seq
        if self.size >= 8 and len(payload) >= 8:
            got = int.from_bytes(payload[:8], "big")
            if got < seq and got not in self.outstanding:
                # an echo seen before: a Protocol actor restarted on the other side and was handed
                # the batch its dead predecessor had processed but not acknowledged (at-least-once)
                self.duplicates += 1
                return
            while seq < got and seq in self.outstanding:  # echoes that never came: lost
                self.outstanding.pop(seq)
                self.mismatches += 1
                self.expect_seq = seq = seq + 1
                self.echoed += 1
        if self.rtt:
            sent_at = self._sent_at.pop(seq, None)
            if sent_at is not None:
                self._rtts.append(self.now() - sent_at)
        want = self.outstanding.pop(seq, None)
        if want is None or payload != want or code != self._code(seq):
            self.mismatches += 1
        self.expect_seq += 1
        self.echoed += 1
        if self.echoed == self.count:
            elapsed = self.now() - self.started_at
            total = self.count * self.size
            report = {
                "count": self.count, "size": self.size, "elapsed_s": round(elapsed, 6),
                "msgs_per_s": round(self.count / elapsed, 1) if elapsed > 0 else None,
                "mb_per_s": round(total / elapsed / 1e6, 3) if elapsed > 0 else None,
                "mismatches": self.mismatches + len(self.outstanding), "duplicates": self.duplicates,
                "round": self.round,
            }
            if self.rtt:
                report["rtt_ms"] = _rtt_summary(self._rtts)
            self.emit("test_report", report)
            if self.repeat_every_s > 0:
                self.after("repeat", self.repeat_every_s)
        else:
            self._send_more()

    def peer_info(self):
        return {"version": self.version, "echo": self.echo, "received": self.received_count}
