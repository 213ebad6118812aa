"""A node's dial address from either URL form: ``enode://<id>@host:port[?discport=N]`` or an
``enr:`` node record (EIP-778), as go-ethereum's ``enode.Parse`` accepts both
(p2p/enode/urlv4.go).

An ENR is dialled at its ``ip`` and ``tcp`` (EIP-778 "Key/value pairs"); with no ``ip``, at
``ip6`` and ``tcp6``, or ``tcp`` when ``tcp6`` is absent (EIP-778: "tcp6 ... defaults to the
value of tcp").  Its UDP port is ``udp`` (or ``udp6``/``udp`` for IPv6), 0 when the record has
none, which :meth:`rlpx.enode.Enode.url` then shows as ``?discport=0`` as go-ethereum does.
"""

from __future__ import annotations

from rlpx.enode import Enode, parse_enode
from rlpx.errors import EnodeError

from .enr import TEXT_PREFIX, Record, RecordError, parse_text


def enode_of_record(record: Record) -> Enode:
    """The dialable :class:`Enode` of a verified record.

    Raises :class:`EnodeError` if the record has no IP address with a TCP port, or an entry is
    malformed.
    """
    try:
        if record.ip is not None and record.tcp is not None:
            host, tcp, udp = record.ip, record.tcp, record.udp
        elif record.ip6 is not None and (record.tcp6 if record.tcp6 is not None else record.tcp) is not None:
            host = record.ip6
            tcp = record.tcp6 if record.tcp6 is not None else record.tcp
            udp = record.udp6 if record.udp6 is not None else record.udp
        else:
            raise EnodeError("invalid enr: the record has no IP address and TCP port to dial (ip and tcp, or ip6 "
                             "and tcp6)")
    except RecordError as exc:
        raise EnodeError(f"invalid enr: {exc}") from None
    return Enode(record.node_id, host, tcp, udp if udp is not None else 0)


def parse_node_url(text: str) -> Enode:
    """Parse an ``enode://`` URL or an ``enr:`` record into the :class:`Enode` to dial.

    Raises :class:`EnodeError` saying what is wrong: the enode URL errors of
    :func:`rlpx.enode.parse_enode`; for a record, "invalid enr: " and the :class:`RecordError`
    (bad base64, bad RLP, signature, ...) or the missing address; for anything else, that the
    scheme is neither.
    """
    if isinstance(text, str) and text.startswith(TEXT_PREFIX):
        try:
            record = parse_text(text)
        except RecordError as exc:
            raise EnodeError(f"invalid enr: {exc}") from None
        return enode_of_record(record)
    if isinstance(text, str) and not text.startswith("enode://"):
        shown = repr(text[:40]) + ("..." if len(text) > 40 else "")
        raise EnodeError(f"invalid node URL {shown}: must be enode://... or enr:...")
    return parse_enode(text)
