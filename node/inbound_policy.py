"""NetRestrict and the inbound throttle (go-ethereum p2p/server.go ``checkInboundConn``,
p2p/netutil ``AddrIsLAN``), as plain logic for the Listener."""

from __future__ import annotations

import ipaddress


def is_lan(ip) -> bool:
    """True for loopback, private (RFC 1918 / ULA) and link-local addresses (netutil.AddrIsLAN)."""
    return ip.is_loopback or ip.is_private or ip.is_link_local


class InboundPolicy:
    """NetRestrict and the inbound throttle, as a plain class (no sockets).

    ``net_restrict``: CIDR strings (empty = allow all); ``throttle_s``: seconds an IP must wait
    between inbound connections (go-ethereum ``inboundThrottleTime``).
    """

    def __init__(self, net_restrict=(), throttle_s: float = 30.0):
        self.nets = [ipaddress.ip_network(n, strict=False) for n in net_restrict]
        self.throttle_s = throttle_s
        self.recent: dict[str, float] = {}

    def check(self, host: str, now: float) -> str | None:
        """Return None to accept ``host``, else the reason for closing the connection."""
        try:
            ip = ipaddress.ip_address(host.split("%")[0])
        except ValueError:
            return "invalid remote address"
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
            ip = ip.ipv4_mapped
        if self.nets and not any(ip in n for n in self.nets if n.version == ip.version):
            return "not in netrestrict list"
        if not is_lan(ip):
            until = self.recent.get(str(ip))
            if until is not None and until > now:
                return "too many attempts"
            self.recent[str(ip)] = now + self.throttle_s
        return None

    def expire(self, now: float) -> None:
        """Forget throttle entries that have run out."""
        for k in [k for k, t in self.recent.items() if t <= now]:
            del self.recent[k]
