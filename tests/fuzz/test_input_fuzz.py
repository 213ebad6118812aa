"""Seeded, bounded fuzz tests of the rule "bad input from the network or a config file gets a
clear error and a clean outcome", for the inputs that are not wire frames (those are in
test_rlpx_fuzz.py):

1. config/loader.py (``load_text``, ``load_file``): the default config and valid variants,
   mutated as documents (random YAML values, raw YAML fragments such as tags, timestamps,
   ``.nan``, huge integers and small alias bombs, unknown keys at every level, wrong types,
   bad enode URLs, CIDRs and listen addresses) and as text (YAML syntax errors, control
   characters, empty documents, a top-level list or scalar, non-UTF-8 bytes through
   ``load_file``).  Allowed: a LaunchConfig whose values obey the documented limits, or a
   ConfigError whose message is one non-empty line that starts with the key path.
2. rlpx/enode.py ``parse_enode``: an Enode (that formats back to a URL parsing to an equal
   value) or EnodeError.
3. rlpx/keys.py key files: the key exactly when the file holds 64 hex characters of a valid
   secp256k1 scalar with surrounding white space (the docstring's rule), else KeyFileError.
4. protocols/eth: ``Status.decode`` and EthProtocol's inbound path on the protocol harness
   (protocols/harness.py), no actor: results, or a ProtocolError that ends the protocol with
   SUBPROTOCOL_ERROR; 4b. the same for eth/69 and eth/70: ``Status69.decode``, the Status69 rules
   (an oracle from the items), BlockRangeUpdate and the codes those versions lack.  test/1 payloads are raw bytes that are never decoded, so it is not
   covered here.

Every case comes from ``random.Random(seed)`` (one test per seed).  A test runs all its cases,
then fails with one line per *kind* of failure (exception type and the line that raised it,
or the rule broken), each with the seed, case number and input of its first occurrence.
No sockets, threads, sleeps or actor system; every file is written under ``tmp_path`` (the
loader's key-file function is wrapped to refuse any path outside it).
"""

from __future__ import annotations

import copy
import dataclasses
import ipaddress
import os
import random
import re
import stat
import traceback

import pytest
import rlp
import yaml

import config.loader as loader
from config.loader import DEFAULT_CONFIG, ConfigError, LaunchConfig, load_file, load_text
from config.model import NodeConfig
from protocols.api import MessageError, ProtocolError
from protocols.eth import (MESSAGES, RESPONSES, BlockRangeUpdate, EthProtocol, EthProtocol69, EthProtocol70,
                           GetBlockBodies, GetBlockHeaders, GetPooledTransactions, GetReceipts, Receipts70, Status,
                           Status69)
from protocols.harness import ProtocolHarness
from protocols.registry import load_class, resolve
from rlpx.disc import DiscReason
from protocols.forkid import MAINNET, fork_id
from rlpx.enode import Enode, parse_enode
from rlpx.errors import EnodeError, KeyFileError
from rlpx.keys import keccak256, load_key_file, load_or_create_key_file, node_id_from_private_key

from test_rlpx_fuzz import flip_bits, mutate_rlp, nested, random_item

SEEDS = [1, 2, 3, 4, 5]
"""One test per seed, so a failure names its seed."""

pytestmark = pytest.mark.timeout(60)
"""An input that makes a parser hang fails the test that found it; the whole file takes ~5 s."""

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


# --------------------------------------------------------------------------- helpers


def show(data, limit: int = 2500) -> str:
    """``repr`` of an input, runs of a repeated 1-4 character unit abbreviated, cut in the middle when long."""
    r = repr(data)
    size = len(r)
    if size > 8 * limit:  # keep the regular expression below cheap
        r = r[:4 * limit] + r[-4 * limit:]
    r = re.sub(r"(.{1,4}?)\1{19,}", lambda m: f"{m.group(1) * 3}<{m.group(1)} x{len(m.group(0)) // len(m.group(1))}>",
               r, flags=re.S)
    return r if len(r) <= limit else f"{r[:limit // 2]} ...({size} chars)... {r[-limit // 2:]}"


def site(exc: BaseException) -> str:
    """Where ``exc`` was raised: the innermost frame in the project (not tests) and, when the
    exception came out of a dependency, the dependency's innermost frame."""
    frames = traceback.extract_tb(exc.__traceback__)
    ours = [f for f in frames if f.filename.startswith(ROOT) and "/tests/" not in f.filename
            and "/.venv/" not in f.filename]
    where = []
    if ours:
        f = ours[-1]
        where.append(f"{os.path.relpath(f.filename, ROOT)}:{f.lineno} ({f.name})")
    if frames and (not ours or frames[-1] is not ours[-1]):
        f = frames[-1]
        where.append(f"{os.path.basename(f.filename)}:{f.lineno} ({f.name})")
    return " <- ".join(where) or "?"


class Failures:
    """Failures of one test, grouped by kind; the first occurrence of each kind is kept."""

    def __init__(self, seed):
        self.seed = seed
        self.kinds: dict[str, str] = {}
        self.count = 0

    def add(self, kind: str, case, data, detail: str = "") -> None:
        self.count += 1
        if kind not in self.kinds:
            self.kinds[kind] = f"seed={self.seed} case={case} {detail[:500]}\n      input: {show(data)}"

    def stray(self, case, data, what: str, exc: BaseException) -> None:
        self.add(f"{what} raised stray {type(exc).__name__} at {site(exc)}", case, data,
                 f"{type(exc).__name__}: {str(exc)[:300]}")

    def check(self, cases: int) -> None:
        if self.kinds:
            pytest.fail(f"{len(self.kinds)} kind(s) of failure, {self.count} failing case(s) of {cases} "
                        f"(seed={self.seed}):\n" + "\n".join(f"  - {k}\n      {v}" for k, v in self.kinds.items()),
                        pytrace=False)


# --------------------------------------------------------------------------- 1. config loader

with open(DEFAULT_CONFIG) as _f:
    DEFAULT_DOC = yaml.safe_load(_f)

KEY_A = keccak256(b"input fuzz enode a")
KEY_B = keccak256(b"input fuzz enode b")
ENODE_A = f"enode://{node_id_from_private_key(KEY_A).hex()}@127.0.0.1:30310"
ENODE_B = f"enode://{node_id_from_private_key(KEY_B).hex()}@[::1]:30311?discport=30400"


def valid_docs() -> list[dict]:
    """The default config and variants that use every key; all of them load."""
    full = {
        "actor_system": {"admin_port": 19555, "bind": "::1"},
        "nodes": [
            {"name": "alpha", "key_file": "keys/alpha.key", "listen_addr": "0.0.0.0:30401", "max_peers": 7,
             "max_pending_peers": 3, "dial_ratio": 2, "no_dial": False, "enable_msg_events": True,
             "net_restrict": ["127.0.0.0/8", "10.1.2.3/16", "::1/128"],
             "timeouts": {"idle_s": 2, "ping_interval_s": 1.5, "handshake_s": 3},
             "supervision": {"listener": {"restart": "permanent", "max_restarts": 2, "within_s": 9, "backoff_s": 0.5,
                                          "backoff_max_s": 2},
                             "dialer": {"restart": "transient", "max_restarts": 0}, "liveness_s": 0.25},
             "protocols": [
                 {"name": "test", "version": 1, "echo": True, "window": 4, "rtt": True, "send_size": 8},
                 {"name": "eth", "version": 68, "status_timeout_s": 2,
                  "chain": {"name": "fz", "network_id": 9, "genesis_hash": "ab" * 32, "genesis_td": 1,
                            "fork_blocks": [1, 2], "fork_times": [], "genesis_time": 0}}]},
            {"name": "beta", "listen_addr": "[::1]:30402", "static_nodes": ["alpha", ENODE_A],
             "trusted_nodes": [ENODE_B], "dial_candidates": [ENODE_A, ENODE_B],
             "protocols": [{"name": "t2", "version": 3, "length": 4, "actor": "protocols.test_protocol.TestProtocol",
                            "on_failure": "restart", "hold_max": 5, "max_restarts": 1, "backoff_s": 0}]},
            {"name": "gamma", "listen_addr": "", "static_nodes": None, "net_restrict": None, "protocols": []},
        ]}
    single = {"node": {"name": "solo", "listen_addr": "127.0.0.1:0", "no_dial": True,
                       "protocols": [{"name": "eth", "version": 68}]}}
    return [copy.deepcopy(DEFAULT_DOC), full, single]


SENTINEL = "@@raw{}@@"
"""A string value replaced in the dumped text by a raw YAML fragment."""


def bomb(rng: random.Random, levels: int) -> str:
    """A small YAML alias bomb: ``levels`` lists of 9 aliases to the previous level (9**levels
    leaves once expanded), as one flow sequence; anchors are unique per call."""
    tag = f"b{rng.randrange(10 ** 9)}x"
    parts = [f"&{tag}0 [1, 1, 1, 1, 1, 1, 1, 1, 1]"]
    for i in range(1, levels):
        parts.append(f"&{tag}{i} [" + ", ".join([f"*{tag}{i - 1}"] * 9) + "]")
    return "[" + ", ".join(parts) + "]"


