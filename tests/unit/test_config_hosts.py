"""config/loader.py: the ``hosts:`` section of multi-host deployments (issue 22) and the
LaunchConfig methods over it; every invalid input is a ConfigError naming the key's path."""

import pickle

import pytest

from config.loader import ConfigError, HostConfig, load_text
from rlpx.keys import node_id_from_private_key

HOSTS = "hosts: {a: {address: 10.1.0.1}, b: {address: 10.1.0.2}}\n"


def load(tmp_path, text):
    return load_text(text, base_dir=str(tmp_path))


def enode(node, ip, port, disc=None):
    url = f"enode://{node_id_from_private_key(node.private_key).hex()}@{ip}:{port}"
    return url if disc in (None, port) else f"{url}?discport={disc}"


GOOD = """
hosts:
  a: {address: 10.1.0.1}
  b: {address: 10.1.0.2, admin_port: 19002}
actor_system:
  admin_port: 19555
  allow: [192.168.0.0/24, 10.1.0.2]
nodes:
  - name: n1
    host: a
  - name: n2
    host: b
    listen_addr: 0.0.0.0:30303
    http: {addr: 127.0.0.1:8545}
  - name: n3
    host: a
    listen_addr: 0.0.0.0:30304
    http: {addr: 127.0.0.1:8545}
    static_nodes: [n2, n1]
    trusted_nodes: [n2]
    bootstrap_nodes: [n2]
"""


def test_hosts_defaults_and_references(tmp_path):
    cfg = load(tmp_path, GOOD)
    assert cfg.multi_host
    assert cfg.hosts == (HostConfig("a", "10.1.0.1", 19555), HostConfig("b", "10.1.0.2", 19002))
    # leader: the first host listed; admin_port: actor_system's unless the host gives one
    assert cfg.actor_system.leader == "a" and cfg.leader_host() == cfg.hosts[0]
    assert cfg.actor_system.admin_port == 19555
    n1, n2, n3 = cfg.nodes
    assert [n.host for n in cfg.nodes] == ["a", "b", "a"]
    # listen_addr default: the host's address, port 30303, also on host b (another host)
    assert (n1.listen_host, n1.listen_port) == ("10.1.0.1", 30303)
    assert (n2.listen_host, n2.listen_port) == ("0.0.0.0", 30303)
    # the same HTTP port on two hosts
    assert (n2.http_port, n3.http_port) == (8545, 8545)
    # a bare name of a node listening on a wildcard dials its host's address
    assert n3.static_nodes == (enode(n2, "10.1.0.2", 30303), enode(n1, "10.1.0.1", 30303))
    assert n3.trusted_nodes == (enode(n2, "10.1.0.2", 30303),)
    assert n3.bootstrap_nodes == (enode(n2, "10.1.0.2", 30303),)
    assert cfg.nodes_on("a") == (n1, n3) and cfg.nodes_on("b") == (n2,)
    assert cfg.host("b").admin_port == 19002
    # allow first, then each host as one address; 10.1.0.2/32 is in allow already
    assert cfg.trusted_networks() == ("192.168.0.0/24", "10.1.0.2/32", "10.1.0.1/32")


def test_unknown_host_names_the_hosts(tmp_path):
    cfg = load(tmp_path, GOOD)
    with pytest.raises(ConfigError) as info:
        cfg.host("c")
    assert info.value.path == "--host" and "a, b" in str(info.value)
    with pytest.raises(ConfigError) as info:
        cfg.nodes_on("c")
    assert info.value.path == "--host"


def test_launch_config_pickles(tmp_path):
    cfg = load(tmp_path, GOOD)
    assert pickle.loads(pickle.dumps(cfg)) == cfg


