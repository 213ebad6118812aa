"""Synthetic chains for the eth tests and benchmarks: blocks with correct parent hashes, a
matching go-ethereum genesis.json, and a chain file in ``geth export``'s layout (RLP blocks end
to end), and the queries the tests put to an eth protocol on such a chain."""

from __future__ import annotations

import json
import pathlib

import rlp

from protocols.eth import BlockHeaders, GetBlockHeaders, HeadersQuery
from protocols.harness import ProtocolHarness
from rlpx.keys import keccak256

CHAIN_ID = 7
CANCUN = 5000
"""A time fork that the built chain's head (block time 10 * number) has passed."""


def make_header(number: int, parent: bytes, extra: bytes = b"") -> bytes:
    """A 16-field (London) header RLP: ``parent``, ``number``, time 10 * number, difficulty 1
    before block 4 (a merge at 4), ``extra`` data."""
    return rlp.encode([parent, b"\x11" * 32, b"\x22" * 20, b"\x33" * 32, b"\x44" * 32, b"\x55" * 32,
                       b"\x00" * 256, 1 if number < 4 else 0, number, 30_000_000, 0, 10 * number, extra,
                       b"\x00" * 32, b"\x00" * 8, 7])


def make_body(number: int) -> list:
    """Body items of block ``number``: one fake transaction on odd blocks, withdrawals from block 2."""
    txs = [rlp.encode([number, 1, 21000, b"\x66" * 20, 0, b"", 27, 1, 1])] if number % 2 else []
    items = [[rlp.decode(t) for t in txs], []]
    if number >= 2:
        items.append([[number, 1, b"\x77" * 20, 32]])
    return items


def build_chain(count: int, first: int = 0, extra: bytes = b"") -> tuple[bytes, list[bytes], list[bytes]]:
    """(file bytes, header RLPs, body RLPs) of blocks ``first``..``count-1`` with correct parents."""
    parent, headers, bodies, out = b"\x00" * 32 if first == 0 else b"\x5a" * 32, [], [], []
    for n in range(first, count):
        h = make_header(n, parent, extra)
        items = make_body(n)
        out.append(rlp.encode([rlp.decode(h), *items]))
        headers.append(h)
        bodies.append(rlp.encode(items))
        parent = keccak256(h)
    return b"".join(out), headers, bodies


def write_genesis(path) -> str:
    config = {"chainId": CHAIN_ID, "homesteadBlock": 0, "londonBlock": 0, "shanghaiTime": 0, "cancunTime": CANCUN}
    path.write_text(json.dumps({"config": config, "timestamp": "0x0", "difficulty": "0x20000", "alloc": {}}))
    return str(path)


def write_chain(directory, count: int) -> dict:
    """Write ``genesis.json`` and ``chain.rlp`` (blocks 0..``count``-1) into ``directory``; return
    the eth options that serve them (``genesis``, ``chain_file``, ``db`` paths, absolute)."""
    d = pathlib.Path(directory)
    data, _, _ = build_chain(count)
    (d / "chain.rlp").write_bytes(data)
    return {"genesis": write_genesis(d / "genesis.json"), "chain_file": str(d / "chain.rlp"),
            "db": str(d / "chain.sqlite")}


def connected(cls, opts) -> ProtocolHarness:
    """``cls`` on ``opts``' chain with the Status exchange done (the remote mirrors our Status)."""
    h = ProtocolHarness(cls, opts)
    [st] = h.take()
    h.deliver(st)
    assert h.ended is None and h.events[-1][1]["accepted"] is True
    return h


def headers_for(h, origin, amount, skip=0, reverse=False, request_id=9) -> list[bytes]:
    """The headers (RLP) harness ``h`` answers to GetBlockHeaders from ``origin`` (a number or a hash)."""
    origin = origin if isinstance(origin, bytes) else (origin.to_bytes(8, "big").lstrip(b"\x00"))
    h.deliver(GetBlockHeaders(request_id, HeadersQuery(origin, amount, skip, reverse)))
    [answer] = h.take()
    assert isinstance(answer, BlockHeaders) and answer.request_id == request_id and h.ended is None
    return [rlp.encode(x) for x in answer.headers]


def numbers(headers) -> list[int]:
    """The block numbers of header RLPs."""
    return [int.from_bytes(rlp.decode(x)[8], "big") for x in headers]