RAW_FRAGMENTS = [
    ".nan", ".NaN", ".inf", "-.inf", "1e400", "-0.0", "0x1F", "0o17", "017", "0b101", "1_000", "1:30", "190:20:30",
    "+12", "~", "null", "yes", "no", "on", "off", "Y", "2001-02-03", "2001-02-30", "2001-13-01", "2001-02-03T04:05:06Z",
    "2001-02-03 25:00:00", "!!int abc", "!!int ''", "!!int 0x", "!!float x", "!!float ''", "!!bool maybe", "!!bool ''",
    "!!null x", "!!str 5", "!!binary aGVsbG8=", "!!binary '!!!'", "!!timestamp x", "!!set {a, b}", "!!omap [{a: 1}]",
    "!!pairs [{a: 1}, {a: 2}]", "!!map [1]", "!!seq {a: 1}", "!!python/name:os.system", "!unknown x", "!<tag:x> 1",
    "9" * 5000, "-" + "9" * 5000, "1" + "0" * 30, "'" + "x" * 5000 + "'", '"a\\0b"', '"\\x01"', '"a\\nb"',
    '"\\u2028"', '"a\\uD800b"', '"\\uFEFF"', "&dup1 x", "*undefined", "[a, *undefined]", "<<: 1",
    "{<<: [1]}", "{? [a, b] : 1}", "{? {a: 1} : 2}", "{a: 1, a: 2}", "[" * 600 + "]" * 600,
    "{a: " * 600 + "1" + "}" * 600, "&rec [1, *rec]", "&recm {a: *recm}",
]
"""YAML fragments put in place of a value (flow style, valid in block and flow context except
where a syntax error is the point)."""

TEXT_CHARS = (list(":-[]{},#&*!|>'\"%@`?\t\n \\.0a")
              + ["\x00", "\x01", "\x7f", "\x85", "\ufeff", "\u2028", "é", "\ud800"])
"""Characters inserted by the text mutations ("/" never: it could turn a key path absolute)."""

STR_CHARS = "abcxyz019 -_.:@[]{}#&*!|>'\"%`?,=\\\t\né٣³\u200b\x00\x01\x7f\u2028\ufeff"
"""Characters of random strings (no "/", so a random key_file or name stays under base_dir)."""

BAD_ENODES = [
    "", "enode://", "enode://@1.2.3.4:1", "enode://abc@1.2.3.4:1", ENODE_A.replace("enode", "enr"),
    ENODE_A.replace(":30310", ""), ENODE_A.replace(":30310", ":70000"), ENODE_A.replace(":30310", ":-1"),
    ENODE_A.replace(":30310", ":" + "9" * 5000), ENODE_A.replace(":30310", ":³"), ENODE_A + "?discport=x",
    ENODE_A + "?discport=" + "1" * 5000, ENODE_A + "?foo=1", ENODE_A + "#frag", ENODE_A + "/path",
    ENODE_A.replace("127.0.0.1", "[::1"), ENODE_A.replace("127.0.0.1", "a..b"),
    ENODE_A.replace("127.0.0.1", "1.2.3.256"), ENODE_A.replace("@", "@@"), ENODE_A.replace("4", "g", 1),
    ENODE_A[:70] + ENODE_A[72:], "enode://" + "ab" * 64 + "@h:1",
    ENODE_A.upper(), "alpha ", "nobody", ENODE_A + "\n", ENODE_A.replace("127.0.0.1", "é.com"),
]
BAD_CIDRS = ["", "10.0.0.0/33", "10.0.0.0/-1", "10.0.0.0/", "/8", "1.2.3/8", "1.2.3.4/8/8", "::/129", "x",
             "10.0.0.0/08", "10.0.0.0/255.0.0.0", "10.0.0.0/0.255.0.0", "fe80::1%eth0/64", "1.2.3.4 /8",
             "٣.1.1.1/8", "10.0.0.0/" + "9" * 5000]
BAD_ADDRS = ["", "localhost", "localhost:1", ":", ":1", "1.2.3.4", "1.2.3.4:", "1.2.3.4:-1", "1.2.3.4:70000",
             "1.2.3.4:³", "1.2.3.4:٣", "1.2.3.4:１", "1.2.3.4:" + "9" * 5000, "[::1]", "[::1]:", "::1:1", "[[::1]]:1",
             "1.2.3.4:1:2", " 1.2.3.4:1", "1.2.3.4:1 ", "fe80::1%eth0:1", "[fe80::1%eth0]:1", "0.0.0.0:0", "[::]:0",
             "\x00:1", "é:1"]
EDGE_INTS = [0, 1, -1, 2, 8, 9, 255, 1024, 1025, 65535, 65536, 2 ** 31, 2 ** 63, 2 ** 64, 10 ** 30, -(10 ** 30)]
EDGE_FLOATS = [0.0, -0.0, 0.5, -0.5, 1e-300, 1e308, float("inf"), float("-inf"), float("nan")]
NUMERIC_KEYS = {"admin_port", "max_peers", "max_pending_peers", "dial_ratio", "version", "length",
                "max_restarts", "within_s", "backoff_s", "backoff_max_s", "hold_max", "liveness_s", "send_count",
                "send_size", "window", "repeat_every_s", "status_timeout_s", "network_id", "genesis_td",
                "genesis_time"} | set(loader._TIMEOUT_KEYS)
UNKNOWN_KEYS = ["", " ", "bogus", "Name", "name ", "max-peers", "a.b", "a[0]", "a\nb", "é", "\x00", 0, 1, -1, 1.5, None,
                True, False]


def random_string(rng: random.Random) -> str:
    n = rng.choice([0, 1, 2, 5, 8, 9, 20, rng.randint(0, 60), 300])
    return "".join(rng.choice(STR_CHARS) for _ in range(n))


def random_value(rng: random.Random, depth: int = 0):
    """A random YAML-dumpable value."""
    kind = rng.randrange(9 if depth < 3 else 6)
    if kind == 0:
        return rng.choice([None, True, False])
    if kind == 1:
        return rng.choice(EDGE_INTS + [rng.randint(-5, 70000)])
    if kind == 2:
        return rng.choice(EDGE_FLOATS)
    if kind in (3, 4):
        return random_string(rng)
    if kind == 5:
        return rng.choice([b"\x00\xff", b"", ENODE_A, "127.0.0.1:1", "10.0.0.0/8", "test", "eth", "mainnet"])
    if kind in (6, 7):
        return [random_value(rng, depth + 1) for _ in range(rng.choice([0, 1, 2, 3]))]
    return {rng.choice(UNKNOWN_KEYS + ["name", "version", "chain", "genesis_hash", "network_id"]):
            random_value(rng, depth + 1) for _ in range(rng.choice([0, 1, 2, 3]))}


def targeted_value(rng: random.Random, key, tmp_path) -> object:
    """A bad (or borderline) value meant for the key called ``key``."""
    if key in ("static_nodes", "trusted_nodes", "dial_candidates"):
        return rng.sample(BAD_ENODES + ["alpha", "beta", "gamma", ENODE_A], rng.randint(1, 3))
    if key == "net_restrict":
        return rng.sample(BAD_CIDRS + ["10.0.0.0/8"], rng.randint(1, 2))
    if key in ("listen_addr", "bind"):
        return rng.choice(BAD_ADDRS)
    if key == "key_file":
        bad = tmp_path / "bad.key"
        return rng.choice(["", ".", "data", "sub/dir/k.key", str(bad), str(tmp_path / "abs" / "k.key"), str(tmp_path),
                           str(bad) + "/below.key", "x" * 300, "k\x00.key", "data/alpha.key/", "~/k.key"])
    if key == "name":
        return rng.choice(["", " ", "\t", "alpha", "beta", "x" * 300, "a\x00b", "é", "a:b", "..", ".", "-", 5, None])
    if key in NUMERIC_KEYS:
        return rng.choice(EDGE_INTS + EDGE_FLOATS + ["5", True])
    if key == "restart" or key == "on_failure":
        return rng.choice(["permanent", "restart", "sometimes", "", 1, None])
    if key == "chain":
        return rng.choice(["mainnet", "sepolia", None, 5, [], {}, {"network_id": 1},
                           {"network_id": 1, "genesis_hash": "zz"},
                           {"network_id": 1, "genesis_hash": "ab" * 32, "fork_blocks": [-1]},
                           {"network_id": 1, "genesis_hash": "0x" + "ab" * 32, "genesis_td": 1.5}])
    if key == "actor":
        return rng.choice([".foo.Bar", "..Bar", "Bar", "", "nosuchmodule_fz.Cls", "protocols.eth.NoSuch",
                           "protocols.eth.EthProtocol", "protocols..eth.X", "protocols.eth."])
    return random_value(rng)


def slots(doc) -> list[tuple[object, object]]:
    """Every (container, key or index) of a document, the root as (None, None)."""
    out = [(None, None)]

    def walk(node):
        if isinstance(node, dict):
            for k in list(node):
                out.append((node, k))
                walk(node[k])
        elif isinstance(node, list):
            for i, v in enumerate(node):
                out.append((node, i))
                walk(v)
    walk(doc)
    return out


