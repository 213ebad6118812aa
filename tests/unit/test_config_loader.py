"""config/loader.py: valid files load into NodeConfig; every invalid input is a ConfigError
naming the key's path."""

import os
import stat

import pytest

from config.loader import ConfigError, load_default, load_file, load_text
from rlpx.keys import generate_private_key, node_id_from_private_key

ENODE = "enode://" + node_id_from_private_key(generate_private_key()).hex() + "@127.0.0.1:30310"


def load(tmp_path, text):
    return load_text(text, base_dir=str(tmp_path))


def test_two_nodes_with_name_reference(tmp_path):
    cfg = load(tmp_path, """
actor_system: {admin_port: 19555, bind: 127.0.0.1}
nodes:
  - name: alpha
    listen_addr: 127.0.0.1:30401
    max_peers: 7
    net_restrict: ["127.0.0.0/8"]
    timeouts: {idle_s: 2, ping_interval_s: 1}
  - name: beta
    key_file: keys/beta.key
    listen_addr: 127.0.0.1:30402
    static_nodes: [alpha, "%s"]
    trusted_nodes: [alpha]
    protocols: [{name: test, version: 1, send_count: 10, echo: false}]
""" % ENODE)
    assert cfg.actor_system.admin_port == 19555
    alpha, beta = cfg.nodes
    assert (alpha.max_peers, alpha.listen_port, alpha.net_restrict) == (7, 30401, ("127.0.0.0/8",))
    assert alpha.timeouts.idle_s == 2 and alpha.timeouts.handshake_s == 5
    alpha_enode = f"enode://{node_id_from_private_key(alpha.private_key).hex()}@127.0.0.1:30401"
    assert beta.static_nodes == (alpha_enode, ENODE)
    assert beta.trusted_nodes == (alpha_enode,)
    assert dict(beta.protocols[0].options) == {"send_count": 10, "echo": False}
    key_file = tmp_path / "keys" / "beta.key"
    assert stat.S_IMODE(os.stat(key_file).st_mode) == 0o600
    # the key is stable: loading again reads the same file
    again = load(tmp_path, "node: {name: beta, key_file: keys/beta.key, listen_addr: '127.0.0.1:0'}")
    assert again.nodes[0].private_key == beta.private_key


def test_default_config_is_two_connected_nodes(tmp_path):
    cfg = load_default(str(tmp_path))
    assert [n.name for n in cfg.nodes] == ["alpha", "beta"]
    assert len(cfg.nodes[1].static_nodes) == 1
    assert (tmp_path / "data" / "alpha.key").exists()
    # alpha offers eth/68, 69 and 70, beta 69 and 70: the highest shared one, eth/70, runs
    assert [(p.name, p.version) for p in cfg.nodes[0].protocols] == [("test", 1), ("eth", 68), ("eth", 69), ("eth", 70)]
    assert [(p.name, p.version) for p in cfg.nodes[1].protocols] == [("test", 1), ("eth", 69), ("eth", 70)]


