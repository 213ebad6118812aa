"""The eth protocol classes, eth/68, eth/69 and eth/70, on a chain or without one
(devp2p caps/eth.md; go-ethereum eth/protocols/eth; EIP-7642 for eth/69, EIP-7975 for eth/70).

* Status is sent on start; the remote's must arrive within ``status_timeout_s`` (5 s,
  go-ethereum ``handshakeTimeout``), else READ_TIMEOUT.  With ``chain_file`` the chain is
  imported into SQLite (:mod:`protocols.eth.store`) and our head is its last block: Status
  carries its hash (eth/68 also the total difficulty), the fork id is computed at its number
  and time (EIP-2124), and from eth/69 on the block range is ``[0, head]`` with the head's
  hash.  Without a chain our head is the genesis block: the genesis fork id, which every node
  of the chain accepts as "syncing", and the range ``earliest 0, latest 0, latestHash genesis``.
  The remote's Status is checked by :func:`protocols.eth.handshake.status_error`; both sides'
  Status are published as ``eth_status`` protocol events.
* GetBlockHeaders and GetBlockBodies are answered from the chain as go-ethereum handlers.go
  does (:mod:`protocols.eth.serving`); the eth Protocol actor opens the database read-only.
* Other requests, and every request without a chain, get empty answers with their request
  id, in the version's layout (:func:`protocols.eth.messages.empty_response`):
  GetPooledTransactions (no pool), GetReceipts (no execution; eth/70: ``[id, false, []]``).
* Transactions (at most 5,000) and NewPooledTransactionHashes (three lists of one length) are
  checked as go-ethereum's handlers.go does, then ignored; responses are decoded and ignored.
* eth/69+: BlockRangeUpdate is validated as go-ethereum's handler does (earliest > latest or a
  zero hash disconnects) and kept for admin_peers; ours is sent by
  :meth:`EthProtocol69.update_block_range`.
* A code the version lacks (eth/69+: NewBlockHashes 0x01, NewBlock 0x07; all: 0x0b-0x0e), a
  payload over 10 MiB, a malformed message or anything before Status disconnect with
  SUBPROTOCOL_ERROR (go-ethereum ``errInvalidMsgCode``, ``errMsgTooLarge``, ``errDecode``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from discovery.enr import ForkId
from rlpx.disc import DiscReason
from rlpx.keys import keccak256

from ..api import Protocol
from ..forkid import ChainConfig, ForkIdError, fork_id, validate
from ..options import OptionError
from .chains import ChainError, chain_from_genesis, chain_from_option, parse_hash
from .genesis import genesis_block
from .serving import block_bodies, block_headers
from .store import ChainStore, ChainStoreError, default_db_path, ensure_imported
from .handshake import (STATUS_TIMEOUT_S, BlockRange, EthError, block_range_error, block_range_update_due,
                        status_error, status_json)
from .messages import (LENGTHS, MAX_MESSAGE_SIZE, MAX_TRANSACTIONS, MESSAGES_68, MESSAGES_69, MESSAGES_70,
                       BlockBodies, BlockHeaders, BlockRangeUpdate, EncodedResponse, ForkID, GetBlockBodies, GetBlockHeaders,
                       NewPooledTransactionHashes, Status, Status69, Transactions, empty_response)


@dataclass(frozen=True)
class EthOptions:
    """The eth protocols' options.

    * ``chain``: "mainnet" (the default), "sepolia", "hoodi", or a mapping
      (:func:`protocols.eth.chains.chain_from_option`);
    * ``genesis``: instead of ``chain``, a go-ethereum genesis.json (a path, relative to the
      config file); its genesis hash is ``genesis_hash`` (hex) if given, else block 1's parent
      hash in ``chain_file`` (a path to RLP blocks), else that of the block the file describes
      (:func:`protocols.eth.genesis.genesis_block`): :func:`protocols.eth.chains.chain_from_genesis`;
    * ``db``: with ``chain_file``, the SQLite database the chain file is imported into (a path,
      relative to the config file; default ``<chain_file>.sqlite`` beside it).  The import runs
      when the database is missing or holds another import; otherwise it is reused
      (:func:`protocols.eth.store.ensure_imported`);
    * ``status_timeout_s``: seconds to wait for the remote's Status (go-ethereum ``handshakeTimeout``).

    Raises :class:`protocols.options.OptionError` naming the option at fault (a broken or
    truncated chain file: ``chain_file``; a database that cannot be written: ``db``).  The chain
    is built (and its files read or imported) once per instance: :attr:`chain_config`,
    :attr:`chain_db`.
    """

    chain: object = None
    genesis: str = field(default="", metadata={"path": True})
    genesis_hash: str = ""
    chain_file: str = field(default="", metadata={"path": True})
    db: str = field(default="", metadata={"path": True})
    status_timeout_s: float = field(default=STATUS_TIMEOUT_S, metadata={"min": 0})

    def __post_init__(self):
        object.__setattr__(self, "_db", "")
        object.__setattr__(self, "_chain", self._build())
        if self.chain_file:
            object.__setattr__(self, "_db", self._import())
        elif self.db:
            raise OptionError("db", "only goes with `chain_file`")

    def _import(self) -> str:
        db = self.db or default_db_path(self.chain_file)
        try:
            meta = ensure_imported(self.chain_file, db, self._chain.genesis_td, self.genesis or None)
        except ChainStoreError as exc:
            msg = str(exc)
            if msg.startswith("genesis: "):
                raise OptionError("genesis", msg[len("genesis: "):]) from None
            raise OptionError("db" if "chain database" in msg else "chain_file", msg) from None
        if bytes.fromhex(meta["genesis_hash"]) != self._chain.genesis_hash:  # not when built from the same file
            raise OptionError("chain_file", f"chain database {db} holds another chain")
        return db

    def _build(self) -> ChainConfig:
        if not self.genesis:
            for key in ("genesis_hash", "chain_file"):
                if getattr(self, key):
                    raise OptionError(key, "only goes with `genesis`")
            try:
                return chain_from_option(self.chain)
            except ChainError as exc:
                raise OptionError("chain", str(exc)) from None
        if self.chain is not None:
            raise OptionError("chain", "give either `chain` or `genesis`, not both")
        if self.genesis_hash and self.chain_file:
            raise OptionError("genesis_hash", "give either `genesis_hash` or `chain_file`, not both")
        try:
            genesis_hash = parse_hash(self.genesis_hash, "genesis_hash") if self.genesis_hash else None
        except ChainError as exc:
            raise OptionError("genesis_hash", str(exc)) from None
        if genesis_hash is None and not self.chain_file:
            try:  # neither given: the hash of the block the file describes (go-ethereum Genesis.ToBlock)
                genesis_hash = keccak256(genesis_block(self.genesis)[0])
            except ChainError as exc:
                raise OptionError("genesis", str(exc)) from None
        try:
            return chain_from_genesis(self.genesis, genesis_hash, None if genesis_hash else self.chain_file)
        except ChainError as exc:
            raise OptionError("chain_file" if str(exc).startswith(("chain file", "cannot read chain file"))
                              else "genesis", str(exc)) from None

    @property
    def chain_config(self) -> ChainConfig:
        """The chain these options describe."""
        return self._chain

    @property
    def chain_db(self) -> str:
        """The imported chain database's path, or "" without ``chain_file``."""
        return self._db


