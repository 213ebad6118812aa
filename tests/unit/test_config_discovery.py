"""config/loader.py discovery keys: discovery, bootstrap_nodes, discovery_port, node_db, nat
(go-ethereum p2p.Config NoDiscovery, BootstrapNodes, NodeDatabase; geth --discovery.port,
--nat extip); every bad value is a ConfigError naming the key's path."""

from __future__ import annotations

import os

import pytest

from config.loader import ConfigError, load_text
from config.model import NodeConfig
from discovery.enr import build
from rlpx.keys import generate_private_key, node_id_from_private_key

KEY = generate_private_key()
NODE_ID = node_id_from_private_key(KEY)
HEX = NODE_ID.hex()
RECORD = build(KEY, 4, ip="10.0.0.1", tcp=30310, udp=30311).text()
UDP_ONLY = build(KEY, 5, ip="10.0.0.1", udp=30311).text()
NO_UDP = build(KEY, 6, ip="10.0.0.1", tcp=30310).text()
IP6_RECORD = build(KEY, 7, ip6="2001:db8::1", udp6=30312).text()


def load(tmp_path, text):
    return load_text(text, base_dir=str(tmp_path))


def one(tmp_path, body: str) -> NodeConfig:
    return load(tmp_path, "node: {name: a, listen_addr: '127.0.0.1:30303', " + body + "}").nodes[0]


def bad(tmp_path, body: str, path: str, words: str):
    with pytest.raises(ConfigError) as info:
        load(tmp_path, "nodes: [{name: a, listen_addr: '127.0.0.1:30303', " + body + "}]")
    assert info.value.path == f"nodes[0].{path}", str(info.value)
    assert words in info.value.reason, str(info.value)


def test_dataclass_defaults_have_discovery_off():
    cfg = NodeConfig(name="x", private_key=KEY)
    assert cfg.discovery is False and cfg.bootstrap_nodes == () and cfg.discovery_port == 0
    assert cfg.node_db is None and cfg.nat_ip is None


def test_yaml_defaults(tmp_path):
    cfg = one(tmp_path, "")
    assert cfg.discovery is True and cfg.bootstrap_nodes == () and cfg.discovery_port == 0 and cfg.nat_ip is None
    assert cfg.node_db == os.path.join(str(tmp_path), "data", "a.nodes.sqlite")
    assert not os.path.exists(cfg.node_db)  # a path only: the Discovery actor makes the file


def test_good_values(tmp_path):
    cfg = one(tmp_path, f"""discovery: true, discovery_port: 30399, node_db: db/x.sqlite, nat: 'extip:203.0.113.9',
        bootstrap_nodes: ['enode://{HEX}@10.0.0.2:30303', 'enode://{HEX}@10.0.0.2:0?discport=30301',
                          '{RECORD}', '{UDP_ONLY}', '{IP6_RECORD}']""")
    assert cfg.discovery_port == 30399 and cfg.nat_ip == "203.0.113.9"
    assert cfg.node_db == os.path.join(str(tmp_path), "db", "x.sqlite")
    assert cfg.bootstrap_nodes == (f"enode://{HEX}@10.0.0.2:30303", f"enode://{HEX}@10.0.0.2:0?discport=30301",
                                   RECORD, UDP_ONLY, IP6_RECORD)


def test_discovery_off_and_in_memory_db(tmp_path):
    cfg = one(tmp_path, "discovery: false, node_db: ''")
    assert cfg.discovery is False and cfg.node_db is None
    assert one(tmp_path, "node_db: null").node_db is None


def test_absolute_node_db(tmp_path):
    p = str(tmp_path / "abs.sqlite")
    assert one(tmp_path, f"node_db: '{p}'").node_db == p


@pytest.mark.parametrize("value, ip", [
    ("none", None), ("NONE", None), ("off", None), ("''", None), ("null", None),
    ("'extip:10.1.2.3'", "10.1.2.3"), ("'ExtIP:10.1.2.3'", "10.1.2.3"), ("'ip:10.1.2.3'", "10.1.2.3"),
    ("'extip:2001:db8::7'", "2001:db8::7"),
])
def test_nat_good(tmp_path, value, ip):
    assert one(tmp_path, f"nat: {value}").nat_ip == ip


