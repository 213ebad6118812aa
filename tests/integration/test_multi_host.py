"""Multi-host deployments (docs/multi-host.md) across network namespaces that this module makes:
a leader host ``a`` and member hosts ``b`` and ``c``, each its own namespace with its own address
on one bridge, running ``run_node.py`` and ``run_node.py join`` as a user would; and ``x``, a
namespace whose address is in no part of the config.

Four nodes: n1 on a, n2 on b, n3 and n4 on c; n2 dials n1, n3 dials n2, n4 dials n1, so every
link crosses namespaces.  A node may dial one on a host that has not joined yet: it retries
after its dial history, 2 s here (go-ethereum's 35 s by default).  The tests run in file order on one deployment: connect, a fault
injected into a remote node, a member killed and rejoining, a member cut off for a while, the
leader killed and restarted, a stranger refused.
Needs root (ip netns); skipped with the reason otherwise.
"""

from __future__ import annotations

import json
import os
import pickle
import signal
import subprocess
import sys

import pytest

from support import events_file, netns
from support.wait import wait_until

pytestmark = pytest.mark.integration

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
RUN_NODE = os.path.join(ROOT, "run_node.py")
ADMIN_PORT = 19301
HOSTS = ("a", "b", "c", "x")

CONFIG = """
hosts:
  a: {{address: {a}}}
  b: {{address: {b}}}
  c: {{address: {c}}}
actor_system: {{admin_port: {port}}}
nodes:
  - name: n1
    host: a
    discovery: false
    timeouts: {{dial_history_s: 2}}
    protocols: [{{name: test, version: 1, echo: true}}]
  - name: n2
    host: b
    discovery: false
    timeouts: {{dial_history_s: 2}}
    static_nodes: [n1]
    protocols: [{{name: test, version: 1, echo: true}}]
  - name: n3
    host: c
    discovery: false
    timeouts: {{dial_history_s: 2}}
    static_nodes: [n2]
    protocols: [{{name: test, version: 1, echo: true}}]
  - name: n4
    host: c
    listen_addr: {c}:30304
    discovery: false
    timeouts: {{dial_history_s: 2}}
    static_nodes: [n1]
    protocols: [{{name: test, version: 1, echo: true}}]
"""


