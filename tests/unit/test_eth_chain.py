"""eth on a chain (protocols/eth/store.py, serving.py): a chain file imported into SQLite once,
Status at the real head, and GetBlockHeaders / GetBlockBodies answered as go-ethereum v1.17
eth/protocols/eth/handlers.go does, bad queries included.  Chains are built here with correct
parent hashes (go-ethereum's own ethtest chain: tests/interop/test_ethtest_chain.py)."""

import json
import os
import sqlite3

import pytest
import rlp

from config.loader import ConfigError, load_text
from protocols.eth import (BlockBodies, BlockHeaders, EthProtocol68, EthProtocol69, EthProtocol70, GetBlockBodies,
                           GetBlockHeaders, GetPooledTransactions, GetReceipts, GetReceipts70, HeadersQuery,
                           PooledTransactions, Receipts, Receipts70, Status, Status69)
from protocols.eth.chains import ChainError
from protocols.eth.genesis import genesis_block
from protocols.eth.serving import MAX_HEADERS_SERVE, SOFT_RESPONSE_LIMIT
from protocols.eth.store import ChainStore
from protocols.forkid import fork_id
from protocols.harness import ProtocolHarness
from rlpx.keys import keccak256
from support.eth_chain import build_chain, connected, headers_for, make_header, numbers, write_genesis

U64MAX = 2 ** 64 - 1
@pytest.fixture(scope="module")
def chain(tmp_path_factory):
    """1,100 blocks (0..1099), imported once: (options, headers, bodies)."""
    d = tmp_path_factory.mktemp("chain")
    data, headers, bodies = build_chain(1100)
    (d / "chain.rlp").write_bytes(data)
    opts = {"genesis": write_genesis(d / "genesis.json"), "chain_file": str(d / "chain.rlp"),
            "db": str(d / "chain.sqlite")}
    return opts, headers, bodies


# -- import and storage -------------------------------------------------------------------------

def test_import_makes_a_wal_database_with_every_block(chain):
    opts, headers, bodies = chain
    ProtocolHarness(EthProtocol69, opts)
    con = sqlite3.connect(opts["db"])
    try:
        assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert con.execute("SELECT count(*) FROM headers").fetchone()[0] == 1100
        assert con.execute("SELECT count(*) FROM bodies").fetchone()[0] == 1100
        assert con.execute("SELECT hash FROM canonical WHERE number = 1099").fetchone()[0] == keccak256(headers[-1])
        assert con.execute("SELECT rlp FROM bodies WHERE hash = ?", (keccak256(headers[5]),)).fetchone()[0] == bodies[5]
    finally:
        con.close()


def test_import_runs_once_and_again_when_the_file_changes(tmp_path):
    data, headers, _ = build_chain(10)
    (tmp_path / "chain.rlp").write_bytes(data)
    opts = {"genesis": write_genesis(tmp_path / "genesis.json"), "chain_file": str(tmp_path / "chain.rlp")}
    ProtocolHarness(EthProtocol69, opts)
    db = tmp_path / "chain.rlp.sqlite"  # the default: beside the chain file
    inode = os.stat(db).st_ino
    h = ProtocolHarness(EthProtocol69, opts)  # a restart: the database is reused, not rebuilt
    assert os.stat(db).st_ino == inode and h.take()[0].latest == 9
    data, headers, _ = build_chain(20)
    (tmp_path / "chain.rlp").write_bytes(data)
    h = ProtocolHarness(EthProtocol69, opts)  # another file: imported anew
    assert os.stat(db).st_ino != inode
    [st] = h.take()
    assert (st.latest, st.latest_hash) == (19, keccak256(headers[-1]))
    assert not [p for p in os.listdir(tmp_path) if ".import-" in p]


def test_the_protocol_opens_the_database_read_only(chain):
    opts = chain[0]
    h = ProtocolHarness(EthProtocol69, opts)
    with pytest.raises(sqlite3.OperationalError, match="readonly"):
        h.proto.store.con.execute("DELETE FROM headers")
    h.stop()
    assert h.proto.store is None


def _bad(tmp_path, blocks: bytes) -> ConfigError:
    (tmp_path / "c.rlp").write_bytes(blocks)
    write_genesis(tmp_path / "g.json")
    entry = {"name": "eth", "version": 69, "genesis": "g.json", "chain_file": "c.rlp"}
    with pytest.raises(ConfigError) as info:
        load_text("node: {name: a, protocols: [" + json.dumps(entry) + "]}", str(tmp_path), create_keys=False)
    assert len(str(info.value).splitlines()) == 1
    return info.value


