"""The rules of the eth Status exchange and of block ranges (go-ethereum
eth/protocols/eth/handshake.go; devp2p caps/eth.md "Status"; EIP-2124, EIP-7642).

A remote Status is checked, in go-ethereum's order (``readStatus``): network id, protocol
version (must be the negotiated one), genesis hash, fork id (EIP-2124 via
:func:`protocols.forkid.validate`), and from eth/69 on the block range it announces
(:func:`block_range_error`).  Each failed rule is one reason string; the protocol raises
:class:`EthError` with it, which disconnects with SUBPROTOCOL_ERROR (go-ethereum p2p/peer.go
``discReasonForError``).
"""

from __future__ import annotations

from dataclasses import dataclass

from ..api import ProtocolError
from ..forkid import ChainConfig, ForkIdError, validate
from .messages import Status, Status69

STATUS_TIMEOUT_S = 5.0
"""Seconds the remote has to send its Status (go-ethereum handshake.go ``handshakeTimeout``);
past it the peer is disconnected with READ_TIMEOUT."""

ZERO_HASH = b"\x00" * 32


class EthError(ProtocolError):
    """The remote broke the eth protocol (bad or mismatching Status, invalid block range,
    malformed or invalid message); the peer is disconnected with SUBPROTOCOL_ERROR."""


@dataclass(frozen=True)
class BlockRange:
    """The blocks a node serves: ``earliest``..``latest`` (block numbers), ``latest_hash`` the
    32-byte hash of block ``latest`` (EIP-7642; go-ethereum ``BlockRangeUpdatePacket``)."""

    earliest: int
    latest: int
    latest_hash: bytes

    def json(self) -> dict:
        """As go-ethereum's admin_peers shows it (eth/peer.go ``peerBlockRange``)."""
        return {"earliestBlock": self.earliest, "latestBlock": self.latest,
                "latestBlockHash": "0x" + self.latest_hash.hex()}


BLOCK_RANGE_STEP = 32
"""Our BlockRangeUpdate is due once the latest block moved this many blocks on, or at once when
it went back (go-ethereum eth/handler.go ``shouldSend``; EIP-7642: at most once per epoch)."""


def block_range_error(rng: BlockRange) -> str | None:
    """Why go-ethereum's ``BlockRangeUpdatePacket.Validate`` rejects ``rng`` (earliest > latest,
    or an all-zero latest hash), or None.  A range in the future or without old history is fine."""
    if rng.earliest > rng.latest:
        return f"earliest > latest ({rng.earliest} > {rng.latest})"
    if rng.latest_hash == ZERO_HASH:
        return "zero latest hash"
    return None


def block_range_update_due(announced: BlockRange, now: BlockRange) -> bool:
    """Whether ``now`` must be announced to a peer that last heard ``announced``
    (:data:`BLOCK_RANGE_STEP`)."""
    return now.latest < announced.latest or now.latest - announced.latest >= BLOCK_RANGE_STEP


def status_error(st: Status | Status69, version: int, chain: ChainConfig, head_number: int,
                 head_time: int) -> str | None:
    """Why go-ethereum's ``readStatus`` would reject the remote Status ``st`` on a connection of
    eth ``version`` with our ``chain`` at head (``head_number``, ``head_time`` unix seconds), or
    None.  The order of the checks is go-ethereum's."""
    if st.network_id != chain.network_id:
        return f"network id mismatch: {st.network_id} (want {chain.network_id})"
    if st.version != version:
        return f"protocol version mismatch: {st.version} != {version}"
    if st.genesis != chain.genesis_hash:
        return f"genesis mismatch: {st.genesis.hex()} (want {chain.genesis_hash.hex()})"
    try:
        validate(chain, head_number, head_time, st.fork_id.hash, st.fork_id.next)
    except ForkIdError as exc:
        return f"fork id rejected: {exc}"
    if isinstance(st, Status69):
        why = block_range_error(BlockRange(st.earliest, st.latest, st.latest_hash))
        if why:
            return f"invalid block range in status: {why}"
    return None


def status_json(st: Status | Status69) -> dict:
    """A Status as JSON-able data for the ``eth_status`` event (hashes hex without 0x)."""
    out = {"version": st.version, "network_id": st.network_id, "genesis": st.genesis.hex(),
           "fork_id": [st.fork_id.hash.hex(), st.fork_id.next]}
    if isinstance(st, Status69):
        out.update(earliest=st.earliest, latest=st.latest, latest_hash=st.latest_hash.hex())
    else:
        out.update(td=st.td, head=st.head.hex())
    return out
