"""Ethereum Node Records (discovery.enr): the EIP-778 test vector, building and signing, the
decode checks of go-ethereum p2p/enr/enr.go and p2p/enode/idscheme.go, and a seeded fuzz."""

from __future__ import annotations

import base64
import random

import pytest
import rlp

from discovery.enr import (SIZE_LIMIT, ForkId, Record, RecordError, build, decode, next_record, parse_text)
from rlpx.keys import generate_private_key, keccak256, node_hash, node_id_from_private_key, sign_v4

# EIP-778 "Test Vectors"
VECTOR_TEXT = ("enr:-IS4QHCYrYZbAKWCBRlAy5zzaDZXJBGkcnh4MHcBFZntXNFrdvJjX04jRzjzCBOonrkTfj499SZuOh8R33Ls8RRcy5w"
               "BgmlkgnY0gmlwhH8AAAGJc2VjcDI1NmsxoQPKY0yuDUmstAHYpMa2_oxVtw0RW_QAdpzBQA8yWM0xOIN1ZHCCdl8")
VECTOR_KEY = bytes.fromhex("b71c71a67e1177ad4e901695e1b4b9ee17ae16c6668d313eac2f96dbcda3f291")
VECTOR_ADDRESS = bytes.fromhex("a448f24c6d18e575453db13171562b71999873db5b286df957af199ec94617f7")
VECTOR_PUB33 = bytes.fromhex("03ca634cae0d49acb401d8a4c6b6fe8c55b70d115bf400769cc1400f3258cd3138")


def vector_raw() -> bytes:
    body = VECTOR_TEXT[4:]
    return base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))


# --------------------------------------------------------------------------- the EIP-778 vector


def test_eip778_vector_decodes():
    r = parse_text(VECTOR_TEXT)
    assert r.seq == 1
    assert r.keys() == ["id", "ip", "secp256k1", "udp"]
    assert r.public_key == VECTOR_PUB33
    assert r.node_id == node_id_from_private_key(VECTOR_KEY)
    assert r.node_address == VECTOR_ADDRESS == node_hash(r.node_id)
    assert r.ip == "127.0.0.1" and r.udp == 30303
    assert r.tcp is None and r.ip6 is None and r.tcp6 is None and r.udp6 is None and r.eth is None
    assert r.text() == VECTOR_TEXT and str(r) == VECTOR_TEXT
    assert decode(r.encode()) == r


def test_eip778_vector_resigned_gives_the_same_bytes():
    r = build(VECTOR_KEY, 1, ip="127.0.0.1", udp=30303)
    assert r.raw == vector_raw()
    assert r.text() == VECTOR_TEXT


# --------------------------------------------------------------------------- building


def test_build_round_trips_every_entry():
    key = generate_private_key()
    r = build(key, 7, ip="10.0.0.1", tcp=30303, udp=30301, ip6="::1", tcp6=1, udp6=65535,
              eth=ForkId(bytes.fromhex("fc64ec04"), 1150000), extra=b"\x01\x02")
    again = parse_text(r.text())
    assert again == r and again.seq == 7
    assert (again.ip, again.tcp, again.udp) == ("10.0.0.1", 30303, 30301)
    assert (again.ip6, again.tcp6, again.udp6) == ("::1", 1, 65535)
    assert again.eth == (bytes.fromhex("fc64ec04"), 1150000)
    assert again.get("extra") == b"\x01\x02" and again.get("missing") is None
    assert again.node_id == node_id_from_private_key(key)
    assert again.keys() == sorted(again.keys())


def test_eth_entry_is_a_list_holding_the_fork_id():
    # go-ethereum eth/protocols/eth/discovery.go: enrEntry{ForkID forkid.ID; Rest tail} -> [[hash, next]]
    r = build(VECTOR_KEY, 1, eth=(b"\xde\xad\xbe\xef", 0))
    assert rlp.decode(r.get_raw("eth")) == [[b"\xde\xad\xbe\xef", b""]]


def test_none_leaves_an_entry_out():
    assert build(VECTOR_KEY, 1, ip="127.0.0.1", udp=30303, tcp=None).raw == vector_raw()


@pytest.mark.parametrize("kwargs", [
    {"ip": "::1"}, {"ip6": "127.0.0.1"}, {"ip": "not an ip"}, {"ip": b"\x01\x02"},
    {"tcp": -1}, {"udp": 65536}, {"tcp": "30303"}, {"tcp": True},
    {"eth": (b"abc", 0)}, {"eth": (b"abcd", -1)}, {"eth": (b"abcd", 2**64)}, {"eth": b"abcd"},
    {"id": b"v5"}, {"secp256k1": b"\x02" * 33}, {"big": b"x" * 300}, {"other": object()}, {"neg": -5},
])
def test_build_rejects_bad_entries(kwargs):
    with pytest.raises(RecordError):
        build(VECTOR_KEY, 1, **kwargs)


