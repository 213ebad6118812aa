"""eth/68 as a node with no chain data (devp2p caps/eth.md; go-ethereum eth/protocols/eth).

* Status (0x00) ``[version, networkid, td, blockhash, genesis, forkid]`` is sent on start and
  the remote's must arrive within ``status_timeout_s`` (5 s, go-ethereum ``handshakeTimeout``).
  Our head is the genesis block, so our fork id is the genesis one (EIP-2124), which every
  node of the chain accepts as "syncing".
* The remote's Status is validated as go-ethereum's ``readStatus`` does: protocol version,
  network id, genesis hash, fork id (:func:`protocols.forkid.validate`).  A mismatch ends
  the protocol with an error, which disconnects with SUBPROTOCOL_ERROR (go-ethereum
  p2p/peer.go ``discReasonForError``); no Status in time disconnects with READ_TIMEOUT.
  Both sides' Status are published as ``eth_status`` protocol events.
* Requests are answered with empty responses carrying the request id (eth/66+):
  GetBlockHeaders -> BlockHeaders, GetBlockBodies -> BlockBodies, GetPooledTransactions ->
  PooledTransactions, GetReceipts -> Receipts.  Announcements and responses are decoded
  (a malformed one is a protocol error, as go-ethereum's ``errDecode``) and ignored.
* Every message decodes exactly as go-ethereum's structs do (eth/protocols/eth/protocol.go):
  the right number of fields, canonical integers within their Go types, 32-byte hashes.

Options: ``chain`` = "mainnet" (default) or a mapping ``{name, network_id, genesis_hash (hex),
genesis_td, fork_blocks: [..], fork_times: [..], genesis_time}``; ``status_timeout_s``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import rlp
from rlp.sedes import Binary, CountableList, boolean, raw

from rlpx.disc import DiscReason

from .api import Protocol, ProtocolError, RLPMessage, ValueMessage, hash32, uint32, uint64, uint256
from .forkid import MAINNET, ChainConfig, ForkIdError, fork_id, validate

LENGTH = 17
"""eth/68 message codes (devp2p caps/eth.md)."""

class EthError(ProtocolError):
    """The remote broke eth/68 (bad Status, mismatch, malformed message)."""


class ForkID(rlp.Serializable):
    """EIP-2124 fork id: ``hash`` 4 bytes, ``next`` block number or time (0 = none)."""

    fields = [("hash", Binary.fixed_length(4)), ("next", uint64)]


class Status(RLPMessage):
    """0x00 ``[version, networkid, td, blockhash, genesis, forkid]`` (caps/eth.md, eth/68)."""

    CODE = 0x00
    fields = [("version", uint32), ("network_id", uint64), ("td", uint256), ("head", hash32),
              ("genesis", hash32), ("fork_id", ForkID)]


class NewBlockHashes(ValueMessage):
    """0x01 ``[[hash, number], ...]``."""

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
    """0x07 ``[block, td]``."""

    CODE = 0x07
    fields = [("block", raw), ("td", uint256)]


class NewPooledTransactionHashes(RLPMessage):
    """0x08 ``[types, [size, ...], [hash, ...]]`` (eth/68, EIP-5793)."""

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
    """0x0f ``[request-id, [hash, ...]]``."""

    CODE = 0x0F
    fields = [("request_id", uint64), ("hashes", CountableList(hash32))]


class Receipts(RLPMessage):
    """0x10 ``[request-id, [[receipt, ...], ...]]``."""

    CODE = 0x10
    fields = [("request_id", uint64), ("receipts", CountableList(raw))]


MESSAGES = (Status, NewBlockHashes, Transactions, GetBlockHeaders, BlockHeaders, GetBlockBodies, BlockBodies,
            NewBlock, NewPooledTransactionHashes, GetPooledTransactions, PooledTransactions, GetReceipts, Receipts)
"""eth/68's messages (codes 0x0b-0x0e are unused since eth/67)."""

RESPONSES = {GetBlockHeaders: BlockHeaders, GetBlockBodies: BlockBodies,
             GetPooledTransactions: PooledTransactions, GetReceipts: Receipts}
"""Request class -> response class; we answer each with an empty list."""


def chain_from_option(value) -> ChainConfig:
    """Build a ChainConfig from the ``chain`` option; raise ValueError with the reason."""
    if value in (None, "mainnet"):
        return MAINNET
    if isinstance(value, str):
        raise ValueError(f"unknown chain {value!r} (built in: mainnet; or describe one as a mapping)")
    if not isinstance(value, dict):
        raise ValueError("chain must be 'mainnet' or a mapping")
    allowed = {"name", "network_id", "genesis_hash", "genesis_td", "fork_blocks", "fork_times", "genesis_time"}
    extra = set(value) - allowed
    if extra:
        raise ValueError(f"unknown chain key(s) {sorted(extra)} (allowed: {sorted(allowed)})")
    try:
        genesis = bytes.fromhex(str(value["genesis_hash"]).removeprefix("0x"))
    except (KeyError, ValueError):
        raise ValueError("chain.genesis_hash must be 32 bytes of hex") from None
    if len(genesis) != 32:
        raise ValueError("chain.genesis_hash must be 32 bytes of hex")
    ints = {}
    for key, default in (("network_id", None), ("genesis_td", 0), ("genesis_time", 0)):
        v = value.get(key, default)
        if not isinstance(v, int) or isinstance(v, bool) or v < 0:
            raise ValueError(f"chain.{key} must be a non-negative integer")
        ints[key] = v
    lists = {}
    for key in ("fork_blocks", "fork_times"):
        v = value.get(key, [])
        if not isinstance(v, list) or not all(isinstance(x, int) and not isinstance(x, bool) and x >= 0 for x in v):
            raise ValueError(f"chain.{key} must be a list of non-negative integers")
        lists[key] = tuple(v)
    return ChainConfig(str(value.get("name", "custom")), ints["network_id"], genesis, ints["genesis_td"],
                       lists["fork_blocks"], lists["fork_times"], ints["genesis_time"])


