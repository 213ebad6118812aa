"""node/peer_machine.py without an actor system: every stage's deadline, every way a connection
ends, routing by offset, flow control both ways and protocol restarts, driven by
tests/support/peer_harness.py against an in-memory remote Connection with a fake clock."""

from __future__ import annotations

import os

import pytest

from config.model import RestartPolicy
from messages.admission import ADD_PEER, POST_HANDSHAKE, CheckpointRequest
from messages.peer import PeerGone, PeerInfoReply
from messages.protocol import OutboundCredit, ProtocolInfoRequest, ProtocolStop
from messages.protocol import ToProtocol as Batch
from messages.supervision import SupervisionEvent
from node import peer_machine
from node.peer_machine import (INFO_TIMEOUT_S, DropProtocol, Finish, HalfClose, SpawnProtocol, Stage, StopProtocol,
                               ToProtocol, ToServer)
from rlpx import base_protocol as bp
from rlpx.connection import DisconnectReceived, HelloReceived, Messages, PingReceived
from rlpx.disc import DiscReason
from rlpx.keys import generate_private_key, node_id_from_private_key

from support.peer_harness import REMOTE_PORT, T0, PeerHarness, protocol_config

AAA, TEST = 16, 19
"""Offsets of aaa/1 (3 codes) and test/1 (8 codes) in the default offset table."""


def stops(reason: DiscReason, remote: bool = False, names=("aaa", "test")) -> list:
    """The actions that stop the running protocols ``names`` when a connection closes."""
    out = []
    for name in names:
        out += [ToProtocol(name, ProtocolStop(int(reason), remote)), StopProtocol(name)]
    return out


def restart_protocols(**kw):
    return (protocol_config("aaa", 1, 3), protocol_config("test", 1, 8, on_failure="restart", **kw))


# -- deadlines ------------------------------------------------------------------------------------
def test_connect_deadline_is_dial_s_and_finishes_without_a_disconnect():
    h = PeerHarness(timeouts={"dial_s": 15.0})
    assert h.record(h.m.connect_started(h.now)) == []
    assert h.m.stage == Stage.CONNECT and h.m.next_deadline() == T0 + 15
    assert h.at(T0 + 14.999) == [] and h.m.stage == Stage.CONNECT
    assert h.at(T0 + 15) == [Finish(PeerGone(h.remote_id, int(DiscReason.NETWORK_ERROR), False, "connect",
                                             "dial timeout after 15 s", "timeout"))]
    assert h.m.stage == Stage.DONE and h.m.next_deadline() is None


def test_connected_replaces_the_connect_deadline_with_handshake_s():
    h = PeerHarness()
    h.m.connect_started(T0)
    h.m.connected(("10.0.0.1", 30303), T0 + 2)
    assert h.m.deadlines == {"handshake": T0 + 2 + 5}


@pytest.mark.parametrize("inbound", [False, True])
def test_handshake_deadline_during_auth_ack_closes_without_a_disconnect(inbound):
    h = PeerHarness(inbound=inbound)
    h.start()
    h.write()  # outbound: our auth; inbound: nothing yet (the remote's auth is not read)
    assert h.m.stage == Stage.HANDSHAKE and h.m.next_deadline() == T0 + 5
    assert h.at(T0 + 4.999) == [] and h.m.stage == Stage.HANDSHAKE
    assert h.at(T0 + 5) == []
    assert h.m.stage == Stage.CLOSING and not h.m.out  # no encryption yet: nothing can be sent
    assert h.m.deadlines == {"grace": T0 + 6}
    assert h.write() == [HalfClose()]
    assert h.at(T0 + 6) == [Finish(PeerGone(None if inbound else h.remote_id, int(DiscReason.READ_TIMEOUT), False,
                                            "handshake", "handshake timeout after 5 s", "timeout"))]


