"""The trust boundary (docs/security.md): another local user (``nobody``) can deliver neither a
pickle to the admin port or to an actor's port (actors/adapter/accept_guard.py), nor an fd to a
Server's hand-off socket (actors/io/fd_handoff.py), while the node's own uid still can.

Each attempt is refused with one log line in node.log; the tests wait for that line (the
refusal happens exactly where the attack would otherwise have been served), then check that
nothing else happened.
"""

from __future__ import annotations

import os
import pickle
import socket

import pytest

from actors.io import fd_handoff
from rlpx.connection import HelloReceived
from rlpx.handshake import Secrets
from support import other_uid
from support.nodes import RawPeer, _socket_inodes, wait_until

pytestmark = pytest.mark.skipif(other_uid.skip_reason() is not None, reason=str(other_uid.skip_reason()))

SEND_PICKLES = r"""
import json, socket, sys
job = json.load(sys.stdin)
out = []
for host, port in job["targets"]:
    s = socket.create_connection((host, port), timeout=5)
    try:
        s.sendall(bytes.fromhex(job["payload"]))
        if job.get("close_at_once"):
            out.append("sent")
            continue
        s.settimeout(5)
        try:
            got = s.recv(4096)
            out.append("closed" if got == b"" else "reply %d bytes" % len(got))
        except ConnectionResetError:
            out.append("closed")
        except socket.timeout:
            out.append("open after 5 s")
    finally:
        s.close()
print(json.dumps(out))
"""

SEND_FD = r"""
import array, json, socket, sys
job = json.load(sys.stdin)
lsock = socket.socket()
lsock.bind(("127.0.0.1", 0))
lsock.listen()
conn = socket.create_connection(lsock.getsockname())
u = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
u.sendmsg([bytes.fromhex(job["record"])],
          [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", [conn.fileno()]))], 0,
          b"\0" + bytes.fromhex(job["name"]))
print(json.dumps("sent"))
"""


class _CreatesFile:
    """Unpickling this creates ``path`` (the marker: it proves the pickle ran)."""

    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (open, (self.path, "w"))


def _thespian_frame(obj) -> bytes:
    """What Thespian's transport reads: ``<length>>`` then the pickle (streamBuffer.toSendBuffer)."""
    data = pickle.dumps(obj)
    return b"%d>" % len(data) + data


def _log_lines(path, text: str) -> list[str]:
    try:
        with open(path, errors="replace") as f:
            return [line for line in f if text in line]
    except OSError:
        return []


def _inbox_name(pids) -> bytes:
    held = set().union(*(_socket_inodes(pid) for pid in pids))
    with open("/proc/net/unix") as f:
        for line in f.readlines()[1:]:
            cols = line.split()
            if len(cols) >= 8 and cols[7].startswith("@devp2p-inbound-") and int(cols[6]) in held:
                return cols[7][1:].encode()
    raise AssertionError("no hand-off socket among the node's processes")


def test_other_uid_cannot_deliver_a_pickle_to_the_admin_or_an_actor_port(nodes, tmp_path):
    a = nodes.start("alpha")
    marker = tmp_path / "pickle-ran"
    server_host, server_port = a.server.addressDetails.connectArgs[0]
    targets = [["127.0.0.1", nodes.admin_port], [server_host, server_port]]
    log = tmp_path / "node.log"

    got = other_uid.run_as_nobody(SEND_PICKLES, {"targets": targets,
                                                 "payload": _thespian_frame(_CreatesFile(str(marker))).hex()})

    assert got == ["closed", "closed"], got
    # the admin and the Server each refuse with one line (two processes, one line each)
    wait_until(lambda: len(_log_lines(log, "refused before reading")) >= 2, 10.0, "the two refusal lines")
    lines = _log_lines(log, "refused before reading")
    assert len(lines) == 2 and all(f"uid {other_uid.NOBODY}" in line for line in lines), lines
    assert not marker.exists(), "the pickle sent by nobody was unpickled"
    # the node's own uid still gets through: this test's own system, and a new node
    assert nodes.peers(a) == ()
    b = nodes.start("beta")
    nodes.connect(b, a)
    nodes.expect("peer_added", node="alpha")


def test_other_uid_cannot_deliver_a_pickle_by_closing_before_the_accept(nodes, tmp_path):
    """A socket its process has closed is reported as uid 0, root's: such a sender is refused too."""
    marker = tmp_path / "pickle-ran"
    log = tmp_path / "node.log"
    got = other_uid.run_as_nobody(SEND_PICKLES, {"targets": [["127.0.0.1", nodes.admin_port]], "close_at_once": True,
                                                 "payload": _thespian_frame(_CreatesFile(str(marker))).hex()})
    assert got == ["sent"]
    wait_until(lambda: _log_lines(log, "refused before reading"), 10.0, "the refusal line")
    assert len(_log_lines(log, "refused before reading")) == 1
    assert not marker.exists(), "the pickle sent by nobody was unpickled"
    assert nodes.start("alpha").enode  # the admin still serves the node's own uid


def test_other_uid_cannot_hand_the_server_a_connection(nodes, tmp_path):
    a = nodes.start("alpha")
    name = _inbox_name(nodes.pids())
    record = fd_handoff.encode_handoff("forged", ("127.0.0.1", 1),
                                       Secrets(bytes(32), bytes(32), bytes(64), bytes(64), bytes(64)))
    before_pids = set(nodes.pids())
    since = nodes.mark()
    log = tmp_path / "node.log"

    assert other_uid.run_as_nobody(SEND_FD, {"record": record.hex(), "name": name.hex()}) == "sent"

    wait_until(lambda: _log_lines(log, "only uid"), 10.0, "the refusal line")
    lines = _log_lines(log, "only uid")
    assert len(lines) == 1 and f"uid {other_uid.NOBODY}" in lines[0], lines
    assert set(nodes.pids()) <= before_pids, "a process was started for the forged hand-off"
    assert [e.kind for e in nodes.events(since) if e.kind != "protocol_event"] == []
    # a same-uid hand-off (the Listener's, for a real inbound connection) still works
    with RawPeer(a.enode) as raw:
        assert isinstance(raw.handshake(), HelloReceived)
        nodes.expect("peer_added", node="alpha", peer_id=raw.id_hex)


def test_a_same_uid_forged_datagram_is_still_checked(nodes, tmp_path):
    """Our own uid passes the credentials check, and the record checks still apply after it."""
    import array

    nodes.start("alpha")
    name = b"\0" + _inbox_name(nodes.pids())
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as s:
        r, w = os.pipe()
        try:
            s.sendmsg([b"not a record"], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", [r]))], 0, name)
        finally:
            os.close(r)
            os.close(w)
    wait_until(lambda: _log_lines(tmp_path / "node.log", "hand-off datagram"), 10.0, "the refusal line")
    assert not _log_lines(tmp_path / "node.log", "only uid")
