"""protocols/eth.py without an actor system: Status decoding and the `chain` option."""

import pytest
import rlp

from config.loader import ConfigError, load_text
from protocols.eth import EthError, chain_from_option, decode_status
from protocols.forkid import MAINNET

G = MAINNET.genesis_hash


def status(**over):
    fields = {"version": 68, "net": 1, "td": 17179869184, "head": G, "genesis": G, "fid": [b"\xfc\x64\xec\x04", 1150000]}
    fields.update(over)
    return rlp.encode([fields["version"], fields["net"], fields["td"], fields["head"], fields["genesis"], fields["fid"]])


def test_decode_status():
    st = decode_status(status())
    assert (st["version"], st["network_id"], st["td"], st["genesis"]) == (68, 1, 17179869184, G)
    assert (st["fork_hash"].hex(), st["fork_next"]) == ("fc64ec04", 1150000)


@pytest.mark.parametrize("payload", [
    b"\xc0", b"\x01\x02", rlp.encode([68, 1]), status(genesis=b"\x01" * 31), status(fid=[b"\x01\x02", 0]),
    status(fid=b"abcd"), status(head=[b"x"]),
])
def test_bad_status_raises(payload):
    with pytest.raises(EthError):
        decode_status(payload)


def test_chain_option():
    assert chain_from_option(None) is MAINNET and chain_from_option("mainnet") is MAINNET
    c = chain_from_option({"network_id": 7, "genesis_hash": "0x" + "ab" * 32, "fork_blocks": [5, 10]})
    assert (c.network_id, c.genesis_hash, c.fork_blocks) == (7, b"\xab" * 32, (5, 10))
    for bad in ("sepolia", 5, {"network_id": 1}, {"network_id": 1, "genesis_hash": "00"},
                {"network_id": -1, "genesis_hash": "ab" * 32}, {"network_id": 1, "genesis_hash": "ab" * 32, "x": 1},
                {"network_id": 1, "genesis_hash": "ab" * 32, "fork_times": ["soon"]}):
        with pytest.raises(ValueError):
            chain_from_option(bad)


def test_config_rejects_bad_chain(tmp_path):
    with pytest.raises(ConfigError) as info:
        load_text("node: {name: a, protocols: [{name: eth, version: 68, chain: {network_id: 1}}]}", str(tmp_path))
    assert info.value.path == "node.protocols[0]" and "genesis_hash" in str(info.value)
    cfg = load_text("node: {name: a, protocols: [{name: eth, version: 68, chain: {network_id: 9, "
                    "genesis_hash: '" + "cd" * 32 + "', fork_blocks: [1, 2]}}]}", str(tmp_path))
    assert dict(cfg.nodes[0].protocols[0].options)["chain"]["network_id"] == 9


def test_deeply_nested_status_is_an_eth_error():
    item = b"\xc0"
    for _ in range(1000):  # deeper than the recursion limit pyrlp's decoder runs into
        item = rlp.codec.length_prefix(len(item), 0xC0) + item
    with pytest.raises(EthError, match="RecursionError"):
        decode_status(item)
