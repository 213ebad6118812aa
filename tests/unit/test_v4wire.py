"""The discv4 packet format (discovery.v4wire): the EIP-8 test packets, round trips of every
type, go-ethereum's MAX_NEIGHBORS calculation, expiration, one error kind per failure, and a
seeded fuzz that only PacketError ever escapes."""

from __future__ import annotations

import ipaddress
import random

import pytest
import rlp

from discovery import enr
from discovery.v4wire import (EXPIRATION_S, MAX_NEIGHBORS, MAX_PACKET_SIZE, MIN_PACKET_SIZE, BadHash, BadSignature,
                              EncodeError, Endpoint, ENRRequest, ENRResponse, FindNode, MalformedPacket, Neighbors,
                              Node, PacketError, PacketTooBig, PacketTooSmall, Ping, Pong, UnknownPacketType, decode,
                              encode, expiration_for, expired, name_of, split_neighbors)
from discovery.v4wire import _packet_value  # the packet-data alone, also for a packet too big to send
from rlpx.keys import SECP256K1_N, generate_private_key, keccak256, node_id_from_private_key, sign_recoverable

# EIP-8 "Test Vectors", "RLPx Discovery Protocol": signed by this key.
KEY = bytes.fromhex("b71c71a67e1177ad4e901695e1b4b9ee17ae16c6668d313eac2f96dbcda3f291")
SENDER = node_id_from_private_key(KEY)

# go-ethereum v4wire_test.go's first packet: a plain ping, no extra elements.
GETH_PING = (
    "71dbda3a79554728d4f94411e42ee1f8b0d561c10e1e5f5893367948c6a7d70bb87b235fa28a77070271b6c164a2dce8c7e13a5739b53b5e96f2"
    "e5acb0e458a02902f5965d55ecbeb2ebb6cabb8b2b232896a36b737666c55265ad0a68412f250001ea04cb847f000001820cfa8215a8d79000"
    "0000000000000000000000000000018208ae820d058443b9a355")
# EIP-8: "ping packet with version 4, additional list elements"
EIP8_PING = (
    "e9614ccfd9fc3e74360018522d30e1419a143407ffcce748de3e22116b7e8dc92ff74788c0b6663aaa3d67d641936511c8f8d6ad8698b820a7cf"
    "9e1be7155e9a241f556658c55428ec0563514365799a4be2be5a685a80971ddcfa80cb422cdd0101ec04cb847f000001820cfa8215a8d79000"
    "0000000000000000000000000000018208ae820d058443b9a3550102")
# EIP-8: "ping packet with version 555, additional list elements and additional random data"
EIP8_PING_555 = (
    "577be4349c4dd26768081f58de4c6f375a7a22f3f7adda654d1428637412c3d7fe917cadc56d4e5e7ffae1dbe3efffb9849feb71b262de3797"
    "7e7c7a44e677295680e9e38ab26bee2fcbae207fba3ff3d74069a50b902a82c9903ed37cc993c50001f83e82022bd79020010db83c4d001500"
    "000000abcdef12820cfa8215a8d79020010db885a308d313198a2e037073488208ae82823a8443b9a355c5010203040531b9019afde696e582"
    "a78fa8d95ea13ce3297d4afb8ba6433e4154caa5ac6431af1b80ba76023fa4090c408f6b4bc3701562c031041d4702971d102c9ab7fa5eed4c"
    "d6bab8f7af956f7d565ee1917084a95398b6a21eac920fe3dd1345ec0a7ef39367ee69ddf092cbfe5b93e5e568ebc491983c09c76d922dc3")
# EIP-8: "pong packet with additional list elements and additional random data"
EIP8_PONG = (
    "09b2428d83348d27cdf7064ad9024f526cebc19e4958f0fdad87c15eb598dd61d08423e0bf66b2069869e1724125f820d851c136684082774f"
    "870e614d95a2855d000f05d1648b2d5945470bc187c2d2216fbe870f43ed0909009882e176a46b0102f846d79020010db885a308d313198a2e"
    "037073488208ae82823aa0fbc914b16819237dcd8801d7e53f69e9719adecb3cc0e790c57e91ca4461c9548443b9a355c6010203c2040506a0"
    "c969a58f6f9095004c0177a6b47f451530cab38966a25cca5cb58f055542124e")