@pytest.mark.parametrize("text, path, words", [
    ("nodes: [{name: a, bogus: 1}]", "nodes[0].bogus", "unknown key"),
    ("color: red\nnodes: [{name: a}]", "color", "unknown key"),
    ("nodes: [{name: a, max_peers: lots}]", "nodes[0].max_peers", "integer"),
    ("nodes: [{name: a, max_peers: -1}]", "nodes[0].max_peers", ">= 0"),
    ("nodes: [{name: a, no_dial: 3}]", "nodes[0].no_dial", "boolean"),
    ("nodes: [{name: a, peer_pool: 2}]", "nodes[0].peer_pool", "unknown key"),
    ("nodes: [{name: a, static_nodes: ['enode://abc@1.2.3.4:1']}]", "nodes[0].static_nodes[0]", "node id"),
    ("nodes: [{name: a, static_nodes: [nobody]}]", "nodes[0].static_nodes[0]", "neither"),
    ("nodes: [{name: a, trusted_nodes: 'x'}]", "nodes[0].trusted_nodes", "list"),
    ("nodes: [{name: a, net_restrict: ['10.0.0.0/33']}]", "nodes[0].net_restrict[0]", "CIDR"),
    ("nodes: [{name: a, listen_addr: 'localhost'}]", "nodes[0].listen_addr", "host:port"),
    ("nodes: [{name: a, listen_addr: '127.0.0.1:70000'}]", "nodes[0].listen_addr", "65535"),
    ("nodes: [{name: a, timeouts: {idle_s: 0}}]", "nodes[0].timeouts.idle_s", "> 0"),
    ("nodes: [{name: a, timeouts: {nap_s: 1}}]", "nodes[0].timeouts.nap_s", "unknown key"),
    ("nodes: [{name: a, protocols: [{name: nope, version: 9}]}]", "nodes[0].protocols[0]", "unknown protocol"),
    ("nodes: [{name: a, protocols: [{name: test, version: 1, louder: true}]}]", "nodes[0].protocols[0].louder",
     "unknown option"),
    ("nodes: [{name: a, protocols: [{name: test, version: 1, send_count: -5}]}]",
     "nodes[0].protocols[0].send_count", ">= 0"),
    ("nodes: [{name: a, listen_addr: '127.0.0.1:30999'}, {name: b, listen_addr: '127.0.0.1:30999'}]",
     "nodes[1].listen_addr", "also used by node 'a'"),
    ("nodes: [{name: a}, {name: a, listen_addr: '127.0.0.1:0'}]", "nodes[1].name", "duplicate"),
    ("nodes: []", "nodes", "at least one"),
    ("actor_system: {admin_port: 0}\nnodes: [{name: a}]", "actor_system.admin_port", ">= 1"),
    ("actor_system: {bind: somewhere}\nnodes: [{name: a}]", "actor_system.bind", "invalid IP"),
    ("actor_system: {allow: [10.1.0.0/33]}\nnodes: [{name: a}]", "actor_system.allow[0]", "invalid IP or CIDR"),
    ("actor_system: {allow: [10.1.0.1, host-b]}\nnodes: [{name: a}]", "actor_system.allow[1]", "invalid IP or CIDR"),
    ("actor_system: {allow: 10.1.0.1}\nnodes: [{name: a}]", "actor_system.allow", "list"),
    ("actor_system: {allow: [7]}\nnodes: [{name: a}]", "actor_system.allow[0]", "str"),
    ("nodes: [{key_file: x}]", "nodes[0].name", "missing"),
    ("node: {name: a}\nnodes: [{name: b}]", "node", "either"),
    # found by tests/fuzz/test_input_fuzz.py
    ("nodes: [{name: a, max_peers: !!int abc}]", "", "invalid YAML value"),
    ("nodes: [{name: a, no_dial: !!bool maybe}]", "", "invalid YAML value"),
    ("nodes: [{name: 2001-02-30}]", "", "invalid YAML value"),
    ("nodes: [{name: a, max_peers: " + "9" * 5000 + "}]", "", "invalid YAML value"),
    ("nodes: [{name: a, timeouts: {idle_s: .nan}}]", "nodes[0].timeouts.idle_s", "finite"),
    ("nodes: [{name: a, supervision: {liveness_s: .inf}}]", "nodes[0].supervision.liveness_s", "finite"),
    ("nodes: [{name: a, listen_addr: '127.0.0.1:\u00b3'}]", "nodes[0].listen_addr", "0-65535"),
    ("nodes: [{name: a, listen_addr: '127.0.0.1:" + "9" * 5000 + "'}]", "nodes[0].listen_addr", "0-65535"),
    ("nodes: [{name: ../../escaped}]", "nodes[0].name", "give key_file"),
    ("nodes: [{name: " + "n" * 1025 + ", key_file: k.key}]", "nodes[0].name", "at most 1024 bytes"),
    ("nodes: [{name: a, protocols: [{name: test, version: 1, 1: x}]}]", "nodes[0].protocols[0].1", "strings"),
    ("nodes: [{name: a, protocols: [{name: test, version: 1, actor: .rel.Cls, length: 1}]}]",
     "nodes[0].protocols[0]", "cannot load"),
    ("'': 1\nnodes: [{name: a}]", "''", "unknown key"),
])
def test_invalid_configs_name_the_key(tmp_path, text, path, words):
    with pytest.raises(ConfigError) as info:
        load(tmp_path, text)
    assert info.value.path == path
    assert words in str(info.value)


def test_invalid_yaml_gives_line(tmp_path):
    with pytest.raises(ConfigError, match="invalid YAML at line 2"):
        load(tmp_path, "nodes:\n  - name: a: b\n")


def test_unreadable_and_uncreatable_key_files(tmp_path):
    bad = tmp_path / "bad.key"
    bad.write_text("not a key")
    with pytest.raises(ConfigError) as info:
        load(tmp_path, f"nodes: [{{name: a, key_file: '{bad}'}}]")
    assert info.value.path == "nodes[0].key_file"
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(ConfigError) as info:
        load(tmp_path, f"nodes: [{{name: a, key_file: '{blocker}/sub/a.key'}}]")
    assert info.value.path == "nodes[0].key_file" and "cannot create" in str(info.value)


