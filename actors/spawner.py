"""The Spawner actor: the quiet process that forks a node's Peers for its Server.

Why a process of its own: a forked child keeps, as its own memory, every page its creator writes
after the fork that no other process still shares; a busy Server wrote ~1.8 MiB of such pages
into each Peer within ~50 ms of its fork (docs/performance.md, "Memory").  The Spawner is
forked from the Server once its set-up is done, then does nothing but fork Peers, so little of
what it writes lands in them.

It owns the Spawner's end of the spawn link (actors/io/spawn_link.py): each SpawnPeer becomes a
Peer (the inbound socket on the datagram is inherited through the fork, as from the Server
before), answered by PeerSpawned with its pid, or SpawnFailed.  It is the Peers' Thespian
parent: their exit notices come here and go on to the Server as PeerExited.  Its death takes
its Peers with it (actors/adapter/lifeline.py); the Server restarts it as a permanent child
(docs/supervision.md).
"""

from __future__ import annotations

import os
import socket
from collections import deque
from dataclasses import replace

from thespian.actors import ActorExitRequest, ChildActorExited, ThespianWatch

from messages.spawner import ListenPort, PeerExited, PeerSpawned, SpawnFailed, SpawnPeer

from .base import NodeActor
from .io import fd_handoff, spawn_link
from .io.procs import process_alive
from .peer import Peer
from .rehearsal import rehearse_peer

FLUSH_POLL_S = 0.01
"""Retry interval of answers the spawn link did not take, seconds."""

PRUNE_EVERY = 64
"""Forks between two checks of the Peers' processes (a lost exit notice must not leak a record,
docs/thespian-facts.md §3)."""


class Spawner(NodeActor):
    """Forks Peers on the Server's requests (module docstring)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.cfg = None
        self.link: socket.socket | None = None
        self.kids: list[tuple] = []  # (address as createActor returned it, record key, pid)
        self.outbox: deque = deque()
        self.forks = 0

    def watch(self):
        return ThespianWatch([self.link.fileno()]) if self.link is not None else None

    def on_StartSpawner(self, msg, sender):
        self.cfg = msg.config
        self.link = socket.socket(fileno=msg.link_fd)
        self.link.setblocking(False)
        fd_handoff.hold(msg.link_fd)  # the Peers forked here close it
        try:
            rehearse_peer(self.cfg)  # first-time work done once, here (actors/rehearsal.py)
        except Exception as exc:  # noqa: BLE001 - an optimisation: the Peers work without it
            self.log.warning("node %s: Spawner rehearsal failed: %s: %s", self.cfg.name, type(exc).__name__, exc)

    def on_WatchMessage(self, msg, sender):
        if self.link is None or self.link.fileno() not in msg.ready:
            return
        try:
            got = spawn_link.receive(self.link)
        except spawn_link.LinkClosed:
            self._server_gone()
            return
        for req, fd in got:
            try:
                if isinstance(req, SpawnPeer):
                    self._spawn(req, fd)
                elif isinstance(req, ListenPort):
                    self.cfg = replace(self.cfg, listen_port=req.port)
            finally:
                if fd is not None:
                    os.close(fd)

    def _spawn(self, req: SpawnPeer, fd: int | None) -> None:
        start = replace(req.start, config=self.cfg, key=req.key)
        if fd is not None:
            start = replace(start, fd=fd)
        try:
            addr = self.createActor(Peer, start=start)
        except Exception as exc:  # noqa: BLE001 - e.g. fork() failing with EAGAIN/ENOMEM
            self._answer(SpawnFailed(req.key, str(exc) or type(exc).__name__))
            return
        pid = self.child_pid(addr)
        self.kids.append((addr, req.key, pid))
        self._answer(PeerSpawned(req.key, pid))
        self.forks += 1
        if self.forks % PRUNE_EVERY == 0:
            for kid in [k for k in self.kids if not process_alive(k[2])]:
                self.kids.remove(kid)
                self._answer(PeerExited(kid[1]))

    def on_ChildActorExited(self, msg, sender):
        for kid in self.kids:
            if kid[0] == msg.childAddress:
                self.kids.remove(kid)
                self._answer(PeerExited(kid[1]))
                return

    def _answer(self, msg) -> None:
        self.outbox.append(msg)
        self._flush()

    def _flush(self) -> None:
        while self.outbox and self.link is not None:
            try:
                spawn_link.send(self.link, self.outbox[0])
            except spawn_link.LinkFull:
                if not self.timers.is_set("flush"):
                    self.after("flush", FLUSH_POLL_S)
                return
            except spawn_link.LinkClosed:
                self._server_gone()
                return
            self.outbox.popleft()

    def on_timer(self, name):
        if name == "flush":
            self._flush()

    def _server_gone(self) -> None:
        if self.link is not None:
            fd_handoff.release(self.link.fileno())
            self.link.close()
            self.link = None
            self.send(self.myAddress, ActorExitRequest())

    def on_ActorExitRequest(self, msg, sender):
        # Thespian stops our Peers after this handler; one whose process is already gone (its
        # notice lost) is told to Thespian as exited, else it would wait for it (docs/thespian.md
        # "exit_watch")
        for addr, _key, pid in self.kids:
            if pid and not process_alive(pid):
                self.send(self.myAddress, ChildActorExited(addr))


__all__ = ["Spawner"]