# EIP-8: "findnode packet with additional list elements and additional random data"
EIP8_FINDNODE = (
    "c7c44041b9f7c7e41934417ebac9a8e1a4c6298f74553f2fcfdcae6ed6fe53163eb3d2b52e39fe91831b8a927bf4fc222c3902202027e5e9eb"
    "812195f95d20061ef5cd31d502e47ecb61183f74a504fe04c51e73df81f25c4d506b26db4517490103f84eb840ca634cae0d49acb401d8a4c6"
    "b6fe8c55b70d115bf400769cc1400f3258cd31387574077f301b421bc84df7266c44e9e6d569fc56be00812904767bf5ccd1fc7f8443b9a355"
    "82999983999999280dc62cc8255c73471e0a61da0c89acdc0e035e260add7fc0c04ad9ebf3919644c91cb247affc82b69bd2ca235c71eab8e4"
    "9737c937a2c396")
# EIP-8: "neighbours packet with additional list elements and additional random data"
EIP8_NEIGHBORS = (
    "c679fc8fe0b8b12f06577f2e802d34f6fa257e6137a995f6f4cbfc9ee50ed3710faf6e66f932c4c8d81d64343f429651328758b47d3dbc02c4"
    "042f0fff6946a50f4a49037a72bb550f3a7872363a83e1b9ee6469856c24eb4ef80b7535bcf99c0004f9015bf90150f84d846321163782115c"
    "82115db8403155e1427f85f10a5c9a7755877748041af1bcd8d474ec065eb33df57a97babf54bfd2103575fa829115d224c523596b401065a9"
    "7f74010610fce76382c0bf32f84984010203040101b840312c55512422cf9b8a4097e9a6ad79402e87a15ae909a4bfefa22398f03d20951933"
    "beea1e4dfa6f968212385e829f04c2d314fc2d4e255e0d3bc08792b069dbf8599020010db83c4d001500000000abcdef12820d05820d05b840"
    "38643200b172dcfef857492156971f0e6aa2c538d8b74010f8e140811d53b98c765dd2d96126051913f44582e8c199ad7c6d6819e9a56483f6"
    "37feaac9448aacf8599020010db885a308d313198a2e037073488203e78203e8b8408dcab8618c3253b558d459da53bd8fa68935a719aff8b8"
    "11197101a4b2b47dd2d47295286fc00cc081bb542d760717d1bdd6bec2c37cd72eca367d6dd3b9df738443b9a355010203b525a138aa34383f"
    "ec3d2719a0")

EXPIRATION = 1136239445


def ip(text: str) -> bytes:
    return ipaddress.ip_address(text).packed


def signed(ptype: int, data: bytes, key: bytes = KEY) -> bytes:
    """A packet with any type byte and packet-data, correctly hashed and signed."""
    body = bytes([ptype]) + data
    sig = sign_recoverable(key, keccak256(body))
    return keccak256(sig, body) + sig + body


def decode_hex(text: str):
    data = bytes.fromhex(text)
    packet, sender, digest = decode(data)
    assert sender == SENDER
    assert digest == data[:32]
    return packet


# --------------------------------------------------------------------------- test vectors


def test_geth_plain_ping():
    assert decode_hex(GETH_PING) == Ping(version=4, from_=Endpoint(ip("127.0.0.1"), 3322, 5544),
                                         to=Endpoint(ip("::1"), 2222, 3333), expiration=EXPIRATION, enr_seq=None)


def test_eip8_ping_version_4_additional_elements():
    # [4, from, to, expiration, 1, 2]: go-ethereum reads the 1 as the EIP-868 enr-seq and ignores the 2.
    p = decode_hex(EIP8_PING)
    assert p == Ping(version=4, from_=Endpoint(ip("127.0.0.1"), 3322, 5544), to=Endpoint(ip("::1"), 2222, 3333),
                     expiration=EXPIRATION, enr_seq=1)
    assert str(p.from_.address) == "127.0.0.1" and str(p.to.address) == "::1"


