"""Questions the Server answers only when every peer has replied: admin_peers (go-ethereum
p2p/server.go ``PeersInfo``) and a metrics scrape, each also answered after a timeout with
what is known."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class InfoRequest:
    """One open question: who asked (``asker``), ``kind`` ("peers" or "metrics"), the asker's
    ``tag``, and the ``waiting`` keys (peer record keys, "discovery") not yet answered."""

    asker: object
    kind: str
    tag: int
    waiting: set


class InfoRequests:
    """The open questions, by request id (an int, unique for the Server's life)."""

    def __init__(self):
        self.open: dict[int, InfoRequest] = {}
        self._next = 0

    def new(self, asker, kind: str, tag: int, waiting) -> int:
        """Open a question waiting for ``waiting``; returns its id."""
        self._next += 1
        self.open[self._next] = InfoRequest(asker, kind, tag, set(waiting))
        return self._next

    def arrived(self, request_id: int, key) -> bool:
        """``key`` answered question ``request_id``: True when nothing is waited for any more."""
        req = self.open.get(request_id)
        if req is None:
            return False
        req.waiting.discard(key)
        return not req.waiting

    def gone(self, key) -> list[int]:
        """``key`` will never answer (its peer ended): the ids of the questions now complete."""
        done = []
        for request_id, req in self.open.items():
            req.waiting.discard(key)
            if not req.waiting:
                done.append(request_id)
        return done

    def complete(self, request_id: int) -> bool:
        """Whether question ``request_id`` waits for nothing (True also when it is new and empty)."""
        req = self.open.get(request_id)
        return req is not None and not req.waiting

    def close(self, request_id: int) -> InfoRequest | None:
        """Forget question ``request_id`` (answered or timed out); None if it is not open."""
        return self.open.pop(request_id, None)
