"""Starting and stopping the actor system and nodes (multiprocTCPBase).

Every process that starts or joins a system first goes through :func:`actors.adapter.install`
(the Thespian version check and every adaptation, including binding Thespian's sockets to
``bind``, loopback by default: docs/thespian.md, README.md "Security").
"""

from __future__ import annotations

import logging
import os
import socket

from thespian.actors import ActorSystem

from .adapter import install

from messages.lifecycle import BeginDialing, NodeStarted, NodeStopped, StartFailed, StartServer, StopNode

DEFAULT_BIND = "127.0.0.1"
"""Where Thespian sockets listen unless configured otherwise (loopback: never exposed)."""

class NodeStartError(RuntimeError):
    """A node (or the actor system) could not start; the message is one line for the user."""


def port_in_use(host: str, port: int) -> bool:
    """True if ``host:port`` cannot be bound (another process listens there).

    SO_REUSEADDR as the real listeners use it, so connections in TIME_WAIT do not count.
    """
    s = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        s.bind((host, port))
        return False
    except OSError:
        return True
    finally:
        s.close()


LOG_FORMAT = "%(asctime)s %(levelname)s %(message)s"
"""Log lines for files and pipes; a terminal gets :class:`node.console.TerminalFormatter`'s."""


def log_defs(level: str = "INFO", filename: str | None = None, terminal: bool = False) -> dict:
    """logging dictConfig for Thespian's logger process: records at ``level`` and above to stderr
    (or ``filename``), one line each, in go-ethereum's terminal style with ``terminal``."""
    handler = {"class": "logging.StreamHandler", "formatter": "line", "level": level}
    if filename:
        handler = {"class": "logging.FileHandler", "filename": filename, "formatter": "line", "level": level}
    line = {"()": "node.console.TerminalFormatter"} if terminal else {"format": LOG_FORMAT}
    return {
        "version": 1,
        "formatters": {"line": line},
        "handlers": {"main": handler},
        "root": {"handlers": ["main"], "level": level},
        "disable_existing_loggers": False,
    }


def start_actor_system(admin_port: int, bind: str = DEFAULT_BIND, level: str = "INFO",
                       log_file: str | None = None, terminal: bool = False, allow=(),
                       capabilities: dict | None = None) -> ActorSystem:
    """Start a fresh multiprocTCPBase system on ``bind:admin_port``; its actor ports accept
    connections only from this uid on this host or from ``allow`` (``actor_system.allow``,
    docs/security.md).  ``capabilities``: more Thespian capabilities (multi-host: the host's
    name, and on a member the leader's "Convention Address.IPv4", docs/multi-host.md).

    Refuses (:class:`NodeStartError`) when the admin port is taken: Thespian would otherwise
    silently join the other system and run its stale code (docs/thespian-facts.md §7).
    """
    if port_in_use(bind, admin_port):
        raise NodeStartError(f"actor system admin port {bind}:{admin_port} is already in use")
    install(bind, allow)
    logging.getLogger("devp2p").setLevel(level)
    before = set(child_pids(os.getpid()))
    caps = {"Admin Port": admin_port}
    caps.update(capabilities or {})
    asys = ActorSystem("multiprocTCPBase", caps, logDefs=log_defs(level, log_file, terminal), transientUnique=True)
    reap_new_children(before)
    return asys


def child_pids(pid: int) -> list[int]:
    """The child processes of ``pid`` (any state), from /proc/<pid>/task/*/children."""
    out: list[int] = []
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return out
    for task in tasks:
        try:
            with open(f"/proc/{pid}/task/{task}/children") as f:
                out += [int(c) for c in f.read().split()]
        except OSError:
            continue
    return out


REAP_WAIT_S = 2.0
"""How long :func:`reap_new_children` waits for the admin's launcher process to exit, seconds."""


def reap_new_children(before: set[int], wait_s: float = REAP_WAIT_S) -> list[int]:
    """Reap the children of this process that are not in ``before``; return the pids reaped.

    Thespian 4.0.1 starts its admin as a ``multiprocessing.Process`` that forks the real admin
    and exits at once (``multiprocCommon.startAdmin``), then drops it from multiprocessing's
    records (``detach_child``), so nobody waits for it: without this it stays a zombie child of
    the starting process for the system's whole life.  Only the children that appeared during
    the ``ActorSystem()`` call are waited for, each with ``WNOHANG`` for at most ``wait_s``.
    """
    import time as _time

    reaped = []
    deadline = _time.monotonic() + wait_s
    for pid in set(child_pids(os.getpid())) - before:
        while True:
            try:
                done, _ = os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                break  # reaped elsewhere (or not our child after all)
            if done:
                reaped.append(pid)
                break
            if _time.monotonic() >= deadline:
                break
            _time.sleep(0.005)
    return reaped


