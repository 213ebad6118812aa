"""The genesis block of a go-ethereum ``genesis.json``, built as go-ethereum builds it.

A chain file that starts at block 1 (go-ethereum's ethtest ``chain.rlp``) lacks block 0, yet
peers ask for it (the eth test suite's ZeroRequestID asks for headers 0 and 1).
:func:`genesis_block` builds it from the genesis file as go-ethereum core/genesis.go
``Genesis.ToBlock`` does:

* the state root is the root of the Merkle-Patricia state trie of ``alloc`` (core/genesis.go
  ``hashAlloc``): for each account, key keccak256(address), value
  RLP ``[nonce, balance, storageRoot, codeHash]``; the storage trie maps keccak256(slot) to the
  RLP of the value without leading zeros, zero values left out (core/state).  Empty accounts
  are kept (``hashAlloc`` commits without EIP-158 deletion).  The trie is the ``trie``
  library's HexaryTrie;
* the header has the 15 fields of core/types/block.go ``Header`` up to the nonce, the empty
  transaction, receipt and uncle roots, then the optional fields of the forks active at the
  genesis block (``baseFeePerGas`` from London, default 1 gwei ``params.InitialBaseFee``; the
  empty withdrawals root from Shanghai; blob gas fields, 0 by default, and a zero parent beacon
  root from Cancun; the empty requests hash from Prague; the empty block access list hash and
  a slot number from Amsterdam).  A missing optional field before a present one is RLP's empty
  string, as go-ethereum's ``rlp:"optional"`` writes it;
* the body is ``[[], []]``, with an empty withdrawals list ``[[], [], []]`` from Shanghai.

JSON is read as go-ethereum's gencodec types read it (core/gen_genesis.go, core/types/account.go):
64-bit and 256-bit integers as "0x" hex, decimal text or JSON numbers; bytes and hashes as "0x"
hex; alloc addresses and storage slots with or without "0x", slots and values left-padded to
32 bytes.  Every problem raises :class:`~protocols.eth.chains.ChainError` naming the file and key.
"""

from __future__ import annotations

import hashlib

import rlp
from trie import HexaryTrie

from rlpx.keys import keccak256

from .chains import ChainError, _get, _uint, read_genesis

EMPTY_ROOT = keccak256(rlp.encode(b""))
"""Root of an empty Merkle-Patricia trie (go-ethereum types.EmptyRootHash, EmptyTxsHash,
EmptyReceiptsHash, EmptyWithdrawalsHash)."""

EMPTY_UNCLE_HASH = keccak256(rlp.encode([]))
"""keccak256 of the RLP of an empty list (types.EmptyUncleHash, EmptyBlockAccessListHash)."""

EMPTY_REQUESTS_HASH = hashlib.sha256(b"").digest()
"""EIP-7685's requests hash of no requests: sha256 of nothing (types.EmptyRequestsHash)."""

EMPTY_CODE_HASH = keccak256(b"")
"""keccak256 of empty code (types.EmptyCodeHash)."""

GENESIS_GAS_LIMIT = 4712388
"""Gas limit when the file gives 0 (go-ethereum params.GenesisGasLimit)."""

GENESIS_DIFFICULTY = 131072
"""Difficulty when the file gives none, ethash is configured and mixHash is zero
(params.GenesisDifficulty)."""

INITIAL_BASE_FEE = 1_000_000_000
"""Base fee when London is active at genesis and the file gives none, wei
(params.InitialBaseFee)."""


def _hex_bytes(value, where: str, size: int | None = None) -> bytes:
    """ "0x" hex text as bytes, of exactly ``size`` bytes when given (hexutil.Bytes, common.Hash,
    common.Address)."""
    if not isinstance(value, str) or value[:2] not in ("0x", "0X"):
        raise ChainError(f"{where} must be 0x-prefixed hex text, got {str(value)[:40]!r}")
    try:
        out = bytes.fromhex(value[2:])
    except ValueError:
        raise ChainError(f"{where} is not even-length hex: {value[:40]!r}") from None
    if size is not None and len(out) != size:
        raise ChainError(f"{where} must be {size} bytes, got {len(out)}")
    return out


def _word(value, where: str) -> bytes:
    """A storage slot or value: hex with or without "0x", at most 32 bytes, left-padded
    (core/types/account.go ``storageJSON``)."""
    if not isinstance(value, str):
        raise ChainError(f"{where} must be hex text, got {type(value).__name__}")
    text = value[2:] if value[:2] in ("0x", "0X") else value
    if len(text) > 64:
        raise ChainError(f"{where} is longer than 32 bytes")
    try:
        return bytes.fromhex(text.rjust(64, "0"))
    except ValueError:
        raise ChainError(f"{where} is not hex: {value[:40]!r}") from None


def _address(value: str, where: str) -> bytes:
    """An alloc key: 20 bytes of hex, with or without "0x" (common.UnprefixedAddress)."""
    text = value[2:] if value[:2] in ("0x", "0X") else value
    try:
        out = bytes.fromhex(text)
    except ValueError:
        raise ChainError(f"{where}: {value[:50]!r} is not a hex address") from None
    if len(out) != 20:
        raise ChainError(f"{where}: {value[:50]!r} is not 20 bytes")
    return out