def test_missing_config_file(tmp_path):
    with pytest.raises(ConfigError, match="cannot read config file"):
        load_file(str(tmp_path / "absent.yaml"))


def test_supervision_and_protocol_failure_policy(tmp_path):
    cfg = load(tmp_path, """
node:
  name: a
  supervision: {listener: {max_restarts: 2, within_s: 9, backoff_s: 0.5, backoff_max_s: 2}, liveness_s: 0.25}
  protocols:
    - {name: test, version: 1, echo: true, on_failure: restart, max_restarts: 4, within_s: 20, hold_max: 99}
""")
    node = cfg.nodes[0]
    assert (node.supervision.listener.max_restarts, node.supervision.listener.within_s) == (2, 9)
    assert node.supervision.dialer.max_restarts == 3 and node.supervision.liveness_s == 0.25
    pc = node.protocols[0]
    assert (pc.on_failure, pc.restart.max_restarts, pc.restart.within_s, pc.hold_max) == ("restart", 4, 20, 99)
    assert dict(pc.options) == {"echo": True}


@pytest.mark.parametrize("text, path", [
    ("node: {name: a, supervision: {listener: {restart: sometimes}}}", "node.supervision.listener.restart"),
    ("node: {name: a, supervision: {listener: {max_restarts: -1}}}", "node.supervision.listener.max_restarts"),
    ("node: {name: a, supervision: {listener: {within_s: 0}}}", "node.supervision.listener.within_s"),
    ("node: {name: a, supervision: {peers: {}}}", "node.supervision.peers"),
    ("node: {name: a, supervision: {liveness_s: 0}}", "node.supervision.liveness_s"),
    ("node: {name: a, protocols: [{name: test, version: 1, on_failure: shrug}]}", "node.protocols[0].on_failure"),
    ("node: {name: a, protocols: [{name: test, version: 1, hold_max: 0}]}", "node.protocols[0].hold_max"),
    ("node: {name: a, protocols: [{name: test, version: 1, backoff_s: -1}]}", "node.protocols[0].backoff_s"),
])
def test_invalid_supervision_keys(tmp_path, text, path):
    with pytest.raises(ConfigError) as info:
        load(tmp_path, text)
    assert info.value.path == path


def test_config_errors_stay_short_and_on_one_line(tmp_path):
    # ~0.6 KiB of YAML aliases expands to a value whose full repr was 216,000 characters
    bomb = "[&a [x, x, x, x, x, x, x, x, x], " + ", ".join(
        f"&{n} [" + ", ".join([f"*{p}"] * 9) + "]" for p, n in zip("abcd", "bcde")) + "]"
    with pytest.raises(ConfigError) as info:
        load(tmp_path, "nodes: [{name: a, max_peers: " + bomb + "}]")
    assert info.value.path == "nodes[0].max_peers" and len(str(info.value)) < 300, len(str(info.value))
    with pytest.raises(ConfigError) as info:  # a YAML reader error carries its context on more lines
        load(tmp_path, "nodes: [{name: a\x00}]")
    assert "\n" not in str(info.value) and "invalid YAML" in str(info.value)
    with pytest.raises(ConfigError) as info:
        load(tmp_path, 'nodes: [{name: a, protocols: [{name: "a\\nb", version: 1}]}]')
    assert "\n" not in str(info.value) and "a\\nb" in str(info.value)


