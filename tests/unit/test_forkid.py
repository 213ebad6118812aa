"""protocols/forkid.py against EIP-2124's vectors and go-ethereum core/forkid/forkid_test.go."""

import dataclasses
import zlib

import pytest

from protocols.forkid import BUILTIN_CHAINS, HOODI, MAINNET, SEPOLIA, ChainConfig, ForkIdError, fork_id, validate

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


# go-ethereum core/forkid/forkid_test.go TestCreation (master of 2026-08-20): (head block, head
# time) -> (fork hash, next) for mainnet (with BPO1 and BPO2), Sepolia and Hoodi.
CREATION = {
    "mainnet": [
        ((15050000, 0), ("f0afd0e3", 1681338455)), ((20000000, 1681338454), ("f0afd0e3", 1681338455)),
        ((20000000, 1681338455), ("dce96c2d", 1710338135)), ((30000000, 1710338134), ("dce96c2d", 1710338135)),
        ((30000000, 1710338135), ("9f3d2254", 1746612311)), ((30000000, 1746022486), ("9f3d2254", 1746612311)),
        ((30000000, 1746612311), ("c376cf8b", 1764798551)), ((30000000, 1764798550), ("c376cf8b", 1764798551)),
        ((30000000, 1764798551), ("5167e2a6", 1765290071)), ((30000000, 1765290070), ("5167e2a6", 1765290071)),
        ((30000000, 1765290071), ("cba2a1c0", 1767747671)), ((30000000, 1767747670), ("cba2a1c0", 1767747671)),
        ((30000000, 1767747671), ("07c9462e", 0)), ((50000000, 2000000000), ("07c9462e", 0)),
    ],
    "sepolia": [
        ((0, 0), ("fe3366e7", 1735371)), ((1735370, 0), ("fe3366e7", 1735371)),
        ((1735371, 0), ("b96cbd13", 1677557088)), ((1735372, 1677557087), ("b96cbd13", 1677557088)),
        ((1735372, 1677557088), ("f7f9bc08", 1706655072)), ((1735372, 1706655071), ("f7f9bc08", 1706655072)),
        ((1735372, 1706655072), ("88cf81d9", 1741159776)), ((1735372, 1741159775), ("88cf81d9", 1741159776)),
        ((1735372, 1741159776), ("ed88b5fd", 1760427360)), ((1735372, 1760427359), ("ed88b5fd", 1760427360)),
        ((1735372, 1760427360), ("e2ae4999", 1761017184)), ((1735372, 1761017183), ("e2ae4999", 1761017184)),
        ((1735372, 1761017184), ("56078a1e", 1761607008)), ((1735372, 1761607007), ("56078a1e", 1761607008)),
        ((1735372, 1761607008), ("268956b6", 0)), ((1735372, 2000000000), ("268956b6", 0)),
    ],
    "hoodi": [
        ((0, 0), ("bef71d30", 1742999832)), ((123, 1742999831), ("bef71d30", 1742999832)),
        ((123, 1742999832), ("0929e24e", 1761677592)), ((123, 1761677591), ("0929e24e", 1761677592)),
        ((123, 1761677592), ("e7e0e7ff", 1762365720)), ((123, 1762365719), ("e7e0e7ff", 1762365720)),
        ((123, 1762365720), ("3893353e", 1762955544)), ((123, 1762955543), ("3893353e", 1762955544)),
        ((123, 1762955544), ("23aa1351", 0)), ((123, 2000000000), ("23aa1351", 0)),
    ],
}


@pytest.mark.parametrize("name, head, want", [(n, h, w) for n, cases in CREATION.items() for h, w in cases])
def test_builtin_chain_fork_ids(name, head, want):
    h, nxt = fork_id(BUILTIN_CHAINS[name], *head)
    assert (h.hex(), nxt) == want


@pytest.mark.parametrize("chain, want", [(MAINNET, ("fc64ec04", 1150000)), (SEPOLIA, ("fe3366e7", 1735371)),
                                         (HOODI, ("bef71d30", 1742999832))])
def test_builtin_chains_at_their_genesis_head(chain, want):
    """What a chain-less node announces: head 0 at the genesis timestamp."""
    h, nxt = fork_id(chain, 0, chain.genesis_time)
    assert (h.hex(), nxt) == want
    validate(chain, 0, chain.genesis_time, h, nxt)


LEGACY = dataclasses.replace(MAINNET, fork_times=())
"""Mainnet without time forks: TestValidation's ``legacyConfig``."""

U64 = 2 ** 64 - 1


def _sum(base: str, fork: int) -> str:
    """go-ethereum's checksumUpdate(base, fork) as hex."""
    return zlib.crc32(fork.to_bytes(8, "big"), int(base, 16)).to_bytes(4, "big").hex()


