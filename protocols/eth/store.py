"""A chain kept in SQLite: imported once from an RLP chain file, then read by the eth protocols.

The chain file is what ``geth export`` writes and go-ethereum's ethtest ``chain.rlp`` is: RLP
blocks ``[header, transactions, uncles, withdrawals?, ...]`` end to end (go-ethereum
core/types/block.go ``extblock``), starting at block 0 or 1.  :func:`ensure_imported` imports it
into the database ``db`` (by default ``<chain_file>.sqlite``, see
:func:`default_db_path`) unless ``db`` already holds a complete import of that same file (same
absolute path, size and modification time), so a restart reuses it.  The import:

* splits each block without re-encoding: the header is kept as its raw RLP, the body as the
  RLP list of the block's remaining items (go-ethereum ``Body``: transactions, uncles,
  withdrawals; anything later is kept as it came);
* puts first, when the file starts at block 1 and a genesis file is given, block 0 built
  from it (:mod:`protocols.eth.genesis`), which must hash to block 1's parent;
* hashes each header, keccak256 of its RLP (go-ethereum ``Header.Hash``);
* checks that numbers run on by one and that each block's parent hash (header field 0) is the
  hash of the block before; the first block is 0 or 1;
* builds into ``<db>.import-<pid>`` and renames it over ``db`` only once complete, so a
  crash never leaves a half-built database in place.

Any problem is one :class:`ChainStoreError` naming the file and the block.

Tables (WAL journal mode): ``headers(hash, number, rlp)``, ``bodies(hash, rlp)``,
``canonical(number, hash)`` (every imported block is canonical) and ``meta(key, value)``.
:class:`ChainStore` opens the database read-only (SQLite ``mode=ro``), as the eth Protocol
actors do.  Block numbers must stay below 2**63 (SQLite's INTEGER); a larger one asked for
is simply absent.
"""

from __future__ import annotations

import os
import sqlite3
from dataclasses import dataclass
from pathlib import Path

import rlp
from rlp.codec import consume_length_prefix

from rlpx.keys import keccak256

from .chains import ChainError, _read_item
from .genesis import genesis_block
from .messages import rlp_list

FORMAT = "2"
"""Version of the table layout; a database of another layout is imported anew."""

BATCH_BLOCKS = 2000
"""Blocks inserted per transaction during the import."""

MAX_SQL_INT = 2 ** 63 - 1
"""Largest SQLite INTEGER."""


class ChainStoreError(ChainError):
    """The chain file cannot be imported, or the database cannot be written or read."""


def default_db_path(chain_file: str) -> str:
    """The database beside the chain file: ``<chain_file>.sqlite``."""
    return chain_file + ".sqlite"


def split_list(data: bytes) -> list[bytes]:
    """The raw RLP items of the RLP list ``data`` (bytes), not re-encoded.  Raises
    rlp.DecodingError (or ValueError) if ``data`` is not exactly one list."""
    prefix, typ, length, start = consume_length_prefix(data, 0)
    if typ is not list or start + length != len(data):
        raise ValueError("not one RLP list")
    items, pos, end = [], start, start + length
    while pos < end:
        _, _, ilen, istart = consume_length_prefix(data, pos)
        if istart + ilen > end:
            raise ValueError("item runs past its list")
        items.append(data[pos:istart + ilen])
        pos = istart + ilen
    return items


@dataclass(frozen=True)
class Block:
    """One block of a chain file: ``number``, ``hash`` and ``parent`` (32 bytes each), ``time``
    (unix seconds), ``difficulty``, and the raw RLP of its ``header`` and ``body``."""

    number: int
    hash: bytes
    parent: bytes
    time: int
    difficulty: int
    header: bytes
    body: bytes


def _uint(b: bytes, what: str) -> int:
    if not isinstance(b, bytes) or len(b) > 32 or b[:1] == b"\x00":
        raise ValueError(f"{what} is not a canonical integer")
    return int.from_bytes(b, "big")