class Deployment:
    """The lab, the config file, and the run_node.py processes in their namespaces."""

    def __init__(self, lab: netns.NetnsLab, tmp):
        self.lab, self.dir = lab, tmp
        self.config = str(tmp / "hosts.yaml")
        with open(self.config, "w") as f:
            f.write(CONFIG.format(port=ADMIN_PORT, **lab.address))
        self.events = str(tmp / "events.jsonl")
        self.procs: dict[str, subprocess.Popen] = {}
        self.logs: dict[str, str] = {}

    def start(self, host: str, *args: str, tag: str | None = None) -> subprocess.Popen:
        """Run ``run_node.py args`` in ``host``'s namespace, output to files (never pipes: the
        daemonised Thespian admin inherits them, docs/thespian-facts.md §7)."""
        tag = tag or host
        log = str(self.dir / f"{tag}.log")
        self.logs[tag] = log
        out = open(log, "a")
        cmd = self.lab.cmd(host, [sys.executable, RUN_NODE, *args, "--config", self.config])
        proc = subprocess.Popen(cmd, cwd=str(self.dir), stdout=out, stderr=out, stdin=subprocess.DEVNULL)
        out.close()
        self.procs[tag] = proc
        return proc

    def admin(self, *args: str) -> subprocess.CompletedProcess:
        """An admin command run on the leader host; its JSON answer on stdout."""
        out, err = self.dir / "admin.out", self.dir / "admin.err"
        with open(out, "w") as o, open(err, "w") as e:
            code = subprocess.run(self.lab.cmd("a", [sys.executable, RUN_NODE, *args, "--config", self.config]),
                                  cwd=str(self.dir), stdout=o, stderr=e, stdin=subprocess.DEVNULL, timeout=60)
        return subprocess.CompletedProcess(args, code.returncode, out.read_text(), err.read_text())

    def leader_log(self) -> str:
        """What the running leader (the latest ``run_node.py`` on host a) has logged so far."""
        tag = [t for t in self.logs if t.startswith("a")][-1]
        with open(self.logs[tag]) as f:
            return f.read()

    def read_events(self) -> list[dict]:
        return events_file.read_events(self.events)

    def wait_events(self, kind: str, count: int = 1, timeout_s: float = 30.0, **match) -> list[dict]:
        return events_file.wait_events(self.events, kind, count, timeout_s, interval_s=0.1, **match)

    def node_ids(self) -> dict[str, str]:
        """Node name -> node id (hex) from the latest ``ready`` events."""
        return {e["node"]: e["id"] for e in self.read_events() if e["event"] == "ready"}

    def peers_of(self, node: str) -> list[str]:
        """Node ids (128 hex, as in ``ready``) of ``node``'s peers, by the admin command ``peers``
        (admin_peers: the id there is go-ethereum's 32-byte hash, the key is in the enode URL)."""
        done = self.admin("peers", "--node", node)
        assert done.returncode == 0, done.stderr
        return [p["enode"].split("//", 1)[1].split("@", 1)[0] for p in json.loads(done.stdout)]

    def stop(self, tag: str, timeout_s: float = 30.0) -> int | None:
        proc = self.procs.get(tag)
        if proc is None or proc.poll() is not None:
            return proc.returncode if proc else None
        proc.send_signal(signal.SIGTERM)
        try:
            return proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            return None

    def kill_host(self, host: str) -> int:
        """SIGKILL every process in ``host``'s namespace (its whole actor system); how many."""
        pids = self.lab.pids_of(host)
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        wait_until(lambda: not self.lab.pids_of(host), 10, f"every process of host {host} gone")
        return len(pids)


@pytest.fixture(scope="module")
def deployment(tmp_path_factory):
    why = netns.unavailable()
    if why is not None:
        pytest.skip(why)
    lab = netns.NetnsLab(HOSTS, net=77)
    dep = Deployment(lab, tmp_path_factory.mktemp("multihost"))
    try:
        dep.start("b", "join", "--host", "b")  # a member may start before its leader
        dep.start("a", "--events", dep.events)
        dep.wait_events("ready", node="n1")
        dep.start("c", "join", "--host", "c")
        yield dep
    finally:
        # members first, then the leader (a member left behind would wait out Thespian's
        # 5-minute transmit timeout: docs/thespian-facts.md §6)
        codes = {tag: dep.stop(tag) for tag in list(dep.procs) if not tag.startswith("a")}
        codes.update({tag: dep.stop(tag) for tag in list(dep.procs) if tag.startswith("a")})
        left = lab.pids()
        lab.close()
        assert not left, f"processes left in the namespaces after stopping: {left}; exit codes {codes}"


def test_nodes_run_on_their_hosts_and_connect_across_namespaces(deployment):
    dep = deployment
    joined = {e["host"]: e for e in dep.wait_events("host_joined", count=2)}
    assert joined["b"]["nodes"] == ["n2"] and joined["b"]["address"] == dep.lab.address["b"]
    assert joined["c"]["nodes"] == ["n3", "n4"]
    for name in ("n2", "n3", "n4"):
        dep.wait_events("ready", node=name)
    ready = {e["node"]: e for e in dep.read_events() if e["event"] == "ready"}
    assert f"@{dep.lab.address['b']}:30303" in ready["n2"]["enode"]
    assert f"@{dep.lab.address['c']}:30304" in ready["n4"]["enode"]
    ids = dep.node_ids()
    dep.wait_events("peer_added", node="n1", peer_id=ids["n2"])
    dep.wait_events("peer_added", node="n1", peer_id=ids["n4"])
    dep.wait_events("peer_added", node="n2", peer_id=ids["n3"])
    added = [e for e in dep.read_events() if e["event"] == "peer_added" and e["node"] == "n1"]
    assert {e["remote_address"].rsplit(":", 1)[0] for e in added} == {dep.lab.address["b"], dep.lab.address["c"]}
    # the Peers of a remote node run on its host: n2's processes are in b's namespace
    assert len(dep.lab.pids_of("b")) >= 6  # join, admin, logger, agent, Server, Listener, Dialer, Peer, Protocol
    # admin commands given at the leader reach a node on another host
    assert set(dep.peers_of("n2")) == {ids["n1"], ids["n3"]}
    info = dep.admin("info", "--node", "n3")
    assert info.returncode == 0, info.stderr
    assert ids["n3"] in json.loads(info.stdout)["enode"]


