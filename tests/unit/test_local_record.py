"""node/local_record.py: our ENR from a node's config, with seq bumped only on change."""

from __future__ import annotations

import time

import pytest

from config.model import NodeConfig, ProtocolConfig
from discovery.enr import parse_text
from node.local_record import enr_for, protocol_entries
from protocols.eth.protocol import EthOptions
from protocols.forkid import fork_id
from support.eth_chain import write_chain
from rlpx.keys import generate_private_key, node_id_from_private_key


def cfg(**kw) -> NodeConfig:
    return NodeConfig(name="n", private_key=kw.pop("key", None) or generate_private_key(), **kw)


def test_record_from_config():
    c = cfg(listen_host="0.0.0.0", listen_port=0)
    r = enr_for(c, 30399, first_seq=3)
    assert r.seq == 3 and (r.ip, r.tcp, r.udp, r.eth) == ("127.0.0.1", 30399, 30399, None)
    assert r.node_id == node_id_from_private_key(c.private_key)
    assert parse_text(r.text()) == r


def test_first_seq_defaults_to_milliseconds():
    before = int(time.time() * 1000)
    r = enr_for(cfg(), 30303)
    assert before <= r.seq <= int(time.time() * 1000)


def test_seq_bumped_when_address_or_fork_id_changes():
    c = cfg(listen_host="10.0.0.2")
    r1 = enr_for(c, 30303, first_seq=10)
    assert enr_for(c, 30303, old=r1) is r1
    r2 = enr_for(c, 30304, old=r1)
    assert r2.seq == 11 and r2.tcp == 30304
    r3 = enr_for(c, 30304, fork_id=(bytes.fromhex("fc64ec04"), 1150000), old=r2)
    assert r3.seq == 12 and r3.eth == (bytes.fromhex("fc64ec04"), 1150000)
    assert enr_for(c, 30304, fork_id=(bytes.fromhex("fc64ec04"), 1150000), old=r3) is r3


def test_ipv6_and_no_listen():
    r = enr_for(cfg(listen_host="::1"), 30303, first_seq=1)
    assert (r.ip, r.ip6, r.tcp6, r.udp6) == (None, "::1", 30303, 30303)
    r = enr_for(cfg(no_listen=True), 0, first_seq=1)
    assert (r.ip, r.tcp, r.udp) == ("127.0.0.1", None, None)
    r = enr_for(cfg(), 30303, udp_port=30301, first_seq=1)
    assert (r.tcp, r.udp) == (30303, 30301)


def test_protocol_entries_give_the_eth_fork_id_at_the_chain_head(tmp_path):
    opts = write_chain(tmp_path, 600)  # head 599, time 5990: past the genesis' Cancun at 5000
    eth = ProtocolConfig("eth", 69, tuple(opts.items()))
    entries = protocol_entries(cfg(protocols=(ProtocolConfig("test", 1, (("echo", True),)), eth)))
    chain = EthOptions(**opts).chain_config
    assert entries == {"eth": fork_id(chain, 599, 5990)}
    assert entries["eth"] != fork_id(chain, 0, 0)  # the head's, not the genesis'
    assert entries["eth"].next == 0
    # mainnet without a chain file: the genesis fork id (EIP-2124's first test vector)
    mainnet = protocol_entries(cfg(protocols=(ProtocolConfig("eth", 70, ()), ProtocolConfig("eth", 69, ()))))
    assert mainnet == {"eth": (bytes.fromhex("fc64ec04"), 1150000)}
    assert protocol_entries(cfg(protocols=(ProtocolConfig("test", 1, ()),))) == {}


def test_protocol_entries_name_the_protocol_whose_chain_cannot_be_read(tmp_path):
    opts = write_chain(tmp_path, 5)
    eth = ProtocolConfig("eth", 69, tuple({**opts, "chain_file": str(tmp_path / "missing.rlp")}.items()))
    with pytest.raises(ValueError, match="eth/69"):
        protocol_entries(cfg(protocols=(eth,)))


def test_nat_extip_is_the_address_of_the_record():
    """go-ethereum --nat extip:<IP>: the record advertises that IP, not the listen host."""
    r = enr_for(cfg(listen_host="0.0.0.0", nat_ip="203.0.113.7"), 30303, first_seq=1)
    assert (r.ip, r.tcp, r.udp) == ("203.0.113.7", 30303, 30303)
