"""Which chain an eth protocol runs on: a built-in one, a mapping, or a go-ethereum genesis.json.

* ``chain: mainnet | sepolia | hoodi`` (:data:`protocols.forkid.BUILTIN_CHAINS`), or a mapping
  ``{name, network_id, genesis_hash, genesis_td, fork_blocks, fork_times, genesis_time}``
  (:func:`chain_from_option`).
* ``genesis: PATH`` (:func:`chain_from_genesis`): a go-ethereum ``genesis.json``.  Its
  ``config.chainId`` is the network id (go-ethereum's default network id); every ``*Block``
  key of ``config`` (:data:`BLOCK_FORK_KEYS`) is a block fork and every ``*Time`` key
  (:data:`TIME_FORK_KEYS`) a time fork, as go-ethereum core/forkid/forkid.go ``gatherForks``
  collects them from params/config.go ``ChainConfig``; ``timestamp`` is the genesis time and
  ``difficulty`` the genesis total difficulty (eth/68 only).  The genesis hash is given
  (``genesis_hash``) or read from a chain
  file (``chain_file``: RLP blocks end to end, as ``geth export`` writes and go-ethereum's
  cmd/devp2p/internal/ethtest/testdata/chain.rlp is: the parent hash of block 1,
  :func:`genesis_hash_from_chain_file`).

Keys are matched as Go's encoding/json does (exact name first, else case-insensitively), and
keys go-ethereum ignores are ignored.  A null fork is no fork.  Every problem raises
:class:`ChainError` with one line naming the file and the key.
"""

from __future__ import annotations

import json
import os

import rlp

from ..forkid import BUILTIN_CHAINS, MAINNET, ChainConfig

BLOCK_FORK_KEYS = ("homesteadBlock", "daoForkBlock", "eip150Block", "eip155Block", "eip158Block", "byzantiumBlock",
                   "constantinopleBlock", "petersburgBlock", "istanbulBlock", "muirGlacierBlock", "berlinBlock",
                   "londonBlock", "arrowGlacierBlock", "grayGlacierBlock", "mergeNetsplitBlock")
"""JSON names of go-ethereum's ``*big.Int`` ChainConfig fields named ``*Block`` (params/config.go)."""

TIME_FORK_KEYS = ("shanghaiTime", "cancunTime", "pragueTime", "osakaTime", "bpo1Time", "bpo2Time", "bpo3Time",
                  "bpo4Time", "bpo5Time", "amsterdamTime", "bogotaTime", "ubtTime", "verkleTime")
"""JSON names of go-ethereum's ``*uint64`` ChainConfig fields named ``*Time`` (params/config.go;
``verkleTime`` is the name releases before the UBT rename used for ``ubtTime``)."""

MAX_GENESIS_BYTES = 256 * 1024 * 1024
"""Largest genesis.json read, bytes (mainnet's, with its allocations, is under 1 MiB)."""

MAX_BLOCK_BYTES = 64 * 1024 * 1024
"""Largest block read from a chain file, bytes (a block over go-ethereum's 10 MiB message limit
cannot travel over eth anyway)."""

U64 = 2 ** 64


class ChainError(ValueError):
    """A chain cannot be built from the given option or file; the message says why."""