def mutate_doc(rng: random.Random, doc, tmp_path) -> tuple[object, dict[str, str]]:
    """Apply 1-3 mutations to ``doc``; return (doc, {sentinel: raw fragment})."""
    raws: dict[str, str] = {}
    for _ in range(rng.choice([1, 1, 1, 2, 3])):
        places = slots(doc)
        parent, key = rng.choice(places)
        op = rng.randrange(10)
        if parent is None:  # the whole document
            if op < 2:
                doc = rng.choice([None, "", 0, "nodes", [], [doc], [[]], {}, {"nodes": None}, {"node": None},
                                  {"nodes": {}}, {"nodes": [None]}, {"node": [doc]}])
            continue
        if op < 3:
            parent[key] = random_value(rng)
        elif op < 5:
            sentinel = SENTINEL.format(len(raws))
            raws[sentinel] = rng.choice(RAW_FRAGMENTS + [bomb(rng, rng.randint(2, 5))])
            parent[key] = sentinel
        elif op < 8:
            name = key if isinstance(parent, dict) else None
            if name is None:  # an element of a list: aim at the key that holds the list
                for p, k in places:
                    if p is not None and isinstance(p, dict) and p[k] is parent:
                        name = k
            if isinstance(parent, list) and name in ("static_nodes", "trusted_nodes", "dial_candidates"):
                parent[key] = rng.choice(BAD_ENODES)
            elif isinstance(parent, list) and name == "net_restrict":
                parent[key] = rng.choice(BAD_CIDRS)
            else:
                parent[key] = targeted_value(rng, name, tmp_path)
        elif op == 8:  # an unknown key in some mapping
            maps = ([doc] if isinstance(doc, dict) else []) + [p[k] for p, k in places
                                                               if p is not None and isinstance(p[k], dict)]
            if maps:
                rng.choice(maps)[rng.choice(UNKNOWN_KEYS)] = random_value(rng)
        else:  # a key or element removed
            del parent[key]
    return doc, raws


FAST_DUMPER = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
FAST_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
"""libyaml where available, to make and inspect inputs; the loader under test uses its own."""


def dump(rng: random.Random, doc, raws: dict[str, str]) -> str:
    text = yaml.dump(doc, Dumper=FAST_DUMPER, sort_keys=False, allow_unicode=rng.random() < 0.5,
                     default_flow_style=rng.choice([False, True, None]), width=1 << 20)
    for sentinel, fragment in raws.items():
        text = text.replace(f"'{sentinel}'", fragment).replace(sentinel, fragment)
    return text


def mutate_text(rng: random.Random, text: str) -> str:
    """YAML-syntax-level damage: characters inserted, deleted or replaced, lines duplicated,
    indentation changed, truncation, directives and extra documents."""
    for _ in range(rng.choice([1, 1, 2, 4])):
        op = rng.randrange(10)
        pos = rng.randint(0, len(text))
        if op < 3:
            text = text[:pos] + rng.choice(TEXT_CHARS) + text[pos:]
        elif op == 3 and text:
            text = text[:pos] + text[pos + 1:]
        elif op == 4 and text:
            text = text[:pos] + rng.choice(TEXT_CHARS) + text[pos + 1:]
        elif op == 5:
            text = text[:pos]
        elif op == 6:
            lines = text.split("\n")
            i = rng.randrange(len(lines))
            lines.insert(i, lines[i])
            text = "\n".join(lines)
        elif op == 7:
            lines = text.split("\n")
            i = rng.randrange(len(lines))
            lines[i] = rng.choice([" ", "  ", "\t", ""]) + lines[i].lstrip(" " if rng.random() < 0.5 else "")
            text = "\n".join(lines)
        elif op == 8:
            text = rng.choice(["---\n", "%YAML 1.1\n---\n", "%YAML 2.0\n---\n", "%TAG ! tag:x,2000:\n---\n", "...\n",
                               "\ufeff", "# c\n", "--- !!map\n", "--- !!seq\n"]) + text
        else:
            text = text + rng.choice(["\n---\nnodes: []\n", "\n...\n", "\n---\n", "\n- x\n", "\nx\n", " #", "\n  y: 1"])
    return text


DOC_LEVEL_REASONS = ("invalid YAML", "must be a mapping", "cannot read config file")
"""The only ConfigErrors without a key path: about the whole file, not one key."""


def config_error_problems(exc: ConfigError, size: int, text) -> list[tuple[str, str]]:
    """(kind, detail) of every rule a ConfigError breaks: one non-empty line, starting with
    the key path (a top-level key of the document ``text``), no larger than the input allows."""
    msg, problems = str(exc), []
    if not msg.strip():
        problems.append(("empty ConfigError message", ""))
    if len(msg.splitlines()) > 1:
        what = "key" if exc.path else "YAML"
        problems.append((f"ConfigError message is not one line ({what} error)", show(msg, 300)))
    if len(msg) > 2 * size + 600:
        problems.append(("ConfigError message far larger than the input (amplified)",
                         f"{len(msg)} chars for a {size}-char input: {show(msg, 200)}"))
    if exc.path:
        escaped = exc.path.encode("unicode_escape").decode("ascii")  # a message may escape line breaks in keys
        if not (msg.startswith(exc.path + ": ") or msg.startswith(escaped + ": ")):
            problems.append(("ConfigError message does not start with its key path", show(msg, 300)))
        tops = {"actor_system", "nodes", "node"}
        if not any(exc.path == t or exc.path.startswith((t + ".", t + "[")) for t in tops):
            doc = parsed_doc(text)  # an unknown top-level key: parse only now
            tops = {f(k) for k in doc for f in (str, repr)} if isinstance(doc, dict) else set()
        if not any(exc.path == t or exc.path.startswith((t + ".", t + "[")) for t in tops):
            problems.append(("ConfigError key path is not in the document", show(exc.path)))
    elif not any(r in msg for r in DOC_LEVEL_REASONS):
        problems.append(("ConfigError without a key path for a key's problem", show(msg, 300)))
    return problems


def _policy_problems(policy, where) -> list[tuple[str, str]]:
    ok = (isinstance(policy.max_restarts, int) and policy.max_restarts >= 0 and policy.within_s > 0
          and policy.backoff_s >= 0 and policy.backoff_max_s >= 0)
    return [] if ok else [("valid config holds a restart policy out of range", f"{where}: {policy!r}")]


def launch_config_problems(cfg) -> list[tuple[str, str]]:
    """(kind, detail) of every documented limit a loaded config breaks."""
    if not isinstance(cfg, LaunchConfig):
        return [("load returned something else than a LaunchConfig", repr(type(cfg)))]
    problems = []

    def bad(kind, detail=""):
        problems.append((f"valid config holds {kind}", detail))

    a = cfg.actor_system
    if not (isinstance(a.admin_port, int) and 1 <= a.admin_port <= 65535):
        bad("an admin_port out of range", repr(a.admin_port))
    try:
        ipaddress.ip_address(a.bind)
    except ValueError:
        bad("a bind that is no IP address", repr(a.bind))
    if not cfg.nodes or len({n.name for n in cfg.nodes}) != len(cfg.nodes):
        bad("no nodes or duplicate names", repr([n.name for n in cfg.nodes]))
    for n in cfg.nodes:
        if not isinstance(n, NodeConfig) or not isinstance(n.name, str) or not n.name.strip():
            bad("a bad node or node name", repr(n)[:200])
            continue
        try:
            node_id_from_private_key(n.private_key)
        except Exception as exc:  # the key was loaded or created by the loader: it must be valid
            bad("an invalid private key", repr(exc))
        try:
            ipaddress.ip_address(n.listen_host)
        except ValueError:
            bad("a listen_host that is no IP address", repr(n.listen_host))
        if not (isinstance(n.listen_port, int) and 0 <= n.listen_port <= 65535):
            bad("a listen_port out of range", repr(n.listen_port))
        for field, lo, hi in (("max_peers", 0, None), ("max_pending_peers", 1, None), ("dial_ratio", 1, None)):
            v = getattr(n, field)
            if not (isinstance(v, int) and not isinstance(v, bool) and v >= lo and (hi is None or v <= hi)):
                bad(f"{field} out of range", repr(v))
        for flag in ("no_dial", "no_listen", "enable_msg_events"):
            if not isinstance(getattr(n, flag), bool):
                bad(f"a non-boolean {flag}", repr(getattr(n, flag)))
        for field in ("static_nodes", "trusted_nodes", "dial_candidates"):
            for url in getattr(n, field):
                try:
                    if parse_enode(url).url() != url:
                        bad(f"a non-canonical enode URL in {field}", repr(url))
                except Exception as exc:  # the loader resolved it: it must parse
                    bad(f"an unparsable enode URL in {field}", f"{url!r}: {exc}")
        for net in n.net_restrict:
            try:
                ipaddress.ip_network(net)
            except ValueError:
                bad("an invalid net_restrict CIDR", repr(net))
        for f_name in loader._TIMEOUT_KEYS:
            v = getattr(n.timeouts, f_name)
            if not (isinstance(v, float) and v > 0):  # NaN fails "> 0" too
                bad("a timeout that is not > 0", f"timeouts.{f_name} = {v!r}")
        problems.extend(_policy_problems(n.supervision.listener, "supervision.listener"))
        problems.extend(_policy_problems(n.supervision.dialer, "supervision.dialer"))
        if not n.supervision.liveness_s > 0:
            bad("a supervision.liveness_s that is not > 0", repr(n.supervision.liveness_s))
        for pc in n.protocols:
            problems.extend(_policy_problems(pc.restart, "protocols[].restart"))
            if pc.on_failure not in ("disconnect", "restart") or not (isinstance(pc.hold_max, int)
                                                                       and pc.hold_max >= 1):
                bad("a bad protocol on_failure/hold_max", repr(pc))
            try:
                fields = {f.name: f for f in dataclasses.fields(load_class(resolve(pc).cls).Options)}
            except Exception as exc:  # the loader resolved it: it must resolve
                bad("an unresolvable protocol", f"{pc!r}: {exc}")
                continue
            for k, v in pc.options:
                low = fields[k].metadata.get("min") if k in fields else None
                if k not in fields:
                    bad("an unknown protocol option accepted", f"{pc.name}/{pc.version} {k}")
                elif low is not None and not v >= low:  # NaN fails ">= lo"
                    bad("a protocol option below its minimum", f"{pc.name}/{pc.version} {k} = {v!r} (minimum {low})")
    return problems