def test_handshake_deadline_while_the_server_holds_checkpoint_1_sends_read_timeout():
    h = PeerHarness(inbound=True)
    h.start()
    h.now = T0 + 1
    h.pump_in()  # the remote's auth
    h.write()    # our ack
    assert h.m.stage == Stage.POST_HANDSHAKE and h.pending_checkpoint().stage == POST_HANDSHAKE
    assert h.m.deadlines == {"handshake": T0 + 5}  # not restarted by the handshake's end
    assert h.at(T0 + 4.999) == []
    assert h.at(T0 + 5) == []
    assert h.m.stage == Stage.CLOSING
    h.write()
    assert h.remote_disconnects() == [DiscReason.READ_TIMEOUT]
    h.remote_closes()
    assert h.gone() == PeerGone(h.remote_id, int(DiscReason.READ_TIMEOUT), False, "hello",
                                "handshake timeout after 5 s", "timeout")


def test_hello_deadline_restarts_at_checkpoint_1_and_fires_handshake_s_later():
    h = PeerHarness(remote_auto=False)  # the remote never sends its Hello
    h.start()
    h.write()
    h.now = T0 + 1
    h.pump_in()
    h.now = T0 + 2
    h.approve()
    assert h.m.stage == Stage.HELLO and h.m.deadlines == {"handshake": T0 + 7}
    h.write()
    assert h.at(T0 + 6.999) == [] and h.m.stage == Stage.HELLO
    assert h.at(T0 + 7) == [] and h.m.stage == Stage.CLOSING
    h.write()
    events = h.remote.approve_post_handshake()  # the remote reads our Hello, then our Disconnect
    events += h.remote.approve_add_peer()
    assert isinstance(events[0], HelloReceived) and events[1:] == [DisconnectReceived(DiscReason.READ_TIMEOUT)]
    h.remote_closes()
    assert h.gone() == PeerGone(h.remote_id, int(DiscReason.READ_TIMEOUT), False, "hello",
                                "handshake timeout after 5 s", "timeout")


def test_add_peer_deadline_is_the_hello_deadline_while_the_server_holds_checkpoint_2():
    h = PeerHarness()
    h.run_to_add_peer()
    assert h.m.deadlines == {"handshake": T0 + 5}
    assert h.at(T0 + 4.999) == [] and h.m.stage == Stage.ADD_PEER
    assert h.at(T0 + 5) == []
    h.write()
    assert h.remote_disconnects() == [DiscReason.READ_TIMEOUT]
    h.remote_closes()
    assert h.gone() == PeerGone(h.remote_id, int(DiscReason.READ_TIMEOUT), False, "hello",
                                "handshake timeout after 5 s", "timeout")


def test_running_arms_ping_and_read_deadlines_and_drops_the_handshake_one():
    h = PeerHarness(timeouts={"ping_interval_s": 15.0, "idle_s": 30.0})
    h.run_to_running()
    assert h.m.deadlines == {"ping": T0 + 15, "read": T0 + 30}


def test_ping_goes_out_every_ping_interval():
    h = PeerHarness()
    h.run_to_running()
    assert h.at(T0 + 14.999) == [] and not h.m.out
    assert h.at(T0 + 15) == [] and h.m.out
    h.write()
    assert h.remote_events[-1] == PingReceived()
    assert h.m.deadlines["ping"] == T0 + 30


def test_silent_remote_is_dropped_with_read_timeout_after_idle_s():
    h = PeerHarness()
    h.run_to_running()
    h.at(T0 + 15)
    h.write()  # our Ping; the remote's Pong is never read
    assert h.at(T0 + 29.999) == [] and h.m.stage == Stage.RUNNING
    assert h.at(T0 + 30) == stops(DiscReason.READ_TIMEOUT)
    h.write()
    assert h.remote_disconnects() == [DiscReason.READ_TIMEOUT]
    h.remote_closes()
    assert h.gone() == PeerGone(h.remote_id, int(DiscReason.READ_TIMEOUT), False, "running",
                                "read timeout: nothing for 30.0 s", "timeout")


def test_read_deadline_counts_from_the_last_bytes_received():
    h = PeerHarness()
    h.run_to_running()
    h.now = T0 + 15
    h.at(T0 + 15)
    h.write()
    h.pump_in()  # the Pong at T0+15
    assert h.at(T0 + 30) == [] and h.m.stage == Stage.RUNNING
    assert h.m.deadlines == {"read": T0 + 45, "ping": T0 + 45}
    assert h.at(T0 + 45) == stops(DiscReason.READ_TIMEOUT)


