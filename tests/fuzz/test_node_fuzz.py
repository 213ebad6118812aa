"""Seeded, bounded fuzzing of ONE live node over real TCP connections.

Rule under test: "Bad input from the network gets a clear error and a clean outcome: the right
Disconnect reason or a closed connection, one log line, no crash of anything but that
connection, nothing lost for other peers."

Per seed, one test starts node alpha (echo protocol) and node beta, whose test/1 sender streams
counted rounds through alpha for the whole test (``repeat_every_s``).  Then a few dozen raw
TCP connections to alpha, mostly one after another, each misbehaving differently:

* before/during the auth/ack handshake: random bytes, mutated/truncated/bit-flipped EIP-8 auths
  (test_rlpx_fuzz.mutate_packet), an auth followed by garbage, size prefixes above 2048 or too
  small for ECIES, legacy-looking packets, correctly encrypted auths with mutated RLP plaintext,
  connect-and-close (FIN or RST); plus two silent connections opened at the start and checked
  at the end (nothing at all; an auth and then no Hello), so the handshake deadline runs
  concurrently with the other cases;
* in the Hello phase: mutated Hellos, Hellos of random fields, Hellos over 2 KiB, a wrong
  node id, another message before the Hello, our Hello plus messages / a Disconnect / garbage in
  the same write right after the ack (while the node waits for its checkpoints), then FIN or RST;
* once running (peer_added): frames with bit flips (bad MACs), random bytes instead of frames,
  valid frames with random content (unknown or over-long codes, malformed Disconnect/Ping/Pong
  payloads, deeply nested RLP, corrupt or oversize snappy), a frame cut short by our FIN, data
  after a Disconnect; writes are sometimes split into random pieces (partial frames per read);
* several at once: 6-12 bad pre-auth connections together, and 4-8 added peers that all send a
  bad frame in the same moment (their Peer and Protocol actors exit together).

Note (go-ethereum's behaviour, not a failure): a valid Hello followed by garbage in the same
write gets peer_added and then peer_removed(PROTOCOL_ERROR): the Hello is decoded first and
checkpoint 2 is asked before the garbage fails; go-ethereum reads the Hello alone, adds the peer,
and its readLoop then fails on the garbage - the same add + drop sequence.

Expected outcomes come from the wire model, not from the node: ``handshake_oracle`` feeds the
same bytes to a plain :class:`rlpx.handshake.Recipient` with alpha's key; ``predict_hello`` and
``predict_frame`` decode a Hello / frame-data as rlpx.md and go-ethereum p2p/peer.go say
(malformed -> PROTOCOL_ERROR, identity -> UNEXPECTED_IDENTITY, no shared cap -> USELESS_PEER,
unknown code -> PROTOCOL_ERROR, Ping -> Pong, other base codes ignored, Disconnect -> close).
For each connection: the node closes it within ``DETECT_S`` (below the 5 s handshake
deadline, so a close by timeout is not taken for detection), sends nothing before the handshake
is complete, sends the expected Disconnect reason after it, and publishes the matching
peer_rejected / peer_removed event.

At the end: a normal peer still completes handshake, Hello and an echo; every misbehaving peer
that got peer_added got peer_removed; beta's stream completed every round with no loss or
mismatch and beta was never dropped; no process of the node is left over from the fuzzing; and
the node's log holds exactly one line per fuzz connection (the Server's "inbound connection
ended" / "peer removed") and no ERROR / CRITICAL / Traceback.

The node's log: the actors' own records ("devp2p" logger) are in ``tmp_path/node.log``, written
by the handler the ``nodes`` fixture installs before the ActorSystem forks (Thespian's
``thespian.log`` never gets them); a positive control checks that alpha's "peer added" line
for beta is there.  Both files are checked.

A failure names the seed, the case number, its kind and its input (hex).  ECIES encryption uses
fresh randomness, so handshake packets differ between runs; everything else follows the seed.
"""

from __future__ import annotations

import collections
import dataclasses
import random
import re
import socket
import struct
import time

import coincurve
import pytest
import rlp

from support.nodes import FAST, LOOPBACK, RawPeer, echo, sender, wait_until
from rlpx import base_protocol as bp
from rlpx import handshake as hs
from rlpx import snappy
from rlpx.caps import LocalProtocol, match_capabilities
from rlpx.connection import ConnectionFailure, DisconnectReceived, HandshakeDone, HelloReceived, Messages
from rlpx.disc import DiscReason
from rlpx.errors import RLPxError
from rlpx.keys import ecdh_x, keccak256, node_id_from_private_key
from rlpx.session import encode_code, split_code
from support.rlpx_pair import seal_eip8
from test_rlpx_fuzz import (flip_bits, mutate_packet, mutate_rlp, nested, oversize_snappy_header, random_item,
                            split_random)

SEEDS = [7, 1337]
"""One test per seed, so a failure names its seed."""

CASES = 60
"""Fuzz cases per seed (each one connection, the parallel ones several), besides the two silent
connections and the final healthy peer."""

TIMEOUTS = dataclasses.replace(FAST, handshake_s=5.0)
"""The fixtures' fast timers, with go-ethereum's 5 s handshake deadline (a close within
``DETECT_S`` is then the node's own detection, not its deadline)."""

DETECT_S = 4.0
"""A close the node must make on its own (bad input, or our FIN) comes within this (below the
handshake deadline, so a close by the deadline is not taken for detection)."""

SILENT_SLACK_S = 10.0
"""How long after the handshake deadline a silent connection may still be open: the deadline
is the node's timer, which a loaded machine can delay by seconds (seen with two test runs in
parallel: not closed 3 s after it); the check is that it closes, and not before the deadline."""

EVENT_S = 10.0
"""Bound of a wait for an event the node publishes."""

STREAM_COUNT, STREAM_SIZE, STREAM_REPEAT_S = 200, 100, 0.2
"""beta -> alpha echo rounds, started again STREAM_REPEAT_S after each report."""

NODE_PROTOCOLS = [LocalProtocol("test", 1, 8)]
"""alpha's capabilities: test/1 owns codes 16..23 on every connection of these tests."""

TEST_OFFSET, TEST_LENGTH = 16, 8

pytestmark = pytest.mark.timeout(120)


# --------------------------------------------------------------------------- node log


def read_text(path) -> str:
    try:
        with open(path, errors="replace") as f:
            return f.read()
    except FileNotFoundError:
        return ""


BAD_LOG = re.compile(r"^(\S+ \S+ (ERROR|CRITICAL) |Traceback \(most recent call last\))")
"""A record at ERROR or above (both files put the level after the timestamp), or a traceback."""


# --------------------------------------------------------------------------- oracles


