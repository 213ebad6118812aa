"""The discovery node database: what we know of nodes met over discv4, kept across restarts, in
SQLite (WAL mode), as go-ethereum keeps it in LevelDB (p2p/enode/nodedb.go).

Per node id and IP address (go-ethereum keys every item ``n:<ID>:v4:<IP>:<field>``, the IP as
16 bytes, so an IPv4 address and its IPv4-mapped IPv6 form are one key; here the IP is
normalised to the same effect): the node's UDP and TCP ports, its ENR (raw RLP bytes, optional,
with its seq), the time of the last ping received (``lastping``), of the last pong received
(``lastpong``, the bond time that v4_udp.go ``checkBond`` compares with ``bondExpiration``),
and the findnode failures since bonding (``findfail``, table.go).  And our own record's seq
(``local:<ID>:seq``, p2p/enode/localnode.go), so a restarted node signs its record with a seq
above every earlier one.

Times are unix seconds (float), always passed in: the database has no clock.  0.0 means
"never" (go-ethereum reads a missing time as the unix epoch).

One owner: a single Discovery actor opens the file, uses it from its one thread and closes it
(sqlite3's ``check_same_thread`` enforces the thread).  Each setter is one statement in
autocommit, so it is durable on return.  WAL mode and a busy timeout make a second connection
to the same file (a restarted actor while its predecessor is still closing, a test, a
read-only tool) safe: readers see every committed write and do not block the writer; two
writers wait for each other up to :data:`BUSY_TIMEOUT_S`.  It is not meant for more than that.

Needs SQLite 3.25 or later (upserts, window functions); Python 3.11's builds have it.
"""

from __future__ import annotations

import ipaddress
import os
import sqlite3

from discovery.enr import decode as decode_enr
from rlpx.keys import NODE_ID_SIZE

SCHEMA_VERSION = 1
"""Kept in SQLite's ``user_version``.  As go-ethereum ``newPersistentDB`` flushes a database
whose ``version`` key differs from ``dbVersion`` (9 there; its own number, not this one), a
file with another version is moved aside and a new one made."""

DB_NODE_EXPIRATION_S = 24 * 3600.0
"""Seconds after which a node not heard from is dropped: go-ethereum nodedb.go
``dbNodeExpiration`` (24 h)."""

DB_CLEANUP_CYCLE_S = 3600.0
"""How often the owner should call :meth:`NodeDB.expire`: go-ethereum nodedb.go
``dbCleanupCycle`` (1 h).  go-ethereum starts that cycle only once the table has read a bond
(``ensureExpirer`` in ``LastPongReceived``), so that stored seeds are not dropped before the
node has bootstrapped; the owner should do likewise."""

SEED_COUNT = 30
"""How many seeds the table asks for: go-ethereum p2p/discover/table.go ``seedCount``."""

SEED_MAX_AGE_S = 5 * 24 * 3600.0
"""Oldest bond a seed may have, seconds: go-ethereum table.go ``seedMaxAge`` (5 days)."""

BUSY_TIMEOUT_S = 5.0
"""How long a statement waits for another connection's write lock, seconds (SQLite's
``busy_timeout``)."""

_SCHEMA = """
CREATE TABLE nodes (
    node_id   BLOB    NOT NULL,
    ip        TEXT    NOT NULL,
    udp       INTEGER NOT NULL DEFAULT 0,
    tcp       INTEGER NOT NULL DEFAULT 0,
    enr       BLOB,
    enr_seq   INTEGER NOT NULL DEFAULT 0,
    last_ping REAL    NOT NULL DEFAULT 0,
    last_pong REAL    NOT NULL DEFAULT 0,
    findfails INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (node_id, ip)
) WITHOUT ROWID;
CREATE INDEX nodes_last_pong ON nodes (last_pong);
CREATE TABLE local (
    key   TEXT PRIMARY KEY,
    value INTEGER NOT NULL
);
"""
_CHECK = "SELECT node_id, ip, udp, tcp, enr, enr_seq, last_ping, last_pong, findfails FROM nodes LIMIT 0"
_CHECK_LOCAL = "SELECT key, value FROM local LIMIT 0"


def normalise_ip(ip: str) -> str:
    """``ip`` as the database keys it: the compressed text form, an IPv4-mapped IPv6 address as
    its IPv4 address (go-ethereum nodedb.go keys by ``ip.As16()``, which makes the two one).
    Raises ValueError for anything that is not an IP address (go-ethereum ``errInvalidIP``)."""
    if not isinstance(ip, str):
        raise ValueError(f"invalid IP {ip!r}: not a string")
    try:
        addr = ipaddress.ip_address(ip)
    except ValueError:
        raise ValueError(f"invalid IP {ip[:60]!r}") from None
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        addr = addr.ipv4_mapped
    return str(addr)


