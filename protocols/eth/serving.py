"""Answers to GetBlockHeaders and GetBlockBodies from a :class:`protocols.eth.store.ChainStore`,
as go-ethereum v1.17 eth/protocols/eth/handlers.go assembles them.

Limits (go-ethereum eth/protocols/eth/handler.go): at most :data:`MAX_HEADERS_SERVE` (1,024)
headers and :data:`MAX_BODIES_SERVE` (1,024) bodies per answer, at most 2 * that many lookups,
and a :data:`SOFT_RESPONSE_LIMIT` of 2 MiB: an item is still added while the answer is below
it.  Arithmetic on block numbers is uint64 arithmetic, as in Go: a skip or an amount that
makes the next number wrap around ends the answer ("skip overflow attack").  An unknown origin
gives an empty answer; a body that is not stored ends the bodies answer there.

Every stored block is canonical (the chain file is one chain), so go-ethereum's checks that
a block found by hash is canonical always pass here.  One deliberate difference: in the
contiguous number-mode path go-ethereum computes ``origin + amount - 1`` in uint64 and a
wrapped sum would send it headers from near the genesis block; here an origin past the head
simply gives an empty answer.
"""

from __future__ import annotations

from .store import ChainStore

MAX_HEADERS_SERVE = 1024
"""Most headers in one BlockHeaders (go-ethereum handler.go ``maxHeadersServe``)."""

MAX_BODIES_SERVE = 1024
"""Most bodies in one BlockBodies (go-ethereum handler.go ``maxBodiesServe``)."""

SOFT_RESPONSE_LIMIT = 2 * 1024 * 1024
"""Bytes after which no further item is added to an answer (go-ethereum handler.go
``softResponseLimit``)."""

U64 = 2 ** 64
MASK = U64 - 1
ZERO_HASH = b"\x00" * 32


def parse_origin(origin: bytes) -> tuple[bytes | None, int]:
    """GetBlockHeaders' origin (bytes): (hash, 0) for 32 bytes, (None, number) for a number of at
    most 8 bytes (go-ethereum protocol.go ``HashOrNumber``).  The all-zero hash means number 0,
    as go-ethereum's ``hashMode`` test (``Origin.Hash != common.Hash{}``) treats it."""
    if len(origin) == 32:
        return (None, 0) if origin == ZERO_HASH else (bytes(origin), 0)
    return None, int.from_bytes(origin, "big")


def _capped(headers: list[bytes]) -> list[bytes]:
    """``headers`` cut after the soft response limit is reached."""
    out, size = [], 0
    for h in headers:
        if size >= SOFT_RESPONSE_LIMIT:
            break
        out.append(h)
        size += len(h)
    return out


def block_headers(store: ChainStore, origin: bytes, amount: int, skip: int, reverse: bool) -> list[bytes]:
    """The header RLPs answering GetBlockHeaders ``[origin, amount, skip, reverse]``
    (go-ethereum handlers.go ``ServiceGetBlockHeadersQuery``).  ``amount`` and ``skip`` are
    uint64 values; never raises for any of them."""
    if amount == 0:
        return []
    start_hash, number = parse_origin(origin)
    if skip == 0:
        return _contiguous(store, start_hash, number, min(amount, MAX_HEADERS_SERVE), reverse)
    return _non_contiguous(store, start_hash, number, amount, skip, reverse)


def _contiguous(store, start_hash, number, count, reverse) -> list[bytes]:
    """handlers.go ``serviceContiguousBlockHeaderQuery`` (skip 0)."""
    head = store.head.number
    if start_hash is not None:
        number = store.number_of(start_hash)
        if number is None:
            return []
    if reverse:
        if number > head:  # core/headerchain.go GetHeadersFrom: future headers still give the rest
            if count <= number - head:
                return []
            count -= number - head
            number = head
        low = max(number - count + 1, 0)
        return _capped(store.headers_between(low, number)[::-1])
    if number > head:
        return []
    return _capped(store.headers_between(number, number + count - 1))


def _non_contiguous(store, start_hash, number, amount, skip, reverse) -> list[bytes]:
    """handlers.go ``serviceNonContiguousBlockHeaderQuery`` (skip > 0)."""
    headers, size, lookups = [], 0, 0
    hash_mode = start_hash is not None
    if hash_mode:
        number = store.number_of(start_hash)
        if number is None:
            return []
    while (len(headers) < amount and size < SOFT_RESPONSE_LIMIT and len(headers) < MAX_HEADERS_SERVE
           and lookups < 2 * MAX_HEADERS_SERVE):
        lookups += 1
        header = store.header_by_number(number)
        if header is None:
            break
        headers.append(header)
        size += len(header)
        step = (skip + 1) & MASK
        if reverse:
            # hash mode: GetAncestor(skip+1), unknown when skip+1 wraps to 0 or passes genesis;
            # number mode: the uint64 difference, unknown when it does not go down
            if step == 0 or step > number:
                break
            number -= step
        else:
            nxt = (number + step) & MASK
            if nxt <= number:  # overflow: go-ethereum logs a "skip overflow attack"
                break
            number = nxt
    return headers


def block_bodies(store: ChainStore, hashes) -> list[bytes]:
    """The body RLPs answering GetBlockBodies ``hashes`` (32-byte hashes), stopping at the first
    one not stored (go-ethereum handlers.go ``ServiceGetBlockBodiesQuery``)."""
    bodies, size = [], 0
    for lookups, h in enumerate(hashes):
        if size >= SOFT_RESPONSE_LIMIT or len(bodies) >= MAX_BODIES_SERVE or lookups >= 2 * MAX_BODIES_SERVE:
            break
        body = store.body(h)
        if not body:
            break
        bodies.append(body)
        size += len(body)
    return bodies
