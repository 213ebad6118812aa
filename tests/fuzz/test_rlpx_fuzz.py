"""Seeded, bounded fuzz tests of the rule "bad input from the network gets a clear, documented
error of the package, never a stray IndexError/ValueError/TypeError/KeyError/RecursionError
from a dependency, and never a hang".

Covered: the auth/ack handshake in both roles (raw :class:`rlpx.handshake.Recipient` /
:class:`~rlpx.handshake.Initiator` and through :class:`rlpx.connection.Connection`), in one
piece and in random chunks; auth/ack packets whose encryption is valid but whose plaintext is
mutated; an established Connection (RUNNING, snappy on) fed random bytes, bit-flipped frames
and valid frames with bad content (unowned codes, oversize snappy length headers, malformed
RLP for base protocol codes); the Hello phase; and the base protocol decoders on their own.

Every case comes from ``random.Random(seed)`` with a fixed seed (one test per seed), inputs
are at most 4 KiB, and a failure message names the seed, the case number and the input hex.
The handshake packets themselves carry random padding and ECIES randomness, so reproduce a
handshake case from the printed hex (the keys are fixed below), the others from the seed.
No sockets, threads or sleeps.
"""

from __future__ import annotations

import random

import coincurve
import pytest
import rlp
from rlp.codec import length_prefix

from rlpx import base_protocol as bp
from rlpx import handshake as hs
from rlpx import snappy
from rlpx.connection import (CHECKPOINT1, CHECKPOINT2, CLOSED, RUNNING, Connection, ConnectionFailure,
                             DisconnectReceived, HandshakeDone, HelloReceived, Messages, PingReceived)
from rlpx.disc import DiscReason
from rlpx.errors import HandshakeError, HelloError, MessageDecodeError, SnappyError
from rlpx.keys import keccak256, node_id_from_private_key
from rlpx.session import encode_code, split_code

from support.rlpx_pair import PROTOS, Pair, hello
from support.rlpx_pair import seal_eip8

SEEDS = [1, 2, 3, 4, 5]
"""One test per seed, so a failure names its seed."""

pytestmark = pytest.mark.timeout(60)
"""A hang (an input that makes a decoder loop) fails the test that found it; each test takes < 1 s."""

MAX_INPUT = 4096
"""No fuzz input is larger than this many bytes."""

# fixed keys, so a handshake input printed as hex reproduces against the same recipient
KEY_I = keccak256(b"rlpx fuzz initiator")
KEY_R = keccak256(b"rlpx fuzz recipient")
ID_I, ID_R = node_id_from_private_key(KEY_I), node_id_from_private_key(KEY_R)
EPH_I, EPH_R = keccak256(b"rlpx fuzz initiator ephemeral"), keccak256(b"rlpx fuzz recipient ephemeral")
NONCE_I, NONCE_R = keccak256(b"rlpx fuzz initiator nonce"), keccak256(b"rlpx fuzz recipient nonce")

# offset table of two Pair()s with the default PROTOS: aaa/1 owns 16..18, test/1 owns 19..26
OWNED = {code: ("aaa", code - 16) for code in range(16, 19)} | {code: ("test", code - 19) for code in range(19, 27)}
FIRST_UNOWNED = 27


# --------------------------------------------------------------------------- helpers


def where(seed, case, data) -> str:
    return f"seed={seed} case={case} input({len(data)} bytes)={bytes(data).hex()}"


def stray(seed, case, data, what, exc) -> AssertionError:
    """The failure for an exception the package must never let out."""
    return AssertionError(f"{what} raised stray {type(exc).__name__}: {exc}\n{where(seed, case, data)}")


