"""actors/io/nodedb.py: the discovery node database (go-ethereum p2p/enode/nodedb.go) in SQLite
files under tmp_path; times are plain floats."""

from __future__ import annotations

import os
import random
import sqlite3

import pytest

from actors.io import nodedb as N
from actors.io.nodedb import NodeDB
from discovery.enr import build
from rlpx.keys import generate_private_key, node_id_from_private_key

RNG = random.Random(20261203)
NOW = 1_800_000_000.0
DAY = 24 * 3600.0


def rid() -> bytes:
    return RNG.randbytes(64)


@pytest.fixture
def path(tmp_path):
    return str(tmp_path / "sub" / "n.nodes.sqlite")


def test_constants_are_go_ethereums():
    assert N.DB_NODE_EXPIRATION_S == 24 * 3600 and N.DB_CLEANUP_CYCLE_S == 3600
    assert N.SEED_MAX_AGE_S == 5 * 24 * 3600 and N.SEED_COUNT == 30


def test_persistence_across_reopen(path):
    a, b = rid(), rid()
    key = generate_private_key()
    c = node_id_from_private_key(key)
    rec = build(key, 7, ip="10.0.0.3", udp=30303, tcp=30303)
    with NodeDB(path) as db:
        assert db.reset_reason is None and db.moved_to is None
        db.update_node(a, "10.0.0.1", 30301, 30302)
        db.set_last_ping(a, "10.0.0.1", NOW - 5)
        db.set_last_pong(a, "10.0.0.1", NOW - 3)
        db.set_findfails(a, "10.0.0.1", 2)
        db.set_last_pong(b, "::1", NOW)
        db.update_node(c, "10.0.0.3", 30303, 30303, rec.encode())
        db.set_local_seq(12345)
    db = NodeDB(path)
    try:
        assert db.reset_reason is None
        assert db.node(a, "10.0.0.1") == (a, "10.0.0.1", 30301, 30302, None)
        assert db.last_ping(a, "10.0.0.1") == NOW - 5
        assert db.last_pong(a, "10.0.0.1") == NOW - 3
        assert db.findfails(a, "10.0.0.1") == 2
        assert db.last_pong(b, "::1") == NOW
        assert db.node(c, "10.0.0.3")[4] == rec.encode()
        assert db.local_seq() == 12345 and db.local_seq(now=NOW) == 12345
        assert db.count() == 3
    finally:
        db.close()
    assert sqlite3.connect(path).execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_unknown_values_are_zero(path):
    with NodeDB(path) as db:
        a = rid()
        assert db.last_ping(a, "1.2.3.4") == 0.0 and db.last_pong(a, "1.2.3.4") == 0.0
        assert db.findfails(a, "1.2.3.4") == 0 and db.node(a, "1.2.3.4") is None
        assert db.last_pong(a, "not an ip") == 0.0  # go-ethereum: zero for an invalid IP
        assert db.local_seq() == 0
        assert db.local_seq(now=NOW) == int(NOW * 1000)  # go-ethereum localSeq: time in ms


def test_items_are_per_ip_and_ipv4_mapped_is_the_same_ip(path):
    with NodeDB(path) as db:
        a = rid()
        db.set_last_pong(a, "10.0.0.1", NOW)
        db.set_last_pong(a, "10.0.0.2", NOW - 10)
        assert db.last_pong(a, "10.0.0.1") == NOW and db.last_pong(a, "10.0.0.2") == NOW - 10
        assert db.last_pong(a, "::ffff:10.0.0.1") == NOW
        db.delete_node(a)
        assert db.count() == 0


def test_update_keeps_times_and_newer_enr(path):
    key = generate_private_key()
    nid = node_id_from_private_key(key)
    old, new = build(key, 3, ip="10.0.0.1", udp=1, tcp=2), build(key, 4, ip="10.0.0.1", udp=1, tcp=2)
    with NodeDB(path) as db:
        db.update_node(nid, "10.0.0.1", 1, 2, new.encode())
        db.set_last_pong(nid, "10.0.0.1", NOW)
        db.update_node(nid, "10.0.0.1", 5, 6, old.encode())  # lower seq: record ignored, ports updated
        assert db.node(nid, "10.0.0.1") == (nid, "10.0.0.1", 5, 6, new.encode())
        db.update_node(nid, "10.0.0.1", 5, 6)  # None keeps the record
        assert db.node(nid, "10.0.0.1")[4] == new.encode()
        assert db.last_pong(nid, "10.0.0.1") == NOW


