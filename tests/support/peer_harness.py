"""A :class:`node.peer_machine.PeerMachine` driven without an actor system, sockets or sleeps.

:class:`PeerHarness` plays every part around one machine: the shell (actors/peer.py) that feeds
it bytes and writes its out-buffer, the Server that answers its checkpoints (a real
:class:`node.peer_table.PeerTable`), and the remote node (an in-memory
:class:`rlpx.connection.Connection`).  Time is the float :attr:`PeerHarness.now`, in seconds,
passed to the machine as ``now``; nothing waits.  Every action the machine returns through the
harness is also appended to :attr:`PeerHarness.actions`, in order.
"""

from __future__ import annotations

from config.model import NodeConfig, ProtocolConfig, Timeouts
from messages.admission import ADD_PEER, POST_HANDSHAKE, CheckpointRequest
from messages.protocol import FromProtocol
from messages.protocol import ToProtocol as ProtocolBatch
from node.admission import Admission
from node.links import ProtocolSpec
from node.peer_machine import Finish, PeerMachine, Stage, ToProtocol, ToServer
from node.peer_table import PeerTable
from rlpx import base_protocol as bp
from rlpx.caps import LocalProtocol
from rlpx.connection import (Connection, ConnectionFailure, DisconnectReceived, HandshakeDone, HelloReceived,
                             Messages)
from rlpx.enode import Enode
from rlpx.keys import generate_private_key, node_id_from_private_key

T0 = 1000.0
"""The fake clock's start, seconds."""

LOCAL_ADDR = ("10.0.0.1", 30303)
"""Our end of the TCP connection (host, port)."""

REMOTE_HOST, REMOTE_PORT = "10.0.0.2", 30304
"""The remote's address: dialled (outbound) or the accepted connection's source (inbound)."""

PROTOCOLS = (("aaa", 1, 3), ("test", 1, 8))
"""(name, version, length) of the protocols both sides run by default: offsets aaa 16, test 19."""

PROTOCOL_CLASS = "protocols.testing_protocols.Unused"
"""The "module.Class" named in the specs; the machine never loads it."""


def protocol_config(name: str, version: int, length: int, **kw) -> ProtocolConfig:
    """A ProtocolConfig with an explicit ``length`` (keywords: on_failure, restart, hold_max)."""
    return ProtocolConfig(name, version, length=length, actor=PROTOCOL_CLASS, **kw)


def node_config(key: bytes, protocols=None, **kw) -> NodeConfig:
    """Our NodeConfig: private ``key`` (32 bytes), ``protocols`` ProtocolConfigs (default
    :data:`PROTOCOLS`), ``timeouts`` a Timeouts or a dict of its fields; other keywords are
    NodeConfig fields."""
    if protocols is None:
        protocols = tuple(protocol_config(*p) for p in PROTOCOLS)
    timeouts = kw.pop("timeouts", None)
    if isinstance(timeouts, dict):
        timeouts = Timeouts(**timeouts)
    return NodeConfig("local", key, listen_port=LOCAL_ADDR[1], protocols=tuple(protocols),
                      timeouts=timeouts or Timeouts(), **kw)


