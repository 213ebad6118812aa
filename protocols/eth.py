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
  PooledTransactions, GetReceipts -> Receipts.  Announcements are ignored.

Options: ``chain`` = "mainnet" (default) or a mapping ``{name, network_id, genesis_hash (hex),
genesis_td, fork_blocks: [..], fork_times: [..], genesis_time}``; ``status_timeout_s``.
"""

from __future__ import annotations

import rlp
from rlp.exceptions import DecodingError, DeserializationError

from actors.protocol import Protocol
from rlpx.disc import DiscReason

from .forkid import MAINNET, ChainConfig, ForkIdError, fork_id, validate

STATUS, NEW_BLOCK_HASHES, TRANSACTIONS = 0x00, 0x01, 0x02
GET_BLOCK_HEADERS, BLOCK_HEADERS, GET_BLOCK_BODIES, BLOCK_BODIES, NEW_BLOCK = 0x03, 0x04, 0x05, 0x06, 0x07
NEW_POOLED_TX_HASHES, GET_POOLED_TXS, POOLED_TXS = 0x08, 0x09, 0x0A
GET_RECEIPTS, RECEIPTS = 0x0F, 0x10
LENGTH = 17
"""eth/68 message codes (devp2p caps/eth.md)."""

RESPONSES = {GET_BLOCK_HEADERS: BLOCK_HEADERS, GET_BLOCK_BODIES: BLOCK_BODIES,
             GET_POOLED_TXS: POOLED_TXS, GET_RECEIPTS: RECEIPTS}
"""Request code -> response code; we answer each with an empty list."""


class EthError(Exception):
    """The remote broke eth/68 (bad Status, mismatch, malformed message)."""


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


def _uint(item, what) -> int:
    if not isinstance(item, bytes) or len(item) > 32:
        raise EthError(f"{what} is not an integer")
    return int.from_bytes(item, "big")


def decode_status(payload: bytes) -> dict:
    """Decode an eth/68 Status payload into a dict; raise :class:`EthError`."""
    try:
        items = rlp.decode(payload, strict=False)
    except (DecodingError, DeserializationError, RecursionError) as exc:  # pyrlp recurses per nesting level
        raise EthError(f"malformed Status: {type(exc).__name__}: {exc}") from None
    if not isinstance(items, list) or len(items) < 6:
        raise EthError("Status must be a list of at least 6 items")
    fid = items[5]
    if not isinstance(fid, list) or len(fid) < 2 or not isinstance(fid[0], bytes) or len(fid[0]) != 4:
        raise EthError("Status fork id must be [4-byte hash, next]")
    for i, what in ((3, "head hash"), (4, "genesis hash")):
        if not isinstance(items[i], bytes) or len(items[i]) != 32:
            raise EthError(f"Status {what} must be 32 bytes")
    return {"version": _uint(items[0], "version"), "network_id": _uint(items[1], "network id"),
            "td": _uint(items[2], "total difficulty"), "head": items[3], "genesis": items[4],
            "fork_hash": fid[0], "fork_next": _uint(fid[1], "fork next")}


class EthProtocol(Protocol):
    """eth/68 for a node without chain data."""

    OPTIONS = {"chain": (object, None), "status_timeout_s": (float, 0)}

    @classmethod
    def validate_options(cls, options: dict) -> None:
        """Raise ValueError for a bad ``chain`` option (called by config/loader.py)."""
        chain_from_option(options.get("chain"))

    def started(self):
        self.chain = chain_from_option(self.options.get("chain"))
        self.head_number, self.head_time = 0, self.chain.genesis_time
        self.remote_status = None
        fh, nxt = fork_id(self.chain, self.head_number, self.head_time)
        self.local_status = [self.version, self.chain.network_id, self.chain.genesis_td, self.chain.genesis_hash,
                             self.chain.genesis_hash, [fh, nxt]]
        self.send(STATUS, rlp.encode(self.local_status))
        self.emit("eth_status", {"side": "local", **self._status_json(self.local_status)})
        self.after("status_timeout", float(self.options.get("status_timeout_s", 5.0)))

    @staticmethod
    def _status_json(st) -> dict:
        return {"version": st[0], "network_id": st[1], "td": st[2], "head": st[3].hex(), "genesis": st[4].hex(),
                "fork_id": [st[5][0].hex(), st[5][1]]}

    def on_timer(self, name):
        if name == "status_timeout" and self.running and self.remote_status is None:
            self.disconnect(DiscReason.READ_TIMEOUT, "no eth Status within the handshake timeout")

    def received(self, code, payload):
        if self.remote_status is None:
            if code != STATUS:
                raise EthError(f"first eth message must be Status, got code {code}")
            self._on_status(payload)
            return
        if code == STATUS:
            raise EthError("second Status message")
        if code in RESPONSES:
            self._answer(code, payload)

    def _on_status(self, payload):
        st = decode_status(payload)
        self.remote_status = st
        self.timers.cancel("status_timeout")
        view = {"side": "remote", "version": st["version"], "network_id": st["network_id"], "td": st["td"],
                "head": st["head"].hex(), "genesis": st["genesis"].hex(),
                "fork_id": [st["fork_hash"].hex(), st["fork_next"]]}
        error = None
        if st["version"] != self.version:
            error = f"protocol version mismatch: {st['version']} != {self.version}"
        elif st["network_id"] != self.chain.network_id:
            error = f"network id mismatch: {st['network_id']} (want {self.chain.network_id})"
        elif st["genesis"] != self.chain.genesis_hash:
            error = f"genesis mismatch: {st['genesis'].hex()}"
        else:
            try:
                validate(self.chain, self.head_number, self.head_time, st["fork_hash"], st["fork_next"])
            except ForkIdError as exc:
                error = f"fork id rejected: {exc}"
        view["accepted"] = error is None
        if error:
            view["error"] = error
        self.emit("eth_status", view)
        if error:
            raise EthError(error)

    def _answer(self, code, payload):
        try:
            items = rlp.decode(payload, strict=False)
        except (DecodingError, DeserializationError, RecursionError) as exc:  # as in decode_status
            raise EthError(f"malformed request {code}: {type(exc).__name__}: {exc}") from None
        if not isinstance(items, list) or not items or not isinstance(items[0], bytes):
            raise EthError(f"request {code} without request id")
        self.send(RESPONSES[code], rlp.encode([items[0], []]))

    def peer_info(self):
        st = self.remote_status
        if st is None:
            return None
        return {"version": st["version"], "difficulty": st["td"], "head": "0x" + st["head"].hex()}
