#!/usr/bin/env python3
"""thespian-devp2p command line.

Run nodes (foreground, until SIGINT/SIGTERM, or ``--duration`` seconds)::

    python run_node.py [--config FILE] [--events FILE|-] [--log-level LEVEL] [--duration S]

Events go to ``--events`` as JSON Lines (default: stdout); a terminal on stdout gets one
readable line per event instead (go-ethereum's log style), besides any ``--events FILE``.

Without ``--config`` the built-in default (config/default.yaml) runs: two local nodes that
connect and exchange test/1 messages.

Admin commands against a running node, from another shell (JSON on stdout, in the shapes of
go-ethereum's admin_peers / admin_nodeInfo)::

    python run_node.py peers --config FILE [--node NAME]
    python run_node.py info  --config FILE [--node NAME]
    python run_node.py add-peer|remove-peer|add-trusted|remove-trusted ENODE --config FILE [--node NAME]
    python run_node.py fault TARGET MODE --config FILE [--node NAME]
        TARGET: spawner, listener, dialer, discovery, http, peer:<node id prefix>, protocol:<node id prefix>:<protocol name>
        MODE:   raise (next handler raises), exit (the actor stops itself), kill (SIGKILL)

Multi-host (a ``hosts:`` section; docs/multi-host.md): ``run`` on the leader host runs the
convention leader and that host's nodes; on every other host::

    python run_node.py join --config FILE --host NAME [--leader ADDR:PORT] [--duration S]

joins it, and the leader starts that host's nodes there.  Admin commands go to the leader.

Exit codes: 0 success, 1 runtime failure (port taken, node not running, ...), 2 invalid
config or arguments.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import time

COMMANDS = ("run", "join", "peers", "info", "add-peer", "remove-peer", "add-trusted", "remove-trusted", "fault")
STOP_WAIT_S = 15.0
"""How long a stopping run waits for every node's ``stopped`` event, seconds."""

REREGISTER_S = 3.0
"""How often a member host (``join``) registers with the convention leader again, seconds."""

ADMIN_OPS = {"add-peer": "add_peer", "remove-peer": "remove_peer", "add-trusted": "add_trusted",
             "remove-trusted": "remove_trusted"}


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="run_node.py", description="Run devp2p nodes built from Thespian actors.")
    p.add_argument("command", nargs="?", default="run", choices=COMMANDS, help="what to do (default: run)")
    p.add_argument("enode", nargs="?", help="enode URL or enr: record for add-peer/remove-peer/add-trusted/"
                                            "remove-trusted; "
                                            "for fault: TARGET (spawner, listener, dialer, discovery, http, peer:<id prefix>, "
                                            "protocol:<id prefix>:<name>)")
    p.add_argument("mode", nargs="?", help="for fault: raise, exit or kill")
    p.add_argument("--config", help="YAML file describing the node(s); default: the built-in two-node demo")
    p.add_argument("--node", help="which node of the file an admin command addresses")
    p.add_argument("--events", default=None,
                   help="write JSON Lines events here ('-' = stdout, '' = nowhere); default: stdout, "
                        "unless stdout is a terminal, which gets one readable line per event instead")
    p.add_argument("--log-level", default=None, choices=("DEBUG", "INFO", "WARNING", "ERROR"),
                   help="default: INFO, or WARNING on a terminal (its event lines say what INFO would)")
    p.add_argument("--duration", type=float, default=None, help="stop after this many seconds")
    p.add_argument("--host", help="for join: which host of the file's `hosts:` this machine is")
    p.add_argument("--leader", help="for join: the convention leader's ADDR:PORT (default: from the file)")
    return p


def _fail(msg: str, code: int) -> int:
    print(f"run_node: {msg}", file=sys.stderr)
    return code


def _load(args):
    """The config of ``args``; only ``run`` creates missing key files (admin commands write nothing)."""
    from config.loader import load_default, load_file

    create = args.command == "run"  # join writes nothing either: keys matter on the leader only
    return load_file(args.config, create_keys=create) if args.config else load_default(create_keys=create)