def _opt_uint(doc: dict, key: str, path: str, bits: int = 64) -> int | None:
    v = _get(doc, key)
    return None if v is None else _uint(v, f"{path}: {key}", bits=bits, text=True)


def state_root(alloc, path: str) -> bytes:
    """The state root (32 bytes) of genesis ``alloc`` (a JSON object of address -> account), as
    go-ethereum core/genesis.go ``hashAlloc`` computes it.  Raises :class:`ChainError`."""
    if alloc is None:
        return EMPTY_ROOT
    if not isinstance(alloc, dict):
        raise ChainError(f"{path}: alloc must be an object, got {type(alloc).__name__}")
    state = HexaryTrie({})
    for key, account in alloc.items():
        where = f"{path}: alloc[{key[:44]}]"
        address = _address(key, f"{path}: alloc")
        if not isinstance(account, dict):
            raise ChainError(f"{where} must be an object")
        balance = _get(account, "balance")
        if balance is None:
            raise ChainError(f"{where}: balance is missing (go-ethereum requires it)")
        balance = _uint(balance, f"{where}.balance", bits=256, text=True)
        nonce = _opt_uint(account, "nonce", where)
        code = _get(account, "code")
        code = b"" if code is None else _hex_bytes(code, f"{where}.code")
        storage = _get(account, "storage")
        root = EMPTY_ROOT
        if storage is not None:
            if not isinstance(storage, dict):
                raise ChainError(f"{where}.storage must be an object")
            slots = HexaryTrie({})
            for slot, value in storage.items():
                word = _word(value, f"{where}.storage[{slot[:66]}]").lstrip(b"\x00")
                if word:
                    slots[keccak256(_word(slot, f"{where}.storage"))] = rlp.encode(word)
            root = slots.root_hash
        state[keccak256(address)] = rlp.encode([nonce or 0, balance, root, keccak256(code) if code else EMPTY_CODE_HASH])
    return state.root_hash


def _active(config: dict, key: str, at: int) -> bool:
    """Whether fork ``key`` of ``config`` (a block or time) is at or before ``at``."""
    v = _get(config, key)
    return v is not None and isinstance(v, int) and not isinstance(v, bool) and v <= at


def genesis_block(path: str) -> tuple[bytes, bytes]:
    """The genesis block of go-ethereum genesis file ``path``: (header RLP, body RLP), built as
    the module docstring says; its hash is keccak256 of the header RLP.  Raises
    :class:`ChainError` for an unreadable file or a field of the wrong form."""
    doc = read_genesis(path)
    config = _get(doc, "config")
    number = _opt_uint(doc, "number", path) or 0
    time = _opt_uint(doc, "timestamp", path) or 0
    gas_limit = _opt_uint(doc, "gasLimit", path) or GENESIS_GAS_LIMIT
    mix = _get(doc, "mixHash")
    mix = bytes(32) if mix is None else _hex_bytes(mix, f"{path}: mixHash", 32)
    difficulty = _opt_uint(doc, "difficulty", path, bits=256)
    if difficulty is None:
        difficulty = GENESIS_DIFFICULTY if _get(config, "ethash") is not None and mix == bytes(32) else 0
    fixed = []
    for key, size, default in (("parentHash", 32, bytes(32)), ("coinbase", 20, bytes(20))):
        v = _get(doc, key)
        fixed.append(default if v is None else _hex_bytes(v, f"{path}: {key}", size))
    parent, coinbase = fixed
    extra = _get(doc, "extraData")
    extra = b"" if extra is None else _hex_bytes(extra, f"{path}: extraData")
    nonce = (_opt_uint(doc, "nonce", path) or 0).to_bytes(8, "big")
    header = [parent, EMPTY_UNCLE_HASH, coinbase, state_root(_get(doc, "alloc"), path), EMPTY_ROOT, EMPTY_ROOT,
              bytes(256), difficulty, number, gas_limit, _opt_uint(doc, "gasUsed", path) or 0, time, extra, mix,
              nonce]
    london = _active(config, "londonBlock", number)
    base_fee = _opt_uint(doc, "baseFeePerGas", path, bits=256)
    optional = [(base_fee if base_fee is not None else INITIAL_BASE_FEE) if london else base_fee]
    shanghai = london and _active(config, "shanghaiTime", time)
    optional.append(EMPTY_ROOT if shanghai else None)
    blob_used, excess = _opt_uint(doc, "blobGasUsed", path), _opt_uint(doc, "excessBlobGas", path)
    if london and _active(config, "cancunTime", time):
        optional += [blob_used or 0, excess or 0, bytes(32)]
    else:
        optional += [None, excess, None]  # go-ethereum keeps an excessBlobGas given early, for tests
    optional.append(EMPTY_REQUESTS_HASH if london and _active(config, "pragueTime", time) else None)
    if london and _active(config, "amsterdamTime", time):
        optional += [EMPTY_UNCLE_HASH, _opt_uint(doc, "slotNumber", path) or 0]
    while optional and optional[-1] is None:
        optional.pop()
    header += [b"" if v is None else v for v in optional]
    body = [[], [], []] if shanghai else [[], []]
    return rlp.encode(header), rlp.encode(body)