def _blocks(*pairs) -> bytes:
    """Blocks of (number, parent) with empty bodies."""
    return b"".join(rlp.encode([rlp.decode(make_header(n, p)), [], []]) for n, p in pairs)


@pytest.mark.parametrize("make, why", [
    (lambda: build_chain(10)[0][:-5], "truncated"),
    (lambda: _blocks((0, b"\x00" * 32), (1, b"\x01" * 32)), "block 1's parent hash"),
    (lambda: _blocks((0, b"\x00" * 32), (1, keccak256(make_header(0, b"\x00" * 32))),
                     (1, keccak256(make_header(0, b"\x00" * 32)))), "block 1 follows block 1"),
    (lambda: build_chain(3)[0] + rlp.encode([[b"\x01"] * 3, [], []]), "item 3 is not a block"),
    (lambda: build_chain(3)[0] + rlp.encode([rlp.decode(make_header(3, b"\x00" * 32))]), "item 3 is not a block"),
    (lambda: build_chain(3)[0] + b"\x85hello", "not an RLP list"),
])
def test_a_broken_chain_file_is_one_config_error(tmp_path, make, why):
    err = _bad(tmp_path, make())
    assert err.path == "node.protocols[0].chain_file" and why in str(err)
    assert not os.path.exists(tmp_path / "c.rlp.sqlite")


def test_db_option_errors(tmp_path):
    data, _, _ = build_chain(3)
    (tmp_path / "c.rlp").write_bytes(data)
    write_genesis(tmp_path / "g.json")
    for extra, key, words in (({"db": "no/such/dir/x.sqlite"}, "db", "cannot create the chain database"),
                              ({"genesis_hash": "0x" + "ab" * 32, "chain_file": None, "db": "x.sqlite"}, "db",
                               "only goes with `chain_file`")):
        entry = {"name": "eth", "version": 69, "genesis": "g.json", "chain_file": "c.rlp", **extra}
        entry = {k: v for k, v in entry.items() if v is not None}
        with pytest.raises(ConfigError) as info:
            load_text("node: {name: a, protocols: [" + json.dumps(entry) + "]}", str(tmp_path), create_keys=False)
        assert info.value.path == f"node.protocols[0].{key}" and words in str(info.value)


# -- Status at the head ---------------------------------------------------------------------------

@pytest.mark.parametrize("cls", [EthProtocol69, EthProtocol70])
def test_status69_carries_the_head_and_its_fork_id(chain, cls):
    opts, headers, _ = chain
    h = ProtocolHarness(cls, opts)
    [st] = h.take()
    assert isinstance(st, Status69)
    assert (st.earliest, st.latest, st.latest_hash) == (0, 1099, keccak256(headers[-1]))
    assert st.genesis == keccak256(headers[0])
    cfg = h.proto.chain
    assert (st.fork_id.hash, st.fork_id.next) == fork_id(cfg, 1099, 10990)
    assert fork_id(cfg, 1099, 10990) != fork_id(cfg, 0, 0)  # the head is past Cancun: the id moved


def test_status68_carries_head_hash_and_total_difficulty(chain):
    opts, headers, _ = chain
    [st] = ProtocolHarness(EthProtocol68, opts).take()
    assert isinstance(st, Status)
    assert (st.head, st.td) == (keccak256(headers[-1]), 0x20000 + 3)  # genesis, then blocks 1-3 of difficulty 1


# -- GetBlockHeaders ------------------------------------------------------------------------------

@pytest.mark.parametrize("origin, amount, skip, reverse, want", [
    (5, 3, 0, False, [5, 6, 7]),
    (5, 3, 0, True, [5, 4, 3]),
    (1, 4, 0, True, [1, 0]),                     # stops at genesis
    (1097, 10, 0, False, [1097, 1098, 1099]),    # stops at the head
    (1105, 10, 0, True, [1099, 1098, 1097, 1096]),  # past the head: go-ethereum still serves the rest
    (1200, 10, 0, True, []),
    (1100, 5, 0, False, []),
    (10, 4, 2, False, [10, 13, 16, 19]),
    (10, 4, 2, True, [10, 7, 4, 1]),
    (10, 5, 4, True, [10, 5, 0]),
    (1090, 5, 4, False, [1090, 1095]),
    (0, 0, 0, False, []),                        # amount 0: nothing
    (5, U64MAX, U64MAX, False, [5]),             # skip + 1 overflows: the answer ends
    (5, U64MAX, U64MAX, True, [5]),
    (5, 3, U64MAX - 5, False, [5]),              # 5 + skip + 1 wraps to 0
    (U64MAX, 10, 0, False, []), (U64MAX, 10, 0, True, []), (U64MAX, 10, 1, False, []),
])
def test_headers_by_number(chain, origin, amount, skip, reverse, want):
    opts, headers, _ = chain
    h = connected(EthProtocol69, opts)
    got = headers_for(h, origin, amount, skip, reverse)
    assert numbers(got) == want and got == [headers[n] for n in want]


