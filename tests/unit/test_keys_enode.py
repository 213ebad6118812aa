"""Node keys, node ids, key files (rlpx.keys) and enode URLs (rlpx.enode)."""

from __future__ import annotations

import os
import stat

import coincurve
import pytest

from rlpx.enode import Enode, parse_enode
from rlpx.errors import EnodeError, InvalidPointError, KeyFileError, NodeKeyError, RLPxError
from rlpx.keys import (generate_private_key, keccak256, load_key_file, load_or_create_key_file, node_hash,
                       node_id_from_private_key, node_id_from_public_key, public_key_from_node_id, save_key_file)

# secp256k1 group order
N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141

# Private key 1 gives the generator point G (SEC 2, secp256k1 parameters).
G_X = "79be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798"
G_Y = "483ada7726a3c4655da4fbfc0e1108a8fd17b448a68554199c47d08ffb10d4b8"

# (1, 1) is not on the curve y^2 = x^3 + 7
OFF_CURVE = (1).to_bytes(32, "big") + (1).to_bytes(32, "big")


def raises_exactly(cls, func, *args):
    with pytest.raises(RLPxError) as info:
        func(*args)
    assert type(info.value) is cls, f"expected {cls.__name__}, got {type(info.value).__name__}: {info.value}"
    return info.value


# --------------------------------------------------------------------------- keys


def test_generated_keys_are_valid_and_distinct():
    keys = {generate_private_key() for _ in range(20)}
    assert len(keys) == 20
    for key in keys:
        assert isinstance(key, bytes) and len(key) == 32
        assert 0 < int.from_bytes(key, "big") < N


def test_node_id_of_key_one_is_the_generator():
    node_id = node_id_from_private_key((1).to_bytes(32, "big"))
    assert node_id.hex() == G_X + G_Y


def test_node_id_matches_coincurve_and_round_trips():
    key = generate_private_key()
    node_id = node_id_from_private_key(key)
    assert len(node_id) == 64
    assert node_id == coincurve.PrivateKey(key).public_key.format(compressed=False)[1:]
    assert node_id_from_public_key(public_key_from_node_id(node_id)) == node_id


@pytest.mark.parametrize("key", [bytes(32), N.to_bytes(32, "big"), b"\xff" * 32, b"\x01" * 31, b"\x01" * 33, "ab" * 32],
                         ids=["zero", "order", "above-order", "31-bytes", "33-bytes", "str"])
def test_invalid_private_keys(key):
    raises_exactly(NodeKeyError, node_id_from_private_key, key)


@pytest.mark.parametrize("node_id", [OFF_CURVE, bytes(64), b"\x04" * 63, b"\x04" * 65],
                         ids=["off-curve", "zero", "63-bytes", "65-bytes"])
def test_invalid_node_ids(node_id):
    raises_exactly(InvalidPointError, public_key_from_node_id, node_id)


def test_node_hash_is_keccak_of_node_id():
    node_id = node_id_from_private_key(generate_private_key())
    assert node_hash(node_id) == keccak256(node_id)
    assert len(node_hash(node_id)) == 32
    # keccak256 (pre-FIPS), not SHA3-256: the empty-input digest differs
    assert keccak256(b"").hex() == "c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470"
    assert keccak256(b"ab", b"c") == keccak256(b"abc")


def test_save_and_load_round_trip(tmp_path):
    key = generate_private_key()
    path = tmp_path / "sub" / "nodekey"  # parent directory is created
    save_key_file(str(path), key)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert path.read_text() == key.hex()
    assert load_key_file(str(path)) == key


def test_save_refuses_to_overwrite(tmp_path):
    path = tmp_path / "nodekey"
    save_key_file(str(path), generate_private_key())
    before = path.read_text()
    raises_exactly(KeyFileError, save_key_file, str(path), generate_private_key())
    assert path.read_text() == before


def test_load_accepts_surrounding_white_space(tmp_path):
    key = generate_private_key()
    path = tmp_path / "nodekey"
    path.write_text("  " + key.hex().upper() + "\n")
    assert load_key_file(str(path)) == key