def server_global_name(node_name: str) -> str:
    """Thespian globalName of a node's Server, used by admin commands to find it."""
    return f"devp2p-server-{node_name}"


def start_node(asys: ActorSystem, config, timeout_s: float = 15.0, subscribers=(), register: bool = False,
               hold_dials: bool = False):
    """Create a Server actor for ``config`` and wait for it to listen.

    ``subscribers``: actor addresses that get every event from the start; ``register``: make the
    Server findable by :func:`server_global_name` (for admin commands from another process);
    ``hold_dials``: dial nothing until :func:`begin_dialing`.
    Returns ``(server address, NodeStarted)``; raises :class:`NodeStartError`.
    """
    from actors.server import Server

    if register:
        server = asys.createActor(Server, globalName=server_global_name(config.name))
    else:
        server = asys.createActor(Server)
    reply = asys.ask(server, StartServer(config, tuple(subscribers), hold_dials), timeout_s)
    if isinstance(reply, NodeStarted):
        return server, reply
    if isinstance(reply, StartFailed):
        asys.tell(server, _exit())
        raise NodeStartError(f"node {config.name}: {reply.error}")
    asys.tell(server, _exit())
    raise NodeStartError(f"node {config.name}: no answer from the Server within {timeout_s} s ({reply!r})")


def begin_dialing(asys: ActorSystem, server) -> None:
    """Let a node started with ``hold_dials`` dial: once every node of a file listens, none of
    them dials a sibling that is not listening yet (a refused dial waits out the dial history)."""
    asys.tell(server, BeginDialing())


def join_actor_system(admin_port: int, bind: str = DEFAULT_BIND, allow=()) -> ActorSystem:
    """Connect to the running actor system on ``bind:admin_port`` (for admin commands).

    Raises :class:`NodeStartError` when nothing listens there, instead of starting a new system.
    Never call ``shutdown()`` on the result: that would stop the running node.
    """
    if not port_in_use(bind, admin_port):
        raise NodeStartError(f"no node is running with actor system admin port {bind}:{admin_port}")
    install(bind, allow)
    return ActorSystem("multiprocTCPBase", {"Admin Port": admin_port}, logDefs=False, transientUnique=True)


def stop_node(asys: ActorSystem, server, timeout_s: float = 10.0) -> NodeStopped | None:
    """Disconnect every peer of the node with QUITTING and stop its actors; return NodeStopped or None."""
    reply = asys.ask(server, StopNode(), timeout_s)
    asys.tell(server, _exit())
    return reply if isinstance(reply, NodeStopped) else None


def _exit():
    from thespian.actors import ActorExitRequest
    return ActorExitRequest()


def system_pgid(asys: ActorSystem, timeout_s: float = 5.0) -> int | None:
    """Process group of the running system's admin and actors (docs/thespian-facts.md §7), or None."""
    from thespian.actors import ActorExitRequest

    from .adapter.probe import PgidProbe

    probe = asys.createActor(PgidProbe)
    pgid = asys.ask(probe, "pgid", timeout_s)
    asys.tell(probe, ActorExitRequest())
    return pgid if isinstance(pgid, int) else None


def live_group_members(pgid: int) -> list[int]:
    """PIDs in process group ``pgid`` that are alive (zombies excluded: where PID 1 does not
    reap orphans, as in some containers, dead actor processes linger as zombies)."""
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()
        state, group = fields[0], int(fields[2])
        if group == pgid and state not in ("Z", "X"):
            pids.append(int(entry))
    return pids


def reap_process_group(pgid: int | None, wait_s: float = 3.0) -> list[int]:
    """After ``shutdown()``: wait up to ``wait_s`` for the system's processes to exit, then SIGKILL
    what is left of its process group.  Returns the PIDs that had to be killed (empty if none)."""
    import signal
    import time as _time

    if not pgid or pgid == os.getpgid(0):
        return []
    deadline = _time.monotonic() + wait_s
    while True:
        left = live_group_members(pgid)
        if not left:
            return []
        if _time.monotonic() >= deadline:
            break
        _time.sleep(0.05)
    try:
        os.killpg(pgid, signal.SIGKILL)
    except ProcessLookupError:
        return []
    deadline = _time.monotonic() + 3.0
    while live_group_members(pgid) and _time.monotonic() < deadline:
        _time.sleep(0.05)
    return left
