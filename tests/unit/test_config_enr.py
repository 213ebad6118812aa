"""config/loader.py with enr: records (EIP-778) as static, trusted and candidate nodes: a record
is kept as the enode URL it dials, and a bad record is a ConfigError naming the key's path."""

from __future__ import annotations

import pytest

from config.loader import ConfigError, load_text
from discovery.enr import build
from rlpx.keys import generate_private_key, node_id_from_private_key

KEY = generate_private_key()
NODE_ID = node_id_from_private_key(KEY)
RECORD = build(KEY, 4, ip="127.0.0.1", tcp=30310, udp=30311).text()


def load(tmp_path, text):
    return load_text(text, base_dir=str(tmp_path))


def test_enr_static_and_trusted_node(tmp_path):
    cfg = load(tmp_path, f"""
node:
  name: a
  listen_addr: 127.0.0.1:0
  static_nodes: ["{RECORD}"]
  trusted_nodes: ["{RECORD}"]
  dial_candidates: ["{RECORD}"]
""")
    want = f"enode://{NODE_ID.hex()}@127.0.0.1:30310?discport=30311"
    node = cfg.nodes[0]
    assert node.static_nodes == (want,) and node.trusted_nodes == (want,) and node.dial_candidates == (want,)


def test_unquoted_enr_in_yaml(tmp_path):
    # "enr:..." has no ": " so YAML reads it as one plain scalar
    cfg = load(tmp_path, f"node: {{name: a, listen_addr: '127.0.0.1:0', static_nodes: [{RECORD}]}}")
    assert cfg.nodes[0].static_nodes[0].startswith(f"enode://{NODE_ID.hex()}@127.0.0.1:30310")


@pytest.mark.parametrize("value, words", [
    (build(KEY, 1, ip="127.0.0.1", udp=30303).text(), "no IP address and TCP port"),
    (RECORD[:-4], "invalid enr"),
    (RECORD[:30] + ("x" if RECORD[30] != "x" else "y") + RECORD[31:], "invalid enr"),
    ("enr:", "invalid enr"),
    ("enr:not*base64", "not unpadded URL-safe base64"),
])
def test_bad_enr_is_a_config_error(tmp_path, value, words):
    with pytest.raises(ConfigError) as info:
        load(tmp_path, f'nodes: [{{name: a, static_nodes: ["{value}"]}}]')
    assert "nodes[0].static_nodes[0]" in str(info.value) and words in str(info.value)


def test_bad_enr_in_trusted_nodes(tmp_path):
    with pytest.raises(ConfigError, match=r"nodes\[0\]\.trusted_nodes\[0\].*invalid enr"):
        load(tmp_path, 'nodes: [{name: a, trusted_nodes: ["enr:AAAA"]}]')