@pytest.mark.parametrize("origin, amount, skip, reverse, want", [
    (5, 3, 0, False, [5, 6, 7]), (5, 3, 0, True, [5, 4, 3]), (10, 3, 3, False, [10, 14, 18]),
    (10, 4, 3, True, [10, 6, 2]), (1099, 3, 0, False, [1099]), (3, 2, U64MAX, False, [3]),
    (3, 2, U64MAX, True, [3]),
])
def test_headers_by_hash(chain, origin, amount, skip, reverse, want):
    opts, headers, _ = chain
    h = connected(EthProtocol70, opts)
    assert numbers(headers_for(h, keccak256(headers[origin]), amount, skip, reverse)) == want


def test_unknown_hash_and_zero_hash(chain):
    opts, headers, _ = chain
    h = connected(EthProtocol69, opts)
    assert headers_for(h, b"\x42" * 32, 10) == [] and headers_for(h, b"\x42" * 32, 10, 2, True) == []
    # the all-zero hash is number 0 to go-ethereum (HashOrNumber with an empty hash)
    assert numbers(headers_for(h, b"\x00" * 32, 2)) == [0, 1]


def test_amount_is_capped_at_1024(chain):
    opts, _, _ = chain
    h = connected(EthProtocol69, opts)
    got = numbers(headers_for(h, 0, U64MAX))
    assert len(got) == MAX_HEADERS_SERVE and got[:2] == [0, 1] and got[-1] == 1023
    assert numbers(headers_for(h, 1099, 2000, 0, True))[-1] == 1099 - 1023
    # with a skip, amount 2^64-1 runs to the head (550 even blocks, under the cap)
    assert numbers(headers_for(h, 0, U64MAX, 1)) == list(range(0, 1100, 2))


@pytest.fixture(scope="module")
def big_headers_chain(tmp_path_factory):
    """1,200 blocks whose headers carry 3,000 bytes of extra data each, imported once: options."""
    d = tmp_path_factory.mktemp("big")
    data, _, _ = build_chain(1200, extra=b"\xee" * 3000)
    (d / "chain.rlp").write_bytes(data)
    return {"genesis": write_genesis(d / "genesis.json"), "chain_file": str(d / "chain.rlp")}


@pytest.mark.parametrize("skip", [0, 1])
def test_two_mib_soft_limit(big_headers_chain, skip):
    h = connected(EthProtocol69, big_headers_chain)
    got = headers_for(h, 0, 1024, skip, False)
    size = sum(map(len, got))
    # go-ethereum adds a header while the answer is below 2 MiB
    assert size >= SOFT_RESPONSE_LIMIT and size - len(got[-1]) < SOFT_RESPONSE_LIMIT and len(got) < 1024


def test_headers_and_bodies_are_embedded_rlp_on_the_wire(chain):
    """Each header and body is an RLP list inside the answer, as go-ethereum decodes
    ``[]*types.Header`` (not a byte string holding RLP)."""
    opts, headers, bodies = chain
    h = connected(EthProtocol69, opts)
    wire = []
    h.send_message = lambda code, payload: wire.append((code, payload))
    h.deliver(GetBlockHeaders(3, HeadersQuery(b"\x05", 2, 0, False)))
    h.deliver(GetBlockBodies(4, [keccak256(headers[5])]))
    assert wire[0] == (BlockHeaders.CODE, rlp.encode([3, [rlp.decode(headers[5]), rlp.decode(headers[6])]]))
    assert wire[1] == (BlockBodies.CODE, rlp.encode([4, [rlp.decode(bodies[5])]]))


def test_headers_before_status_disconnect(chain):
    h = ProtocolHarness(EthProtocol69, chain[0])
    h.take()
    h.deliver(GetBlockHeaders(1, HeadersQuery(b"\x01", 1, 0, False)))
    assert h.ended is not None and "first eth message must be Status" in h.ended.error


# -- GetBlockBodies, receipts, pooled transactions ------------------------------------------------

def test_bodies_as_stored_stopping_at_an_unknown_hash(chain):
    opts, headers, bodies = chain
    h = connected(EthProtocol69, opts)
    h.deliver(GetBlockBodies(4, [keccak256(headers[n]) for n in (1, 2, 3)] + [b"\x42" * 32, keccak256(headers[4])]))
    [answer] = h.take()
    assert isinstance(answer, BlockBodies) and answer.request_id == 4
    assert [rlp.encode(b) for b in answer.bodies] == bodies[1:4]
    txs, uncles, withdrawals = answer.bodies[2]
    assert len(txs) == 1 and uncles == [] and len(withdrawals) == 1
    assert answer.bodies[0] == [[rlp.decode(rlp.encode([1, 1, 21000, b"\x66" * 20, 0, b"", 27, 1, 1]))],
                                []]  # block 1: no withdrawals field
    h.deliver(GetBlockBodies(5, [b"\x42" * 32] + [keccak256(headers[1])]))
    assert h.take() == [BlockBodies(5, ())]


