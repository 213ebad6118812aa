"""The eth messages of versions 68, 69 and 70, as RLP sedes (devp2p caps/eth.md; go-ethereum
eth/protocols/eth/protocol.go).

Every message decodes exactly as go-ethereum's structs do: the right number of fields,
canonical integers within their Go types (uint32, uint64, big.Int), 32-byte hashes, and
booleans as go-ethereum's rlp package reads them (false is the empty string 0x80, true 0x01;
0x00 and anything else is rejected; pyrlp's ``boolean`` sedes does the same and writes false
as 0x80).  Transactions, headers, bodies and receipts are kept as raw RLP: a chain-less node
never looks inside them.

Which version has which code:

=====  ==========================  ==================================================
code   message                     versions
=====  ==========================  ==================================================
0x00   Status                      68: :class:`Status`; 69, 70: :class:`Status69`
0x01   NewBlockHashes              68 only (removed by EIP-7642)
0x02   Transactions                all
0x03   GetBlockHeaders             all
0x04   BlockHeaders                all
0x05   GetBlockBodies              all
0x06   BlockBodies                 all
0x07   NewBlock                    68 only (removed by EIP-7642)
0x08   NewPooledTransactionHashes  all (EIP-5793 layout)
0x09   GetPooledTransactions       all
0x0a   PooledTransactions          all
0x0f   GetReceipts                 68, 69: :class:`GetReceipts`; 70: :class:`GetReceipts70`
0x10   Receipts                    68, 69: :class:`Receipts`; 70: :class:`Receipts70`
0x11   BlockRangeUpdate            69, 70 (EIP-7642)
=====  ==========================  ==================================================
"""

from __future__ import annotations

import rlp
from rlp.sedes import Binary, CountableList, boolean, raw

from ..api import RLPMessage, ValueMessage, hash32, uint32, uint64, uint256

LENGTHS = {68: 17, 69: 18, 70: 18}
"""Message codes each version uses (go-ethereum eth/protocols/eth/protocol.go ``protocolLengths``;
17 for eth/68 in go-ethereum v1.16)."""

MAX_MESSAGE_SIZE = 10 * 1024 * 1024
"""Largest eth message payload, bytes (go-ethereum protocol.go ``maxMessageSize``)."""

MAX_TRANSACTIONS = 5000
"""Most transactions in one Transactions message (go-ethereum protocol.go
``maxTransactionAnnouncements``, checked in handlers.go ``handleTransactions``)."""


class ForkID(rlp.Serializable):
    """EIP-2124 fork id: ``hash`` 4 bytes, ``next`` block number or time (0 = none)."""

    fields = [("hash", Binary.fixed_length(4)), ("next", uint64)]


class Status(RLPMessage):
    """0x00, eth/68: ``[version, networkid, td, blockhash, genesis, forkid]`` (caps/eth.md)."""

    CODE = 0x00
    fields = [("version", uint32), ("network_id", uint64), ("td", uint256), ("head", hash32),
              ("genesis", hash32), ("fork_id", ForkID)]


class Status69(RLPMessage):
    """0x00, eth/69 and eth/70: ``[version, networkid, genesis, forkid, earliest, latest,
    latestHash]``: exactly 7 fields (EIP-7642; go-ethereum protocol.go ``StatusPacket``).
    ``earliest``..``latest`` is the block range the sender serves, ``latest_hash`` the hash of
    block ``latest``."""

    CODE = 0x00
    fields = [("version", uint32), ("network_id", uint64), ("genesis", hash32), ("fork_id", ForkID),
              ("earliest", uint64), ("latest", uint64), ("latest_hash", hash32)]


class NewBlockHashes(ValueMessage):
    """0x01, eth/68 only: ``[[hash, number], ...]``."""

    CODE = 0x01
    SEDES = CountableList(rlp.sedes.List([hash32, uint64]))


class Transactions(ValueMessage):
    """0x02 ``[tx, ...]`` (each a legacy list or typed envelope, kept raw)."""

    CODE = 0x02
    SEDES = CountableList(raw)


class HeadersQuery(rlp.Serializable):
    """GetBlockHeaders' query: ``origin`` a 32-byte hash or a block number of at most 8 bytes."""

    fields = [("origin", Binary(max_length=32)), ("amount", uint64), ("skip", uint64), ("reverse", boolean)]


class GetBlockHeaders(RLPMessage):
    """0x03 ``[request-id, [origin, amount, skip, reverse]]``."""

    CODE = 0x03
    fields = [("request_id", uint64), ("query", HeadersQuery)]


class BlockHeaders(RLPMessage):
    """0x04 ``[request-id, [header, ...]]``."""

    CODE = 0x04
    fields = [("request_id", uint64), ("headers", CountableList(raw))]


class GetBlockBodies(RLPMessage):
    """0x05 ``[request-id, [hash, ...]]``."""

    CODE = 0x05
    fields = [("request_id", uint64), ("hashes", CountableList(hash32))]


class BlockBodies(RLPMessage):
    """0x06 ``[request-id, [body, ...]]``."""

    CODE = 0x06
    fields = [("request_id", uint64), ("bodies", CountableList(raw))]


class NewBlock(RLPMessage):
    """0x07, eth/68 only: ``[block, td]``."""

    CODE = 0x07
    fields = [("block", raw), ("td", uint256)]