def chain_from_option(value) -> ChainConfig:
    """The ChainConfig of the ``chain`` option: None or a built-in name (mainnet, sepolia, hoodi),
    or a mapping ``{name, network_id, genesis_hash (hex), genesis_td, fork_blocks: [..],
    fork_times: [..], genesis_time}``.  Raises ValueError (:class:`ChainError`) with the reason."""
    if value is None:
        return MAINNET
    if isinstance(value, str):
        if value in BUILTIN_CHAINS:
            return BUILTIN_CHAINS[value]
        raise ChainError(f"unknown chain {value!r} (built in: {', '.join(BUILTIN_CHAINS)}; "
                         "or describe one as a mapping, or give `genesis`)")
    if not isinstance(value, dict):
        raise ChainError("chain must be a built-in chain's name or a mapping")
    allowed = {"name", "network_id", "genesis_hash", "genesis_td", "fork_blocks", "fork_times", "genesis_time"}
    extra = set(value) - allowed
    if extra:
        raise ChainError(f"unknown chain key(s) {sorted(extra, key=str)} (allowed: {sorted(allowed)})")
    genesis = parse_hash(value.get("genesis_hash"), "chain.genesis_hash")
    ints = {}
    for key, default in (("network_id", None), ("genesis_td", 0), ("genesis_time", 0)):
        v = value.get(key, default)
        if not isinstance(v, int) or isinstance(v, bool) or v < 0:
            raise ChainError(f"chain.{key} must be a non-negative integer")
        ints[key] = v
    lists = {}
    for key in ("fork_blocks", "fork_times"):
        v = value.get(key, [])
        if not isinstance(v, list) or not all(isinstance(x, int) and not isinstance(x, bool) and 0 <= x < U64
                                              for x in v):
            raise ChainError(f"chain.{key} must be a list of non-negative 64-bit integers")
        lists[key] = tuple(v)
    return ChainConfig(str(value.get("name", "custom")), ints["network_id"], genesis, ints["genesis_td"],
                       lists["fork_blocks"], lists["fork_times"], ints["genesis_time"])


def parse_hash(value, what: str) -> bytes:
    """32 bytes from hex text ``value`` (with or without 0x); raise :class:`ChainError` naming ``what``."""
    try:
        raw = bytes.fromhex(value.removeprefix("0x"))
    except (AttributeError, ValueError):
        raw = b""
    if len(raw) != 32:
        raise ChainError(f"{what} must be 32 bytes of hex, got {str(value)[:80]!r}")
    return raw


def _get(d: dict, name: str):
    """``d[name]`` as Go's encoding/json finds a field: the exact key, else one equal ignoring case."""
    if name in d:
        return d[name]
    low = name.lower()
    for k, v in d.items():
        if isinstance(k, str) and k.lower() == low:
            return v
    return None


def _uint(value, where: str, bits: int = 64, text: bool = False) -> int:
    """A JSON integer of at most ``bits`` bits; with ``text`` also "0x.." hex or decimal text, as
    go-ethereum's math.HexOrDecimal64/256 reads genesis ``timestamp`` and ``difficulty``."""
    if text and isinstance(value, str):
        s = value.strip()
        try:
            value = int(s[2:], 16) if s[:2] in ("0x", "0X") else int(s, 10)
        except ValueError:
            raise ChainError(f"{where} must be a hex (0x..) or decimal number, got {value[:40]!r}") from None
    if not isinstance(value, int) or isinstance(value, bool):
        raise ChainError(f"{where} must be an integer, got {type(value).__name__} {str(value)[:40]}")
    if not 0 <= value < 2 ** bits:
        raise ChainError(f"{where} must be between 0 and 2**{bits}-1, got {value}")
    return value


def chain_from_genesis(path: str, genesis_hash: bytes | None = None, chain_file: str | None = None) -> ChainConfig:
    """The chain of go-ethereum genesis file ``path`` (see the module docstring), with
    ``genesis_hash`` (32 bytes) or the one read from ``chain_file``; exactly one of the two.
    Raises :class:`ChainError`: unreadable file, not JSON, no ``config`` mapping, no
    ``config.chainId``, a fork, ``timestamp`` or ``difficulty`` of the wrong type or range."""
    if (genesis_hash is None) == (chain_file is None):
        raise ChainError("give the genesis hash: either genesis_hash or chain_file")
    doc = read_genesis(path)
    config = _get(doc, "config")
    chain_id = _get(config, "chainId")
    if chain_id is None:
        raise ChainError(f"{path}: config.chainId is missing")
    network_id = _uint(chain_id, f"{path}: config.chainId")
    blocks, times = [], []
    for keys, out in ((BLOCK_FORK_KEYS, blocks), (TIME_FORK_KEYS, times)):
        for key in keys:
            v = _get(config, key)
            if v is not None:
                out.append(_uint(v, f"{path}: config.{key}"))
    ts = _get(doc, "timestamp")
    genesis_time = 0 if ts is None else _uint(ts, f"{path}: timestamp", text=True)
    diff = _get(doc, "difficulty")
    td = 0 if diff is None else _uint(diff, f"{path}: difficulty", bits=256, text=True)
    if genesis_hash is None:
        genesis_hash = genesis_hash_from_chain_file(chain_file)
    return ChainConfig(os.path.basename(path), network_id, genesis_hash, td, tuple(blocks), tuple(times),
                       genesis_time)


