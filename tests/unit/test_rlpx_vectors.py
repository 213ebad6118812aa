"""Every vector of tests/data/rlpx_vectors.json, checked against rlpx/."""

import pytest

from rlpx import base_protocol as bp
from rlpx import handshake as hs
from rlpx.frame import FrameCodec
from rlpx.keys import keccak256, node_id_from_private_key
from rlpx.session import MessageCodec, split_code

H = bytes.fromhex


@pytest.fixture
def eip8(vectors):
    return vectors["eip8_handshake"]


def test_public_keys_derive_from_private_keys(eip8):
    pub = eip8["public_keys"]
    assert node_id_from_private_key(H(eip8["static_key_a"])).hex() == pub["pub_a"]
    assert node_id_from_private_key(H(eip8["static_key_b"])).hex() == pub["pub_b"]
    assert node_id_from_private_key(H(eip8["ephemeral_key_a"])).hex() == pub["eph_pub_a"]
    assert node_id_from_private_key(H(eip8["ephemeral_key_b"])).hex() == pub["eph_pub_b"]


@pytest.mark.parametrize("name", ["auth1_legacy", "auth2_eip8", "auth3_eip8_v56"])
def test_auth_packets_decode(eip8, name):
    packet = eip8["packets"][name]
    auth = hs.decode_auth(H(eip8["static_key_b"]), H(packet["hex"]))
    assert len(H(packet["hex"])) == packet["length_bytes"]
    assert auth.eip8 == (packet["format"] == "eip8")
    assert auth.version == packet["expect_version"]
    assert auth.initiator_node_id.hex() == eip8["public_keys"]["pub_a"]
    assert auth.nonce.hex() == eip8["nonce_a"]
    assert auth.ephemeral_node_id.hex() == eip8["public_keys"]["eph_pub_a"]
    if "expect_rest_rlp" in packet:
        import rlp
        assert [rlp.encode(x).hex() for x in auth.rest] == packet["expect_rest_rlp"]


@pytest.mark.parametrize("name", ["ack1_legacy", "ack2_eip8", "ack3_eip8_v57"])
def test_ack_packets_decode(eip8, name):
    packet = eip8["packets"][name]
    ack = hs.decode_ack(H(eip8["static_key_a"]), H(packet["hex"]))
    assert ack.eip8 == (packet["format"] == "eip8")
    assert ack.version == packet["expect_version"]
    assert ack.nonce.hex() == eip8["nonce_b"]
    assert ack.ephemeral_node_id.hex() == eip8["public_keys"]["eph_pub_b"]
    if "expect_rest_rlp" in packet:
        import rlp
        assert [rlp.encode(x).hex() for x in ack.rest] == packet["expect_rest_rlp"]


@pytest.mark.parametrize("auth_name", ["auth1_legacy", "auth2_eip8", "auth3_eip8_v56"])
def test_recipient_answers_in_the_auth_format(eip8, auth_name):
    r = hs.Recipient(H(eip8["static_key_b"]), H(eip8["ephemeral_key_b"]), H(eip8["nonce_b"]))
    ack = r.feed(H(eip8["packets"][auth_name]["hex"]))
    assert ack is not None
    decoded = hs.decode_ack(H(eip8["static_key_a"]), ack)
    assert decoded.eip8 == (auth_name != "auth1_legacy")
    assert r.remote_node_id.hex() == eip8["public_keys"]["pub_a"]


def test_derived_secrets_auth2_ack2_at_b(eip8):
    want = eip8["derived_secrets_auth2_ack2_at_B"]
    r = hs.Recipient(H(eip8["static_key_b"]), H(eip8["ephemeral_key_b"]), H(eip8["nonce_b"]))
    r.feed(H(eip8["packets"]["auth2_eip8"]["hex"]))
    assert r.secrets.aes_secret.hex() == want["aes_secret"]
    assert r.secrets.mac_secret.hex() == want["mac_secret"]
    codec = FrameCodec(r.secrets)
    codec.ingress_mac.hash.update(b"foo")
    assert codec.ingress_mac.digest().hex() == want["ingress_mac_foo"]


def test_initiator_derives_same_secrets_from_ack2(eip8):
    want = eip8["derived_secrets_auth2_ack2_at_B"]
    i = hs.Initiator(H(eip8["static_key_a"]), H(eip8["public_keys"]["pub_b"]),
                     H(eip8["ephemeral_key_a"]), H(eip8["nonce_a"]))
    secrets = i.feed(H(eip8["packets"]["ack2_eip8"]["hex"]))
    assert secrets.aes_secret.hex() == want["aes_secret"]
    assert secrets.mac_secret.hex() == want["mac_secret"]