def test_non_utf8_config_file(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_bytes(b"node: {name: caf\xe9}")
    with pytest.raises(ConfigError, match="not UTF-8"):
        load_file(str(path))


def test_duplicate_keys_are_errors_but_merge_keys_may_be_overridden(tmp_path):
    with pytest.raises(ConfigError, match="at line 4, column 5: duplicate key 'max_peers'"):
        load(tmp_path, "nodes:\n  - name: a\n    max_peers: 1\n    max_peers: 2\n")
    with pytest.raises(ConfigError, match="duplicate key 'nodes'"):
        load(tmp_path, "nodes: [{name: a}]\nnodes: [{name: b}]\n")
    cfg = load(tmp_path, "node:\n  <<: {max_peers: 4, dial_ratio: 2}\n  name: a\n  max_peers: 5\n")
    assert (cfg.nodes[0].max_peers, cfg.nodes[0].dial_ratio) == (5, 2)


@pytest.mark.parametrize("value", ["[]", "0", "false", "''"])
def test_actor_system_must_be_a_mapping_even_when_empty_looking(tmp_path, value):
    with pytest.raises(ConfigError) as info:
        load(tmp_path, f"actor_system: {value}\nnodes: [{{name: a}}]")
    assert info.value.path == "actor_system"


@pytest.mark.parametrize("text, path, words", [
    ("nodes: [{name: a, timeouts: {handshake_s: 1" + "0" * 400 + "}}]", "nodes[0].timeouts.handshake_s", "at most"),
    ("nodes: [{name: a, timeouts: {handshake_s: 1.0e+300}}]", "nodes[0].timeouts.handshake_s", "at most"),
    ("nodes: [{name: a, max_peers: [0x" + "f" * 4000 + "]}]", "nodes[0].max_peers", "16000-bit integer"),
    ('nodes: [{name: "a\\ud800", key_file: k.key}]', "nodes[0].name", "not valid Unicode"),
])
def test_review_findings(tmp_path, text, path, words):
    # found in review: float() / repr() / str.encode() errors that escaped as non-ConfigErrors
    with pytest.raises(ConfigError) as info:
        load(tmp_path, text)
    assert info.value.path == path and words in str(info.value), str(info.value)


@pytest.mark.parametrize("text, want", [
    # an alias carries the mapping it names, merges included, and explicit keys override merged ones
    ("x: &t\n  <<: {a: 1}\n  a: 2\nz:\n  <<: *t\n", {"x": {"a": 2}, "z": {"a": 2}}),
    ("x: &t\n  <<: {a: 1}\n  a: 2\nz:\n  <<: *t\n  a: 3\n", {"x": {"a": 2}, "z": {"a": 3}}),
    # merges nested two deep, through two aliases
    ("a: &a {k: 1, m: 1}\nb: &b {<<: *a, k: 2}\nc: {<<: *b}\n",
     {"a": {"k": 1, "m": 1}, "b": {"k": 2, "m": 1}, "c": {"k": 2, "m": 1}}),
    # a list of mappings: the first one wins over the later ones, explicit keys over all
    ("a: &a {k: 1}\nb: &b {k: 2, n: 2}\nc: {<<: [*a, *b]}\nd: {<<: [*b, *a]}\ne: {<<: [*a, *b], k: 3}\n",
     {"a": {"k": 1}, "b": {"k": 2, "n": 2}, "c": {"k": 1, "n": 2}, "d": {"k": 2, "n": 2}, "e": {"k": 3, "n": 2}}),
    # merging leaves the source as written
    ("s: &s {k: 1}\nt: {<<: *s, k: 2}\nu: *s\n", {"s": {"k": 1}, "t": {"k": 2}, "u": {"k": 1}}),
])
def test_merge_keys_follow_the_merge_key_spec(text, want):
    # https://yaml.org/type/merge.html, whatever the installed PyYAML does (6.0.4 changed it)
    from config.yaml_reader import read_yaml
    assert read_yaml(text) == want


@pytest.mark.parametrize("text, words", [
    ("a: {<<: 1}\n", "expected a mapping or list of mappings for merging"),
    ("a: {<<: [1]}\n", "expected a mapping for merging"),
    ("a: &x {<<: *x}\n", "a merge that includes itself"),
])
def test_bad_merges_are_config_errors(text, words):
    from config.yaml_reader import read_yaml
    with pytest.raises(ConfigError, match=words):
        read_yaml(text)


def test_merge_sources_and_odd_keys_are_not_duplicates(tmp_path):
    # an anchored mapping that overrides a merged key, merged again elsewhere; a plain "=" key
    from config.yaml_reader import read_yaml
    assert read_yaml("x:\n  y: &t\n    <<: {a: 1}\n    a: 2\nz:\n  <<: *t\n") == {"x": {"y": {"a": 2}}, "z": {"a": 2}}
    assert read_yaml("=: 1\n") == {"=": 1}
    assert read_yaml("") is None


def test_actor_system_allow_list_is_normalised_and_empty_by_default(tmp_path):
    cfg = load(tmp_path, "actor_system: {allow: [10.1.0.2, 10.2.0.9/16, 'fd00::1']}\nnodes: [{name: a}]")
    assert cfg.actor_system.allow == ("10.1.0.2/32", "10.2.0.0/16", "fd00::1/128")
    assert load(tmp_path, "nodes: [{name: a}]").actor_system.allow == ()
    assert load(tmp_path, "actor_system: {allow: null}\nnodes: [{name: a}]").actor_system.allow == ()
