"""The Server's permanent children (the Listener and the Dialer) under their restart policies
(Erlang/OTP one-for-one supervision; docs/supervision.md).

A slot holds the current incarnation's address and pid; an exit notice for it (from
ChildActorExited or the liveness sweep, which may both report the same death) yields the
decision of :class:`node.supervision.ChildSupervisor` and the event records to publish.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from config.model import RestartPolicy
from messages.events import ActorExited, ActorRestarted, RestartLimitReached

from .supervision import ChildSupervisor, Decision


@dataclass
class Slot:
    """One permanent child: its supervisor, current address and pid, the fault injected into it
    (its exit's cause), and the restart that is scheduled."""

    sup: ChildSupervisor
    addr: object = None
    pid: int | None = None
    injected: str | None = None
    scheduled: Decision | None = None


@dataclass(frozen=True)
class Exit:
    """What an exit notice means: ``decision`` ("restart" after ``delay_s``, "give_up", or
    "duplicate": nothing to do) and the event records to publish, in order."""

    decision: Decision
    events: tuple = field(default=())


class Children:
    """The slots named by ``policies`` (e.g. {"listener": RestartPolicy, "dialer": ...})."""

    def __init__(self, policies: dict[str, RestartPolicy]):
        self.slots = {name: Slot(ChildSupervisor(policy)) for name, policy in policies.items()}

    def started(self, name: str, addr) -> None:
        """A new incarnation of ``name`` runs at ``addr`` (its pid is not known yet)."""
        slot = self.slots[name]
        slot.addr, slot.pid, slot.scheduled = addr, None, None
        slot.sup.started()

    def set_pid(self, name: str, addr, pid: int) -> None:
        """The incarnation at ``addr`` reported its pid (ignored from an older one)."""
        slot = self.slots[name]
        if slot.addr is not None and slot.addr == addr:
            slot.pid = pid

    def which(self, addr) -> str | None:
        """The slot whose current child is at ``addr``, or None."""
        for name, slot in self.slots.items():
            if slot.addr is not None and slot.addr == addr:
                return name
        return None

    def inject(self, name: str, mode: str) -> None:
        """A fault is being injected into ``name``: its coming exit is caused by that."""
        self.slots[name].injected = f"injected {mode}"

    def exited(self, name: str, how: str, now: float) -> Exit:
        """The current child of ``name`` is gone (``how``: "exited", "found dead by liveness
        check"); ``now`` in monotonic seconds."""
        slot = self.slots[name]
        slot.addr, slot.pid = None, None
        cause = slot.injected or how
        slot.injected = None
        decision = slot.sup.exited(slot.sup.incarnation, True, now)
        if decision.action == "duplicate":
            return Exit(decision)
        events: list = [ActorExited(name, cause)]
        if decision.action == "restart":
            slot.scheduled = decision
        elif decision.action == "give_up":
            events.append(RestartLimitReached(name, decision.attempt - 1, slot.sup.policy.within_s))
        return Exit(decision, tuple(events))

    def restarted(self, name: str) -> ActorRestarted:
        """The ``actor_restarted`` record of the restart that was scheduled for ``name``."""
        decision = self.slots[name].scheduled
        return ActorRestarted(name, decision.attempt if decision else 0, decision.delay_s if decision else 0.0)