def test_fault_injected_into_a_remote_node_is_seen_at_the_leader(deployment):
    dep = deployment
    dep.wait_events("ready", node="n3")
    done = dep.admin("fault", "listener", "kill", "--node", "n3")
    assert done.returncode == 0, done.stderr
    dep.wait_events("actor_restarted", node="n3", actor="listener")
    exited = dep.wait_events("actor_exited", node="n3", actor="listener")
    assert exited


def test_a_member_killed_is_lost_and_its_nodes_return_when_it_rejoins(deployment):
    dep = deployment
    ids = dep.node_ids()
    dep.wait_events("peer_added", node="n1", peer_id=ids["n4"])
    assert dep.kill_host("c") >= 5
    lost = dep.wait_events("host_lost", host="c", timeout_s=20)[0]
    assert lost["nodes"] == ["n3", "n4"] and lost["reason"] in ("no answer", "left")
    dep.wait_events("peer_removed", node="n1", peer_id=ids["n4"])
    # the other hosts keep running: n1 and n2 are still peers, and a's and b's processes live
    assert ids["n2"] in dep.peers_of("n1")
    assert dep.procs["a"].poll() is None and dep.procs["b"].poll() is None
    gone = dep.admin("peers", "--node", "n3")
    assert gone.returncode == 1 and "has not joined" in gone.stderr
    # the member comes back: its nodes start again and reconnect
    dep.start("c", "join", "--host", "c", tag="c2")
    dep.wait_events("host_joined", host="c", count=2)
    dep.wait_events("ready", node="n4", count=2)
    dep.wait_events("peer_added", node="n1", peer_id=ids["n4"], count=2)
    assert ids["n4"] in dep.peers_of("n1")


def test_a_member_cut_off_for_a_while_comes_back_by_itself(deployment):
    dep = deployment
    ids = dep.node_ids()

    def count(kind, **match):
        return len(events_file.matching(dep.read_events(), kind, **match))

    lost, joined = count("host_lost", host="b"), count("host_joined", host="b")
    added = count("peer_added", node="n1", peer_id=ids["n2"])
    dep.lab.link("b", up=False)
    try:
        got = dep.wait_events("host_lost", host="b", count=lost + 1, timeout_s=20)[-1]
        assert got["reason"] == "no answer"
    finally:
        dep.lab.link("b", up=True)
    # still in the convention, so no new registration notice: the leader probes it
    dep.wait_events("host_joined", host="b", count=joined + 1, timeout_s=60)
    dep.wait_events("peer_added", node="n1", peer_id=ids["n2"], count=added + 1, timeout_s=60)
    assert ids["n2"] in dep.peers_of("n1")
    assert dep.procs["b"].poll() is None  # the same join process: nothing was restarted by hand


