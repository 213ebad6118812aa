"""node/dial_filter.py: which found nodes may be dialled, from the protocols' record filters
(go-ethereum eth/protocols/eth/discovery.go NewNodeFilter, p2p/server.go setupDiscovery)."""

from __future__ import annotations

from config.model import NodeConfig, ProtocolConfig
from discovery.enr import build
from node.dial_filter import dial_filter
from rlpx.keys import generate_private_key

MAINNET_GENESIS = (bytes.fromhex("fc64ec04"), 1150000)
"""mainnet's fork id at genesis (EIP-2124's first test vector)."""


def cfg(*protocols) -> NodeConfig:
    return NodeConfig("a", generate_private_key(), protocols=tuple(protocols))


def record(**entries):
    return build(generate_private_key(), 1, ip="127.0.0.1", tcp=30303, udp=30303, **entries)


def test_without_a_filtering_protocol_every_node_is_a_candidate():
    assert dial_filter(cfg(ProtocolConfig("test", 1, (("echo", True),)))) is None
    assert dial_filter(cfg()) is None


def test_eth_keeps_only_records_with_a_fork_id_our_chain_accepts():
    keep = dial_filter(cfg(ProtocolConfig("test", 1, ()), ProtocolConfig("eth", 69, ()), ProtocolConfig("eth", 70, ())))
    assert keep is not None
    assert keep(record(eth=MAINNET_GENESIS)) is True
    assert keep(record(eth=(bytes.fromhex("fc64ec04"), 0))) is True  # same checksum, no next announced
    assert keep(record(eth=(bytes.fromhex("deadbeef"), 0))) is False  # another chain
    assert keep(record()) is False  # no eth entry
    assert keep(None) is False  # no record known


def test_a_sepolia_node_is_not_kept_by_a_mainnet_node():
    sepolia = dial_filter(cfg(ProtocolConfig("eth", 69, (("chain", "sepolia"),))))
    assert sepolia(record(eth=MAINNET_GENESIS)) is False