def main(argv=None) -> int:
    """Parse ``argv`` (default ``sys.argv[1:]``), load the config and run ``run`` or ``admin``.

    Returns the exit code: 2 for a config error or misused ``run``; argparse exits 2 itself."""
    args = _parser().parse_args(argv)
    from config.loader import ConfigError

    try:
        launch = _load(args)
    except ConfigError as exc:
        return _fail(f"config error: {exc}", 2)
    if args.command in ("run", "join"):
        if args.enode or args.mode:
            return _fail(f"{args.command} takes no positional arguments", 2)
        if args.command == "join":
            return join(launch, args)
        if args.host or args.leader:
            return _fail("--host and --leader are for join", 2)
        return run(launch, args)
    return admin(launch, args)


# -- run ---------------------------------------------------------------------------------
def _stop_on_signals() -> dict:
    """Record SIGINT/SIGTERM instead of dying: the returned dict's "signal" becomes the signal's
    number, for the main loop to stop cleanly."""
    stop = {"signal": None}

    def on_signal(signum, frame):
        stop["signal"] = signum

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    return stop


def ask_for(asys, addr, msg, want: type, timeout_s: float):
    """``asys.ask(addr, msg)`` whose answer is of type ``want``: Thespian's ask returns the first
    message to arrive, which can be a late answer to an earlier ask, or a NodeStopped of a
    StopNode told; those are skipped.  Returns None after ``timeout_s`` seconds."""
    deadline = time.monotonic() + timeout_s
    reply = asys.ask(addr, msg, timeout_s)
    while not isinstance(reply, want):
        left = deadline - time.monotonic()
        if left <= 0:
            return None
        reply = asys.listen(left)
    return reply


def run(launch, args) -> int:
    """Start an actor system and every node of ``launch``; run until SIGINT/SIGTERM, ``--duration`` s or
    a node stops at its restart limit, then stop the nodes and reap the actor processes.
    Returns 0, or 1 (listen port taken, actor system or node start failure, restart limit)."""
    from actors.event_writer import EventWriter, WriteEventsTo
    from actors.system import (NodeStartError, begin_dialing, port_in_use, reap_process_group, start_actor_system,
                               start_node, system_pgid)
    from actors.adapter import UnsupportedThespian
    from actors.collector import Found, WaitFor
    from messages.lifecycle import StopNode
    from thespian.actors import ActorExitRequest
    from actors.system import LOG_FORMAT
    from node.console import TerminalFormatter

    console = sys.stdout.isatty() and args.events != "-"
    events = args.events if args.events is not None else ("" if console else "-")
    level = args.log_level or ("WARNING" if console else "INFO")
    terminal_log = sys.stderr.isatty()
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(TerminalFormatter() if terminal_log else logging.Formatter(LOG_FORMAT))
    logging.basicConfig(level=level, handlers=[handler])
    try:
        admin_port, bind, allow, caps, local, members = _this_host(launch, None)
    except HostError as exc:
        return _fail(str(exc), exc.code)
    for node in local:
        if not node.no_listen and node.listen_port and port_in_use(node.listen_host, node.listen_port):
            return _fail(f"node {node.name}: listen address {node.listen_host}:{node.listen_port} is already in use",
                         1)
    stop = _stop_on_signals()
    try:
        asys = start_actor_system(admin_port, bind, level, terminal=terminal_log, allow=allow, capabilities=caps)
    except (NodeStartError, UnsupportedThespian) as exc:
        return _fail(str(exc), 1)
    except Exception as exc:  # noqa: BLE001 - Thespian start-up failure: one line, no traceback
        return _fail(f"cannot start the actor system: {exc}", 1)
    pgid = None
    servers = []
    watch = None
    code = 0
    try:
        pgid = system_pgid(asys)
        writer = asys.createActor(EventWriter)
        asys.ask(writer, WriteEventsTo(events, console), 5)
        for node in local:
            server, started = start_node(asys, node, subscribers=(writer,), register=True, hold_dials=True)
            servers.append(server)
            logging.info("node %s listening: %s", node.name, started.enode)
        for server in servers:  # every node listens before the first dial
            begin_dialing(asys, server)
        if members:  # the member hosts' nodes start as each host joins (docs/multi-host.md)
            watch = _watch_hosts(asys, launch, members, writer)
        deadline = time.monotonic() + args.duration if args.duration else None
        seen = 0
        while stop["signal"] is None:
            if deadline is not None and time.monotonic() >= deadline:
                break
            # a node whose Listener or Dialer exceeded its restart intensity has stopped itself
            # the writer answers at 0.2 s; the long ask timeout leaves no late answer to be
            # taken for the next ask's
            found = ask_for(asys, writer, WaitFor("stopped", (("reason", "restart_limit"),), since=seen,
                                                  timeout_s=0.2), Found, 60)
            if found is not None and found.ok:
                code = _fail(f"node {found.events[0].node} stopped: a child exceeded its restart limit", 1)
                break
            if found is not None:
                seen = found.index
    except NodeStartError as exc:
        code = _fail(str(exc), 1)
    finally:
        # every node stops at once (Disconnect QUITTING to its peers, its children stopped), and
        # its Server goes only once its "stopped" event is written: the writer may lag behind on
        # a loaded machine (30 nodes, ~700 processes), and an exiting actor's queued sends get
        # only a short drain; the wait ends as soon as all are there
        for server in servers:
            asys.tell(server, StopNode())
        remote = _stop_members(asys, watch)
        if servers or remote:
            ask_for(asys, writer, WaitFor("stopped", count=len(servers) + remote, timeout_s=STOP_WAIT_S), Found,
                    STOP_WAIT_S + 5)
        for server in servers:
            asys.tell(server, ActorExitRequest())
        if watch is not None:
            asys.tell(watch, ActorExitRequest())
        asys.shutdown()
        if reap_process_group(pgid):
            logging.warning("killed actor processes left after shutdown")
    return code