def test_eip8_ping_version_555_extra_list_and_random_data():
    # The version is not checked; the list [1, 2, 3, 4, 5] where enr-seq would be is an extra element.
    p = decode_hex(EIP8_PING_555)
    assert p == Ping(version=555, from_=Endpoint(ip("2001:db8:3c4d:15::abcd:ef12"), 3322, 5544),
                     to=Endpoint(ip("2001:db8:85a3:8d3:1319:8a2e:370:7348"), 2222, 33338),
                     expiration=EXPIRATION, enr_seq=None)


def test_eip8_pong_extra_elements_and_random_data():
    p = decode_hex(EIP8_PONG)
    assert p == Pong(to=Endpoint(ip("2001:db8:85a3:8d3:1319:8a2e:370:7348"), 2222, 33338),
                     ping_hash=bytes.fromhex("fbc914b16819237dcd8801d7e53f69e9719adecb3cc0e790c57e91ca4461c954"),
                     expiration=EXPIRATION, enr_seq=None)


def test_eip8_findnode_extra_elements_and_random_data():
    p = decode_hex(EIP8_FINDNODE)
    assert p == FindNode(target=SENDER, expiration=EXPIRATION)  # the target is the key's own id


def test_eip8_neighbors_extra_elements_and_random_data():
    p = decode_hex(EIP8_NEIGHBORS)
    assert p.expiration == EXPIRATION
    assert p.nodes == (
        Node(ip("99.33.22.55"), 4444, 4445, bytes.fromhex(
            "3155e1427f85f10a5c9a7755877748041af1bcd8d474ec065eb33df57a97babf54bfd2103575fa829115d224c523596b401065a97f740106"
            "10fce76382c0bf32")),
        Node(ip("1.2.3.4"), 1, 1, bytes.fromhex(
            "312c55512422cf9b8a4097e9a6ad79402e87a15ae909a4bfefa22398f03d20951933beea1e4dfa6f968212385e829f04c2d314fc2d4e255e"
            "0d3bc08792b069db")),
        Node(ip("2001:db8:3c4d:15::abcd:ef12"), 3333, 3333, bytes.fromhex(
            "38643200b172dcfef857492156971f0e6aa2c538d8b74010f8e140811d53b98c765dd2d96126051913f44582e8c199ad7c6d6819e9a56483"
            "f637feaac9448aac")),
        Node(ip("2001:db8:85a3:8d3:1319:8a2e:370:7348"), 999, 1000, bytes.fromhex(
            "8dcab8618c3253b558d459da53bd8fa68935a719aff8b811197101a4b2b47dd2d47295286fc00cc081bb542d760717d1bdd6bec2c37cd72e"
            "ca367d6dd3b9df73")),
    )
    assert str(p.nodes[2].address) == "2001:db8:3c4d:15::abcd:ef12"
    assert p.nodes[0].endpoint == Endpoint(ip("99.33.22.55"), 4444, 4445)


def test_geth_plain_ping_reencodes_to_the_same_packet_data():
    # go-ethereum's encoder writes canonical RLP like ours; the vector's signature used another nonce.
    data = bytes.fromhex(GETH_PING)
    packet, _, _ = decode(data)
    ours, digest = encode(packet, KEY)
    assert ours[97:] == data[97:] and decode(ours) == (packet, SENDER, digest)


# --------------------------------------------------------------------------- round trips


def some_record(key: bytes) -> enr.Record:
    return enr.build(key, 7, ip="10.0.0.1", tcp=30303, udp=30303)


def round_trip_packets(key: bytes):
    me, you = Endpoint.of("10.0.0.1", 30303, 30303), Endpoint.of("2001:db8::1", 30304, 0)
    node_ids = [node_id_from_private_key(bytes([i]) * 32) for i in range(1, 4)]
    return [
        Ping(from_=me, to=you, expiration=1_700_000_020),
        Ping(from_=me, to=you, expiration=2**64 - 1, enr_seq=2**64 - 1),
        Ping(from_=me, to=you, expiration=0, enr_seq=0, version=555),
        Pong(to=you, ping_hash=b"\x11" * 32, expiration=1_700_000_020),
        Pong(to=me, ping_hash=b"\x22" * 32, expiration=1_700_000_020, enr_seq=5),
        FindNode(target=node_ids[0], expiration=1_700_000_020),
        Neighbors(nodes=(), expiration=1_700_000_020),
        Neighbors(nodes=[Node.of("1.2.3.4", 30303, 30303, node_ids[1]),
                         Node.of("::ffff:5.6.7.8", 1, 65535, node_ids[2])], expiration=1_700_000_020),
        ENRRequest(expiration=1_700_000_020),
        ENRResponse(request_hash=b"\x33" * 32, record=some_record(key)),
    ]


