"""protocols/eth/chains.py and the eth chain options through the config loader: built-in chains,
go-ethereum genesis.json files, chain files, and one clear ConfigError per bad input."""

import json
import os

import pytest
import rlp

from config.loader import ConfigError, load_file, load_text
from protocols.eth import EthProtocol69, chain_from_genesis, genesis_hash_from_chain_file
from protocols.eth.chains import ChainError
from protocols.eth.genesis import genesis_block
from protocols.forkid import HOODI, MAINNET, SEPOLIA, fork_id
from protocols.harness import ProtocolHarness
from rlpx.keys import keccak256

ETHTEST_GENESIS = bytes.fromhex("bd6a252af394d80904c5993b859574bd4669642cea00a116970ec7887db67533")
"""The genesis hash of go-ethereum's cmd/devp2p/internal/ethtest chain (shared/GO_ETHEREUM_FACTS.md §3)."""

ETHTEST_CONFIG = {
    "chainId": 3503995874084926, "homesteadBlock": 0, "eip150Block": 0, "eip155Block": 0, "eip158Block": 0,
    "byzantiumBlock": 0, "constantinopleBlock": 0, "petersburgBlock": 0, "istanbulBlock": 0, "muirGlacierBlock": 0,
    "berlinBlock": 0, "londonBlock": 0, "arrowGlacierBlock": 0, "grayGlacierBlock": 0, "mergeNetsplitBlock": 0,
    "shanghaiTime": 0, "cancunTime": 60, "pragueTime": 120, "terminalTotalDifficulty": 131072,
    "ethash": {}, "blobSchedule": {"cancun": {"target": 3, "max": 6}},
}
"""A config with the ethtest chain's forks (every fork at 0 but Cancun at 60 and Prague at 120)."""


def write_genesis(tmp_path, config=None, name="genesis.json", **top) -> str:
    doc = {"config": dict(ETHTEST_CONFIG if config is None else config), "nonce": "0x0", "timestamp": "0x0",
           "gasLimit": "0x11e1a300", "difficulty": "0x20000", "alloc": {}}
    doc.update(top)
    path = tmp_path / name
    path.write_text(json.dumps(doc))
    return str(path)


def header(number: int, parent: bytes) -> list:
    """A block header's 15 legacy fields with ``parent`` and ``number`` (the rest filler)."""
    fields = [parent, b"\x11" * 32, b"\x22" * 20, b"\x33" * 32, b"\x44" * 32, b"\x55" * 32, b"\x00" * 256, 1,
              number, 30000000, 0, 1000, b"", b"\x00" * 32, b"\x00" * 8]
    return fields


def write_chain(tmp_path, *blocks) -> str:
    path = tmp_path / "chain.rlp"
    path.write_bytes(b"".join(rlp.encode([h, [], []]) for h in blocks))
    return str(path)


def eth_entry(**opts) -> str:
    return "node: {name: a, protocols: [" + json.dumps({"name": "eth", "version": 69, **opts}) + "]}"


def test_ethtest_genesis_gives_go_ethereums_fork_ids(tmp_path):
    chain = chain_from_genesis(write_genesis(tmp_path), ETHTEST_GENESIS)
    assert (chain.network_id, chain.genesis_hash, chain.genesis_time, chain.genesis_td) == (
        3503995874084926, ETHTEST_GENESIS, 0, 0x20000)
    # the values go-ethereum's devp2p eth-test expects (shared/GO_ETHEREUM_FACTS.md §3)
    assert fork_id(chain, 0, 0) == (bytes.fromhex("8fd57d63"), 60)
    assert fork_id(chain, 600, 120) == (bytes.fromhex("377aaa78"), 0)


def test_genesis_hash_from_a_chain_file(tmp_path):
    parent = b"\x5a" * 32
    assert genesis_hash_from_chain_file(write_chain(tmp_path, header(1, parent), header(2, b"\x01" * 32))) == parent
    # a file that starts at the genesis block: block 1's parent hash still
    assert genesis_hash_from_chain_file(write_chain(tmp_path, header(0, b"\x00" * 32), header(1, parent))) == parent


