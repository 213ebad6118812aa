"""Restart strategies as plain classes (Erlang/OTP supervisor semantics, the reference the
DESIGN names; Thespian itself only reports ``ChildActorExited``).

* restart type per child: ``permanent`` (always restarted), ``transient`` (restarted only after
  an abnormal exit), ``temporary`` (never restarted);
* intensity: at most ``max_restarts`` restarts within ``within_s`` seconds; one more exit in
  that window gives up (the failure goes to the parent: OTP's ``MaxR``/``MaxT``);
* exponential backoff between restarts: ``backoff_s * 2**(n-1)`` capped at ``backoff_max_s``,
  where n counts the restarts still inside the intensity window.

All times are ``time.monotonic()`` seconds.  :class:`ChildSupervisor` de-duplicates exit
notices (docs/thespian-facts.md §3: ``ChildActorExited`` can arrive up to three times) by the child's
incarnation number.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from config.model import TEMPORARY, TRANSIENT, RestartPolicy


@dataclass(frozen=True)
class Decision:
    """What to do about an exit: ``action`` is "restart" (after ``delay_s``; ``attempt`` counts
    restarts inside the window), "give_up" (intensity exceeded), "none" (temporary child, or a
    transient child that ended normally) or "duplicate" (already handled)."""

    action: str
    delay_s: float = 0.0
    attempt: int = 0


@dataclass
class ChildSupervisor:
    """Supervision state of one child slot (e.g. "listener", or one protocol of one peer)."""

    policy: RestartPolicy
    incarnation: int = 0
    handled: set = field(default_factory=set)
    restarts: list = field(default_factory=list)  # times of restarts inside the window

    def started(self) -> int:
        """A new incarnation of the child started; returns its number."""
        self.incarnation += 1
        return self.incarnation

    def exited(self, incarnation: int, abnormal: bool, now: float) -> Decision:
        """The child's incarnation ``incarnation`` exited (``abnormal``: crashed or killed)."""
        if incarnation in self.handled or incarnation != self.incarnation:
            return Decision("duplicate")
        self.handled.add(incarnation)
        p = self.policy
        if p.restart == TEMPORARY or (p.restart == TRANSIENT and not abnormal):
            return Decision("none")
        self.restarts = [t for t in self.restarts if now - t < p.within_s]
        if len(self.restarts) >= p.max_restarts:
            return Decision("give_up", attempt=len(self.restarts) + 1)
        self.restarts.append(now)
        n = len(self.restarts)
        delay = min(p.backoff_max_s, p.backoff_s * 2 ** (n - 1)) if p.backoff_s > 0 else 0.0
        return Decision("restart", delay, n)