@pytest.mark.parametrize("index", range(10))
def test_round_trip_every_type(index):
    key = generate_private_key()
    packet = round_trip_packets(key)[index]
    data, digest = encode(packet, key)
    assert len(data) <= MAX_PACKET_SIZE and digest == data[:32] == keccak256(data[32:])
    assert data[97] == packet.TYPE
    decoded, sender, digest2 = decode(data)
    assert decoded == packet and type(decoded) is type(packet)
    assert sender == node_id_from_private_key(key) and digest2 == digest
    assert encode(decoded, key) == (data, digest)


def test_endpoint_of_maps_ipv4_in_ipv6_to_four_bytes():
    assert Endpoint.of("::ffff:5.6.7.8", 1, 2).ip == bytes([5, 6, 7, 8])  # go-ethereum NewEndpoint
    assert Endpoint.of(ipaddress.ip_address("::1"), 1, 2).ip == ip("::1")
    assert Endpoint(b"\x01\x02\x03", 1, 2).address is None


def test_enr_response_record_verifies_and_keeps_raw():
    key = generate_private_key()
    record = some_record(key)
    packet, sender, _ = decode(encode(ENRResponse(b"\x01" * 32, record), key)[0])
    assert packet.record.raw == record.raw and packet.record.node_id == sender


def test_names():
    assert [name_of(t) for t in range(1, 8)] == ["PING/v4", "PONG/v4", "FINDNODE/v4", "NEIGHBORS/v4",
                                                 "ENRREQUEST/v4", "ENRRESPONSE/v4", "UNKNOWN/7"]


# --------------------------------------------------------------------------- neighbors


def test_max_neighbors_is_go_ethereums_calculation():
    # v4wire.go's commented init(): append a largest node (16-byte IP, ports 0xffff) to a Neighbors
    # with expiration ^uint64(0) until headSize + size + 1 >= 1280; the count before is the max.
    big = Node(b"\xff" * 16, 0xFFFF, 0xFFFF, b"\xab" * 64)
    n = 0
    while 97 + len(rlp.encode(_packet_value(Neighbors((big,) * (n + 1), 2**64 - 1)))) + 1 < 1280:
        n += 1
    assert n == MAX_NEIGHBORS == 12
    assert len(encode(Neighbors((big,) * 12, 2**64 - 1), KEY)[0]) == 1205
    with pytest.raises(EncodeError, match="1280"):
        encode(Neighbors((big,) * 13, 2**64 - 1), KEY)  # would be 1296 bytes


def test_split_neighbors():
    nodes = [Node.of("1.2.3.4", 30303, 30303, bytes([i]) * 64) for i in range(30)]
    parts = split_neighbors(nodes)
    assert [len(p) for p in parts] == [12, 12, 6]
    assert [n for p in parts for n in p] == nodes
    assert split_neighbors(nodes[:12]) == [tuple(nodes[:12])]
    assert split_neighbors([]) == [()]  # go-ethereum still sends one empty Neighbors
    assert [len(p) for p in split_neighbors(nodes, 16 - 6)] == [10, 10, 10]
    with pytest.raises(ValueError):
        split_neighbors(nodes, 13)
    with pytest.raises(ValueError):
        split_neighbors(nodes, 0)


# --------------------------------------------------------------------------- expiration


def test_expired_reads_expiration_as_int64():
    assert EXPIRATION_S == 20
    assert expiration_for(1000.7) == 1020
    assert not expired(1020, 1000.7)
    assert not expired(1000, 1000)  # the same second, no fraction passed
    assert expired(1000, 1000.001)
    assert expired(999, 1000)
    assert not expired(2**63 - 1, 1000)
    assert expired(2**63, 1000)  # negative as an int64, long past
    assert expired(2**64 - 1, 1000)