class PeerHarness:
    """One PeerMachine and its remote.

    ``inbound`` True: the remote dialled us (it is the RLPx initiator); False: we dial it.
    ``protocols`` our ProtocolConfigs; ``remote_protocols`` (name, version, length) the remote
    runs; ``key``/``remote_key`` our and its 32-byte keys (the same: a connection to ourselves);
    ``remote_hello`` replaces the Hello it sends; ``remote_auto`` False: the remote does not
    pass its own checkpoints by itself (drive :attr:`remote` directly); ``trusted``/``static``
    as the Dialer would pass them (trusted also goes into the Server's admission);
    ``max_peers`` and other keywords go to :func:`node_config`.

    Attributes: ``machine`` (also ``m``), ``remote`` (the remote's Connection), ``table`` and
    ``peer_record`` (the Server's PeerTable and its record of this connection), ``actions``
    (everything the machine returned through the harness), ``remote_events`` (what the remote's
    Connection reported), ``remote_failure`` (its ConnectionFailure, if any), ``now``.
    """

    def __init__(self, inbound: bool = False, protocols=None, remote_protocols=PROTOCOLS, remote_key=None,
                 remote_hello: bp.Hello | None = None, remote_auto: bool = True, trusted: bool = False,
                 static: bool = False, key: bytes | None = None, **cfg):
        self.now = T0
        self.key = key or generate_private_key()
        self.local_id = node_id_from_private_key(self.key)
        self.remote_key = remote_key or generate_private_key()
        self.remote_id = node_id_from_private_key(self.remote_key)
        self.cfg = node_config(self.key, protocols, **cfg)
        self.specs = [ProtocolSpec(pc.name, pc.version, pc.length, pc.actor) for pc in self.cfg.protocols]
        self.inbound = inbound
        self.table = PeerTable(Admission(self.local_id, self.cfg.max_peers, self.cfg.max_inbound_conns(),
                                         {self.remote_id} if trusted else (), bool(self.cfg.protocols)))
        if inbound:
            self.peer_record = self.table.new("peer", True, conn_id="c1", remote=(REMOTE_HOST, REMOTE_PORT))
            self.machine = PeerMachine(self.cfg, self.specs, remote=(REMOTE_HOST, REMOTE_PORT))
        else:
            self.peer_record = self.table.new("peer", False, dial_id=self.remote_id, static=static,
                                         remote=(REMOTE_HOST, REMOTE_PORT))
            dial = Enode(self.remote_id, REMOTE_HOST, REMOTE_PORT, REMOTE_PORT)
            self.machine = PeerMachine(self.cfg, self.specs, dial=dial, static=static, trusted=trusted)
        remote_local = [LocalProtocol(*p) for p in remote_protocols]
        caps = tuple(bp.Capability(p.name, p.version) for p in remote_local)
        self.remote_hello = remote_hello or bp.Hello(bp.BASE_PROTOCOL_VERSION, "remote", caps, REMOTE_PORT,
                                                      self.remote_id)
        self.remote = Connection(self.remote_key, self.remote_hello, remote_local,
                                 remote_node_id=self.local_id if inbound else None)
        self.remote_auto = remote_auto
        self.remote_events: list = []
        self.remote_failure: ConnectionFailure | None = None
        self.actions: list = []
        self._answered = 0

    @property
    def m(self) -> PeerMachine:
        """The machine under test."""
        return self.machine

    # -- recording --------------------------------------------------------------------------
    def record(self, actions: list) -> list:
        """Append ``actions`` (a machine method's return value) to :attr:`actions`; returns them."""
        self.actions.extend(actions)
        return actions

    def of_type(self, cls, actions=None) -> list:
        """The actions of class ``cls`` in ``actions`` (default: all recorded so far)."""
        return [a for a in (self.actions if actions is None else actions) if isinstance(a, cls)]

    def to_server(self, cls, actions=None) -> list:
        """The messages of class ``cls`` the machine sent to the Server (ToServer actions)."""
        return [a.message for a in self.of_type(ToServer, actions) if isinstance(a.message, cls)]

    def to_protocol(self, name: str, cls=ProtocolBatch, actions=None) -> list:
        """The messages of class ``cls`` (default: ToProtocol batches) sent to protocol ``name``."""
        return [a.message for a in self.of_type(ToProtocol, actions) if a.name == name and isinstance(a.message, cls)]

    def gone(self):
        """The PeerGone of the one Finish recorded (fails unless there is exactly one)."""
        finishes = self.of_type(Finish)
        assert len(finishes) == 1, f"{len(finishes)} Finish actions: {finishes}"
        return finishes[0].gone

    # -- time -------------------------------------------------------------------------------
    def at(self, when: float) -> list:
        """Set the clock to ``when`` (absolute seconds) and run what is due then."""
        self.now = when
        return self.record(self.machine.on_time(when))

    def advance(self, seconds: float) -> list:
        """Move the clock on by ``seconds`` and run what is due."""
        return self.at(self.now + seconds)

    # -- the wire ---------------------------------------------------------------------------
    def start(self) -> list:
        """The TCP connection comes up at :attr:`now` (outbound: connect_started, then connected)."""
        actions = []
        if not self.inbound:
            actions += self.machine.connect_started(self.now)
        actions += self.machine.connected(LOCAL_ADDR, self.now)
        return self.record(actions)

    def write(self, nbytes: int | None = None) -> list:
        """The shell writes: the socket takes the first ``nbytes`` of the machine's out-buffer
        (all when None, none when 0), they reach the remote, and the machine is told with
        ``wrote``.  Returns wrote's actions; the remote's events go to :attr:`remote_events`."""
        out = self.machine.out
        n = len(out) if nbytes is None else min(nbytes, len(out))
        data = bytes(out[:n])
        del out[:n]
        if data:
            self.feed_remote(data)
        return self.record(self.machine.wrote(n, self.now))

    def feed_remote(self, data: bytes) -> list:
        """Bytes arrive at the remote Connection; it passes its checkpoints when ``remote_auto``.
        A ConnectionFailure is kept in :attr:`remote_failure`.  Returns the remote's events."""
        if self.remote_failure is not None:
            return []
        try:
            events = self.remote.feed(data)
            i = 0
            while i < len(events):  # an approval's events can hold the next checkpoint
                if self.remote_auto and isinstance(events[i], HandshakeDone):
                    events += self.remote.approve_post_handshake()
                elif self.remote_auto and isinstance(events[i], HelloReceived):
                    events += self.remote.approve_add_peer()
                i += 1
        except ConnectionFailure as exc:
            self.remote_failure = exc
            events = exc.events
        self.remote_events.extend(events)
        return events

    def pump_in(self) -> list:
        """Everything the remote has queued reaches the machine (``received``, one read)."""
        data = bytes(self.remote.out)
        self.remote.out.clear()
        if not data:
            return []
        return self.record(self.machine.received(data, self.now))

    def remote_send(self, code: int, payload: bytes) -> list:
        """The remote sends one message with absolute ``code`` and it arrives (one read)."""
        self.remote.send(code, payload)
        return self.pump_in()

    def remote_closes(self, error: str = "connection closed by remote", cause: str = "closed") -> list:
        """End of stream (or a read error, with its ``cause``) on the machine's socket."""
        return self.record(self.machine.remote_closed(error, cause, self.now))

    def remote_messages(self) -> list:
        """Subprotocol messages the remote received: [(name, relative code, payload), ...]."""
        return [(name, code, payload) for ev in self.remote_events if isinstance(ev, Messages)
                for name, msgs in ev.by_protocol.items() for code, payload in msgs]

    def remote_disconnects(self) -> list:
        """The DiscReasons of the Disconnects the remote received."""
        return [ev.reason for ev in self.remote_events if isinstance(ev, DisconnectReceived)]

    # -- the Server -------------------------------------------------------------------------
    def pending_checkpoint(self) -> CheckpointRequest | None:
        """The machine's CheckpointRequest not yet answered, or None."""
        requests = self.to_server(CheckpointRequest)
        return requests[self._answered] if len(requests) > self._answered else None

    def approve(self) -> list:
        """Answer the pending checkpoint as the Server would: ask :attr:`table` and reply
        (None to go on, else its DiscReason code).  Returns checkpoint_reply's actions."""
        req = self.pending_checkpoint()
        assert req is not None, "no checkpoint pending"
        outcome = self.table.checkpoint(self.peer_record, req.stage, req.node_id, req.inbound, req.matched, req.info)
        return self.reply(None if outcome.reason is None else int(outcome.reason))

    def reply(self, reason: int | None) -> list:
        """Answer the pending checkpoint with ``reason`` (None: go on) whatever the table says."""
        req = self.pending_checkpoint()
        assert req is not None, "no checkpoint pending"
        self._answered += 1
        return self.record(self.machine.checkpoint_reply(req.stage, reason, self.now))

    # -- scripts ----------------------------------------------------------------------------
    def run_to_hello(self) -> None:
        """Start, complete the RLPx handshake and pass checkpoint 1: stage HELLO, our Hello
        written, the remote's Hello (if any) not yet read."""
        self.start()
        self.write()
        self.pump_in()
        if self.inbound:
            self.write()  # our ack; the remote answers with its Hello
        assert self.machine.stage == Stage.POST_HANDSHAKE, self.machine.stage
        assert self.pending_checkpoint().stage == POST_HANDSHAKE
        self.approve()
        self.write()
        assert self.machine.stage in (Stage.HELLO, Stage.ADD_PEER), self.machine.stage

    def run_to_add_peer(self) -> None:
        """As :meth:`run_to_hello`, then the remote's Hello is read: stage ADD_PEER, checkpoint 2
        pending."""
        self.run_to_hello()
        self.pump_in()
        assert self.machine.stage == Stage.ADD_PEER, self.machine.stage
        assert self.pending_checkpoint().stage == ADD_PEER

    def run_to_running(self) -> None:
        """As :meth:`run_to_add_peer`, then checkpoint 2 passes: stage RUNNING, every matched
        protocol spawned, both out-buffers empty."""
        self.run_to_add_peer()
        self.approve()
        self.write()
        self.pump_in()
        assert self.machine.stage == Stage.RUNNING, self.machine.stage
        assert not self.machine.out and not self.remote.out

    def from_protocol(self, name: str, seq: int, messages=(), ack: int = 0, early_write=None) -> list:
        """The Protocol actor of ``name`` sends batch ``seq`` of ((relative code, payload), ...)
        acknowledging inbound batches up to ``ack``."""
        return self.record(self.machine.from_protocol(name, FromProtocol(name, seq, tuple(messages), ack),
                                                      self.now, early_write))


__all__ = ["PeerHarness", "node_config", "protocol_config", "T0", "LOCAL_ADDR", "REMOTE_HOST", "REMOTE_PORT",
           "PROTOCOLS"]
