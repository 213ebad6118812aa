"""The subprotocol API: a protocol is a plain class, hosted by a Protocol actor.

A protocol declares, in one place (docs/subprotocols.md walks through an example):

* ``NAME``, ``VERSION``, ``LENGTH``: its capability and how many message codes it uses
  (devp2p rlpx.md "Capability Messaging");
* ``MESSAGES``: its message classes (:class:`RLPMessage` with RLP sedes, or :class:`RawMessage`),
  each with its relative ``CODE``;
* ``Options``: a frozen dataclass of its config options with defaults; ``__post_init__`` raises
  ValueError for bad values (:mod:`protocols.options` checks the types);
* one handler per message, ``on_<MessageClass>(msg)``, and the hooks :meth:`Protocol.started`,
  :meth:`Protocol.stopped`, :meth:`Protocol.on_timer` and :meth:`Protocol.peer_info`.

The class never sees Thespian: it talks to a :class:`Host` (actors/protocol_host.py in a node,
:class:`protocols.harness.ProtocolHarness` in tests).  Failures follow go-ethereum p2p/peer.go:
an exception from a handler or hook ends the protocol with an error, which disconnects the peer
with SUBPROTOCOL_ERROR (or restarts the protocol under ``on_failure: restart``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import ClassVar, Protocol as Interface

import rlp
from rlp.exceptions import DecodingError, DeserializationError, SerializationError
from rlp.sedes import BigEndianInt, Binary

from rlpx.disc import DiscReason


class ProtocolError(Exception):
    """The remote broke the protocol; raising it from a handler disconnects with SUBPROTOCOL_ERROR."""


class MessageError(ProtocolError):
    """A payload does not decode as its message class (bad RLP, wrong shape, unknown code)."""


class SendError(RuntimeError):
    """:meth:`Protocol.send` with a code outside 0..length-1 (go-ethereum p2p/peer.go "msg code out
    of range") or while the protocol is not running."""


_DECODE_ERRORS = (DecodingError, DeserializationError, SerializationError, RecursionError, ValueError, TypeError)
"""What pyrlp raises on hostile input (RecursionError: it recurses once per nesting level)."""


class UInt(BigEndianInt):
    """RLP sedes of an unsigned integer of at most ``bits`` bits, canonical (no leading zero
    bytes), as go-ethereum's rlp package decodes uint32/uint64/big.Int fields."""

    def __init__(self, bits: int):
        super().__init__()
        self.bits = bits

    def deserialize(self, serial):
        if isinstance(serial, bytes) and len(serial) * 8 > self.bits:
            raise DeserializationError(f"integer wider than {self.bits} bits", serial)
        return super().deserialize(serial)


uint32, uint64, uint256 = UInt(32), UInt(64), UInt(256)
"""Integer sedes of go-ethereum's field types."""

hash32 = Binary.fixed_length(32)
"""A 32-byte hash."""


class ValueMessage:
    """A message whose payload is one RLP value of sedes ``SEDES`` (e.g. a countable list, as
    eth's Transactions): subclasses set ``CODE`` and ``SEDES``; the decoded value is ``.value``."""

    CODE: ClassVar[int] = -1
    SEDES: ClassVar[object] = rlp.sedes.raw
    __slots__ = ("value",)

    def __init__(self, value):
        self.value = value

    def encode(self) -> bytes:
        """The payload bytes (RLP)."""
        return rlp.encode(self.value, sedes=self.SEDES)

    @classmethod
    def decode(cls, payload: bytes):
        """Decode ``payload`` (bytes); raise :class:`MessageError`."""
        try:
            return cls(rlp.decode(payload, sedes=cls.SEDES))
        except _DECODE_ERRORS as exc:
            raise MessageError(f"malformed {cls.__name__}: {type(exc).__name__}: {exc}") from None

    def __eq__(self, other):
        return type(other) is type(self) and other.value == self.value

    def __repr__(self):
        return f"{type(self).__name__}({self.value!r:.60})"


class RLPMessage(rlp.Serializable):
    """A message whose payload is one RLP list: subclasses set ``CODE`` and pyrlp's ``fields``
    (``[(name, sedes), ...]``).  Decoding is exact, as go-ethereum's struct decoding: the list must
    have exactly these fields, integers canonical (no leading zero bytes)."""

    CODE: ClassVar[int] = -1

    def encode(self) -> bytes:
        """The payload bytes (RLP)."""
        return rlp.encode(self)

    @classmethod
    def decode(cls, payload: bytes):
        """Decode ``payload`` (bytes); raise :class:`MessageError`."""
        try:
            return rlp.decode(payload, sedes=cls)
        except _DECODE_ERRORS as exc:
            raise MessageError(f"malformed {cls.__name__}: {type(exc).__name__}: {exc}") from None


class RawMessage:
    """A message whose payload is raw bytes (no RLP), e.g. test/1's: subclasses set ``CODE``."""

    CODE: ClassVar[int] = -1
    __slots__ = ("payload",)

    def __init__(self, payload: bytes = b""):
        self.payload = bytes(payload)

    def encode(self) -> bytes:
        """The payload bytes, as given."""
        return self.payload

    @classmethod
    def decode(cls, payload: bytes):
        """Wrap ``payload``; never raises."""
        return cls(payload)

    def __eq__(self, other):
        return type(other) is type(self) and other.payload == self.payload

    def __repr__(self):
        return f"{type(self).__name__}({len(self.payload)} bytes)"


def raw_messages(prefix: str, count: int) -> tuple[type[RawMessage], ...]:
    """``count`` RawMessage classes named ``<prefix><code>`` for codes 0..count-1."""
    return tuple(type(f"{prefix}{code}", (RawMessage,), {"CODE": code, "__slots__": ()}) for code in range(count))


@dataclass(frozen=True)
class NoOptions:
    """The options of a protocol that takes none."""


@dataclass(frozen=True)
class PeerSession:
    """Who the protocol runs with: ``peer_id`` 64 raw bytes (the node id), ``client_id`` the
    remote Hello's name, ``caps`` "name/version" strings, ``inbound`` the direction, ``remote_addr``
    (host, port), and the ``name``/``version``/``length`` this protocol runs under (a config may run
    a class under another name or length)."""

    peer_id: bytes
    client_id: str
    caps: tuple[str, ...]
    inbound: bool
    remote_addr: tuple
    name: str
    version: int
    length: int


class Host(Interface):
    """What a protocol asks of whoever runs it: the Protocol actor or the test harness."""

    log: logging.Logger

    def send_message(self, code: int, payload: bytes) -> None:
        """Queue one message (relative ``code``, ``payload`` bytes) for the peer."""

    def disconnect(self, reason: int, error: str) -> None:
        """Disconnect the peer with DiscReason ``reason``."""

    def end(self, error: str) -> None:
        """The protocol's run is over: QUITTING without ``error``, else SUBPROTOCOL_ERROR."""

    def emit(self, kind: str, data: dict) -> None:
        """Publish a protocol event."""

    def after(self, name: str, seconds: float) -> None:
        """Call the protocol's ``on_timer(name)`` once, ``seconds`` from now (replaces one of that name)."""

    def cancel(self, name: str) -> None:
        """Cancel the timer ``name`` if set."""

    def now(self) -> float:
        """Monotonic time, seconds."""


class Protocol:
    """Base of every subprotocol; see the module docstring for what a subclass declares."""

    NAME: ClassVar[str] = ""
    VERSION: ClassVar[int] = 0
    LENGTH: ClassVar[int] = 0
    MESSAGES: ClassVar[tuple[type, ...]] = ()
    Options: ClassVar[type] = NoOptions

    def __init__(self, host: Host, session: PeerSession, options=None):
        self.host = host
        self.peer = session
        self.name, self.version, self.length = session.name, session.version, session.length
        self.options = options if options is not None else self.Options()
        self.log = host.log
        self.running = True
        self._by_code = {m.CODE: m for m in self.MESSAGES}

    # -- hooks ------------------------------------------------------------------------------
    def started(self) -> None:
        """The protocol starts on a peer (send the handshake here)."""

    def stopped(self, reason: DiscReason) -> None:
        """The connection closes with ``reason``; nothing can be sent any more."""

    def on_timer(self, name: str) -> None:
        """The timer ``name`` set with :meth:`after` is due."""

    @classmethod
    def enr_entries(cls, options) -> dict:
        """Entries this protocol adds to the node's record (EIP-778), name -> value as
        :func:`discovery.enr.build` takes them, for built ``options``; none by default
        (go-ethereum p2p/protocol.go ``Protocol.Attributes``)."""
        return {}

    @classmethod
    def node_info(cls, options) -> dict:
        """What admin_nodeInfo shows under ``protocols[NAME]`` beside the version, for built
        ``options``; nothing by default (go-ethereum p2p/protocol.go ``Protocol.NodeInfo``)."""
        return {}

    @classmethod
    def record_filter(cls, options):
        """A test of found nodes' records (``record -> bool``; the record may be None when none is
        known) that a node must pass to be dialled for this protocol, or None to dial any
        (go-ethereum eth/protocols/eth/discovery.go ``NewNodeFilter`` on a ``DialCandidates``
        iterator)."""
        return None

    def peer_info(self):
        """JSON-able per-peer data for admin_peers ``protocols[NAME]``, asked for each time it is
        served; None shows "handshake", as go-ethereum does before the protocol's handshake."""
        return None

    def on_message(self, msg) -> None:
        """A message whose class has no ``on_<Class>`` handler: raise :class:`ProtocolError`."""
        raise ProtocolError(f"{self.name}: no handler for {type(msg).__name__}")

    def on_unknown(self, code: int, payload: bytes) -> None:
        """A code below the length with no message class: raise :class:`MessageError`, as
        go-ethereum's protocols do for an invalid message code (eth/protocols/eth/handler.go)."""
        raise MessageError(f"{self.name}: unknown message code {code}")

    # -- API --------------------------------------------------------------------------------
    def send(self, msg) -> None:
        """Queue message ``msg`` (an instance of a class of ``MESSAGES``); it leaves after the
        current handler.  Raises :class:`SendError` (code out of range, not running)."""
        code = msg.CODE
        if not self.running:
            raise SendError(f"{self.name}: send while not running")
        if not 0 <= code < self.length:
            raise SendError(f"{self.name}: message code {code} out of range (length {self.length})")
        self.host.send_message(code, msg.encode())

    def disconnect(self, reason: DiscReason | int = DiscReason.SUBPROTOCOL_ERROR, error: str = "") -> None:
        """Disconnect the peer with ``reason`` and stop running."""
        if self.running:
            self.running = False
            self.host.disconnect(int(reason), error)

    def end(self, error: str = "") -> None:
        """End the run: QUITTING if ``error`` is empty, else SUBPROTOCOL_ERROR (go-ethereum p2p/peer.go)."""
        if self.running:
            self.running = False
            self.host.end(error)

    def emit(self, kind: str, data: dict) -> None:
        """Publish a ``protocol_event`` of ``kind`` with JSON-able ``data``."""
        self.host.emit(kind, data)

    def after(self, name: str, seconds: float) -> None:
        """Arm timer ``name`` (seconds); :meth:`on_timer` gets it."""
        self.host.after(name, seconds)

    def cancel(self, name: str) -> None:
        """Cancel timer ``name``."""
        self.host.cancel(name)

    def now(self) -> float:
        """Monotonic time, seconds (the harness's fake clock in tests)."""
        return self.host.now()

    # -- called by the host ------------------------------------------------------------------
    def receive(self, code: int, payload: bytes) -> None:
        """Decode one inbound message (relative ``code``, ``payload`` bytes) and call its handler.
        Raises :class:`MessageError` or whatever the handler raises."""
        cls = self._by_code.get(code)
        if cls is None:
            self.on_unknown(code, payload)
            return
        msg = cls.decode(payload)
        handler = getattr(self, "on_" + cls.__name__, None)
        (handler or self.on_message)(msg)