def test_write_deadline_runs_from_the_last_progress_and_ends_with_network_error():
    h = PeerHarness(timeouts={"ping_interval_s": 100.0, "idle_s": 200.0, "write_s": 20.0})
    h.run_to_running()
    h.now = T0 + 1
    h.from_protocol("test", 1, [(0, os.urandom(1000))])
    assert h.write(0) == [] and h.m.deadlines["write"] == T0 + 21  # stalled: the deadline is armed
    h.now = T0 + 6
    h.write(10)
    assert h.m.deadlines["write"] == T0 + 26  # progress restarts it
    h.now = T0 + 11
    h.write(0)
    assert h.m.deadlines["write"] == T0 + 26  # no progress: unchanged
    assert h.at(T0 + 25.999) == [] and h.m.stage == Stage.RUNNING
    assert h.at(T0 + 26) == stops(DiscReason.NETWORK_ERROR)
    assert not h.m.out  # nothing more is written, no Disconnect
    assert h.write() == [HalfClose()]
    h.remote_closes()
    assert h.gone() == PeerGone(h.remote_id, int(DiscReason.NETWORK_ERROR), False, "running",
                                "write timeout after 20 s", "timeout")


def test_write_deadline_is_cleared_once_everything_is_written():
    h = PeerHarness()
    h.run_to_running()
    h.from_protocol("test", 1, [(0, b"x" * 100)])
    h.write(0)
    assert "write" in h.m.deadlines
    h.write()
    assert "write" not in h.m.deadlines


def test_closing_grace_finishes_a_disconnect_the_socket_does_not_take():
    h = PeerHarness(timeouts={"disconnect_grace_s": 1.0})
    h.run_to_running()
    h.now = T0 + 2
    assert h.record(h.m.disconnect(int(DiscReason.REQUESTED), h.now)) == stops(DiscReason.REQUESTED)
    assert h.write(0) == [] and h.m.stage == Stage.CLOSING
    assert h.m.deadlines == {"grace": T0 + 3, "write": T0 + 22}
    assert h.at(T0 + 2.999) == []
    assert h.at(T0 + 3) == [Finish(PeerGone(h.remote_id, int(DiscReason.REQUESTED), False, "running",
                                            "disconnect requested by node", "requested"))]


def test_stalled_write_while_closing_finishes_at_write_s_when_the_grace_is_longer():
    h = PeerHarness(timeouts={"disconnect_grace_s": 60.0, "write_s": 20.0})
    h.run_to_running()
    h.record(h.m.disconnect(int(DiscReason.REQUESTED), h.now))
    h.write(0)
    assert h.at(T0 + 19.999) == []
    assert h.at(T0 + 20) == [Finish(PeerGone(h.remote_id, int(DiscReason.REQUESTED), False, "running",
                                             "disconnect requested by node", "requested"))]


def test_draining_grace_finishes_when_the_remote_never_closes():
    h = PeerHarness()
    h.run_to_running()
    h.now = T0 + 2
    h.record(h.m.disconnect(int(DiscReason.TOO_MANY_PEERS), h.now))
    assert h.write() == [HalfClose()] and h.m.stage == Stage.DRAINING
    assert h.remote_disconnects() == [DiscReason.TOO_MANY_PEERS]
    assert h.m.deadlines == {"grace": T0 + 3}  # counted from the close, not from the half-close
    assert h.m.watch_socket(h.now) is True  # still reading, to see the remote's end of stream
    assert h.record(h.m.received(b"late bytes", h.now)) == []  # discarded
    assert h.at(T0 + 3) == [Finish(PeerGone(h.remote_id, int(DiscReason.TOO_MANY_PEERS), False, "running",
                                            "disconnect requested by node", "requested"))]


def test_draining_ends_as_soon_as_the_remote_closes():
    h = PeerHarness()
    h.run_to_running()
    h.record(h.m.disconnect(int(DiscReason.REQUESTED), h.now))
    h.write()
    assert h.remote_closes() == [Finish(PeerGone(h.remote_id, int(DiscReason.REQUESTED), False, "running",
                                                 "disconnect requested by node", "requested"))]