def read_genesis(path: str) -> dict:
    """The JSON object of genesis file ``path``, with a ``config`` object.  Raises
    :class:`ChainError`: unreadable, larger than :data:`MAX_GENESIS_BYTES`, not JSON, not an
    object, no ``config`` object."""
    try:
        with open(path, "rb") as f:
            data = f.read(MAX_GENESIS_BYTES + 1)
    except OSError as exc:
        raise ChainError(f"cannot read {path}: {exc.strerror or exc}") from None
    if len(data) > MAX_GENESIS_BYTES:
        raise ChainError(f"{path} is larger than {MAX_GENESIS_BYTES} bytes")
    try:
        doc = json.loads(data.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise ChainError(f"{path} is not JSON: not UTF-8 text (byte {exc.start})") from None
    except (json.JSONDecodeError, RecursionError) as exc:
        raise ChainError(f"{path} is not JSON: {str(exc)[:200]}") from None
    if not isinstance(doc, dict):
        raise ChainError(f"{path}: a genesis file is a JSON object, got {type(doc).__name__}")
    config = _get(doc, "config")
    if not isinstance(config, dict):
        raise ChainError(f"{path}: `config` must be an object" + ("" if config is not None else ", and is missing"))
    return doc


def _read_item(f, path: str, index: int) -> bytes | None:
    """The next whole RLP list (a block) from file ``f``, or None at the end of the file."""
    first = f.read(1)
    if not first:
        return None
    b = first[0]
    if b < 0xC0:
        raise ChainError(f"chain file {path}: item {index} is not an RLP list (byte {b:#04x})")
    if b <= 0xF7:
        size_bytes, size = b"", b - 0xC0
    else:
        size_bytes = f.read(b - 0xF7)
        if len(size_bytes) != b - 0xF7 or size_bytes[:1] == b"\x00":
            raise ChainError(f"chain file {path}: item {index} has a bad RLP length")
        size = int.from_bytes(size_bytes, "big")
    if size > MAX_BLOCK_BYTES:
        raise ChainError(f"chain file {path}: block {index} is larger than {MAX_BLOCK_BYTES} bytes")
    body = f.read(size)
    if len(body) != size:
        raise ChainError(f"chain file {path}: truncated in item {index}")
    return first + size_bytes + body


def genesis_hash_from_chain_file(path: str) -> bytes:
    """The genesis hash as the parent hash of block 1 in chain file ``path`` (RLP blocks
    ``[header, transactions, uncles, ...]`` end to end, starting at block 0 or 1; a header's
    parent hash is its field 0, its number field 8).  Raises :class:`ChainError`."""
    try:
        with open(path, "rb") as f:
            for index in range(2):
                item = _read_item(f, path, index)
                if item is None:
                    raise ChainError(f"chain file {path} holds no block 1")
                try:
                    header = rlp.decode(item)[0]
                    if not isinstance(header, list) or len(header) < 9 or not all(
                            isinstance(x, bytes) for x in header[:9]):
                        raise ValueError("not a block header")
                    number_bytes = header[8]
                    if len(number_bytes) > 8 or number_bytes[:1] == b"\x00":
                        raise ValueError("bad block number")
                    parent = header[0]
                except (rlp.DecodingError, IndexError, ValueError, RecursionError) as exc:
                    raise ChainError(f"chain file {path}: item {index} is not a block ({exc})") from None
                number = int.from_bytes(number_bytes, "big")
                if number == 1:
                    if len(parent) != 32:
                        raise ChainError(f"chain file {path}: block 1's parent hash is not 32 bytes")
                    return parent
                if number != 0 or index:
                    raise ChainError(f"chain file {path} must start with block 0 or 1, found block {number}")
    except OSError as exc:
        raise ChainError(f"cannot read chain file {path}: {exc.strerror or exc}") from None
    raise AssertionError("unreachable")
