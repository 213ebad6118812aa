"""Traffic counters of one connection, or of a node: wire bytes and subprotocol packets.

The counts go-ethereum meters in p2p/metrics.go (``p2p/ingress``, ``p2p/egress``: bytes on the
wire) and p2p/transport.go (``p2p/ingress/<name>/<version>/<code>`` and ``.../packets``: one
meter pair per subprotocol message code, the code relative to the protocol's offset).
"""

from __future__ import annotations

from operator import itemgetter

_code, _payload = itemgetter(0), itemgetter(1)


class Traffic:
    """Counters, all monotonic.

    ``wire_in`` / ``wire_out``: bytes read from / written to the socket after the RLPx
    handshake.  ``packets``: ``{(direction, "name/version", relative code): [messages, payload
    bytes]}``, direction "ingress" or "egress"; payload bytes are the decompressed message data
    (go-ethereum meters ``msg.Size`` the same way).
    """

    __slots__ = ("wire_in", "wire_out", "packets")

    def __init__(self):
        self.wire_in = 0
        self.wire_out = 0
        self.packets: dict[tuple, list] = {}

    def count(self, direction: str, cap: str, msgs) -> None:
        """Count ``msgs``, a sequence of ``(relative code, payload bytes)``, of capability ``cap``
        ("eth/69") in ``direction``.  Per batch: a batch of one code (one message, or an echo's
        or a bulk transfer's run) is one row update, its sizes summed in C; only a batch of
        several codes is counted message by message."""
        packets = self.packets
        if len(msgs) == 1:
            code, payload = msgs[0]
            n, size = 1, len(payload)
        elif len(set(map(_code, msgs))) == 1:
            code, n, size = msgs[0][0], len(msgs), sum(map(len, map(_payload, msgs)))
        else:
            for code, payload in msgs:
                key = (direction, cap, code)
                row = packets.get(key)
                if row is None:
                    row = packets[key] = [0, 0]
                row[0] += 1
                row[1] += len(payload)
            return
        key = (direction, cap, code)
        row = packets.get(key)
        if row is None:
            row = packets[key] = [0, 0]
        row[0] += n
        row[1] += size

    def snapshot(self) -> tuple:
        """A picklable copy: ``(wire_in, wire_out, ((direction, cap, code, messages, bytes), ...))``."""
        return (self.wire_in, self.wire_out,
                tuple((d, cap, code, n, b) for (d, cap, code), (n, b) in self.packets.items()))

    def add(self, snap: tuple) -> None:
        """Add a :meth:`snapshot` (of a connection that has ended) to these counters."""
        wire_in, wire_out, rows = snap
        self.wire_in += wire_in
        self.wire_out += wire_out
        packets = self.packets
        for d, cap, code, n, b in rows:
            row = packets.setdefault((d, cap, code), [0, 0])
            row[0] += n
            row[1] += b

    @classmethod
    def total(cls, base: "Traffic", snaps) -> "Traffic":
        """A new Traffic: ``base`` plus every snapshot in ``snaps`` (live connections)."""
        t = cls()
        t.add(base.snapshot())
        for snap in snaps:
            t.add(snap)
        return t
