"""The Peer actor: one per connection, in its own process, a thin shell around
:class:`node.peer_machine.PeerMachine` (go-ethereum p2p/peer.go ``Peer.run``).

It owns what the machine cannot: the TCP socket (inherited from the Spawner's fork for an
inbound connection, connected here, non-blocking, for an outbound one), one channel per running
Protocol actor (:mod:`actors.io.channel`, made before that actor's fork) and the timers.  Each
handler reads like ``Peer.run``'s loop: take the input, ask the machine, carry out its actions
(:meth:`Peer._do`), write what the machine queued, arm the timer for the next deadline.

Its own timers are I/O retries the machine does not know of: the connect poll (Thespian reports
readability only, docs/thespian-facts.md §2), the out-buffer and channel flush retries, and the
liveness check of its Protocol actors' processes.
"""

from __future__ import annotations

import errno
import os
import socket
import time

from thespian.actors import ActorExitRequest, ThespianWatch

from discovery.node_url import parse_node_url
from messages.protocol import ProtocolStart
from messages.spawner import FromNewPeer
from messages.supervision import InjectFault
from node.links import ProtocolSpec
from node.peer_machine import (DropProtocol, Finish, HalfClose, PeerMachine, SpawnProtocol, Stage, StopProtocol,
                               ToProtocol, ToServer)
from protocols.registry import resolve
from rlpx.errors import RLPxError

from .base import NodeActor
from .io.channel import Channel, ChannelClosed
from .protocol_host import ProtocolHost
from .io.procs import process_alive
from .io.reading import read_available, receive_buffer

READ_CHUNK = 1 << 20
"""Bytes asked of one ``recv`` call."""

READ_MAX = 1 << 20
"""Bytes read per readiness event before the batch is handed to the machine."""

WRITE_CHUNK = 4 << 20
"""Bytes offered to one ``send`` call."""

FLUSH_POLL_S = 0.002
"""Retry interval for a partly written out-buffer or channel (Thespian watches readability only)."""

CONNECT_POLL_S = 0.005
"""Poll interval for a non-blocking connect (docs/thespian-facts.md §2: success is not reported)."""

ORPHAN_EXIT_S = 30.0
"""A finished Peer exits by itself if the Server has not ordered its exit within this time, seconds."""

MACHINE = "machine"
"""Name of the timer that fires at the machine's next deadline."""


def errno_cause(code) -> str:
    """The kind (:data:`messages.peer.CAUSES`) of a socket error number."""
    if code == errno.ECONNREFUSED:
        return "refused"
    if code == errno.ETIMEDOUT:
        return "timeout"
    if code in (errno.EHOSTUNREACH, errno.ENETUNREACH):
        return "unreachable"
    if code in (errno.ECONNRESET, errno.EPIPE, errno.ECONNABORTED):
        return "reset"
    return "error"


class _Actor:
    """One running Protocol actor: its address, process and channel."""

    __slots__ = ("addr", "pid", "chan")

    def __init__(self, addr, pid, chan):
        self.addr, self.pid, self.chan = addr, pid, chan