def test_addresses_are_normalised_and_leader_given(tmp_path):
    cfg = load(tmp_path, """
hosts:
  a: {address: 10.1.0.1}
  six: {address: "FD00:0:0::1"}
actor_system: {leader: six}
node: {name: n1, host: six, listen_addr: "[fd00::0:1]:30310"}
""")
    assert cfg.host("six").address == "fd00::1"
    assert cfg.leader_host().name == "six"
    assert cfg.nodes[0].host == "six" and cfg.nodes[0].listen_port == 30310
    assert cfg.trusted_networks() == ("10.1.0.1/32", "fd00::1/128")
    assert cfg.nodes_on("a") == ()


def test_without_hosts_nothing_changes(tmp_path):
    cfg = load(tmp_path, """
actor_system: {allow: [10.1.0.2]}
nodes:
  - {name: n1, listen_addr: "0.0.0.0:30303"}
  - {name: n2, listen_addr: "127.0.0.1:30304", static_nodes: [n1]}
""")
    assert not cfg.multi_host and cfg.hosts == ()
    assert cfg.actor_system.leader is None and cfg.leader_host() is None
    assert [n.host for n in cfg.nodes] == [None, None]
    assert cfg.nodes[1].static_nodes == (enode(cfg.nodes[0], "127.0.0.1", 30303),)
    assert cfg.trusted_networks() == ("10.1.0.2/32",)
    with pytest.raises(ConfigError) as info:
        cfg.host("a")
    assert info.value.path == "--host" and "no `hosts:` section" in str(info.value)


