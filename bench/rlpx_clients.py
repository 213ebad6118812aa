"""Many raw RLPx initiators in one process (rlpx.connection.Connection over non-blocking
sockets and one selector), for the inbound-handshake and memory benchmarks (bench/run_all.py).

    python bench/rlpx_clients.py --enode ENODE --count N [--timeout S]

1. Builds N connections (fresh keys; auth messages encrypted) and prints ``prepared``.
2. On the stdin line ``go``: connects all N sockets at once and runs every handshake (auth/ack,
   Hello with test/1, both checkpoints approved at once); prints ``done`` with the number that
   reached the remote's Hello (``ok``), those that failed, and per connection the wall-clock
   time (epoch seconds) its Hello arrived.
3. Then holds the connections: answers Pings (the Connection queues the Pongs), notes
   Disconnects and EOFs; ``status`` prints how many are alive; ``quit`` (or stdin EOF, or the
   timeout after ``go`` plus 600 s) closes every socket and exits.

JSON lines on stdout.  Talks to 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import selectors
import socket
import sys
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent))

from rlpx import base_protocol as bp  # noqa: E402
from rlpx.caps import LocalProtocol  # noqa: E402
from rlpx.connection import (ConnectionFailure, Connection, DisconnectReceived, HandshakeDone,  # noqa: E402
                             HelloReceived)
from rlpx.enode import parse_enode  # noqa: E402
from rlpx.keys import generate_private_key, node_id_from_private_key  # noqa: E402

HOLD_MAX_S = 600.0


def out(obj) -> None:
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


class Client:
    __slots__ = ("i", "conn", "sock", "pending", "hello_at", "state", "error", "want_write")

    def __init__(self, i: int, remote_id: bytes):
        key = generate_private_key()
        hello = bp.Hello(bp.BASE_PROTOCOL_VERSION, f"bench-client-{i}", (bp.Capability("test", 1),), 0,
                         node_id_from_private_key(key))
        self.i = i
        self.conn = Connection(key, hello, [LocalProtocol("test", 1, 8)], remote_node_id=remote_id)
        self.sock: socket.socket | None = None
        self.pending = bytearray()
        self.hello_at = None
        self.state = "new"   # new, connecting, handshake, up, closed
        self.error = ""
        self.want_write = False


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--enode", required=True)
    ap.add_argument("--count", type=int, required=True)
    ap.add_argument("--timeout", type=float, default=60.0, help="seconds for all handshakes after go")
    args = ap.parse_args()
    remote = parse_enode(args.enode)
    if remote.host != "127.0.0.1":
        out({"event": "error", "message": "loopback only"})
        return 2
    clients = [Client(i, remote.node_id) for i in range(args.count)]
    out({"event": "prepared", "count": len(clients)})

    sel = selectors.DefaultSelector()
    stdin_fd = sys.stdin.fileno()
    os.set_blocking(stdin_fd, False)
    sel.register(stdin_fd, selectors.EVENT_READ, None)
    stdin_buf = b""
    started = None
    done_reported = False
    alive_lost: list[str] = []

    def update(c: Client):
        ev = selectors.EVENT_READ | (selectors.EVENT_WRITE if (c.pending or c.state == "connecting") else 0)
        sel.modify(c.sock, ev, c)

    def close(c: Client, why: str):
        if c.state == "closed":
            return
        if c.state == "up":
            alive_lost.append(why)
        c.state, c.error = "closed", c.error or why
        try:
            sel.unregister(c.sock)
        except (KeyError, ValueError):
            pass
        try:
            c.sock.close()
        except OSError:
            pass

    def flush(c: Client):
        if c.conn.out:
            c.pending += c.conn.out
            c.conn.out.clear()
        while c.pending:
            try:
                n = c.sock.send(c.pending)
            except (BlockingIOError, InterruptedError):
                break
            except OSError as exc:
                close(c, f"send: {exc}")
                return
            del c.pending[:n]
        if c.state != "closed":
            update(c)

    def on_events(c: Client, events):
        for ev in events:
            if isinstance(ev, HandshakeDone):
                events.extend(c.conn.approve_post_handshake())
            elif isinstance(ev, HelloReceived):
                c.hello_at = time.time()
                c.state = "up"
                events.extend(c.conn.approve_add_peer())
            elif isinstance(ev, DisconnectReceived):
                close(c, f"disconnect {ev.reason.name}")
                return

    def start_all():
        for c in clients:
            c.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            c.sock.setblocking(False)
            c.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            rc = c.sock.connect_ex(remote.address)
            c.state = "connecting"
            sel.register(c.sock, selectors.EVENT_READ | selectors.EVENT_WRITE, c)
            if rc not in (0, 115, 11):  # EINPROGRESS, EAGAIN
                close(c, f"connect: {os.strerror(rc)}")

    quitting = False
    while not quitting:
        now = time.time()
        if started is not None and not done_reported:
            finished = all(c.hello_at is not None or c.state == "closed" for c in clients)
            if finished or now - started > args.timeout:
                done_reported = True
                ok = [c.hello_at for c in clients if c.hello_at is not None]
                out({"event": "done", "t0": started, "ok": len(ok), "failed": len(clients) - len(ok),
                     "errors": sorted({c.error for c in clients if c.hello_at is None and c.error})[:5],
                     "hello_times": ok})
        if started is not None and now - started > args.timeout + HOLD_MAX_S:
            break
        for key, mask in sel.select(timeout=0.5):
            c = key.data
            if c is None:
                try:
                    chunk = os.read(stdin_fd, 4096)
                except BlockingIOError:
                    continue
                if not chunk:
                    quitting = True
                    break
                stdin_buf += chunk
                while b"\n" in stdin_buf:
                    line, stdin_buf = stdin_buf.split(b"\n", 1)
                    cmd = line.decode().strip()
                    if cmd == "go" and started is None:
                        started = time.time()
                        start_all()
                    elif cmd == "status":
                        out({"event": "status", "alive": sum(1 for c in clients if c.state == "up"),
                             "lost": len(alive_lost), "lost_reasons": sorted(set(alive_lost))[:5]})
                    elif cmd == "quit":
                        quitting = True
                continue
            if c.state == "closed":
                continue
            if c.state == "connecting" and mask & selectors.EVENT_WRITE:
                err = c.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                if err:
                    close(c, f"connect: {os.strerror(err)}")
                    continue
                c.state = "handshake"
            if mask & selectors.EVENT_READ:
                try:
                    data = c.sock.recv(1 << 16)
                except (BlockingIOError, InterruptedError):
                    data = None
                except OSError as exc:
                    close(c, f"recv: {exc}")
                    continue
                if data == b"":
                    close(c, "eof")
                    continue
                if data:
                    try:
                        events = c.conn.feed(data)
                    except ConnectionFailure as exc:
                        close(c, f"failure: {exc.detail}")
                        continue
                    on_events(c, events)
            if c.state != "closed":
                flush(c)
    for c in clients:
        if c.sock is not None and c.state != "closed":
            try:
                c.sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            c.sock.close()
    out({"event": "closed"})
    return 0


if __name__ == "__main__":
    sys.exit(main())