def flip_bits(rng: random.Random, data: bytes, count: int = 1) -> bytes:
    """``data`` with ``count`` distinct bits flipped (needs non-empty data)."""
    out = bytearray(data)
    for bit in rng.sample(range(len(data) * 8), min(count, len(data) * 8)):
        out[bit // 8] ^= 1 << (bit % 8)
    return bytes(out)


def split_random(rng: random.Random, data: bytes) -> list[bytes]:
    """``data`` in one piece, byte by byte, or in random-sized chunks (never empty pieces)."""
    style = rng.random()
    if style < 0.3 or len(data) <= 1:
        return [data]
    if style < 0.4:
        return [data[i:i + 1] for i in range(len(data))]
    top = rng.choice([3, 16, 40, 200, max(1, len(data) // 2)])
    pieces, pos = [], 0
    while pos < len(data):
        n = rng.randint(1, top)
        pieces.append(data[pos:pos + n])
        pos += n
    return pieces


def nested(depth: int, inner: bytes = b"\xc0") -> bytes:
    """``inner`` wrapped in ``depth`` RLP lists (3 bytes a level at most, so depth 1350 < 4 KiB)."""
    for _ in range(depth):
        inner = length_prefix(len(inner), 0xc0) + inner
    return inner


def random_item(rng: random.Random, depth: int = 0):
    """A random RLP-encodable structure of byte strings and lists."""
    if depth >= 4 or rng.random() < 0.55:
        return rng.randbytes(rng.choice([0, 1, 1, 2, 8, 9, 32, 55, 56, 64, rng.randint(0, 80)]))
    return [random_item(rng, depth + 1) for _ in range(rng.choice([0, 1, 2, 3, 5, rng.randint(0, 8)]))]


RLP_PREFIXES = [0x00, 0x7f, 0x80, 0x81, 0xb7, 0xb8, 0xb9, 0xbf, 0xc0, 0xc1, 0xf7, 0xf8, 0xf9, 0xff]


def mutate_rlp(rng: random.Random, data: bytes) -> bytes:
    """A structurally nasty variant of an RLP encoding (possibly unchanged by chance)."""
    kind = rng.randrange(10)
    if kind == 0 and data:
        return data[:rng.randrange(len(data))]  # truncated
    if kind == 1 and data:
        return flip_bits(rng, data, rng.choice([1, 1, 2, 8]))
    if kind == 2:  # a byte inserted
        pos = rng.randint(0, len(data))
        return data[:pos] + bytes([rng.choice(RLP_PREFIXES + [rng.randrange(256)])]) + data[pos:]
    if kind == 3 and data:  # a byte deleted
        pos = rng.randrange(len(data))
        return data[:pos] + data[pos + 1:]
    if kind == 4 and data:  # a byte replaced by a length prefix
        pos = rng.randrange(len(data))
        return data[:pos] + bytes([rng.choice(RLP_PREFIXES)]) + data[pos + 1:]
    if kind == 5:  # trailing garbage
        return data + rng.randbytes(rng.randint(1, 40))
    if kind == 6:  # wrapped in a list, or in a long-form header that lies about its length
        if rng.random() < 0.5:
            return rlp.encode([rlp.decode(data, strict=False)]) if _decodes(data) else b"\xc1" + data
        return bytes([rng.choice([0xb9, 0xf9])]) + rng.randbytes(2) + data
    if kind == 7:  # deep nesting around the data (pyrlp decodes lists recursively)
        depth = rng.randint(1, 1350)
        out = nested(depth, data if len(data) < 64 else b"\xc0")
        return out if len(out) <= MAX_INPUT else nested(depth)
    if kind == 8:
        return rlp.encode(random_item(rng))
    return rng.randbytes(rng.randint(0, 120))


def _decodes(data: bytes) -> bool:
    try:
        rlp.decode(data)
        return True
    except Exception:  # only choosing a mutation here: pyrlp's own behaviour is not under test
        return False


def check_failure(exc: ConnectionFailure, conn: Connection, seed, case, data) -> None:
    """What every ConnectionFailure must satisfy."""
    at = where(seed, case, data)
    assert exc.reason is None or isinstance(exc.reason, DiscReason), at
    assert isinstance(exc.detail, str) and exc.detail, at
    assert str(exc) == exc.detail, at
    assert conn.state == CLOSED, f"state {conn.state} after ConnectionFailure\n{at}"


# --------------------------------------------------------------------------- 1. handshake


def initiator() -> hs.Initiator:
    return hs.Initiator(KEY_I, ID_R, EPH_I, NONCE_I)


def recipient() -> hs.Recipient:
    return hs.Recipient(KEY_R, EPH_R, NONCE_R)


def mutate_packet(rng: random.Random, msg: bytes, legacy_size: int) -> tuple[str, bytes]:
    """A named variant of a valid EIP-8 handshake packet, or random bytes."""
    kind = rng.choice(["intact", "truncated", "truncated", "bitflip", "bitflip", "bitflips", "extended",
                       "prefix", "insert", "delete", "truncated-bitflip", "random", "random-prefixed",
                       "legacy-like"])
    if kind == "intact":
        return kind, msg
    if kind == "truncated":
        return kind, msg[:rng.randrange(len(msg))]
    if kind == "bitflip":
        return kind, flip_bits(rng, msg)
    if kind == "bitflips":
        return kind, flip_bits(rng, msg, rng.randint(2, 16))
    if kind == "extended":
        return kind, msg + rng.randbytes(rng.randint(1, 64))
    if kind == "prefix":  # another size prefix: near the real one, tiny, or anything
        size = int.from_bytes(msg[:2], "big")
        new = rng.choice([size + rng.randint(-3, 3), rng.randint(0, 120), rng.randrange(65536), 2048, 2049])
        return kind, (new % 65536).to_bytes(2, "big") + msg[2:]
    if kind == "insert":
        pos = rng.randint(0, len(msg))
        return kind, msg[:pos] + rng.randbytes(rng.randint(1, 4)) + msg[pos:]
    if kind == "delete":
        pos = rng.randrange(len(msg))
        return kind, msg[:pos] + msg[pos + rng.randint(1, 4):]
    if kind == "truncated-bitflip":
        return kind, flip_bits(rng, msg[:rng.randint(1, len(msg) - 1)])
    if kind == "random":
        return kind, rng.randbytes(rng.choice([0, 1, 2, 3, rng.randint(0, 700)]))
    if kind == "random-prefixed":  # a size prefix that matches the random body behind it
        body = rng.randbytes(rng.randint(114, 700))
        return kind, len(body).to_bytes(2, "big") + body + rng.randbytes(rng.choice([0, 0, 5]))
    # legacy-like: 0x04 then exactly (or more than) a legacy packet's size, so the legacy probe runs
    return kind, b"\x04" + rng.randbytes(legacy_size - 1 + rng.choice([0, 0, 1, 50]))


def feed_handshake(role: str, via_connection: bool, pieces: list[bytes], seed, case, data):
    """Feed ``pieces`` to a fresh endpoint; return (outcome, leftover) with outcome "wait" or
    "done", or ("error", exc).  Pieces after completion or an error are not fed (except to a
    Connection, which must hold or ignore them)."""
    if via_connection:
        if role == "recipient":
            conn = Connection(KEY_R, hello("r", KEY_R), PROTOS, ephemeral_key=EPH_R, nonce=NONCE_R)
            expect_id = ID_I
        else:
            conn = Connection(KEY_I, hello("i", KEY_I), PROTOS, remote_node_id=ID_R, ephemeral_key=EPH_I,
                              nonce=NONCE_I)
            conn.out.clear()  # the auth
            expect_id = ID_R
        for i, piece in enumerate(pieces):
            try:
                events = conn.feed(piece)
            except ConnectionFailure as exc:
                check_failure(exc, conn, seed, case, data)
                assert exc.reason is None, f"Disconnect reason before encryption is up\n{where(seed, case, data)}"
                assert exc.events == [], where(seed, case, data)
                assert conn.disconnect(DiscReason.PROTOCOL_ERROR) is False and not conn.out
                return "error", exc
            except Exception as exc:
                raise stray(seed, case, data, f"Connection({role}).feed", exc) from exc
            if events:
                assert events == [HandshakeDone(expect_id)], where(seed, case, data)
                assert conn.state == CHECKPOINT1, where(seed, case, data)
                assert bool(conn.out) == (role == "recipient"), where(seed, case, data)  # the ack
                for later in pieces[i + 1:]:  # held at checkpoint 1, no events, no error
                    assert conn.feed(later) == [], where(seed, case, data)
                return "done", None
        return "wait", None

    endpoint = recipient() if role == "recipient" else initiator()
    for i, piece in enumerate(pieces):
        try:
            result = endpoint.feed(piece)
        except HandshakeError as exc:
            assert str(exc), where(seed, case, data)
            return "error", exc
        except Exception as exc:  # includes an RLPxError that is not the documented HandshakeError
            raise stray(seed, case, data, f"{type(endpoint).__name__}.feed", exc) from exc
        if result is not None:
            if role == "recipient":
                assert isinstance(result, bytes) and endpoint.secrets is not None, where(seed, case, data)
                assert endpoint.remote_node_id == ID_I, where(seed, case, data)
            else:
                assert isinstance(result, hs.Secrets) and result.remote_node_id == ID_R, where(seed, case, data)
            return "done", endpoint.leftover + b"".join(pieces[i + 1:])
        if role == "recipient":
            assert endpoint.secrets is None, where(seed, case, data)
    return "wait", None


@pytest.mark.parametrize("role", ["recipient", "initiator"])
@pytest.mark.parametrize("seed", SEEDS)
def test_handshake_fuzz(seed, role):
    """Mutated auth (to a recipient) or ack (to an initiator), whole or in random chunks:
    completes only if the valid packet is intact at the front, waits if the input is a strict
    prefix of it, else waits or raises HandshakeError (ConnectionFailure(None, ...) through a
    Connection)."""
    rng = random.Random(seed)
    msg = initiator().auth if role == "recipient" else recipient().feed(initiator().auth)
    legacy = hs.LEGACY_AUTH_SIZE if role == "recipient" else hs.LEGACY_ACK_SIZE
    seen = set()
    for case in range(60):
        kind, data = mutate_packet(rng, msg, legacy)
        assert len(data) <= MAX_INPUT
        via_connection = rng.random() < 0.3
        outcome, rest = feed_handshake(role, via_connection, split_random(rng, data), seed, case, data)
        seen.add(outcome)
        at = f"{kind}, via_connection={via_connection}, outcome={outcome}\n{where(seed, case, data)}"
        if data[:len(msg)] == msg:
            assert outcome == "done", at
            if rest is not None:
                assert rest == data[len(msg):], at  # bytes after the packet belong to the first frames
        elif msg.startswith(data):
            assert outcome == "wait", at
        else:
            assert outcome in ("wait", "error"), at
    assert "error" in seen  # the generator does reach the decoder


def valid_auth_body(rng: random.Random) -> bytes:
    eph = keccak256(rng.randbytes(32))
    nonce = rng.randbytes(32)
    token = hs.ecdh_x(KEY_I, ID_R)
    sig = coincurve.PrivateKey(eph).sign_recoverable(bytes(a ^ b for a, b in zip(token, nonce)), hasher=None)
    return rlp.encode([sig, ID_I, nonce, 4]) + rng.randbytes(rng.randint(0, 150))


def valid_ack_body(rng: random.Random) -> bytes:
    eph_id = node_id_from_private_key(keccak256(rng.randbytes(32)))
    return rlp.encode([eph_id, rng.randbytes(32), 4]) + rng.randbytes(rng.randint(0, 150))


@pytest.mark.parametrize("role", ["recipient", "initiator"])
@pytest.mark.parametrize("seed", SEEDS)
def test_handshake_sealed_plaintext_fuzz(seed, role):
    """A correctly encrypted, correctly sized auth/ack whose RLP plaintext is mutated: the
    endpoint either completes or raises HandshakeError, never waits (the packet is whole)."""
    rng = random.Random(seed)
    done = 0
    for case in range(30):
        body = valid_auth_body(rng) if role == "recipient" else valid_ack_body(rng)
        intact = rng.random() < 0.15
        if not intact:
            body = mutate_rlp(rng, body)
        body = body[:hs.MAX_HANDSHAKE_PACKET - 113]
        if len(body) == 0:
            body = b"\x00"
        packet = seal_eip8(ID_R if role == "recipient" else ID_I, body)
        endpoint = recipient() if role == "recipient" else initiator()
        try:
            result = endpoint.feed(packet)
        except HandshakeError:
            assert not intact, f"valid plaintext rejected\nplaintext: {where(seed, case, body)}"
            continue
        except Exception as exc:
            raise stray(seed, case, body, f"{type(endpoint).__name__}.feed of sealed plaintext", exc) from exc
        assert result is not None, f"whole packet left waiting\nplaintext: {where(seed, case, body)}"
        assert endpoint.leftover == b""
        done += 1
    assert done >= 1  # the intact bodies


# --------------------------------------------------------------------------- 2. established Connection


def running_pair() -> Pair:
    p = Pair()
    p.running()
    assert p.a.codec.snappy and p.b.codec.snappy
    assert [(r.name, r.offset, r.length) for r in p.b.table.rows] == [("aaa", 16, 3), ("test", 19, 8)]  # OWNED
    p.a.out.clear()
    p.b.out.clear()
    return p


class Expect:
    """What b must deliver for a sequence of messages, as far as it can be predicted."""

    def __init__(self):
        self.by_protocol: dict[str, list] = {}
        self.pings = 0
        self.disconnect: DiscReason | None = None
        self.failure = False
        self.known = True  # False after a message whose effect cannot be predicted

    @property
    def open(self) -> bool:
        return self.known and not self.failure and self.disconnect is None


def flatten(events: list, seed, case, data) -> tuple[dict, int, list]:
    """(per-protocol messages, Ping count, Disconnect reasons) of an event list; checks types."""
    by_protocol: dict[str, list] = {}
    pings, discs = 0, []
    for ev in events:
        if isinstance(ev, Messages):
            for name, msgs in ev.by_protocol.items():
                assert name in ("aaa", "test") and msgs, where(seed, case, data)
                by_protocol.setdefault(name, []).extend(msgs)
        elif isinstance(ev, PingReceived):
            pings += 1
        elif isinstance(ev, DisconnectReceived):
            assert isinstance(ev.reason, DiscReason), where(seed, case, data)
            discs.append(ev.reason)
        else:
            raise AssertionError(f"unexpected event {ev!r} in RUNNING\n{where(seed, case, data)}")
    return by_protocol, pings, discs


def deliver(p: Pair, wire: bytes, rng: random.Random, seed, case, data):
    """Feed ``wire`` to p.b in random chunks; return (all events, ConnectionFailure or None)."""
    events, failure = [], None
    for piece in split_random(rng, wire):
        if failure is not None or p.b.state == CLOSED:
            assert p.b.feed(piece) == [], where(seed, case, data)  # CLOSED ignores input
            continue
        try:
            events += p.b.feed(piece)
        except ConnectionFailure as exc:
            check_failure(exc, p.b, seed, case, data)
            assert isinstance(exc.reason, DiscReason), f"encryption is up: a reason must be sent\n{where(seed, case, data)}"
            events += exc.events
            failure = exc
        except Exception as exc:
            raise stray(seed, case, data, "Connection.feed (RUNNING)", exc) from exc
    return events, failure


def after(p: Pair, events: list, failure, seed, case, data) -> None:
    """Checks after a case: state follows the events; egress still works; a Pong decodes."""
    _, pings, discs = flatten(events, seed, case, data)
    at = where(seed, case, data)
    if failure is not None:
        assert p.b.state == CLOSED, at
        assert p.b.disconnect(failure.reason) is True, at  # a broken ingress does not stop egress
        try:
            assert p.a.feed(bytes(p.b.out))[-1] == DisconnectReceived(failure.reason), at
        except ConnectionFailure as exc:
            raise AssertionError(f"b's Pong/Disconnect did not decode at a: {exc}\n{at}") from None
    elif discs:
        assert p.b.state == CLOSED and len(discs) == 1, at
    else:
        assert p.b.state == RUNNING, at
        if pings:
            assert p.b.out, at  # the Pongs
            assert p.a.feed(bytes(p.b.out)) == [], at  # Pong is consumed silently
            p.b.out.clear()


@pytest.mark.parametrize("seed", SEEDS)
def test_running_connection_random_bytes(seed):
    """Random bytes instead of frames: fewer than 32 bytes (a header and its MAC) wait, more
    fail with a MAC mismatch as ConnectionFailure(PROTOCOL_ERROR)."""
    rng = random.Random(seed)
    for case in range(12):
        p = running_pair()
        data = rng.randbytes(rng.choice([0, 1, 16, 31, 32, 33, 48, 64, rng.randint(0, 2000)]))
        events, failure = deliver(p, data, rng, seed, case, data)
        assert events == [], where(seed, case, data)
        if len(data) < 32:
            assert failure is None and p.b.state == RUNNING, where(seed, case, data)
        else:
            assert failure is not None and failure.reason == DiscReason.PROTOCOL_ERROR, where(seed, case, data)
        after(p, events, failure, seed, case, data)


def good_message(rng: random.Random) -> tuple[int, bytes]:
    """A message b must accept: an owned subprotocol code, a Ping or a Pong."""
    code = rng.choice(list(OWNED) * 3 + [bp.PING, bp.PONG])
    return code, rng.randbytes(rng.choice([0, 1, 15, 16, 17, rng.randint(0, 600)]))


def expect_good(expect: Expect, code: int, payload: bytes) -> None:
    if code in OWNED:
        name, rel = OWNED[code]
        expect.by_protocol.setdefault(name, []).append((rel, payload))
    elif code == bp.PING:
        expect.pings += 1


def compare(expect: Expect, events: list, failure, seed, case, data, what: str) -> None:
    by_protocol, pings, discs = flatten(events, seed, case, data)
    at = f"{what}\n{where(seed, case, data)}"
    if expect.known:  # exact
        assert by_protocol == expect.by_protocol, at
        assert pings == expect.pings, at
        assert discs == ([expect.disconnect] if expect.disconnect is not None else []), at
        assert (failure is not None) == expect.failure, at
    else:  # what came before the unpredictable message
        for name, msgs in expect.by_protocol.items():
            assert by_protocol.get(name, [])[:len(msgs)] == msgs, at
        assert pings >= expect.pings, at


@pytest.mark.parametrize("seed", SEEDS)
def test_running_connection_bit_flips(seed):
    """Valid frames (snappy on) with one bit flipped anywhere: the frames before the damaged
    one are delivered, then ConnectionFailure(PROTOCOL_ERROR)."""
    rng = random.Random(seed)
    for case in range(12):
        p = running_pair()
        msgs = [good_message(rng) for _ in range(rng.randint(1, 4))]
        frames = []
        for code, payload in msgs:
            p.a.send(code, payload)
            frames.append(bytes(p.a.out))
            p.a.out.clear()
        wire = b"".join(frames)
        bit = rng.randrange(len(wire) * 8)
        damaged = bytearray(wire)
        damaged[bit // 8] ^= 1 << (bit % 8)
        expect, end = Expect(), 0
        for (code, payload), frame in zip(msgs, frames):
            end += len(frame)
            if end > bit // 8:
                break
            expect_good(expect, code, payload)
        expect.failure = True
        events, failure = deliver(p, bytes(damaged), rng, seed, case, bytes(damaged))
        compare(expect, events, failure, seed, case, bytes(damaged), f"bit {bit} of {len(wire) * 8} flipped")
        assert failure.reason == DiscReason.PROTOCOL_ERROR
        after(p, events, failure, seed, case, bytes(damaged))


def oversize_snappy_header(rng: random.Random) -> bytes:
    """A snappy block whose varint decoded length is above 2**24 - 1, and a few bytes."""
    n = rng.choice([snappy.MAX_DECODED_SIZE + 1, 2**32 - 1, rng.randint(2**24, 2**35)])
    varint = bytearray()
    while True:
        varint.append((n & 0x7f) | (0x80 if n > 0x7f else 0))
        n >>= 7
        if not n:
            break
    return bytes(varint) + rng.randbytes(rng.randint(0, 40))


def content_case(rng: random.Random, p: Pair, expect: Expect) -> bytes:
    """Queue at p.a (with its codec, so MACs are valid) one message with random content; update
    ``expect``; return a description of the frame-data for the failure message."""
    kind = rng.choice(["good", "good", "unowned", "long-code", "disconnect", "bad-disconnect", "base-junk",
                       "oversize-snappy", "raw-snappy", "flipped-snappy", "raw-frame", "deep-code"])
    if kind == "good":
        code, payload = good_message(rng)
        p.a.send(code, payload)
        expect_good(expect, code, payload)
        return encode_code(code) + payload
    if kind in ("unowned", "long-code"):
        code = (rng.choice([FIRST_UNOWNED, 28, 127, 128, 255, 256, rng.randint(FIRST_UNOWNED, 2**64 - 1)])
                if kind == "unowned" else rng.randint(2**64, 2**100))  # > 8 bytes: not a message code
        payload = rng.randbytes(rng.randint(0, 100))
        p.a.send(code, payload)
        expect.failure = True
        return encode_code(code) + payload
    if kind == "disconnect":
        reason = rng.choice([rng.randrange(256), int(DiscReason.TOO_MANY_PEERS)])
        p.a.send(bp.DISCONNECT, bp.encode_disconnect(reason))
        expect.disconnect = DiscReason(reason)
        return encode_code(bp.DISCONNECT) + bp.encode_disconnect(reason)
    if kind == "bad-disconnect":  # malformed RLP: a DisconnectReceived or a failure, unpredicted
        payload = mutate_rlp(rng, bp.encode_disconnect(rng.randrange(256)))
        p.a.send(bp.DISCONNECT, payload)
        expect.known = False
        return encode_code(bp.DISCONNECT) + payload
    if kind == "base-junk":  # Hello/Ping/Pong/unused base codes with malformed RLP
        code = rng.choice([bp.HELLO, bp.PING, bp.PONG] + list(range(4, 16)))
        seed_payload = rng.choice([bp.PING_PAYLOAD, p.hello_a.encode(), rlp.encode(random_item(rng))])
        payload = mutate_rlp(rng, seed_payload)[:MAX_INPUT]
        p.a.send(code, payload)
        expect_good(expect, code, payload)  # a Ping's payload is not read; the rest are ignored
        return encode_code(code) + payload
    if kind == "oversize-snappy":
        code = rng.choice(list(OWNED) + [bp.HELLO, bp.PING, bp.PONG, bp.DISCONNECT])
        frame_data = encode_code(code) + oversize_snappy_header(rng)
        _raw(p, frame_data)
        if code == bp.DISCONNECT:  # the ethereumjs quirk: taken as an uncompressed payload
            expect.known = False
        else:
            expect.failure = True  # SnappyError before any decompression
        return frame_data
    if kind == "raw-snappy":  # a code and bytes that are (almost surely) not a snappy block
        code = rng.choice(list(OWNED) + [bp.PING, bp.DISCONNECT])
        frame_data = encode_code(code) + rng.randbytes(rng.randint(0, 200))
        _raw(p, frame_data)
        expect.known = False
        return frame_data
    if kind == "flipped-snappy":
        code = rng.choice(list(OWNED) + [bp.PING])
        block = snappy.compress(rng.randbytes(rng.randint(0, 200)) * rng.randint(1, 5))
        frame_data = encode_code(code) + flip_bits(rng, block, rng.randint(1, 3))
        _raw(p, frame_data)
        expect.known = False
        return frame_data
    if kind == "raw-frame":  # anything as frame-data, including a malformed message code
        frame_data = rng.choice([rng.randbytes(rng.randint(0, 100)), mutate_rlp(rng, encode_code(rng.randrange(300)))])
        _raw(p, frame_data)
        expect.known = False
        return frame_data
    # deep-code: frame-data that starts with deeply nested lists where the message code belongs
    frame_data = nested(rng.randint(1, 1350))
    _raw(p, frame_data)
    expect.known = False
    return frame_data


def _raw(p: Pair, frame_data: bytes) -> None:
    """Queue ``frame_data`` at p.a as one frame, bypassing message code and snappy encoding."""
    assert len(frame_data) <= MAX_INPUT
    p.a.out += p.a.codec.frames.encode(frame_data)


@pytest.mark.parametrize("seed", SEEDS)
def test_running_connection_bad_content(seed):
    """Valid frames whose content is bad: unowned or over-long message codes, oversize snappy
    length headers, corrupt snappy blocks, malformed RLP for Disconnect/Ping/Pong/Hello codes,
    garbage frame-data.  Predictable messages are checked exactly; for the rest only events or
    ConnectionFailure are allowed."""
    rng = random.Random(seed)
    p, failures = None, 0
    for case in range(40):
        if p is None or p.b.state != RUNNING:
            p = running_pair()
        expect, described = Expect(), []
        for _ in range(rng.randint(1, 3)):
            if not expect.open:
                break
            described.append(content_case(rng, p, expect))
        data = b"".join(described)  # for the failure message: the frame-data sent
        wire = bytes(p.a.out)
        p.a.out.clear()
        events, failure = deliver(p, wire, rng, seed, case, data)
        compare(expect, events, failure, seed, case, data, f"frame-data: {[d.hex() for d in described]}")
        if failure is not None:
            failures += 1
            assert failure.reason == DiscReason.PROTOCOL_ERROR
        after(p, events, failure, seed, case, data)
    assert failures >= 1


@pytest.mark.parametrize("seed", SEEDS)
def test_hello_phase_fuzz(seed):
    """A mutated Hello (or a Disconnect with malformed RLP) as the first message: HelloReceived,
    DisconnectReceived, or ConnectionFailure(PROTOCOL_ERROR or UNEXPECTED_IDENTITY)."""
    rng = random.Random(seed)
    outcomes = set()
    for case in range(15):
        p = Pair()
        p.handshake()
        assert p.b.approve_post_handshake() == []  # b sends its Hello and waits for a's
        p.b.out.clear()
        # a stays at checkpoint 1 and sends, with its own codec, a fuzzed first message instead of its Hello
        code = rng.choice([bp.HELLO] * 5 + [bp.DISCONNECT])
        original = p.hello_a.encode() if code == bp.HELLO else bp.encode_disconnect(rng.randrange(256))
        intact = rng.random() < 0.1
        payload = original if intact else mutate_rlp(rng, original)[:MAX_INPUT]
        p.a.out += p.a.codec.encode(code, payload)  # snappy is off until the Hellos are exchanged
        wire = bytes(p.a.out)
        at = where(seed, case, encode_code(code) + payload)
        events, failure = [], None
        for piece in split_random(rng, wire):
            if failure is not None:
                assert p.b.feed(piece) == [], at
                continue
            try:
                events += p.b.feed(piece)
            except ConnectionFailure as exc:
                check_failure(exc, p.b, seed, case, encode_code(code) + payload)
                assert exc.reason in (DiscReason.PROTOCOL_ERROR, DiscReason.UNEXPECTED_IDENTITY), at
                events += exc.events
                failure = exc
            except Exception as exc:
                raise stray(seed, case, encode_code(code) + payload, "Connection.feed (HELLO)", exc) from exc
        assert not (failure and events), at
        if failure is None:
            assert len(events) == 1, at
            [ev] = events
            if code == bp.HELLO:
                assert isinstance(ev, HelloReceived) and ev.hello.node_id == p.id_a, at
                assert p.b.state == CHECKPOINT2, at
            else:
                assert isinstance(ev, DisconnectReceived) and p.b.state == CLOSED, at
            outcomes.add(type(ev).__name__)
        else:
            outcomes.add("failure")
            assert not intact, at
        if intact:
            assert events == ([HelloReceived(p.hello_a, ev.table)] if code == bp.HELLO
                              else [DisconnectReceived(bp.decode_disconnect(original))]), at
    assert "failure" in outcomes


# --------------------------------------------------------------------------- 3. base protocol decoders


def decoder_input(rng: random.Random) -> bytes:
    kind = rng.randrange(6)
    if kind == 0:
        return rng.randbytes(rng.choice([0, 1, 2, rng.randint(0, 300)]))
    if kind == 1:
        return rlp.encode(random_item(rng))
    if kind == 2:
        caps = tuple(bp.Capability(rng.choice(["eth", "snap", "test"]), rng.randrange(100))
                     for _ in range(rng.randint(0, 4)))
        valid = bp.Hello(rng.randrange(10), "fuzz", caps, rng.randrange(65536), ID_I).encode()
        return mutate_rlp(rng, valid)
    if kind == 3:
        return mutate_rlp(rng, rng.choice([bp.encode_disconnect(rng.randrange(256)), b"\xc0", b"\x80",
                                           encode_code(rng.randrange(2**20))]))
    if kind == 4:
        return mutate_rlp(rng, mutate_rlp(rng, rlp.encode(random_item(rng))))
    return nested(rng.randint(1, 1350), rng.choice([b"\xc0", b"\x80", b"\x05", b"\x81"]))


def decode_or_error(func, args, allowed, seed, case, data):
    """Return func(*args), or the exception if it is one of ``allowed``; fail on anything else."""
    try:
        return func(*args)
    except allowed as exc:
        assert str(exc), where(seed, case, data)
        return exc
    except Exception as exc:
        raise stray(seed, case, data, getattr(func, "__qualname__", repr(func)), exc) from exc


@pytest.mark.parametrize("seed", SEEDS)
def test_base_protocol_decoders_fuzz(seed):
    """Hello.decode, decode_disconnect, check_empty_list, split_code and snappy.decompress on
    random and mutated RLP: a value of the documented type or the documented error."""
    rng = random.Random(seed)
    for case in range(150):
        data = decoder_input(rng)
        assert len(data) <= MAX_INPUT

        hello_ = decode_or_error(bp.Hello.decode, (data,), HelloError, seed, case, data)
        if not isinstance(hello_, Exception):
            assert isinstance(hello_, bp.Hello) and len(hello_.node_id) == 64 and any(hello_.node_id)
            assert 0 <= hello_.listen_port < 65536 and len(data) <= bp.BASE_PROTOCOL_MAX_MSG_SIZE

        reason = decode_or_error(bp.decode_disconnect, (data,), MessageDecodeError, seed, case, data)
        assert isinstance(reason, (DiscReason, MessageDecodeError)), where(seed, case, data)

        for what in ("Ping", "Pong"):
            checked = decode_or_error(bp.check_empty_list, (data, what), MessageDecodeError, seed, case, data)
            assert checked is None or isinstance(checked, MessageDecodeError), where(seed, case, data)

        split = decode_or_error(split_code, (data,), MessageDecodeError, seed, case, data)
        if not isinstance(split, Exception):
            code, rest = split
            assert 0 <= code < 2**64, where(seed, case, data)
            assert encode_code(code) + rest == data, f"non-canonical code accepted\n{where(seed, case, data)}"

        out = decode_or_error(snappy.decompress, (data,), SnappyError, seed, case, data)
        if not isinstance(out, Exception):
            assert isinstance(out, bytes) and snappy.decompress(snappy.compress(out)) == out