@pytest.mark.parametrize("args", [
    (b"short", "1.2.3.4", 1, 1),
    (bytes(64), "1.2.3.x", 1, 1),
    (bytes(64), "1.2.3.4", 65536, 1),
    (bytes(64), "1.2.3.4", 1, -1),
    (bytes(64), "1.2.3.4", True, 1),
])
def test_update_node_bad_values(path, args):
    with NodeDB(path) as db, pytest.raises(ValueError):
        db.update_node(*args)


def test_update_node_bad_or_foreign_enr(path):
    key = generate_private_key()
    rec = build(key, 1, ip="10.0.0.1", udp=1)
    with NodeDB(path) as db:
        with pytest.raises(ValueError):
            db.update_node(rid(), "10.0.0.1", 1, 1, rec.encode())  # another node's record
        with pytest.raises(ValueError):
            db.update_node(node_id_from_private_key(key), "10.0.0.1", 1, 1, rec.encode()[:-1])


def test_bad_setter_values(path):
    with NodeDB(path) as db:
        a = rid()
        for call in (lambda: db.set_last_pong(a, "bad", NOW), lambda: db.set_last_ping(a, "1.1.1.1", -1),
                     lambda: db.set_last_pong(a, "1.1.1.1", float("nan")), lambda: db.set_findfails(a, "1.1.1.1", -1),
                     lambda: db.set_local_seq(-1), lambda: db.set_local_seq(2**63)):
            with pytest.raises(ValueError):
                call()


def test_seeds_filter_by_age(path):
    with NodeDB(path) as db:
        fresh = [rid() for _ in range(5)]
        for i, nid in enumerate(fresh):
            db.update_node(nid, f"10.0.1.{i}", 30303, 30303)
            db.set_last_pong(nid, f"10.0.1.{i}", NOW - i * DAY)  # 0..4 days old
        stale = rid()
        db.update_node(stale, "10.0.2.1", 30303, 30303)
        db.set_last_pong(stale, "10.0.2.1", NOW - N.SEED_MAX_AGE_S - 1)
        never = rid()
        db.update_node(never, "10.0.2.2", 30303, 30303)
        no_udp = rid()
        db.set_last_pong(no_udp, "10.0.2.3", NOW)  # no endpoint stored
        got = db.seeds(N.SEED_COUNT, N.SEED_MAX_AGE_S, NOW)
        assert sorted(s[0] for s in got) == sorted(fresh)
        assert all(s[2] == 30303 and s[4] is None for s in got)
        assert len(db.seeds(2, N.SEED_MAX_AGE_S, NOW)) == 2
        assert db.seeds(0, N.SEED_MAX_AGE_S, NOW) == []
        assert sorted(s[0] for s in db.seeds(10, 1.5 * DAY, NOW)) == sorted(fresh[:2])


def test_seeds_give_a_node_once_at_its_latest_ip(path):
    with NodeDB(path) as db:
        a = rid()
        db.update_node(a, "10.0.0.1", 1, 1)
        db.update_node(a, "10.0.0.2", 2, 2)
        db.set_last_pong(a, "10.0.0.1", NOW - 100)
        db.set_last_pong(a, "10.0.0.2", NOW - 10)
        assert db.seeds(10, DAY, NOW) == [(a, "10.0.0.2", 2, 2, None)]