def _ip_or_none(ip) -> str | None:
    try:
        return normalise_ip(ip)
    except ValueError:
        return None


def _check_id(node_id) -> bytes:
    if not isinstance(node_id, (bytes, bytearray)) or len(node_id) != NODE_ID_SIZE:
        raise ValueError(f"node id must be {NODE_ID_SIZE} bytes")
    return bytes(node_id)


def _check_port(value, what: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= 65535:
        raise ValueError(f"{what} port must be an integer 0-65535, got {value!r}")
    return value


def _check_time(value, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0 or value == float("inf"):
        raise ValueError(f"{what} must be unix seconds >= 0, got {value!r}")
    return float(value)


class NodeDB:
    """The node database in the SQLite file ``path`` (created with its directory if missing;
    ``""`` or ``":memory:"``: in memory, gone on close, as go-ethereum ``OpenDB("")``).

    A file that is not a usable database of this schema is never an error: it is renamed to
    ``<path>.bad`` (an earlier ``.bad`` is replaced; its ``-wal``/``-shm`` files go with it)
    and an empty database is made in its place.  This covers a corrupt or foreign file (not
    SQLite, ``PRAGMA quick_check`` failing, the tables missing or of another shape) and
    another :data:`SCHEMA_VERSION` (go-ethereum ``newPersistentDB`` deletes a database of
    another version and makes a new one).  Nothing is logged: :attr:`reset_reason` says why
    (None when the file was used as it was) and :attr:`moved_to` where the old file went.

    Raises OSError or sqlite3.Error only when the file cannot be made at all (a directory in
    the way, no permission, a full disk).
    """

    def __init__(self, path: str):
        self.path = path
        self.reset_reason: str | None = None
        self.moved_to: str | None = None
        memory = path in ("", ":memory:")
        if not memory:
            parent = os.path.dirname(os.path.abspath(path))
            os.makedirs(parent, exist_ok=True)
        self._conn = self._open(":memory:" if memory else path)
        problem = self._problem()
        if problem is not None and not memory:
            self._conn.close()
            self.reset_reason = problem
            self.moved_to = self._move_aside(path)
            self._conn = self._open(path)
            problem = self._problem()
        if problem is not None:  # a brand new file that is still not right: a real failure
            raise sqlite3.DatabaseError(f"node database {path}: {problem}")

    # ----------------------------------------------------------------- opening

    @staticmethod
    def _open(path: str) -> sqlite3.Connection:
        conn = sqlite3.connect(path, timeout=BUSY_TIMEOUT_S, isolation_level=None)
        return conn

    def _problem(self) -> str | None:
        """Set the file up (WAL, the schema when it is empty); what is wrong with it, or None."""
        c = self._conn
        try:
            c.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
            check = c.execute("PRAGMA quick_check").fetchone()
            if not check or check[0] != "ok":
                return f"corrupt: quick_check says {check[0] if check else 'nothing'!r}"
            version = c.execute("PRAGMA user_version").fetchone()[0]
            tables = c.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
            if version == 0 and tables == 0:
                c.execute("PRAGMA journal_mode = WAL")
                c.executescript("BEGIN;" + _SCHEMA + f"PRAGMA user_version = {SCHEMA_VERSION}; COMMIT;")
            elif version != SCHEMA_VERSION:
                return f"schema version {version}, not {SCHEMA_VERSION}"
            c.execute(_CHECK)
            c.execute(_CHECK_LOCAL)
            mode = c.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            if mode.lower() not in ("wal", "memory"):
                return f"cannot use WAL mode (journal_mode {mode})"
            c.execute("PRAGMA synchronous = NORMAL")  # durable in WAL at each checkpoint; never corrupt
        except sqlite3.DatabaseError as exc:
            return f"corrupt or not a node database: {exc}"
        return None

    @staticmethod
    def _move_aside(path: str) -> str:
        bad = path + ".bad"
        for suffix in ("", "-wal", "-shm"):
            old = path + suffix
            if os.path.lexists(old):
                os.replace(old, bad + suffix)
            elif os.path.lexists(bad + suffix):
                os.remove(bad + suffix)  # a stale companion of an earlier .bad
        return bad

    def close(self) -> None:
        """Close the file (checkpointing the WAL); calling it again does nothing.  After it,
        every other method raises sqlite3.ProgrammingError."""
        self._conn.close()

    def __enter__(self) -> "NodeDB":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # ----------------------------------------------------------------- nodes

    def update_node(self, node_id: bytes, ip: str, udp: int, tcp: int, enr_bytes: bytes | None = None) -> None:
        """Insert or update the node ``node_id`` (64 bytes) at ``ip`` with its UDP and TCP ports
        (0-65535) and, optionally, its ENR (RLP bytes, EIP-778).  Its times and findnode failures
        are kept.

        ``enr_bytes`` None keeps the stored ENR.  A record with a lower seq than the stored one
        is ignored (go-ethereum nodedb.go ``UpdateNode`` refuses ``node.Seq() < NodeSeq``);
        the ports are updated all the same.  Raises ValueError for a bad id, IP or port, or a
        record that does not decode and verify (discovery.enr.decode) or is another node's.
        """
        node_id, ip = _check_id(node_id), normalise_ip(ip)
        udp, tcp = _check_port(udp, "UDP"), _check_port(tcp, "TCP")
        seq = 0
        if enr_bytes is not None:
            record = decode_enr(bytes(enr_bytes))  # RecordError is a ValueError
            if record.node_id != node_id:
                raise ValueError("the ENR is signed by another node id")
            enr_bytes, seq = record.raw, record.seq
        self._conn.execute(
            "INSERT INTO nodes (node_id, ip, udp, tcp, enr, enr_seq) VALUES (?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (node_id, ip) DO UPDATE SET udp = excluded.udp, tcp = excluded.tcp, "
            "enr = CASE WHEN excluded.enr IS NOT NULL AND (nodes.enr IS NULL OR excluded.enr_seq >= nodes.enr_seq) "
            "THEN excluded.enr ELSE nodes.enr END, "
            "enr_seq = CASE WHEN excluded.enr IS NOT NULL AND (nodes.enr IS NULL OR excluded.enr_seq >= nodes.enr_seq) "
            "THEN excluded.enr_seq ELSE nodes.enr_seq END",
            (node_id, ip, udp, tcp, enr_bytes, min(seq, 2**63 - 1)))  # SQLite integers are signed 64-bit

    def node(self, node_id: bytes, ip: str) -> tuple[bytes, str, int, int, bytes | None] | None:
        """``(node_id, ip, udp, tcp, enr_bytes)`` of the stored node, or None (also for an
        invalid IP, as go-ethereum's getters answer zero values for one)."""
        ip = _ip_or_none(ip)
        if ip is None:
            return None
        row = self._conn.execute("SELECT node_id, ip, udp, tcp, enr FROM nodes WHERE node_id = ? AND ip = ?",
                                 (_check_id(node_id), ip)).fetchone()
        return None if row is None else (bytes(row[0]), row[1], row[2], row[3],
                                         None if row[4] is None else bytes(row[4]))

    def delete_node(self, node_id: bytes) -> None:
        """Forget everything about ``node_id``, at every IP (go-ethereum ``DeleteNode``)."""
        self._conn.execute("DELETE FROM nodes WHERE node_id = ?", (_check_id(node_id),))

    def _get(self, column: str, node_id: bytes, ip: str, zero):
        ip = _ip_or_none(ip)
        if ip is None:
            return zero
        row = self._conn.execute(f"SELECT {column} FROM nodes WHERE node_id = ? AND ip = ?",
                                 (_check_id(node_id), ip)).fetchone()
        return zero if row is None else row[0]

    def _set(self, column: str, node_id: bytes, ip: str, value) -> None:
        node_id, ip = _check_id(node_id), normalise_ip(ip)
        self._conn.execute(f"INSERT INTO nodes (node_id, ip, {column}) VALUES (?, ?, ?) "
                           f"ON CONFLICT (node_id, ip) DO UPDATE SET {column} = excluded.{column}",
                           (node_id, ip, value))

    def last_ping(self, node_id: bytes, ip: str) -> float:
        """Unix seconds of the last ping received from the node at ``ip``; 0.0 when none or
        the IP is invalid (go-ethereum ``LastPingReceived``)."""
        return float(self._get("last_ping", node_id, ip, 0.0))

    def set_last_ping(self, node_id: bytes, ip: str, when: float) -> None:
        """Record a ping received at ``when`` (unix seconds) (go-ethereum
        ``UpdateLastPingReceived``).  A node not stored yet is stored with ports 0.  Raises
        ValueError for a bad id, IP (go-ethereum ``errInvalidIP``) or time."""
        self._set("last_ping", node_id, ip, _check_time(when, "last ping"))

    def last_pong(self, node_id: bytes, ip: str) -> float:
        """Unix seconds of the last pong received from the node at ``ip``, the bond time; 0.0
        when none or the IP is invalid (go-ethereum ``LastPongReceived``)."""
        return float(self._get("last_pong", node_id, ip, 0.0))

    def set_last_pong(self, node_id: bytes, ip: str, when: float) -> None:
        """Record a pong received at ``when`` (unix seconds) (go-ethereum
        ``UpdateLastPongReceived``, v4_udp.go ``handlePong``); as :meth:`set_last_ping`."""
        self._set("last_pong", node_id, ip, _check_time(when, "last pong"))

    def findfails(self, node_id: bytes, ip: str) -> int:
        """Findnode failures since bonding with the node at ``ip``; 0 when none or the IP is
        invalid (go-ethereum ``FindFails``)."""
        return int(self._get("findfails", node_id, ip, 0))

    def set_findfails(self, node_id: bytes, ip: str, fails: int) -> None:
        """Store the findnode failure count (an int >= 0) (go-ethereum ``UpdateFindFails``;
        table.go resets it to 0 on a good answer).  Raises ValueError as :meth:`set_last_ping`."""
        if not isinstance(fails, int) or isinstance(fails, bool) or not 0 <= fails <= 2**63 - 1:
            raise ValueError(f"findfails must be an integer >= 0, got {fails!r}")
        self._set("findfails", node_id, ip, fails)

    def seeds(self, n: int, max_age_s: float, now: float) -> list[tuple[bytes, str, int, int, bytes | None]]:
        """At most ``n`` random distinct nodes, each ``(node_id, ip, udp, tcp, enr_bytes)``,
        whose last pong is at most ``max_age_s`` seconds before ``now`` (unix seconds): go-ethereum
        nodedb.go ``QuerySeeds``, called by table.go with :data:`SEED_COUNT` and
        :data:`SEED_MAX_AGE_S`.  A node stored at several IPs is given once, at the IP of its
        latest pong.  Nodes without a UDP port (never passed to :meth:`update_node`) cannot be
        contacted and are left out."""
        if n <= 0:
            return []
        threshold = float(now) - float(max_age_s)
        rows = self._conn.execute(
            "SELECT node_id, ip, udp, tcp, enr FROM ("
            "  SELECT node_id, ip, udp, tcp, enr, "
            "         row_number() OVER (PARTITION BY node_id ORDER BY last_pong DESC) AS r "
            "  FROM nodes WHERE last_pong > 0 AND last_pong >= ? AND udp > 0"
            ") WHERE r = 1 ORDER BY random() LIMIT ?", (threshold, int(n))).fetchall()
        return [(bytes(a), ip, udp, tcp, None if e is None else bytes(e)) for a, ip, udp, tcp, e in rows]

    def expire(self, now: float) -> int:
        """Drop what has not been heard from for :data:`DB_NODE_EXPIRATION_S` before ``now``
        (unix seconds); returns the number of (node, IP) entries deleted.

        go-ethereum nodedb.go ``expireNodes`` deletes an IP's items when its last pong is older
        than the threshold.  It keeps items that have no pong at all, forever; here such an
        entry (a node seen, not yet bonded) is kept only while its last ping is within the
        threshold, so a bond under way is not lost and nothing stays for good.
        """
        threshold = float(now) - DB_NODE_EXPIRATION_S
        cur = self._conn.execute(
            "DELETE FROM nodes WHERE (last_pong > 0 AND last_pong < ?) OR (last_pong = 0 AND last_ping < ?)",
            (threshold, threshold))
        return cur.rowcount

    def count(self) -> int:
        """The number of (node, IP) entries stored."""
        return self._conn.execute("SELECT count(*) FROM nodes").fetchone()[0]

    # ----------------------------------------------------------------- local record

    def local_seq(self, now: float | None = None) -> int:
        """The stored seq of our own record.  With none stored: ``int(now * 1000)`` when ``now``
        (unix seconds) is given, as go-ethereum nodedb.go ``localSeq`` starts from the time in
        milliseconds (so a node whose database was wiped still signs above its old seqs), else 0.
        """
        row = self._conn.execute("SELECT value FROM local WHERE key = 'seq'").fetchone()
        if row is not None and row[0] > 0:
            return int(row[0])
        return int(_check_time(now, "now") * 1000) if now is not None else 0

    def set_local_seq(self, seq: int) -> None:
        """Store our record's seq (0 .. 2**63-1; go-ethereum ``storeLocalSeq``, called each time
        localnode.go signs a new record).  Raises ValueError for anything else."""
        if not isinstance(seq, int) or isinstance(seq, bool) or not 0 <= seq <= 2**63 - 1:
            raise ValueError(f"local seq must be an integer 0 .. 2**63-1, got {seq!r}")
        self._conn.execute("INSERT INTO local (key, value) VALUES ('seq', ?) "
                           "ON CONFLICT (key) DO UPDATE SET value = excluded.value", (seq,))