class NewPooledTransactionHashes(RLPMessage):
    """0x08 ``[types, [size, ...], [hash, ...]]`` (EIP-5793; eth/68 to eth/71)."""

    CODE = 0x08
    fields = [("types", Binary()), ("sizes", CountableList(uint32)), ("hashes", CountableList(hash32))]


class GetPooledTransactions(RLPMessage):
    """0x09 ``[request-id, [hash, ...]]``."""

    CODE = 0x09
    fields = [("request_id", uint64), ("hashes", CountableList(hash32))]


class PooledTransactions(RLPMessage):
    """0x0a ``[request-id, [tx, ...]]``."""

    CODE = 0x0A
    fields = [("request_id", uint64), ("transactions", CountableList(raw))]


class GetReceipts(RLPMessage):
    """0x0f, eth/68 and eth/69: ``[request-id, [hash, ...]]``."""

    CODE = 0x0F
    fields = [("request_id", uint64), ("hashes", CountableList(hash32))]


class Receipts(RLPMessage):
    """0x10, eth/68 and eth/69: ``[request-id, [[receipt, ...], ...]]`` (eth/69's receipts carry no
    bloom, EIP-7642; both are kept raw here)."""

    CODE = 0x10
    fields = [("request_id", uint64), ("receipts", CountableList(raw))]


class GetReceipts70(RLPMessage):
    """0x0f, eth/70: ``[request-id, firstBlockReceiptIndex, [hash, ...]]`` (EIP-7975; go-ethereum
    protocol.go ``GetReceiptsPacket70``): the answer leaves out the first block's receipts before
    index ``first_block_receipt_index``."""

    CODE = 0x0F
    fields = [("request_id", uint64), ("first_block_receipt_index", uint64), ("hashes", CountableList(hash32))]


class Receipts70(RLPMessage):
    """0x10, eth/70: ``[request-id, lastBlockIncomplete, [[receipt, ...], ...]]`` (EIP-7975;
    go-ethereum protocol.go ``ReceiptsPacket70``).  ``last_block_incomplete`` is a bool: false is
    written as 0x80, which go-ethereum requires (it rejects 0x00)."""

    CODE = 0x10
    fields = [("request_id", uint64), ("last_block_incomplete", boolean), ("receipts", CountableList(raw))]


class BlockRangeUpdate(RLPMessage):
    """0x11, eth/69 and eth/70: ``[earliest, latest, latestHash]``, the block range the sender
    now serves (EIP-7642; go-ethereum protocol.go ``BlockRangeUpdatePacket``)."""

    CODE = 0x11
    fields = [("earliest", uint64), ("latest", uint64), ("latest_hash", hash32)]


MESSAGES_68 = (Status, NewBlockHashes, Transactions, GetBlockHeaders, BlockHeaders, GetBlockBodies, BlockBodies,
               NewBlock, NewPooledTransactionHashes, GetPooledTransactions, PooledTransactions, GetReceipts, Receipts)
"""eth/68's messages (codes 0x0b-0x0e are unused since eth/67)."""

MESSAGES_69 = (Status69, Transactions, GetBlockHeaders, BlockHeaders, GetBlockBodies, BlockBodies,
               NewPooledTransactionHashes, GetPooledTransactions, PooledTransactions, GetReceipts, Receipts,
               BlockRangeUpdate)
"""eth/69's messages: no NewBlockHashes (0x01) or NewBlock (0x07) (EIP-7642; go-ethereum
eth/protocols/eth/handler.go ``eth69``)."""

MESSAGES_70 = tuple({GetReceipts: GetReceipts70, Receipts: Receipts70}.get(m, m) for m in MESSAGES_69)
"""eth/70's messages: eth/69's with the receipts pair of EIP-7975 (handler.go ``eth70``)."""

RESPONSES = {GetBlockHeaders: BlockHeaders, GetBlockBodies: BlockBodies,
             GetPooledTransactions: PooledTransactions, GetReceipts: Receipts, GetReceipts70: Receipts70}
"""Request class -> response class."""


class EncodedResponse:
    """A BlockHeaders or BlockBodies built from items already in RLP: ``[request-id, [item, ...]]``
    with each item's RLP embedded as it is (pyrlp's ``raw`` sedes would wrap bytes as a string).
    ``CODE`` the response's code; :meth:`encode` gives the payload bytes."""

    __slots__ = ("CODE", "payload")

    def __init__(self, cls, request_id: int, items: list[bytes]):
        self.CODE = cls.CODE
        inner = b"".join(items)
        self.payload = rlp_list(rlp.encode(request_id) + rlp_list(inner))

    def encode(self) -> bytes:
        """The payload bytes."""
        return self.payload


def rlp_list(content: bytes) -> bytes:
    """``content`` (concatenated RLP items) with an RLP list prefix."""
    n = len(content)
    if n < 56:
        return bytes([0xC0 + n]) + content
    size = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0xF7 + len(size)]) + size + content


def empty_response(request):
    """The answer of a node without chain data or transactions to ``request`` (a request message):
    its response class with the request id and an empty list; eth/70's Receipts also say
    ``lastBlockIncomplete`` false (go-ethereum eth/protocols/eth/handlers.go, peer.go ``Reply*``)."""
    cls = RESPONSES[type(request)]
    if cls is Receipts70:
        return Receipts70(request.request_id, False, ())
    return cls(request.request_id, ())
