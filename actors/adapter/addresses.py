"""The IP address inside a Thespian ActorAddress (multiprocTCPBase).

Thespian 4.0.1 keeps a TCP actor's address in ``ActorAddress.addressDetails``, an
``IPActorAddress`` whose ``connectArgs`` is ``((ip, port),)`` (transport/IPBase.py).  The
HostWatch checks that a member host registers from the address the config gives it.
"""

from __future__ import annotations


def ip_of(addr) -> str | None:
    """The IP address (text) of ActorAddress ``addr``, or None if it has none (another
    transport, or not an address)."""
    try:
        return str(addr.addressDetails.connectArgs[0][0])
    except (AttributeError, IndexError, TypeError):
        return None


__all__ = ["ip_of"]