class KeyPathOutside(Exception):
    """The loader asked for a key file outside the test's tmp_path (nothing was written)."""


@pytest.fixture
def confined(tmp_path, monkeypatch):
    """tmp_path as working directory, a bad key file in it, and the loader's key-file function
    wrapped so that a path outside tmp_path raises KeyPathOutside instead of being written."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "bad.key").write_text("not a key")
    (tmp_path / "base").mkdir()
    root = os.path.abspath(tmp_path)
    real = loader.load_or_create_key_file

    def guarded(path):
        if os.path.commonpath([root, os.path.abspath(path)]) != root:  # lexical: tmp_path has no symlinks
            raise KeyPathOutside(path)
        return real(path)
    monkeypatch.setattr(loader, "load_or_create_key_file", guarded)
    return tmp_path


def judge_load(failures: Failures, case, data, load, text, size: int) -> str:
    """Run ``load()`` and record every broken rule; return "ok", "error" or "bad"."""
    try:
        cfg = load()
    except ConfigError as exc:
        problems = config_error_problems(exc, size, text)
        for kind, detail in problems:
            failures.add(kind, case, data, detail)
        return "bad" if problems else "error"
    except KeyPathOutside as exc:
        failures.add("key file path outside base_dir/tmp_path", case, data, repr(str(exc)))
        return "bad"
    except Exception as exc:  # anything else is what the rule forbids
        failures.stray(case, data, "config loader", exc)
        return "bad"
    problems = launch_config_problems(cfg)
    for kind, detail in problems:
        failures.add(kind, case, data, detail)
    return "bad" if problems else "ok"


def parsed_doc(text):
    """The document in ``text`` (str or UTF-8 bytes), or None; only to name its top-level keys."""
    for loader_class in (FAST_LOADER, yaml.SafeLoader):
        try:
            return yaml.load(text.decode("utf-8") if isinstance(text, bytes) else text, Loader=loader_class)
        except Exception:  # PyYAML itself is not under test here
            continue
    return None


def test_config_valid_variants_load(confined):
    """The starting points of the fuzzing load, in every dump style, and obey the limits."""
    rng = random.Random(0)
    failures = Failures("-")
    for i, doc in enumerate(valid_docs()):
        for style in range(3):
            text = dump(rng, doc, {})
            assert judge_load(failures, f"{i}/{style}", text, lambda: load_text(text, str(confined / "base")),
                              text, len(text)) == "ok", failures.kinds
    cfg = load_text(dump(rng, valid_docs()[1], {}), str(confined / "base"))
    assert [n.name for n in cfg.nodes] == ["alpha", "beta", "gamma"]
    assert cfg.nodes[1].static_nodes[1] == ENODE_A and cfg.nodes[1].trusted_nodes == (ENODE_B,)


EDGE_DOCUMENTS = [
    "", " ", "\n", "---", "--- \n...", "#", "~", "[]", "{}", "- a\n- b", "x", "1", "!!binary aGk=", "nodes", "nodes:",
    "node:", "nodes: x", "nodes: [~]", "nodes: [[]]", "? nodes", "---\nnode: {name: a}\n---\nnode: {name: b}",
    "node: {name: a}\nnode: {name: b}", "'': 1\nnode: {name: a}", "node: {'': 1, name: a}", "node: {name: a, 1: 2}",
    "node: {name: a}\x00", "node: {name: a\x01}", "\ufeffnode: {name: a}", "node: {name: 'a\u2028b'}",
    "node: {name: a, max_peers: !!int abc}", "node: {name: a, max_peers: !!int ''}",
    "node: {name: a, no_dial: !!bool maybe}",
    "node: {name: a, max_peers: !!float x}", "node: {name: 2001-02-30}", "node: {name: 2001-02-03 25:00:00}",
    "node: {name: a, max_peers: %s}" % ("9" * 5000), "node: {name: a, listen_addr: '1.2.3.4:%s'}" % ("9" * 5000),
    "node: {name: a, listen_addr: '1.2.3.4:\u00b3'}", "node: " + "[" * 600 + "]" * 600,
    "node: " + "{a: " * 600 + "1" + "}" * 600, "node: &n {name: a, x: *n}", "node: {name: a, max_peers: &r [1, *r]}",
    "node: {name: a, protocols: [{name: test, version: 1, 1: x, echo: true}]}",
    "node: {name: a, protocols: [{name: zz, version: 1, length: 2, actor: .rel.Cls}]}",
    "node: {name: a, protocols: [{name: \"a\\nb\", version: 1}]}", "node: {name: a, timeouts: {idle_s: .nan}}",
    "node: {name: \"a\\0b\"}", "node: {name: a, key_file: \"k\\uD800.key\"}",
]
"""Fixed inputs for the edge cases the seeded fuzzers reach only now and then."""


def test_config_edge_documents(confined):
    """Every EDGE_DOCUMENTS entry and a 5-level alias bomb through load_text, and a file that
    is not UTF-8 through load_file: the same allowed outcomes."""
    failures = Failures("-")
    docs = EDGE_DOCUMENTS + ["node: {name: a, max_peers: %s}" % bomb(random.Random(0), 5)]
    for case, text in enumerate(docs):
        judge_load(failures, case, text, lambda: load_text(text, str(confined / "base")), text, len(text))
    path = confined / "latin1.yaml"
    path.write_bytes(b"node: {name: caf\xe9}\n")
    judge_load(failures, len(docs), path.read_bytes(), lambda: load_file(str(path)), b"", 22)
    failures.check(len(docs) + 1)


@pytest.mark.parametrize("seed", SEEDS)
def test_config_document_fuzz(confined, seed):
    """Valid documents with 1-3 mutations (random values, raw YAML fragments, targeted bad
    values, unknown keys, removed keys, another top-level shape), dumped in a random style:
    a config within the documented limits, or a one-line ConfigError naming the key path."""
    rng = random.Random(seed)
    failures = Failures(seed)
    outcomes = set()
    cases = 30
    for case in range(cases):
        doc = copy.deepcopy(rng.choice(valid_docs()))
        doc, raws = mutate_doc(rng, doc, confined)
        text = dump(rng, doc, raws)
        if rng.random() < 0.15:
            text = mutate_text(rng, text)
        outcomes.add(judge_load(failures, case, text, lambda: load_text(text, str(confined / "base")), text, len(text)))
    failures.check(cases)
    assert "error" in outcomes  # the mutations do reach the validation


def numbers_doc() -> dict:
    """One node that sets every numeric key (all valid)."""
    policy = {"max_restarts": 1, "within_s": 1, "backoff_s": 0, "backoff_max_s": 1}
    return {"actor_system": {"admin_port": 19002},
            "node": {"name": "num", "listen_addr": "127.0.0.1:0", "max_peers": 5, "max_pending_peers": 2,
                     "dial_ratio": 3, "timeouts": {k: 1.0 for k in sorted(loader._TIMEOUT_KEYS)},
                     "supervision": {"listener": dict(policy), "dialer": dict(policy), "liveness_s": 1},
                     "protocols": [
                         {"name": "test", "version": 1, "length": 8, "send_count": 0, "send_size": 8, "window": 2,
                          "repeat_every_s": 0, "hold_max": 3, **policy},
                         {"name": "eth", "version": 68, "status_timeout_s": 1,
                          "chain": {"network_id": 3, "genesis_hash": "cd" * 32, "genesis_td": 0, "genesis_time": 0,
                                    "fork_blocks": [1, 5], "fork_times": [10]}}]}}


NUMBER_FRAGMENTS = [".nan", "-.nan", ".inf", "-.inf", "1e400", "-1e400", "-0.0", "0x1F", "0o17", "017", "1:30", "1_000",
                    "+12", "!!float 1", "!!int 5", "!!int 0x10", "'5'", "true", "~", "9" * 5000, "0.0000001", "[1]",
                    "{}"]


@pytest.mark.parametrize("seed", SEEDS)
def test_config_number_fuzz(confined, seed):
    """Every numeric key (ports, counts, timeouts, restart policies, protocol options, chain
    numbers) set to edge values: zero, negative, huge, fractional, NaN, infinities, YAML 1.1
    number forms, wrong types.  Accepted values must obey the documented limits."""
    rng = random.Random(seed)
    failures = Failures(seed)
    cases = 12
    for case in range(cases):
        doc = numbers_doc()
        numeric = [(p, k) for p, k in slots(doc) if p is not None and (k in NUMERIC_KEYS or isinstance(k, int))
                   and not isinstance(p[k], (dict, list))]
        raws = {}
        for parent, key in rng.sample(numeric, rng.choice([1, 1, 2, 3])):
            if rng.random() < 0.5:
                parent[key] = rng.choice(EDGE_INTS + EDGE_FLOATS)
            else:
                sentinel = SENTINEL.format(len(raws))
                raws[sentinel] = rng.choice(NUMBER_FRAGMENTS)
                parent[key] = sentinel
        text = dump(rng, doc, raws)
        judge_load(failures, case, text, lambda: load_text(text, str(confined / "base")), text, len(text))
    failures.check(cases)


NAME_FRAGMENTS = ['"a\\0b"', '"a\\uD800b"', '"\\t"', '" "', "''", "!!binary aGk=", "2001-02-03", "~", "[a]", "{a: 1}",
                  "'" + "x" * 300 + "'", "'" + "é" * 130 + "'", "'..'", "'.'", "'-'", "alpha", "12", "'a:b'", '"a\\nb"']
KEY_FILE_FRAGMENTS = ['"k\\0.key"', '"k\\uD800.key"', "''", "'.'", "data", "bad.key", "~", "[k]", "12", "'k\n'",
                      "'" + "k" * 300 + "'", "'" + "é" * 130 + "'", "'data/alpha.key/'", "'sub/dir/k.key'", "'~/k.key'"]


@pytest.mark.parametrize("seed", SEEDS)
def test_config_names_and_key_files_fuzz(confined, seed):
    """Node names and key_file paths (which the loader turns into key files under base_dir:
    created, read, or refused) set to odd strings, control characters, NUL, lone surrogates,
    over-long names, directories, an invalid existing key file and wrong types; a second node
    refers to the first by name."""
    rng = random.Random(seed)
    failures = Failures(seed)
    cases = 25
    (confined / "base" / "bad.key").write_text("0" * 64)  # the zero key: invalid
    for case in range(cases):
        raws = {}

        def raw(choices):
            sentinel = SENTINEL.format(len(raws))
            raws[sentinel] = rng.choice(choices)
            return sentinel
        first = {"name": raw(NAME_FRAGMENTS) if rng.random() < 0.6 else random_string(rng),
                 "listen_addr": f"127.0.0.1:{rng.choice([0, 30501])}"}
        if rng.random() < 0.6:
            first["key_file"] = raw(KEY_FILE_FRAGMENTS) if rng.random() < 0.6 else random_string(rng)
        second = {"name": "second", "listen_addr": "127.0.0.1:30502", "static_nodes": [first["name"]]}
        doc = {"nodes": [first, second] if rng.random() < 0.5 else [first]}
        text = dump(rng, doc, raws)
        judge_load(failures, case, text, lambda: load_text(text, str(confined / "base")), text, len(text))
    failures.check(cases)


PROTOCOL_KEYS = ["echo", "send_count", "send_size", "window", "report_received", "repeat_every_s", "rtt", "chain",
                 "status_timeout_s", "on_failure", "hold_max", "max_restarts", "within_s", "backoff_s", "backoff_max_s",
                 "restart", "louder", "", 1, None, True, 1.5]


VALID_PROTOCOLS = [
    {"name": "test", "version": 1}, {"name": "test", "version": 1, "echo": False, "send_count": 3, "window": 1},
    {"name": "eth", "version": 68}, {"name": "eth", "version": 68, "chain": "mainnet", "status_timeout_s": 0.5},
    {"name": "t2", "version": 9, "length": 3, "actor": "protocols.test_protocol.TestProtocol", "on_failure": "restart",
     "max_restarts": 0, "within_s": 2, "hold_max": 1},
]


def random_protocol(rng: random.Random, tmp_path) -> object:
    """An entry of a node's ``protocols`` list: a valid one with 0-3 keys changed, added or
    removed (keys that are not strings too), or now and then not a mapping at all."""
    if rng.random() < 0.05:
        return random_value(rng)
    entry = dict(rng.choice(VALID_PROTOCOLS))
    for _ in range(rng.choice([0, 1, 1, 2, 3])):
        op = rng.randrange(6)
        if op == 0:
            entry["name"] = rng.choice(["test", "eth", "t2", "", "x" * 9, "é", "a\nb", 5, None])
        elif op == 1:
            entry["version"] = rng.choice([1, 68, 0, -1, 2 ** 70, "1", 1.0, True, None])
        elif op == 2:
            entry[rng.choice(["length", "actor"])] = rng.choice([1, 8, 0, -1, 2 ** 64, "8", None,
                                                                 targeted_value(rng, "actor", tmp_path)])
        elif op == 3 and entry:
            del entry[rng.choice(list(entry))]
        else:
            key = rng.choice(PROTOCOL_KEYS)
            entry[key] = targeted_value(rng, key, tmp_path) if rng.random() < 0.7 else random_value(rng)
    return entry


@pytest.mark.parametrize("seed", SEEDS)
def test_config_protocols_fuzz(confined, seed):
    """Random ``protocols`` lists: known and unknown name/version pairs, ``length``/``actor``
    overrides (unimportable, relative, not a class), options of the wrong type or unknown, keys
    that are not strings, failure policies, the eth ``chain`` option."""
    rng = random.Random(seed)
    failures = Failures(seed)
    cases = 24
    outcomes = set()
    for case in range(cases):
        protocols = [random_protocol(rng, confined) for _ in range(rng.choice([1, 1, 2, 3]))]
        doc = {"node": {"name": "p", "listen_addr": "127.0.0.1:0", "protocols": protocols}}
        text = dump(rng, doc, {})
        outcomes.add(judge_load(failures, case, text, lambda: load_text(text, str(confined / "base")), text, len(text)))
    failures.check(cases)
    assert {"ok", "error"} <= outcomes


@pytest.mark.parametrize("seed", SEEDS)
def test_config_text_fuzz(confined, seed):
    """YAML text damaged at the syntax level, empty and odd documents, and non-UTF-8 bytes
    through ``load_file``: the same allowed outcomes."""
    rng = random.Random(seed)
    failures = Failures(seed)
    cases = 24
    files = confined / "files"
    files.mkdir()
    for case in range(cases):
        kind = rng.randrange(6)
        if kind == 0:
            text = rng.choice(["", " ", "\n", "---", "--- \n...", "#", "~", "null", "[]", "{}", "- a\n- b", "x", "1",
                               "'nodes'", "!!binary aGk=", "nodes", "nodes:", "node:", "node: ~", "nodes: ~",
                               "nodes: x", "? nodes", "- nodes: []", "&a x", "*a", "%YAML 1.1", "---\n---", "\x00",
                               "\ufeff"])
        else:
            text = dump(rng, rng.choice(valid_docs()), {})
            text = mutate_text(rng, text)
        if kind >= 4:  # as a file, through load_file, as bytes: random bytes, BOMs, other encodings
            data = text.encode("utf-8", "surrogatepass")
            op = rng.randrange(5)
            if op == 0 and data:
                data = flip_bits(rng, data, rng.choice([1, 2, 8]))
            elif op == 1:
                pos = rng.randint(0, len(data))
                data = data[:pos] + bytes([rng.randrange(0x80, 0x100)]) + data[pos:]
            elif op == 2:
                data = rng.choice([b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff", b"\x00"]) + data
            elif op == 3:
                data = text.encode(rng.choice(["utf-16", "utf-16-le", "utf-32", "latin-1"]), "replace")
            path = files / f"c{case}.yaml"
            path.write_bytes(data)
            judge_load(failures, case, data, lambda: load_file(str(path)), data, len(data))
        else:
            judge_load(failures, case, text, lambda: load_text(text, str(confined / "base")), text, len(text))
    failures.check(cases)


@pytest.mark.parametrize("seed", SEEDS)
def test_config_alias_bomb_fuzz(confined, seed):
    """A ~0.6 KiB alias bomb (5 levels: 59,049 leaves once expanded) in place of a value:
    the loader must answer about as fast and as briefly as for any other wrong value (its
    objects share the aliased lists, so only expanding it, e.g. in a message, is costly)."""
    rng = random.Random(seed)
    failures = Failures(seed)
    cases = 2
    for case in range(cases):
        doc = copy.deepcopy(rng.choice(valid_docs()))
        places = [(p, k) for p, k in slots(doc) if p is not None]
        parent, key = rng.choice(places)
        parent[key] = SENTINEL.format(0)
        text = dump(rng, doc, {SENTINEL.format(0): bomb(rng, 5)})
        judge_load(failures, case, text, lambda: load_text(text, str(confined / "base")), text, len(text))
    failures.check(cases)


def test_node_name_does_not_place_key_file_outside_base_dir(tmp_path):
    """A node without ``key_file`` keeps its key in ``data/<name>.key`` under base_dir; a name
    with "../" or an absolute path must not put (create) the key file elsewhere.  Everything
    stays under tmp_path: base_dir is tmp_path/a/b."""
    base = tmp_path / "a" / "b"
    base.mkdir(parents=True)
    outside = tmp_path / "outside"
    for name in ["../../escaped", str(outside / "abs")]:
        try:
            load_text(yaml.safe_dump({"node": {"name": name, "listen_addr": "127.0.0.1:0"}}), str(base))
        except ConfigError:
            continue  # rejecting the name is a clean outcome
        written = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*.key") if base not in p.parents)
        assert written == [], f"node name {name!r} put its key file outside base_dir ({base}): {written}"


# --------------------------------------------------------------------------- 2. enode URLs

NODE_IDS = [node_id_from_private_key(keccak256(bytes([i]))).hex() for i in range(4)]
ENODE_CHARS = (list(":@[]/?#&=%.,;+- \t\n\r\\'\"0aFg")
               + ["\x00", "\x7f", "é", "٣", "³", "１", "\u200b", "\ud800", "\U0001f600"])
BAD_PORTS = ["", "-1", "+1", " 1", "1 ", "65536", "99999", "0x10", "1e3", "1.0", "³", "١٢", "１", "9" * 5000,
             "0" * 600 + "1"]
BAD_HOSTS = ["", "[", "]", "[::1", "::1]", "[]", "[1.2.3.4]", "1.2.3.256", "a..b", "-a.com", "a-.com", "a_b",
             "a" * 64 + ".com", ("a" * 63 + ".") * 4 + "a", "é.com", "host.", ".host", "[v1.x]", "[::1%25eth0]",
             "1.2.3.4 ", "a b", "::1::2", "[fe80::1%eth0]", "fe80::1%eth0", "[::ffff:1.2.3.4]", "0x7f.1", "127.1",
             "12345"]
BAD_QUERIES = ["?", "?discport", "?discport=", "?discport=x", "?discport=70000", "?discport=1&discport=2",
               "?discport=1&", "?&", "?=", "?=1", "?foo=1", "?discport=%31", "?disc%70ort=1", "?discport=1#x",
               "?discport=" + "9" * 5000, "?discport=1;2", "?discport=+1"]


def valid_enode(rng: random.Random) -> tuple[str, Enode]:
    """A random valid enode URL and the Enode it must parse to."""
    nid = rng.choice(NODE_IDS)
    kind = rng.randrange(4)
    if kind == 0:
        host = ".".join(str(rng.randrange(256)) for _ in range(4))
        text, canon = host, host
    elif kind == 1:
        canon = str(ipaddress.IPv6Address(rng.getrandbits(128) >> rng.choice([0, 64, 100, 120])))
        text = f"[{rng.choice([canon, ipaddress.IPv6Address(canon).exploded])}]"
    elif kind == 2:
        labels = ["".join(rng.choice("abcxyz019") for _ in range(rng.randint(1, 10))) for _ in range(rng.randint(1, 4))]
        text = canon = ".".join(labels)
    else:
        text = canon = rng.choice(["localhost", "127.0.0.1", "0.0.0.0"])
    tcp = rng.choice([0, 1, 30303, 65535, rng.randrange(65536)])
    udp = tcp if rng.random() < 0.6 else rng.randrange(65536)
    id_text = rng.choice([nid, nid, nid.upper()])
    url = f"enode://{id_text}@{text}:{tcp}" + (f"?discport={udp}" if udp != tcp or rng.random() < 0.2 else "")
    return url, Enode(bytes.fromhex(nid), canon, tcp, udp)


def mutate_enode(rng: random.Random, url: str, nid: str) -> str:
    kind = rng.randrange(9)
    body = url[len("enode://"):]
    userinfo, _, rest = body.partition("@")
    hostport, q, query = rest.partition("?")
    if kind == 0:  # characters inserted, deleted, replaced
        for _ in range(rng.choice([1, 1, 2, 5])):
            pos = rng.randint(0, len(url))
            op = rng.randrange(3)
            if op == 0:
                url = url[:pos] + rng.choice(ENODE_CHARS) + url[pos:]
            elif op == 1:
                url = url[:pos] + url[pos + 1:]
            else:
                url = url[:pos] + rng.choice(ENODE_CHARS) + url[pos + 1:]
        return url
    if kind == 1:  # another port
        host = hostport.rpartition(":")[0]
        return f"enode://{userinfo}@{host}:{rng.choice(BAD_PORTS)}" + (q + query)
    if kind == 2:  # another host
        port = hostport.rpartition(":")[2]
        return f"enode://{userinfo}@{rng.choice(BAD_HOSTS)}:{port}" + (q + query)
    if kind == 3:  # another query
        return f"enode://{userinfo}@{hostport}{rng.choice(BAD_QUERIES)}"
    if kind == 4:  # another node id
        bad_id = rng.choice([nid[:-1], nid + "0", nid[:-2], "", "0" * 128, rng.randbytes(64).hex(), "g" + nid[1:],
                             " " + nid[1:], nid[:64], nid * 2, "0x" + nid[2:], nid[:10] + "é" + nid[11:]])
        return f"enode://{bad_id}@{rest}"
    if kind == 5:  # parts missing or doubled
        return rng.choice([f"enode://{rest}", f"enode://{userinfo}@", f"enode://{userinfo}",
                           f"enode://{userinfo}@@{rest}", f"enode://{userinfo}@{rest}@{rest}", f"enode:/{body}",
                           f"enode:{body}", f"ENODE://{body}",
                           f"enr://{body}", f" {url}", f"{url} ", f"{url}#frag", f"{url}/", f"{url}/path", body,
                           f"enode://{userinfo}@{hostport.rpartition(':')[0]}", f"enode://{userinfo}:pw@{rest}"])
    if kind == 6:  # very long
        return rng.choice([url + "a" * 10000, url.replace("@", "@" + "a." * 3000), "enode://" + "a" * 20000,
                           url + "?discport=1" * 500])
    if kind == 7:  # random strings
        n = rng.choice([0, 1, 8, 50, 200])
        return rng.choice(["", "enode://"]) + "".join(rng.choice(ENODE_CHARS) for _ in range(n))
    return flip_text(rng, url)


def flip_text(rng: random.Random, url: str) -> str:
    """``url`` with one character replaced by a random code point (any plane, surrogates too)."""
    pos = rng.randrange(len(url))
    return url[:pos] + chr(rng.choice([rng.randrange(128), rng.randrange(0x110000)])) + url[pos + 1:]


@pytest.mark.parametrize("seed", SEEDS)
def test_enode_fuzz(seed):
    """Valid enode URLs parse to the expected Enode; mutated and random ones give an Enode or
    EnodeError; every Enode's URL parses back to an equal Enode."""
    rng = random.Random(seed)
    failures = Failures(seed)
    cases = 300
    valid = errors = 0
    for case in range(cases):
        url, expected = valid_enode(rng)
        intact = rng.random() < 0.15
        data = url if intact else mutate_enode(rng, url, expected.node_id.hex())
        if case % 50 == 49:
            data, intact = rng.choice([None, b"enode://", 5, [url], url.encode()]), False
        try:
            e = parse_enode(data)
        except EnodeError as exc:
            errors += 1
            if intact:
                failures.add("valid enode URL rejected", case, data, str(exc))
            if not str(exc):
                failures.add("empty EnodeError message", case, data)
            continue
        except Exception as exc:
            failures.stray(case, data, "parse_enode", exc)
            continue
        valid += 1
        if intact and e != expected:
            failures.add("valid enode URL parsed to a wrong value", case, data, f"{e!r} != {expected!r}")
        if not (isinstance(e, Enode) and len(e.node_id) == 64 and isinstance(e.host, str) and e.host
                and 0 <= e.tcp_port <= 65535 and 0 <= e.udp_port <= 65535):
            failures.add("parse_enode returned an out-of-range Enode", case, data, repr(e))
            continue
        try:
            again = parse_enode(e.url())
        except Exception as exc:
            failures.add(f"the URL of a parsed Enode does not parse ({type(exc).__name__})", case, data,
                         f"url()={e.url()!r}: {exc}")
            continue
        if again != e or again.url() != e.url():
            failures.add("format/parse round trip changes the Enode", case, data, f"{e!r} -> {again!r}")
    failures.check(cases)
    assert valid >= 20 and errors >= 100  # both outcomes are reached