def test_info_request_is_answered_after_info_timeout_without_every_protocol():
    h = PeerHarness()
    h.run_to_running()
    assert h.record(h.m.info_request(7, h.now)) == [ToProtocol("aaa", ProtocolInfoRequest(7)),
                                                     ToProtocol("test", ProtocolInfoRequest(7))]
    assert h.m.deadlines["info:7"] == T0 + INFO_TIMEOUT_S
    assert h.record(h.m.protocol_info("aaa", {"x": 1}, 7)) == []
    [reply] = h.at(T0 + INFO_TIMEOUT_S)
    assert reply.message.request_id == 7 and reply.message.info["protocols"] == {"aaa": {"x": 1},
                                                                                 "test": "handshake"}
    assert "info:7" not in h.m.deadlines


# -- checkpoints ----------------------------------------------------------------------------------
CHECKPOINT_REASONS = [
    (POST_HANDSHAKE, DiscReason.TOO_MANY_PEERS), (POST_HANDSHAKE, DiscReason.ALREADY_CONNECTED),
    (POST_HANDSHAKE, DiscReason.SELF), (POST_HANDSHAKE, DiscReason.QUITTING),
    (POST_HANDSHAKE, DiscReason.PROTOCOL_ERROR), (POST_HANDSHAKE, DiscReason.REQUESTED),
    (ADD_PEER, DiscReason.USELESS_PEER), (ADD_PEER, DiscReason.TOO_MANY_PEERS),
    (ADD_PEER, DiscReason.ALREADY_CONNECTED), (ADD_PEER, DiscReason.SELF), (ADD_PEER, DiscReason.QUITTING),
    (ADD_PEER, DiscReason.REQUESTED),
]
"""Every reason the Server answers a checkpoint with: Admission's, QUITTING while stopping,
PROTOCOL_ERROR for an unknown stage, REQUESTED for a Peer it has no record of."""


@pytest.mark.parametrize("stage, reason", CHECKPOINT_REASONS)
@pytest.mark.parametrize("inbound", [False, True])
def test_checkpoint_rejection_sends_the_servers_reason_and_reports_stage_checkpoint(stage, reason, inbound):
    h = PeerHarness(inbound=inbound)
    if stage == POST_HANDSHAKE:
        h.start()
        h.write()
        h.pump_in()
        h.write()
    else:
        h.run_to_add_peer()
    assert h.pending_checkpoint().stage == stage
    assert h.reply(int(reason)) == []  # no protocol runs yet
    assert h.m.stage == Stage.CLOSING
    h.write()
    assert h.remote_disconnects() == [reason]
    h.remote_closes()
    assert h.gone() == PeerGone(h.remote_id, int(reason), False, "checkpoint", f"rejected by this node: {reason.name}",
                                "rejected")


def test_connection_to_ourselves_is_rejected_with_self_by_the_server():
    key = generate_private_key()
    h = PeerHarness(key=key, remote_key=key)
    h.start()
    h.write()
    h.pump_in()
    assert h.remote_id == h.local_id
    h.approve()
    h.write()
    assert h.remote_disconnects() == [DiscReason.SELF]
    h.remote_closes()
    assert h.gone() == PeerGone(h.local_id, int(DiscReason.SELF), False, "checkpoint",
                                "rejected by this node: SELF", "rejected")


def test_no_shared_capability_is_rejected_as_useless_peer_at_checkpoint_2():
    h = PeerHarness(remote_protocols=(("bbb", 1, 3),))
    h.run_to_add_peer()
    req = h.pending_checkpoint()
    assert (req.stage, req.matched, req.node_id, req.inbound) == (ADD_PEER, 0, h.remote_id, False)
    h.approve()
    h.write()
    assert h.remote_disconnects() == [DiscReason.USELESS_PEER]
    assert h.of_type(SpawnProtocol) == []
    h.remote_closes()
    assert h.gone() == PeerGone(h.remote_id, int(DiscReason.USELESS_PEER), False, "checkpoint",
                                "rejected by this node: USELESS_PEER", "rejected")