def handshake_oracle(key: bytes, data: bytes) -> tuple[str, bytes]:
    """What a recipient with ``key`` does with ``data`` as the start of a connection:
    ("reject", b"") for a HandshakeError, ("wait", b"") for an incomplete auth, or
    ("complete", bytes after the auth)."""
    recipient = hs.Recipient(key)
    try:
        ack = recipient.feed(data)
    except RLPxError:
        return "reject", b""
    if ack is None:
        return "wait", b""
    return "complete", recipient.leftover


def predict_hello(payload: bytes, our_id: bytes):
    """(DiscReason the node must send, or None if it must accept us; the decoded Hello or None)."""
    try:
        hello = bp.Hello.decode(payload)
    except RLPxError:
        return DiscReason.PROTOCOL_ERROR, None
    if hello.node_id != our_id:
        return DiscReason.UNEXPECTED_IDENTITY, hello
    if not match_capabilities(NODE_PROTOCOLS, hello.capabilities):
        return DiscReason.USELESS_PEER, hello
    return None, hello


def predict_frame(frame_data: bytes, snappy_on: bool) -> tuple:
    """What the node must do with one authenticated frame on a running connection:
    ("error",) -> Disconnect(PROTOCOL_ERROR); ("remote", reason) -> close as remote-requested;
    ("alive",) -> nothing visible (Ping -> Pong, other base codes ignored);
    ("echo", relative code, payload) -> test/1 echoes it."""
    try:
        code, payload = split_code(frame_data)
    except RLPxError:
        return ("error",)
    if snappy_on:
        try:
            payload = snappy.decompress(payload)
        except RLPxError:
            if code != bp.DISCONNECT:  # a Disconnect may come uncompressed (ethereumjs)
                return ("error",)
    if code == bp.DISCONNECT:
        try:
            return ("remote", bp.decode_disconnect(payload))
        except RLPxError:
            return ("error",)
    if code < bp.BASE_PROTOCOL_LENGTH:
        return ("alive",)
    if code < TEST_OFFSET + TEST_LENGTH:
        return ("echo", code - TEST_OFFSET, payload)
    return ("error",)


# --------------------------------------------------------------------------- wire helpers


def seeded_key(rng: random.Random) -> bytes:
    """A valid secp256k1 private key from ``rng``."""
    while True:
        key = keccak256(rng.randbytes(32))
        try:
            coincurve.PrivateKey(key)
            return key
        except Exception:  # noqa: BLE001 - out of range: 2**-128 chance, draw again
            continue


def coded(code: int, payload: bytes, snappy_on: bool) -> bytes:
    """Frame-data of message ``code`` as a correct sender writes it."""
    return encode_code(code) + (snappy.compress(payload) if snappy_on else payload)


def send_quietly(sock: socket.socket, data: bytes) -> bool:
    """sendall; False if the node had already closed (a valid outcome of bad input)."""
    try:
        sock.sendall(data)
        return True
    except (BrokenPipeError, ConnectionResetError):
        return False


def read_until_closed(sock: socket.socket, deadline: float) -> tuple[bytes, bool]:
    """Everything the node sends until it closes (EOF or RST); (bytes, closed before deadline)."""
    got = bytearray()
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return bytes(got), False
        sock.settimeout(remaining)
        try:
            chunk = sock.recv(65536)
        except socket.timeout:
            continue
        except (ConnectionResetError, BrokenPipeError):
            return bytes(got), True
        if not chunk:
            return bytes(got), True
        got += chunk


@dataclasses.dataclass
class FakeHello:
    """Stands in for our :class:`bp.Hello` in a RawPeer's Connection: sends ``payload`` as the
    Hello; ``version`` decides snappy as the node will decide it."""

    payload: bytes
    version: int

    def encode(self) -> bytes:
        return self.payload


class Session:
    """Drives a RawPeer's Connection: approves both checkpoints at once, answers Pings (unless
    ``quiet``), collects test/1 messages and the node's Disconnect."""

    def __init__(self, raw: RawPeer, quiet: bool = False, before_hello=None, after_hello=None,
                 chunks: random.Random | None = None):
        self.raw = raw
        self.quiet = quiet
        self.chunks = chunks  # if set: every write goes out in random pieces
        self.before_hello = before_hello  # conn -> wire bytes queued before our Hello
        self.after_hello = after_hello  # conn -> wire bytes sent with our Hello, in the same write
        self.handshake_done = False
        self.hello: bp.Hello | None = None
        self.disconnect: DiscReason | None = None
        self.msgs: list[tuple[int, bytes]] = []

    def _events(self, events: list) -> None:
        queue = list(events)
        while queue:
            ev = queue.pop(0)
            if isinstance(ev, HandshakeDone):
                self.handshake_done = True
                if self.before_hello is not None:
                    self.raw.conn.out += self.before_hello(self.raw.conn)
                queue[:0] = self.raw.conn.approve_post_handshake()
                if self.after_hello is not None:
                    self.raw.conn.out += self.after_hello(self.raw.conn)
                    self.after_hello = None
            elif isinstance(ev, HelloReceived):
                self.hello = ev.hello
                queue[:0] = self.raw.conn.approve_add_peer()
            elif isinstance(ev, DisconnectReceived):
                self.disconnect = ev.reason
            elif isinstance(ev, Messages):
                for name, items in ev.by_protocol.items():
                    assert name == "test", ev
                    self.msgs.extend(items)

    def send_pending(self) -> None:
        out = self.raw.conn.out
        if out and not self.quiet:
            for piece in split_random(self.chunks, bytes(out)) if self.chunks is not None else [bytes(out)]:
                if not send_quietly(self.raw.sock, piece):
                    break
        out.clear()

    def send(self, data: bytes, rng: random.Random | None = None) -> None:
        """Send wire bytes after whatever is queued (a Pong), keeping the egress MAC order; with
        ``rng``, sometimes in random pieces (separate segments: TCP_NODELAY), so the node also
        sees partial frames between reads."""
        pieces = split_random(rng, data) if rng is not None and data else [data]
        for piece in pieces:
            self.raw.conn.out += piece
            self.send_pending()

    def pump(self, deadline: float, until) -> bool:
        """Read until ``until(self)``; False at EOF or the deadline first."""
        self.send_pending()
        while not until(self):
            if self.raw.eof or time.monotonic() >= deadline:
                return until(self)
            try:
                events = self.raw.read(deadline)
            except ConnectionFailure as exc:
                raise AssertionError(f"the node sent bytes a correct peer rejects: {exc.detail}") from None
            self._events(events)
            self.send_pending()
        return True

    def frame(self, frame_data: bytes) -> bytes:
        """Wire bytes of one frame with valid MACs (advances our egress MAC)."""
        return self.raw.conn.codec.frames.encode(frame_data)

    @property
    def snappy(self) -> bool:
        return self.raw.conn.codec.snappy


# --------------------------------------------------------------------------- the run


