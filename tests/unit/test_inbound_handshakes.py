"""node/inbound_handshakes.py without sockets: the pending table, its eviction policy and
deadlines, the auth answered in-process, and the rate limit of handshake_failed events."""

from __future__ import annotations

import pytest

from node.inbound_handshakes import HANDED_EVICT_AGE_S, AuthFailed, InboundHandshakes, RateLimit
from rlpx.handshake import Initiator
from rlpx.keys import generate_private_key, node_id_from_private_key

KEY = generate_private_key()


def table(max_pending=3, handshake_s=5.0, max_reading=3) -> InboundHandshakes:
    return InboundHandshakes(KEY, max_pending, handshake_s, max_reading=max_reading)


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


def test_full_table_evicts_the_oldest_connection_still_being_read():
    t = table(max_reading=3)
    for i, cid in enumerate("abc"):
        t.accepted(cid, ("127.0.0.1", i), 0.1 * i)
    assert t.room(0.2) == (True, "a")  # whatever its age: the accepting never stops
    t.freed("a")
    t.accepted("d", ("127.0.0.1", 3), 0.2)
    assert t.room(0.2) == (True, "b")
    assert t.next_deadline(0.2) == 5.1  # "b"'s handshake deadline


def test_default_reading_table_is_eight_per_pending_slot():
    t = InboundHandshakes(KEY, 50, 5.0)
    assert t.max_reading == 400
    for i in range(399):
        t.accepted(f"c{i}", ("127.0.0.1", i), 0.0)
    assert t.room(0.0) == (True, None)


def test_flood_never_stops_the_accepting_and_a_real_peer_has_max_reading_accepts():
    t = table(max_pending=50, max_reading=400)
    t.accepted("real", ("127.0.0.1", 1), 0.0)
    victims = []
    for i in range(2000):  # 10,000 connections/s
        now = i * 1e-4
        ok, victim = t.room(now)
        assert ok, i
        if victim is not None:
            victims.append(victim)
            t.freed(victim)
        t.accepted(f"c{i}", ("127.0.0.1", 2 + i), now)
        if i == 398:  # its auth arrives after 399 newer connections
            assert t.received("real", _auth(), now) is not None
    assert "real" in t and "real" not in victims and len(t) == 401


def test_handed_connections_take_pending_slots_not_reading_ones():
    t = table(max_pending=2, max_reading=1)
    for cid in "ab":
        t.accepted(cid, ("127.0.0.1", 1), 0.0)
        assert t.received(cid, _auth(), 0.0) is not None
    assert t.room(0.0) == (True, None) and t.n_handed == 2  # reading table empty
    t.freed("a")
    assert t.n_handed == 1 and not t.handed("a") and t.handed("b")


def test_valid_auth_takes_the_slot_of_the_oldest_handed_on_once_it_is_old_enough():
    t = table(max_pending=2, max_reading=3)
    for cid, at in (("b", 0.0), ("a", 0.5)):
        t.accepted(cid, ("127.0.0.1", 1), at)
    t.received("a", _auth(), 0.5)
    t.received("b", _auth(), 0.6)  # accepted first, handed on last
    t.accepted("c", ("127.0.0.1", 7), 0.7)
    late = 0.5 + HANDED_EVICT_AGE_S
    answered = t.received("c", _auth(), late)
    assert answered.evicted == "a" and not answered.wait
    assert "a" not in t and t.handed("b") and t.handed("c") and t.n_handed == 2


def test_a_crowd_of_valid_auths_waits_for_slots_instead_of_evicting_each_other():
    """Slots full of young handed-on connections: a new valid auth is answered and waits (its
    socket unread), then is handed on as a slot frees, or once a slot's holder is old enough;
    at most ``max_pending`` wait, each at most ``handshake_s``."""
    t = table(max_pending=2, max_reading=8, handshake_s=5.0)
    for i, cid in enumerate("abcdef"):
        t.accepted(cid, ("127.0.0.1", i), 0.0)
    assert [t.received(c, _auth(), 0.1).wait for c in "ab"] == [False, False]
    waits = [t.received(c, _auth(), 0.2) for c in "cde"]
    assert all(w.wait and w.evicted is None for w in waits) and t.n_handed == 2
    assert set(t.reading()) == {"f"}, "answered connections are not read while they wait"
    assert t.expired(0.3) == []
    t.freed("a")  # a's peer was added
    assert [a.conn_id for a in t.promote(0.4)] == ["c"] and t.handed("c") and t.n_handed == 2
    assert t.promote(0.5) == [], "no slot free and none old enough"
    assert t.next_deadline(0.5) == pytest.approx(0.1 + HANDED_EVICT_AGE_S)
    [moved] = t.promote(0.1 + HANDED_EVICT_AGE_S)
    assert moved.conn_id == "d" and moved.evicted == "b" and "b" not in t


def test_at_most_max_reading_wait_the_oldest_closed_first():
    t = table(max_pending=1, max_reading=2)
    for i, cid in enumerate("abcd"):
        t.accepted(cid, ("127.0.0.1", i), 0.0)
        t.received(cid, _auth(), 0.1 * i)
    assert t.expired(0.4) == ["b"]


def test_a_waiting_auth_is_closed_after_handshake_s():
    t = table(max_pending=1, handshake_s=5.0)
    t.accepted("a", ("127.0.0.1", 1), 0.0)
    t.accepted("b", ("127.0.0.1", 2), 0.0)
    t.received("a", _auth(), 0.0)
    assert t.received("b", _auth(), 0.1).wait
    assert t.expired(5.0) == [] and t.expired(5.1) == ["b"]


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