def test_expire(path):
    with NodeDB(path) as db:
        old, young, pinging, idle = rid(), rid(), rid(), rid()
        db.update_node(old, "10.0.0.1", 1, 1)
        db.set_last_pong(old, "10.0.0.1", NOW - DAY - 1)
        db.set_last_pong(old, "10.0.0.9", NOW - 60)  # the same node at another IP, fresh
        db.set_last_pong(young, "10.0.0.2", NOW - DAY + 60)
        db.set_last_ping(pinging, "10.0.0.3", NOW - 60)  # bond under way: kept
        db.update_node(idle, "10.0.0.4", 1, 1)  # never heard from: dropped
        assert db.expire(NOW) == 2
        assert db.last_pong(old, "10.0.0.1") == 0.0 and db.node(old, "10.0.0.1") is None
        assert db.last_pong(old, "10.0.0.9") == NOW - 60
        assert db.last_pong(young, "10.0.0.2") == NOW - DAY + 60
        assert db.last_ping(pinging, "10.0.0.3") == NOW - 60
        assert db.node(idle, "10.0.0.4") is None
        assert db.expire(NOW + 2 * DAY) == 3 and db.count() == 0


def test_corrupt_file_is_moved_aside_and_recreated(path, tmp_path):
    with NodeDB(path) as db:
        db.set_local_seq(9)
    with open(path, "r+b") as f:  # overwrite the SQLite header and first page
        f.write(b"this is not a database" * 200)
    db = NodeDB(path)
    try:
        assert db.reset_reason and "corrupt" in db.reset_reason
        assert db.moved_to == path + ".bad"
        assert open(path + ".bad", "rb").read(22) == b"this is not a database"
        assert db.local_seq() == 0 and db.count() == 0
        db.set_local_seq(10)
    finally:
        db.close()
    with NodeDB(path) as db:
        assert db.reset_reason is None and db.local_seq() == 10


def test_damaged_pages_are_found(path):
    with NodeDB(path) as db:
        for i in range(2000):
            db.update_node(rid(), f"10.{i // 256}.{i % 256}.1", 1, 1)
    with open(path, "r+b") as f:  # header intact, some b-tree pages garbage
        f.seek(4096 * 5)
        f.write(random.Random(1).randbytes(4096 * 3))
    with NodeDB(path) as db:
        assert db.reset_reason is not None and db.moved_to == path + ".bad" and db.count() == 0


def test_garbage_file_and_foreign_database(tmp_path):
    p = tmp_path / "garbage.sqlite"
    p.write_bytes(b"\x00\xff" * 10)
    with NodeDB(str(p)) as db:
        assert db.reset_reason is not None and db.count() == 0
    q = tmp_path / "foreign.sqlite"
    conn = sqlite3.connect(q)
    conn.execute("CREATE TABLE other (x)")
    conn.commit()
    conn.close()
    with NodeDB(str(q)) as db:
        assert "schema version 0" in db.reset_reason and db.count() == 0


def test_other_schema_version_is_recreated(path):
    with NodeDB(path) as db:
        db.set_local_seq(5)
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version = {N.SCHEMA_VERSION + 1}")
    conn.close()
    with NodeDB(path) as db:
        assert db.reset_reason == f"schema version {N.SCHEMA_VERSION + 1}, not {N.SCHEMA_VERSION}"
        assert db.local_seq() == 0


def test_same_version_but_wrong_tables_is_recreated(path):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE nodes (x)")
    conn.execute(f"PRAGMA user_version = {N.SCHEMA_VERSION}")
    conn.commit()
    conn.close()
    with NodeDB(path) as db:
        assert "corrupt or not a node database" in db.reset_reason
        db.set_local_seq(1)


def test_second_connection_sees_writes(path):
    """One owner writes; another connection (a restarted owner, a tool) reads meanwhile, in WAL mode."""
    a = rid()
    owner = NodeDB(path)
    other = NodeDB(path)
    try:
        owner.set_last_pong(a, "10.0.0.1", NOW)
        assert other.last_pong(a, "10.0.0.1") == NOW
        other.set_findfails(a, "10.0.0.1", 3)
        assert owner.findfails(a, "10.0.0.1") == 3
    finally:
        owner.close()
        other.close()


def test_in_memory_and_close_twice():
    db = NodeDB("")
    db.set_local_seq(3)
    assert db.local_seq() == 3
    db.close()
    db.close()
    with pytest.raises(sqlite3.ProgrammingError):
        db.local_seq()
