"""One connection through a Peer and a Protocol actor object, inside the Spawner, before it
forks any Peer.

Why: a child writes (and so copies) every page holding an object it touches for the first
time, and CPython 3.11 rewrites a function's bytecode in place the first times it runs
(quickening).  Run once here, that first-time work is done in pages every Peer then shares
(docs/performance.md, "Memory"), as :mod:`actors.io.prefork` does for the wire layer.

The Peer and the Protocol actor are the real classes with their Thespian calls caught
(``send``, ``createActor``, timers): they talk through a socketpair to an in-memory RLPx
remote (:class:`rlpx.connection.Connection`) that runs the auth the Listener answers
(:class:`node.inbound_handshakes.InboundHandshakes`), both Hellos, the checkpoints, test/1
echoes of the sizes in :data:`actors.io.prefork.REHEARSAL_PAYLOAD_SIZES`, a Ping and a
Disconnect.  Always test/1, whatever the node runs: a subprotocol's own start may open files
(a chain), which must not happen in the Spawner.  Nothing leaves the process.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from dataclasses import replace

from thespian.actors import ActorExitRequest, WatchMessage

from config.model import ProtocolConfig
from messages.admission import CheckpointReply, CheckpointRequest
from messages.peer import PeerStartInbound
from node.inbound_handshakes import InboundHandshakes
from rlpx import base_protocol as bp
from rlpx.caps import LocalProtocol
from rlpx.connection import CHECKPOINT1, CHECKPOINT2, RUNNING, Connection, Messages
from rlpx.disc import DiscReason
from rlpx.keys import generate_private_key, node_id_from_private_key

from .io.prefork import REHEARSAL_PAYLOAD_SIZES
from .peer import Peer
from .protocol_host import ProtocolHost

PROTOCOL = ProtocolConfig("test", 1, (("echo", True),))
"""The subprotocol of the rehearsal (protocols/test_protocol.py, echoing)."""

MAX_ROUNDS = 200
"""Passes of the rehearsal's loop at most (each moves every pending byte and message once)."""

SELF = "rehearsal"
"""The address the rehearsal's actors are given for themselves and for the Server."""


class _Caught:
    """What a rehearsal actor would have sent through Thespian: kept here, not sent."""

    PARENT_DEATH_SIGNAL = 0  # arm nothing in the Spawner's process (NodeActor.__init__)

    def _caught_init(self, outbox: list):
        self._outbox = outbox
        self._shortcut = True  # no watch shortcut: there is no Thespian loop to attach to

    @property
    def myAddress(self):  # noqa: N802 - Thespian's name
        return SELF

    def send(self, target, msg):
        self._outbox.append((self, target, msg))

    def wakeupAfter(self, *args, **kwargs):  # noqa: N802 - Thespian's name
        return None

    def child_pid(self, addr):
        return None


class _Host(_Caught, ProtocolHost):
    pass


class _Peer(_Caught, Peer):
    def createActor(self, cls, start=None, **kwargs):  # noqa: N802 - Thespian's name
        # in one process the "child" must not close the Peer's fds, and keeps its own copy of
        # the channel end the Peer closes after the fork
        start = replace(start, close_fds=(), channel_fd=os.dup(start.channel_fd))
        host = _Host()
        host._caught_init(self._outbox)
        self._hosts.append(host)
        host.receiveMessage(start, SELF)
        return host