def test_decode_does_not_check_expiration():
    packet, _, _ = decode(encode(ENRRequest(expiration=0), KEY)[0])
    assert packet.expiration == 0 and expired(packet.expiration, 1.0)


# --------------------------------------------------------------------------- error kinds


def test_too_small_and_too_big():
    with pytest.raises(PacketTooSmall) as e:
        decode(bytes(MIN_PACKET_SIZE - 1))
    assert e.value.kind == "too_small"
    with pytest.raises(PacketTooBig) as e:
        decode(bytes(MAX_PACKET_SIZE + 1))
    assert e.value.kind == "too_big"
    with pytest.raises(PacketTooSmall):
        decode(b"")


def test_bad_hash():
    data = bytearray.fromhex(GETH_PING)
    data[-1] ^= 1
    with pytest.raises(BadHash) as e:
        decode(bytes(data))
    assert e.value.kind == "bad_hash" and e.value.sender_id is None


@pytest.mark.parametrize("mangle", ["v", "r0", "s_n"])
def test_bad_signature(mangle):
    body = bytes.fromhex(GETH_PING)[97:]
    sig = bytearray(sign_recoverable(KEY, keccak256(body)))
    if mangle == "v":
        sig[64] = 5
    elif mangle == "r0":
        sig[:32] = bytes(32)
    else:
        sig[32:64] = SECP256K1_N.to_bytes(32, "big")
    data = keccak256(bytes(sig), body) + bytes(sig) + body
    with pytest.raises(BadSignature) as e:
        decode(data)
    assert e.value.kind == "bad_signature" and e.value.packet_hash == data[:32]


def test_high_s_signature_recovers_as_ecrecover_does():
    body = bytes.fromhex(GETH_PING)[97:]
    sig = sign_recoverable(KEY, keccak256(body))
    s = int.from_bytes(sig[32:64], "big")
    high = sig[:32] + (SECP256K1_N - s).to_bytes(32, "big") + bytes([sig[64] ^ 1])
    _, sender, _ = decode(keccak256(high, body) + high + body)
    assert sender == SENDER


@pytest.mark.parametrize("ptype", [0, 7, 0x80, 0xFF])
def test_unknown_type(ptype):
    data = signed(ptype, bytes.fromhex("c180"))
    with pytest.raises(UnknownPacketType) as e:
        decode(data)
    assert e.value.kind == "unknown_type" and e.value.sender_id == SENDER and e.value.packet_hash == data[:32]


EP = "cb847f000001820cfa8215a8"  # [127.0.0.1, 3322, 5544]
EXP = "8443b9a355"


