"""The eth protocol, versions 68, 69 and 70, served from an RLP chain file kept in SQLite
(or without chain data).

One module per concern:

* :mod:`protocols.eth.messages`: every message of every version, as RLP sedes, and which
  version has which (caps/eth.md; go-ethereum eth/protocols/eth/protocol.go);
* :mod:`protocols.eth.handshake`: the Status and block range rules (go-ethereum handshake.go);
* :mod:`protocols.eth.chains`: the chain a protocol runs on (built-in, mapping, genesis.json);
* :mod:`protocols.eth.store`: a chain file imported into SQLite, read-only for the protocols;
* :mod:`protocols.eth.serving`: GetBlockHeaders and GetBlockBodies answers (go-ethereum handlers.go);
* :mod:`protocols.eth.protocol`: :class:`EthProtocol68`, :class:`EthProtocol69` and
  :class:`EthProtocol70` on a shared base, and their options.

``protocols.eth.EthProtocol`` is eth/68, and the eth/68 names (``Status``, ``MESSAGES``,
``RESPONSES``, ...) stay importable from here as before.
"""

from .chains import ChainError, chain_from_genesis, chain_from_option, genesis_hash_from_chain_file
from .handshake import EthError, status_json
from .messages import (LENGTHS, MESSAGES_68, MESSAGES_69, MESSAGES_70, RESPONSES, BlockBodies, BlockHeaders,
                       BlockRangeUpdate, ForkID, GetBlockBodies, GetBlockHeaders, GetPooledTransactions, GetReceipts,
                       GetReceipts70, HeadersQuery, NewBlock, NewBlockHashes, NewPooledTransactionHashes,
                       PooledTransactions, Receipts, Receipts70, Status, Status69, Transactions)
from .protocol import EthOptions, EthProtocol, EthProtocol68, EthProtocol69, EthProtocol70, EthProtocolBase

LENGTH = LENGTHS[68]
"""eth/68's message codes (devp2p caps/eth.md)."""

MESSAGES = MESSAGES_68
"""eth/68's messages."""

__all__ = [
    "BlockBodies", "BlockHeaders", "BlockRangeUpdate", "ChainError", "EthError", "EthOptions", "EthProtocol",
    "EthProtocol68", "EthProtocol69", "EthProtocol70", "EthProtocolBase", "ForkID", "GetBlockBodies",
    "GetBlockHeaders", "GetPooledTransactions", "GetReceipts", "GetReceipts70", "HeadersQuery", "LENGTH", "LENGTHS",
    "MESSAGES", "MESSAGES_68", "MESSAGES_69", "MESSAGES_70", "NewBlock", "NewBlockHashes",
    "NewPooledTransactionHashes", "PooledTransactions", "RESPONSES", "Receipts", "Receipts70", "Status", "Status69",
    "Transactions", "chain_from_genesis", "chain_from_option", "genesis_hash_from_chain_file", "status_json",
]