class Fuzz:
    """State of one seeded run against alpha."""

    def __init__(self, nodes, alpha, seed: int):
        self.nodes = nodes
        self.alpha = alpha
        self.seed = seed
        self.ports: collections.Counter = collections.Counter()  # local port -> connections
        self.accepted: set[str] = set()  # peer ids that must get peer_added (and peer_removed)
        self.unknown: set[str] = set()  # peer ids that may get peer_added (then also peer_removed)
        self.outcomes: collections.Counter = collections.Counter()
        self.input = b""  # the current case's input, for the failure message

    # -- bookkeeping -------------------------------------------------------------------
    def raw_peer(self, rng: random.Random, client_id: str, **kw) -> RawPeer:
        raw = RawPeer(self.alpha.enode, key=seeded_key(rng), client_id=client_id, **kw)
        raw.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.ports[raw.sock.getsockname()[1]] += 1
        return raw

    def outcome(self, kind: str, what: str) -> None:
        self.outcomes[f"{kind}: {what}"] += 1

    def expect_event(self, event: str, peer_id: str, **match) -> dict:
        ev = self.nodes.expect(event, node="alpha", peer_id=peer_id, timeout_s=EVENT_S)[0].data
        for k, v in match.items():
            assert ev[k] == v, f"{event} {k}={ev[k]!r}, expected {v!r}: {ev}"
        return ev

    # -- before/during the auth ----------------------------------------------------------
    def pre_auth(self, rng, kind: str, make, finish: str = "observe") -> None:
        """Open a connection and send ``make(auth)`` as its first bytes (``auth``: a valid EIP-8
        auth of this connection's Connection, which can then decode the node's replies).
        ``finish``: "observe" (check what the node does), "close" (close at once with FIN) or
        "rst" (close at once with RST)."""
        raw = self.raw_peer(rng, f"fuzz-{kind}")
        try:
            auth = bytes(raw.conn.out)
            raw.conn.out.clear()
            data = make(auth)
            if isinstance(data, tuple):  # (sub-kind, bytes)
                kind, data = f"{kind}/{data[0]}", data[1]
            self.input = data
            verdict, leftover = handshake_oracle(self.alpha.key, data)
            sent = send_quietly(raw.sock, data)
            if finish in ("close", "rst"):
                if finish == "rst":
                    raw.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                raw.close()
                self.outcome(kind, f"closed by us ({finish})")
                return
            # the node cannot decide on a partial input: tell it that no more comes
            if verdict == "wait" or (verdict == "complete" and len(leftover) < 32):
                raw.sock.shutdown(socket.SHUT_WR)
            if verdict == "complete" and data.startswith(auth):
                s = Session(raw, quiet=True)
                assert s.pump(time.monotonic() + DETECT_S, lambda s: s.raw.eof), \
                    f"node did not close within {DETECT_S} s after a complete auth (+{len(leftover)} B)"
                assert s.handshake_done and s.hello is not None, "no ack and Hello before the close"
                raw.close()
                if len(leftover) >= 32:  # a frame header whose MAC cannot verify
                    assert s.disconnect == DiscReason.PROTOCOL_ERROR, s.disconnect
                    self.expect_event("peer_rejected", raw.id_hex, reason="PROTOCOL_ERROR", remote_requested=False)
                    self.outcome(kind, "ack+Hello, Disconnect(PROTOCOL_ERROR)")
                else:  # our FIN after a partial frame header: the node just closes
                    assert s.disconnect is None, s.disconnect
                    self.expect_event("peer_rejected", raw.id_hex, reason="NETWORK_ERROR", remote_requested=False)
                    self.outcome(kind, "ack+Hello, closed after our FIN")
                return
            got, closed = read_until_closed(raw.sock, time.monotonic() + DETECT_S)
            assert closed, (f"oracle {verdict!r}: node did not close within {DETECT_S} s "
                            f"(all sent: {sent}; got {len(got)} B)")
            if verdict == "complete":  # a valid auth we cannot follow (sealed plaintext)
                self.outcome(kind, "complete (undecodable), closed after our FIN")
            else:
                assert got == b"", f"oracle {verdict!r}: node sent {len(got)} B before the handshake: {got[:64].hex()}"
                self.outcome(kind, f"{verdict}: closed, nothing sent")
        finally:
            raw.close()

    def case_random_bytes(self, rng):
        n = rng.choice([0, 1, 2, 3, 16, 113, 114, 200, 306, 307, 308, 700, 2050, rng.randint(0, 3000)])
        self.pre_auth(rng, "random_bytes", lambda auth: rng.randbytes(n))

    def case_mutated_auth(self, rng):
        self.pre_auth(rng, "mutated_auth", lambda auth: mutate_packet(rng, auth, hs.LEGACY_AUTH_SIZE))

    def case_truncated_auth(self, rng):
        self.pre_auth(rng, "truncated_auth", lambda auth: auth[:rng.randint(1, len(auth) - 1)],
                      finish=rng.choice(["observe", "close", "rst"]))

    def case_bitflip_auth(self, rng):
        self.pre_auth(rng, "bitflip_auth", lambda auth: flip_bits(rng, auth, rng.choice([1, 1, 2, 4, 8])))

    def case_auth_garbage(self, rng):
        n = rng.choice([1, 16, 31, 32, 33, 100, rng.randint(32, 600)])
        self.pre_auth(rng, "auth_garbage", lambda auth: auth + rng.randbytes(n))

    def case_huge_prefix(self, rng):
        self.pre_auth(rng, "huge_prefix", lambda auth: rng.randint(hs.MAX_HANDSHAKE_PACKET + 1, 65535).to_bytes(2, "big")
                      + rng.choice([auth[2:], rng.randbytes(rng.randint(0, 300))]))

    def case_small_prefix(self, rng):
        self.pre_auth(rng, "small_prefix", lambda auth: rng.randint(0, 113).to_bytes(2, "big") + auth[2:])

    def case_legacy_like(self, rng):
        self.pre_auth(rng, "legacy_like", lambda auth: b"\x04" + rng.randbytes(hs.LEGACY_AUTH_SIZE - 1
                                                                               + rng.choice([0, 0, 1, 50])))

    def case_sealed_plaintext(self, rng):
        """Correctly encrypted and sized, but the auth's RLP plaintext is mutated."""
        def make(auth):
            body = mutate_rlp(rng, valid_auth_body(rng, self.alpha.node_id))
            body = body[:hs.MAX_HANDSHAKE_PACKET - 113] or b"\x00"
            return seal_eip8(self.alpha.node_id, body)

        self.pre_auth(rng, "sealed_plaintext", make)

    def case_connect_close(self, rng):
        self.pre_auth(rng, "connect_close", lambda auth: b"", finish=rng.choice(["close", "rst"]))

    # -- the Hello phase -------------------------------------------------------------------
    def hello_phase(self, rng, kind: str, make_hello=None, before=None) -> None:
        """A correct handshake, then ``make_hello(raw)`` as our Hello payload (None: a correct
        Hello) and/or ``before(rng)`` -> (code, payload) sent before our Hello."""
        raw = self.raw_peer(rng, f"fuzz-{kind}")
        try:
            verdict = ("accept",)
            if make_hello is not None:
                payload = make_hello(raw)
                self.input = payload
                reason, decoded = predict_hello(payload, raw.node_id)
                raw.conn.local_hello = FakeHello(payload, decoded.version if decoded else bp.BASE_PROTOCOL_VERSION)
                if reason is not None:
                    verdict = ("reject", reason)
            before_hello = None
            if before is not None:
                code, payload = before(rng)
                self.input = encode_code(code) + payload
                if code == bp.DISCONNECT:
                    try:
                        verdict = ("remote", bp.decode_disconnect(payload))
                    except RLPxError:
                        verdict = ("reject", DiscReason.PROTOCOL_ERROR)
                else:
                    verdict = ("reject", DiscReason.PROTOCOL_ERROR)  # expected Hello

                def before_hello(conn):
                    return conn.codec.encode(code, payload)
            s = Session(raw, before_hello=before_hello, chunks=rng if rng.random() < 0.3 else None)
            deadline = time.monotonic() + DETECT_S
            if verdict[0] == "reject":
                assert s.pump(deadline, lambda s: s.disconnect is not None), \
                    f"no Disconnect({verdict[1].name}) within {DETECT_S} s (eof={raw.eof})"
                assert s.disconnect == verdict[1], f"Disconnect({s.disconnect.name}), expected {verdict[1].name}"
                assert s.pump(deadline + DETECT_S, lambda s: s.raw.eof), "no close after the Disconnect"
                raw.close()
                self.expect_event("peer_rejected", raw.id_hex, reason=verdict[1].name, remote_requested=False)
                self.outcome(kind, f"Disconnect({verdict[1].name})")
            elif verdict[0] == "remote":
                assert s.pump(deadline, lambda s: s.raw.eof), f"no close within {DETECT_S} s after our Disconnect"
                raw.close()
                self.expect_event("peer_rejected", raw.id_hex, reason_code=int(verdict[1]), remote_requested=True)
                self.outcome(kind, "our Disconnect: closed")
            else:
                assert s.pump(deadline, lambda s: s.hello is not None or s.disconnect is not None), \
                    f"no Hello within {DETECT_S} s"
                assert s.disconnect is None, f"valid Hello rejected: Disconnect({s.disconnect.name})"
                self.expect_event("peer_added", raw.id_hex)
                self.accepted.add(raw.id_hex)
                self.alive(rng, kind, s)
        finally:
            raw.close()

    def case_hello_burst(self, rng):
        """Our Hello and more in one write, right after the ack (so the node gets them while it
        waits for its checkpoints), then FIN or RST at once."""
        raw = self.raw_peer(rng, "fuzz-hello_burst")
        try:
            tail = rng.choice(["msgs+disconnect", "msgs", "garbage", "msgs+garbage"])
            finish = rng.choice(["fin", "fin", "rst"])
            reason = DiscReason(rng.choice([0, 4, 8, 16, rng.randrange(256)]))
            wire = []

            def after_hello(conn):
                out = b""
                if tail.startswith("msgs"):  # snappy from the frame after the Hello (both sides speak v5)
                    for _ in range(rng.randint(1, 3)):
                        out += conn.codec.frames.encode(coded(TEST_OFFSET + rng.randrange(TEST_LENGTH),
                                                              rng.randbytes(rng.randint(0, 200)), True))
                if tail.endswith("disconnect"):
                    out += conn.codec.frames.encode(coded(bp.DISCONNECT, bp.encode_disconnect(reason), True))
                if tail.endswith("garbage"):
                    out += rng.randbytes(rng.randint(32, 300))
                wire.append(out)
                return out

            s = Session(raw, after_hello=after_hello)
            assert s.pump(time.monotonic() + DETECT_S, lambda s: s.handshake_done), "no ack"
            self.input = wire[0]
            if finish == "rst":
                raw.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                raw.close()
                self.unknown.add(raw.id_hex)  # what the node read before the RST is up to the kernel
                self.outcome("hello_burst", f"{tail}, then RST")
                return
            raw.sock.shutdown(socket.SHUT_WR)
            s.quiet = True
            assert s.pump(time.monotonic() + DETECT_S, lambda s: s.raw.eof), f"no close within {DETECT_S} s"
            raw.close()
            if tail.endswith("garbage"):
                # The Hello was valid and is decoded first: the node asks checkpoint 2 before it
                # fails on the garbage, so the peer is added, then removed (go-ethereum reads
                # the Hello alone, adds the peer, and its readLoop then fails on the garbage:
                # the same add + drop(PROTOCOL_ERROR) sequence).
                assert s.disconnect == DiscReason.PROTOCOL_ERROR, s.disconnect
                self.expect_event("peer_added", raw.id_hex)
                self.accepted.add(raw.id_hex)
                self.expect_event("peer_removed", raw.id_hex, reason="PROTOCOL_ERROR", remote_requested=False)
            elif tail == "msgs+disconnect":
                self.expect_event("peer_added", raw.id_hex)
                self.accepted.add(raw.id_hex)
                self.expect_event("peer_removed", raw.id_hex, reason_code=int(reason), remote_requested=True)
            else:
                self.expect_event("peer_added", raw.id_hex)
                self.accepted.add(raw.id_hex)
                self.expect_event("peer_removed", raw.id_hex, reason="NETWORK_ERROR", remote_requested=False)
            self.outcome("hello_burst", f"{tail}, then FIN: closed")
        finally:
            raw.close()

    def case_hello_mutated(self, rng):
        self.hello_phase(rng, "hello_mutated", lambda raw: mutate_rlp(rng, good_hello(raw.node_id).encode()))

    def case_hello_fields(self, rng):
        """A Hello list whose fields are each right or random (EIP-8: extra fields allowed)."""
        def make(raw):
            right = [rng.choice([4, 5, 6, 255, 2**64 - 1]), b"fuzz", [[b"test", 1]], rng.randrange(65536), raw.node_id]
            fields = [random_item(rng) if rng.random() < 0.3 else f for f in right]
            if rng.random() < 0.3:
                fields[2] = [rng.choice([[b"test", 1], [b"test", 2], [b"eth", 68], random_item(rng)])
                             for _ in range(rng.randint(0, 4))]
            if rng.random() < 0.3:
                fields += [random_item(rng) for _ in range(rng.randint(1, 3))]
            if rng.random() < 0.2:
                fields = fields[:rng.randint(0, 4)]
            return rlp.encode(fields)

        self.hello_phase(rng, "hello_fields", make)

    def case_hello_oversize(self, rng):
        def make(raw):
            if rng.random() < 0.5:
                return bp.Hello(5, "x" * rng.randint(2100, 4000), (bp.Capability("test", 1),), 0, raw.node_id).encode()
            caps = tuple(bp.Capability(f"c{i}", i) for i in range(rng.randint(300, 500))) + (bp.Capability("test", 1),)
            return bp.Hello(5, "many-caps", caps, 0, raw.node_id).encode()

        self.hello_phase(rng, "hello_oversize", make)

    def case_hello_identity(self, rng):
        def make(raw):
            node_id = rng.choice([node_id_from_private_key(seeded_key(rng)), bytes(64), raw.node_id[:63],
                                  raw.node_id + b"\x00", flip_bits(rng, raw.node_id)])
            return rlp.encode([5, b"fuzz-identity", [[b"test", 1]], 0, node_id])

        self.hello_phase(rng, "hello_identity", make)

    def case_not_hello_first(self, rng):
        def before(rng):
            code = rng.choice([bp.DISCONNECT, bp.PING, bp.PONG, 5, 15, 16, 23, 24, 200])
            if code == bp.DISCONNECT:
                payload = bp.encode_disconnect(rng.choice([0, 3, 8, 16, rng.randrange(256)]))
                return code, mutate_rlp(rng, payload) if rng.random() < 0.5 else payload
            return code, rng.randbytes(rng.randint(0, 64))

        self.hello_phase(rng, "not_hello_first", before=before)

    # -- running (after peer_added) -----------------------------------------------------------
    def running_case(self, rng, kind: str, build) -> None:
        """A correct peer up to peer_added, then ``build(rng, s)`` -> wire bytes with their
        predicted outcome ("error",) / ("remote", reason) / ("alive",); echoes to expect are
        appended to ``s.expect_echo``."""
        raw = self.raw_peer(rng, f"fuzz-{kind}")
        try:
            s = Session(raw, chunks=rng if rng.random() < 0.3 else None)
            s.expect_echo = []
            assert s.pump(time.monotonic() + DETECT_S, lambda s: s.hello is not None or s.disconnect is not None), \
                "no Hello from the node"
            assert s.disconnect is None, f"correct peer rejected: {s.disconnect.name}"
            self.expect_event("peer_added", raw.id_hex)
            self.accepted.add(raw.id_hex)
            wire, verdict = build(rng, s)
            self.input = wire
            s.send(wire, rng)
            self.settle(rng, kind, s, verdict)
        finally:
            raw.close()

    def settle(self, rng, kind: str, s: Session, verdict: tuple) -> None:
        raw = s.raw
        deadline = time.monotonic() + DETECT_S
        if verdict[0] == "error":
            assert s.pump(deadline, lambda s: s.disconnect is not None), \
                f"no Disconnect(PROTOCOL_ERROR) within {DETECT_S} s (eof={raw.eof})"
            assert s.disconnect == DiscReason.PROTOCOL_ERROR, f"Disconnect({s.disconnect.name})"
            assert s.msgs == s.expect_echo[:len(s.msgs)], "echoes before the bad frame differ"
            assert s.pump(deadline + DETECT_S, lambda s: s.raw.eof), "no close after the Disconnect"
            raw.close()
            self.expect_event("peer_removed", raw.id_hex, reason="PROTOCOL_ERROR", remote_requested=False)
            self.outcome(kind, "Disconnect(PROTOCOL_ERROR)")
        elif verdict[0] == "remote":
            assert s.pump(deadline, lambda s: s.raw.eof), f"no close within {DETECT_S} s after our Disconnect"
            raw.close()
            self.expect_event("peer_removed", raw.id_hex, reason_code=int(verdict[1]), remote_requested=True)
            self.outcome(kind, "our Disconnect: closed")
        elif verdict[0] == "fin":  # we stop mid-frame and close our side
            raw.sock.shutdown(socket.SHUT_WR)
            assert s.pump(deadline, lambda s: s.raw.eof), f"no close within {DETECT_S} s of our FIN"
            assert s.disconnect is None, f"Disconnect({s.disconnect.name}) after our FIN mid-frame"
            raw.close()
            self.expect_event("peer_removed", raw.id_hex, reason="NETWORK_ERROR", remote_requested=False)
            self.outcome(kind, "FIN mid-frame: closed")
        else:
            self.alive(rng, kind, s)

    def alive(self, rng, kind: str, s: Session, ending: str | None = None) -> None:
        """The connection must still work: a probe is echoed after every expected echo; then
        end it with a Disconnect, a Disconnect followed by more data, or a plain FIN."""
        raw = s.raw
        if not hasattr(s, "expect_echo"):
            s.expect_echo = []
        rel, probe = rng.randrange(TEST_LENGTH), b"probe-" + rng.randbytes(rng.randint(0, 40))
        s.expect_echo.append((rel, probe))
        s.send(raw.conn.codec.encode(TEST_OFFSET + rel, probe))
        assert s.pump(time.monotonic() + DETECT_S,
                      lambda s: len(s.msgs) >= len(s.expect_echo) or s.disconnect is not None or s.raw.eof), \
            f"probe not echoed within {DETECT_S} s ({len(s.msgs)}/{len(s.expect_echo)} echoes)"
        assert s.disconnect is None and not raw.eof, f"dropped instead (Disconnect {s.disconnect}, eof {raw.eof})"
        assert s.msgs == s.expect_echo, "echoes differ from what was sent"
        ending = ending or rng.choice(["disconnect", "disconnect+data", "fin"])
        if ending == "fin":
            raw.sock.shutdown(socket.SHUT_WR)
            assert s.pump(time.monotonic() + DETECT_S, lambda s: s.raw.eof), f"no close within {DETECT_S} s of our FIN"
            raw.close()
            self.expect_event("peer_removed", raw.id_hex, reason="NETWORK_ERROR", remote_requested=False)
            self.outcome(kind, "alive, closed after our FIN")
            return
        reason = DiscReason(rng.choice([0, 3, 4, 8, 16, rng.randrange(256)]))
        wire = s.frame(coded(bp.DISCONNECT, bp.encode_disconnect(reason), s.snappy))
        if ending == "disconnect+data":
            after = rng.choice(["bytes", "frames", "disconnect"])
            if after == "bytes":
                wire += rng.randbytes(rng.randint(1, 500))
            elif after == "frames":
                for _ in range(rng.randint(1, 3)):
                    wire += s.frame(coded(rng.choice([TEST_OFFSET, TEST_OFFSET + 7, bp.PING, 99]),
                                          rng.randbytes(rng.randint(0, 100)), s.snappy))
            else:
                wire += s.frame(coded(bp.DISCONNECT, bp.encode_disconnect(DiscReason.TOO_MANY_PEERS), s.snappy))
            ending += "/" + after
        self.input = wire
        before = len(s.msgs)
        s.send(wire, rng)
        assert s.pump(time.monotonic() + DETECT_S, lambda s: s.raw.eof), f"no close within {DETECT_S} s of our Disconnect"
        assert len(s.msgs) == before, "a message after our Disconnect was processed"
        raw.close()
        self.expect_event("peer_removed", raw.id_hex, reason_code=int(reason), remote_requested=True)
        self.outcome(kind, f"alive, closed after our {ending}")

    def _good(self, rng, s: Session, n: int) -> bytes:
        """``n`` test/1 messages the node must echo."""
        wire = b""
        for _ in range(n):
            rel, payload = rng.randrange(TEST_LENGTH), rng.randbytes(rng.choice([0, 1, 50, rng.randint(0, 600)]))
            s.expect_echo.append((rel, payload))
            wire += s.frame(coded(TEST_OFFSET + rel, payload, s.snappy))
        return wire

    def case_bad_mac(self, rng):
        def build(rng, s):
            good = self._good(rng, s, rng.randint(0, 2))
            frame = s.frame(coded(TEST_OFFSET + rng.randrange(TEST_LENGTH), rng.randbytes(rng.randint(0, 300)), s.snappy))
            return good + flip_bits(rng, frame, rng.choice([1, 1, 2, 8])), ("error",)

        self.running_case(rng, "bad_mac", build)

    def case_partial_frame(self, rng):
        """A valid frame (up to ~200 KiB) cut anywhere, then our FIN."""
        def build(rng, s):
            good = self._good(rng, s, rng.randint(0, 1))  # encoded first: the egress MAC follows wire order
            payload = rng.randbytes(rng.choice([10, 1000, rng.randint(1, 200_000)]))
            frame = s.frame(coded(TEST_OFFSET + rng.randrange(TEST_LENGTH), payload, s.snappy))
            return good + frame[:rng.randint(1, len(frame) - 1)], ("fin",)

        self.running_case(rng, "partial_frame", build)

    def case_random_frames(self, rng):
        def build(rng, s):
            return self._good(rng, s, rng.randint(0, 2)) + rng.randbytes(rng.randint(32, 2000)), ("error",)

        self.running_case(rng, "random_frames", build)

    def case_content(self, rng):
        def build(rng, s):
            wire = b""
            for _ in range(rng.randint(1, 3)):
                label, frame_data = content_frame(rng, s.snappy)
                verdict = predict_frame(frame_data, s.snappy)
                wire += s.frame(frame_data)
                if verdict[0] == "echo":
                    s.expect_echo.append(verdict[1:])
                elif verdict[0] in ("error", "remote"):
                    return wire, verdict
            return wire, ("alive",)

        self.running_case(rng, "content", build)

    # -- several at once ---------------------------------------------------------------------
    def case_parallel_pre_auth(self, rng):
        """6-12 connections at once, each with bad bytes before/in the auth (or none at all)."""
        conns = []
        try:
            for _ in range(rng.randint(6, 12)):
                raw = self.raw_peer(rng, "fuzz-parallel")
                auth = bytes(raw.conn.out)
                raw.conn.out.clear()
                data = rng.choice([rng.randbytes(rng.randint(0, 1500)), auth[:rng.randint(1, len(auth) - 1)],
                                   flip_bits(rng, auth, rng.randint(1, 4)), b"\xff\xff" + auth[2:], b""])
                verdict, _ = handshake_oracle(self.alpha.key, data)
                assert verdict != "complete", "generator made a valid auth"
                conns.append((raw, data, verdict))
            self.input = b"".join(data for _, data, _ in conns)
            for raw, data, verdict in conns:
                send_quietly(raw.sock, data)
            for raw, data, verdict in conns:
                if verdict == "wait":
                    raw.sock.shutdown(socket.SHUT_WR)
            deadline = time.monotonic() + DETECT_S
            for n, (raw, data, verdict) in enumerate(conns):
                got, closed = read_until_closed(raw.sock, deadline)
                assert closed and got == b"", (f"connection {n} ({verdict}, {len(data)} B): closed={closed}, "
                                               f"got {len(got)} B")
            self.outcome("parallel_pre_auth", f"{len(conns)} at once: all closed, nothing sent")
        finally:
            for raw, _, _ in conns:
                raw.close()

    def case_parallel_running(self, rng):
        """4-8 peers added at once, then each sends bad frames in the same moment: the node drops
        them all (their Peer and Protocol actors exit together)."""
        sessions = []
        try:
            for _ in range(rng.randint(4, 8)):
                raw = self.raw_peer(rng, "fuzz-parallel-running")
                s = Session(raw)
                s.expect_echo = []
                sessions.append(s)
                s.send_pending()  # the auth
            for s in sessions:
                assert s.pump(time.monotonic() + DETECT_S, lambda s: s.hello is not None), "no Hello from the node"
            for s in sessions:
                self.expect_event("peer_added", s.raw.id_hex)
                self.accepted.add(s.raw.id_hex)
            wires = []
            for s in sessions:
                how = rng.choice(["bad-mac", "bytes", "unowned"])
                if how == "bad-mac":
                    wire = flip_bits(rng, s.frame(coded(TEST_OFFSET, rng.randbytes(50), s.snappy)))
                elif how == "bytes":
                    wire = rng.randbytes(rng.randint(32, 400))
                else:
                    wire = s.frame(coded(TEST_OFFSET + TEST_LENGTH + rng.randrange(100), b"", s.snappy))
                wires.append(wire)
            self.input = b"".join(wires)
            for s, wire in zip(sessions, wires):
                s.send(wire)
            deadline = time.monotonic() + DETECT_S
            for n, s in enumerate(sessions):
                assert s.pump(deadline, lambda s: s.disconnect is not None), f"peer {n}: no Disconnect"
                assert s.disconnect == DiscReason.PROTOCOL_ERROR, f"peer {n}: Disconnect({s.disconnect.name})"
            for n, s in enumerate(sessions):
                assert s.pump(deadline + DETECT_S, lambda s: s.raw.eof), f"peer {n}: no close after the Disconnect"
                s.raw.close()
            for s in sessions:
                self.expect_event("peer_removed", s.raw.id_hex, reason="PROTOCOL_ERROR", remote_requested=False)
            self.outcome("parallel_running", f"{len(sessions)} at once: all Disconnect(PROTOCOL_ERROR)")
        finally:
            for s in sessions:
                s.raw.close()

    def case_data_after_disconnect(self, rng):
        raw = self.raw_peer(rng, "fuzz-data_after_disconnect")
        try:
            s = Session(raw)
            s.expect_echo = []
            assert s.pump(time.monotonic() + DETECT_S, lambda s: s.hello is not None), "no Hello from the node"
            self.expect_event("peer_added", raw.id_hex)
            self.accepted.add(raw.id_hex)
            self.alive(rng, "data_after_disconnect", s, ending="disconnect+data")
        finally:
            raw.close()