def test_full_table_rejects_with_too_many_peers_but_a_trusted_peer_passes():
    h = PeerHarness(max_peers=0)
    h.start()
    h.write()
    h.pump_in()
    h.approve()
    assert (h.m.stage, h.m.reason, h.m.cause) == (Stage.CLOSING, DiscReason.TOO_MANY_PEERS, "rejected")
    t = PeerHarness(max_peers=0, trusted=True)
    t.run_to_running()
    assert t.m.trusted and t.peer_record.state == "added"


def test_add_peer_request_carries_the_matched_count_and_the_admin_peers_entry():
    h = PeerHarness(inbound=True)
    h.run_to_add_peer()
    req = h.pending_checkpoint()
    assert (req.stage, req.node_id, req.inbound, req.matched) == (ADD_PEER, h.remote_id, True, 2)
    assert req.info["name"] == "remote" and req.info["network"]["inbound"] is True
    assert req.info["offsets"] == [{"name": "aaa", "version": 1, "offset": 16, "length": 3},
                                   {"name": "test", "version": 1, "offset": 19, "length": 8}]
    assert req.info["enode"].endswith(f"@10.0.0.2:{REMOTE_PORT}")


# -- the remote ends it ---------------------------------------------------------------------------
def test_remote_disconnect_held_at_checkpoint_1_is_read_after_approval_as_remote_requested():
    h = PeerHarness(remote_auto=False)
    h.start()
    h.write()
    h.remote.disconnect(DiscReason.TOO_MANY_PEERS)  # the remote rejects us at its own checkpoint
    h.pump_in()
    assert h.m.stage == Stage.POST_HANDSHAKE and h.actions[-1].message.stage == POST_HANDSHAKE
    assert h.remote_closes() == []  # it closes too: decided when the Server answers
    assert h.m.reading() is False and h.m.stage == Stage.POST_HANDSHAKE
    assert h.approve() == []
    assert h.m.stage == Stage.CLOSING and not h.m.out  # nothing is sent back, not even our Hello
    h.write()
    h.remote_closes()
    assert h.gone() == PeerGone(h.remote_id, int(DiscReason.TOO_MANY_PEERS), True, "hello",
                                "remote sent Disconnect(TOO_MANY_PEERS)", "remote_disconnect")


def test_end_of_stream_at_a_checkpoint_without_a_disconnect_is_network_error_after_approval():
    h = PeerHarness(remote_auto=False)
    h.start()
    h.write()
    h.pump_in()
    assert h.remote_closes() == []
    hello_bytes = len(h.m.out)
    h.approve()
    assert h.m.stage == Stage.CLOSING and len(h.m.out) > hello_bytes  # our Hello is still written
    h.write()
    assert h.remote.approve_post_handshake()[0].hello.client_id == "local"
    h.remote_closes()
    assert h.gone() == PeerGone(h.remote_id, int(DiscReason.NETWORK_ERROR), False, "hello",
                                "connection closed by remote", "closed")


def test_remote_disconnect_instead_of_hello_is_remote_requested_at_stage_hello():
    h = PeerHarness(inbound=True, remote_auto=False)
    h.start()
    h.pump_in()
    h.approve()
    h.write()  # ack and Hello
    h.remote.disconnect(DiscReason.USELESS_PEER)  # the remote sends Disconnect instead of its Hello
    assert h.pump_in() == []
    assert h.m.remote_requested is True and not h.m.out
    h.write()
    h.remote_closes()
    assert h.gone() == PeerGone(h.remote_id, int(DiscReason.USELESS_PEER), True, "hello",
                                "remote sent Disconnect(USELESS_PEER)", "remote_disconnect")


def test_remote_disconnect_while_running_stops_the_protocols_as_remote_requested():
    h = PeerHarness()
    h.run_to_running()
    h.remote.disconnect(DiscReason.QUITTING)
    assert h.pump_in() == stops(DiscReason.QUITTING, remote=True)
    assert not h.m.out  # no Disconnect answers a Disconnect
    h.write()
    h.remote_closes()
    assert h.gone() == PeerGone(h.remote_id, int(DiscReason.QUITTING), True, "running",
                                "remote sent Disconnect(QUITTING)", "remote_disconnect")


