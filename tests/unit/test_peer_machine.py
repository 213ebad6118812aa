"""node/peer_machine.py without an actor system: every stage's deadline, every way a connection
ends, routing by offset, flow control both ways and protocol restarts, driven by
tests/support/peer_harness.py against an in-memory remote Connection with a fake clock."""

from __future__ import annotations

import os
from collections import deque

import pytest

from config.model import RestartPolicy
from messages.admission import ADD_PEER, POST_HANDSHAKE
from messages.peer import MsgTraffic, PeerGone, PeerInfoReply
from messages.protocol import FromProtocol, OutboundCredit, ProtocolInfoRequest, ProtocolStop
from messages.protocol import ToProtocol as Batch
from messages.supervision import SupervisionEvent
from node import peer_machine
from node.peer_machine import (INFO_TIMEOUT_S, DropProtocol, Finish, HalfClose, SpawnProtocol, Stage, StopProtocol,
                               ToProtocol, ToServer)
from rlpx import base_protocol as bp
from rlpx.connection import DisconnectReceived, HelloReceived, PingReceived
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


def test_write_deadline_runs_from_when_the_message_was_queued_and_ends_with_network_error():
    h = PeerHarness(timeouts={"ping_interval_s": 100.0, "idle_s": 200.0, "write_s": 20.0})
    h.run_to_running()
    h.now = T0 + 1
    h.from_protocol("test", 1, [(0, os.urandom(1000))])
    assert h.write(0) == [] and h.m.deadlines["write"] == T0 + 21  # stalled: the deadline is armed
    h.now = T0 + 6
    h.write(10)
    assert h.m.deadlines["write"] == T0 + 21  # bytes trickling out do not extend it (go-ethereum)
    assert h.at(T0 + 20.999) == [] and h.m.stage == Stage.RUNNING
    assert h.at(T0 + 21) == stops(DiscReason.NETWORK_ERROR)
    assert not h.m.out  # nothing more is written, no Disconnect
    assert h.write() == [HalfClose()]
    h.remote_closes()
    assert h.gone() == PeerGone(h.remote_id, int(DiscReason.NETWORK_ERROR), False, "running",
                                "write timeout: a message not written within 20 s of being queued", "timeout")


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


