"""protocols/forkid.py against EIP-2124's mainnet vectors and validation rules."""

import pytest

from protocols.forkid import MAINNET, ChainConfig, ForkIdError, fork_id, validate

# (head block, head time) -> (fork hash, next): EIP-2124 / go-ethereum core/forkid tests, mainnet
VECTORS = [
    ((0, 0), ("fc64ec04", 1150000)),
    ((1149999, 0), ("fc64ec04", 1150000)),
    ((1150000, 0), ("97c2c34c", 1920000)),
    ((1920000, 0), ("91d1f948", 2463000)),
    ((2463000, 0), ("7a64da13", 2675000)),
    ((2675000, 0), ("3edd5b10", 4370000)),
    ((4370000, 0), ("a00bc324", 7280000)),
    ((7280000, 0), ("668db0af", 9069000)),
    ((9069000, 0), ("879d6e30", 9200000)),
    ((9200000, 0), ("e029e991", 12244000)),
    ((12244000, 0), ("0eb440f6", 12965000)),
    ((12965000, 0), ("b715077d", 13773000)),
    ((13773000, 0), ("20c327fc", 15050000)),
    ((15050000, 0), ("f0afd0e3", 1681338455)),
    ((20000000, 1681338455), ("dce96c2d", 1710338135)),
    ((20000000, 1710338135), ("9f3d2254", 1746612311)),
    ((20000000, 1746612311), ("c376cf8b", 1764798551)),
]


@pytest.mark.parametrize("head, want", VECTORS)
def test_mainnet_fork_ids(head, want):
    h, nxt = fork_id(MAINNET, *head)
    assert (h.hex(), nxt) == want


def H(x):
    return bytes.fromhex(x)


def test_validation_rules_at_genesis_head():
    # same fork, remote's next is ours: accept
    validate(MAINNET, 0, 0, H("fc64ec04"), 1150000)
    # same fork, remote announces a fork we have not passed: accept (rule 1)
    validate(MAINNET, 0, 0, H("fc64ec04"), 1200000)
    # remote ahead of us on our chain (we are syncing): accept (rule 3)
    validate(MAINNET, 0, 0, H("c376cf8b"), 0)
    validate(MAINNET, 0, 0, H("9f3d2254"), 1746612311)
    # unknown hash: reject (rule 4)
    with pytest.raises(ForkIdError):
        validate(MAINNET, 0, 0, H("deadbeef"), 0)


def test_validation_rules_at_later_head():
    head = (7987396, 0)  # a Petersburg head, as in EIP-2124's examples
    validate(MAINNET, *head, H("668db0af"), 0)
    # remote still syncing at an earlier fork, announcing the right next fork: accept (rule 2)
    validate(MAINNET, *head, H("a00bc324"), 7280000)
    # earlier fork but wrong next: remote stale -> reject
    with pytest.raises(ForkIdError):
        validate(MAINNET, *head, H("a00bc324"), 7279999)
    # same fork, remote's next already passed locally: reject (rule 1)
    with pytest.raises(ForkIdError):
        validate(MAINNET, *head, H("668db0af"), 7987396)
    # timestamp forks: remote next is a time in our past
    with pytest.raises(ForkIdError):
        validate(MAINNET, 20000000, 1750000000, H("c376cf8b"), 1746612311)


def test_custom_chain_without_forks():
    chain = ChainConfig("dev", 1337, b"\x11" * 32, 1)
    h, nxt = fork_id(chain, 0, 0)
    assert nxt == 0 and len(h) == 4
    validate(chain, 0, 0, h, 0)
    with pytest.raises(ForkIdError):
        validate(chain, 0, 0, b"\0\0\0\0", 0)
