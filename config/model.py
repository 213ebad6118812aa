"""Typed, validated node configuration (frozen dataclasses, picklable).

Names follow go-ethereum's ``p2p.Config`` (p2p/config.go) in snake_case.  Defaults are
go-ethereum's: MaxPendingPeers 50 (p2p/server.go ``defaultMaxPendingPeers``), DialRatio 3
(``defaultDialRatio``), handshake 5 s, ping 15 s, read (idle) 30 s, write 20 s
(p2p/server.go, p2p/peer.go, p2p/transport.go), dial history 35 s (p2p/dial.go
``dialHistoryExpiration``), inbound throttle 30 s (p2p/server.go ``inboundThrottleTime``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

PERMANENT, TRANSIENT, TEMPORARY = "permanent", "transient", "temporary"
RESTART_TYPES = (PERMANENT, TRANSIENT, TEMPORARY)


@dataclass(frozen=True)
class RestartPolicy:
    """How one kind of child is restarted (Erlang/OTP supervisor child spec; applied by
    :class:`node.supervision.ChildSupervisor`).  ``restart`` is one of :data:`RESTART_TYPES`;
    defaults: OTP's intensity of 3 restarts in 5 s, backoff 0.1 s doubling to at most 5 s.
    Raises ValueError for values out of range."""

    restart: str = PERMANENT
    max_restarts: int = 3
    within_s: float = 5.0
    backoff_s: float = 0.1
    backoff_max_s: float = 5.0

    def __post_init__(self):
        if self.restart not in RESTART_TYPES:
            raise ValueError(f"restart must be one of {', '.join(RESTART_TYPES)}, got {self.restart!r}")
        if self.max_restarts < 0 or self.within_s <= 0 or self.backoff_s < 0 or self.backoff_max_s < 0:
            raise ValueError("max_restarts >= 0, within_s > 0, backoff_s >= 0 and backoff_max_s >= 0 required")


@dataclass(frozen=True)
class Timeouts:
    """Protocol timers in seconds."""

    handshake_s: float = 5.0
    ping_interval_s: float = 15.0
    idle_s: float = 30.0
    write_s: float = 20.0
    dial_s: float = 15.0
    dial_history_s: float = 35.0
    inbound_throttle_s: float = 30.0
    dial_backoff_max_s: float = 300.0
    disconnect_grace_s: float = 1.0


@dataclass(frozen=True)
class ProtocolConfig:
    """One subprotocol to run: ``name``/``version`` plus protocol-specific ``options``.

    ``length`` (message codes) and ``actor`` ("module.Class" of the :class:`protocols.api.Protocol`
    its Protocol actor hosts) default to the registered protocol's (:mod:`protocols.registry`);
    giving them runs any protocol class under another name/version/length, e.g. in tests.

    ``on_failure``: "disconnect" (go-ethereum: a failed protocol disconnects the peer with
    SUBPROTOCOL_ERROR) or "restart" (the Peer restarts the Protocol actor under ``restart``'s
    intensity and backoff, holding at most ``hold_max`` inbound messages for it meanwhile).

    ``options`` is a tuple of (key, value) pairs so the object stays hashable and picklable.
    """

    name: str
    version: int
    options: tuple = ()
    length: int | None = None
    actor: str | None = None
    on_failure: str = "disconnect"
    restart: RestartPolicy = field(default_factory=RestartPolicy)
    hold_max: int = 10000


@dataclass(frozen=True)
class SupervisionConfig:
    """The Server's children: Spawner, Listener, Dialer, Discovery and Http are permanent (OTP restart
    types); a Peer is temporary (its death is a dropped connection; the Spawner's takes all its Peers).  ``liveness_s``: interval of the liveness
    sweep that finds children whose ChildActorExited was lost (docs/thespian-facts.md §3)."""

    spawner: RestartPolicy = field(default_factory=RestartPolicy)
    listener: RestartPolicy = field(default_factory=RestartPolicy)
    dialer: RestartPolicy = field(default_factory=RestartPolicy)
    discovery: RestartPolicy = field(default_factory=RestartPolicy)
    http: RestartPolicy = field(default_factory=RestartPolicy)
    liveness_s: float = 1.0


@dataclass(frozen=True)
class NodeConfig:
    """One node.

    ``private_key`` is 32 raw bytes; ``listen_host``/``listen_port`` the devp2p TCP listener
    (port 0 = pick a free one); peers in ``static_nodes``, ``trusted_nodes`` and
    ``dial_candidates`` are enode URL strings; ``net_restrict`` CIDR strings (empty = allow all).

    Discovery (discv4; go-ethereum ``p2p.Config``):

    ``discovery``: run discv4 (go-ethereum ``NoDiscovery``, inverted).  The dataclass default is
    False, so a NodeConfig built in code (most tests) opens no UDP socket; the YAML loader's
    default is True, go-ethereum's (``NoDiscovery`` false).

    ``bootstrap_nodes``: go-ethereum ``BootstrapNodes``, each an ``enode://`` URL (normalised by
    :meth:`rlpx.enode.Enode.url`) or an ``enr:`` record text (EIP-778, kept as the record, which
    need not have a TCP port); the loader checks each has a UDP port (an enode's ``discport``
    or port, a record's ``udp``/``udp6``).

    ``discovery_port``: the UDP port, 0 = the TCP listen port (go-ethereum ``--discovery.port``,
    the enode's ``discport``).

    ``node_db``: absolute path of the SQLite node database (:mod:`actors.io.nodedb`; go-ethereum
    ``NodeDatabase``); None = kept in memory only, as go-ethereum does for an empty path.

    ``nat_ip``: the IP address our ENR and enode advertise (go-ethereum ``--nat extip:<IP>``);
    None = ``nat: none``, the listen address.

    ``http_host`` / ``http_port``: the HTTP endpoint of JSON-RPC (admin_*, net_*, web3_*),
    ``/metrics`` and ``/health`` (docs/operators.md; geth ``--http.addr``/``--http.port``);
    ``http_port`` None = off, the default, 0 = pick a free port.

    ``host``: the name of the host this node runs on, one of the file's ``hosts:``
    (:class:`config.loader.HostConfig`); None when the file has no ``hosts:`` section, a
    single-host deployment.  With a host, ``listen_host`` is that host's address or a wildcard.
    """

    name: str
    private_key: bytes = field(repr=False)  # never in a log line (Thespian logs str(message))
    listen_host: str = "127.0.0.1"
    listen_port: int = 30303
    max_peers: int = 50
    max_pending_peers: int = 50
    dial_ratio: int = 3
    no_dial: bool = False
    no_listen: bool = False
    static_nodes: tuple[str, ...] = ()
    trusted_nodes: tuple[str, ...] = ()
    dial_candidates: tuple[str, ...] = ()
    net_restrict: tuple[str, ...] = ()
    protocols: tuple[ProtocolConfig, ...] = ()
    timeouts: Timeouts = field(default_factory=Timeouts)
    enable_msg_events: bool = False
    supervision: SupervisionConfig = field(default_factory=SupervisionConfig)
    discovery: bool = False
    bootstrap_nodes: tuple[str, ...] = ()
    discovery_port: int = 0
    node_db: str | None = None
    nat_ip: str | None = None
    http_host: str = "127.0.0.1"
    http_port: int | None = None
    host: str | None = None

    def max_dialed_conns(self) -> int:
        """go-ethereum p2p/server.go ``maxDialedConns``: max_peers / dial_ratio, at least 1; 0 with no_dial."""
        if self.no_dial or self.max_peers == 0:
            return 0
        return max(1, self.max_peers // (self.dial_ratio or 3))

    def max_inbound_conns(self) -> int:
        """go-ethereum ``maxInboundConns``: max_peers - max_dialed_conns."""
        return self.max_peers - self.max_dialed_conns()
