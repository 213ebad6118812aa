"""node/inbound_handshakes.py without sockets: the pending table, its eviction policy and
deadlines, the auth answered in-process, and the rate limit of handshake_failed events."""

from __future__ import annotations

import pytest

from node.inbound_handshakes import AuthFailed, InboundHandshakes, RateLimit
from rlpx.handshake import Initiator
from rlpx.keys import generate_private_key, node_id_from_private_key

KEY = generate_private_key()


def table(max_pending=3, handshake_s=5.0) -> InboundHandshakes:
    return InboundHandshakes(KEY, max_pending, handshake_s, min_evict_age_s=0.25)


def test_valid_auth_is_answered_with_the_session_and_leftover():
    t = table()
    t.accepted("a", ("127.0.0.1", 1), 0.0)
    client_key = generate_private_key()
    init = Initiator(client_key, node_id_from_private_key(KEY))
    assert t.received("a", init.auth[:100], 0.1) is None
    answered = t.received("a", init.auth[100:] + b"first frame bytes", 0.2)
    assert answered is not None and answered.leftover == b"first frame bytes"
    assert answered.secrets.remote_node_id == node_id_from_private_key(client_key)
    ours = init.feed(answered.ack)  # the initiator derives the same session
    assert (ours.aes_secret, ours.mac_secret) == (answered.secrets.aes_secret, answered.secrets.mac_secret)
    assert ours.egress_mac_seed == answered.secrets.ingress_mac_seed
    assert t.reading() == [] and "a" in t  # handed on: keeps its slot until freed
    t.freed("a")
    assert len(t) == 0


def test_bad_auth_fails_and_frees_the_slot():
    t = table()
    t.accepted("a", ("127.0.0.1", 1), 0.0)
    with pytest.raises(AuthFailed) as info:
        t.received("a", b"\x00\x40" + bytes(64), 0.1)  # EIP-8 size 64: not an ECIES packet
    assert (info.value.stage, info.value.cause) == ("auth", "protocol_error")
    assert "a" not in t


def _auth() -> bytes:
    return Initiator(generate_private_key(), node_id_from_private_key(KEY)).auth


def test_full_table_evicts_the_oldest_silent_connection_old_enough_else_the_oldest_anyway():
    t = table(max_pending=3)
    for i, cid in enumerate("abc"):
        t.accepted(cid, ("127.0.0.1", i), 0.1 * i)
    # "a" is 0.2 s old, and nothing else can go: the new connection is not refused for it
    assert t.room(0.2) == (True, "a")
    t.freed("a")
    t.accepted("d", ("127.0.0.1", 3), 0.2)
    assert t.room(0.35) == (True, "b")  # "b" is 0.25 s old
    assert t.next_deadline(0.35) == 5.1  # "b"'s handshake deadline: eviction needs no wake-up


def test_flood_faster_than_the_eviction_rate_never_stops_the_accepting():
    t = table(max_pending=50)
    now, accepted = 0.0, 0
    for i in range(1000):  # 10,000 connections/s, against 200/s with a minimum age
        now = i * 1e-4
        ok, victim = t.room(now)
        assert ok, i
        if victim is not None:
            t.freed(victim)
        t.accepted(f"c{i}", ("127.0.0.1", i), now)
        accepted += 1
    assert accepted == 1000 and len(t) == 50


def test_a_real_peer_among_the_flood_keeps_its_slot_for_max_pending_accepts():
    t = table(max_pending=50)
    t.accepted("real", ("127.0.0.1", 1), 0.0)
    for i in range(49):
        t.accepted(f"c{i}", ("127.0.0.1", 2 + i), 0.0)
    assert t.received("real", _auth(), 0.001) is not None  # answered: no longer a silent one
    victims = []
    for i in range(200):
        _, victim = t.room(0.002)
        victims.append(victim)
        t.freed(victim)
        t.accepted(f"n{i}", ("127.0.0.1", 100 + i), 0.002)
    assert "real" in t and "real" not in victims


def test_handed_connections_that_stay_silent_are_evicted_before_young_silent_ones():
    t = table(max_pending=3)
    for cid in "ab":
        t.accepted(cid, ("127.0.0.1", 1), 0.0)
        assert t.received(cid, _auth(), 0.0) is not None  # a valid auth, then nothing
    t.accepted("s", ("127.0.0.1", 2), 1.9)
    assert t.room(1.95) == (True, "s")  # the handed ones are under HANDED_EVICT_AGE_S: protected
    assert t.room(2.0) == (True, "a") and t.handed("a")  # then the oldest of them goes first
    assert not t.handed("s")


def test_a_table_of_recently_handed_connections_gives_up_the_first_handed():
    t = table(max_pending=2)
    for cid, at in (("b", 0.0), ("a", 0.5)):
        t.accepted(cid, ("127.0.0.1", 1), at)
    t.received("a", _auth(), 0.5)
    t.received("b", _auth(), 0.6)  # accepted first, handed on last
    assert t.room(1.0) == (True, "a")
    assert t.next_deadline(1.0) is None  # nothing waits for an auth


def test_handshake_deadline_expires_only_silent_connections():
    t = table(handshake_s=5.0)
    t.accepted("a", ("127.0.0.1", 1), 0.0)
    t.accepted("b", ("127.0.0.1", 2), 1.0)
    assert t.next_deadline(0.0) == 5.0 and t.expired(4.9) == []
    assert t.expired(5.0) == ["a"]


def test_rate_limit_counts_what_it_held_back():
    r = RateLimit(per_s=10)
    assert [r.allow(0.01 * i) for i in range(12)] == [(True, 0)] * 10 + [(False, 0)] * 2
    assert r.allow(1.0) == (True, 2)
    assert r.allow(1.1) == (True, 0)