@pytest.mark.parametrize("content, why", [
    (b"", "holds no block 1"), (rlp.encode([header(0, b"\x00" * 32), [], []]), "holds no block 1"),
    (rlp.encode([header(2, b"\x01" * 32), [], []]), "must start with block 0 or 1, found block 2"),
    (rlp.encode([header(1, b"\x01" * 32), [], []])[:-3], "truncated"), (b"\x85hello", "not an RLP list"),
    (rlp.encode([[b"\x01"] * 3, [], []]), "is not a block"), (rlp.encode([header(1, b"\x01" * 31), [], []]),
                                                               "parent hash is not 32 bytes"),
    (b"\xf9\x00\x01\x00", "bad RLP length"),
])
def test_bad_chain_files(tmp_path, content, why):
    path = tmp_path / "chain.rlp"
    path.write_bytes(content)
    with pytest.raises(ChainError, match=why):
        genesis_hash_from_chain_file(str(path))


def test_keys_as_go_ethereum_reads_them(tmp_path):
    config = {"ChainID": 7, "HOMESTEADBLOCK": 5, "londonBlock": None, "shanghaiTime": 1000, "bpo1Time": 2000,
              "somethingNew": "ignored", "terminalTotalDifficulty": 0}
    chain = chain_from_genesis(write_genesis(tmp_path, config, timestamp=1000), b"\x01" * 32)
    assert (chain.network_id, chain.fork_blocks, chain.fork_times, chain.genesis_time) == (7, (5,), (1000, 2000),
                                                                                          1000)
    assert chain.forks() == ([5], [2000])  # Shanghai at the genesis time is not a fork of the id
    assert chain_from_genesis(write_genesis(tmp_path, config, timestamp="1000"), b"\x01" * 32).genesis_time == 1000


@pytest.mark.parametrize("name, chain", [("mainnet", MAINNET), ("sepolia", SEPOLIA), ("hoodi", HOODI)])
def test_builtin_chain_option(tmp_path, name, chain):
    cfg = load_text(eth_entry(chain=name), str(tmp_path), create_keys=False)
    h = ProtocolHarness(EthProtocol69, dict(cfg.nodes[0].protocols[0].options))
    [st] = h.take()
    assert (st.network_id, st.genesis, [st.fork_id.hash, st.fork_id.next]) == (
        chain.network_id, chain.genesis_hash, list(fork_id(chain, 0, chain.genesis_time)))


def test_genesis_option_paths_are_relative_to_the_config_file(tmp_path):
    sub = tmp_path / "conf"
    sub.mkdir()
    genesis = keccak256(genesis_block(write_genesis(sub))[0])  # block 0 is built from it: block 1's parent
    write_chain(sub, header(1, genesis))
    (sub / "node.yaml").write_text(eth_entry(genesis="genesis.json", chain_file="chain.rlp"))
    cwd = os.getcwd()
    os.chdir(tmp_path)  # not the config's directory
    try:
        cfg = load_file(str(sub / "node.yaml"), create_keys=False)
    finally:
        os.chdir(cwd)
    opts = dict(cfg.nodes[0].protocols[0].options)
    assert opts["genesis"] == str(sub / "genesis.json") and opts["chain_file"] == str(sub / "chain.rlp")
    h = ProtocolHarness(EthProtocol69, opts)
    [st] = h.take()
    # the chain's head is block 1, time 1000: past Cancun (60) and Prague (120)
    assert (st.network_id, st.genesis, (st.fork_id.hash, st.fork_id.next), st.latest) == (
        3503995874084926, genesis, fork_id(h.proto.chain, 1, 1000), 1)
    assert os.path.exists(sub / "chain.rlp.sqlite")  # the default database, beside the chain file


GOOD_HASH = "0x" + "ab" * 32


