"""Fault injection and supervision events (issue: supervision and restart testing)."""

from __future__ import annotations

from dataclasses import dataclass

FAULT_MODES = ("raise", "exit", "kill")
"""``raise``: the actor's next handler raises; ``exit``: the actor stops itself
(ActorExitRequest); ``kill``: SIGKILL of the actor's process."""


@dataclass(frozen=True)
class FaultRequest:
    """-> Server: inject ``mode`` into ``target``: "listener", "dialer", "peer:<node id prefix>"
    or "protocol:<node id prefix>:<protocol name>".  Reply: AdminResult."""

    target: str
    mode: str


@dataclass(frozen=True)
class InjectFault:
    """Server -> child (or Peer -> Protocol when ``protocol`` is set): apply ``mode`` now."""

    mode: str
    protocol: str | None = None


@dataclass(frozen=True)
class SupervisionEvent:
    """Peer -> Server: a supervision event about one of its Protocol actors, published as
    ``kind`` ("actor_exited", "actor_restarted", "restart_limit_reached") with ``data``."""

    kind: str
    data: dict


@dataclass(frozen=True)
class ActorPid:
    """Listener/Dialer -> Server on start: the child's process id, so the parent can check
    liveness in /proc itself: a ChildActorExited can be lost, and a message to a dead child
    whose socket Thespian had open is only retried after 35 s (TransmitIntent.retry), so a
    dead-letter probe alone can take that long.  Peers and Protocol actors do not send it:
    their creator reads their pid from Thespian's record of its children
    (``NodeActor.child_pid``)."""

    pid: int
    role: str = ""