# --------------------------------------------------------------------------- 3. key files

N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
"""secp256k1 group order: a private key is 1 .. N-1."""

HEX = set(b"0123456789abcdefABCDEF")
WHITE = [b" ", b"\t", b"\n", b"\r\n", b"\x0b", b"\x0c", b"  \n\n"]
NOT_WHITE = [b"\x00", b"\xa0", "\u3000".encode(), b"\xef\xbb\xbf", b"#", b"0x", b"\x1c"]


def expected_key(content: bytes) -> bytes | None:
    """The key a key file holds by load_key_file's docstring: exactly 64 hex characters with
    surrounding white space allowed (ASCII white space, as bytes.strip), a valid secp256k1
    scalar (0 < k < N); else None."""
    text = content.strip()
    if len(text) != 64 or not set(text) <= HEX:
        return None
    k = int(text, 16)
    return k.to_bytes(32, "big") if 0 < k < N else None


def key_hex(rng: random.Random, k: int) -> bytes:
    h = (k % (1 << 256)).to_bytes(32, "big").hex()
    style = rng.randrange(3)
    if style == 1:
        h = h.upper()
    elif style == 2:
        h = "".join(c.upper() if rng.random() < 0.5 else c for c in h)
    return h.encode()


def key_content(rng: random.Random) -> bytes:
    k = rng.choice([rng.randrange(1, N), rng.randrange(1, N), 1, N - 1, 0, N, N + 1, (1 << 256) - 1, 1 << 255])
    h = key_hex(rng, k)
    kind = rng.randrange(12)
    if kind == 0:
        return h
    if kind == 1:
        return rng.choice(WHITE) * rng.randint(0, 3) + h + rng.choice(WHITE) * rng.randint(0, 3)
    if kind == 2:
        return rng.choice([b"", h]) + rng.choice(NOT_WHITE) + rng.choice([b"", h])
    if kind == 3:  # a character inserted, deleted or replaced
        pos = rng.randrange(len(h))
        c = bytes([rng.choice(b"0aFgxz \t\n\x00\xff.")])
        return rng.choice([h[:pos] + c + h[pos:], h[:pos] + h[pos + 1:], h[:pos] + c + h[pos + 1:]])
    if kind == 4:  # wrong length
        return h[:rng.choice([0, 1, 31, 32, 62, 63])] + rng.choice([b"", h[:rng.choice([1, 2, 64])]])
    if kind == 5:  # white space inside
        pos = rng.randrange(1, len(h))
        return h[:pos] + rng.choice(WHITE) + h[pos:]
    if kind == 6:  # binary
        return rng.randbytes(rng.choice([0, 1, 32, 64, 65, 100]))
    if kind == 7:  # encodings
        return rng.choice([h.decode().encode("utf-16"), b"\xef\xbb\xbf" + h, h.decode().encode("utf-32-le")])
    if kind == 8:  # long: padding beyond the 4 KiB the loader reads, with or without something after it
        return h + rng.choice(WHITE) * rng.choice([2000, 4100]) + rng.choice([b"", b"zz", h, b"\x00"])
    if kind == 9:  # two lines / comments
        return h + rng.choice([b"\n" + h, b"\n#key", b"\nzz", b"\n\n"])
    if kind == 10:
        return flip_bits(rng, h, rng.choice([1, 2]))
    return rng.choice([b"", b" ", b"\n", b"0" * 64, b"f" * 64, b"0x" + h[2:], h[:-1] + b"\n", b"\x00" * 64])