def parse_block(item: bytes) -> Block:
    """A :class:`Block` from one block's RLP ``item``.  The header must be a list of at least
    the 15 pre-London fields (go-ethereum ``Header``: parentHash 0, difficulty 7, number 8,
    time 11), the transactions and uncles lists.  Raises ValueError or rlp.DecodingError."""
    items = split_list(item)
    if len(items) < 3:
        raise ValueError(f"a block has at least 3 items, this one {len(items)}")
    header = items[0]
    fields = rlp.decode(header, strict=True)
    if not isinstance(fields, list) or len(fields) < 15:
        raise ValueError("the header is not a list of at least 15 fields")
    for name, raw in (("transactions", items[1]), ("uncles", items[2])):
        if raw[0] < 0xC0:
            raise ValueError(f"{name} is not a list")
    parent = fields[0]
    if not isinstance(parent, bytes) or len(parent) != 32:
        raise ValueError("the parent hash is not 32 bytes")
    number = _uint(fields[8], "the number")
    if number > MAX_SQL_INT:
        raise ValueError(f"block number {number} is beyond 2**63-1")
    rest = b"".join(items[1:])
    return Block(number, keccak256(header), parent, _uint(fields[11], "the time"),
                 _uint(fields[7], "the difficulty"), header, rlp_list(rest))


def iter_blocks(path: str):
    """The :class:`Block` s of chain file ``path``, checked for numbers and parent hashes (see
    the module docstring).  Raises :class:`ChainStoreError`."""
    prev = None
    try:
        with open(path, "rb") as f:
            index = 0
            while True:
                item = _read_item(f, path, index)
                if item is None:
                    break
                try:
                    block = parse_block(item)
                except (rlp.DecodingError, ValueError, IndexError, RecursionError) as exc:
                    raise ChainStoreError(f"chain file {path}: item {index} is not a block ({exc})") from None
                if prev is None:
                    if block.number > 1:
                        raise ChainStoreError(f"chain file {path} must start with block 0 or 1, found block "
                                              f"{block.number}")
                else:
                    if block.number != prev.number + 1:
                        raise ChainStoreError(f"chain file {path}: block {block.number} follows block "
                                              f"{prev.number}")
                    if block.parent != prev.hash:
                        raise ChainStoreError(f"chain file {path}: block {block.number}'s parent hash "
                                              f"{block.parent.hex()} is not block {prev.number}'s hash "
                                              f"{prev.hash.hex()}")
                yield block
                prev = block
                index += 1
    except ChainError as exc:
        if isinstance(exc, ChainStoreError):
            raise
        raise ChainStoreError(str(exc)) from None
    except OSError as exc:
        raise ChainStoreError(f"cannot read chain file {path}: {exc.strerror or exc}") from None
    if prev is None:
        raise ChainStoreError(f"chain file {path} holds no blocks")


def _source_id(chain_file: str, genesis_file: str | None = None) -> dict[str, str]:
    st = os.stat(chain_file)
    out = {"source": os.path.abspath(chain_file), "size": str(st.st_size), "mtime_ns": str(st.st_mtime_ns),
           "format": FORMAT}
    if genesis_file:
        gst = os.stat(genesis_file)
        out["genesis_source"] = f"{os.path.abspath(genesis_file)}:{gst.st_size}:{gst.st_mtime_ns}"
    return out


def _with_genesis(blocks, genesis_file: str | None, chain_file: str):
    """``blocks``, preceded by the genesis block built from ``genesis_file`` when the chain
    file starts at block 1; its hash must be block 1's parent hash."""
    first = True
    for block in blocks:
        if first and block.number == 1 and genesis_file:
            try:
                header, body = genesis_block(genesis_file)
                genesis = parse_block(rlp_list(header + b"".join(split_list(body))))
            except (ChainError, ValueError, rlp.DecodingError) as exc:
                raise ChainStoreError(f"genesis: {exc}") from None
            if genesis.hash != block.parent:
                raise ChainStoreError(f"genesis: {genesis_file} builds genesis block {genesis.hash.hex()}, but block 1 "
                                      f"of chain file {chain_file} names parent {block.parent.hex()}")
            yield genesis
        first = False
        yield block


_SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE headers (hash BLOB PRIMARY KEY, number INTEGER NOT NULL, rlp BLOB NOT NULL) WITHOUT ROWID;
CREATE TABLE bodies (hash BLOB PRIMARY KEY, rlp BLOB NOT NULL) WITHOUT ROWID;
CREATE TABLE canonical (number INTEGER PRIMARY KEY, hash BLOB NOT NULL);
"""


def _read_meta(db: str) -> dict[str, str] | None:
    if not os.path.exists(db):
        return None
    try:
        con = sqlite3.connect(Path(db).absolute().as_uri() + "?mode=ro", uri=True)
        try:
            return dict(con.execute("SELECT key, value FROM meta"))
        finally:
            con.close()
    except sqlite3.Error:
        return None


def import_chain(chain_file: str, db: str, genesis_td: int = 0, genesis_file: str | None = None) -> dict[str, str]:
    """Import ``chain_file`` into a new database at ``db`` (replacing one there), adding the
    head's total difficulty to ``genesis_td`` (eth/68's Status td).  A chain file that starts
    at block 1 gets block 0 built from ``genesis_file`` (go-ethereum genesis.json,
    :func:`protocols.eth.genesis.genesis_block`), which must hash to block 1's parent.
    Returns the meta table.  Raises :class:`ChainStoreError` (a genesis problem's message
    starts with "genesis:")."""
    try:
        source = _source_id(chain_file, genesis_file)
    except OSError as exc:
        raise ChainStoreError(f"cannot read chain file {chain_file}: {exc.strerror or exc}") from None
    tmp = f"{db}.import-{os.getpid()}"
    for p in (tmp, tmp + "-wal", tmp + "-shm"):
        if os.path.exists(p):
            os.unlink(p)
    try:
        con = sqlite3.connect(tmp, isolation_level=None)
    except sqlite3.Error as exc:
        raise ChainStoreError(f"cannot create the chain database {db}: {exc}") from None
    done = False
    try:
        con.execute("PRAGMA journal_mode=WAL")
        con.executescript(_SCHEMA)
        td, first, last, batch = genesis_td, None, None, []

        def flush():
            con.execute("BEGIN")
            con.executemany("INSERT INTO headers VALUES (?, ?, ?)", [(b.hash, b.number, b.header) for b in batch])
            con.executemany("INSERT INTO bodies VALUES (?, ?)", [(b.hash, b.body) for b in batch])
            con.executemany("INSERT INTO canonical VALUES (?, ?)", [(b.number, b.hash) for b in batch])
            con.execute("COMMIT")
            batch.clear()

        for block in _with_genesis(iter_blocks(chain_file), genesis_file, chain_file):
            if first is None:
                first = block
            if block.number:
                td += block.difficulty
            last = block
            batch.append(block)
            if len(batch) >= BATCH_BLOCKS:
                flush()
        flush()
        genesis = first.hash if first.number == 0 else first.parent
        meta = {**source, "first": str(first.number), "head": str(last.number), "head_hash": last.hash.hex(),
                "head_time": str(last.time), "head_td": str(td), "genesis_hash": genesis.hex(), "complete": "1"}
        con.execute("BEGIN")
        con.executemany("INSERT INTO meta VALUES (?, ?)", sorted(meta.items()))
        con.execute("COMMIT")
        con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        con.close()
        for p in (db + "-wal", db + "-shm"):  # a stale WAL must not be applied to the new file
            if os.path.exists(p):
                os.unlink(p)
        os.replace(tmp, db)
        done = True
        return meta
    except sqlite3.Error as exc:
        raise ChainStoreError(f"cannot write the chain database {db}: {exc}") from None
    except OSError as exc:
        raise ChainStoreError(f"cannot write the chain database {db}: {exc.strerror or exc}") from None
    finally:
        if not done:
            con.close()
            for p in (tmp, tmp + "-wal", tmp + "-shm"):
                if os.path.exists(p):
                    os.unlink(p)


def ensure_imported(chain_file: str, db: str, genesis_td: int = 0, genesis_file: str | None = None) -> dict[str, str]:
    """The meta table of ``db`` if it is a complete import of ``chain_file`` (and
    ``genesis_file``) as they are now (absolute path, size, modification time, layout), else of
    a fresh :func:`import_chain`.  Raises :class:`ChainStoreError`."""
    meta = _read_meta(db)
    try:
        source = _source_id(chain_file, genesis_file)
    except OSError as exc:
        raise ChainStoreError(f"cannot read chain file {chain_file}: {exc.strerror or exc}") from None
    if meta and meta.get("complete") == "1" and all(meta.get(k) == v for k, v in source.items()):
        return meta
    return import_chain(chain_file, db, genesis_td, genesis_file)


@dataclass(frozen=True)
class Head:
    """The chain's head: ``number``, ``hash`` (32 bytes), ``time`` (unix seconds), ``td`` (total
    difficulty), and ``first`` (the lowest stored block number)."""

    number: int
    hash: bytes
    time: int
    td: int
    first: int


class ChainStore:
    """A read-only view of an imported chain database (``path``).  Raises
    :class:`ChainStoreError` if it cannot be opened or is no complete import."""

    def __init__(self, path: str):
        try:
            self.con = sqlite3.connect(Path(path).absolute().as_uri() + "?mode=ro", uri=True,
                                       check_same_thread=False)
            meta = dict(self.con.execute("SELECT key, value FROM meta"))
        except sqlite3.Error as exc:
            raise ChainStoreError(f"cannot open the chain database {path}: {exc}") from None
        if meta.get("complete") != "1":
            raise ChainStoreError(f"chain database {path} is not a complete import")
        self.meta = meta
        self.head = Head(int(meta["head"]), bytes.fromhex(meta["head_hash"]), int(meta["head_time"]),
                         int(meta["head_td"]), int(meta["first"]))

    def close(self) -> None:
        """Close the database."""
        self.con.close()

    def header_by_number(self, number: int) -> bytes | None:
        """The canonical header RLP of block ``number``, or None."""
        if not 0 <= number <= self.head.number:
            return None
        row = self.con.execute("SELECT h.rlp FROM canonical c JOIN headers h ON h.hash = c.hash WHERE c.number = ?",
                               (number,)).fetchone()
        return row[0] if row else None

    def headers_between(self, low: int, high: int) -> list[bytes]:
        """The canonical header RLPs of blocks ``low``..``high`` (inclusive) that are stored,
        ascending."""
        low, high = max(low, 0), min(high, self.head.number)
        if low > high:
            return []
        return [r[0] for r in self.con.execute(
            "SELECT h.rlp FROM canonical c JOIN headers h ON h.hash = c.hash WHERE c.number BETWEEN ? AND ? "
            "ORDER BY c.number", (low, high))]

    def number_of(self, block_hash: bytes) -> int | None:
        """The number of the block with hash ``block_hash`` (32 bytes), or None."""
        row = self.con.execute("SELECT number FROM headers WHERE hash = ?", (bytes(block_hash),)).fetchone()
        return row[0] if row else None

    def canonical_hash(self, number: int) -> bytes | None:
        """The hash of canonical block ``number``, or None."""
        if not 0 <= number <= self.head.number:
            return None
        row = self.con.execute("SELECT hash FROM canonical WHERE number = ?", (number,)).fetchone()
        return row[0] if row else None

    def body(self, block_hash: bytes) -> bytes | None:
        """The body RLP ``[transactions, uncles, withdrawals?]`` of block ``block_hash``, or None."""
        row = self.con.execute("SELECT rlp FROM bodies WHERE hash = ?", (bytes(block_hash),)).fetchone()
        return row[0] if row else None