@pytest.mark.parametrize("text, path, words", [
    # the hosts section
    ("hosts: {}\nnodes: [{name: n1}]", "hosts", "at least one host"),
    ("hosts: [a]\nnodes: [{name: n1}]", "hosts", "mapping"),
    ("hosts: {a: 10.1.0.1}\nnodes: [{name: n1, host: a}]", "hosts.a", "mapping"),
    ("hosts: {'': {address: 10.1.0.1}}\nnodes: [{name: n1}]", "hosts.''", "non-empty string"),
    ("hosts: {' ': {address: 10.1.0.1}}\nnodes: [{name: n1}]", "hosts. ", "non-empty string"),
    ("hosts: {1: {address: 10.1.0.1}}\nnodes: [{name: n1}]", "hosts.1", "non-empty string"),
    ("hosts: {a: {}}\nnodes: [{name: n1, host: a}]", "hosts.a.address", "missing"),
    ("hosts: {a: {address: nowhere}}\nnodes: [{name: n1, host: a}]", "hosts.a.address", "invalid IP"),
    ("hosts: {a: {address: 7}}\nnodes: [{name: n1, host: a}]", "hosts.a.address", "string"),
    ("hosts: {a: {address: 0.0.0.0}}\nnodes: [{name: n1, host: a}]", "hosts.a.address", "not the address"),
    ("hosts: {a: {address: 10.1.0.1, port: 1}}\nnodes: [{name: n1, host: a}]", "hosts.a.port", "unknown key"),
    ("hosts: {a: {address: 10.1.0.1, admin_port: 0}}\nnodes: [{name: n1, host: a}]", "hosts.a.admin_port",
     ">= 1"),
    ("hosts: {a: {address: 10.1.0.1, admin_port: 65536}}\nnodes: [{name: n1, host: a}]", "hosts.a.admin_port",
     "<= 65535"),
    ("hosts: {a: {address: 10.1.0.1, admin_port: x}}\nnodes: [{name: n1, host: a}]", "hosts.a.admin_port",
     "integer"),
    ("hosts: {a: {address: 10.1.0.1}, b: {address: 10.1.0.1}}\nnodes: [{name: n1, host: a}]",
     "hosts.b.address", "also the address of host 'a'"),
    ("hosts: {a: {address: '::1'}, b: {address: '0::1'}}\nnodes: [{name: n1, host: a}]",
     "hosts.b.address", "also the address of host 'a'"),
    # actor_system with and without hosts
    ("actor_system: {leader: a}\nnodes: [{name: n1}]", "actor_system.leader", "needs a `hosts:`"),
    (HOSTS + "actor_system: {leader: c}\nnodes: [{name: n1, host: a}]", "actor_system.leader",
     "no host named 'c' (have: a, b)"),
    (HOSTS + "actor_system: {leader: 1}\nnodes: [{name: n1, host: a}]", "actor_system.leader", "string"),
    (HOSTS + "actor_system: {bind: 10.1.0.1}\nnodes: [{name: n1, host: a}]", "actor_system.bind",
     "hosts.<name>.address"),
    # node.host
    ("nodes: [{name: n1, host: a}]", "nodes[0].host", "`host:` needs a `hosts:` section"),
    ("node: {name: n1, host: a}", "node.host", "`host:` needs a `hosts:` section"),
    (HOSTS + "nodes: [{name: n1, host: a}, {name: n2}]", "nodes[1].host", "missing"),
    (HOSTS + "nodes: [{name: n1, host: c}]", "nodes[0].host", "no host named 'c' (have: a, b)"),
    (HOSTS + "nodes: [{name: n1, host: [a]}]", "nodes[0].host", "string"),
    # listen addresses on a host
    (HOSTS + "nodes: [{name: n1, host: a}, {name: n2, host: b, listen_addr: '10.1.0.1:30304'}]",
     "nodes[1].listen_addr", "node n2 runs on host b (10.1.0.2)"),
    (HOSTS + "nodes: [{name: n1, host: a, listen_addr: '127.0.0.1:30303'}]",
     "nodes[0].listen_addr", "node n1 runs on host a (10.1.0.1)"),
    # port clashes among the nodes of one host (an address and a wildcard, or both the address)
    (HOSTS + "nodes: [{name: n1, host: a}, {name: n2, host: a, listen_addr: '0.0.0.0:30303'}]",
     "nodes[1].listen_addr", "port 30303 is also used by node 'n1'"),
    (HOSTS + "nodes: [{name: n1, host: a}, {name: n2, host: a, listen_addr: '10.1.0.1:30303'}]",
     "nodes[1].listen_addr", "port 30303 is also used by node 'n1'"),
    (HOSTS + "nodes: [{name: n1, host: a}, {name: n2, host: a, listen_addr: '10.1.0.1:30304', "
             "discovery_port: 30303}]", "nodes[1].discovery_port", "UDP port 30303 (discovery)"),
    (HOSTS + "nodes: [{name: n1, host: a, http: {addr: '127.0.0.1:8545'}}, "
             "{name: n2, host: a, listen_addr: '0.0.0.0:30304', http: {addr: '0.0.0.0:8545'}}]",
     "nodes[1].http.addr", "port 8545 is also used by node 'n1'"),
    (HOSTS + "nodes: [{name: n1, host: a}, {name: n2, host: a, listen_addr: '0.0.0.0:30304', "
             "http: {addr: '127.0.0.1:30303'}}]", "nodes[1].http.addr", "port 30303 is also used by node 'n1'"),
])
def test_invalid_hosts_name_the_key(tmp_path, text, path, words):
    with pytest.raises(ConfigError) as info:
        load(tmp_path, text)
    assert info.value.path == path
    assert words in str(info.value)


def test_same_ports_on_two_hosts(tmp_path):
    cfg = load(tmp_path, HOSTS + """
nodes:
  - {name: n1, host: a, listen_addr: "0.0.0.0:30303", discovery_port: 30400, http: {addr: "0.0.0.0:8545"}}
  - {name: n2, host: b, listen_addr: "0.0.0.0:30303", discovery_port: 30400, http: {addr: "0.0.0.0:8545"}}
  - {name: n3, host: b, listen_addr: "10.1.0.2:30400", discovery: false, static_nodes: [n1]}
""")
    n1, n2, n3 = cfg.nodes
    assert (n1.listen_port, n2.listen_port, n1.discovery_port, n2.discovery_port) == (30303, 30303, 30400, 30400)
    assert n3.static_nodes == (enode(n1, "10.1.0.1", 30303),)