@pytest.mark.parametrize("seed", SEEDS)
def test_key_file_fuzz(tmp_path, seed):
    """load_key_file (and load_or_create_key_file on an existing file) returns the key only
    when the docstring's rule accepts the content, else raises KeyFileError naming the file
    (a file over 4 KiB may be refused whatever it holds); an absent file is created (0600,
    64 hex) and reads back the same."""
    rng = random.Random(seed)
    failures = Failures(seed)
    cases = 100
    accepted = 0
    for case in range(cases):
        path = str(tmp_path / f"k{case}.key")
        if rng.random() < 0.1:  # absent: created
            try:
                key = load_or_create_key_file(path)
            except Exception as exc:
                failures.stray(case, b"", "load_or_create_key_file (absent file)", exc)
                continue
            mode = stat.S_IMODE(os.stat(path).st_mode)
            with open(path, "rb") as f:
                content = f.read()
            if mode != 0o600 or expected_key(content) != key or load_key_file(path) != key:
                failures.add("created key file is wrong", case, content, f"mode {oct(mode)}")
            continue
        content = key_content(rng)
        with open(path, "wb") as f:
            f.write(content)
        want = expected_key(content)
        fn = rng.choice([load_key_file, load_or_create_key_file])
        try:
            got = fn(path)
        except KeyFileError as exc:
            if want is not None and len(content) <= 4096:
                failures.add("valid key file rejected", case, content, str(exc))
            if path not in str(exc):
                failures.add("KeyFileError does not name the file", case, content, str(exc))
            continue
        except Exception as exc:
            failures.stray(case, content, fn.__name__, exc)
            continue
        accepted += 1
        if want is None:
            failures.add("a key file that is not 64 hex characters of a valid key (with surrounding white space) "
                         "was accepted", case, content, f"{fn.__name__} returned {got.hex()}")
        elif got != want:
            failures.add("wrong key returned", case, content, f"{got.hex()} != {want.hex()}")
        with open(path, "rb") as f:
            if f.read() != content:
                failures.add("loading changed the key file", case, content)
    failures.check(cases)
    assert accepted >= 10