def test_load_or_create_creates_then_reloads(tmp_path):
    path = str(tmp_path / "nodekey")
    assert not os.path.exists(path)
    key = load_or_create_key_file(path)
    assert len(key) == 32 and os.path.exists(path)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert load_or_create_key_file(path) == key
    assert load_key_file(path) == key


@pytest.mark.parametrize("content", [
    "ab" * 31,                    # 62 hex characters
    "ab" * 33,                    # 66 hex characters
    "",                           # empty file
    "zz" * 32,                    # not hex
    "00" * 32,                    # zero key
    f"{N:064x}",                  # the group order
    "ab" * 16 + " " + "ab" * 15 + "a",  # 64 characters with a space inside
], ids=["short", "long", "empty", "non-hex", "zero", "order", "inner-space"])
def test_malformed_key_files(tmp_path, content):
    path = tmp_path / "nodekey"
    path.write_text(content)
    raises_exactly(KeyFileError, load_key_file, str(path))
    raises_exactly(KeyFileError, load_or_create_key_file, str(path))
    assert path.read_text() == content  # never replaced


def test_key_file_over_4_kib_is_refused_whole(tmp_path):
    # a valid key, then more than 4 KiB of white space and junk: judged by all of it, not its head
    path = tmp_path / "nodekey"
    path.write_text("ab" * 32 + "\n" * 4100 + "zz")
    with pytest.raises(KeyFileError, match="larger than 4096 bytes"):
        load_key_file(str(path))


def test_key_paths_python_cannot_use_are_key_file_errors(tmp_path):
    for bad in (str(tmp_path / "a\0b.key"), str(tmp_path / "k\ud800.key")):  # NUL; a surrogate not encodable
        raises_exactly(KeyFileError, load_key_file, bad)
        raises_exactly(KeyFileError, save_key_file, bad, generate_private_key())
        raises_exactly(KeyFileError, load_or_create_key_file, bad)


def test_binary_key_file(tmp_path):
    path = tmp_path / "nodekey"
    path.write_bytes(b"\xff\xfe" * 32)
    raises_exactly(KeyFileError, load_key_file, str(path))


def test_nonexistent_and_directory_key_paths(tmp_path):
    raises_exactly(KeyFileError, load_key_file, str(tmp_path / "missing"))
    raises_exactly(KeyFileError, load_key_file, str(tmp_path))
    raises_exactly(KeyFileError, load_or_create_key_file, str(tmp_path))