# go-ethereum core/forkid/forkid_test.go TestValidation: (chain, head, time, hash, next, accepted)
VALIDATION = [
    (LEGACY, 15050000, 0, "f0afd0e3", 0, True), (LEGACY, 15050000, 0, "f0afd0e3", U64, True),
    (LEGACY, 7279999, 0, "a00bc324", 0, True), (LEGACY, 7279999, 0, "a00bc324", 7280000, True),
    (LEGACY, 7279999, 0, "a00bc324", U64, True), (LEGACY, 7280000, 0, "a00bc324", 7280000, True),
    (LEGACY, 7987396, 0, "a00bc324", 7280000, True), (LEGACY, 7987396, 0, "3edd5b10", 4370000, True),
    (LEGACY, 7279999, 0, "668db0af", 0, True), (LEGACY, 4369999, 0, "a00bc324", 0, True),
    (LEGACY, 7987396, 0, "a00bc324", 0, False), (LEGACY, 7987396, 0, "5cddc0e1", 0, False),
    (LEGACY, 7279999, 0, "5cddc0e1", 0, False), (LEGACY, 7987396, 0, "afec6b27", 0, False),
    (LEGACY, 88888888, 0, "f0afd0e3", 88888888, False), (LEGACY, 7279999, 0, "a00bc324", 7279999, False),
    (MAINNET, 15050000, 0, "f0afd0e3", 0, True), (MAINNET, 15050000, 0, "f0afd0e3", 1681338455, True),
    (MAINNET, 15050000, 0, "f0afd0e3", U64, True), (MAINNET, 20000000, 1681338455, "f0afd0e3", 1681338455, True),
    (MAINNET, 20123456, 1681338456, "f0afd0e3", 1681338455, True),
    (MAINNET, 20000000, 1681338455, "20c327fc", 15050000, True), (MAINNET, 15050000, 0, "dce96c2d", 0, True),
    (MAINNET, 13773000, 0, "f0afd0e3", 0, True), (MAINNET, 20000000, 1681338455, "f0afd0e3", 0, False),
    (MAINNET, 15050000, 0, _sum("f0afd0e3", U64), 0, False), (MAINNET, 15050000, 0, _sum("dce96c2d", U64), 0, False),
    (MAINNET, 888888888, 1660000000, "f0afd0e3", 1660000000, False),
    (MAINNET, 19999999, 1667999999, "f0afd0e3", 1667999999, False),
    (MAINNET, 20000000, 1681338455, "dce96c2d", 0, True), (MAINNET, 20000000, 1681338455, "dce96c2d", U64, True),
    (MAINNET, 20000000, 1668000000, "dce96c2d", 0, True), (MAINNET, 20000000, 1668000000, "dce96c2d", 1710338135, True),
    (MAINNET, 20000000, 1668000000, "dce96c2d", U64, True),
    (MAINNET, 21000000, 1710338135, "dce96c2d", 1710338135, True),
    (MAINNET, 21123456, 1710338136, "dce96c2d", 1710338135, True), (MAINNET, 0, 0, "3edd5b10", 1710338135, True),
    (MAINNET, 21000000, 1700000000, "9f3d2254", 0, True), (MAINNET, 21000000, 1678000000, "c376cf8b", 0, True),
    (MAINNET, 21000000, 1710338135, "dce96c2d", 0, False),
    (MAINNET, 20000000, 1681338455, _sum("dce96c2d", U64), 0, False),
    (MAINNET, 20000000, 1668000000, _sum("9f3d2254", U64), 0, False),
    (MAINNET, 20000000, 1681338455, "12345678", 0, False), (MAINNET, 88888888, 8888888888, "07c9462e", 8888888888, False),
    (MAINNET, 20999999, 1699999999, "71147644", 1700000000, False),
]


@pytest.mark.parametrize("chain, head, time, fhash, nxt, ok", VALIDATION)
def test_go_ethereum_validation_table(chain, head, time, fhash, nxt, ok):
    if ok:
        validate(chain, head, time, H(fhash), nxt)
    else:
        with pytest.raises(ForkIdError):
            validate(chain, head, time, H(fhash), nxt)


def test_time_forks_at_or_before_genesis_are_skipped():
    """go-ethereum forkid_test.go TestTimeBasedForkInGenesis: Shanghai before, at or after the genesis
    time; only forks after it count."""
    t, g = 1690475657, b"\x42" * 32
    base = zlib.crc32(g).to_bytes(4, "big")
    for shanghai, cancun in ((t - 1, t + 1), (t, t + 1), (t + 1, t + 2)):
        chain = ChainConfig("x", 1337, g, 0, (0,) * 12, (shanghai, cancun), genesis_time=t)
        assert fork_id(chain, 0, t) == (base, t + 1)