# --------------------------------------------------------------------------- 4. eth/68 decoding

GENESIS = MAINNET.genesis_hash
OUR_FORK = fork_id(MAINNET, 0, MAINNET.genesis_time)
REQUESTS = (GetBlockHeaders, GetBlockBodies, GetPooledTransactions, GetReceipts)


def valid_status(rng: random.Random) -> tuple[list, bool]:
    """A Status item list that decodes, and whether our mainnet node accepts it."""
    if rng.random() < 0.6:  # ours: accepted
        return [68, 1, rng.choice([0, 1, 17179869184, 2 ** 200]), rng.randbytes(32), GENESIS,
                [OUR_FORK[0], OUR_FORK[1]]], True
    # mostly our version, network and genesis, so that the fork id check runs too
    return [rng.choice([68, 68, 66, 0, 2 ** 32 - 1]), rng.choice([1, 1, 5, 2 ** 64 - 1]), rng.randrange(2 ** 128),
            rng.randbytes(32), rng.choice([GENESIS, GENESIS, rng.randbytes(32)]),
            [rng.choice([rng.randbytes(4), OUR_FORK[0]]), rng.choice([0, 1, 1150000, 2 ** 64 - 1])]], False


def mutate_structure(rng: random.Random, items):
    """One random change somewhere in a decoded RLP structure (returns the new structure)."""
    if not isinstance(items, list) or not items or rng.random() < 0.15:
        deep = rlp.decode(nested(rng.randint(1, 50)))
        return rng.choice([random_item(rng), [], b"", [items], rng.randbytes(33), deep])
    items = list(items)
    i = rng.randrange(len(items))
    op = rng.randrange(6)
    if op == 0:
        items[i] = mutate_structure(rng, items[i])
    elif op == 1:
        del items[i]
    elif op == 2:
        items.insert(i, random_item(rng))
    elif op == 3:
        items[i] = [items[i]] if rng.random() < 0.5 else rlp.encode(items[i])
    elif op == 4:  # an integer too wide, with leading zeros, or empty
        items[i] = rng.choice([b"\x01" * 33, b"\x00" * 32, b"\x00\x44", b"", b"\x00" * rng.randint(1, 40)])
    else:
        items[i] = rng.randbytes(rng.choice([0, 3, 4, 5, 31, 32, 33]))
    return items


def status_payload(rng: random.Random) -> tuple[bytes, bool, bool]:
    """(payload, intact, accepted_if_intact)."""
    items, accepted = valid_status(rng)
    r = rng.random()
    if r < 0.2:
        return rlp.encode(items), True, accepted
    if r < 0.6:
        return rlp.encode(mutate_structure(rng, items)), False, accepted
    return mutate_rlp(rng, rlp.encode(items)), False, accepted


@pytest.mark.parametrize("seed", SEEDS)
def test_decode_status_fuzz(seed):
    """Status.decode on valid, structurally mutated and byte-mutated payloads: a Status that
    encodes back to the same bytes (decoding is exact and canonical, as go-ethereum's), or
    MessageError with a message; an intact payload decodes to its items."""
    rng = random.Random(seed)
    failures = Failures(seed)
    cases = 200
    decoded = errors = 0
    for case in range(cases):
        payload, intact, _ = status_payload(rng)
        try:
            st = Status.decode(payload)
        except MessageError as exc:
            errors += 1
            if intact:
                failures.add("valid Status rejected", case, payload.hex(), str(exc))
            if not str(exc):
                failures.add("empty MessageError message", case, payload.hex())
            continue
        except Exception as exc:
            failures.stray(case, payload.hex(), "Status.decode", exc)
            continue
        decoded += 1
        if st.encode() != payload:
            failures.add("a decoded Status does not encode back to its payload", case, payload.hex(), repr(st))
        if intact:
            items = rlp.decode(payload)
            if [st.version, st.network_id, st.td] != [int.from_bytes(i, "big") for i in items[:3]]:
                failures.add("decoded values differ from the payload's items", case, payload.hex(), repr(st))
    failures.check(cases)
    assert decoded >= 20 and errors >= 50


def request_payload(rng: random.Random, cls) -> tuple[bytes, bool]:
    """A payload for request ``cls`` and whether it is intact (its decoded form is valid)."""
    rid = rng.choice([0, 1, 2 ** 63, 2 ** 64 - 1])
    if cls is GetBlockHeaders:
        req = [rid, [rng.choice([GENESIS, 1, 0, 2 ** 64 - 1]), rng.choice([0, 1, 192]), rng.choice([0, 5]),
                     rng.choice([0, 1])]]
    else:
        req = [rid, [rng.randbytes(32) for _ in range(rng.randint(0, 3))]]
    r = rng.random()
    if r < 0.7:  # most stay intact, so that sessions go on past their first bad message
        return rlp.encode(req), True
    if r < 0.85:
        return rlp.encode(mutate_structure(rng, req)), False
    return mutate_rlp(rng, rlp.encode(req)), False


@pytest.mark.parametrize("seed", SEEDS)
def test_eth_inbound_fuzz(seed):
    """A session of inbound eth/68 messages on the protocol harness: first a Status (intact,
    mutated, or another code), then requests, announcements and a second Status with valid
    and mutated payloads.  Each message is handled, or ends the protocol with
    SUBPROTOCOL_ERROR and a ProtocolError; our own Status is accepted; an intact request is
    answered with its id and an empty list, and nothing but answers is ever sent."""
    rng = random.Random(seed)
    failures = Failures(seed)
    sessions, answered = 80, 0
    for case in range(sessions):
        eth = ProtocolHarness(EthProtocol)
        eth.take()
        r = rng.random()
        if r < 0.1:
            code, payload = rng.choice([c for c in range(17) if c != Status.CODE]), rlp.encode(valid_status(rng)[0])
            intact = accepted = False
        elif r < 0.55:
            code, intact, accepted = Status.CODE, True, True
            while True:
                items, ours = valid_status(rng)
                if ours:
                    payload = rlp.encode(items)
                    break
        else:
            code = Status.CODE
            payload, intact, accepted = status_payload(rng)
        at = f"first message code={code} payload={payload.hex()}"
        eth.deliver(code, payload)
        if eth.error is not None and not isinstance(eth.error, ProtocolError):
            failures.stray(case, at, "EthProtocol (Status)", eth.error)
            continue
        if eth.ended is not None:
            if intact and accepted:
                failures.add("our own Status rejected", case, at, eth.ended.error)
            if eth.sent or not eth.ended.error or eth.ended.reason != DiscReason.SUBPROTOCOL_ERROR:
                failures.add("a rejected Status sent something or ended wrongly", case, at, repr(eth.ended))
            continue
        if code != Status.CODE or eth.proto.remote_status is None or eth.clock.timers or eth.sent:
            failures.add("a Status was taken without setting remote_status/cancelling the timer", case, at)
            continue
        if not (eth.events and eth.events[-1][1].get("accepted") is True):
            failures.add("accepted Status not published as accepted", case, at, repr(eth.events))
        for step in range(12):
            cls = rng.choice(list(REQUESTS) * 3 + [m for m in MESSAGES if m not in REQUESTS])
            payload, intact = request_payload(rng, cls)
            at_msg = f"{at}; message {step}: {cls.__name__} payload={payload.hex()}"
            eth.take()
            eth.deliver(cls.CODE, payload)
            if eth.error is not None and not isinstance(eth.error, ProtocolError):
                failures.stray(case, at_msg, f"EthProtocol ({cls.__name__})", eth.error)
                break
            if eth.ended is not None:
                if intact and cls in REQUESTS:
                    failures.add("an intact request ended the protocol", case, at_msg, eth.ended.error)
                if eth.ended.reason != DiscReason.SUBPROTOCOL_ERROR:
                    failures.add("bad input ended the protocol without SUBPROTOCOL_ERROR", case, at_msg)
                break
            if cls is Status:
                failures.add("a second Status was accepted", case, at_msg)
                break
            sent = eth.take()
            if cls in REQUESTS:
                want = RESPONSES[cls](int.from_bytes(rlp.decode(payload)[0], "big"), ())
                if sent != [want]:
                    failures.add("wrong response", case, at_msg, f"{sent!r} != {want!r}")
            elif sent:
                failures.add("an announcement or response was answered", case, at_msg, repr(sent))
            answered += bool(sent)
    failures.check(sessions)
    assert answered >= 20


