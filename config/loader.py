"""YAML node files -> validated :class:`config.model.NodeConfig` objects.

Everything is checked before anything starts; the first problem raises :class:`ConfigError`
naming the key's path (``nodes[1].static_nodes[0]``) and the reason.  Keys follow
go-ethereum's ``p2p.Config`` (p2p/config.go) in snake_case; every key is documented in the
README.  YAML is read by :func:`config.yaml_reader.read_yaml` (PyYAML's SafeLoader; a key
given twice in one mapping is an error).

File shape::

    actor_system: {admin_port: 19001, bind: 127.0.0.1}
    nodes:                      # or `node:` for a single node
      - name: alpha
        key_file: data/alpha.key
        listen_addr: 127.0.0.1:30303
        ...

Relative ``key_file`` and ``node_db`` paths are resolved against ``base_dir`` (the config
file's directory, or the working directory for the built-in default).

Discovery keys (go-ethereum ``p2p.Config`` and geth's flags): ``discovery`` (default true:
``NoDiscovery`` false), ``bootstrap_nodes`` (``BootstrapNodes``), ``discovery_port`` (0 = the
TCP port; ``--discovery.port``), ``node_db`` (``NodeDatabase``; default
``data/<name>.nodes.sqlite``, beside the default key file ``data/<name>.key``) and ``nat``
(``none`` or ``extip:<IP>``, go-ethereum p2p/nat/nat.go ``Parse``).

``http: {addr: 127.0.0.1:8545}`` serves JSON-RPC, ``/metrics`` and ``/health`` (off when
absent or null; docs/operators.md); its TCP port may not be another node's listen or HTTP port.

Multi-host deployments (issue 22) add a ``hosts:`` section, each node naming its host::

    hosts:
      a: {address: 10.1.0.1}                    # an IP address of that host
      b: {address: 10.1.0.2, admin_port: 19002} # default: actor_system.admin_port
    actor_system: {admin_port: 19001, leader: a} # leader default: the first host; no `bind`
    nodes:
      - {name: n1, host: a}                      # listen_addr default: 10.1.0.1:30303

With hosts, a node listens on its host's address or a wildcard, a bare-name reference to a
node dials its host's address, and ports need only be distinct among the nodes of one host.
A file without ``hosts:`` means one host, as before, and its nodes may not give ``host``.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import math
import os
from dataclasses import dataclass, fields

from discovery.enr import RecordError, parse_text
from discovery.node_url import parse_node_url
from protocols.options import OptionError, build_options, resolve_paths
from protocols.registry import UnknownProtocolError, load_class, registered, resolve
from rlpx.enode import Enode
from rlpx.errors import EnodeError, KeyFileError
from rlpx.keys import generate_private_key, load_key_file, load_or_create_key_file, node_id_from_private_key

from .errors import ConfigError
from .errors import show_value as _show
from .model import RESTART_TYPES, NodeConfig, ProtocolConfig, RestartPolicy, SupervisionConfig, Timeouts
from .yaml_reader import read_yaml

DEFAULT_ADMIN_PORT = 19001
"""Thespian admin port used when the file does not set ``actor_system.admin_port``."""

DEFAULT_CONFIG = os.path.join(os.path.dirname(os.path.abspath(__file__)), "default.yaml")
"""The built-in configuration run by ``run_node.py`` without ``--config``."""


DEFAULT_LISTEN_PORT = 30303
"""devp2p TCP port of a node that does not set ``listen_addr`` (go-ethereum's default)."""


@dataclass(frozen=True)
class ActorSystemConfig:
    """``admin_port`` for Thespian's admin; ``bind`` the address every Thespian socket listens on;
    ``allow``: the networks (normalised CIDR strings, from IPs or CIDRs) whose connections an actor
    port accepts besides this host's own uid (docs/security.md).

    ``leader``: with a ``hosts:`` section, the name of the host whose actor system is the
    convention leader (the first host of the file unless given); None without hosts.  With
    hosts ``bind`` is left at its default and not used: each host's actor system binds to its
    :attr:`HostConfig.address`."""

    admin_port: int = DEFAULT_ADMIN_PORT
    bind: str = "127.0.0.1"
    allow: tuple = ()
    leader: str | None = None


@dataclass(frozen=True)
class HostConfig:
    """One entry of ``hosts:``: a machine that runs an actor system and some of the nodes.

    ``name``: the key in ``hosts:``, which nodes give as ``host``; ``address``: that host's IP
    address (v4 or v6, in ``ipaddress``'s normal text form), where its actor system binds and
    where nodes of other hosts dial its nodes; ``admin_port``: its Thespian admin TCP port
    (1-65535; default ``actor_system.admin_port``)."""

    name: str
    address: str
    admin_port: int = DEFAULT_ADMIN_PORT


@dataclass(frozen=True)
class LaunchConfig:
    """A whole file: the actor system settings and the nodes to launch together.

    ``hosts``: the ``hosts:`` section in file order, empty for a single-host file; then every
    node's :attr:`NodeConfig.host` names one of them."""

    actor_system: ActorSystemConfig
    nodes: tuple[NodeConfig, ...]
    hosts: tuple[HostConfig, ...] = ()

    @property
    def multi_host(self) -> bool:
        """True if the file has a ``hosts:`` section (its nodes run on several machines)."""
        return bool(self.hosts)

    def host(self, name: str) -> HostConfig:
        """The host called ``name``.  Raises ConfigError (path ``--host``), listing the host
        names, if there is none (always, in a file without ``hosts:``)."""
        for h in self.hosts:
            if h.name == name:
                return h
        have = ", ".join(h.name for h in self.hosts) or "none: the file has no `hosts:` section"
        raise ConfigError("--host", f"no host named {name!r} (have: {have})")

    def leader_host(self) -> HostConfig | None:
        """The convention leader's host (``actor_system.leader``); None in a single-host file."""
        return self.host(self.actor_system.leader) if self.hosts else None

    def nodes_on(self, host_name: str) -> tuple[NodeConfig, ...]:
        """The nodes that run on host ``host_name``, in file order (possibly none).  Raises
        ConfigError as :meth:`host` for a name that is not a host of the file."""
        self.host(host_name)
        return tuple(n for n in self.nodes if n.host == host_name)

    def trusted_networks(self) -> tuple[str, ...]:
        """The networks an actor port accepts connections from besides this host's own uid:
        ``actor_system.allow`` followed by every host's address as a one-address CIDR string
        (``10.1.0.1/32``, ``fd00::1/128``), first occurrence kept, no repeats."""
        nets = list(self.actor_system.allow)
        for h in self.hosts:
            nets.append(str(ipaddress.ip_network(h.address.partition("%")[0])))  # no zone in a network
        return tuple(dict.fromkeys(nets))

    def node(self, name: str | None) -> NodeConfig:
        """The node called ``name`` (the only one when None); raises ConfigError."""
        if name is None:
            if len(self.nodes) != 1:
                raise ConfigError("--node", f"the file has {len(self.nodes)} nodes: "
                                  + ", ".join(n.name for n in self.nodes))
            return self.nodes[0]
        for n in self.nodes:
            if n.name == name:
                return n
        raise ConfigError("--node", f"no node named {name!r} (have: {', '.join(n.name for n in self.nodes)})")


MAX_NAME_BYTES = 1024
"""Longest node ``name`` (the Hello client id), bytes: go-ethereum peers (and this node) reject a
Hello over 2 KiB (p2p/peer.go ``baseProtocolMaxMsgSize``), and the capabilities need room too."""


def _plain_file_name(name: str) -> bool:
    """True if ``name`` can be used as a file name as it is: no directory part, no leading dot."""
    return name[:1].isalnum() and name.isascii() and all(c.isalnum() or c in "-_." for c in name)


_NODE_KEYS = {"name", "key_file", "listen_addr", "max_peers", "max_pending_peers", "dial_ratio", "no_dial",
              "static_nodes", "trusted_nodes", "dial_candidates", "net_restrict", "protocols", "timeouts",
              "enable_msg_events", "supervision", "discovery", "bootstrap_nodes", "discovery_port", "node_db",
              "nat", "http", "host"}
_POLICY_KEYS = {"restart", "max_restarts", "within_s", "backoff_s", "backoff_max_s"}
_PROTO_SUPERVISION_KEYS = {"on_failure", "max_restarts", "within_s", "backoff_s", "backoff_max_s", "hold_max"}
_TIMEOUT_KEYS = {f.name for f in fields(Timeouts)}


def _type_name(t) -> str:
    return {bool: "a boolean", int: "an integer", str: "a string", float: "a number", list: "a list",
            dict: "a mapping"}.get(t, str(t))


MAX_SECONDS = 1e9
"""Largest number accepted where the config wants a number (every one is a duration in seconds,
~31 years): larger ones overflow the timers (``timedelta``) or ``float()`` itself."""


def _want(value, t, path):
    if t is float:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        if ok and not (isinstance(value, int) or math.isfinite(value)):
            raise ConfigError(path, f"must be a finite number, got {value}")
        if ok and abs(value) > MAX_SECONDS:
            raise ConfigError(path, f"must be at most {MAX_SECONDS:.0e}, got {_show(value)}")
    elif t is int:
        ok = isinstance(value, int) and not isinstance(value, bool)
    else:
        ok = isinstance(value, t)
    if not ok:
        raise ConfigError(path, f"must be {_type_name(t)}, got {type(value).__name__} {_show(value)}")
    return value


def _int(value, path, lo=None, hi=None) -> int:
    _want(value, int, path)
    if lo is not None and value < lo:
        raise ConfigError(path, f"must be >= {lo}, got {_show(value)}")
    if hi is not None and value > hi:
        raise ConfigError(path, f"must be <= {hi}, got {_show(value)}")
    return value


def _key(path: str, k) -> str:
    """The path of key ``k`` under ``path``; a key that is not a plain non-empty string is shown
    as its (short) repr, so an empty or odd key still gives a visible path."""
    name = k if isinstance(k, str) and k and k.isprintable() else _show(k)
    return f"{path}.{name}" if path else name


def _unknown(d: dict, allowed: set, path: str):
    for k in d:
        if k not in allowed:
            raise ConfigError(_key(path, k), f"unknown key (allowed: {', '.join(sorted(allowed))})")


def _host_port(value, path) -> tuple[str, int]:
    _want(value, str, path)
    host, sep, port = value.rpartition(":")
    # isascii: str.isdigit accepts e.g. "³", which int() rejects; <= 5 digits: int() refuses
    # strings of over 4,300 digits, and no port has more than 5
    if not sep or not (port.isascii() and port.isdigit() and len(port) <= 5):
        raise ConfigError(path, f"must be host:port with a port of 0-65535, got {_show(value)}")
    host = host.strip("[]") or "0.0.0.0"
    try:
        ipaddress.ip_address(host)
    except ValueError:
        raise ConfigError(path, f"invalid IP address {_show(host)}") from None
    return host, _int(int(port), path, 0, 65535)


NAT_UNSUPPORTED = ("any", "auto", "on", "upnp", "pmp", "natpmp", "nat-pmp", "stun")
"""go-ethereum p2p/nat/nat.go ``Parse`` mechanisms that this node does not implement (it has no
UPnP, NAT-PMP or STUN client): only ``none`` (``off``, "") and ``extip:<IP>`` (``ip:<IP>``)."""


def _nat(value, path) -> str | None:
    """``nat``: None for none/off/"" (and YAML's ``off``/``false``, which PyYAML reads as False),
    else the IP of ``extip:<IP>`` in its normal text form.  Mechanism names are not
    case-sensitive, as in go-ethereum p2p/nat/nat.go ``Parse``.  Raises ConfigError."""
    if value is None or value is False:
        return None
    _want(value, str, path)
    mech, sep, ip_text = value.partition(":")
    mech = mech.lower()
    if mech in ("", "none", "off") and not sep:
        return None
    if mech in ("extip", "ip"):
        if not ip_text:
            raise ConfigError(path, f"missing IP address: use extip:<IP>, got {_show(value)}")
        try:
            ip = ipaddress.ip_address(ip_text)
        except ValueError:
            raise ConfigError(path, f"invalid IP address {_show(ip_text)}") from None
        if ip.is_unspecified or ip.is_multicast:
            raise ConfigError(path, f"{ip} cannot be advertised as our address")
        return str(ip)
    if mech in NAT_UNSUPPORTED:
        raise ConfigError(path, f"{_show(value)} is not supported: use none or extip:<IP>")
    raise ConfigError(path, f"unknown mechanism {_show(mech)}: use none or extip:<IP>")


def _bootstrap_url(value, path) -> str:
    """One ``bootstrap_nodes`` entry that is a URL: an ``enode://`` URL (parsed by
    :func:`discovery.node_url.parse_node_url`, returned as :meth:`Enode.url`) or an ``enr:``
    record (returned as its text).  It must have a UDP port, since discovery speaks UDP: an
    enode's ``discport`` or else its port; a record's ``udp`` with ``ip``, or ``udp6`` (else
    ``udp``) with ``ip6`` (EIP-778; a record needs no TCP port for this).  Raises ConfigError."""
    if value.startswith("enr:"):
        try:
            record = parse_text(value)
            ok = ((record.ip is not None and record.udp)
                  or (record.ip6 is not None and (record.udp6 if record.udp6 is not None else record.udp)))
        except RecordError as exc:
            raise ConfigError(path, f"invalid enr: {exc}") from None
        if not ok:
            raise ConfigError(path, "the record has no IP address and UDP port for discovery (ip and udp, or ip6 "
                                    "and udp6)")
        return record.text()
    try:
        enode = parse_node_url(value)
    except EnodeError as exc:
        raise ConfigError(path, str(exc)) from None
    if enode.udp_port == 0:
        raise ConfigError(path, "the enode URL has no UDP port (discport or port 0): discovery speaks UDP")
    return enode.url()


def load_file(path: str, create_keys: bool = True) -> LaunchConfig:
    """Read and validate a YAML config file.  Raises :class:`ConfigError` (unreadable file,
    bad YAML, or any invalid key).  ``create_keys``: create missing key files (only for running
    the nodes; otherwise a missing key file stands for a key never written anywhere)."""
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except OSError as exc:
        raise ConfigError("", f"cannot read config file {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise ConfigError("", f"cannot read config file {path}: not UTF-8 text (byte {exc.start})") from None
    base = os.path.dirname(os.path.abspath(path))
    return load_text(text, base_dir=base, source=path, create_keys=create_keys)


def load_default(base_dir: str | None = None, create_keys: bool = True) -> LaunchConfig:
    """The built-in default config; key files go under ``base_dir`` (default: working directory)."""
    with open(DEFAULT_CONFIG, encoding="utf-8") as f:
        return load_text(f.read(), base_dir=base_dir or os.getcwd(), source=DEFAULT_CONFIG, create_keys=create_keys)


def load_text(text: str, base_dir: str, source: str = "<config>", create_keys: bool = True) -> LaunchConfig:
    """Parse YAML ``text`` and validate it; relative key files resolve against ``base_dir``."""
    return parse(read_yaml(text, source), base_dir, create_keys)


def parse(doc, base_dir: str, create_keys: bool = True) -> LaunchConfig:
    """Validate an already-parsed document (dicts and lists).  Raises :class:`ConfigError`.
    ``create_keys`` as for :func:`load_file`."""
    if not isinstance(doc, dict):
        raise ConfigError("", "the config must be a mapping with `nodes:` (or `node:`)")
    _unknown(doc, {"hosts", "actor_system", "nodes", "node"}, "")
    raw_asys = doc.get("actor_system")
    multi = "hosts" in doc
    asys = _actor_system({} if raw_asys is None else raw_asys, multi)
    hosts: dict[str, HostConfig] = _hosts(doc["hosts"], asys.admin_port) if multi else {}
    if multi:
        asys = dataclasses.replace(asys, leader=_leader(asys.leader, hosts))
    if "nodes" in doc and "node" in doc:
        raise ConfigError("node", "give either `node:` or `nodes:`, not both")
    if "node" in doc:
        raw_nodes, list_path = [doc["node"]], None
    elif "nodes" in doc:
        raw_nodes, list_path = _want(doc["nodes"], list, "nodes"), "nodes"
    else:
        raise ConfigError("nodes", "missing: the file must describe at least one node")
    if not raw_nodes:
        raise ConfigError("nodes", "must list at least one node")

    def npath(i):
        return f"{list_path}[{i}]" if list_path else "node"

    # first pass: names, keys, hosts, listen addresses (bare-name references need them)
    firsts = []
    on_host: list[HostConfig | None] = []
    names: dict[str, int] = {}
    ports: dict[tuple, str] = {}
    udp_ports: dict[tuple, str] = {}
    db_paths: dict[str, str] = {}
    discs = []
    for i, raw in enumerate(raw_nodes):
        p = npath(i)
        _want(raw, dict, p)
        _unknown(raw, _NODE_KEYS, p)
        if "name" not in raw:
            raise ConfigError(f"{p}.name", "missing")
        name = _want(raw["name"], str, f"{p}.name")
        if not name.strip():
            raise ConfigError(f"{p}.name", "must not be empty")
        try:
            size = len(name.encode("utf-8"))  # the Hello carries it as UTF-8 (rlpx/base_protocol.py)
        except UnicodeEncodeError:
            raise ConfigError(f"{p}.name", f"{_show(name)} is not valid Unicode text (a lone surrogate)") from None
        if size > MAX_NAME_BYTES:
            raise ConfigError(f"{p}.name", f"must be at most {MAX_NAME_BYTES} bytes (UTF-8), got {size}")
        if name in names:
            raise ConfigError(f"{p}.name", f"duplicate node name {_show(name)} (also nodes[{names[name]}])")
        names[name] = i
        if "key_file" not in raw and not _plain_file_name(name):
            raise ConfigError(f"{p}.name", f"{_show(name)} cannot name the default key file data/<name>.key "
                                           "(only letters, digits, '-', '_' and '.', not first); give key_file")
        key_path = raw.get("key_file", os.path.join("data", f"{name}.key"))
        _want(key_path, str, f"{p}.key_file")
        full_key = key_path if os.path.isabs(key_path) else os.path.join(base_dir, key_path)
        try:
            if create_keys:
                key = load_or_create_key_file(full_key)
            elif os.path.exists(full_key):
                key = load_key_file(full_key)
            else:
                key = generate_private_key()  # in memory only: this node has never run here
        except KeyFileError as exc:
            raise ConfigError(f"{p}.key_file", str(exc)) from None
        runs_on = _node_host(raw, p, hosts) if multi else None
        if runs_on is None and "host" in raw:
            raise ConfigError(f"{p}.host", "`host:` needs a `hosts:` section naming the hosts")
        on_host.append(runs_on)
        if "listen_addr" not in raw and runs_on is not None:
            host, port, no_listen = runs_on.address, DEFAULT_LISTEN_PORT, False
        else:
            listen = raw.get("listen_addr", f"127.0.0.1:{DEFAULT_LISTEN_PORT}")
            if listen in ("", None):
                host, port, no_listen = "127.0.0.1", 0, True
            else:
                host, port = _host_port(listen, f"{p}.listen_addr")
                no_listen = False
                if runs_on is not None:
                    _check_on_host(host, runs_on, name, f"{p}.listen_addr")
        # where a port is taken: a host of `hosts:` (any two of its nodes clash), else a listen IP
        where = runs_on.name if runs_on is not None else None
        if not no_listen and port != 0:
            other = _port_user(ports, host, where, port)
            if other is not None:
                raise ConfigError(f"{p}.listen_addr", f"port {port} is also used by node {other!r}")
            ports[(where or host, port)] = name
        disc_on = _want(raw.get("discovery", True), bool, f"{p}.discovery")
        disc_port = _int(raw.get("discovery_port", 0), f"{p}.discovery_port", 0, 65535)
        udp = disc_port or port
        if disc_on and udp != 0:
            other = _port_user(udp_ports, host, where, udp)
            if other is not None:
                raise ConfigError(f"{p}.discovery_port" if disc_port else f"{p}.listen_addr",
                                  f"UDP port {udp} (discovery) is also used by node {other!r}")
            udp_ports[(where or host, udp)] = name
        if "node_db" in raw and raw["node_db"] in (None, ""):
            node_db = None  # in memory, as go-ethereum's empty NodeDatabase
        elif "node_db" in raw:
            db_path = _want(raw["node_db"], str, f"{p}.node_db")
            node_db = os.path.normpath(db_path if os.path.isabs(db_path) else os.path.join(base_dir, db_path))
            if os.path.isdir(node_db):
                raise ConfigError(f"{p}.node_db", f"{_show(db_path)} is a directory")
        elif _plain_file_name(name):
            node_db = os.path.normpath(os.path.join(base_dir, "data", f"{name}.nodes.sqlite"))
        elif disc_on:
            raise ConfigError(f"{p}.name", f"{_show(name)} cannot name the default node database "
                                           "data/<name>.nodes.sqlite; give node_db (or discovery: false)")
        else:
            node_db = None
        if disc_on and node_db is not None:
            if node_db in db_paths:
                raise ConfigError(f"{p}.node_db", f"{_show(node_db)} is also the node database of node "
                                                  f"{db_paths[node_db]!r}")
            db_paths[node_db] = name
        firsts.append((name, key, host, port, no_listen))
        discs.append((disc_on, disc_port, node_db))

    def resolve_ref(value, path) -> str:
        _want(value, str, path)
        if value.startswith(("enode://", "enr:")):  # a record is kept as the enode URL it dials
            try:
                return parse_node_url(value).url()
            except EnodeError as exc:
                raise ConfigError(path, str(exc)) from None
        if value in names:
            name, key, host, port, no_listen = firsts[names[value]]
            if no_listen or port == 0:
                raise ConfigError(path, f"node {_show(value)} has no fixed listen port to dial")
            dial_host = _dial_host(host, on_host[names[value]])
            return Enode(node_id_from_private_key(key), dial_host, port, port).url()
        raise ConfigError(path, f"{_show(value)} is neither an enode:// URL, an enr: record nor the name of a "
                                "node in this file")

    def resolve_bootstrap(value, path, own_name) -> str:
        """A bootstrap node: a URL (:func:`_bootstrap_url`) or the name of another node of this
        file with discovery on, as the enode URL of its UDP port (discovery_port, else its TCP
        listen port)."""
        _want(value, str, path)
        if value.startswith(("enode://", "enr:")):
            return _bootstrap_url(value, path)
        if value in names:
            name, key, host, port, no_listen = firsts[names[value]]
            disc_on, disc_port, _ = discs[names[value]]
            if name == own_name:
                raise ConfigError(path, "a node cannot be its own bootstrap node")
            if not disc_on:
                raise ConfigError(path, f"node {_show(value)} has discovery off")
            if not (disc_port or port):
                raise ConfigError(path, f"node {_show(value)} has no fixed UDP port (give it discovery_port)")
            dial_host = _dial_host(host, on_host[names[value]])
            return Enode(node_id_from_private_key(key), dial_host, port, disc_port or port).url()
        raise ConfigError(path, f"{_show(value)} is neither an enode:// URL, an enr: record nor the name of a "
                                "node in this file")

    nodes = []
    for i, raw in enumerate(raw_nodes):
        p = npath(i)
        name, key, host, port, no_listen = firsts[i]
        kw = dict(name=name, private_key=key, listen_host=host, listen_port=port, no_listen=no_listen)
        if on_host[i] is not None:
            kw["host"] = on_host[i].name
        kw["discovery"], kw["discovery_port"], kw["node_db"] = discs[i]
        if "bootstrap_nodes" in raw:
            items = _want(raw["bootstrap_nodes"] if raw["bootstrap_nodes"] is not None else [], list,
                          f"{p}.bootstrap_nodes")
            kw["bootstrap_nodes"] = tuple(resolve_bootstrap(v, f"{p}.bootstrap_nodes[{j}]", name)
                                          for j, v in enumerate(items))
        if "nat" in raw:
            kw["nat_ip"] = _nat(raw["nat"], f"{p}.nat")
        if raw.get("http") is not None:
            kw["http_host"], kw["http_port"] = _http(raw["http"], f"{p}.http", ports, name,
                                                     on_host[i].name if on_host[i] is not None else None)
        if "max_peers" in raw:
            kw["max_peers"] = _int(raw["max_peers"], f"{p}.max_peers", 0)
        if "max_pending_peers" in raw:
            kw["max_pending_peers"] = _int(raw["max_pending_peers"], f"{p}.max_pending_peers", 1)
        if "dial_ratio" in raw:
            kw["dial_ratio"] = _int(raw["dial_ratio"], f"{p}.dial_ratio", 1)
        for flag in ("no_dial", "enable_msg_events"):
            if flag in raw:
                kw[flag] = _want(raw[flag], bool, f"{p}.{flag}")
        for key_name in ("static_nodes", "trusted_nodes", "dial_candidates"):
            if key_name in raw:
                items = _want(raw[key_name] if raw[key_name] is not None else [], list, f"{p}.{key_name}")
                kw[key_name] = tuple(resolve_ref(v, f"{p}.{key_name}[{j}]") for j, v in enumerate(items))
        if "net_restrict" in raw:
            items = _want(raw["net_restrict"] if raw["net_restrict"] is not None else [], list, f"{p}.net_restrict")
            nets = []
            for j, v in enumerate(items):
                _want(v, str, f"{p}.net_restrict[{j}]")
                try:
                    nets.append(str(ipaddress.ip_network(v, strict=False)))
                except ValueError:
                    raise ConfigError(f"{p}.net_restrict[{j}]", f"invalid CIDR {_show(v)}") from None
            kw["net_restrict"] = tuple(nets)
        if "timeouts" in raw:
            t = _want(raw["timeouts"], dict, f"{p}.timeouts")
            _unknown(t, _TIMEOUT_KEYS, f"{p}.timeouts")
            vals = {}
            for k, v in t.items():
                _want(v, float, f"{p}.timeouts.{k}")
                if v <= 0:
                    raise ConfigError(f"{p}.timeouts.{k}", f"must be > 0, got {v}")
                vals[k] = float(v)
            kw["timeouts"] = Timeouts(**vals)
        if "supervision" in raw:
            kw["supervision"] = _supervision(raw["supervision"], f"{p}.supervision")
        kw["protocols"] = _protocols(raw.get("protocols", [{"name": "test", "version": 1}]), f"{p}.protocols",
                                     base_dir)
        nodes.append(NodeConfig(**kw))
    return LaunchConfig(asys, tuple(nodes), tuple(hosts.values()))


def _policy(raw: dict, path: str, allowed: set, base: RestartPolicy | None = None) -> RestartPolicy:
    """A RestartPolicy from the keys of ``raw`` that are in ``_POLICY_KEYS``."""
    vals = {}
    for k in sorted(set(raw) & _POLICY_KEYS & allowed):
        v = raw[k]
        if k == "restart":
            _want(v, str, f"{path}.{k}")
            if v not in RESTART_TYPES:
                raise ConfigError(f"{path}.{k}", f"must be one of {', '.join(RESTART_TYPES)}, got {_show(v)}")
        elif k == "max_restarts":
            _int(v, f"{path}.{k}", 0)
        else:
            _want(v, float, f"{path}.{k}")
            if v < 0 or (k == "within_s" and v == 0):
                raise ConfigError(f"{path}.{k}", f"must be {'> 0' if k == 'within_s' else '>= 0'}, got {v}")
        vals[k] = v
    return RestartPolicy(**vals)


def _http(raw, path: str, ports: dict, name: str, where: str | None = None) -> tuple[str, int]:
    """``http: {addr: host:port}`` -> (host, port); the TCP port is recorded in ``ports`` (also
    the listen ports) so that no two endpoints of the file share one (of one host of
    ``hosts:`` when ``where`` names it, see :func:`_port_user`).  Raises ConfigError."""
    _want(raw, dict, path)
    _unknown(raw, {"addr"}, path)
    if "addr" not in raw:
        raise ConfigError(f"{path}.addr", "is required (host:port, e.g. 127.0.0.1:8545)")
    host, port = _host_port(raw["addr"], f"{path}.addr")
    if port != 0:
        other = _port_user(ports, host, where, port)
        if other is not None:
            raise ConfigError(f"{path}.addr", f"port {port} is also used by node {other!r}")
        ports[(where or host, port)] = name
    return host, port


def _port_user(ports: dict, ip: str, where: str | None, port: int) -> str | None:
    """The node that already holds ``port`` in ``ports`` ({(where, port): node name}), or None.

    Without ``hosts:`` (``where`` None) a port is held per listen IP, a wildcard (0.0.0.0, ::)
    overlapping every IP.  With ``hosts:``, ``where`` is the host's name and the table is keyed
    by host names: on one host every node listens on its address or a wildcard, so any two of
    its nodes on one port clash, while nodes on different hosts never do."""
    for (h, pt), other in ports.items():
        if pt != port:
            continue
        if where is not None:
            if h == where:
                return other
        elif h == ip or "0.0.0.0" in (h, ip) or "::" in (h, ip):
            return other
    return None


def _dial_host(listen_ip: str, runs_on: HostConfig | None) -> str:
    """The IP address other nodes of the file dial to reach a node listening on ``listen_ip``:
    its host's address with ``hosts:`` (the listen IP is that address or a wildcard), else the
    listen IP, or 127.0.0.1 for a wildcard."""
    if runs_on is not None:
        return runs_on.address
    return "127.0.0.1" if listen_ip in ("0.0.0.0", "::") else listen_ip


_HOST_KEYS = {"address", "admin_port"}


def _hosts(raw, default_admin_port: int) -> dict[str, HostConfig]:
    """The ``hosts:`` section -> {name: HostConfig}, in file order.  Raises ConfigError: not a
    non-empty mapping, a name that is not a non-empty string, an entry that is not a mapping of
    ``address`` (required: an IP address that can be bound and dialled, so not a wildcard or
    multicast one) and ``admin_port`` (1-65535, default ``default_admin_port``), or two hosts
    with one address."""
    _want(raw, dict, "hosts")
    if not raw:
        raise ConfigError("hosts", "must name at least one host (or leave `hosts:` out for one host)")
    out: dict[str, HostConfig] = {}
    by_address: dict[str, str] = {}
    for name, entry in raw.items():
        p = _key("hosts", name)
        if not isinstance(name, str) or not name.strip():
            raise ConfigError(p, "a host name must be a non-empty string")
        _want(entry, dict, p)
        _unknown(entry, _HOST_KEYS, p)
        if "address" not in entry:
            raise ConfigError(f"{p}.address", "missing: the host's IP address")
        text = _want(entry["address"], str, f"{p}.address")
        try:
            ip = ipaddress.ip_address(text)
        except ValueError:
            raise ConfigError(f"{p}.address", f"invalid IP address {_show(text)}") from None
        if ip.is_unspecified or ip.is_multicast:
            raise ConfigError(f"{p}.address", f"{ip} is not the address of one host")
        address = str(ip)
        if address in by_address:
            raise ConfigError(f"{p}.address", f"{address} is also the address of host {by_address[address]!r}")
        by_address[address] = name
        admin_port = _int(entry.get("admin_port", default_admin_port), f"{p}.admin_port", 1, 65535)
        out[name] = HostConfig(name, address, admin_port)
    return out


def _leader(given: str | None, hosts: dict[str, HostConfig]) -> str:
    """``actor_system.leader``: the host name given (checked against ``hosts``), else the
    first host.  Raises ConfigError."""
    if given is None:
        return next(iter(hosts))
    if given not in hosts:
        raise ConfigError("actor_system.leader", f"no host named {_show(given)} (have: {', '.join(hosts)})")
    return given


def _node_host(raw: dict, path: str, hosts: dict[str, HostConfig]) -> HostConfig:
    """The host of node ``raw`` (its ``host`` key) in a file with ``hosts:``.  Raises
    ConfigError when the key is missing or names no host."""
    if "host" not in raw:
        raise ConfigError(f"{path}.host", f"missing: with `hosts:` every node names its host (have: "
                                          f"{', '.join(hosts)})")
    name = _want(raw["host"], str, f"{path}.host")
    if name not in hosts:
        raise ConfigError(f"{path}.host", f"no host named {_show(name)} (have: {', '.join(hosts)})")
    return hosts[name]


def _check_on_host(listen_ip: str, runs_on: HostConfig, node: str, path: str):
    """A node on host ``runs_on`` may listen only on that host's address or a wildcard.
    Raises ConfigError."""
    ip = ipaddress.ip_address(listen_ip)
    if ip.is_unspecified or ip == ipaddress.ip_address(runs_on.address):
        return
    raise ConfigError(path, f"node {node} runs on host {runs_on.name} ({runs_on.address}): it can listen only on "
                            f"that address or a wildcard (0.0.0.0, ::), not {ip}")


def _supervision(raw, path) -> SupervisionConfig:
    _want(raw, dict, path)
    _unknown(raw, {"spawner", "listener", "dialer", "discovery", "http", "liveness_s"}, path)
    kw = {}
    for child in ("spawner", "listener", "dialer", "discovery", "http"):
        if child in raw:
            _want(raw[child], dict, f"{path}.{child}")
            _unknown(raw[child], _POLICY_KEYS, f"{path}.{child}")
            kw[child] = _policy(raw[child], f"{path}.{child}", _POLICY_KEYS)
    if "liveness_s" in raw:
        _want(raw["liveness_s"], float, f"{path}.liveness_s")
        if raw["liveness_s"] <= 0:
            raise ConfigError(f"{path}.liveness_s", "must be > 0")
        kw["liveness_s"] = float(raw["liveness_s"])
    return SupervisionConfig(**kw)


def _actor_system(raw, multi_host: bool = False) -> ActorSystemConfig:
    """The ``actor_system`` section.  ``multi_host``: the file has ``hosts:``; then ``bind`` is
    refused and ``leader`` allowed (as a string; :func:`_leader` checks and defaults it), else
    the other way round.  Raises ConfigError."""
    _want(raw, dict, "actor_system")
    _unknown(raw, {"admin_port", "bind", "allow", "leader"}, "actor_system")
    if multi_host and "bind" in raw:
        raise ConfigError("actor_system.bind", "not with `hosts:`: each host's actor system binds to its "
                                               "hosts.<name>.address")
    leader = None
    if "leader" in raw:
        if not multi_host:
            raise ConfigError("actor_system.leader", "needs a `hosts:` section naming the hosts")
        leader = _want(raw["leader"], str, "actor_system.leader")
    port = _int(raw.get("admin_port", DEFAULT_ADMIN_PORT), "actor_system.admin_port", 1, 65535)
    bind = _want(raw.get("bind", "127.0.0.1"), str, "actor_system.bind")
    try:
        ipaddress.ip_address(bind)
    except ValueError:
        raise ConfigError("actor_system.bind", f"invalid IP address {_show(bind)}") from None
    items = _want(raw["allow"] if raw.get("allow") is not None else [], list, "actor_system.allow")
    allow = []
    for j, v in enumerate(items):
        _want(v, str, f"actor_system.allow[{j}]")
        try:
            allow.append(str(ipaddress.ip_network(v, strict=False)))
        except ValueError:
            raise ConfigError(f"actor_system.allow[{j}]", f"invalid IP or CIDR {_show(v)}") from None
    return ActorSystemConfig(port, bind, tuple(allow), leader)


def _protocols(raw, path, base_dir: str) -> tuple[ProtocolConfig, ...]:
    """The ``protocols`` list; option paths (``field(metadata={"path": True})``) are resolved
    against ``base_dir``, the config file's directory."""
    _want(raw if raw is not None else [], list, path)
    out = []
    seen = set()
    for i, entry in enumerate(raw or []):
        p = f"{path}[{i}]"
        _want(entry, dict, p)
        if "name" not in entry:
            raise ConfigError(f"{p}.name", "missing")
        name = _want(entry["name"], str, f"{p}.name")
        if not name or len(name) > 8 or not name.isascii():
            raise ConfigError(f"{p}.name", f"must be 1-8 ASCII characters, got {_show(name)}")
        version = _int(entry.get("version", 1), f"{p}.version", 0)
        if (name, version) in seen:
            raise ConfigError(p, f"protocol {name}/{version} listed twice")
        seen.add((name, version))
        length = entry.get("length")
        if length is not None:
            length = _int(length, f"{p}.length", 1)
        actor = entry.get("actor")
        if actor is not None:
            _want(actor, str, f"{p}.actor")
        for k in entry:
            if not isinstance(k, str):
                raise ConfigError(_key(p, k), "option names must be strings")
        options = {k: v for k, v in entry.items()
                   if k not in ("name", "version", "length", "actor") and k not in _PROTO_SUPERVISION_KEYS}
        on_failure = entry.get("on_failure", "disconnect")
        if on_failure not in ("disconnect", "restart"):
            raise ConfigError(f"{p}.on_failure", f"must be disconnect or restart, got {_show(on_failure)}")
        hold_max = _int(entry.get("hold_max", 10000), f"{p}.hold_max", 1)
        policy = _policy(entry, p, _POLICY_KEYS - {"restart"})
        pc = ProtocolConfig(name, version, tuple(sorted(options.items())), length, actor, on_failure, policy,
                            hold_max)
        try:
            cls = load_class(resolve(pc).cls)
        except UnknownProtocolError as exc:
            known = ", ".join(f"{n}/{v}" for n, v in sorted(registered()))
            raise ConfigError(p, f"{exc} (known: {known}; or give `length` and `actor`)") from None
        options = resolve_paths(cls.Options, options, base_dir)
        try:
            build_options(cls.Options, options)
        except OptionError as exc:
            raise ConfigError(f"{p}.{exc.key}" if exc.key else p, exc.reason) from None
        out.append(dataclasses.replace(pc, options=tuple(sorted(options.items()))))
    return tuple(out)