@pytest.mark.parametrize("key,seq", [(bytes(32), 1), (b"short", 1), (VECTOR_KEY, -1), (VECTOR_KEY, 2**64),
                                     (VECTOR_KEY, "1")])
def test_build_rejects_bad_key_or_seq(key, seq):
    with pytest.raises(RecordError):
        build(key, seq)


def test_next_record_bumps_seq_only_on_change():
    key = generate_private_key()
    first = next_record(None, key, ip="127.0.0.1", tcp=30303, udp=30303)
    assert first.seq == 1
    assert next_record(first, key, ip="127.0.0.1", tcp=30303, udp=30303) is first
    moved = next_record(first, key, ip="127.0.0.1", tcp=30304, udp=30304)
    assert moved.seq == 2 and moved.tcp == 30304
    forked = next_record(moved, key, ip="127.0.0.1", tcp=30304, udp=30304, eth=(b"abcd", 5))
    assert forked.seq == 3 and forked.eth == (b"abcd", 5)
    other_key = next_record(forked, generate_private_key(), ip="127.0.0.1", tcp=30304, udp=30304, eth=(b"abcd", 5))
    assert other_key.seq == 4


# --------------------------------------------------------------------------- decoding errors


def signed(items_after_sig: list, key: bytes = VECTOR_KEY, sig: bytes | None = None) -> bytes:
    """rlp([sig, *items]) with sig the v4 signature of rlp(items) unless given."""
    if sig is None:
        sig = sign_v4(key, keccak256(rlp.encode(items_after_sig)))
    return rlp.encode([sig] + items_after_sig)


PUB = VECTOR_PUB33


@pytest.mark.parametrize("items,message", [
    ([1, b"ip", b"\x7f\x00\x00\x01", b"secp256k1", PUB], "no 'id'"),
    ([1, b"id", b"v5", b"secp256k1", PUB], "not supported"),
    ([1, b"id", b"v4"], "'secp256k1' must be"),
    ([1, b"id", b"v4", b"secp256k1", PUB[:32]], "'secp256k1' must be"),
    ([1, b"id", b"v4", b"secp256k1", b"\x02" + b"\xff" * 32], "not a point"),
    ([1, b"secp256k1", PUB, b"id", b"v4"], "not sorted"),
    ([1, b"id", b"v4", b"id", b"v4", b"secp256k1", PUB], "duplicate key"),
    ([1, b"id", b"v4", b"secp256k1"], "incomplete key/value pair"),
    ([[1], b"id", b"v4", b"secp256k1", PUB], "seq must be an RLP string"),
    ([b"\x00\x01", b"id", b"v4", b"secp256k1", PUB], "leading zero"),
    ([2**64, b"id", b"v4", b"secp256k1", PUB], "above"),
    ([1, [b"id"], b"v4", b"secp256k1", PUB], "key must be an RLP string"),
])
def test_decode_rejects(items, message):
    with pytest.raises(RecordError, match=message):
        decode(signed(items))


def test_decode_rejects_bad_signatures():
    items = [1, b"id", b"v4", b"ip", b"\x7f\x00\x00\x01", b"secp256k1", PUB, b"udp", 30303]
    assert decode(signed(items)).raw == vector_raw()
    with pytest.raises(RecordError, match="invalid signature"):
        decode(signed(items, key=generate_private_key()))  # signed by another key
    good = rlp.decode(vector_raw())[0]
    for sig in (good[:63], good + b"\x00", bytes(64), [good]):
        with pytest.raises(RecordError):
            decode(signed(items, sig=sig))
    tampered = [2] + items[1:]
    with pytest.raises(RecordError, match="invalid signature"):
        decode(signed(tampered, sig=good))


def test_decode_rejects_bad_containers():
    raw = vector_raw()
    for bad, message in [(b"", "not valid RLP"), (raw + b"\x00", "not valid RLP"), (raw[:-1], "not valid RLP"),
                         (b"\x83abc", "not an RLP list"), (rlp.encode([b"sig"]), "less than two"),
                         (rlp.encode([]), "less than two"), ("text", "must be bytes")]:
        with pytest.raises(RecordError, match=message):
            decode(bad)
    too_big = signed([1, b"id", b"v4", b"secp256k1", PUB, b"z", b"x" * 200])
    assert len(too_big) > SIZE_LIMIT
    with pytest.raises(RecordError, match="300-byte limit"):
        decode(too_big)


def test_decode_accepts_exactly_the_size_limit():
    for n in range(150, 260):
        raw = signed([1, b"id", b"v4", b"secp256k1", PUB, b"z", b"x" * n])
        if len(raw) == SIZE_LIMIT:
            assert decode(raw).get("z") == b"x" * n
            return
    pytest.fail("no padding reached exactly 300 bytes")