# --------------------------------------------------------------------------- 4b. eth/69 and eth/70

NEW_ETH = {69: EthProtocol69, 70: EthProtocol70}


def valid_status69(rng: random.Random, version: int) -> tuple[list, bool]:
    """A Status69 item list that decodes, and whether our mainnet eth/``version`` node accepts it."""
    if rng.random() < 0.7:  # ours, with any valid range: accepted
        earliest = rng.choice([0, 0, 5, 2 ** 64 - 1])
        latest = rng.choice([earliest, earliest, 2 ** 64 - 1])
        return [version, 1, GENESIS, [OUR_FORK[0], OUR_FORK[1]], earliest, latest,
                rng.choice([GENESIS, b"\x01" + bytes(31)])], True
    return [rng.choice([version, version, 68, 69, 70, 2 ** 32 - 1]), rng.choice([1, 1, 5]),
            rng.choice([GENESIS, GENESIS, rng.randbytes(32)]),
            [rng.choice([OUR_FORK[0], rng.randbytes(4)]), rng.choice([OUR_FORK[1], 0, 2 ** 64 - 1])],
            rng.choice([0, 3, 2 ** 64 - 1]), rng.choice([0, 2, 2 ** 64 - 1]),
            rng.choice([GENESIS, bytes(32), rng.randbytes(32)])], False


def accepted_by_rule(items: list, version: int) -> bool:
    """Whether an intact Status69 passes our rules, worked out from its items (the oracle).  At our
    genesis head (block 0, time 0) EIP-2124 rule 1 takes our fork hash with any next fork (none
    has passed), and a random other hash is on no fork of mainnet's."""
    v, net, genesis, (fhash, _), earliest, latest, latest_hash = items
    return (v == version and net == 1 and genesis == GENESIS and fhash == OUR_FORK[0]
            and earliest <= latest and latest_hash != bytes(32))


@pytest.mark.parametrize("seed", SEEDS)
def test_decode_status69_fuzz(seed):
    """Status69.decode on valid and mutated payloads: a Status69 that encodes back to its payload
    with exactly 7 fields, or MessageError; an intact payload decodes to its items."""
    rng = random.Random(seed)
    failures = Failures(seed)
    cases, decoded, errors = 200, 0, 0
    for case in range(cases):
        items, _ = valid_status69(rng, rng.choice([69, 70]))
        r = rng.random()
        if r < 0.25:
            payload, intact = rlp.encode(items), True
        elif r < 0.65:
            payload, intact = rlp.encode(mutate_structure(rng, items)), False
        else:
            payload, intact = mutate_rlp(rng, rlp.encode(items)), False
        try:
            st = Status69.decode(payload)
        except MessageError as exc:
            errors += 1
            if intact:
                failures.add("valid Status69 rejected", case, payload.hex(), str(exc))
            continue
        except Exception as exc:
            failures.stray(case, payload.hex(), "Status69.decode", exc)
            continue
        decoded += 1
        if st.encode() != payload or len(rlp.decode(payload)) != 7:
            failures.add("a decoded Status69 is not its 7-field payload", case, payload.hex(), repr(st))
        if intact and [st.earliest, st.latest, st.latest_hash] != [items[4], items[5], items[6]]:
            failures.add("decoded range differs from the payload's items", case, payload.hex(), repr(st))
    failures.check(cases)
    assert decoded >= 40 and errors >= 50


def range_update_payload(rng: random.Random) -> tuple[bytes, bool | None]:
    """A BlockRangeUpdate payload and whether it is valid (None: not intact RLP of 3 fields)."""
    earliest, latest = rng.choice([(0, 0), (1, 5), (5, 1), (0, 2 ** 64 - 1), (2 ** 64 - 1, 0)])
    h = rng.choice([rng.randbytes(32), bytes(32), b"\x07" * 32])
    items = [earliest, latest, h]
    if rng.random() < 0.8:
        return rlp.encode(items), earliest <= latest and h != bytes(32)
    return (rlp.encode(mutate_structure(rng, items)) if rng.random() < 0.5 else mutate_rlp(rng, rlp.encode(items))), None


@pytest.mark.parametrize("seed", SEEDS)
def test_eth69_70_inbound_fuzz(seed):
    """Sessions of inbound eth/69 and eth/70 messages on the harness: a Status69 (intact or
    mutated), then BlockRangeUpdates, requests in the version's layout, announcements and codes
    the version lacks.  An intact Status69 is accepted exactly when the rules say so; a valid
    BlockRangeUpdate is kept (admin_peers shows it), an invalid one or a code the version lacks
    ends the protocol with SUBPROTOCOL_ERROR; requests are answered with their id."""
    rng = random.Random(seed)
    failures = Failures(seed)
    sessions, ranges, answered = 60, 0, 0
    for case in range(sessions):
        version = rng.choice([69, 70])
        eth = ProtocolHarness(NEW_ETH[version])
        eth.take()
        items, _ = valid_status69(rng, version)
        if rng.random() < 0.75:
            payload, intact = rlp.encode(items), True
        else:
            payload, intact = mutate_rlp(rng, rlp.encode(items)), False
        at = f"eth/{version} Status69 payload={payload.hex()}"
        eth.deliver(Status69.CODE, payload)
        if eth.error is not None and not isinstance(eth.error, ProtocolError):
            failures.stray(case, at, "EthProtocol69 (Status)", eth.error)
            continue
        if intact and (eth.ended is None) != accepted_by_rule(items, version):
            failures.add("intact Status69 accepted or rejected against the rules", case, at, repr(eth.ended))
        if eth.ended is not None:
            if eth.ended.reason != DiscReason.SUBPROTOCOL_ERROR or eth.sent:
                failures.add("a rejected Status69 ended wrongly or sent something", case, at, repr(eth.ended))
            continue
        for step in range(10):
            kind = rng.choices([0, 1, 2], weights=[4, 1, 5])[0]
            eth.take()
            if kind == 0:
                payload, valid = range_update_payload(rng)
                code = BlockRangeUpdate.CODE
            elif kind == 1:
                code = rng.choice([0x01, 0x07, 0x0B, 0x0E])
                payload, valid = rlp.encode([]), False
            else:
                cls = rng.choice([GetBlockHeaders, GetBlockBodies, GetPooledTransactions, GetReceipts])
                rid = rng.choice([0, 1, 2 ** 64 - 1])
                if cls is GetBlockHeaders:
                    req = [rid, [1, 1, 0, 0]]
                elif cls is GetReceipts and version == 70:
                    req = [rid, rng.choice([0, 7]), [GENESIS]]
                else:
                    req = [rid, [GENESIS]]
                code, payload, valid = cls.CODE, rlp.encode(req), True
            at_msg = f"{at}; message {step}: code={code:#x} payload={payload.hex()}"
            eth.deliver(code, payload)
            if eth.error is not None and not isinstance(eth.error, ProtocolError):
                failures.stray(case, at_msg, "EthProtocol69", eth.error)
                break
            if valid is True and eth.ended is not None:
                failures.add("a valid message ended the protocol", case, at_msg, eth.ended.error)
                break
            if valid is False and (eth.ended is None or eth.ended.reason != DiscReason.SUBPROTOCOL_ERROR):
                failures.add("an invalid message did not end the protocol with SUBPROTOCOL_ERROR", case, at_msg)
                break
            if eth.ended is not None:
                break
            sent = eth.take()
            if code == BlockRangeUpdate.CODE:
                ranges += 1
                info = eth.proto.peer_info()
                want = rlp.decode(payload)
                if sent or [info["earliestBlock"], info["latestBlock"], info["latestBlockHash"]] != [
                        int.from_bytes(want[0], "big"), int.from_bytes(want[1], "big"), "0x" + want[2].hex()]:
                    failures.add("an accepted BlockRangeUpdate is not what admin_peers shows", case, at_msg,
                                 repr(info))
            elif len(sent) != 1 or sent[0].request_id != int.from_bytes(rlp.decode(payload)[0], "big"):
                failures.add("a request was not answered with its id", case, at_msg, repr(sent))
            else:
                answered += 1
                if isinstance(sent[0], Receipts70) and sent[0].last_block_incomplete is not False:
                    failures.add("eth/70 Receipts answer not complete", case, at_msg, repr(sent))
    failures.check(sessions)
    assert ranges >= 5 and answered >= 20, (ranges, answered)
