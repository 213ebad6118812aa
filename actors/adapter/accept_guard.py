"""Thespian actor ports accept a connection only from the node's own uid or an allowed host.

Thespian unpickles whatever arrives on an actor's listening socket (the admin port and every
actor's own port), so whoever can connect to one runs code as the node's user (issue 22,
docs/security.md).  :func:`patch_accept_guard` wraps ``TCPTransport._acceptNewIncoming`` so that
each connection it has just accepted, before a byte of it is read, is kept only if

- its remote end is a socket of this network namespace (the TCP socket whose local address is
  the connection's remote address and whose remote address is the connection's local address,
  found with one exact sock_diag lookup, or in ``/proc/net/tcp`` and ``tcp6`` where netlink is
  not available) that belongs to this process's uid and is still attached to a file (inode
  not 0: the kernel reports uid 0 for an orphaned or TIME_WAIT socket, which would pass for
  root's), or
- its remote address is not one of this host's (loopback or an interface's), and is in the
  allow-list (``actor_system.allow``, set with :func:`configure`).

Anything else is closed at once, with one line on the "devp2p" logger (at most one a second in
each process; the next line counts what was refused meanwhile): a warning, or INFO for a
sender on this host whose socket is already closed (:data:`NO_OWNER`: mostly an exiting
actor's goodbye), or DEBUG if such a connection carries no byte at all (Thespian's own senders
leave those behind).
"""

from __future__ import annotations

import errno
import ipaddress
import logging
import os
import socket
import struct
import sys
import time

from node.inbound_handshakes import RateLimit

log = logging.getLogger("devp2p")

_allow: tuple = ()  # ipaddress networks; set by configure() before the actor system starts
_applied = False
_log_limit = RateLimit(1)  # one line a second per process; the next line counts those held back


def _fresh_limit_in_child() -> None:
    global _log_limit
    _log_limit = RateLimit(1)  # a forked actor does not inherit its creator's count


os.register_at_fork(after_in_child=_fresh_limit_in_child)


def configure(allow=()) -> None:
    """Set the allow-list: IP networks (``ipaddress`` objects) or strings (an IP or a CIDR) from
    which a connection that is not from this host is accepted.  Raises ValueError for a string
    that is neither.  Actor processes forked after the call inherit it."""
    global _allow
    _allow = tuple(a if isinstance(a, (ipaddress.IPv4Network, ipaddress.IPv6Network))
                   else ipaddress.ip_network(a, strict=False) for a in allow)


def allow_list() -> tuple:
    """The allow-list in force in this process (``ipaddress`` networks)."""
    return _allow