def good_hello(node_id: bytes) -> bp.Hello:
    return bp.Hello(bp.BASE_PROTOCOL_VERSION, "fuzz-hello", (bp.Capability("test", 1),), 30303, node_id)


def valid_auth_body(rng: random.Random, remote_id: bytes) -> bytes:
    """The RLP plaintext of a valid EIP-8 auth to ``remote_id`` (random initiator), with padding."""
    key, eph, nonce = seeded_key(rng), seeded_key(rng), rng.randbytes(32)
    token = ecdh_x(key, remote_id)
    sig = coincurve.PrivateKey(eph).sign_recoverable(bytes(a ^ b for a, b in zip(token, nonce)), hasher=None)
    return rlp.encode([sig, node_id_from_private_key(key), nonce, 4]) + rng.randbytes(rng.randint(0, 150))


def content_frame(rng: random.Random, snappy_on: bool) -> tuple[str, bytes]:
    """(label, frame-data) of one message with random content, as a misbehaving peer frames it."""
    kind = rng.choice(["owned", "owned-nested", "unowned", "long-code", "ping-junk", "pong-junk", "base-junk",
                       "disconnect-junk", "disconnect-nested", "oversize-snappy", "flipped-snappy", "raw-frame",
                       "deep-code"])
    if kind == "owned":
        return kind, coded(rng.randrange(TEST_OFFSET, TEST_OFFSET + TEST_LENGTH), rng.randbytes(rng.randint(0, 300)),
                           snappy_on)
    if kind == "owned-nested":  # test/1 payloads are opaque bytes: echoed as they are
        return kind, coded(rng.randrange(TEST_OFFSET, TEST_OFFSET + TEST_LENGTH), nested(rng.randint(1, 1300)), snappy_on)
    if kind == "unowned":
        code = rng.choice([24, 25, 100, 127, 128, 255, 256, 65535, rng.randint(24, 2**64 - 1)])
        return kind, coded(code, rng.randbytes(rng.randint(0, 100)), snappy_on)
    if kind == "long-code":  # more than 8 bytes: not a message code
        return kind, encode_code(rng.randint(2**64, 2**100)) + rng.randbytes(rng.randint(0, 50))
    if kind == "ping-junk":
        return kind, coded(bp.PING, mutate_rlp(rng, bp.PING_PAYLOAD), snappy_on)
    if kind == "pong-junk":
        return kind, coded(bp.PONG, mutate_rlp(rng, bp.PING_PAYLOAD), snappy_on)
    if kind == "base-junk":
        return kind, coded(rng.choice([bp.HELLO] + list(range(4, 16))), mutate_rlp(rng, rlp.encode(random_item(rng))),
                           snappy_on)
    if kind == "disconnect-junk":
        return kind, coded(bp.DISCONNECT, mutate_rlp(rng, bp.encode_disconnect(rng.randrange(256))), snappy_on)
    if kind == "disconnect-nested":
        return kind, coded(bp.DISCONNECT, nested(rng.randint(1, 1300)), snappy_on)
    if kind == "oversize-snappy":
        return kind, encode_code(rng.choice([bp.HELLO, bp.DISCONNECT, bp.PING, bp.PONG, TEST_OFFSET, TEST_OFFSET + 7])) \
            + oversize_snappy_header(rng)
    if kind == "flipped-snappy":
        block = snappy.compress(rng.randbytes(rng.randint(0, 100)) * rng.randint(1, 5))
        return kind, encode_code(rng.choice([bp.PING, bp.DISCONNECT, TEST_OFFSET + rng.randrange(TEST_LENGTH)])) \
            + flip_bits(rng, block, rng.randint(1, 3))
    if kind == "raw-frame":
        return kind, rng.choice([rng.randbytes(rng.randint(0, 100)), mutate_rlp(rng, encode_code(rng.randrange(300)))])
    return kind, nested(rng.randint(1, 1300))  # deep-code: nested lists where the code belongs


