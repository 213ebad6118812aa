"""EIP-2124 fork identifiers (go-ethereum core/forkid/forkid.go) and the built-in chains.

``FORK_HASH`` = CRC32 (IEEE) of the genesis hash, updated with each fork block number or
timestamp already passed, as 8-byte big-endian integers; ``FORK_NEXT`` = the next scheduled
fork (block or time) or 0.  Block forks come first, then time forks; duplicates, block forks
at 0 and time forks at or before the genesis timestamp are skipped (go-ethereum ``gatherForks``).

Validation of a remote (hash, next) against our head follows EIP-2124's rules:
  1. same hash as ours now: reject if the remote's next fork has already passed locally;
  2. hash of one of our past forks (remote is syncing): accept only if its next equals the
     fork that followed that point in our schedule;
  3. hash of a fork still ahead of us (we are syncing): accept;
  4. otherwise reject.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass


@dataclass(frozen=True)
class ChainConfig:
    """What the eth protocols need of a chain: ``network_id`` (go-ethereum uses the chainId);
    ``genesis_hash`` (32 raw bytes); ``genesis_td`` (total difficulty at genesis, eth/68's Status
    only); ``fork_blocks`` and ``fork_times`` (block numbers and unix timestamps of forks, in any
    order, duplicates allowed); ``genesis_time`` (unix seconds, the genesis header's timestamp)."""

    name: str
    network_id: int
    genesis_hash: bytes
    genesis_td: int
    fork_blocks: tuple[int, ...] = ()
    fork_times: tuple[int, ...] = ()
    genesis_time: int = 0

    def forks(self) -> tuple[list[int], list[int]]:
        """(block forks, time forks), sorted, without duplicates, block forks at 0 or time forks at
        or before ``genesis_time`` (go-ethereum core/forkid/forkid.go ``gatherForks``)."""
        blocks = sorted({b for b in self.fork_blocks if b > 0})
        times = sorted({t for t in self.fork_times if t > self.genesis_time})
        return blocks, times


TIMESTAMP_THRESHOLD = 1438269973
"""A FORK_NEXT above this is a timestamp, below it a block number (go-ethereum forkid.go,
mainnet's genesis time)."""


class ForkIdError(ValueError):
    """A remote fork id is incompatible with our chain (EIP-2124 rule 1 or 4)."""


def _update(crc: int, fork: int) -> int:
    return zlib.crc32(fork.to_bytes(8, "big"), crc)


def fork_id(chain: ChainConfig, head_number: int, head_time: int) -> tuple[bytes, int]:
    """Our fork id at the given head: (4-byte hash, next fork or 0)."""
    crc = zlib.crc32(chain.genesis_hash)
    blocks, times = chain.forks()
    for b in blocks:
        if b <= head_number:
            crc = _update(crc, b)
        else:
            return crc.to_bytes(4, "big"), b
    for t in times:
        if t <= head_time:
            crc = _update(crc, t)
        else:
            return crc.to_bytes(4, "big"), t
    return crc.to_bytes(4, "big"), 0


def validate(chain: ChainConfig, head_number: int, head_time: int, remote_hash: bytes, remote_next: int) -> None:
    """Check a remote fork id (``remote_hash`` 4 bytes, ``remote_next`` block or time) against our
    head (``head_number``, ``head_time`` unix seconds); raise :class:`ForkIdError` if incompatible.

    The rules of EIP-2124 as go-ethereum's ``newFilter`` (core/forkid/forkid.go) applies them: find
    the first fork not yet passed at our head (block forks compare with the head number, time
    forks with the head time; a never-passed fork at 2**64-1 closes the list); then rule 1 (same
    checksum: reject a ``remote_next`` that our head has passed, as a block number or, above
    :data:`TIMESTAMP_THRESHOLD`, as a time), rule 2 (a past checksum: its next must be the fork
    that followed it), rule 3 (a future checksum: accept), else reject.
    """
    if len(remote_hash) != 4:
        raise ForkIdError("fork hash must be 4 bytes")
    remote = int.from_bytes(remote_hash, "big")
    blocks, times = chain.forks()
    forks = blocks + times
    crc = zlib.crc32(chain.genesis_hash)
    sums = [crc]
    for f in forks:
        crc = _update(crc, f)
        sums.append(crc)
    forks.append(2 ** 64 - 1)  # the last fork is never passed
    block_forks = len(blocks) + (0 if times else 1)  # the closing fork counts as a block fork without times
    for i, fork in enumerate(forks):
        head = head_number if i < block_forks else head_time
        if head >= fork:
            continue
        if sums[i] == remote:  # rule 1: the fork we are in now
            if remote_next > 0 and (head >= remote_next or
                                    (remote_next > TIMESTAMP_THRESHOLD and head_time >= remote_next)):
                raise ForkIdError(f"remote announces fork at {remote_next}, already passed locally")
            return
        for j in range(i):  # rule 2: one of our past forks; its next must be the fork that followed
            if sums[j] == remote:
                if forks[j] != remote_next:
                    raise ForkIdError("remote is stale: its next fork differs from ours")
                return
        if remote in sums[i + 1:]:  # rule 3: a fork still ahead of us (we are syncing)
            return
        break
    raise ForkIdError(f"fork hash {remote_hash.hex()} is not on our chain")


MAINNET = ChainConfig(
    name="mainnet",
    network_id=1,
    genesis_hash=bytes.fromhex("d4e56740f876aef8c010b86a40d5f56745a118d0906a34e69aec8c0db1cb8fa3"),
    genesis_td=17179869184,
    # Homestead, DAO, Tangerine Whistle, Spurious Dragon, Byzantium, Constantinople (= Petersburg),
    # Istanbul, Muir Glacier, Berlin, London, Arrow Glacier, Gray Glacier (go-ethereum params/config.go)
    fork_blocks=(1150000, 1920000, 2463000, 2675000, 4370000, 7280000, 7280000, 9069000, 9200000,
                 12244000, 12965000, 13773000, 15050000),
    # Shanghai, Cancun, Prague, Osaka, BPO1, BPO2 (go-ethereum params/config.go MainnetChainConfig)
    fork_times=(1681338455, 1710338135, 1746612311, 1764798551, 1765290071, 1767747671),
    genesis_time=0,
)
"""Ethereum mainnet (go-ethereum params/config.go ``MainnetChainConfig`` and ``MainnetGenesisHash``;
genesis difficulty 2**34, core/genesis.go ``DefaultGenesisBlock``)."""

SEPOLIA = ChainConfig(
    name="sepolia",
    network_id=11155111,
    genesis_hash=bytes.fromhex("25a5cc106eea7138acab33231d7160d69cb777ee0c2c553fcddf5138993e6dd9"),
    genesis_td=0x20000,
    # every block fork at 0 but MergeNetsplit (go-ethereum params/config.go SepoliaChainConfig)
    fork_blocks=(0, 1735371),
    # Shanghai, Cancun, Prague, Osaka, BPO1, BPO2
    fork_times=(1677557088, 1706655072, 1741159776, 1760427360, 1761017184, 1761607008),
    genesis_time=1633267481,
)
"""Sepolia (go-ethereum params/config.go ``SepoliaChainConfig``, ``SepoliaGenesisHash``; genesis
time and difficulty from core/genesis.go ``DefaultSepoliaGenesisBlock``)."""

HOODI = ChainConfig(
    name="hoodi",
    network_id=560048,
    genesis_hash=bytes.fromhex("bbe312868b376a3001692a646dd2d7d1e4406380dfd86b98aa8a34d1557c971b"),
    genesis_td=1,
    fork_blocks=(0,),  # every block fork, MergeNetsplit included, at 0 (params/config.go HoodiChainConfig)
    # Shanghai and Cancun at 0, then Prague, Osaka, BPO1, BPO2
    fork_times=(0, 0, 1742999832, 1761677592, 1762365720, 1762955544),
    genesis_time=1742212800,
)
"""Hoodi (go-ethereum params/config.go ``HoodiChainConfig``, ``HoodiGenesisHash``; genesis time and
difficulty from core/genesis.go ``DefaultHoodiGenesisBlock``)."""

BUILTIN_CHAINS = {c.name: c for c in (MAINNET, SEPOLIA, HOODI)}
"""The chains a config may name (``chain: sepolia``)."""