@pytest.mark.parametrize("value, words", [
    ("'extip:'", "missing IP address"),
    ("extip", "missing IP address"),
    ("'extip:10.0.0.300'", "invalid IP address"),
    ("'extip:example.com'", "invalid IP address"),
    ("'extip:0.0.0.0'", "cannot be advertised"),
    ("upnp", "not supported"),
    ("'pmp:10.0.0.1'", "not supported"),
    ("any", "not supported"),
    ("nonsense", "unknown mechanism"),
    ("42", "must be a string"),
    ("[extip]", "must be a string"),
])
def test_nat_bad(tmp_path, value, words):
    bad(tmp_path, f"nat: {value}", "nat", words)


@pytest.mark.parametrize("body, path, words", [
    ("discovery: 'yes'", "discovery", "must be a boolean"),
    ("discovery: 1", "discovery", "must be a boolean"),
    ("discovery_port: 65536", "discovery_port", "<= 65535"),
    ("discovery_port: -1", "discovery_port", ">= 0"),
    ("discovery_port: '30303'", "discovery_port", "must be an integer"),
    ("discovery_port: true", "discovery_port", "must be an integer"),
    ("node_db: 5", "node_db", "must be a string"),
    ("bootstrap_nodes: 'enode://x'", "bootstrap_nodes", "must be a list"),
    ("bootstrap_nodes: [5]", "bootstrap_nodes[0]", "must be a string"),
    ("bootstrap_nodes: ['enode://abc@10.0.0.1:30303']", "bootstrap_nodes[0]", "128 hex"),
    (f"bootstrap_nodes: ['enode://{HEX}@10.0.0.1']", "bootstrap_nodes[0]", "missing port"),
    (f"bootstrap_nodes: ['enode://{HEX}@10.0.0.1:0']", "bootstrap_nodes[0]", "no UDP port"),
    (f"bootstrap_nodes: ['enode://{HEX}@10.0.0.1:30303?discport=0']", "bootstrap_nodes[0]", "no UDP port"),
    (f"bootstrap_nodes: ['{NO_UDP}']", "bootstrap_nodes[0]", "no IP address and UDP port"),
    (f"bootstrap_nodes: ['{RECORD[:-3]}']", "bootstrap_nodes[0]", "invalid enr"),
    ("bootstrap_nodes: ['http://x']", "bootstrap_nodes[0]", "neither an enode"),
    ("bootstrap_nodes: [a]", "bootstrap_nodes[0]", "its own bootstrap node"),
    ("bootstrap_nodes: [nobody]", "bootstrap_nodes[0]", "neither an enode"),
    ("unknown_disc_key: 1", "unknown_disc_key", "unknown key"),
])
def test_bad_values(tmp_path, body, path, words):
    bad(tmp_path, body, path, words)


def test_node_db_is_a_directory(tmp_path):
    (tmp_path / "d").mkdir()
    bad(tmp_path, "node_db: d", "node_db", "is a directory")


def test_bootstrap_by_name_uses_the_discovery_port(tmp_path):
    cfg = load(tmp_path, """
nodes:
  - {name: a, listen_addr: '127.0.0.1:30303', discovery_port: 30400}
  - {name: b, listen_addr: '0.0.0.0:30304', bootstrap_nodes: [a]}
  - {name: c, listen_addr: '127.0.0.1:30305', bootstrap_nodes: [b, a]}
""")
    a_id = node_id_from_private_key(cfg.nodes[0].private_key).hex()
    b_id = node_id_from_private_key(cfg.nodes[1].private_key).hex()
    assert cfg.nodes[1].bootstrap_nodes == (f"enode://{a_id}@127.0.0.1:30303?discport=30400",)
    assert cfg.nodes[2].bootstrap_nodes == (f"enode://{b_id}@127.0.0.1:30304", cfg.nodes[1].bootstrap_nodes[0])