PRE_AUTH = ["random_bytes", "mutated_auth", "truncated_auth", "bitflip_auth", "auth_garbage", "huge_prefix",
            "small_prefix", "legacy_like", "sealed_plaintext", "connect_close"]
HELLO = ["hello_mutated", "hello_fields", "hello_oversize", "hello_identity", "not_hello_first", "hello_burst"]
RUNNING = ["bad_mac", "random_frames", "partial_frame", "content", "data_after_disconnect"]
PARALLEL = ["parallel_pre_auth", "parallel_running"]
KINDS = PRE_AUTH + HELLO + RUNNING + PARALLEL
EXTRA_WEIGHTS = {"random_bytes": 2, "mutated_auth": 3, "bitflip_auth": 1, "auth_garbage": 1, "sealed_plaintext": 1,
                 "hello_mutated": 3, "hello_fields": 3, "not_hello_first": 1, "hello_burst": 3, "bad_mac": 1, "partial_frame": 1, "random_frames": 1, "content": 5,
                 "data_after_disconnect": 1, "parallel_running": 1}
"""How the cases beyond one of each kind are drawn."""

LINE_END = re.compile(r"node alpha: (?:inbound connection ended(?: at \w+)?|inbound handshake failed at \w+|peer removed) "
                      r"\S+ 127\.0\.0\.1:(\d+): ")