@pytest.mark.parametrize("text", [
    "", "enr", "enode://00", VECTOR_TEXT[4:], "ENR:" + VECTOR_TEXT[4:], VECTOR_TEXT + "=", VECTOR_TEXT + "A",
    VECTOR_TEXT.replace("_", "/"), VECTOR_TEXT.replace("-", "+"), VECTOR_TEXT[:-1], "enr:" + "A" * 401,
    VECTOR_TEXT[:20] + " " + VECTOR_TEXT[20:], "enr:" + "é" * 8, b"enr:AAAA", None,
])
def test_parse_text_rejects(text):
    with pytest.raises(RecordError):
        parse_text(text)


def test_malformed_entries_raise_record_error_on_access():
    items = [1, b"eth", [b"abcd"], b"id", b"v4", b"ip", b"\x7f\x00\x01", b"ip6", b"\x00" * 15,
             b"secp256k1", PUB, b"tcp", b"\x00\x01", b"udp", b"\x01\x00\x00"]
    r = decode(signed(items))
    for name in ("eth", "ip", "ip6", "tcp", "udp"):
        with pytest.raises(RecordError):
            getattr(r, name)
    assert r.tcp6 is None


# --------------------------------------------------------------------------- fuzz


def _mutate(rng: random.Random, data: bytes) -> bytes:
    b = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        op = rng.randrange(4)
        if op == 0 and b:
            b[rng.randrange(len(b))] = rng.randrange(256)
        elif op == 1 and b:
            del b[rng.randrange(len(b))]
        elif op == 2:
            b.insert(rng.randrange(len(b) + 1), rng.randrange(256))
        else:
            b = b[:rng.randrange(len(b) + 1)]
    return bytes(b)


def test_fuzz_decode_raises_only_record_error():
    rng = random.Random(20241203)
    seeds = [vector_raw(), build(VECTOR_KEY, 9, ip="10.1.2.3", tcp=1, udp=2, ip6="::2", eth=(b"abcd", 7)).raw]
    accepted = 0
    for i in range(3000):
        data = _mutate(rng, seeds[i % 2]) if i % 5 else bytes(rng.getrandbits(8) for _ in range(rng.randrange(64)))
        try:
            r = decode(data)
        except RecordError:
            continue
        accepted += 1
        assert isinstance(r, Record) and decode(r.raw) == r
        for name in ("ip", "ip6", "tcp", "udp", "tcp6", "udp6", "eth"):
            try:
                getattr(r, name)
            except RecordError:
                pass
    assert accepted < 3000


def test_fuzz_parse_text_raises_only_record_error():
    rng = random.Random(778)
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_=+/ :é"
    for _ in range(2000):
        text = list(VECTOR_TEXT)
        for _ in range(rng.randint(1, 3)):
            pos = rng.randrange(len(text))
            if rng.random() < 0.5:
                text[pos] = rng.choice(alphabet)
            else:
                del text[pos]
        try:
            parse_text("".join(text))
        except RecordError:
            pass


# --------------------------------------------------------------------------- go-ethereum's records

# Made by go-ethereum v1.17.10 (enr.Record with SetSeq(42), IPv4 10.0.0.7, TCP 30303, UDP 30304,
# IPv6 2001:db8::1, TCP6 30305, the eth enrEntry{ForkID{9f3d2254, 1681338455}}, enode.SignV4 with
# VECTOR_KEY; printed by enode.Node.String()).
GETH_TEXT = ("enr:-Li4QADK_f5gyMMAS-PKHTvrRyZ5ZAt3QALe8rAmFFpcLdUBLgumcrg8G92aJAt6yVcxBBBDA_BmgwgR42uCvm--oQUqg2V0aMvKh"
             "J89IlSEZDcwV4JpZIJ2NIJpcIQKAAAHg2lwNpAgAQ24AAAAAAAAAAAAAAABiXNlY3AyNTZrMaEDymNMrg1JrLQB2KTGtv6MVbcNEVv0"
             "AHacwUAPMljNMTiDdGNwgnZfhHRjcDaCdmGDdWRwgnZg")


def test_geth_record_decodes_and_resigns_identically():
    r = parse_text(GETH_TEXT)
    assert r.seq == 42 and r.node_address == VECTOR_ADDRESS
    assert (r.ip, r.tcp, r.udp, r.ip6, r.tcp6, r.udp6) == ("10.0.0.7", 30303, 30304, "2001:db8::1", 30305, None)
    assert r.eth == ForkId(bytes.fromhex("9f3d2254"), 1681338455)
    ours = build(VECTOR_KEY, 42, ip="10.0.0.7", tcp=30303, udp=30304, ip6="2001:db8::1", tcp6=30305,
                 eth=ForkId(bytes.fromhex("9f3d2254"), 1681338455))
    assert ours.text() == GETH_TEXT
