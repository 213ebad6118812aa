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


def test_full_table_evicts_the_oldest_silent_connection_once_old_enough():
    t = table(max_pending=3)
    for i, cid in enumerate("abc"):
        t.accepted(cid, ("127.0.0.1", i), 0.1 * i)
    assert t.room(0.2) == (False, None)  # "a" is 0.2 s old: not yet
    assert t.next_deadline(0.2) == 0.25
    assert t.room(0.25) == (True, "a")
    assert t.next_deadline(0.25) == 5.0  # evictable now: no wake-up for it


def test_eviction_skips_connections_whose_auth_was_answered():
    t = table(max_pending=2)
    t.accepted("real", ("127.0.0.1", 1), 0.0)
    t.received("real", Initiator(generate_private_key(), node_id_from_private_key(KEY)).auth, 0.0)
    t.accepted("silent", ("127.0.0.1", 2), 0.1)
    assert t.room(1.0) == (True, "silent")
    t.freed("silent")
    t.accepted("silent2", ("127.0.0.1", 3), 1.0)
    assert t.room(1.1) == (False, None) and t.room(1.25) == (True, "silent2")


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