def ended_lines(text: str) -> collections.Counter:
    """The one line per ended inbound connection (the Listener's for a handshake that failed before
    the identity was known, else the Server's), by remote port."""
    return collections.Counter(int(m.group(1)) for m in LINE_END.finditer(text))


@pytest.mark.parametrize("seed", SEEDS)
def test_node_survives_fuzzed_connections(nodes, tmp_path, seed):
    started = time.monotonic()
    rng = random.Random(seed)
    alpha = nodes.start("alpha", key=keccak256(b"fuzz alpha %d" % seed), protocols=[echo()], timeouts=TIMEOUTS)
    beta = nodes.start("beta", protocols=[sender(STREAM_COUNT, STREAM_SIZE, repeat_every_s=STREAM_REPEAT_S)],
                       timeouts=TIMEOUTS)
    nodes.connect(beta, alpha)
    nodes.expect("peer_added", node="alpha", peer_id=beta.id_hex)
    nodes.expect("protocol_event", node="beta", kind="test_report", protocol="test")  # the stream runs
    baseline = nodes.pids()
    fz = Fuzz(nodes, alpha, seed)

    # two silent connections, checked at the end: the handshake deadline runs meanwhile
    silent_rng = random.Random(f"{seed}/silent")
    silent_at = time.monotonic()
    silent = socket.create_connection((LOOPBACK, alpha.port), timeout=5)
    fz.ports[silent.getsockname()[1]] += 1
    mute = fz.raw_peer(silent_rng, "fuzz-silent-hello")
    mute.flush()  # the auth, then nothing: no Hello ever
    try:
        fuzz_mark = nodes.mark()
        plan = KINDS + rng.choices(list(EXTRA_WEIGHTS), weights=list(EXTRA_WEIGHTS.values()), k=CASES - len(KINDS))
        rng.shuffle(plan)
        for i, kind in enumerate(plan):
            fz.input = b""
            case_rng = random.Random(f"{seed}/{i}")
            try:
                getattr(fz, "case_" + kind)(case_rng)
            except Exception as exc:
                raise AssertionError(f"seed={seed} case={i} kind={kind}: {type(exc).__name__}: {exc}\n"
                                     f"input ({len(fz.input)} B): {fz.input.hex()}") from exc
        fuzz_done = time.monotonic()
        fuzz_end_mark = nodes.mark()

        # -- the silent ones: closed by the handshake deadline (not before it), nothing sent
        # before the handshake; a close is timed only if we were already waiting for it
        waiting_early = time.monotonic() < silent_at + TIMEOUTS.handshake_s - 0.5
        got, closed = read_until_closed(silent, silent_at + TIMEOUTS.handshake_s + SILENT_SLACK_S)
        closed_after = time.monotonic() - silent_at
        assert closed and got == b"", f"seed={seed} silent connection: closed={closed}, got {len(got)} B"
        assert not waiting_early or closed_after >= TIMEOUTS.handshake_s - 0.1, \
            f"seed={seed} silent connection closed after {closed_after:.2f} s, before the {TIMEOUTS.handshake_s} s deadline"
        s = Session(mute, quiet=True)
        s.pump(silent_at + 2 * TIMEOUTS.handshake_s + SILENT_SLACK_S, lambda s: s.raw.eof)
        assert mute.eof and s.hello is not None and s.disconnect == DiscReason.READ_TIMEOUT, \
            f"seed={seed} silent Hello: eof={mute.eof} hello={s.hello is not None} disconnect={s.disconnect}"
        assert not waiting_early or time.monotonic() - silent_at >= TIMEOUTS.handshake_s - 0.1, \
            "silent Hello: closed before the handshake deadline"
        mute.close()
        fz.expect_event("peer_rejected", mute.id_hex, reason="READ_TIMEOUT")
        fz.outcome("silent", "closed by the handshake deadline")
        fz.outcome("silent_hello", "Disconnect(READ_TIMEOUT)")
    finally:
        silent.close()
        mute.close()

    # -- the node still works for a correct peer
    mark = nodes.mark()
    healthy = fz.raw_peer(random.Random(f"{seed}/healthy"), "healthy")
    try:
        s = Session(healthy)
        assert s.pump(time.monotonic() + DETECT_S, lambda s: s.hello is not None), "healthy peer: no Hello"
        nodes.expect("peer_added", node="alpha", peer_id=healthy.id_hex, since=mark)
        s.send(healthy.conn.codec.encode(TEST_OFFSET + 3, b"still there?"))
        assert s.pump(time.monotonic() + DETECT_S, lambda s: s.msgs), "healthy peer: no echo"
        assert s.msgs == [(3, b"still there?")], s.msgs
        healthy.conn.disconnect(DiscReason.REQUESTED)
        s.send_pending()
        assert s.pump(time.monotonic() + DETECT_S, lambda s: s.raw.eof), "healthy peer: no close after Disconnect"
    finally:
        healthy.close()
    nodes.expect("peer_removed", node="alpha", peer_id=healthy.id_hex, reason="REQUESTED", remote_requested=True)

    # -- every fuzz peer that was added was removed; no other was added; beta was never dropped
    added = {e.data["peer_id"] for e in nodes.events(kind="peer_added", node="alpha")} - {beta.id_hex, healthy.id_hex}
    removed = [e.data["peer_id"] for e in nodes.events(kind="peer_removed", node="alpha")]
    assert fz.accepted <= added <= fz.accepted | fz.unknown, \
        f"seed={seed}: peer_added for {sorted(added - fz.accepted - fz.unknown)} unexpectedly, " \
        f"missing for {sorted(fz.accepted - added)}"
    assert collections.Counter(removed) == collections.Counter(added | {healthy.id_hex}), \
        f"seed={seed}: peer_removed {collections.Counter(removed)} vs added {added}"
    assert nodes.events(kind="peer_removed", node="beta") == [], "beta lost its peer"

    # -- beta's stream: a round that started after the fuzzing completes; no round lost anything
    stream_mark = nodes.mark()
    nodes.expect("protocol_event", node="beta", since=stream_mark, kind="test_report", protocol="test", timeout_s=30)
    reports = [e.data["data"] for e in nodes.events(kind="protocol_event", node="beta")
               if e.data.get("kind") == "test_report"]
    assert [r["round"] for r in reports] == list(range(len(reports))), [r["round"] for r in reports]
    bad = [r for r in reports if r["count"] != STREAM_COUNT or r["mismatches"] or r["duplicates"]]
    assert not bad, f"seed={seed}: stream rounds with loss/mismatch: {bad}"
    during = [e for e in nodes.events(since=fuzz_mark)[:fuzz_end_mark - fuzz_mark]
              if e.kind == "protocol_event" and e.node == "beta" and e.data.get("kind") == "test_report"]
    assert during, "the stream did not overlap the fuzz loop (no round completed during it)"

    # -- no process left from the fuzz connections (Peer and Protocol actors all exited)
    left = wait_until(lambda: set(nodes.pids()) == set(baseline), 10.0)
    assert left, f"seed={seed}: processes besides the baseline: {set(nodes.pids()) ^ set(baseline)}"

    # -- the log: one line per fuzz connection, no error, no traceback
    node_log = tmp_path / "node.log"  # the nodes fixture's handler
    want = +fz.ports
    wait_until(lambda: ended_lines(read_text(node_log)) == want, 10.0)
    text = read_text(node_log)
    assert "node alpha: peer added" in text, f"control: the node's log file got no line from its actors:\n{text[-2000:]}"
    got = ended_lines(text)
    assert got == want, (f"seed={seed}: log lines per fuzz connection (port: lines, expected 1 each): "
                         f"{ {p: (got[p], want[p]) for p in set(got) | set(want) if got[p] != want[p]} }")
    thespian_text = read_text(tmp_path / "thespian.log")
    bad_lines = [line for line in text.splitlines() + thespian_text.splitlines() if BAD_LOG.search(line)]
    assert not bad_lines, f"seed={seed}: errors in the node's log:\n" + "\n".join(bad_lines[:40])
    warnings = [line for line in text.splitlines() if " WARNING " in line]

    print(f"\nseed={seed}: {sum(fz.ports.values())} connections ({len(plan)} fuzz cases, the parallel ones open several; "
          f"2 silent; 1 healthy) in {time.monotonic() - started:.1f} s (fuzz loop {fuzz_done - silent_at:.1f} s); "
          f"{len(reports)} stream rounds; {len(warnings)} WARNING lines")
    for what, n in sorted(fz.outcomes.items()):
        print(f"  {n:3d} x {what}")