class Peer(NodeActor):
    """One RLPx connection.  Started by :class:`messages.peer.PeerStartInbound` (with the
    inherited socket's fd and the session of the Listener's auth/ack) or
    :class:`messages.peer.PeerStartOutbound` from the Server."""

    WATCH_SHORTCUT = True

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.sock: socket.socket | None = None
        self.machine: PeerMachine | None = None
        self.server = None
        self.server_key = None  # our record's key until our first message to the Server is sent
        self.connecting = False
        self.finished = False
        self.actors: dict[str, _Actor] = {}
        self._unreported = 0  # bytes written (early writes included) not yet reported to the machine
        self._rview = receive_buffer(READ_CHUNK)

    # -- start -------------------------------------------------------------------------
    def _machine(self, cfg, dial=None, static=False, trusted=False, remote=()):
        specs = []
        for pc in cfg.protocols:
            r = resolve(pc)
            specs.append(ProtocolSpec(r.name, r.version, r.length, r.cls, r.options))
        return PeerMachine(cfg, specs, dial=dial, static=static, trusted=trusted, remote=remote)

    def _to_server(self, msg) -> None:
        """Send ``msg`` to the Server; the first one goes in FromNewPeer with our record's key,
        which tells the Server our address (messages/spawner.py)."""
        if self.server_key is not None:
            msg, self.server_key = FromNewPeer(self.server_key, msg), None
        self.send(self.server, msg)

    def on_PeerStartInbound(self, msg, sender):
        self.server, self.server_key = msg.server, (msg.key or None)
        self.machine = self._machine(msg.config, remote=tuple(msg.remote))
        try:
            # inherited from the Spawner, which forked this process holding it (actors/spawner.py)
            self.sock = socket.socket(fileno=msg.fd)
            self.sock.setblocking(False)
        except OSError as exc:
            self._do(self.machine.connect_failed(f"inbound socket unusable: {exc}", "error"))
            return
        # the Listener ran the auth/ack (node/inbound_handshakes.py): resume at checkpoint 1
        self._do(self.machine.handshake_done(self._socket_ready(), msg.secrets, msg.leftover, msg.unsent,
                                             time.monotonic()))

    def on_PeerStartOutbound(self, msg, sender):
        self.server, self.server_key = msg.server, (msg.key or None)
        try:
            dial = parse_node_url(msg.enode)
        except RLPxError as exc:
            self.machine = self._machine(msg.config, static=msg.static, trusted=msg.trusted)
            self._do(self.machine.connect_failed(f"dial {msg.enode[:24]}...: {exc}", "error"))
            return
        self.machine = self._machine(msg.config, dial=dial, static=msg.static, trusted=msg.trusted)
        try:
            family = socket.AF_INET6 if ":" in dial.host else socket.AF_INET
            self.sock = socket.socket(family, socket.SOCK_STREAM)
            self.sock.setblocking(False)
            rc = self.sock.connect_ex((dial.host, dial.tcp_port))
        except OSError as exc:
            self._do(self.machine.connect_failed(f"connect: {exc}", errno_cause(exc.errno)))
            return
        if rc not in (0, errno.EINPROGRESS, errno.EAGAIN):
            self._do(self.machine.connect_failed(f"connect: {os.strerror(rc)}", errno_cause(rc)))
            return
        self.connecting = True
        self.after("connect_poll", CONNECT_POLL_S)
        self._do(self.machine.connect_started(time.monotonic()))

    def _check_connect(self):
        err = self.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        if err:
            self.connecting = False
            self._do(self.machine.connect_failed(f"connect: {os.strerror(err)}", errno_cause(err)))
            return
        try:
            self.sock.getpeername()
        except OSError:
            self.after("connect_poll", CONNECT_POLL_S)
            return
        self.connecting = False
        self.timers.cancel("connect_poll")
        self._connected()

    def _connected(self):
        self._do(self.machine.connected(self._socket_ready(), time.monotonic()))

    def _socket_ready(self) -> tuple:
        """Set TCP_NODELAY on the connected socket; return its local (host, port), () if unknown."""
        try:
            local = self.sock.getsockname()[:2]
            self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            return ()
        return local

    # -- carrying out the machine's actions --------------------------------------------------
    def _do(self, actions) -> None:
        """Carry out ``actions``, write what the machine queued, and arm the next deadline."""
        machine = self.machine
        for action in actions:
            if isinstance(action, ToProtocol):
                self._to_protocol(action.name, action.message)
            elif isinstance(action, ToServer):
                self._to_server(action.message)
            elif isinstance(action, SpawnProtocol):
                self._spawn(action.name)
            elif isinstance(action, StopProtocol):
                actor = self.actors.get(action.name)
                if actor is not None:
                    self.send(actor.addr, ActorExitRequest())  # it reads its channel (ProtocolStop) first
            elif isinstance(action, DropProtocol):
                self._drop(action.name)
            elif isinstance(action, HalfClose):
                self._half_close()
            elif isinstance(action, Finish):
                self._finish(action)
                return
        if not self.finished:
            self._flush()
        if not self.finished:
            nxt = machine.next_deadline()
            if nxt is None:
                self.timers.cancel(MACHINE)
            else:
                self.timers.set(MACHINE, nxt)

    def _spawn(self, name: str) -> None:
        """Create the Protocol actor of ``name`` with a channel made before the fork."""
        machine = self.machine
        link = machine.links[name]
        hello = machine.hello
        self._drop(name)
        chan, child_end = Channel.pair()
        # the child inherits every fd we hold: it closes our TCP socket and our channel ends
        # (else it would never see end of stream when we go)
        close_fds = tuple(fd for fd in [self.sock.fileno(), chan.fileno()]
                          + [a.chan.fileno() for a in self.actors.values() if a.chan is not None] if fd >= 0)
        start = ProtocolStart(self.myAddress, hello.node_id, hello.client_id, tuple(str(c) for c in hello.capabilities),
                              machine.inbound, name, link.version, link.offset, link.length, link.spec.options,
                              machine.remote, close_fds, link.config.on_failure, child_end.fileno(), link.spec.cls)
        try:
            # the child inherits child_end and its ProtocolStart from the fork (actors/adapter/fork_start.py)
            addr = self.createActor(ProtocolHost, start=start)
        finally:
            child_end.close()
        self.actors[name] = _Actor(addr, self.child_pid(addr), chan)
        if not self.timers.is_set("liveness"):
            self.after("liveness", machine.cfg.supervision.liveness_s)

    def _drop(self, name: str) -> None:
        actor = self.actors.pop(name, None)
        if actor is not None and actor.chan is not None:
            actor.chan.close()

    def _to_protocol(self, name: str, msg) -> None:
        """Send ``msg`` to the Protocol actor of ``name``, in order, over its channel."""
        actor = self.actors.get(name)
        if actor is None or actor.chan is None:
            return
        try:
            actor.chan.send(msg)
        except ChannelClosed:
            return  # it died: end of stream on the channel reports it
        if actor.chan.pending and not self.timers.is_set("chan_flush"):
            self.after("chan_flush", FLUSH_POLL_S)

    # -- watch -------------------------------------------------------------------------
    def watch(self):
        fds = [a.chan.fileno() for a in self.actors.values() if a.chan is not None]
        if self.sock is not None and not self.finished and self.machine is not None \
                and (self.connecting or self.machine.watch_socket(time.monotonic())):
            fds.append(self.sock.fileno())
        return ThespianWatch(fds) if fds else None

    # -- socket and channel events -------------------------------------------------------
    def on_WatchMessage(self, msg, sender):
        for fd in msg.ready:
            name = self._name_by_fd(fd)
            if name is not None:
                self._channel_readable(name)
            elif self.sock is not None and not self.finished and fd == self.sock.fileno():
                if self.connecting:
                    self._check_connect()
                else:
                    self._read()

    def _read(self):
        machine = self.machine
        chunks = []
        draining = machine.stage == Stage.DRAINING
        _, eof, error = read_available(self.sock, self._rview, READ_MAX,
                                       (lambda got: None) if draining else (lambda got: chunks.append(bytes(got))))
        now = time.monotonic()
        actions = []
        if chunks:
            actions = machine.received(b"".join(chunks) if len(chunks) > 1 else chunks[0], now)
        if eof or error is not None:
            detail = "connection closed by remote" if eof else f"read error: {error}"
            cause = "closed" if eof else errno_cause(getattr(error, "errno", None))
            self._do(actions)
            if not self.finished:
                self._do(machine.remote_closed(detail, cause, now))
            return
        self._do(actions)

    def _name_by_fd(self, fd: int) -> str | None:
        for name, actor in self.actors.items():
            if actor.chan is not None and actor.chan.fileno() == fd:
                return name
        return None

    def _channel_readable(self, name: str) -> None:
        """Messages from the Protocol actor of ``name``, handled as if Thespian had delivered them."""
        actor = self.actors[name]
        chan = actor.chan
        msgs, eof = chan.receive()
        for m in msgs:
            if self.actors.get(name) is not actor or self.finished:
                return  # restarted or closed meanwhile: the rest is stale
            self.deliver(m, actor.addr)
        if eof and self.actors.get(name) is actor:
            self._drop(name)
            self._do(self.machine.protocol_exited(name, time.monotonic()))

    def _name_by_addr(self, addr) -> str | None:
        for name, actor in self.actors.items():
            if actor.addr == addr:
                return name
        return None

    # -- messages from the Protocol actors (over their channels) ----------------------------
    def on_FromProtocol(self, msg, sender):
        self._do(self.machine.from_protocol(msg.name, msg, time.monotonic(), early_write=self._write))

    def on_ProtocolDisconnect(self, msg, sender):
        self._do(self.machine.protocol_disconnect(msg.name, msg.reason, msg.error, time.monotonic()))

    def on_ProtocolEnded(self, msg, sender):
        self._do(self.machine.protocol_ended(msg.name, msg.error, time.monotonic()))

    def on_ProtocolEvent(self, msg, sender):
        if self.server is not None:
            self._to_server(msg)

    def on_ProtocolInfo(self, msg, sender):
        self._do(self.machine.protocol_info(msg.name, msg.info, msg.request_id))

    # -- messages from the Server and Thespian -------------------------------------------
    def on_CheckpointReply(self, msg, sender):
        self._do(self.machine.checkpoint_reply(msg.stage, msg.reason, time.monotonic()))

    def on_PeerInfoRequest(self, msg, sender):
        self._do(self.machine.info_request(msg.request_id, time.monotonic(), msg.protocols))

    def on_DisconnectPeer(self, msg, sender):
        self._do(self.machine.disconnect(msg.reason, time.monotonic(), msg.error))

    def on_ChildActorExited(self, msg, sender):
        name = self._name_by_addr(msg.childAddress)
        if name is not None:
            self._drop(name)
            self._do(self.machine.protocol_exited(name, time.monotonic()))

    def on_InjectFault(self, msg, sender):
        if msg.protocol is None:
            return super().on_InjectFault(msg, sender)
        actor = self.actors.get(msg.protocol)
        if actor is not None:
            self.send(actor.addr, InjectFault(msg.mode))

    def on_Liveness(self, msg, sender):
        pass

    def on_ActorExitRequest(self, msg, sender):
        # the node shuts down, the Server ordered our exit, or our parent went away
        if self.machine is not None and not self.finished:
            self._do(self.machine.shutdown(time.monotonic()))

    def on_handler_error(self, msg, sender, exc):
        if self.machine is not None and not self.finished:
            self._do(self.machine.internal_error(str(exc), time.monotonic()))

    # -- timers ------------------------------------------------------------------------
    def on_timer(self, name):
        if self.machine is None:
            return
        now = time.monotonic()
        if name == MACHINE:
            self._do(self.machine.on_time(now))
        elif name == "flush":
            self._do(())
        elif name == "chan_flush":
            self._flush_channels()
        elif name == "connect_poll" and self.connecting:
            self._check_connect()
        elif name == "liveness" and not self.finished:
            for pname, actor in list(self.actors.items()):
                if not process_alive(actor.pid) and self.actors.get(pname) is actor:
                    self._drop(pname)
                    self._do(self.machine.protocol_exited(pname, now))
            if not self.finished:
                self.after("liveness", self.machine.cfg.supervision.liveness_s)
        elif name == "orphaned" and self.finished:
            self.send(self.myAddress, ActorExitRequest())  # no exit order from the Server came

    # -- writing -----------------------------------------------------------------------
    def _write(self) -> int | None:
        """Write what the socket takes of the machine's out-buffer.  Returns the bytes written
        (also added to those the next :meth:`PeerMachine.wrote` reports), or None after a write
        error (the machine has been told)."""
        out = self.machine.out
        progressed = 0
        while out:
            try:
                n = self.sock.send(memoryview(out)[:WRITE_CHUNK])
            except (BlockingIOError, InterruptedError):
                break
            except OSError as exc:
                self._do(self.machine.write_failed(str(exc), errno_cause(exc.errno), time.monotonic()))
                return None
            if n <= 0:
                break
            del out[:n]
            progressed += n
        self._unreported += progressed
        return progressed

    def _flush(self) -> None:
        """Write the out-buffer, retry on a timer while bytes remain, and tell the machine."""
        if self.sock is None or self.finished or self.connecting:
            return
        if self._write() is None:
            return
        if self.machine.out:
            if not self.timers.is_set("flush"):
                self.after("flush", FLUSH_POLL_S)
        else:
            self.timers.cancel("flush")
        written, self._unreported = self._unreported, 0
        actions = self.machine.wrote(written, time.monotonic())
        if actions:
            self._do(actions)

    def _flush_channels(self) -> None:
        pending = False
        for actor in self.actors.values():
            if actor.chan is not None:
                try:
                    pending = actor.chan.flush() > 0 or pending
                except ChannelClosed:
                    pass
        if pending:
            self.after("chan_flush", FLUSH_POLL_S)

    # -- ending ------------------------------------------------------------------------
    def _half_close(self) -> None:
        """Our Disconnect is written: shut the write side and read until the remote closes or
        the grace runs out.  Closing at once would make the kernel answer the remote's in-flight
        data with RST, and the remote might never read our Disconnect."""
        try:
            self.sock.shutdown(socket.SHUT_WR)
        except OSError:
            self._do(self.machine.abort())

    def _finish(self, action: Finish) -> None:
        """Close the socket and the channels, report PeerGone, and wait for the Server's exit order."""
        if self.finished:
            return
        self.finished = True
        for name in ("flush", "connect_poll", MACHINE, "liveness"):
            self.timers.cancel(name)
        if self.sock is not None:
            if not action.linger and self.machine.out:
                try:
                    self.sock.send(bytes(self.machine.out[:65536]))
                except OSError:
                    pass
            try:
                self.sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            self.sock.close()
        for actor in self.actors.values():
            if actor.chan is not None:
                try:
                    actor.chan.flush()  # ProtocolStop, if the socket takes it
                except ChannelClosed:
                    pass
                actor.chan.close()
                actor.chan = None
        if self.server is not None:
            # the Server orders our exit once it has handled this, so that its record of the
            # connection always ends with our own cause, never with our process's exit notice
            self._to_server(action.gone)
            self.after("orphaned", ORPHAN_EXIT_S)
        else:
            self.send(self.myAddress, ActorExitRequest())


__all__ = ["Peer"]