def _head_of(options: EthOptions) -> tuple[int, int]:
    """Our head's (number, time): the chain database's head, or the genesis block without one.
    Raises :class:`protocols.eth.store.ChainStoreError` if the database cannot be read."""
    if not options.chain_db:
        return 0, options.chain_config.genesis_time
    store = ChainStore(options.chain_db)
    try:
        return store.head.number, store.head.time
    finally:
        store.close()


class EthProtocolBase(Protocol):
    """What every eth version shares; subclasses set ``VERSION``, ``LENGTH``, ``MESSAGES`` and
    build their Status in :meth:`local_status`."""

    NAME = "eth"
    Options = EthOptions

    @classmethod
    def enr_entries(cls, options: EthOptions) -> dict:
        """``{"eth": ForkId}``: the fork id at our head, as go-ethereum's eth/protocols/eth/
        discovery.go ``currentENREntry`` puts it in the record (EIP-868 ``[[hash, next]]``).
        Raises :class:`protocols.eth.store.ChainStoreError` if the chain database cannot be read."""
        number, time = _head_of(options)
        return {"eth": ForkId(*fork_id(options.chain_config, number, time))}

    @classmethod
    def node_info(cls, options: EthOptions) -> dict:
        """admin_nodeInfo ``protocols.eth`` as go-ethereum's eth/protocols/eth/handler.go
        ``NodeInfo`` has it: ``network`` (the network id), ``genesis`` and ``head`` (our head's
        hash: the chain database's head, or the genesis block without one).  go-ethereum's
        ``config`` (its params.ChainConfig) is not given: the options keep only the fork numbers.
        Raises :class:`protocols.eth.store.ChainStoreError` if the database cannot be read."""
        chain = options.chain_config
        head = chain.genesis_hash
        if options.chain_db:
            store = ChainStore(options.chain_db)
            try:
                head = store.head.hash
            finally:
                store.close()
        return {"network": chain.network_id, "genesis": "0x" + chain.genesis_hash.hex(), "head": "0x" + head.hex()}

    @classmethod
    def record_filter(cls, options: EthOptions):
        """Keep a found node only if its record has an ``eth`` entry whose fork id our chain
        accepts at our head (EIP-2124 rules, :func:`protocols.forkid.validate`), as go-ethereum's
        eth/protocols/eth/discovery.go ``NewNodeFilter``; a node without a record is not kept."""
        chain = options.chain_config
        head_number, head_time = _head_of(options)

        def accepts(record) -> bool:
            fid = getattr(record, "eth", None) if record is not None else None
            if fid is None:
                return False
            try:
                validate(chain, head_number, head_time, fid.hash, fid.next)
            except ForkIdError:
                return False
            return True

        return accepts

    def started(self):
        self._open_chain()
        self.remote_status = None
        self.local_status = self.local_status_message(ForkID(*fork_id(self.chain, self.head_number, self.head_time)))
        self.send(self.local_status)
        self.emit("eth_status", {"side": "local", **status_json(self.local_status)})
        self.after("status_timeout", self.options.status_timeout_s)

    def _open_chain(self) -> None:
        """Open the chain database read-only, if there is one, and take our head from it: number,
        hash, time (for the fork id, EIP-2124) and total difficulty (eth/68); else our head is
        the genesis block.  Idempotent."""
        if hasattr(self, "chain"):
            return
        self.chain = self.options.chain_config
        self.store = ChainStore(self.options.chain_db) if self.options.chain_db else None
        if self.store is not None:
            head = self.store.head
            self.head_number, self.head_time, self.head_hash, self.head_td = head.number, head.time, head.hash, head.td
        else:
            self.head_number, self.head_time = 0, self.chain.genesis_time
            self.head_hash, self.head_td = self.chain.genesis_hash, self.chain.genesis_td

    def stopped(self, reason):
        if getattr(self, "store", None) is not None:
            self.store.close()
            self.store = None

    def local_status_message(self, fid: ForkID):
        """Our Status message with fork id ``fid``."""
        raise NotImplementedError

    def receive(self, code, payload):
        if len(payload) > MAX_MESSAGE_SIZE:  # go-ethereum handler.go handleMessage, errMsgTooLarge
            raise EthError(f"message too long: {len(payload)} > {MAX_MESSAGE_SIZE} bytes")
        super().receive(code, payload)

    def on_unknown(self, code, payload):
        """A code below the length that this version has no message for (go-ethereum
        handler.go ``errInvalidMsgCode``)."""
        raise EthError(f"invalid message code {code:#04x} for eth/{self.version}")

    def on_timer(self, name):
        if name == "status_timeout" and self.running and self.remote_status is None:
            self.disconnect(DiscReason.READ_TIMEOUT, "no eth Status within the handshake timeout")

    def on_message(self, msg):
        """Responses: decoded (so malformed ones fail), then ignored."""
        self._need_status(msg)

    def _need_status(self, msg) -> None:
        if self.remote_status is None:
            raise EthError(f"first eth message must be Status, got {type(msg).__name__}")

    def _on_status(self, st) -> None:
        if self.remote_status is not None:
            raise EthError("second Status message")
        self.remote_status = st
        self.cancel("status_timeout")
        error = status_error(st, self.version, self.chain, self.head_number, self.head_time)
        view = {"side": "remote", **status_json(st), "accepted": error is None}
        if error:
            view["error"] = error
        self.emit("eth_status", view)
        if error:
            raise EthError(error)
        self.handshake_done()

    def handshake_done(self) -> None:
        """The remote's Status was accepted."""

    def on_Transactions(self, msg: Transactions):
        self._need_status(msg)
        if len(msg.value) > MAX_TRANSACTIONS:  # go-ethereum handlers.go handleTransactions
            raise EthError(f"too many transactions: {len(msg.value)} > {MAX_TRANSACTIONS}")

    def on_NewPooledTransactionHashes(self, msg: NewPooledTransactionHashes):
        self._need_status(msg)
        if not len(msg.types) == len(msg.sizes) == len(msg.hashes):
            # go-ethereum eth/protocols/eth/handlers.go handleNewPooledTransactionHashes
            raise EthError(f"NewPooledTransactionHashes: {len(msg.types)} types, {len(msg.sizes)} sizes, "
                           f"{len(msg.hashes)} hashes")

    def on_GetBlockHeaders(self, msg: GetBlockHeaders):
        self._need_status(msg)
        origin = msg.query.origin
        if len(origin) != 32 and (len(origin) > 8 or origin[:1] == b"\x00"):
            # go-ethereum eth/protocols/eth/protocol.go HashOrNumber.DecodeRLP
            raise EthError(f"GetBlockHeaders origin of {len(origin)} bytes")
        self._answer(msg)

    def on_GetBlockBodies(self, msg):
        self._need_status(msg)
        self._answer(msg)

    def on_GetPooledTransactions(self, msg):
        self._need_status(msg)
        self._answer(msg)

    def on_GetReceipts(self, msg):
        self._need_status(msg)
        self._answer(msg)

    def _answer(self, request) -> None:
        """Headers and bodies from the chain database (:mod:`protocols.eth.serving`, as
        go-ethereum handlers.go); everything else, and everything without a chain, is an empty
        answer with the request's id (no execution, so no receipts; no transaction pool)."""
        if self.store is not None and isinstance(request, GetBlockHeaders):
            q = request.query
            self.send(EncodedResponse(BlockHeaders, request.request_id,
                                      block_headers(self.store, q.origin, q.amount, q.skip, q.reverse)))
        elif self.store is not None and isinstance(request, GetBlockBodies):
            self.send(EncodedResponse(BlockBodies, request.request_id, block_bodies(self.store, request.hashes)))
        else:
            self.send(empty_response(request))