# -- hosts ------------------------------------------------------------------------------
class HostError(Exception):
    """This machine cannot play the asked part of the file's hosts (``code``: the exit code)."""

    def __init__(self, msg: str, code: int = 1):
        super().__init__(msg)
        self.code = code


def _this_host(launch, host_name: str | None):
    """Actor system settings of this machine: (admin port, bind address, allow-list, extra
    Thespian capabilities, the nodes it runs itself, the member hosts' names).  ``host_name``
    None: the leader (``run``), else a member (``join``).  Raises :class:`HostError`."""
    from actors.adapter.accept_guard import is_local_address
    from node.hosts import HOST_CAPABILITY
    import ipaddress

    asc = launch.actor_system
    if not launch.multi_host:
        if host_name is not None:
            raise HostError("join needs a config with a `hosts:` section (docs/multi-host.md)", 2)
        return asc.admin_port, asc.bind, asc.allow, None, tuple(launch.nodes), ()
    leader = launch.leader_host()
    me = leader if host_name is None else launch.host(host_name)
    if host_name is not None and me.name == leader.name:
        raise HostError(f"host {me.name} is the convention leader: start it with `run`, not `join`", 2)
    if not is_local_address(ipaddress.ip_address(me.address)):
        hint = "run `join --host NAME` on a member host" if host_name is None else "is --host right?"
        raise HostError(f"this machine has no address {me.address} of host {me.name}: {hint}")
    caps = {HOST_CAPABILITY: me.name}
    members = tuple(h.name for h in launch.hosts if h.name != leader.name)
    return me.admin_port, me.address, launch.trusted_networks(), caps, launch.nodes_on(me.name), members