def test_a_restarted_leader_gets_its_members_and_their_nodes_back(deployment):
    dep = deployment
    ids = dep.node_ids()
    counts = {k: len([e for e in dep.read_events() if e["event"] == k[0] and e.get(k[1]) == k[2]])
              for k in (("host_joined", "host", "b"), ("host_joined", "host", "c"), ("ready", "node", "n2"),
                        ("ready", "node", "n4"))}
    assert dep.kill_host("a") >= 5
    dep.start("a", "--events", dep.events, tag="a2")
    for (kind, key, value), n in counts.items():
        dep.wait_events(kind, count=n + 1, timeout_s=40, **{key: value})
    # the members' nodes of the old leader stopped, and the new ones connect to the new n1
    dep.wait_events("peer_added", node="n1", peer_id=ids["n2"], count=2, timeout_s=30)
    dep.wait_events("peer_added", node="n1", peer_id=ids["n4"], count=3, timeout_s=30)
    assert set(dep.peers_of("n2")) >= {ids["n1"]}


SEND_PICKLE = r"""
import json, socket, sys
host, port, payload = sys.argv[1], int(sys.argv[2]), bytes.fromhex(sys.argv[3])
s = socket.create_connection((host, port), timeout=5)
s.sendall(payload)
s.settimeout(5)
try:
    got = s.recv(4096)
    print("closed" if got == b"" else "reply")
except ConnectionResetError:
    print("closed")
except socket.timeout:
    print("open after 5 s")
"""

ROGUE_MEMBER = r"""
import os, sys, time
os.environ["THESPIAN_BASE_IPADDR"] = sys.argv[1]
from thespian.actors import ActorSystem
asys = ActorSystem("multiprocTCPBase", {"Admin Port": int(sys.argv[3]), "devp2p-host": "b",
                   "Convention Address.IPv4": (sys.argv[2], int(sys.argv[3]))}, transientUnique=True)
print("started", flush=True)
time.sleep(600)
"""


class _CreatesFile:
    """Unpickling this creates ``path`` (the marker: it proves the pickle ran)."""

    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (open, (self.path, "w"))


def test_a_host_not_in_the_config_can_neither_join_nor_connect(deployment):
    dep = deployment
    leader, stranger = dep.lab.address["a"], dep.lab.address["x"]
    marker = str(dep.dir / "stranger-was-here")
    data = pickle.dumps(_CreatesFile(marker))
    frame = b"%d>" % len(data) + data
    done = subprocess.run(dep.lab.cmd("x", [sys.executable, "-c", SEND_PICKLE, leader, str(ADMIN_PORT), frame.hex()]),
                          capture_output=True, text=True, timeout=30)  # no Thespian here: a pipe is fine
    assert done.stdout.strip() == "closed", done.stderr
    wait_until(lambda: f"connection from {stranger}" in dep.leader_log(), 10,
               "the leader's refusal line for the stranger")
    assert not os.path.exists(marker)
    # a whole actor system in x that claims to be host b and asks to join the leader's convention
    joined_before = len([e for e in dep.read_events() if e["event"] == "host_joined"])
    refusals_before = dep.leader_log().count(f"connection from {stranger}")
    rogue_log = open(dep.dir / "rogue.log", "w")
    subprocess.Popen(dep.lab.cmd("x", [sys.executable, "-c", ROGUE_MEMBER, stranger, leader, str(ADMIN_PORT)]),
                     stdout=rogue_log, stderr=rogue_log, stdin=subprocess.DEVNULL, cwd=str(dep.dir))
    rogue_log.close()
    try:
        wait_until(lambda: dep.leader_log().count(f"connection from {stranger}") > refusals_before, 20,
                   "the leader refusing the stranger's registration")
        wait_until(lambda: "started" in open(dep.dir / "rogue.log").read(), 20, "the stranger's actor system up")
        assert len([e for e in dep.read_events() if e["event"] == "host_joined"]) == joined_before
        # every host b that joined did so from b's address: the stranger took nothing over
        assert {e["address"] for e in dep.read_events() if e["event"] == "host_joined" and e["host"] == "b"} \
            == {dep.lab.address["b"]}
    finally:
        dep.kill_host("x")
