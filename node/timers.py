"""Logical timers over one Thespian tick (docs/thespian-facts.md §4: ``wakeupAfter`` has no cancel,
scheduling many is O(n^2), coinciding expiries arrive in reverse order).

:class:`Timers` keeps named deadlines in a heap; setting a name again replaces it, and
cancelled or replaced entries are skipped lazily.  Times are ``time.monotonic()`` seconds.
"""

from __future__ import annotations

import heapq
import itertools


class Timers:
    """Named one-shot deadlines: ``set(name, at)``, ``cancel(name)``, ``pop_due(now)``, ``next_deadline()``."""

    def __init__(self):
        self._heap: list[tuple[float, int, str]] = []
        self._live: dict[str, int] = {}
        self._seq = itertools.count()

    def set(self, name: str, at: float) -> None:
        """Schedule ``name`` at absolute monotonic time ``at`` (replacing an earlier setting)."""
        seq = next(self._seq)
        self._live[name] = seq
        heapq.heappush(self._heap, (at, seq, name))

    def cancel(self, name: str) -> None:
        """Forget ``name`` if scheduled."""
        self._live.pop(name, None)

    def is_set(self, name: str) -> bool:
        """True if ``name`` is scheduled: set and neither cancelled nor returned by :meth:`pop_due`."""
        return name in self._live

    def _prune(self) -> None:
        heap = self._heap
        while heap and self._live.get(heap[0][2]) != heap[0][1]:
            heapq.heappop(heap)

    def next_deadline(self) -> float | None:
        """Earliest live deadline, or None."""
        self._prune()
        return self._heap[0][0] if self._heap else None

    def pop_due(self, now: float) -> list[str]:
        """Remove and return the names due at ``now``, earliest first."""
        due = []
        while True:
            self._prune()
            if not self._heap or self._heap[0][0] > now:
                return due
            _, _, name = heapq.heappop(self._heap)
            del self._live[name]
            due.append(name)