def _leader_address(launch, given: str | None) -> tuple[str, int]:
    """(IP, port) of the convention leader's admin: ``--leader IP:PORT`` (``[IPv6]:PORT``) or the
    file's.  Raises :class:`HostError` (code 2) for a malformed ``given``."""
    import ipaddress

    if not given:
        leader = launch.leader_host()
        return leader.address, leader.admin_port
    host, sep, port = given.rpartition(":")
    bracketed = host.startswith("[") and host.endswith("]")
    try:
        addr = ipaddress.ip_address(host[1:-1] if bracketed else host)
        if not sep or not port.isdigit() or not 0 < int(port) < 65536 or bracketed != (addr.version == 6):
            raise ValueError  # an IPv6 address goes in brackets, as in a URL
        ip, port_n = str(addr), int(port)
    except ValueError:
        raise HostError(f"--leader must be IP:PORT, got {given!r}", 2) from None
    return ip, port_n


def _watch_hosts(asys, launch, members, writer):
    """Create the leader's HostWatch and tell it the member hosts' nodes."""
    from actors.hosts import HOSTS_GLOBAL_NAME, HostWatch
    from messages.hosts import WatchHosts

    watch = asys.createActor(HostWatch, globalName=HOSTS_GLOBAL_NAME)
    nodes = {h: tuple(launch.nodes_on(h)) for h in members}
    addresses = {h.name: h.address for h in launch.hosts}
    if asys.ask(watch, WatchHosts(nodes, addresses, (writer,)), 10) is not True:
        raise RuntimeError("the HostWatch did not answer")
    return watch


def _stop_members(asys, watch) -> int:
    """Stop every member host's nodes (QUITTING to their peers); the number that stopped."""
    from messages.hosts import NodesStopped, StopNodes

    if watch is None:
        return 0
    reply = ask_for(asys, watch, StopNodes(STOP_WAIT_S - 3), NodesStopped, STOP_WAIT_S)
    if reply is None:
        logging.warning("member hosts: no answer to the stop request")
        return 0
    if reply.unanswered:
        logging.warning("member hosts: %s did not stop in time", ", ".join(reply.unanswered))
    return len(reply.stopped)


def join(launch, args) -> int:
    """Run this machine's actor system as member host ``--host`` of the file's convention until
    SIGINT/SIGTERM or ``--duration`` s; the leader starts this host's nodes on it.
    Returns 0, 1 (not this host's address, actor system start failure) or 2 (bad arguments)."""
    from actors.adapter import UnsupportedThespian
    from actors.system import LOG_FORMAT, NodeStartError, reap_process_group, start_actor_system, system_pgid
    from config.loader import ConfigError
    from node.hosts import HOST_CAPABILITY

    if not args.host:
        return _fail("join needs --host NAME (one of the file's hosts)", 2)
    logging.basicConfig(level=args.log_level or "INFO", format=LOG_FORMAT)
    try:
        admin_port, bind, allow, caps, local, _members = _this_host(launch, args.host)
        leader = _leader_address(launch, args.leader)
    except ConfigError as exc:
        return _fail(str(exc), 2)
    except HostError as exc:
        return _fail(str(exc), exc.code)
    caps["Convention Address.IPv4"] = leader
    stop = _stop_on_signals()
    try:
        asys = start_actor_system(admin_port, bind, args.log_level or "INFO", allow=allow, capabilities=caps)
    except (NodeStartError, UnsupportedThespian) as exc:
        return _fail(str(exc), 1)
    except Exception as exc:  # noqa: BLE001 - Thespian start-up failure: one line, no traceback
        return _fail(f"cannot start the actor system: {exc}", 1)
    pgid = system_pgid(asys)
    logging.info("host %s (%s:%d) joining the convention of %s:%d; its nodes: %s", args.host, bind, admin_port,
                 leader[0], leader[1], ", ".join(n.name for n in local) or "none")
    deadline = time.monotonic() + args.duration if args.duration else None
    next_register = time.monotonic() + REREGISTER_S
    try:
        while stop["signal"] is None and (deadline is None or time.monotonic() < deadline):
            time.sleep(0.1)
            if time.monotonic() >= next_register:
                # setting a capability to its own value makes Thespian's admin register with the
                # leader again, and nothing else: a leader started (or restarted) after this
                # member learns of it within REREGISTER_S, not at the next 7 min 22 s re-registration
                asys.updateCapability(HOST_CAPABILITY, args.host)
                next_register = time.monotonic() + REREGISTER_S
    finally:
        asys.shutdown()
        if reap_process_group(pgid):
            logging.warning("killed actor processes left after shutdown")
    return 0