def test_bad_frame_is_protocol_error_with_a_disconnect():
    h = PeerHarness()
    h.run_to_running()
    h.remote.send(TEST, b"x" * 50)
    h.remote.out[-1] ^= 0x80  # the frame's MAC no longer matches
    assert h.pump_in() == stops(DiscReason.PROTOCOL_ERROR)
    h.write()
    assert h.remote_disconnects() == [DiscReason.PROTOCOL_ERROR]
    h.remote_closes()
    assert h.gone() == PeerGone(h.remote_id, int(DiscReason.PROTOCOL_ERROR), False, "running",
                                "MACMismatchError: frame MAC mismatch", "protocol_error")


def test_garbage_during_the_handshake_is_protocol_error_without_a_disconnect():
    h = PeerHarness(inbound=True)
    h.start()
    assert h.record(h.m.received(b"\x01\x02" + bytes(600), h.now)) == []
    assert h.m.stage == Stage.CLOSING and not h.m.out
    h.write()
    h.remote_closes()
    assert h.gone() == PeerGone(None, int(DiscReason.PROTOCOL_ERROR), False, "handshake",
                                "HandshakeError: cannot decrypt auth: ECIES ephemeral key is not an uncompressed "
                                "point (0x04 prefix)", "protocol_error")


def test_unknown_message_code_is_protocol_error_after_delivering_the_messages_before_it():
    h = PeerHarness()
    h.run_to_running()
    h.remote.send(TEST, b"good")
    h.remote.send(TEST + 8, b"beyond test/1")  # 27: owned by no protocol
    assert h.pump_in() == [ToProtocol("test", Batch(1, ((0, b"good"),), 0))] + stops(DiscReason.PROTOCOL_ERROR)
    h.write()
    assert h.remote_disconnects() == [DiscReason.PROTOCOL_ERROR]
    h.remote_closes()
    assert h.gone() == PeerGone(h.remote_id, int(DiscReason.PROTOCOL_ERROR), False, "running",
                                "message code 27 owned by no protocol", "protocol_error")


def test_hello_over_2_kib_is_protocol_error():
    remote_key = generate_private_key()
    big = bp.Hello(bp.BASE_PROTOCOL_VERSION, "x" * 3000, (bp.Capability("test", 1),), REMOTE_PORT,
                   node_id_from_private_key(remote_key))
    size = len(big.encode())
    h = PeerHarness(inbound=True, remote_key=remote_key, remote_hello=big)
    h.start()
    h.pump_in()
    h.approve()
    h.write()  # the remote answers our ack with its Hello
    assert h.pump_in() == [] and h.m.stage == Stage.CLOSING
    h.write()
    assert h.remote_disconnects() == [DiscReason.PROTOCOL_ERROR]
    h.remote_closes()
    assert h.gone() == PeerGone(h.remote_id, int(DiscReason.PROTOCOL_ERROR), False, "hello",
                                f"invalid Hello: Hello of {size} bytes exceeds 2048", "protocol_error")


def test_hello_identity_other_than_the_handshakes_is_unexpected_identity():
    remote_key = generate_private_key()
    other = node_id_from_private_key(generate_private_key())
    liar = bp.Hello(bp.BASE_PROTOCOL_VERSION, "remote", (bp.Capability("test", 1),), REMOTE_PORT, other)
    h = PeerHarness(remote_key=remote_key, remote_hello=liar)
    h.start()
    h.write()
    h.pump_in()  # ack and the Hello, held at checkpoint 1
    assert h.approve() == [] and h.m.stage == Stage.CLOSING
    h.write()
    assert h.remote_disconnects() == [DiscReason.UNEXPECTED_IDENTITY]
    h.remote_closes()
    assert h.gone() == PeerGone(h.remote_id, int(DiscReason.UNEXPECTED_IDENTITY), False, "hello",
                                "Hello node id differs from handshake identity", "protocol_error")


@pytest.mark.parametrize("error, cause", [("connection closed by remote", "closed"),
                                          ("read error: [Errno 104] Connection reset by peer", "reset")])
