"""discovery.node_url: enode:// URLs and enr: records to the Enode to dial."""

from __future__ import annotations

import base64

import pytest
import rlp

from discovery.enr import build
from discovery.node_url import parse_node_url
from rlpx.enode import parse_enode
from rlpx.errors import EnodeError
from rlpx.keys import compress_node_id, generate_private_key, keccak256, node_id_from_private_key, sign_v4

KEY = generate_private_key()
NODE_ID = node_id_from_private_key(KEY)
_GOOD = build(KEY, 1, ip="127.0.0.1", tcp=30303).text()
TAMPERED = _GOOD[:20] + ("A" if _GOOD[20] != "A" else "B") + _GOOD[21:]
"""A record whose signature no longer verifies (one base64 character of the signature changed)."""


def test_enode_url_passes_through():
    url = f"enode://{NODE_ID.hex()}@127.0.0.1:30303?discport=30301"
    assert parse_node_url(url) == parse_enode(url)


def test_enr_with_ipv4():
    e = parse_node_url(build(KEY, 3, ip="10.0.0.5", tcp=30303, udp=30301).text())
    assert (e.node_id, e.host, e.tcp_port, e.udp_port) == (NODE_ID, "10.0.0.5", 30303, 30301)


def test_enr_without_udp_has_discport_zero():
    e = parse_node_url(build(KEY, 1, ip="127.0.0.1", tcp=30303).text())
    assert e.udp_port == 0 and e.url().endswith("?discport=0")


def test_enr_with_ipv6_falls_back_to_tcp():
    e = parse_node_url(build(KEY, 1, ip6="::1", tcp=30303, udp6=30310).text())
    assert (e.host, e.tcp_port, e.udp_port) == ("::1", 30303, 30310)
    e = parse_node_url(build(KEY, 1, ip6="::1", tcp=1, tcp6=2).text())
    assert (e.host, e.tcp_port, e.udp_port) == ("::1", 2, 0)


@pytest.mark.parametrize("text,message", [
    (build(KEY, 1, ip="127.0.0.1", udp=30303).text(), "no IP address and TCP port"),
    (build(KEY, 1, tcp=30303).text(), "no IP address and TCP port"),
    (build(KEY, 1, ip="127.0.0.1", tcp=30303).text()[:-3], "invalid enr"),
    ("enr:", "invalid enr"),
    ("enr:!!!!", "invalid enr"),
    (TAMPERED, "invalid signature"),
    ("http://example.com", "must be enode://... or enr:..."),
    ("", "must be enode://... or enr:..."),
    ("enode://00@127.0.0.1:1", "node id"),
])
def test_bad_urls(text, message):
    with pytest.raises(EnodeError, match=message):
        parse_node_url(text)


def test_malformed_port_in_a_signed_record():
    items = [1, b"id", b"v4", b"ip", b"\x7f\x00\x00\x01", b"secp256k1", compress_node_id(NODE_ID), b"tcp", b"\x00\x01"]
    raw = rlp.encode([sign_v4(KEY, keccak256(rlp.encode(items)))] + items)
    text = "enr:" + base64.urlsafe_b64encode(raw).rstrip(b"=").decode()
    with pytest.raises(EnodeError, match="invalid enr: .*leading zero"):
        parse_node_url(text)


def test_not_a_string():
    with pytest.raises(EnodeError):
        parse_node_url(None)