def rehearse_peer(cfg) -> None:
    """Run the rehearsal connection (module docstring) for node ``cfg`` (its key and name; its
    protocols are replaced by test/1).  Logging is off meanwhile.  Raises RuntimeError if the
    remote did not get its echoes back (then the first-time work is only partly done)."""
    cfg = replace(cfg, protocols=(PROTOCOL,), no_listen=False)
    remote_key = generate_private_key()
    local_id = node_id_from_private_key(cfg.private_key)
    caps = (bp.Capability(PROTOCOL.name, PROTOCOL.version),)
    remote = Connection(remote_key, bp.Hello(bp.BASE_PROTOCOL_VERSION, "rehearsal", caps, 0,
                                             node_id_from_private_key(remote_key)),
                        [LocalProtocol(PROTOCOL.name, PROTOCOL.version, 8)], remote_node_id=local_id)
    ours, theirs = socket.socketpair()
    outbox: list = []
    peer = _Peer()
    peer._caught_init(outbox)
    peer._hosts = []
    previous = logging.root.manager.disable
    logging.disable(logging.CRITICAL)
    try:
        handshakes = InboundHandshakes(cfg.private_key, 1, 5.0)
        now = time.monotonic()
        handshakes.accepted("rehearsal", ("127.0.0.1", 1), now)
        answered = handshakes.received("rehearsal", bytes(remote.out), now)
        remote.out.clear()
        if answered is None:
            raise RuntimeError("rehearsal auth was not answered")
        ours.setblocking(False)
        theirs.setblocking(False)
        peer.receiveMessage(PeerStartInbound(cfg, SELF, "rehearsal", ("127.0.0.1", 1), ours.detach(),
                                             answered.secrets, answered.leftover, answered.ack), SELF)
        echoes = _pump(peer, remote, theirs, outbox)
        if echoes < len(REHEARSAL_PAYLOAD_SIZES):
            raise RuntimeError(f"rehearsal got {echoes} of {len(REHEARSAL_PAYLOAD_SIZES)} echoes back")
    finally:
        logging.disable(previous)
        for actor in [peer, *peer._hosts]:
            try:
                actor.receiveMessage(ActorExitRequest(), SELF)
            except Exception:  # noqa: BLE001 - the rehearsal is over either way
                pass
        for sock in [peer.sock] + [a.chan for a in peer.actors.values()] + [h._chan for h in peer._hosts]:
            if sock is not None:
                try:
                    sock.close()
                except OSError:
                    pass
        theirs.close()


def _pump(peer, remote: Connection, theirs: socket.socket, outbox: list) -> int:
    """Move bytes and messages until the remote has its echoes and Pong; returns the echoes."""
    first = bp.BASE_PROTOCOL_LENGTH
    sizes = list(REHEARSAL_PAYLOAD_SIZES)
    echoes, sent_data, pinged = 0, False, False
    for _ in range(MAX_ROUNDS):
        moved = False
        batch, outbox[:] = list(outbox), []
        for actor, _target, msg in batch:
            moved = True
            if isinstance(msg, CheckpointRequest):  # the Server's part: every checkpoint passes
                actor.receiveMessage(CheckpointReply(msg.stage, None), SELF)
        try:
            data = theirs.recv(1 << 20)
        except BlockingIOError:
            data = b""
        if data:
            moved = True
            for event in remote.feed(data):
                if isinstance(event, Messages):
                    echoes += sum(len(batch) for batch in event.by_protocol.values())
        if remote.state == CHECKPOINT1:
            remote.approve_post_handshake()
        if remote.state == CHECKPOINT2:
            remote.approve_add_peer()
        if not sent_data and remote.state == RUNNING:
            for size in sizes:
                remote.send(first, bytes(size))
            sent_data = True
        if sent_data and echoes >= len(sizes) and not pinged:
            remote.send_ping()
            pinged = True
        if remote.out:
            theirs.sendall(bytes(remote.out))
            remote.out.clear()
            moved = True
        fds = [peer.sock.fileno()] if peer.sock is not None and peer.sock.fileno() >= 0 else []
        fds += [a.chan.fileno() for a in peer.actors.values() if a.chan is not None]
        if fds:
            peer.receiveMessage(WatchMessage(fds), SELF)
        for host in peer._hosts:
            if host._chan is not None and host._chan.fileno() >= 0:
                host.receiveMessage(WatchMessage([host._chan.fileno()]), SELF)
        if pinged and not moved:
            break
    return echoes


__all__ = ["rehearse_peer"]
