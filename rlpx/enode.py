"""enode URLs: ``enode://<128 hex node id>@host:tcp-port[?discport=N]``.

Format from devp2p enode-url spec (ethereum/devp2p enr.md / go-ethereum p2p/enode/urlv4.go):
the user part is the hex node id, the host an IP address (IPv6 in brackets) or a DNS name,
the port the TCP listening port, and the optional ``discport`` query the UDP discovery port
when it differs from the TCP port.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

from .errors import EnodeError, InvalidPointError
from .keys import NODE_ID_SIZE, public_key_from_node_id

_HOSTNAME = re.compile(r"^(?=.{1,253}$)([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$")


@dataclass(frozen=True)
class Enode:
    """A parsed enode URL.

    ``node_id`` is 64 raw bytes; ``host`` an IP address string or DNS name;
    ``tcp_port`` and ``udp_port`` are 0..65535 (``udp_port`` equals ``tcp_port`` unless
    ``?discport=`` says otherwise, as in go-ethereum p2p/enode/urlv4.go).
    """

    node_id: bytes
    host: str
    tcp_port: int
    udp_port: int

    @classmethod
    def parse(cls, url: str) -> "Enode":
        """Parse an enode URL; raise :class:`EnodeError` saying what is wrong."""
        return parse_enode(url)

    @property
    def address(self) -> tuple[str, int]:
        """``(host, tcp_port)`` for ``socket.connect``."""
        return (self.host, self.tcp_port)

    def url(self) -> str:
        """Format as ``enode://hex@host:port[?discport=N]`` (IPv6 hosts in brackets)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        s = f"enode://{self.node_id.hex()}@{host}:{self.tcp_port}"
        if self.udp_port != self.tcp_port:
            s += f"?discport={self.udp_port}"
        return s

    def __str__(self) -> str:
        return self.url()


def _short(url: str) -> str:
    """``url`` for an error message: its repr, cut after 200 characters (a whole enode URL is
    ~160; a longer input must not make a longer message)."""
    return repr(url[:200]) + ("..." if len(url) > 200 else "")


def _port(text: str, what: str) -> int:
    if not (text.isascii() and text.isdigit()):  # str.isdigit alone accepts e.g. "³", which int() rejects
        raise EnodeError(f"invalid {what} {text[:20]!r}: not a number")
    if len(text) > 5:  # no port has more digits; int() refuses strings of over 4,300 digits
        raise EnodeError(f"invalid {what} {text[:20]!r}{'...' if len(text) > 20 else ''}: above 65535")
    value = int(text)
    if value > 65535:
        raise EnodeError(f"invalid {what} {value}: above 65535")
    return value


def parse_enode(url: str) -> Enode:
    """Parse ``enode://<node id hex>@host:port[?discport=N]`` into an :class:`Enode`.

    Raises :class:`EnodeError` for a wrong scheme, white space, control or non-ASCII characters
    anywhere, a node id that is not 128 hex characters or not a secp256k1 point, a missing or
    invalid host or port, or a malformed query.  As go-ethereum p2p/enode/urlv4.go does, query
    keys other than ``discport`` and an empty ``discport=`` are ignored, and of several
    ``discport`` values the first counts.
    """
    if not isinstance(url, str):
        raise EnodeError("enode URL must be a string")
    if not url.startswith("enode://"):
        raise EnodeError(f"invalid enode URL {_short(url)}: scheme must be enode://")
    if not (url.isascii() and url.isprintable()) or " " in url:
        # urlsplit silently drops tab, CR and LF anywhere in the URL; go-ethereum's url.Parse
        # rejects control characters (and a host cannot hold spaces)
        raise EnodeError(f"invalid enode URL {_short(url)}: white space, control or non-ASCII characters")
    try:
        parts = urlsplit(url)
    except ValueError as exc:
        raise EnodeError(f"invalid enode URL {_short(url)}: {exc}") from None
    if "@" not in parts.netloc:
        raise EnodeError(f"invalid enode URL {_short(url)}: missing node id before '@'")
    id_hex, _, hostport = parts.netloc.rpartition("@")
    if len(id_hex) != 2 * NODE_ID_SIZE or not re.fullmatch(r"[0-9a-fA-F]+", id_hex):
        raise EnodeError(f"invalid enode URL {_short(url)}: node id must be {2 * NODE_ID_SIZE} hex characters")
    node_id = bytes.fromhex(id_hex)
    try:
        public_key_from_node_id(node_id)
    except InvalidPointError:
        raise EnodeError(f"invalid enode URL {_short(url)}: node id is not a secp256k1 public key") from None
    if parts.path not in ("", "/"):
        raise EnodeError(f"invalid enode URL {_short(url)}: unexpected path {parts.path!r}")
    if hostport.startswith("["):
        host, sep, rest = hostport[1:].partition("]")
        if not sep or not rest.startswith(":"):
            raise EnodeError(f"invalid enode URL {_short(url)}: missing port")
        port_text = rest[1:]
    else:
        host, sep, port_text = hostport.rpartition(":")
        if not sep:
            raise EnodeError(f"invalid enode URL {_short(url)}: missing port")
    if not host:
        raise EnodeError(f"invalid enode URL {_short(url)}: missing host")
    try:
        host = str(ipaddress.ip_address(host))
    except ValueError:
        if not _HOSTNAME.match(host):
            raise EnodeError(f"invalid enode URL {_short(url)}: invalid host {host!r}") from None
    tcp_port = _port(port_text, "port")
    udp_port = tcp_port
    if parts.query:
        try:
            query = parse_qs(parts.query, strict_parsing=True)  # an empty discport= is ignored, as urlv4.go does
        except ValueError:
            raise EnodeError(f"invalid enode URL {_short(url)}: malformed query") from None
        if "discport" in query:  # other keys are ignored, and the first discport counts, as in urlv4.go
            udp_port = _port(query["discport"][0], "discport")
    if parts.fragment:
        raise EnodeError(f"invalid enode URL {_short(url)}: unexpected fragment")
    return Enode(node_id, host, tcp_port, udp_port)