def _unmapped(host: str):
    ip = ipaddress.ip_address(host.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    return ip


def _forms(ip):
    """The forms under which an address may be a socket's: an IPv4 address also as its
    IPv4-mapped IPv6 address (a dual-stack AF_INET6 socket)."""
    if ip.version == 4:
        return (ip, ipaddress.IPv6Address("::ffff:" + str(ip)))
    return (ip,)


SOCK_DIAG_BY_FAMILY = 20
"""netlink message type of a sock_diag request (linux/sock_diag.h)."""
_NETLINK_SOCK_DIAG = 4
_NLM_F_REQUEST = 1
_NLMSG_ERROR = 2
_TCP_LISTEN = 10
_NO_COOKIE = 0xFFFFFFFF


class _NoDiag(Exception):
    """sock_diag is not usable here (no netlink, no inet_diag): read /proc/net/tcp instead."""


def _diag_owner(src, sport: int, dst, dport: int):
    """(uid, inode) of the TCP socket whose local end is ``src:sport`` and whose remote end is
    ``dst:dport`` (``ipaddress`` addresses of one family), by one exact sock_diag lookup (an
    ``inet_diag_req_v2`` without NLM_F_DUMP: a hash lookup in the kernel, linux/inet_diag.h),
    or None if there is none.  Raises :class:`_NoDiag` when netlink cannot answer."""
    family = socket.AF_INET if src.version == 4 else socket.AF_INET6
    sockid = (struct.pack("!HH", sport, dport) + src.packed.ljust(16, b"\0") + dst.packed.ljust(16, b"\0")
              + struct.pack("=III", 0, _NO_COOKIE, _NO_COOKIE))
    req = struct.pack("=BBBBI", family, socket.IPPROTO_TCP, 0, 0, 0xFFFFFFFF) + sockid
    msg = struct.pack("=IHHII", 16 + len(req), SOCK_DIAG_BY_FAMILY, _NLM_F_REQUEST, 1, 0) + req
    try:
        with socket.socket(socket.AF_NETLINK, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC, _NETLINK_SOCK_DIAG) as nl:
            nl.settimeout(1.0)
            nl.sendto(msg, (0, 0))
            data = nl.recv(8192)
    except OSError as exc:
        raise _NoDiag(str(exc)) from None
    if len(data) < 20:
        raise _NoDiag("short sock_diag answer")
    kind, = struct.unpack_from("=H", data, 4)
    if kind == _NLMSG_ERROR:
        err = -struct.unpack_from("=i", data, 16)[0]
        if err == errno.ENOENT:
            return None
        raise _NoDiag(os.strerror(err))
    if kind != SOCK_DIAG_BY_FAMILY or len(data) < 16 + 72:
        raise _NoDiag(f"unexpected sock_diag answer type {kind}")
    # inet_diag_msg: family, state, timer, retrans, sockid (48 bytes), expires, rqueue, wqueue, uid, inode
    state = data[17]
    got_sport, got_dport = struct.unpack_from("!HH", data, 20)
    uid, inode = struct.unpack_from("=II", data, 16 + 64)
    if state == _TCP_LISTEN or (got_sport, got_dport) != (sport, dport):
        return None  # a listener that happens to match, never the other end of a connection
    return uid, inode


def _hex_addr(ip, port: int) -> str:
    """``ip:port`` as /proc/net/tcp{,6} prints it: the address as 32-bit words in host byte order."""
    packed = ip.packed
    words = "".join("%08X" % int.from_bytes(packed[i:i + 4], sys.byteorder) for i in range(0, len(packed), 4))
    return f"{words}:{port:04X}"


def _proc_owner(src, sport: int, dst, dport: int):
    """(uid, inode) as :func:`_diag_owner`, from /proc/net/tcp or tcp6 (proc(5): sl local_address
    rem_address st queues tr retrnsmt uid timeout inode), or None.  Slow: the kernel walks its
    whole socket table for every read (~15-25 ms with 2,000 sockets, against ~40 µs for
    sock_diag), so only the fallback."""
    path = "/proc/net/tcp" if src.version == 4 else "/proc/net/tcp6"
    try:
        with open(path, "rb") as f:
            text = f.read().decode("ascii", "replace")
    except OSError:
        return None
    needle = f": {_hex_addr(src, sport)} {_hex_addr(dst, dport)} "
    at = text.find(needle)
    found = None
    while at >= 0:
        end = text.find("\n", at)
        cols = text[at + 2:end if end >= 0 else len(text)].split()
        if len(cols) >= 9 and cols[2] != "0A":  # 0A: LISTEN
            found = (int(cols[6]), int(cols[8]))
            if found[1]:
                return found
        at = text.find(needle, at + 1)
    return found


CLOSED = -1
"""What :func:`peer_owner` returns for a socket of this host that is no longer attached to a
file (closed by its process: orphaned, or in TIME_WAIT) or is gone: its owner cannot be known."""


def peer_owner(local: tuple, remote: tuple) -> int | None:
    """The uid that owns the socket at the other end of a TCP connection whose own end is
    ``local`` (host, port, ...) and whose other end is ``remote``; :data:`CLOSED` if that socket
    is of this network namespace but no longer attached to a file (the kernel then reports uid
    0, which would pass for root's); None if no such socket is found (another host, or gone).

    Asks sock_diag (one exact lookup), or reads /proc/net/tcp and tcp6 where netlink is not
    available.  Raises ValueError for an address that is not an IP address.
    """
    lport, rport = int(local[1]), int(remote[1])
    lip, rip = _unmapped(str(local[0])), _unmapped(str(remote[0]))
    for src, dst in zip(_forms(rip), _forms(lip)):
        try:
            got = _diag_owner(src, rport, dst, lport)
        except _NoDiag:
            got = _proc_owner(src, rport, dst, lport)
        if got is not None:
            uid, inode = got
            return uid if inode else CLOSED
    return None


def is_local_address(ip) -> bool:
    """True if ``ip`` (an ``ipaddress`` address) is loopback or an address of this host's
    interfaces (in this network namespace): a socket can be bound to it."""
    if ip.is_loopback:
        return True
    try:
        with socket.socket(socket.AF_INET if ip.version == 4 else socket.AF_INET6, socket.SOCK_STREAM) as probe:
            probe.bind((str(ip), 0))
        return True
    except OSError:
        return False


NO_OWNER = "the peer's socket on this host is closed or gone, so its owner is unknown"
"""The reason :func:`verdict` gives for a connection from this host whose sending socket is
closed.  Thespian's senders wait for the ACK on the open socket, so such a message was never
acknowledged, and the sender counts it as not delivered.  In practice it is an exiting actor's
ChildActorExited to its parent, sent as the process ends: the parent learns of the exit from
the process itself (SIGCHLD, docs/thespian.md "exit rechecks children").  Logged at INFO, since
the same line also stands for another user who sent and closed at once."""


def verdict(local: tuple, remote: tuple, uid: int | None = None) -> str | None:
    """Why a connection from ``remote`` to our ``local`` must be refused, or None to accept it
    (the rules of the module docstring: a connection from this host, loopback or one of its
    addresses, needs an open socket of ``uid``, ``os.getuid()`` by default; one from another host
    an address in the allow-list)."""
    uid = os.getuid() if uid is None else uid
    try:
        owner = peer_owner(local, remote)
        ip = _unmapped(str(remote[0]))
    except (ValueError, IndexError, TypeError) as exc:
        return f"unreadable address ({exc})"
    if owner == CLOSED:
        return NO_OWNER
    if owner is not None:
        return None if owner == uid else f"local socket of uid {owner}, not {uid}"
    if is_local_address(ip):
        return NO_OWNER
    if any(ip in net for net in _allow):
        return None
    return "address not in actor_system.allow"


def _queued(sock) -> int:
    """Bytes waiting in ``sock``'s receive queue (FIONREAD: nothing is read), or -1 if unknown."""
    import fcntl
    import termios

    try:
        buf = fcntl.ioctl(sock.fileno(), termios.FIONREAD, b"\0\0\0\0")
        return struct.unpack("=i", buf)[0]
    except (OSError, ValueError):
        return -1


def _refused(remote, why: str, level: int = logging.WARNING) -> None:
    ok, held_back = _log_limit.allow(time.monotonic())
    if not ok:
        return
    more = f" ({held_back} more refused since the last line)" if held_back else ""
    try:
        log.log(level, "actor port: connection from %s:%s refused before reading: %s%s",
                remote[0], remote[1], why, more)
    except Exception:  # noqa: BLE001 - logging must never break Thespian's loop
        pass


def patch_accept_guard() -> None:
    """Wrap ``TCPTransport._acceptNewIncoming`` (Thespian's accept on an actor's or the
    admin's listening socket) so that a connection :func:`verdict` refuses is closed and
    dropped from ``_incomingSockets`` before Thespian reads from it.

    Relies on the original adding the accepted connection as the last entry of the
    ``_incomingSockets`` dict (key: its fd), and on nothing being read in the same call.
    Idempotent (docs/thespian.md, "accept guard").
    """
    global _applied
    if _applied:
        return
    from thespian.system.transport import TCPTransport as T

    original = T.TCPTransport._acceptNewIncoming

    def _acceptNewIncoming(self):
        incoming = self._incomingSockets
        before = len(incoming)
        original(self)
        if len(incoming) <= before:
            return  # nothing accepted
        fd = next(reversed(incoming))
        sock = getattr(incoming[fd], "socket", None)
        try:
            local, remote = sock.getsockname(), sock.getpeername()
        except (OSError, AttributeError) as exc:
            local, remote, why = None, ("?", "?"), f"no address ({exc})"
        else:
            why = verdict(local, remote)
        if why is None:
            return
        empty = why == NO_OWNER and _queued(sock) == 0
        inc = incoming.pop(fd)
        try:
            inc.close()  # Thespian's own: shutdown, close, and forget the socket
        except OSError:
            pass
        if empty:  # Thespian's own senders leave these behind (a connect given up): nothing to say
            log.debug("actor port: empty connection from %s:%s closed: %s", remote[0], remote[1], why)
        else:  # a closed sender with data is most often an actor's goodbye (NO_OWNER): info
            _refused(remote, why, logging.INFO if why == NO_OWNER else logging.WARNING)

    _acceptNewIncoming.__wrapped__ = original
    T.TCPTransport._acceptNewIncoming = _acceptNewIncoming
    _applied = True
