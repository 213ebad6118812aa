"""The Node Discovery v4 packet format (devp2p discv4.md "Wire Protocol", EIP-8, EIP-868): pure
code, no sockets.

A packet is ``hash (32) || signature (65) || packet-type (1) || packet-data`` (discv4.md
"Wire Protocol"), where

* ``signature`` = :func:`rlpx.keys.sign_recoverable` (r || s || v, v in {0, 1}) of
  keccak256(packet-type || packet-data), made with the sender's node key;
* ``hash`` = keccak256(signature || packet-type || packet-data).  It only makes the format
  recognisable and gives replies a token to quote (Pong's ``ping_hash``, ENRResponse's
  ``request_hash``); it protects nothing;
* ``packet-data`` is one RLP list, whose shape depends on the type (:class:`Ping` ...
  :class:`ENRResponse`).  At most :data:`MAX_PACKET_SIZE` bytes in all.

Forward compatibility, as go-ethereum p2p/discover/v4wire/v4wire.go decodes it (every packet
struct ends in ``Rest []rlp.RawValue `rlp:"tail"```, and ``Decode`` reads one value from an
``rlp.Stream``):

* extra elements at the end of the packet-data list are ignored (EIP-8); each must still be a
  well-formed RLP item inside the list, as an ``rlp.RawValue`` must;
* bytes after the packet-data list are ignored (EIP-8: "ignore any data after the first RLP
  value");
* Ping's ``version`` is read (a uint64) but never compared with 4 (EIP-8; discv4.md "Implementations
  should ignore any mismatches in version");
* ``enr-seq`` (EIP-868) is optional in Ping and Pong: absent gives None.
* Lists *inside* the packet (an endpoint, a Neighbors node) must have exactly their fields:
  go-ethereum's ``Endpoint`` and ``Node`` structs have no tail, so its decoder refuses extra
  elements there, and so does this one.

One deliberate difference from go-ethereum: where Ping or Pong has an RLP *list* in the
``enr-seq`` position, that list is taken as an EIP-8 extra element (``enr_seq`` None), not as a
malformed enr-seq.  EIP-8's own test packets "ping packet with version 555, additional list
elements and additional random data" and "pong packet with additional list elements and
additional random data" (written before EIP-868) put a list there; go-ethereum rejects both (its
v4wire_test.go no longer carries them).  An RLP *string* there must be a canonical uint64 as in
go-ethereum.

Field rules come from go-ethereum's struct types and its ``rlp`` package: integers are canonical
(no leading zero byte, 0 encoded as the empty string) and no wider than their Go type (ports
``uint16``, version, expiration and enr-seq ``uint64``); ``target`` and a node's ``node_id`` are
exactly 64 bytes (``Pubkey [64]byte``); IP fields are byte strings of any length, as
go-ethereum's ``net.IP`` decodes (4 or 16 bytes is what senders send; :attr:`Endpoint.address`
says None otherwise, and the caller drops such a Neighbors node as go-ethereum's
``nodeFromRPC`` does); ``ping_hash`` / ``request_hash`` are byte strings of any length
(``ReplyTok []byte``; the caller compares it with the 32-byte hash it sent).  No curve check
is made on ``target`` or neighbour ids (go-ethereum makes it when it uses a node, in
``nodeFromRPC``).  The ENR record of an ENRResponse must decode and verify as a
:class:`discovery.enr.Record` (EIP-868: "the recipient should verify that the node record is
signed by the public key which signed the response packet" - the caller compares
``record.node_id`` with the sender id; go-ethereum checks the record's own signature in
``enode.New`` after decoding).

:func:`decode` raises one :class:`PacketError` subclass per kind of failure, so a caller can
count them: :class:`PacketTooSmall`, :class:`PacketTooBig`, :class:`BadHash`,
:class:`BadSignature`, :class:`UnknownPacketType`, :class:`MalformedPacket`.  No other exception
escapes from any input bytes.  :func:`encode` raises :class:`EncodeError` for a packet it cannot
send.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import ClassVar, Iterable, Sequence, Union

import rlp
from rlp.codec import consume_length_prefix
from rlp.exceptions import DecodingError

from rlpx.errors import NodeKeyError
from rlpx.keys import keccak256, recover_node_id, sign_recoverable

from .enr import Record, RecordError
from .enr import decode as decode_record

# --------------------------------------------------------------------------- constants

MAX_PACKET_SIZE = 1280
"""Largest packet, bytes (discv4.md "Wire Protocol": "The maximum size of any packet is 1280
bytes"; EIP-8 keeps it; go-ethereum v4_udp.go ``maxPacketSize``)."""

HASH_SIZE = 32
"""Bytes of the leading keccak256 hash (discv4.md; go-ethereum v4wire.go ``macSize``)."""

SIGNATURE_SIZE = 65
"""Bytes of the r || s || v signature (discv4.md; go-ethereum ``crypto.SignatureLength``)."""

HEAD_SIZE = HASH_SIZE + SIGNATURE_SIZE
"""Bytes before the packet-type byte, 97 (go-ethereum v4wire.go ``headSize``)."""

MIN_PACKET_SIZE = HEAD_SIZE + 1
"""Smallest packet :func:`decode` looks at: the head and the type byte, 98 bytes (go-ethereum
``Decode``: ``len(input) < headSize+1`` is ``ErrPacketTooSmall``)."""

EXPIRATION_S = 20
"""Seconds from now that a sent packet's ``expiration`` lies (go-ethereum v4_udp.go
``expiration = 20 * time.Second``)."""

MAX_NEIGHBORS = 12
"""Most nodes in one Neighbors packet (go-ethereum v4wire.go ``MaxNeighbors``).

go-ethereum's comment in v4wire.go gives the calculation: the largest n for which a Neighbors
packet of n nodes, each with a 16-byte IP, both ports 65535 and a 64-byte id, and expiration
2**64-1, keeps head (97) + 1 + RLP size below 1280 bytes (``headSize+size+1 >= 1280`` stops the
loop).  A node is then 91 bytes of RLP; 12 nodes give a 1205-byte packet and 13 nodes 1296.
tests/unit/test_v4wire.py repeats the calculation with :func:`encode`."""

VERSION = 4
"""The protocol version a Ping carries (discv4.md "Ping Packet": ``version = 4``)."""

MAX_UINT64 = 2**64 - 1
MAX_UINT16 = 2**16 - 1

PING, PONG, FIND_NODE, NEIGHBORS, ENR_REQUEST, ENR_RESPONSE = 1, 2, 3, 4, 5, 6
"""Packet types (discv4.md 0x01-0x04; EIP-868 0x05, 0x06; go-ethereum ``PingPacket`` ...)."""


# --------------------------------------------------------------------------- errors


class PacketError(ValueError):
    """A received datagram is not a valid discv4 packet.  ``kind`` names the subclass for
    counting; ``sender_id`` (64 bytes) and ``packet_hash`` (32 bytes) are set when the failure
    came after the signature was recovered (unknown type, malformed data), else None, as
    go-ethereum's ``Decode`` returns them with those errors."""

    kind: ClassVar[str] = "error"

    def __init__(self, message: str, sender_id: bytes | None = None, packet_hash: bytes | None = None):
        super().__init__(message)
        self.sender_id = sender_id
        self.packet_hash = packet_hash


class PacketTooSmall(PacketError):
    """Fewer than :data:`MIN_PACKET_SIZE` (98) bytes (go-ethereum ``ErrPacketTooSmall``)."""

    kind = "too_small"


class PacketTooBig(PacketError):
    """More than :data:`MAX_PACKET_SIZE` (1280) bytes (discv4.md "Wire Protocol")."""

    kind = "too_big"


class BadHash(PacketError):
    """The first 32 bytes are not keccak256 of the rest (go-ethereum ``ErrBadHash``)."""

    kind = "bad_hash"


class BadSignature(PacketError):
    """No public key can be recovered from the signature (go-ethereum ``crypto.Ecrecover``
    failing in ``recoverNodeKey``)."""

    kind = "bad_signature"


class UnknownPacketType(PacketError):
    """A packet-type byte other than 1-6 (EIP-8: "Discovery packets with unknown packet type
    should be discarded silently"; go-ethereum ``unknown type``)."""

    kind = "unknown_type"


class MalformedPacket(PacketError):
    """The packet-data is not well-formed RLP, or a field does not have its shape, or the
    ENRResponse record does not decode and verify."""

    kind = "malformed"


class EncodeError(ValueError):
    """:func:`encode` cannot make the packet: a field out of range or of the wrong type, an
    invalid private key, or more than :data:`MAX_PACKET_SIZE` bytes."""


# --------------------------------------------------------------------------- packet types

IPLike = Union[str, bytes, ipaddress.IPv4Address, ipaddress.IPv6Address]


def _packed_ip(ip: IPLike) -> bytes:
    if isinstance(ip, (bytes, bytearray)):
        return bytes(ip)
    if isinstance(ip, (ipaddress.IPv4Address, ipaddress.IPv6Address)):
        return ip.packed
    if isinstance(ip, str):
        try:
            return ipaddress.ip_address(ip).packed
        except ValueError:
            raise EncodeError(f"not an IP address: {ip!r}") from None
    raise EncodeError(f"an IP address must be a string, bytes or ipaddress object, not {type(ip).__name__}")


def _address(ip: bytes) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    if len(ip) in (4, 16):
        return ipaddress.ip_address(ip)
    return None


@dataclass(frozen=True)
class Endpoint:
    """``[ip, udp-port, tcp-port]`` (discv4.md "Ping Packet"; go-ethereum v4wire ``Endpoint``).

    ``ip`` the packed address as on the wire, 4 bytes (IPv4) or 16 (IPv6) when sent (a decoded
    one may have another length, as go-ethereum's ``net.IP`` allows); ``udp`` the discovery port
    and ``tcp`` the RLPx port, 0..65535 (0 for an unknown TCP port, as in Ping's ``to``).
    :meth:`of` builds one from a text address.
    """

    ip: bytes
    udp: int
    tcp: int

    @classmethod
    def of(cls, ip: IPLike, udp: int, tcp: int) -> "Endpoint":
        """An endpoint for ``ip`` given as text (``"127.0.0.1"``, ``"::1"``), packed bytes or an
        ``ipaddress`` object.  An IPv4-mapped IPv6 address becomes its 4 bytes, as go-ethereum
        ``NewEndpoint`` does.  Raises :class:`EncodeError` for text that is not an address."""
        packed = _packed_ip(ip)
        if len(packed) == 16:
            mapped = ipaddress.IPv6Address(packed).ipv4_mapped
            if mapped is not None:
                packed = mapped.packed
        return cls(packed, udp, tcp)

    @property
    def address(self) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
        """``ip`` as an ``ipaddress`` object, or None when it is neither 4 nor 16 bytes."""
        return _address(self.ip)


@dataclass(frozen=True)
class Node:
    """One Neighbors entry ``[ip, udp-port, tcp-port, node-id]`` (discv4.md "Neighbors Packet";
    go-ethereum v4wire ``Node``): ``ip``, ``udp``, ``tcp`` as in :class:`Endpoint`, ``node_id``
    the 64-byte public key (not checked to be on the curve here)."""

    ip: bytes
    udp: int
    tcp: int
    node_id: bytes

    @classmethod
    def of(cls, ip: IPLike, udp: int, tcp: int, node_id: bytes) -> "Node":
        """A node for ``ip`` given as text, bytes or an ``ipaddress`` object (see
        :meth:`Endpoint.of`)."""
        ep = Endpoint.of(ip, udp, tcp)
        return cls(ep.ip, udp, tcp, node_id)

    @property
    def address(self) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
        """``ip`` as an ``ipaddress`` object, or None when it is neither 4 nor 16 bytes."""
        return _address(self.ip)

    @property
    def endpoint(self) -> Endpoint:
        """The node's ``[ip, udp, tcp]``."""
        return Endpoint(self.ip, self.udp, self.tcp)


@dataclass(frozen=True)
class Ping:
    """Ping 0x01: ``[version, from, to, expiration, enr-seq?, ...]`` (discv4.md "Ping Packet";
    EIP-868 adds ``enr-seq``).

    ``from_`` the sender's endpoint, ``to`` the recipient's as the sender sees it (its tcp
    0 by convention); ``expiration`` absolute UNIX time, seconds (uint64); ``enr_seq`` the
    sender's record sequence number or None; ``version`` 4 when sent, any uint64 accepted."""

    TYPE: ClassVar[int] = PING
    NAME: ClassVar[str] = "PING/v4"

    from_: Endpoint
    to: Endpoint
    expiration: int
    enr_seq: int | None = None
    version: int = VERSION


@dataclass(frozen=True)
class Pong:
    """Pong 0x02: ``[to, ping-hash, expiration, enr-seq?, ...]`` (discv4.md "Pong Packet";
    EIP-868).

    ``to`` the UDP envelope address the Ping came from (so the pinger learns its external
    address); ``ping_hash`` the ``hash`` of that Ping, 32 bytes when sent; ``expiration``
    seconds; ``enr_seq`` as in :class:`Ping`."""

    TYPE: ClassVar[int] = PONG
    NAME: ClassVar[str] = "PONG/v4"

    to: Endpoint
    ping_hash: bytes
    expiration: int
    enr_seq: int | None = None


@dataclass(frozen=True)
class FindNode:
    """FindNode 0x03: ``[target, expiration, ...]`` (discv4.md "FindNode Packet").

    ``target`` a 64-byte public key (discv4.md says 65 bytes; every implementation sends the 64
    of go-ethereum's ``Pubkey``), whose keccak256 is the point looked up; ``expiration`` seconds."""

    TYPE: ClassVar[int] = FIND_NODE
    NAME: ClassVar[str] = "FINDNODE/v4"

    target: bytes
    expiration: int


@dataclass(frozen=True)
class Neighbors:
    """Neighbors 0x04: ``[[[ip, udp, tcp, node-id], ...], expiration, ...]`` (discv4.md
    "Neighbors Packet").  ``nodes`` a tuple of :class:`Node`, at most :data:`MAX_NEIGHBORS` when
    sent (:func:`split_neighbors`); ``expiration`` seconds."""

    TYPE: ClassVar[int] = NEIGHBORS
    NAME: ClassVar[str] = "NEIGHBORS/v4"

    nodes: tuple[Node, ...]
    expiration: int

    def __post_init__(self) -> None:
        if not isinstance(self.nodes, tuple):
            object.__setattr__(self, "nodes", tuple(self.nodes))


@dataclass(frozen=True)
class ENRRequest:
    """ENRRequest 0x05: ``[expiration, ...]`` (EIP-868 "ENRRequest Packet"); seconds."""

    TYPE: ClassVar[int] = ENR_REQUEST
    NAME: ClassVar[str] = "ENRREQUEST/v4"

    expiration: int


@dataclass(frozen=True)
class ENRResponse:
    """ENRResponse 0x06: ``[request-hash, ENR, ...]`` (EIP-868 "ENRResponse Packet").

    ``request_hash`` the ``hash`` of the ENRRequest answered, 32 bytes when sent; ``record`` the
    sender's verified :class:`discovery.enr.Record`."""

    TYPE: ClassVar[int] = ENR_RESPONSE
    NAME: ClassVar[str] = "ENRRESPONSE/v4"

    request_hash: bytes
    record: Record


Packet = Union[Ping, Pong, FindNode, Neighbors, ENRRequest, ENRResponse]

PACKET_TYPES: dict[int, type] = {cls.TYPE: cls for cls in (Ping, Pong, FindNode, Neighbors, ENRRequest, ENRResponse)}
"""Packet class by type byte."""


# --------------------------------------------------------------------------- time


def expiration_for(now_s: float) -> int:
    """The ``expiration`` to send at UNIX time ``now_s`` (seconds): whole seconds
    ``now + EXPIRATION_S``, as go-ethereum's ``uint64(time.Now().Add(expiration).Unix())``."""
    return int(now_s // 1) + EXPIRATION_S


def expired(expiration: int, now_s: float) -> bool:
    """Whether a packet with this ``expiration`` (a decoded uint64, seconds) has expired at UNIX
    time ``now_s`` (seconds, may have a fraction).

    go-ethereum ``v4wire.Expired``: ``time.Unix(int64(ts), 0).Before(time.Now())``, so the uint64 is
    read as an int64 (2**63 and above are negative, hence long expired) and a time stamp equal to
    the current second has expired once any fraction of it has passed.  discv4.md: "Packets
    containing a time stamp that lies in the past are expired may not be processed"."""
    signed = expiration - 2**64 if expiration >= 2**63 else expiration
    return signed < now_s


# --------------------------------------------------------------------------- neighbors


def split_neighbors(nodes: Iterable[Node], per_packet: int = MAX_NEIGHBORS) -> list[tuple[Node, ...]]:
    """The node lists of the Neighbors packets that answer one FindNode: ``nodes`` in order, at
    most ``per_packet`` (:data:`MAX_NEIGHBORS`) a packet, and one empty list when there are no
    nodes, since go-ethereum's ``handleFindnode`` sends one empty Neighbors then.  Raises
    ValueError for ``per_packet`` outside 1..MAX_NEIGHBORS."""
    if not isinstance(per_packet, int) or not 1 <= per_packet <= MAX_NEIGHBORS:
        raise ValueError(f"per_packet must be 1..{MAX_NEIGHBORS}, got {per_packet!r}")
    items = tuple(nodes)
    if not items:
        return [()]
    return [items[i:i + per_packet] for i in range(0, len(items), per_packet)]


# --------------------------------------------------------------------------- packet-data values
# Fields are checked here and the packet-data built as nested lists of bytes and ints, which
# pyrlp encodes (canonical integers: 0 is the empty string).


def _uint_value(value: int, what: str, limit: int) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= limit:
        raise EncodeError(f"{what} must be an integer 0..{limit}, got {value!r}")
    return value


def _blob_value(value: bytes, what: str, size: int | None = None) -> bytes:
    if not isinstance(value, (bytes, bytearray)):
        raise EncodeError(f"{what} must be bytes, got {type(value).__name__}")
    if size is not None and len(value) != size:
        raise EncodeError(f"{what} must be {size} bytes, got {len(value)}")
    return bytes(value)


def _ip_value(ip: bytes, what: str) -> bytes:
    if not isinstance(ip, (bytes, bytearray)) or len(ip) not in (4, 16):
        raise EncodeError(f"{what} ip must be 4 or 16 bytes (use Endpoint.of for text), got {ip!r}")
    return bytes(ip)


def _endpoint_value(ep: Endpoint, what: str) -> list:
    if not isinstance(ep, Endpoint):
        raise EncodeError(f"{what} must be an Endpoint, got {type(ep).__name__}")
    return [_ip_value(ep.ip, what), _uint_value(ep.udp, f"{what} udp port", MAX_UINT16),
            _uint_value(ep.tcp, f"{what} tcp port", MAX_UINT16)]


def _node_value(node: Node) -> list:
    if not isinstance(node, Node):
        raise EncodeError(f"a Neighbors entry must be a Node, got {type(node).__name__}")
    return [_ip_value(node.ip, "node"), _uint_value(node.udp, "node udp port", MAX_UINT16),
            _uint_value(node.tcp, "node tcp port", MAX_UINT16), _blob_value(node.node_id, "node id", 64)]


def _seq_value(enr_seq: int | None) -> list:
    return [] if enr_seq is None else [_uint_value(enr_seq, "enr_seq", MAX_UINT64)]


def _packet_value(packet: Packet) -> list:
    exp = "expiration"
    if isinstance(packet, Ping):
        return [_uint_value(packet.version, "version", MAX_UINT64), _endpoint_value(packet.from_, "from"),
                _endpoint_value(packet.to, "to"), _uint_value(packet.expiration, exp, MAX_UINT64),
                *_seq_value(packet.enr_seq)]
    if isinstance(packet, Pong):
        return [_endpoint_value(packet.to, "to"), _blob_value(packet.ping_hash, "ping_hash"),
                _uint_value(packet.expiration, exp, MAX_UINT64), *_seq_value(packet.enr_seq)]
    if isinstance(packet, FindNode):
        return [_blob_value(packet.target, "target", 64), _uint_value(packet.expiration, exp, MAX_UINT64)]
    if isinstance(packet, Neighbors):
        return [[_node_value(n) for n in packet.nodes], _uint_value(packet.expiration, exp, MAX_UINT64)]
    if isinstance(packet, ENRRequest):
        return [_uint_value(packet.expiration, exp, MAX_UINT64)]
    if isinstance(packet, ENRResponse):
        if not isinstance(packet.record, Record):
            raise EncodeError(f"record must be a discovery.enr.Record, got {type(packet.record).__name__}")
        return [_blob_value(packet.request_hash, "request_hash"), rlp.decode(packet.record.encode())]
    raise EncodeError(f"not a discv4 packet: {type(packet).__name__}")


def encode(packet: Packet, key: bytes) -> tuple[bytes, bytes]:
    """Sign ``packet`` with the 32-byte private node ``key``; return ``(datagram, hash)``, the
    packet bytes (at most 1280) and its 32-byte ``hash`` (the token a Pong or ENRResponse
    quotes).

    Layout and signature as discv4.md "Wire Protocol" and go-ethereum v4wire ``Encode``; the
    signature is deterministic (RFC 6979), so equal inputs give equal bytes.  Raises
    :class:`EncodeError` for a field of the wrong type or range (ports 0..65535, integers
    0..2**64-1, ips 4 or 16 bytes, ``target``/``node_id`` 64 bytes), an invalid key, or a
    packet over :data:`MAX_PACKET_SIZE` bytes (more than :data:`MAX_NEIGHBORS` nodes)."""
    data = rlp.encode(_packet_value(packet))  # refuses a non-packet before packet.TYPE is read
    body = bytes([packet.TYPE]) + data
    try:
        signature = sign_recoverable(key, keccak256(body))
    except NodeKeyError as exc:
        raise EncodeError(f"cannot sign packet: {exc}") from None
    digest = keccak256(signature, body)
    datagram = digest + signature + body
    if len(datagram) > MAX_PACKET_SIZE:
        raise EncodeError(f"{packet.NAME} packet is {len(datagram)} bytes, above the {MAX_PACKET_SIZE}-byte limit")
    return datagram, digest


# --------------------------------------------------------------------------- packet-data fields
# pyrlp decodes the packet-data (canonical sizes, every nested item well-formed, as go-ethereum's
# rlp package and its ``rlp.RawValue`` tail require); these read the decoded values.


class _Bad(Exception):
    """Internal: malformed packet-data; becomes :class:`MalformedPacket` in :func:`decode`."""


def _list(value, what: str) -> list:
    if not isinstance(value, list):
        raise _Bad(f"{what}: expected an RLP list, got a string")
    return value


def _blob(value, what: str, size: int | None = None) -> bytes:
    if not isinstance(value, bytes):
        raise _Bad(f"{what}: expected an RLP string, got a list")
    if size is not None and len(value) != size:
        raise _Bad(f"{what}: expected {size} bytes, got {len(value)}")
    return value


def _uint(value, what: str, nbytes: int) -> int:
    """A canonical unsigned integer of at most ``nbytes`` bytes (go-ethereum rlp ``decodeUint``:
    ErrCanonInt for a leading zero byte, ErrUintOverflow when too wide)."""
    value = _blob(value, what)
    if value[:1] == b"\x00":
        raise _Bad(f"{what}: non-canonical integer (leading zero byte)")
    if len(value) > nbytes:
        raise _Bad(f"{what}: integer wider than {8 * nbytes} bits")
    return int.from_bytes(value, "big")


def _fields(value, what: str, required: int) -> list:
    items = _list(value, what)
    if len(items) < required:
        raise _Bad(f"{what}: {len(items)} elements, needs at least {required}")
    return items


def _endpoint(value, what: str) -> Endpoint:
    f = _list(value, f"{what} (an endpoint [ip, udp, tcp])")
    if len(f) != 3:
        raise _Bad(f"{what}: an endpoint has exactly 3 elements, got {len(f)}")
    return Endpoint(_blob(f[0], f"{what} ip"), _uint(f[1], f"{what} udp port", 2), _uint(f[2], f"{what} tcp port", 2))


def _node(value) -> Node:
    f = _list(value, "neighbors node [ip, udp, tcp, node-id]")
    if len(f) != 4:
        raise _Bad(f"neighbors node: exactly 4 elements, got {len(f)}")
    return Node(_blob(f[0], "node ip"), _uint(f[1], "node udp port", 2), _uint(f[2], "node tcp port", 2),
                _blob(f[3], "node id", 64))


def _optional_seq(items: list, index: int) -> int | None:
    """EIP-868 enr-seq at ``items[index]``: None when absent, or when it is a list (an EIP-8
    extra element of a pre-EIP-868 sender; go-ethereum would refuse it, see the module doc)."""
    if len(items) <= index or isinstance(items[index], list):
        return None
    return _uint(items[index], "enr-seq", 8)


def _first_value(payload: bytes):
    """The first RLP value of ``payload``, decoded; the bytes after it are ignored (EIP-8:
    "ignore any data after the first RLP value").  pyrlp's non-strict decode would also take a
    truncated value, so the value's extent is read from its prefix and decoded strictly."""
    try:
        _, _, length, start = consume_length_prefix(payload, 0)
        if start + length > len(payload):
            raise _Bad("the RLP value runs past the end of the packet")
        return rlp.decode(payload[:start + length], strict=True)
    except IndexError:  # consume_length_prefix on too few bytes
        raise _Bad("the packet-data ends inside an RLP prefix") from None
    except (DecodingError, RecursionError) as exc:  # pyrlp recurses once per nesting level
        raise _Bad(f"bad RLP: {exc}") from None


def _decode_data(ptype: int, top) -> Packet:
    if ptype == PING:
        f = _fields(top, "ping", 4)
        return Ping(version=_uint(f[0], "ping version", 8), from_=_endpoint(f[1], "ping from"),
                    to=_endpoint(f[2], "ping to"), expiration=_uint(f[3], "expiration", 8),
                    enr_seq=_optional_seq(f, 4))
    if ptype == PONG:
        f = _fields(top, "pong", 3)
        return Pong(to=_endpoint(f[0], "pong to"), ping_hash=_blob(f[1], "pong ping-hash"),
                    expiration=_uint(f[2], "expiration", 8), enr_seq=_optional_seq(f, 3))
    if ptype == FIND_NODE:
        f = _fields(top, "findnode", 2)
        return FindNode(target=_blob(f[0], "findnode target", 64), expiration=_uint(f[1], "expiration", 8))
    if ptype == NEIGHBORS:
        f = _fields(top, "neighbors", 2)
        nodes = tuple(_node(n) for n in _list(f[0], "neighbors nodes"))
        return Neighbors(nodes=nodes, expiration=_uint(f[1], "expiration", 8))
    if ptype == ENR_REQUEST:
        f = _fields(top, "enrrequest", 1)
        return ENRRequest(expiration=_uint(f[0], "expiration", 8))
    # ENR_RESPONSE
    f = _fields(top, "enrresponse", 2)
    request_hash = _blob(f[0], "enrresponse request-hash")
    try:
        # canonical RLP re-encodes to the bytes received, which the record's signature covers
        record = decode_record(rlp.encode(_list(f[1], "enrresponse record")))
    except RecordError as exc:
        raise _Bad(f"enrresponse record: {exc}") from None
    except RecursionError:  # pyrlp's encoder recurses once per nesting level too
        raise _Bad("enrresponse record: nested too deeply") from None
    return ENRResponse(request_hash=request_hash, record=record)


def decode(datagram: bytes) -> tuple[Packet, bytes, bytes]:
    """Check and decode one received datagram; return ``(packet, sender_id, hash)``: the packet
    object, the 64-byte node id that signed it, and the packet's 32-byte ``hash``.

    Checks in go-ethereum v4wire ``Decode`` order, each with its error:
    :class:`PacketTooBig` over 1280 bytes (discv4.md; go-ethereum reads into a 1280-byte buffer),
    :class:`PacketTooSmall` under 98, :class:`BadHash`, :class:`BadSignature`,
    :class:`UnknownPacketType`, :class:`MalformedPacket` (see the module doc for the field
    rules).  Expiration is not checked here: see :func:`expired`.  Nothing else is raised."""
    if not isinstance(datagram, (bytes, bytearray, memoryview)):
        raise MalformedPacket(f"a packet must be bytes, not {type(datagram).__name__}")
    data = bytes(datagram)
    if len(data) > MAX_PACKET_SIZE:
        raise PacketTooBig(f"packet is {len(data)} bytes, above {MAX_PACKET_SIZE}")
    if len(data) < MIN_PACKET_SIZE:
        raise PacketTooSmall(f"packet is {len(data)} bytes, below {MIN_PACKET_SIZE}")
    digest = data[:HASH_SIZE]
    if keccak256(data[HASH_SIZE:]) != digest:
        raise BadHash("packet hash does not match keccak256(signature || type || data)")
    try:
        sender = recover_node_id(keccak256(data[HEAD_SIZE:]), data[HASH_SIZE:HEAD_SIZE])
    except NodeKeyError as exc:  # SignatureError
        raise BadSignature(f"bad packet signature: {exc}", packet_hash=digest) from None
    ptype = data[HEAD_SIZE]
    if ptype not in PACKET_TYPES:
        raise UnknownPacketType(f"unknown packet type {ptype}", sender, digest)
    try:
        top = _first_value(data[HEAD_SIZE + 1:])
        packet = _decode_data(ptype, _list(top, "packet-data"))
    except _Bad as exc:
        raise MalformedPacket(f"malformed {PACKET_TYPES[ptype].NAME}: {exc}", sender, digest) from None
    return packet, sender, digest


def name_of(packet_type: int) -> str:
    """The go-ethereum log name of a packet type (``"PING/v4"`` ...), or ``"UNKNOWN/<n>"``."""
    cls = PACKET_TYPES.get(packet_type)
    return cls.NAME if cls is not None else f"UNKNOWN/{packet_type}"


__all__: Sequence[str] = (
    "MAX_PACKET_SIZE", "HASH_SIZE", "SIGNATURE_SIZE", "HEAD_SIZE", "MIN_PACKET_SIZE", "EXPIRATION_S",
    "MAX_NEIGHBORS", "VERSION", "PING", "PONG", "FIND_NODE", "NEIGHBORS", "ENR_REQUEST", "ENR_RESPONSE",
    "PacketError", "PacketTooSmall", "PacketTooBig", "BadHash", "BadSignature", "UnknownPacketType",
    "MalformedPacket", "EncodeError", "Endpoint", "Node", "Ping", "Pong", "FindNode", "Neighbors",
    "ENRRequest", "ENRResponse", "Packet", "PACKET_TYPES", "encode", "decode", "expired", "expiration_for",
    "split_neighbors", "name_of",
)