@pytest.mark.parametrize("other, words", [
    ("{name: a, listen_addr: '127.0.0.1:30303', discovery: false}", "has discovery off"),
    ("{name: a, listen_addr: ''}", "no fixed UDP port"),
])
def test_bootstrap_by_name_needs_discovery_and_a_port(tmp_path, other, words):
    with pytest.raises(ConfigError) as info:
        load(tmp_path, f"nodes: [{other}, {{name: b, listen_addr: '127.0.0.1:30304', bootstrap_nodes: [a]}}]")
    assert info.value.path == "nodes[1].bootstrap_nodes[0]" and words in info.value.reason


def test_udp_port_clash_between_nodes(tmp_path):
    with pytest.raises(ConfigError) as info:
        load(tmp_path, "nodes: [{name: a, listen_addr: '127.0.0.1:30303'}, "
                       "{name: b, listen_addr: '127.0.0.1:30304', discovery_port: 30303}]")
    assert info.value.path == "nodes[1].discovery_port" and "UDP port 30303" in info.value.reason
    # no clash when the other node has discovery off
    load(tmp_path, "nodes: [{name: a, listen_addr: '127.0.0.1:30303', discovery: false}, "
                   "{name: b, listen_addr: '127.0.0.1:30304', discovery_port: 30303}]")


def test_two_nodes_cannot_share_a_node_db(tmp_path):
    with pytest.raises(ConfigError) as info:
        load(tmp_path, "nodes: [{name: a, listen_addr: '127.0.0.1:30303', node_db: x.sqlite}, "
                       "{name: b, listen_addr: '127.0.0.1:30304', node_db: ./x.sqlite}]")
    assert info.value.path == "nodes[1].node_db" and "also the node database of node 'a'" in info.value.reason


def test_odd_name_needs_node_db_only_with_discovery(tmp_path):
    with pytest.raises(ConfigError) as info:
        load(tmp_path, "node: {name: 'my node', key_file: k.key, listen_addr: '127.0.0.1:30303'}")
    assert info.value.path == "node.name" and "give node_db" in info.value.reason
    cfg = load(tmp_path, "node: {name: 'my node', key_file: k.key, listen_addr: '127.0.0.1:30303', "
                         "discovery: false}")
    assert cfg.nodes[0].node_db is None
    cfg = load(tmp_path, "node: {name: 'my node', key_file: k.key, listen_addr: '127.0.0.1:30303', "
                         "node_db: my.sqlite}")
    assert cfg.nodes[0].node_db == os.path.join(str(tmp_path), "my.sqlite")


# -- http (docs/operators.md) -------------------------------------------------------------------
def test_http_is_off_by_default_and_parsed_when_given(tmp_path):
    assert one(tmp_path, "discovery: false").http_port is None
    cfg = one(tmp_path, "discovery: false, http: {addr: '127.0.0.1:8545'}")
    assert (cfg.http_host, cfg.http_port) == ("127.0.0.1", 8545)
    assert one(tmp_path, "discovery: false, http: null").http_port is None
    assert one(tmp_path, "discovery: false, http: {addr: '127.0.0.1:0'}").http_port == 0


@pytest.mark.parametrize("body,path,words", [
    ("http: 8545", "http", "must be a mapping"),
    ("http: {}", "http.addr", "is required"),
    ("http: {addr: 'localhost:8545'}", "http.addr", "invalid IP address"),
    ("http: {addr: '127.0.0.1:99999'}", "http.addr", "<= 65535"),
    ("http: {addr: '127.0.0.1:8545', cors: '*'}", "http.cors", "unknown key"),
    ("http: {addr: '127.0.0.1:30303'}", "http.addr", "also used by node"),
])
def test_bad_http_values_name_their_key(tmp_path, body, path, words):
    bad(tmp_path, "discovery: false, " + body, path, words)


def test_two_nodes_cannot_share_an_http_port(tmp_path):
    with pytest.raises(ConfigError) as info:
        load(tmp_path, "nodes: [{name: a, listen_addr: '127.0.0.1:30303', discovery: false, "
                       "http: {addr: '127.0.0.1:8545'}}, {name: b, listen_addr: '127.0.0.1:30304', "
                       "discovery: false, http: {addr: '127.0.0.1:8545'}}]")
    assert info.value.path == "nodes[1].http.addr" and "node 'a'" in info.value.reason