def _list(body: bytes) -> bytes:
    """The RLP list header for ``body`` (already-encoded items) and the body."""
    if len(body) < 56:
        return bytes([0xC0 + len(body)]) + body
    n = len(body).to_bytes((len(body).bit_length() + 7) // 8, "big")
    return bytes([0xF7 + len(n)]) + n + body


def rlp_list(*hex_items: str) -> str:
    return _list(bytes.fromhex("".join(hex_items))).hex()


MALFORMED = {
    "empty data": (1, ""),
    "data is a string": (1, "8401020304"),
    "list runs past the end": (1, "c5010203"),
    "item runs past its list": (1, "c2820102"),
    "long form for a short list": (3, "f80180"),
    "long form length with leading zero": (3, "f900" + "05" + "8080808080"),
    "single byte as a string": (5, rlp_list("8105")),
    "too few fields": (1, rlp_list("04", EP, EP)),
    "version is a list": (1, rlp_list("c104", EP, EP, EXP)),
    "version wider than 64 bits": (1, rlp_list("89" + "01" * 9, EP, EP, EXP)),
    "endpoint with 4 elements": (1, rlp_list("04", "cc847f000001820cfa8215a880", EP, EXP)),
    "endpoint with 2 elements": (1, rlp_list("04", "c8847f000001820cfa", EP, EXP)),
    "endpoint is a string": (1, rlp_list("04", "80", EP, EXP)),
    "port wider than 16 bits": (1, rlp_list("04", "cc847f00000183010000820cfa", EP, EXP)),
    "port with leading zero": (1, rlp_list("04", "cb847f00000182000a8215a8", EP, EXP)),
    "expiration with leading zero": (5, rlp_list("8500" + "43b9a355")),
    "zero encoded as 0x00": (5, rlp_list("00")),
    "expiration wider than 64 bits": (5, rlp_list("89" + "ff" * 9)),
    "enr-seq with leading zero": (1, rlp_list("04", EP, EP, EXP, "820001")),
    "pong ping-hash is a list": (2, rlp_list(EP, "c0", EXP)),
    "findnode target 63 bytes": (3, rlp_list("b83f" + "ab" * 63, EXP)),
    "findnode target 65 bytes": (3, rlp_list("b841" + "ab" * 65, EXP)),
    "neighbors nodes not a list": (4, rlp_list("80", EXP)),
    "neighbors node with 3 elements": (4, rlp_list(rlp_list(EP), EXP)),
    "enrresponse record is a string": (6, rlp_list("a0" + "11" * 32, "80")),
    "enrresponse record garbage list": (6, rlp_list("a0" + "11" * 32, "c3010203")),
    "enrrequest tail item runs past the list": (5, "c6" + EXP + "83"),
}


@pytest.mark.parametrize("name", sorted(MALFORMED))
def test_malformed(name):
    ptype, data_hex = MALFORMED[name]
    data = signed(ptype, bytes.fromhex(data_hex))
    with pytest.raises(MalformedPacket) as e:
        decode(data)
    assert e.value.kind == "malformed" and e.value.sender_id == SENDER and e.value.packet_hash == data[:32]


def test_enr_response_with_badly_signed_record():
    key = generate_private_key()
    raw = bytearray(some_record(key).raw)
    raw[5] ^= 1  # inside the 64-byte signature
    data = signed(6, _list(b"\xa0" + b"\x11" * 32 + bytes(raw)))
    with pytest.raises(MalformedPacket, match="record"):
        decode(data)


def test_tail_and_trailing_bytes_are_ignored():
    base = bytes.fromhex(EXP)
    for data in (_list(base), _list(base + b"\x01" + bytes.fromhex("c3c20102")), _list(base) + b"\xff\xfe",
                 _list(base + bytes.fromhex("c50102030405")) + bytes.fromhex("b9ffff")):
        packet, _, _ = decode(signed(5, data))
        assert packet == ENRRequest(expiration=EXPIRATION)


def test_inner_ip_of_any_length_is_kept_as_go_ethereum_net_ip_does():
    data = bytes.fromhex(rlp_list("04", "c780820cfa8215a8", "c9820102820cfa8215a8", EXP))
    packet, _, _ = decode(signed(1, data))
    assert packet.from_ == Endpoint(b"", 3322, 5544) and packet.from_.address is None
    assert packet.to.ip == b"\x01\x02"


def test_deeply_nested_record_is_malformed_not_a_recursion_error():
    depth = 400  # as deep as fits in 1280 bytes
    nested = b""
    for _ in range(depth):
        nested = _list(nested)
    body = _list(b"\xa0" + b"\x11" * 32 + nested)
    assert len(body) + 98 <= MAX_PACKET_SIZE
    with pytest.raises(MalformedPacket):
        decode(signed(6, body))
    # in a tail element it is never descended into, as an rlp.RawValue is not
    packet, _, _ = decode(signed(5, _list(bytes.fromhex(EXP) + nested)))
    assert packet == ENRRequest(EXPIRATION)


# --------------------------------------------------------------------------- encode errors


@pytest.mark.parametrize("packet", [
    Ping(from_=Endpoint(b"\x01\x02\x03", 1, 2), to=Endpoint.of("::1", 1, 2), expiration=1),
    Ping(from_=Endpoint.of("1.2.3.4", 65536, 2), to=Endpoint.of("::1", 1, 2), expiration=1),
    Ping(from_=Endpoint.of("1.2.3.4", 1, True), to=Endpoint.of("::1", 1, 2), expiration=1),
    Ping(from_=Endpoint.of("1.2.3.4", 1, 2), to=Endpoint.of("::1", 1, 2), expiration=2**64),
    Ping(from_=Endpoint.of("1.2.3.4", 1, 2), to=Endpoint.of("::1", 1, 2), expiration=1, enr_seq=-1),
    Ping(from_=("1.2.3.4", 1, 2), to=Endpoint.of("::1", 1, 2), expiration=1),
    Pong(to=Endpoint.of("::1", 1, 2), ping_hash="ab", expiration=1),
    FindNode(target=b"\x01" * 65, expiration=1),
    Neighbors(nodes=[("1.2.3.4", 1, 2, b"\x01" * 64)], expiration=1),
    Neighbors(nodes=[Node(b"\x01\x02\x03\x04", 1, 2, b"\x01" * 63)], expiration=1),
    ENRResponse(request_hash=b"\x01" * 32, record=b"not a record"),
    "not a packet",
])
def test_encode_refuses(packet):
    with pytest.raises(EncodeError):
        encode(packet, KEY)


def test_encode_refuses_bad_key_and_bad_address():
    with pytest.raises(EncodeError):
        encode(ENRRequest(1), bytes(32))
    with pytest.raises(EncodeError):
        Endpoint.of("not an address", 1, 2)


# --------------------------------------------------------------------------- fuzz


def _fuzz_inputs(rng: random.Random):
    valid = [bytes.fromhex(v) for v in (GETH_PING, EIP8_PING, EIP8_PING_555, EIP8_PONG, EIP8_FINDNODE,
                                        EIP8_NEIGHBORS)]
    valid += [encode(p, KEY)[0] for p in round_trip_packets(KEY)]
    for _ in range(1500):
        choice = rng.random()
        base = rng.choice(valid)
        if choice < 0.15:
            yield bytes(rng.getrandbits(8) for _ in range(rng.randrange(0, 1400)))
        elif choice < 0.3:
            b = bytearray(base)
            for _ in range(rng.randrange(1, 4)):
                b[rng.randrange(len(b))] = rng.getrandbits(8)
            yield bytes(b)
        else:
            # mutate the packet-data and re-sign, so the RLP and field decoding is what is hit
            body = bytearray(base[97:])
            for _ in range(rng.randrange(1, 6)):
                op = rng.random()
                if op < 0.5 and len(body) > 1:
                    body[rng.randrange(1, len(body))] = rng.getrandbits(8)
                elif op < 0.7:
                    del body[rng.randrange(1, len(body) + 1):]
                elif op < 0.85 and len(body) > 2:
                    i = rng.randrange(1, len(body))
                    del body[i:i + rng.randrange(1, 8)]
                else:
                    i = rng.randrange(1, len(body) + 1)
                    body[i:i] = bytes(rng.getrandbits(8) for _ in range(rng.randrange(1, 8)))
            if rng.random() < 0.1:
                body[0] = rng.randrange(0, 8)
            body = bytes(body[:MAX_PACKET_SIZE - 97]) or b"\x01"
            yield signed(body[0], body[1:])


def test_fuzz_only_packet_errors_escape():
    rng = random.Random(20261203)
    kinds: dict[str, int] = {}
    for data in _fuzz_inputs(rng):
        try:
            decode(data)
            kinds["ok"] = kinds.get("ok", 0) + 1
        except PacketError as exc:
            kinds[exc.kind] = kinds.get(exc.kind, 0) + 1
    assert kinds.get("malformed", 0) > 100 and kinds.get("bad_hash", 0) > 50 and kinds.get("ok", 0) > 10


def test_non_bytes_input_is_a_packet_error():
    with pytest.raises(PacketError):
        decode("not bytes")
    with pytest.raises(PacketError):
        decode(None)


def test_a_truncated_packet_data_value_is_malformed():
    """pyrlp's non-strict decode takes a value cut short: the reader must not (EIP-8 ignores
    only bytes after a complete first value)."""
    key = generate_private_key()
    good, _ = encode(ENRRequest(expiration=2**40), key)
    body = good[97:98] + bytes([0xC3, 0x82, 0x00])  # a list of 3 bytes with 2 present
    sig = sign_recoverable(key, keccak256(body))
    with pytest.raises(MalformedPacket, match="runs past"):
        decode(keccak256(sig, body) + sig + body)