@pytest.mark.parametrize("text, config, opts, key, words", [
    ("{not json", None, {}, "genesis", "is not JSON"),
    ("[1, 2]", None, {}, "genesis", "a genesis file is a JSON object"),
    ('{"alloc": {}}', None, {}, "genesis", "`config` must be an object, and is missing"),
    ('{"config": 5}', None, {}, "genesis", "`config` must be an object"),
    (None, {"homesteadBlock": 0}, {}, "genesis", "config.chainId is missing"),
    (None, {"chainId": "1"}, {}, "genesis", "config.chainId must be an integer"),
    (None, {"chainId": 1, "londonBlock": "0x10"}, {}, "genesis", "config.londonBlock must be an integer"),
    (None, {"chainId": 1, "cancunTime": 1.5}, {}, "genesis", "config.cancunTime must be an integer"),
    (None, {"chainId": 1, "cancunTime": True}, {}, "genesis", "config.cancunTime must be an integer"),
    (None, {"chainId": 1, "berlinBlock": -1}, {}, "genesis", "config.berlinBlock must be between 0"),
    (None, {"chainId": 2 ** 64}, {}, "genesis", "config.chainId must be between 0"),
    (None, {"chainId": 1}, {"timestamp": "soon"}, "genesis", "timestamp must be a hex"),
    (None, {"chainId": 1}, {"difficulty": [1]}, "genesis", "difficulty must be an integer"),
])
def test_bad_genesis_files_are_one_config_error(tmp_path, text, config, opts, key, words):
    if text is None:
        path = write_genesis(tmp_path, config, **opts)
    else:
        path = str(tmp_path / "genesis.json")
        (tmp_path / "genesis.json").write_text(text)
    with pytest.raises(ConfigError) as info:
        load_text(eth_entry(genesis=path, genesis_hash=GOOD_HASH), str(tmp_path), create_keys=False)
    assert info.value.path == f"node.protocols[0].{key}" and words in str(info.value)
    assert len(str(info.value).splitlines()) == 1


def test_genesis_file_that_is_not_utf8_or_missing(tmp_path):
    (tmp_path / "g.json").write_bytes(b"\xff\xfe{}")
    for name, words in (("g.json", "not UTF-8"), ("none.json", "cannot read")):
        with pytest.raises(ConfigError) as info:
            load_text(eth_entry(genesis=name, genesis_hash=GOOD_HASH), str(tmp_path), create_keys=False)
        assert info.value.path == "node.protocols[0].genesis" and words in str(info.value)


@pytest.mark.parametrize("opts, key, words", [
    ({"genesis": "g.json", "genesis_hash": GOOD_HASH, "chain_file": "c.rlp"}, "genesis_hash", "not both"),
    ({"genesis": "g.json", "chain": "mainnet", "genesis_hash": GOOD_HASH}, "chain", "not both"),
    ({"genesis_hash": GOOD_HASH}, "genesis_hash", "only goes with `genesis`"),
    ({"chain_file": "c.rlp"}, "chain_file", "only goes with `genesis`"),
    ({"genesis": "g.json", "genesis_hash": "0x1234"}, "genesis_hash", "32 bytes of hex"),
    ({"genesis": "g.json", "chain_file": "none.rlp"}, "chain_file", "cannot read chain file"),
    ({"genesis": "g.json", "chain_file": "bad.rlp"}, "chain_file", "not an RLP list"),
    ({"genesis": 5, "genesis_hash": GOOD_HASH}, "genesis", "must be a string"),
    ({"chain": "goerli"}, "chain", "unknown chain 'goerli'"),
])
def test_chain_option_combinations(tmp_path, opts, key, words):
    write_genesis(tmp_path, name="g.json")
    (tmp_path / "bad.rlp").write_bytes(b"\x01")
    with pytest.raises(ConfigError) as info:
        load_text(eth_entry(**opts), str(tmp_path), create_keys=False)
    assert info.value.path == f"node.protocols[0].{key}" and words in str(info.value)


def test_genesis_alone_is_the_hash_of_the_block_it_describes(tmp_path):
    """With neither ``genesis_hash`` nor ``chain_file`` the genesis hash is that of the block
    built from the file (go-ethereum Genesis.ToBlock, protocols/eth/genesis.py); a field it
    cannot build the block from is one ConfigError on ``genesis``."""
    path = write_genesis(tmp_path, name="g.json")
    cfg = load_text(eth_entry(genesis="g.json"), str(tmp_path), create_keys=False)
    [st] = ProtocolHarness(EthProtocol69, dict(cfg.nodes[0].protocols[0].options)).take()
    assert st.genesis == keccak256(genesis_block(path)[0]) and st.network_id == 3503995874084926
    write_genesis(tmp_path, name="bad.json", mixHash="0x12")
    with pytest.raises(ConfigError) as info:
        load_text(eth_entry(genesis="bad.json"), str(tmp_path), create_keys=False)
    assert info.value.path == "node.protocols[0].genesis" and "mixHash" in str(info.value)
