"""Address rules of discovery: which relayed addresses may be used (go-ethereum p2p/netutil/net.go
``CheckRelayAddr``, ``AddrIsSpecialNetwork``) and NetRestrict lists (``Netlist.Contains``).

Addresses are text (``"1.2.3.4"``, ``"::1"``) or ``ipaddress`` objects; an IPv4-mapped IPv6
address is unmapped first, as go-ethereum does (``IPToAddr``, ``Is4In6``).  Plain functions, no
sockets.
"""

from __future__ import annotations

import ipaddress
from typing import Iterable, Optional

from .kademlia import is_lan

_SPECIAL4 = tuple(ipaddress.ip_network(n) for n in (
    "0.0.0.0/8", "192.0.0.0/29", "192.0.0.9/32", "192.0.0.170/32", "192.0.0.171/32", "192.0.2.0/24",
    "192.31.196.0/24", "192.52.193.0/24", "192.88.99.0/24", "192.175.48.0/24", "198.18.0.0/15",
    "198.51.100.0/24", "203.0.113.0/24", "255.255.255.255/32"))
"""go-ethereum netutil ``special4`` (RFC 5735, RFC 5156, the IANA IPv4 special registry)."""

_SPECIAL6 = tuple(ipaddress.ip_network(n) for n in (
    "100::/64", "2001::/32", "2001:1::1/128", "2001:2::/48", "2001:3::/32", "2001:4:112::/48",
    "2001:5::/32", "2001:10::/28", "2001:20::/28", "2001:db8::/32", "2002::/16"))
"""go-ethereum netutil ``special6`` (the IANA IPv6 special registry)."""


def address(ip) -> Optional[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    """``ip`` (text, packed bytes of 4 or 16, or an ``ipaddress`` object) as an ``ipaddress``
    object with IPv4-mapped IPv6 unmapped, or None when it is not an address."""
    try:
        addr = ip if isinstance(ip, (ipaddress.IPv4Address, ipaddress.IPv6Address)) else ipaddress.ip_address(ip)
    except ValueError:
        return None
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        addr = addr.ipv4_mapped
    return addr


def is_special_network(addr) -> bool:
    """go-ethereum netutil ``AddrIsSpecialNetwork``: multicast, or in the special-use lists above
    (broadcast, documentation, benchmarking ...).  ``addr`` an unmapped ``ipaddress`` object."""
    if addr.is_multicast:
        return True
    nets = _SPECIAL4 if addr.version == 4 else _SPECIAL6
    return any(addr in net for net in nets)


def check_relay_ip(sender, ip) -> Optional[str]:
    """Why ``ip``, relayed by a host at ``sender``, is not a valid target, or None if it is
    (go-ethereum netutil ``CheckRelayAddr``, its four rules): "invalid", "unspecified",
    "special" network, "loopback" address from a non-loopback host, "lan" address from a WAN
    host (LAN as :func:`node.kademlia.is_lan`, go-ethereum ``AddrIsLAN``).  An unparsable
    ``sender`` counts as WAN, non-loopback."""
    addr = address(ip)
    if addr is None:
        return "invalid"
    if addr.is_unspecified:
        return "unspecified"
    if is_special_network(addr):
        return "special"
    src = address(sender)
    if addr.is_loopback and not (src is not None and src.is_loopback):
        return "loopback"
    if is_lan(addr) and not (src is not None and is_lan(src)):
        return "lan"
    return None


def net_contains(nets: Optional[Iterable], ip) -> bool:
    """Whether ``ip`` is inside one of ``nets`` (``ipaddress`` networks; go-ethereum
    ``Netlist.Contains``).  ``nets`` None means no restriction (True); an unparsable ``ip`` is
    never contained."""
    if nets is None:
        return True
    addr = address(ip)
    if addr is None:
        return False
    return any(addr.version == net.version and addr in net for net in nets)