def test_unwritable_key_location(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    # a regular file where a parent directory should be
    raises_exactly(KeyFileError, save_key_file, str(blocker / "nodekey"), generate_private_key())
    raises_exactly(KeyFileError, load_or_create_key_file, str(blocker / "nodekey"))


# --------------------------------------------------------------------------- enode URLs


NODE_ID = node_id_from_private_key(generate_private_key())
HEX = NODE_ID.hex()


@pytest.mark.parametrize("url,host,tcp,udp", [
    (f"enode://{HEX}@10.3.58.6:30303", "10.3.58.6", 30303, 30303),
    (f"enode://{HEX}@10.3.58.6:30303?discport=30301", "10.3.58.6", 30303, 30301),
    (f"enode://{HEX}@[2001:db8::1]:30303", "2001:db8::1", 30303, 30303),
    (f"enode://{HEX}@[::1]:1?discport=65535", "::1", 1, 65535),
    (f"enode://{HEX}@bootnode.example.org:30303", "bootnode.example.org", 30303, 30303),
    (f"enode://{HEX}@localhost:0", "localhost", 0, 0),
], ids=["ipv4", "ipv4-discport", "ipv6", "ipv6-discport", "hostname", "port-0"])
def test_enode_parse_and_format(url, host, tcp, udp):
    node = parse_enode(url)
    assert node == Enode(NODE_ID, host, tcp, udp)
    assert Enode.parse(url) == node
    assert node.url() == url and str(node) == url
    assert node.address == (host, tcp)
    assert parse_enode(node.url()) == node


def test_enode_normalises_ipv6_and_uppercase_hex():
    node = parse_enode(f"enode://{HEX.upper()}@[2001:0db8:0000::0001]:30303")
    assert node.node_id == NODE_ID
    assert node.host == "2001:db8::1"
    assert node.url() == f"enode://{HEX}@[2001:db8::1]:30303"


def test_enode_discport_equal_to_tcp_port_is_omitted():
    node = parse_enode(f"enode://{HEX}@1.2.3.4:30303?discport=30303")
    assert node.udp_port == 30303
    assert node.url() == f"enode://{HEX}@1.2.3.4:30303"


@pytest.mark.parametrize("url", [
    f"enr://{HEX}@1.2.3.4:30303",                     # wrong scheme
    f"http://{HEX}@1.2.3.4:30303",
    f"ENODE://{HEX}@1.2.3.4:30303",
    f"enode://{HEX[:-2]}@1.2.3.4:30303",              # short id
    f"enode://{HEX}00@1.2.3.4:30303",                 # long id
    f"enode://{'g' + HEX[1:]}@1.2.3.4:30303",         # non-hex id
    f"enode://{OFF_CURVE.hex()}@1.2.3.4:30303",       # id not on the curve
    f"enode://{'00' * 64}@1.2.3.4:30303",
    f"enode://{HEX}@1.2.3.4",                         # missing port
    f"enode://{HEX}@1.2.3.4:",
    f"enode://{HEX}@[::1]",
    f"enode://{HEX}@::1",
    f"enode://{HEX}@1.2.3.4:65536",                   # port > 65535
    f"enode://{HEX}@1.2.3.4:99999999999999999999",
    f"enode://{HEX}@1.2.3.4:-1",
    f"enode://{HEX}@1.2.3.4:30303?discport=65536",
    f"enode://{HEX}@1.2.3.4:30303?discport=abc",
    f"enode://{HEX}@1.2.3.4:³",                       # a unicode digit int() rejects
    f"enode://{HEX}@1.2.3.4:30303?discport=%C2%B3",
    f"enode://{HEX}@1.2.3.4:30303?discport",          # malformed query
    f"enode://{HEX}1.2.3.4:30303",                    # missing @
    f"enode://1.2.3.4:30303",
    f"enode://{HEX}@:30303",                          # missing host
    f"enode://{HEX}@bad_host!:30303",                 # invalid host
    f"enode://{HEX}@[::1:30303",                      # unclosed bracket
    f"enode://{HEX}@1.2.3.4:30303/path",              # unexpected path
    f"enode://{HEX}@1.2.3.4:30303#frag",              # unexpected fragment
    f"enode://{HEX[:64]}\t{HEX[64:]}@1.2.3.4:30303",  # urlsplit drops tab, CR, LF silently
    f"enode://{HEX}\n@1.2.3.4:30303",
    f"enode://{HEX}@1.2.3.4:{'9' * 5000}",            # int() refuses over 4,300 digits
    f"enode://{HEX}@1.2.3.4:30303?discport={'9' * 5000}",
    "",
], ids=lambda u: u.replace(HEX, "ID")[:60])
def test_malformed_enodes(url):
    raises_exactly(EnodeError, parse_enode, url)


def test_enode_not_a_string():
    raises_exactly(EnodeError, parse_enode, b"enode://")
    raises_exactly(EnodeError, parse_enode, None)


def test_enode_query_as_go_ethereum_reads_it():
    # p2p/enode/urlv4.go: other keys ignored, an empty discport ignored, the first discport counts
    assert parse_enode(f"enode://{HEX}@1.2.3.4:30303?foo=1").udp_port == 30303
    assert parse_enode(f"enode://{HEX}@1.2.3.4:30303?discport=1&x=2").udp_port == 1
    assert parse_enode(f"enode://{HEX}@1.2.3.4:30303?discport=").udp_port == 30303
    assert parse_enode(f"enode://{HEX}@1.2.3.4:30303?discport=7&discport=8").udp_port == 7