class EthProtocol68(EthProtocolBase):
    """eth/68: Status ``[version, networkid, td, blockhash, genesis, forkid]``, 17 codes."""

    VERSION, LENGTH = 68, LENGTHS[68]
    MESSAGES = MESSAGES_68

    def local_status_message(self, fid):
        c = self.chain
        return Status(self.version, c.network_id, self.head_td, self.head_hash, c.genesis_hash, fid)

    def on_Status(self, st: Status):
        self._on_status(st)

    def peer_info(self):
        """As go-ethereum v1.16 showed an eth/68 peer: version, difficulty (td) and head."""
        st = self.remote_status
        if st is None:
            return None
        return {"version": st.version, "difficulty": st.td, "head": "0x" + st.head.hex()}


class EthProtocol69(EthProtocolBase):
    """eth/69 (EIP-7642): the 7-field Status with a block range, BlockRangeUpdate (0x11), no
    NewBlockHashes or NewBlock; 18 codes."""

    VERSION, LENGTH = 69, LENGTHS[69]
    MESSAGES = MESSAGES_69

    def started(self):
        self._open_chain()
        self.block_range = BlockRange(0, self.head_number, self.head_hash)  # [0, head]; genesis without a chain
        self.announced = self.block_range
        self.remote_range: BlockRange | None = None
        super().started()

    def local_status_message(self, fid):
        r = self.block_range
        return Status69(self.version, self.chain.network_id, self.chain.genesis_hash, fid, r.earliest, r.latest,
                        r.latest_hash)

    def on_Status69(self, st: Status69):
        self._on_status(st)
        self.remote_range = BlockRange(st.earliest, st.latest, st.latest_hash)

    def handshake_done(self):
        self._announce_if_due()

    def on_BlockRangeUpdate(self, msg: BlockRangeUpdate):
        """Validated as go-ethereum handlers.go ``handleBlockRangeUpdate`` does, then kept."""
        self._need_status(msg)
        rng = BlockRange(msg.earliest, msg.latest, msg.latest_hash)
        why = block_range_error(rng)
        if why:
            raise EthError(f"invalid BlockRangeUpdate: {why}")
        self.remote_range = rng

    def update_block_range(self, earliest: int, latest: int, latest_hash: bytes) -> None:
        """Our served range is now ``earliest``..``latest`` (block numbers) with ``latest_hash``
        (32 bytes): announce it in a BlockRangeUpdate once the handshake is done and the update
        is due (latest moved 32 blocks on, or back: go-ethereum eth/handler.go ``shouldSend``).
        A chain-less node's range never changes; a node with chain data calls this on a new
        head.  Raises ValueError for a range go-ethereum would reject."""
        rng = BlockRange(earliest, latest, bytes(latest_hash))
        why = block_range_error(rng) or (None if len(rng.latest_hash) == 32 else "latest hash is not 32 bytes")
        if why:
            raise ValueError(f"invalid block range: {why}")
        self.block_range = rng
        if self.running and self.remote_status is not None:
            self._announce_if_due()

    def _announce_if_due(self) -> None:
        if block_range_update_due(self.announced, self.block_range):
            r = self.block_range
            self.send(BlockRangeUpdate(r.earliest, r.latest, r.latest_hash))
            self.announced = r

    def peer_info(self):
        """As go-ethereum's admin_peers shows an eth/69+ peer (eth/peer.go ``ethPeerInfo``): the
        version and the remote's latest block range."""
        if self.remote_status is None or self.remote_range is None:
            return None
        return {"version": self.version, **self.remote_range.json()}


class EthProtocol70(EthProtocol69):
    """eth/70 (EIP-7975): eth/69 with GetReceipts ``[id, firstBlockReceiptIndex, [hashes]]`` and
    Receipts ``[id, lastBlockIncomplete, [...]]``; 18 codes."""

    VERSION, LENGTH = 70, LENGTHS[70]
    MESSAGES = MESSAGES_70

    def on_GetReceipts70(self, msg):
        self._need_status(msg)
        self._answer(msg)


EthProtocol = EthProtocol68
"""eth/68 under its original name (configs and tests name ``protocols.eth.EthProtocol``)."""