def test_socket_end_or_read_error_is_network_error_and_writes_no_disconnect(error, cause):
    h = PeerHarness()
    h.run_to_running()
    h.from_protocol("test", 1, [(0, b"unwritten")])
    assert h.remote_closes(error, cause) == stops(DiscReason.NETWORK_ERROR)
    assert not h.m.out  # what was queued is dropped, no Disconnect is queued
    seen = list(h.remote_events)
    assert h.write() == [HalfClose()]
    assert h.remote_events == seen  # not a byte more reached the remote
    h.remote_closes()
    assert h.gone() == PeerGone(h.remote_id, int(DiscReason.NETWORK_ERROR), False, "running", error, cause)


def test_write_error_is_network_error_without_a_disconnect():
    h = PeerHarness()
    h.run_to_running()
    h.from_protocol("test", 1, [(0, b"unwritten")])
    assert h.record(h.m.write_failed("[Errno 32] Broken pipe", "reset", h.now)) == stops(DiscReason.NETWORK_ERROR)
    assert not h.m.out
    h.write()
    h.remote_closes()
    assert h.gone() == PeerGone(h.remote_id, int(DiscReason.NETWORK_ERROR), False, "running",
                                "write error: [Errno 32] Broken pipe", "reset")
    assert h.remote_messages() == []


# -- we end it ------------------------------------------------------------------------------------
@pytest.mark.parametrize("error, reason, text", [("", DiscReason.QUITTING, "protocol test ended"),
                                                 ("boom", DiscReason.SUBPROTOCOL_ERROR, "boom")])
def test_protocol_end_is_quitting_and_its_failure_subprotocol_error(error, reason, text):
    h = PeerHarness()
    h.run_to_running()
    assert h.record(h.m.protocol_ended("test", error, h.now)) == stops(reason)
    h.write()
    assert h.remote_disconnects() == [reason]
    h.remote_closes()
    assert h.gone() == PeerGone(h.remote_id, int(reason), False, "running", text, "subprotocol")


def test_protocol_requested_disconnect_sends_its_reason():
    h = PeerHarness()
    h.run_to_running()
    assert h.record(h.m.protocol_disconnect("aaa", int(DiscReason.USELESS_PEER), "", h.now)) == \
        stops(DiscReason.USELESS_PEER)
    h.write()
    assert h.remote_disconnects() == [DiscReason.USELESS_PEER]
    h.remote_closes()
    assert h.gone() == PeerGone(h.remote_id, int(DiscReason.USELESS_PEER), False, "running",
                                "aaa requested disconnect", "subprotocol")


def test_local_requested_disconnect_before_the_peer_is_added_reports_its_stage():
    h = PeerHarness()
    h.run_to_hello()
    assert h.record(h.m.disconnect(int(DiscReason.REQUESTED), h.now)) == []
    h.write()
    h.remote_closes()
    assert h.gone() == PeerGone(h.remote_id, int(DiscReason.REQUESTED), False, "hello",
                                "disconnect requested by node", "requested")


def test_shutdown_queues_quitting_and_finishes_at_once_without_lingering():
    h = PeerHarness()
    h.run_to_running()
    actions = h.record(h.m.shutdown(h.now))
    assert actions == stops(DiscReason.QUITTING) + [
        Finish(PeerGone(h.remote_id, int(DiscReason.QUITTING), False, "running", "node shutting down", "requested"),
               linger=False)]
    h.write()  # the shell writes what the socket takes, once
    assert h.remote_disconnects() == [DiscReason.QUITTING]


def test_internal_error_sends_network_error():
    h = PeerHarness()
    h.run_to_running()
    assert h.record(h.m.internal_error("KeyError: 'x'", h.now)) == stops(DiscReason.NETWORK_ERROR)
    h.write()
    assert h.remote_disconnects() == [DiscReason.NETWORK_ERROR]
    h.remote_closes()
    assert h.gone() == PeerGone(h.remote_id, int(DiscReason.NETWORK_ERROR), False, "running",
                                "internal error: KeyError: 'x'", "error")