def test_initiator_accepts_legacy_ack(eip8):
    i = hs.Initiator(H(eip8["static_key_a"]), H(eip8["public_keys"]["pub_b"]),
                     H(eip8["ephemeral_key_a"]), H(eip8["nonce_a"]))
    secrets = i.feed(H(eip8["packets"]["ack1_legacy"]["hex"]))
    assert secrets.aes_secret.hex() == eip8["derived_secrets_auth2_ack2_at_B"]["aes_secret"]
    assert i.ack.eip8 is False


def test_auth_signature_vector_recovers_ephemeral_key(eip8):
    import coincurve
    sig = H(eip8["auth_signature"]["hex"])
    from rlpx.keys import ecdh_x
    token = ecdh_x(H(eip8["static_key_a"]), H(eip8["public_keys"]["pub_b"]))
    msg = bytes(a ^ b for a, b in zip(token, H(eip8["nonce_a"])))
    pub = coincurve.PublicKey.from_signature_and_message(sig, msg, hasher=None)
    assert pub.format(compressed=False)[1:].hex() == eip8["public_keys"]["eph_pub_a"]


def test_eip8_hello(vectors):
    v = vectors["eip8_hello"]
    hello = bp.Hello.decode(H(v["hex"]))
    want = v["expect"]
    assert hello.version == want["protocolVersion"]
    assert hello.client_id == want["clientId"]
    assert [(c.name, c.version) for c in hello.capabilities] == [tuple(c) for c in want["capabilities"]]
    assert hello.listen_port == want["listenPort"]
    assert hello.node_id.hex() == vectors["eip8_handshake"]["public_keys"]["pub_a"]


class _FakeMAC:
    """go-ethereum's TestFrameReadWrite replaces keccak with a hash whose sum is 32 x 0x01."""

    def header(self, _ct):
        return b"\x01" * 16

    def frame(self, _ct):
        return b"\x01" * 16


def test_geth_frame_vector(vectors):
    v = vectors["geth_frame_vector"]
    secrets = hs.Secrets(H(v["aes_secret"]), H(v["mac_secret"]), b"", b"", bytes(64))
    writer = FrameCodec(secrets)
    writer.egress_mac = _FakeMAC()
    payload = H(v["msg_payload"])
    wire = writer.encode(bytes([v["msg_code"]]) + payload)
    assert wire.hex() == v["golden_frame"]
    reader = FrameCodec(secrets)
    reader.ingress_mac = _FakeMAC()
    [frame_data] = reader.feed(H(v["golden_frame"]))
    assert frame_data.hex() == v["want_frame_content"]
    assert split_code(frame_data) == (v["msg_code"], payload)


def test_legacy_handshake_gist_full(vectors):
    g = vectors["legacy_handshake_gist_fjl"]
    G = lambda k: H(g[k])  # noqa: E731
    auth = hs.decode_auth(G("receiver_private_key"), G("auth_ciphertext"))
    assert not auth.eip8 and auth.nonce == G("initiator_nonce")
    assert auth.ephemeral_node_id == node_id_from_private_key(G("initiator_ephemeral_private_key"))
    ack = hs.decode_ack(G("initiator_private_key"), G("authresp_ciphertext"))
    assert not ack.eip8 and ack.nonce == G("receiver_nonce")
    common = dict(auth_packet=G("auth_ciphertext"), ack_packet=G("authresp_ciphertext"),
                  initiator_nonce=G("initiator_nonce"), recipient_nonce=G("receiver_nonce"))
    init = hs.derive_secrets(initiator=True, ephemeral_key=G("initiator_ephemeral_private_key"),
                             remote_ephemeral_node_id=ack.ephemeral_node_id,
                             remote_node_id=node_id_from_private_key(G("receiver_private_key")), **common)
    recv = hs.derive_secrets(initiator=False, ephemeral_key=G("receiver_ephemeral_private_key"),
                             remote_ephemeral_node_id=auth.ephemeral_node_id,
                             remote_node_id=auth.initiator_node_id, **common)
    for s in (init, recv):
        assert s.aes_secret == G("aes_secret")
        assert s.mac_secret == G("mac_secret")
    assert keccak256(init.egress_mac_seed) == G("initial_egress_MAC")
    assert keccak256(init.ingress_mac_seed) == G("initial_ingress_MAC")
    assert keccak256(recv.ingress_mac_seed) == G("initial_egress_MAC")
    # Each side reads the other's first frame (a Hello) with real MACs over complete frames.
    [(code, payload)] = MessageCodec(recv).feed(G("initiator_hello_packet"))
    hello = bp.Hello.decode(payload)
    assert code == bp.HELLO and hello.version == 3
    assert [str(c) for c in hello.capabilities] == ["a/0", "b/2"]
    assert hello.node_id == node_id_from_private_key(G("initiator_private_key"))
    [(code, payload)] = MessageCodec(init).feed(G("receiver_hello_packet"))
    hello = bp.Hello.decode(payload)
    assert [str(c) for c in hello.capabilities] == ["c/1", "d/3"]
    assert hello.node_id == node_id_from_private_key(G("receiver_private_key"))