def test_end_of_stream_held_through_both_checkpoints_ends_once_running_with_network_error():
    h = PeerHarness()
    h.start()
    h.write()
    h.pump_in()  # the ack and the remote's Hello, held at checkpoint 1
    assert h.remote_closes() == []
    h.approve()
    assert h.m.stage == Stage.ADD_PEER and h.m.eof_pending == ("connection closed by remote", "closed")
    assert h.approve() == [SpawnProtocol("aaa"), SpawnProtocol("test")] + stops(DiscReason.NETWORK_ERROR)
    h.write()
    h.remote_closes()
    assert h.gone() == PeerGone(h.remote_id, int(DiscReason.NETWORK_ERROR), False, "running",
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


def test_inbound_slot_evicted_before_hello_ends_with_too_many_peers_and_the_servers_words():
    h = PeerHarness(inbound=True)
    h.run_to_hello()  # a valid auth; the remote's Hello is never read
    h.record(h.m.disconnect(int(DiscReason.TOO_MANY_PEERS), h.now, "evicted to make room"))
    h.write()
    h.remote_closes()
    assert h.remote_disconnects() == [DiscReason.TOO_MANY_PEERS]
    assert h.gone() == PeerGone(h.remote_id, int(DiscReason.TOO_MANY_PEERS), False, "hello", "evicted to make room",
                                "requested")


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


# -- routing by offset ----------------------------------------------------------------------------
def test_inbound_codes_are_routed_by_offset_and_delivered_relative():
    h = PeerHarness()
    h.run_to_running()
    h.remote.send(AAA + 2, b"a2")
    h.remote.send(TEST + 7, b"t7")
    h.remote.send(TEST, b"t0")
    assert h.pump_in() == [ToProtocol("aaa", Batch(1, ((2, b"a2"),), 0)),
                           ToProtocol("test", Batch(1, ((7, b"t7"), (0, b"t0")), 0))]


def test_outbound_relative_codes_go_out_at_offset_plus_code():
    h = PeerHarness(inbound=True)
    h.run_to_running()
    h.from_protocol("test", 1, [(7, b"t7"), (0, b"t0")])
    h.from_protocol("aaa", 1, [(2, b"a2")])
    h.write()
    assert h.remote_messages() == [("test", 7, b"t7"), ("test", 0, b"t0"), ("aaa", 2, b"a2")]


def test_outbound_absolute_codes_on_the_wire():
    h = PeerHarness()
    h.run_to_running()
    sent = []
    h.m.conn.send = lambda code, payload: sent.append(code)  # what the machine asks the wire for
    h.from_protocol("aaa", 1, [(0, b""), (2, b"")])
    h.from_protocol("test", 1, [(0, b""), (7, b"")])
    assert sent == [AAA, AAA + 2, TEST, TEST + 7]


@pytest.mark.parametrize("name, code, length", [("test", 8, 8), ("aaa", 3, 3), ("test", -1, 8)])
def test_outbound_code_not_below_the_protocols_length_is_subprotocol_error(name, code, length):
    h = PeerHarness()
    h.run_to_running()
    assert h.from_protocol(name, 1, [(code, b"x")]) == stops(DiscReason.SUBPROTOCOL_ERROR)
    h.write()
    assert h.remote_messages() == [] and h.remote_disconnects() == [DiscReason.SUBPROTOCOL_ERROR]
    h.remote_closes()
    assert h.gone() == PeerGone(h.remote_id, int(DiscReason.SUBPROTOCOL_ERROR), False, "running",
                                f"{name} wrote a bad message: {name} message code {code} out of range "
                                f"(length {length})", "subprotocol")


def test_messages_held_at_checkpoint_2_are_routed_once_running():
    h = PeerHarness()
    h.run_to_add_peer()
    h.remote.send(TEST + 1, b"early")  # the remote runs already; we wait for the Server
    assert h.pump_in() == []
    assert h.approve() == [SpawnProtocol("aaa"), SpawnProtocol("test"),
                           ToProtocol("test", Batch(1, ((1, b"early"),), 0))]


# -- inbound window -------------------------------------------------------------------------------
def fill_window(h: PeerHarness, name: str = "test") -> None:
    """Send INBOUND_WINDOW (8) single-message batches to ``name``, none acknowledged."""
    for i in range(1, 9):
        assert h.remote_send(TEST if name == "test" else AAA, bytes([i])) == [
            ToProtocol(name, Batch(i, ((0, bytes([i])),), 0))]


def test_full_inbound_window_stops_reading_and_the_ack_reopens_it():
    h = PeerHarness()
    h.run_to_running()
    fill_window(h)
    assert h.m.reading() is False and h.m.watch_socket(h.now) is False
    assert h.remote_send(TEST, b"\x09") == []  # read anyway: held, not sent
    assert h.m.links["test"].pending == deque([(0, b"\x09")])
    assert h.from_protocol("test", 0, ack=8) == [ToProtocol("test", Batch(9, ((0, b"\x09"),), 0))]
    assert h.m.reading() is True and h.m.watch_socket(h.now) is True


def test_partial_ack_opens_the_window_by_that_many_batches():
    h = PeerHarness()
    h.run_to_running()
    fill_window(h)
    h.remote.send(TEST, b"a")
    h.pump_in()
    h.remote.send(TEST, b"b")
    h.pump_in()
    assert h.from_protocol("test", 0, ack=1) == [ToProtocol("test", Batch(9, ((0, b"a"), (0, b"b")), 0))]
    assert h.m.reading() is False
    assert h.from_protocol("test", 0, ack=1) == []  # a repeated ack changes nothing


def test_one_protocols_full_window_stops_reading_for_all():
    h = PeerHarness()
    h.run_to_running()
    fill_window(h, "aaa")
    assert h.m.reading() is False
    assert h.from_protocol("aaa", 0, ack=8) == [] and h.m.reading() is True


def test_read_deadline_does_not_count_time_paused_by_our_own_window():
    h = PeerHarness(timeouts={"ping_interval_s": 1000.0, "idle_s": 30.0})
    h.run_to_running()
    fill_window(h)
    assert h.m.watch_socket(h.now) is False
    assert h.at(T0 + 30) == [] and h.m.deadlines["read"] == T0 + 60  # paused: not the remote's silence
    h.now = T0 + 40
    h.from_protocol("test", 0, ack=8)
    assert h.m.watch_socket(h.now) is True  # reading again: idle time counts from now
    assert h.at(T0 + 60) == [] and h.m.deadlines["read"] == T0 + 70
    assert h.at(T0 + 70) == stops(DiscReason.READ_TIMEOUT)


# -- outbound credit ------------------------------------------------------------------------------
def test_outbound_credit_rides_on_the_next_batch_or_goes_alone_at_half_the_window():
    h = PeerHarness()
    h.run_to_running()
    assert h.from_protocol("test", 1, [(0, b"1")]) == []
    assert h.remote_send(TEST, b"in") == [ToProtocol("test", Batch(1, ((0, b"in"),), 1))]
    assert h.from_protocol("test", 2, [(0, b"2")]) == []
    assert h.from_protocol("test", 3, [(0, b"3")]) == [ToProtocol("test", OutboundCredit(3))]


def test_outbound_credit_is_withheld_above_the_high_water_mark_and_released_below_half(monkeypatch):
    monkeypatch.setattr(peer_machine, "OUT_HIGH_WATER", 4096)
    h = PeerHarness()
    h.run_to_running()
    assert h.from_protocol("test", 1, [(0, os.urandom(5000))]) == []  # over 4096 bytes queued
    assert h.from_protocol("test", 2, [(0, b"small")]) == []
    assert h.m.links["test"].withheld == 2
    assert h.write(len(h.m.out) - 2049) == []  # 2049 bytes left: above half
    assert h.write(1) == [ToProtocol("test", OutboundCredit(2))]  # 2048: released
    assert h.write() == []  # released once
    assert [m[:2] for m in h.remote_messages()] == [("test", 0), ("test", 0)]


def test_no_credit_is_released_while_closing(monkeypatch):
    monkeypatch.setattr(peer_machine, "OUT_HIGH_WATER", 4096)
    h = PeerHarness()
    h.run_to_running()
    h.from_protocol("test", 1, [(0, os.urandom(5000))])
    h.record(h.m.disconnect(int(DiscReason.REQUESTED), h.now))
    assert h.write() == [HalfClose()]


def test_batches_from_a_stopped_protocol_are_ignored():
    h = PeerHarness()
    h.run_to_running()
    h.record(h.m.disconnect(int(DiscReason.REQUESTED), h.now))
    out = len(h.m.out)
    assert h.from_protocol("test", 1, [(0, b"late")]) == [] and len(h.m.out) == out
    assert h.from_protocol("nope", 1, [(0, b"x")]) == []


# -- protocol supervision -------------------------------------------------------------------------
def sup(h: PeerHarness, kind: str, **data) -> ToServer:
    """The SupervisionEvent action about protocol test of ``h``'s peer."""
    return ToServer(SupervisionEvent(kind, {"actor": "protocol", "protocol": "test", "peer_id": h.remote_id.hex(),
                                            **data}))


def test_protocol_exit_under_disconnect_policy_is_subprotocol_error():
    h = PeerHarness()
    h.run_to_running()
    assert h.record(h.m.protocol_exited("test", h.now)) == [
        DropProtocol("test"), sup(h, "actor_exited", cause="exited", policy="disconnect")] + \
        stops(DiscReason.SUBPROTOCOL_ERROR, names=("aaa",))
    h.write()
    assert h.remote_disconnects() == [DiscReason.SUBPROTOCOL_ERROR]
    h.remote_closes()
    assert h.gone() == PeerGone(h.remote_id, int(DiscReason.SUBPROTOCOL_ERROR), False, "running",
                                "protocol test actor exited", "subprotocol")


def test_restart_after_backoff_redelivers_unacknowledged_batches_and_what_arrived_meanwhile():
    h = PeerHarness(protocols=restart_protocols(restart=RestartPolicy(max_restarts=3, within_s=10, backoff_s=0.5,
                                                                      backoff_max_s=5.0), hold_max=3))
    h.run_to_running()
    h.remote_send(TEST, b"m1")
    h.remote_send(TEST, b"m2")
    h.from_protocol("test", 0, ack=1)  # m1 handled, m2 not
    h.now = T0 + 1
    assert h.record(h.m.protocol_exited("test", h.now)) == [DropProtocol("test"),
                                                            sup(h, "actor_exited", cause="exited", policy="restart")]
    assert h.m.stage == Stage.RUNNING and h.m.deadlines["restart:test"] == T0 + 1.5
    assert h.m.reading() is False  # m2 waits for the new instance
    assert h.remote_send(TEST, b"m3") == []  # held
    assert h.from_protocol("test", 5, [(0, b"late")]) == []  # the dead instance's batch is dropped
    assert h.at(T0 + 1.499) == []
    assert h.at(T0 + 1.5) == [SpawnProtocol("test"), sup(h, "actor_restarted", attempt=1, delay_s=0.5, held=2),
                              ToProtocol("test", Batch(1, ((0, b"m2"), (0, b"m3")), 0))]
    assert h.m.links["test"].incarnation == 2
    assert h.from_protocol("test", 0, ack=1) == [] and h.m.reading() is True


def test_restart_backoff_doubles_to_its_max_and_the_limit_ends_the_connection():
    h = PeerHarness(protocols=restart_protocols(restart=RestartPolicy(max_restarts=3, within_s=10, backoff_s=0.5,
                                                                      backoff_max_s=0.75)))
    h.run_to_running()
    delays = []
    for _ in range(3):
        h.record(h.m.protocol_exited("test", h.now))
        at = h.m.deadlines["restart:test"]
        delays.append(round(at - h.now, 6))
        assert h.at(at)[0] == SpawnProtocol("test")
    assert delays == [0.5, 0.75, 0.75]
    assert h.record(h.m.protocol_exited("test", h.now)) == [
        DropProtocol("test"), sup(h, "actor_exited", cause="exited", policy="restart"),
        sup(h, "restart_limit_reached", restarts=3, within_s=10)] + stops(DiscReason.SUBPROTOCOL_ERROR, names=("aaa",))
    h.write()
    h.remote_closes()
    assert h.gone() == PeerGone(h.remote_id, int(DiscReason.SUBPROTOCOL_ERROR), False, "running",
                                "protocol test restart limit reached", "subprotocol")


def test_restarts_outside_the_intensity_window_do_not_count():
    h = PeerHarness(protocols=restart_protocols(restart=RestartPolicy(max_restarts=1, within_s=5, backoff_s=0.5)))
    h.run_to_running()
    h.record(h.m.protocol_exited("test", h.now))
    h.at(h.m.deadlines["restart:test"])
    h.now = T0 + 6
    assert h.record(h.m.protocol_exited("test", h.now))[1] == sup(h, "actor_exited", cause="exited",
                                                                   policy="restart")
    assert h.m.deadlines["restart:test"] == T0 + 6.5 and h.m.stage == Stage.RUNNING


def test_more_held_messages_than_hold_max_during_a_restart_is_subprotocol_error():
    h = PeerHarness(protocols=restart_protocols(hold_max=3))
    h.run_to_running()
    h.record(h.m.protocol_exited("test", h.now))
    for i in range(3):
        h.remote.send(TEST, bytes([i]))
    assert h.pump_in() == []  # 3 held: at the limit
    h.remote.send(TEST, b"one too many")
    assert h.pump_in() == stops(DiscReason.SUBPROTOCOL_ERROR, names=("aaa",))
    h.write()
    h.remote_closes()
    assert h.gone() == PeerGone(h.remote_id, int(DiscReason.SUBPROTOCOL_ERROR), False, "running",
                                "more than 3 messages for test held while it restarts", "subprotocol")


def test_a_repeated_exit_notice_is_ignored():
    h = PeerHarness(protocols=restart_protocols())
    h.run_to_running()
    h.record(h.m.protocol_exited("test", h.now))
    deadlines = dict(h.m.deadlines)
    assert h.record(h.m.protocol_exited("test", h.now)) == [] and h.m.deadlines == deadlines


def test_a_restart_answers_a_pending_info_request_for_the_dead_instance():
    h = PeerHarness(protocols=restart_protocols())
    h.run_to_running()
    h.record(h.m.info_request(3, h.now))
    h.record(h.m.protocol_info("aaa", None, 3))
    actions = h.record(h.m.protocol_exited("test", h.now))
    assert [type(a.message) for a in h.of_type(ToServer, actions)][-1] is PeerInfoReply
    assert "info:3" not in h.m.deadlines


# -- invariants -----------------------------------------------------------------------------------
def check_next_deadline(h: PeerHarness):
    nxt = h.m.next_deadline()
    assert nxt == (min(h.m.deadlines.values()) if h.m.deadlines else None)
    return nxt


def test_next_deadline_is_always_the_earliest_armed_deadline():
    h = PeerHarness(protocols=restart_protocols(restart=RestartPolicy(backoff_s=0.25)),
                    timeouts={"dial_s": 15.0, "handshake_s": 5.0, "ping_interval_s": 15.0, "idle_s": 30.0,
                              "write_s": 20.0, "disconnect_grace_s": 1.0})
    h.m.connect_started(T0)
    assert check_next_deadline(h) == T0 + 15
    h.now = T0 + 1
    h.start()
    assert check_next_deadline(h) == T0 + 6  # connect replaced by handshake
    h.write()
    h.pump_in()
    h.approve()
    h.write()
    h.pump_in()
    h.now = T0 + 2
    h.approve()
    assert check_next_deadline(h) == T0 + 17  # ping before read (T0+32)
    h.from_protocol("test", 1, [(0, os.urandom(100))])
    h.write(0)
    assert h.m.deadlines["write"] == T0 + 22 and check_next_deadline(h) == T0 + 17
    h.write()
    h.now = T0 + 10
    h.record(h.m.protocol_exited("test", h.now))
    assert check_next_deadline(h) == T0 + 10.25  # the restart comes first
    h.at(T0 + 10.25)
    assert check_next_deadline(h) == T0 + 17
    h.at(T0 + 17)
    assert check_next_deadline(h) == T0 + 32  # the read deadline ties with the next ping
    h.record(h.m.info_request(1, h.now))
    assert check_next_deadline(h) == T0 + 17 + INFO_TIMEOUT_S
    h.record(h.m.disconnect(int(DiscReason.REQUESTED), h.now))
    assert check_next_deadline(h) == T0 + 18  # grace; ping and read are gone
    h.write()
    h.remote_closes()
    assert check_next_deadline(h) is None


def every_input(h: PeerHarness) -> list:
    """Call every input method of the machine once; returns all their actions."""
    m, now = h.m, h.now + 100
    actions = []
    for call in (lambda: m.received(b"x", now), lambda: m.remote_closed("eof", "closed", now), m.drained, m.abort,
                 lambda: m.wrote(True, now), lambda: m.write_failed("e", "reset", now),
                 lambda: m.checkpoint_reply(ADD_PEER, None, now), lambda: m.checkpoint_reply(ADD_PEER, 4, now),
                 lambda: m.from_protocol("test", FromProtocol("test", 1, ((0, b"x"),)), now),
                 lambda: m.protocol_disconnect("test", 3, "", now), lambda: m.protocol_ended("test", "", now),
                 lambda: m.protocol_exited("test", now), lambda: m.disconnect(0, now), lambda: m.shutdown(now),
                 lambda: m.internal_error("e", now), lambda: m.connect_failed("e", "refused"),
                 lambda: m.on_time(now + 1000)):
        actions += call()
    return actions


@pytest.mark.parametrize("ending", ["grace", "drained", "shutdown", "connect_timeout", "remote_eof", "rejected"])
def test_finish_is_returned_exactly_once(ending):
    h = PeerHarness()
    if ending == "connect_timeout":
        h.m.connect_started(h.now)
        h.at(h.m.next_deadline())
    elif ending == "rejected":
        h.run_to_add_peer()
        h.reply(int(DiscReason.TOO_MANY_PEERS))
        h.write()
        h.at(h.m.next_deadline())
    else:
        h.run_to_running()
        if ending == "grace":
            h.record(h.m.disconnect(0, h.now))
            h.at(h.m.next_deadline())
        elif ending == "drained":
            h.record(h.m.disconnect(0, h.now))
            h.write()
            h.remote_closes()
        elif ending == "shutdown":
            h.record(h.m.shutdown(h.now))
        elif ending == "remote_eof":
            h.remote_closes()
            h.write()
            h.remote_closes()
    gone = h.gone()
    assert h.m.stage == Stage.DONE
    assert not [a for a in every_input(h) if isinstance(a, Finish)]
    assert h.gone() == gone and h.m.next_deadline() is None


# -- odds and ends --------------------------------------------------------------------------------
def test_remote_disconnect_with_a_reason_outside_the_table_is_recorded_as_sent():
    h = PeerHarness()
    h.run_to_running()
    h.remote.disconnect(0x42)
    assert h.pump_in() == stops(DiscReason(0x42), remote=True)
    h.write()
    h.remote_closes()
    assert h.gone() == PeerGone(h.remote_id, 0x42, True, "running", "remote sent Disconnect(UNKNOWN_0x42)",
                                "remote_disconnect")


def test_message_events_report_relative_codes_and_sizes_both_ways():
    h = PeerHarness(enable_msg_events=True)
    h.run_to_running()
    assert h.remote_send(TEST + 3, b"abc") == [ToServer(MsgTraffic("recv", "test", h.remote_id, ((3, 3),))),
                                                ToProtocol("test", Batch(1, ((3, b"abc"),), 0))]
    assert h.from_protocol("aaa", 1, [(1, b"12345"), (0, b"")]) == [
        ToServer(MsgTraffic("send", "aaa", h.remote_id, ((1, 5), (0, 0))))]


def test_early_write_is_called_each_time_8_kib_are_queued_and_a_failure_ends_the_batch():
    h = PeerHarness()
    h.run_to_running()
    calls = []
    h.from_protocol("test", 1, [(0, os.urandom(5000)) for _ in range(4)],
                    early_write=lambda: calls.append(h.write()))
    assert len(calls) == 2
    h.write()
    assert len(h.remote_messages()) == 4

    failing = PeerHarness()
    failing.run_to_running()
    calls = []

    def fail():
        calls.append(failing.record(failing.m.write_failed("[Errno 104] reset", "reset", failing.now)))

    assert failing.from_protocol("test", 1, [(0, os.urandom(5000)) for _ in range(4)], early_write=fail) == []
    assert calls == [stops(DiscReason.NETWORK_ERROR)] and not failing.m.out
    assert failing.m.error == "write error: [Errno 104] reset"


def test_a_bad_code_held_at_checkpoint_2_closes_after_spawning_and_delivering_what_came_before():
    h = PeerHarness()
    h.run_to_add_peer()
    h.remote.send(TEST + 1, b"early")
    h.remote.send(TEST + 8, b"beyond test/1")
    assert h.pump_in() == []  # held until the Server answers
    assert h.approve() == [SpawnProtocol("aaa"), SpawnProtocol("test"),
                           ToProtocol("test", Batch(1, ((1, b"early"),), 0))] + stops(DiscReason.PROTOCOL_ERROR)
    h.write()
    assert h.remote_disconnects() == [DiscReason.PROTOCOL_ERROR]
    h.remote_closes()
    assert h.gone() == PeerGone(h.remote_id, int(DiscReason.PROTOCOL_ERROR), False, "running",
                                "message code 27 owned by no protocol", "protocol_error")
