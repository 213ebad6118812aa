"""Starting and stopping the actor system and nodes (multiprocTCPBase).

Security (DESIGN.md, THESPIAN_FACTS §2/§9): Thespian binds every transport socket to 0.0.0.0
and unpickles whatever arrives, so by default the node binds all of them to loopback.
:func:`bind_thespian_to` patches ``IPActorAddress.bindArgs`` (Thespian 4.0.1,
thespian/system/transport/IPBase.py) so that sockets bind to the advertised address instead
of ``''``; with ``THESPIAN_BASE_IPADDR`` set to the same address, every actor, the admin and
the logger listen there only.  The patch is applied in the launching process before the
system starts; actor processes are forked from it and inherit it.
"""

from __future__ import annotations

import logging
import os
import socket

from thespian.actors import ActorSystem

from messages.lifecycle import NodeStarted, NodeStopped, StartFailed, StartServer, StopNode

DEFAULT_BIND = "127.0.0.1"
"""Where Thespian sockets listen unless configured otherwise (loopback: never exposed)."""

_patched_host: str | None = None


def bind_thespian_to(host: str = DEFAULT_BIND) -> None:
    """Make every Thespian socket created from now on in this process (and its forks) bind
    to ``host`` instead of all interfaces; set ``THESPIAN_BASE_IPADDR`` to it."""
    global _patched_host
    from thespian.system.transport import IPBase

    os.environ["THESPIAN_BASE_IPADDR"] = host
    if _patched_host is None:
        def bind_args(self):
            name = self.bindname
            if name and name[0] == "" and _patched_host:
                return ((_patched_host,) + tuple(name[1:]),)
            return (name,)

        IPBase.IPActorAddress.bindArgs = property(bind_args)
    _patched_host = host


class NodeStartError(RuntimeError):
    """A node (or the actor system) could not start; the message is one line for the user."""


def port_in_use(host: str, port: int) -> bool:
    """True if ``host:port`` cannot be bound (another process listens there)."""
    s = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.bind((host, port))
        return False
    except OSError:
        return True
    finally:
        s.close()


def log_defs(level: str = "INFO", filename: str | None = None) -> dict:
    """logging dictConfig for Thespian's logger process: records at ``level`` and above to stderr
    (or ``filename``), one line each."""
    handler = {"class": "logging.StreamHandler", "formatter": "line", "level": level}
    if filename:
        handler = {"class": "logging.FileHandler", "filename": filename, "formatter": "line", "level": level}
    return {
        "version": 1,
        "formatters": {"line": {"format": "%(asctime)s %(levelname)s %(message)s"}},
        "handlers": {"main": handler},
        "root": {"handlers": ["main"], "level": level},
        "disable_existing_loggers": False,
    }


def start_actor_system(admin_port: int, bind: str = DEFAULT_BIND, level: str = "INFO",
                       log_file: str | None = None) -> ActorSystem:
    """Start a fresh multiprocTCPBase system on ``bind:admin_port``.

    Refuses (:class:`NodeStartError`) when the admin port is taken: Thespian would otherwise
    silently join the other system and run its stale code (THESPIAN_FACTS §7).
    """
    if port_in_use(bind, admin_port):
        raise NodeStartError(f"actor system admin port {bind}:{admin_port} is already in use")
    bind_thespian_to(bind)
    logging.getLogger("devp2p").setLevel(level)
    return ActorSystem("multiprocTCPBase", {"Admin Port": admin_port}, logDefs=log_defs(level, log_file),
                       transientUnique=True)


def start_node(asys: ActorSystem, config, timeout_s: float = 15.0):
    """Create a Server actor for ``config`` and wait for it to listen.

    Returns ``(server address, NodeStarted)``; raises :class:`NodeStartError`.
    """
    from actors.server import Server

    server = asys.createActor(Server)
    reply = asys.ask(server, StartServer(config), timeout_s)
    if isinstance(reply, NodeStarted):
        return server, reply
    if isinstance(reply, StartFailed):
        asys.tell(server, _exit())
        raise NodeStartError(f"node {config.name}: {reply.error}")
    asys.tell(server, _exit())
    raise NodeStartError(f"node {config.name}: no answer from the Server within {timeout_s} s ({reply!r})")


def stop_node(asys: ActorSystem, server, timeout_s: float = 10.0) -> NodeStopped | None:
    """Disconnect every peer of the node with QUITTING and stop its actors; return NodeStopped or None."""
    reply = asys.ask(server, StopNode(), timeout_s)
    asys.tell(server, _exit())
    return reply if isinstance(reply, NodeStopped) else None


def _exit():
    from thespian.actors import ActorExitRequest
    return ActorExitRequest()