def test_receipts_and_pooled_transactions_are_empty(chain):
    opts, headers, _ = chain
    hashes = [keccak256(headers[1])]
    h = connected(EthProtocol69, opts)
    h.deliver(GetReceipts(1, hashes))
    h.deliver(GetPooledTransactions(2, [b"\x01" * 32]))
    assert h.take() == [Receipts(1, ()), PooledTransactions(2, ())]
    h = connected(EthProtocol70, opts)
    h.deliver(GetReceipts70(3, 0, hashes))
    assert h.take() == [Receipts70(3, False, ())]


def test_store_rejects_numbers_beyond_sqlite(chain):
    store = ChainStore(chain[0]["db"])
    try:
        assert store.header_by_number(2 ** 64 - 1) is None and store.canonical_hash(2 ** 63) is None
        assert store.headers_between(2 ** 63, 2 ** 64) == []
    finally:
        store.close()


def test_a_genesis_that_is_not_block_1s_parent_is_one_config_error(tmp_path):
    err = _bad(tmp_path, build_chain(4, first=1)[0])  # block 1's parent: 5a5a...
    assert err.path == "node.protocols[0].genesis"
    assert "names parent " + "5a" * 32 in str(err)
    assert not os.path.exists(tmp_path / "c.rlp.sqlite")


@pytest.mark.parametrize("doc, why", [
    ({"alloc": {"0x" + "11" * 20: {}}}, "balance is missing"),
    ({"alloc": {"0x11": {"balance": "0x1"}}}, "not 20 bytes"),
    ({"alloc": {"11" * 20: {"balance": "0x1", "code": "6000"}}}, "0x-prefixed hex"),
    ({"alloc": {"11" * 20: {"balance": "1", "storage": {"0x01": "0x" + "00" * 33}}}}, "longer than 32 bytes"),
    ({"extraData": "0xabc"}, "even-length hex"),
    ({"mixHash": "0x00"}, "must be 32 bytes"),
    ({"gasLimit": "lots"}, "hex (0x..) or decimal"),
])
def test_bad_genesis_fields_are_one_error(tmp_path, doc, why):
    p = tmp_path / "g.json"
    p.write_text(json.dumps({"config": {"chainId": 1, "londonBlock": 0}, **doc}))
    with pytest.raises(ChainError) as info:
        genesis_block(str(p))
    assert why in str(info.value) and str(p) in str(info.value)


def test_genesis_block_fields_follow_the_forks_at_genesis(tmp_path):
    p = tmp_path / "g.json"
    base = {"timestamp": "0x10", "gasLimit": "0", "alloc": {"11" * 20: {"balance": "5", "storage": {"0x1": "0x0"}}}}
    lengths = {}
    for name, config in (("frontier", {}), ("london", {"londonBlock": 0}),
                         ("shanghai", {"londonBlock": 0, "shanghaiTime": 0}),
                         ("cancun", {"londonBlock": 0, "shanghaiTime": 0, "cancunTime": 16}),
                         ("prague", {"londonBlock": 0, "shanghaiTime": 0, "cancunTime": 0, "pragueTime": 0}),
                         ("later", {"londonBlock": 0, "shanghaiTime": 0, "cancunTime": 17})):
        p.write_text(json.dumps({"config": {"chainId": 1, **config}, **base}))
        header, body = genesis_block(str(p))
        fields = rlp.decode(header)
        lengths[name] = len(fields)
        assert int.from_bytes(fields[9], "big") == 4712388  # gasLimit 0: params.GenesisGasLimit
        assert len(rlp.decode(body)) == (3 if len(fields) > 16 else 2)
    assert lengths == {"frontier": 15, "london": 16, "shanghai": 17, "cancun": 20, "prague": 21, "later": 17}
    # a zero storage value is left out: the account's storage root is the empty trie's
    p.write_text(json.dumps({"config": {"chainId": 1}, **base}))
    with_zero = rlp.decode(genesis_block(str(p))[0])[3]
    p.write_text(json.dumps({"config": {"chainId": 1}, **{**base, "alloc": {"11" * 20: {"balance": "5"}}}}))
    assert rlp.decode(genesis_block(str(p))[0])[3] == with_zero
