"""EIP-2124 fork identifiers (go-ethereum core/forkid/forkid.go).

``FORK_HASH`` = CRC32 (IEEE) of the genesis hash, updated with each fork block number or
timestamp already passed, as 8-byte big-endian integers; ``FORK_NEXT`` = the next scheduled
fork (block or time) or 0.  Block forks come first, then time forks; duplicates and forks at
0 are skipped (go-ethereum ``gatherForks``).

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
    """What eth/68 needs of a chain: ``network_id``; ``genesis_hash`` (32 raw bytes);
    ``genesis_td`` (total difficulty at genesis); ``fork_blocks`` and ``fork_times``
    (block numbers and unix timestamps of forks, ascending); ``genesis_time``."""

    name: str
    network_id: int
    genesis_hash: bytes
    genesis_td: int
    fork_blocks: tuple[int, ...] = ()
    fork_times: tuple[int, ...] = ()
    genesis_time: int = 0

    def forks(self) -> tuple[list[int], list[int]]:
        """(block forks, time forks), sorted, without duplicates or forks at genesis."""
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
    """Check a remote fork id against our head; raise :class:`ForkIdError` if incompatible."""
    blocks, times = chain.forks()
    forks = [(b, False) for b in blocks] + [(t, True) for t in times]
    crc = zlib.crc32(chain.genesis_hash)
    sums = [crc]
    for f, _ in forks:
        crc = _update(crc, f)
        sums.append(crc)
    passed = sum(1 for f, is_time in forks if (head_time if is_time else head_number) >= f)
    remote = int.from_bytes(remote_hash, "big") if len(remote_hash) == 4 else None
    if remote is None:
        raise ForkIdError("fork hash must be 4 bytes")
    # rule 1: same fork as ours now
    if remote == sums[passed]:
        # a next fork the remote announces that has already passed for us: different chain
        if remote_next > 0 and (head_number >= remote_next or
                                (remote_next > TIMESTAMP_THRESHOLD and head_time >= remote_next)):
            raise ForkIdError(f"remote announces fork at {remote_next}, already passed locally")
        return
    # rule 2: one of our past forks; its next must be the fork that followed
    for i in range(passed):
        if remote == sums[i]:
            if remote_next != forks[i][0]:
                raise ForkIdError("remote is stale: its next fork differs from ours")
            return
    # rule 3: a fork ahead of us
    for i in range(passed + 1, len(sums)):
        if remote == sums[i]:
            return
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
    # Shanghai, Cancun, Prague, Osaka (go-ethereum params/config.go MainnetChainConfig)
    fork_times=(1681338455, 1710338135, 1746612311, 1764798551),
)
"""Ethereum mainnet's fork schedule (EIP-2124 test vectors use the same data)."""