# -- admin -------------------------------------------------------------------------------
def admin(launch, args) -> int:
    """Ask running node(s) (via the joined actor system) one admin or fault request and print the JSON answer
    (admin_peers / admin_nodeInfo shapes; keyed by node name when several nodes are asked).
    Returns 0, 1 (cannot join, no answer within 10 s, request refused) or 2 (bad arguments or node)."""
    from config.loader import ConfigError
    from actors.adapter import UnsupportedThespian
    from actors.system import NodeStartError, join_actor_system, server_global_name
    from actors.server import Server
    from messages.admin import AdminCommand, AdminResult, GetNodeInfo, GetPeers, NodeInfoReply, PeersReply

    from messages.supervision import FAULT_MODES, FaultRequest
    from actors.hosts import HOSTS_GLOBAL_NAME, HostWatch
    from messages.hosts import LocateNode, NodeAt

    op = ADMIN_OPS.get(args.command)
    fault = args.command == "fault"
    if fault and (not args.enode or args.mode not in FAULT_MODES):
        return _fail(f"fault needs TARGET and MODE ({', '.join(FAULT_MODES)})", 2)
    if op and (not args.enode or args.mode):
        return _fail(f"{args.command} needs exactly one enode URL", 2)
    if not op and not fault and (args.enode or args.mode):
        return _fail(f"{args.command} takes no positional arguments", 2)
    try:
        if args.node is None and op is None and not fault:
            nodes = list(launch.nodes)
        else:
            nodes = [launch.node(args.node)]
    except ConfigError as exc:
        return _fail(str(exc), 2)
    asc = launch.actor_system
    admin_port, bind, allow = asc.admin_port, asc.bind, asc.allow
    if launch.multi_host:  # admin commands go to the convention leader (docs/multi-host.md)
        leader = launch.leader_host()
        admin_port, bind, allow = leader.admin_port, leader.address, launch.trusted_networks()
    try:
        asys = join_actor_system(admin_port, bind, allow)
    except (NodeStartError, UnsupportedThespian) as exc:
        return _fail(str(exc), 1)
    results = {}
    watch = None
    for node in nodes:
        if launch.multi_host and node.host != launch.leader_host().name:
            if watch is None:
                watch = asys.createActor(HostWatch, globalName=HOSTS_GLOBAL_NAME)
            where = asys.ask(watch, LocateNode(node.name), 10)
            if not isinstance(where, NodeAt):
                return _fail(f"node {node.name}: the convention leader does not answer", 1)
            if where.server is None:
                return _fail(where.error, 1)
            server = where.server
        else:
            server = asys.createActor(Server, globalName=server_global_name(node.name))
        if fault:
            reply = asys.ask(server, FaultRequest(args.enode, args.mode), 10)
        elif op:
            reply = asys.ask(server, AdminCommand(op, args.enode), 10)
        else:
            reply = asys.ask(server, GetPeers() if args.command == "peers" else GetNodeInfo(), 10)
        if isinstance(reply, AdminResult) and not reply.ok:
            return _fail(f"node {node.name}: {reply.error}", 1)
        if reply is None:
            return _fail(f"node {node.name}: no answer", 1)
        if isinstance(reply, PeersReply):
            results[node.name] = list(reply.peers)
        elif isinstance(reply, NodeInfoReply):
            results[node.name] = reply.info
        else:
            results[node.name] = {"ok": True}
    out = results[nodes[0].name] if len(nodes) == 1 else results
    print(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    os.environ.setdefault("THESPIAN_BASE_IPADDR", "127.0.0.1")
    sys.exit(main())