@dataclass(frozen=True)
class EthOptions:
    """eth/68's options: ``chain`` "mainnet" or a mapping (see :func:`chain_from_option`);
    ``status_timeout_s`` seconds to wait for the remote's Status (go-ethereum ``handshakeTimeout``)."""

    chain: object = "mainnet"
    status_timeout_s: float = field(default=5.0, metadata={"min": 0})

    def __post_init__(self):
        chain_from_option(self.chain)


def status_json(st: Status) -> dict:
    """A Status as JSON-able data (hashes hex without 0x)."""
    return {"version": st.version, "network_id": st.network_id, "td": st.td, "head": st.head.hex(),
            "genesis": st.genesis.hex(), "fork_id": [st.fork_id.hash.hex(), st.fork_id.next]}


class EthProtocol(Protocol):
    """eth/68 for a node without chain data."""

    NAME, VERSION, LENGTH = "eth", 68, LENGTH
    MESSAGES = MESSAGES
    Options = EthOptions

    def started(self):
        self.chain = chain_from_option(self.options.chain)
        self.head_number, self.head_time = 0, self.chain.genesis_time
        self.remote_status: Status | None = None
        fh, nxt = fork_id(self.chain, self.head_number, self.head_time)
        self.local_status = Status(self.version, self.chain.network_id, self.chain.genesis_td,
                                   self.chain.genesis_hash, self.chain.genesis_hash, ForkID(fh, nxt))
        self.send(self.local_status)
        self.emit("eth_status", {"side": "local", **status_json(self.local_status)})
        self.after("status_timeout", self.options.status_timeout_s)

    def on_timer(self, name):
        if name == "status_timeout" and self.running and self.remote_status is None:
            self.disconnect(DiscReason.READ_TIMEOUT, "no eth Status within the handshake timeout")

    def on_message(self, msg):
        """Announcements and responses: decoded (so malformed ones fail), then ignored."""
        self._need_status(msg)

    def _need_status(self, msg) -> None:
        if self.remote_status is None:
            raise EthError(f"first eth message must be Status, got {type(msg).__name__}")

    def on_Status(self, st: Status):
        if self.remote_status is not None:
            raise EthError("second Status message")
        self.remote_status = st
        self.cancel("status_timeout")
        error = self._status_error(st)
        view = {"side": "remote", **status_json(st), "accepted": error is None}
        if error:
            view["error"] = error
        self.emit("eth_status", view)
        if error:
            raise EthError(error)

    def _status_error(self, st: Status) -> str | None:
        """Why go-ethereum's ``readStatus`` would reject ``st``, or None."""
        if st.version != self.version:
            return f"protocol version mismatch: {st.version} != {self.version}"
        if st.network_id != self.chain.network_id:
            return f"network id mismatch: {st.network_id} (want {self.chain.network_id})"
        if st.genesis != self.chain.genesis_hash:
            return f"genesis mismatch: {st.genesis.hex()}"
        try:
            validate(self.chain, self.head_number, self.head_time, st.fork_id.hash, st.fork_id.next)
        except ForkIdError as exc:
            return f"fork id rejected: {exc}"
        return None

    def on_NewPooledTransactionHashes(self, msg: NewPooledTransactionHashes):
        self._need_status(msg)
        if not len(msg.types) == len(msg.sizes) == len(msg.hashes):
            # go-ethereum eth/protocols/eth/handlers.go handleNewPooledTransactionHashes
            raise EthError(f"NewPooledTransactionHashes: {len(msg.types)} types, {len(msg.sizes)} sizes, "
                           f"{len(msg.hashes)} hashes")

    def on_GetBlockHeaders(self, msg: GetBlockHeaders):
        self._need_status(msg)
        origin = msg.query.origin
        if len(origin) != 32 and (len(origin) > 8 or origin[:1] == b"\x00"):
            # go-ethereum eth/protocols/eth/protocol.go HashOrNumber.DecodeRLP
            raise EthError(f"GetBlockHeaders origin of {len(origin)} bytes")
        self._answer(msg)

    def on_GetBlockBodies(self, msg: GetBlockBodies):
        self._need_status(msg)
        self._answer(msg)

    def on_GetPooledTransactions(self, msg: GetPooledTransactions):
        self._need_status(msg)
        self._answer(msg)

    def on_GetReceipts(self, msg: GetReceipts):
        self._need_status(msg)
        self._answer(msg)

    def _answer(self, request) -> None:
        """We hold no chain data: the response is empty, with the request's id."""
        self.send(RESPONSES[type(request)](request.request_id, ()))

    def peer_info(self):
        st = self.remote_status
        if st is None:
            return None
        return {"version": st.version, "difficulty": st.td, "head": "0x" + st.head.hex()}
