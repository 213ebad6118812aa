"""run_node.py driven as a subprocess, exactly as a user runs it.

Output goes to files, never pipes: the daemonised Thespian admin inherits the launcher's
stdout/stderr, so a pipe would never reach EOF (docs/thespian-facts.md §7).  Every process started
here is found again by a token in its environment (actor processes are forks of run_node.py and
inherit it; no other process on the machine has it) and must be gone at the end of each test.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time

import pytest

from discovery.enr import parse_text
from discovery.node_url import parse_node_url

from support import events_file
from support.wait import wait_until

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
RUN_NODE = os.path.join(ROOT, "run_node.py")


def free_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


RUN_TOKEN = "DEVP2P_TEST_RUN"
"""Environment variable that marks the processes of one run_node.py started here: every actor
process is a fork of it and inherits its environment, and no other process on the machine has it."""


def processes_with(token: str) -> list[int]:
    """Live (non-zombie) PIDs whose environment has ``RUN_TOKEN=token``."""
    needle = f"{RUN_TOKEN}={token}".encode()
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/environ", "rb") as f:
                env = f.read().split(b"\0")
            with open(f"/proc/{entry}/stat") as f:
                st = f.read()
        except OSError:
            continue
        if needle in env and st[st.rindex(")") + 2] not in "ZX":
            pids.append(int(entry))
    return pids


def run_env() -> tuple[str, dict]:
    """A fresh token and the environment that carries it."""
    import uuid
    token = uuid.uuid4().hex
    return token, dict(os.environ, **{RUN_TOKEN: token})


class Run:
    """One run_node.py invocation with its own directory, ports and output files."""

    def __init__(self, tmp_path, text: str | None, *args: str):
        self.dir = tmp_path
        self.config = None
        if text is not None:
            self.config = str(tmp_path / "node.yaml")
            with open(self.config, "w") as f:
                f.write(text)
        self.events = str(tmp_path / "events.jsonl")
        self.out = open(tmp_path / "stdout.txt", "w")
        self.err_path = tmp_path / "stderr.txt"
        self.err = open(self.err_path, "w")
        cmd = [sys.executable, RUN_NODE, *args]
        if self.config:
            cmd += ["--config", self.config]
        self.token, env = run_env()
        self.proc = subprocess.Popen(cmd, cwd=str(tmp_path), stdout=self.out, stderr=self.err,
                                     stdin=subprocess.DEVNULL, env=env)

    def processes(self) -> list[int]:
        """The live processes of this run (the launcher and every actor process it started)."""
        return processes_with(self.token)

    def read_events(self) -> list[dict]:
        return events_file.read_events(self.events)

    def wait_events(self, kind: str, count: int = 1, timeout_s: float = 20.0, **match) -> list[dict]:
        return events_file.wait_events(self.events, kind, count, timeout_s, **match)

    def stderr(self) -> str:
        self.err.flush()
        return self.err_path.read_text()

    def wait_exit(self, timeout_s: float = 30.0) -> int:
        return self.proc.wait(timeout=timeout_s)

    def close(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        left = self.processes()
        deadline = time.monotonic() + 10.0
        while True:  # again until none: a process forked after a sweep has the token too
            now_left = self.processes()
            if not now_left or time.monotonic() > deadline:
                break
            for pid in now_left:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            wait_until(lambda: not set(self.processes()) & set(now_left), 2.0)
        self.out.close()
        self.err.close()
        return left


def admin(run: Run, *args: str, timeout_s: float = 30.0) -> subprocess.CompletedProcess:
    out = run.dir / "admin_out.txt"
    with open(out, "w") as f, open(run.dir / "admin_err.txt", "w") as e:
        rc = subprocess.run([sys.executable, RUN_NODE, *args, "--config", run.config], cwd=str(run.dir),
                            stdout=f, stderr=e, stdin=subprocess.DEVNULL, timeout=timeout_s).returncode
    return subprocess.CompletedProcess(args, rc, out.read_text(), (run.dir / "admin_err.txt").read_text())


def two_node_yaml(admin_port, pa, pb, extra_b=""):
    return f"""
actor_system: {{admin_port: {admin_port}}}
nodes:
  - name: alpha
    listen_addr: 127.0.0.1:{pa}
    protocols: [{{name: test, version: 1, echo: true}}]
  - name: beta
    listen_addr: 127.0.0.1:{pb}
    static_nodes: [alpha]
    timeouts: {{dial_history_s: 0.5}}
    protocols: [{{name: test, version: 1, echo: false, send_count: 50, send_size: 64}}]
{extra_b}"""


@pytest.fixture
def runs():
    started = []

    def start(tmp_path, text, *args):
        r = Run(tmp_path, text, *args)
        started.append(r)
        return r
    yield start
    leftovers = [r.close() for r in started]
    assert not any(leftovers), f"processes left behind: {leftovers}"


def test_two_nodes_connect_admin_and_sigterm(tmp_path, runs):
    run = runs(tmp_path, two_node_yaml(free_port(), free_port(), free_port()), "--events", "events.jsonl")
    added = run.wait_events("peer_added", count=2)
    assert {e["node"] for e in added} == {"alpha", "beta"}
    by_node = {e["node"]: e for e in added}
    assert by_node["alpha"]["inbound"] is True and by_node["beta"]["inbound"] is False
    assert by_node["alpha"]["name"] == "beta" and by_node["alpha"]["caps"] == ["test/1"]
    assert by_node["beta"]["offsets"] == [{"name": "test", "version": 1, "offset": 16, "length": 8}]
    report = run.wait_events("protocol_event", node="beta")[0]
    assert report["kind"] == "test_report" and report["data"]["mismatches"] == 0
    for ev in run.read_events():
        assert {"event", "node", "time"} <= set(ev) and ev["time"].endswith("Z")

    peers = admin(run, "peers", "--node", "alpha")
    assert peers.returncode == 0, peers.stderr
    [peer] = json.loads(peers.stdout)
    assert peer["name"] == "beta" and peer["network"]["inbound"] is True
    info = admin(run, "info", "--node", "beta")
    assert info.returncode == 0, info.stderr
    beta_info = json.loads(info.stdout)
    assert beta_info["name"] == "beta" and beta_info["enode"].startswith("enode://")
    alpha_info = json.loads(admin(run, "info", "--node", "alpha").stdout)
    alpha_enode, alpha_enr = alpha_info["enode"], alpha_info["enr"]
    # admin_nodeInfo.enr: our record, dialled at the enode's address; the same record when asked again
    assert parse_node_url(alpha_enr) == parse_node_url(alpha_enode)
    assert json.loads(admin(run, "info", "--node", "alpha").stdout)["enr"] == alpha_enr
    assert parse_text(alpha_enr).eth is None  # test/1 only: no eth entry (EIP-868)

    removed = admin(run, "remove-peer", alpha_enode, "--node", "beta")
    assert removed.returncode == 0, removed.stderr
    gone = run.wait_events("peer_removed", count=2)
    assert {(e["node"], e["reason"]) for e in gone} == {("alpha", "REQUESTED"), ("beta", "REQUESTED")}
    assert {e["node"]: e["remote_requested"] for e in gone} == {"alpha": True, "beta": False}
    assert json.loads(admin(run, "peers", "--node", "beta").stdout) == []

    assert admin(run, "add-peer", alpha_enr, "--node", "beta").returncode == 0  # an enr: works as well
    run.wait_events("peer_added", count=4)

    run.proc.send_signal(signal.SIGTERM)
    assert run.wait_exit() == 0
    kinds = [e["event"] for e in run.read_events()]
    assert kinds.count("stopped") == 2
    quits = [e for e in run.read_events() if e["event"] == "peer_removed" and e["reason"] == "QUITTING"]
    assert quits, "peers must be disconnected with QUITTING on shutdown"
    assert run.processes() == []


@pytest.mark.parametrize("dialer_first", [True, False])
def test_nodes_of_one_file_connect_at_once_in_either_order(tmp_path, runs, dialer_first):
    # default timeouts: a refused first dial would wait out the 35 s dial history
    dialer = f"""  - name: alpha
    listen_addr: 127.0.0.1:{free_port()}
    static_nodes: [beta]
"""
    listener = f"""  - name: beta
    listen_addr: 127.0.0.1:{free_port()}
"""
    text = f"actor_system: {{admin_port: {free_port()}}}\nnodes:\n" + (
        dialer + listener if dialer_first else listener + dialer)
    run = runs(tmp_path, text, "--events", "events.jsonl")
    added = run.wait_events("peer_added", count=2, timeout_s=10)
    events = run.read_events()
    readies = [e for e in events if e["event"] == "ready"]
    first_dial = min(i for i, e in enumerate(events) if e["event"] in ("peer_added", "dial_failed"))
    assert len(readies) == 2 and all(events.index(r) < first_dial for r in readies)
    assert not [e for e in events if e["event"] == "dial_failed"]
    last_ready = max(_seconds(e["time"]) for e in readies)
    assert max(_seconds(e["time"]) for e in added) - last_ready < 2.0


def _seconds(stamp: str) -> float:
    from datetime import datetime
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


def test_sigint_stops_cleanly(tmp_path, runs):
    run = runs(tmp_path, two_node_yaml(free_port(), free_port(), free_port()), "--events", "events.jsonl")
    run.wait_events("peer_added", count=2)
    # control: the token finds the run's processes (launcher, admin, logger, writer, 2 Servers,
    # their Listeners and Dialers, 2 Peers, 2 Protocol actors); the Protocol actors are forked
    # once peer_added is out, so wait for them
    wait_until(lambda: len(run.processes()) >= 14, 10, "the run's 14 processes")
    run.proc.send_signal(signal.SIGINT)
    assert run.wait_exit() == 0
    assert "Traceback" not in run.stderr()
    assert run.processes() == []
    assert [e["event"] for e in run.read_events()].count("stopped") == 2


def test_default_config_shows_the_main_job(tmp_path, runs):
    for port in (19001, 30303, 30304):
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            pytest.fail(f"default port {port} is taken on this machine; the default config cannot run")
        finally:
            s.close()
    run = runs(tmp_path, None, "--events", "events.jsonl", "--duration", "8")
    assert run.wait_exit(40) == 0, run.stderr()
    kinds = [e["event"] for e in run.read_events()]
    assert kinds.count("ready") == 2 and kinds.count("peer_added") == 2
    reports = [e for e in run.read_events() if e["event"] == "protocol_event" and e["kind"] == "test_report"]
    assert reports and reports[0]["data"]["count"] == 2000 and reports[0]["data"]["mismatches"] == 0
    assert (tmp_path / "data" / "alpha.key").exists()
    assert run.processes() == []


@pytest.mark.parametrize("text, words", [
    ("nodes: [{name: a, surprise: 1}]", "nodes[0].surprise: unknown key"),
    ("nodes: [{name: a, max_peers: many}]", "nodes[0].max_peers: must be an integer"),
    ("nodes: [{name: a, static_nodes: ['enode://zz@1.2.3.4:5']}]", "nodes[0].static_nodes[0]"),
    ("nodes: [{name: a, net_restrict: [300.1.1.1/8]}]", "nodes[0].net_restrict[0]: invalid CIDR"),
    ("nodes: [{name: a, key_file: /proc/nope/a.key}]", "nodes[0].key_file: cannot create"),
    ("nodes: [{name: a, listen_addr: '127.0.0.1:31999'}, {name: b, listen_addr: '127.0.0.1:31999'}]",
     "nodes[1].listen_addr: port 31999 is also used"),
    ("nodes: [{name: a\n", "invalid YAML"),
])
def test_invalid_config_exits_2_and_starts_nothing(tmp_path, runs, text, words):
    run = runs(tmp_path, text)
    assert run.wait_exit(20) == 2
    err = run.stderr()
    assert words in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1
    assert run.processes() == []


def test_taken_listen_port_fails_with_one_line(tmp_path, runs):
    blocker = socket.socket()
    blocker.bind(("127.0.0.1", 0))
    blocker.listen(1)
    port = blocker.getsockname()[1]
    try:
        run = runs(tmp_path, f"actor_system: {{admin_port: {free_port()}}}\n"
                             f"node: {{name: a, listen_addr: '127.0.0.1:{port}'}}\n")
        assert run.wait_exit(20) == 1
        err = run.stderr()
        assert "already in use" in err and "Traceback" not in err
    finally:
        blocker.close()
    assert run.processes() == []


def test_taken_admin_port_fails_with_one_line(tmp_path, runs):
    blocker = socket.socket()
    blocker.bind(("127.0.0.1", 0))
    blocker.listen(1)
    port = blocker.getsockname()[1]
    try:
        run = runs(tmp_path, f"actor_system: {{admin_port: {port}}}\nnode: {{name: a, listen_addr: '127.0.0.1:0'}}\n")
        assert run.wait_exit(20) == 1
        err = run.stderr()
        assert f"admin port 127.0.0.1:{port} is already in use" in err and "Traceback" not in err
    finally:
        blocker.close()
    assert run.processes() == []


def test_admin_command_without_running_node(tmp_path):
    cfg = tmp_path / "n.yaml"
    cfg.write_text(f"actor_system: {{admin_port: {free_port()}}}\nnode: {{name: a, listen_addr: '127.0.0.1:0'}}\n")
    with open(tmp_path / "o", "w") as o, open(tmp_path / "e", "w") as e:
        rc = subprocess.run([sys.executable, RUN_NODE, "peers", "--config", str(cfg)], stdout=o, stderr=e,
                            stdin=subprocess.DEVNULL, timeout=30).returncode
    assert rc == 1
    assert "no node is running" in (tmp_path / "e").read_text()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["e", "n.yaml", "o"]  # no key file: only run creates one


def test_console_on_a_terminal(tmp_path):
    """stdout a pseudo-terminal: one readable line per event in go-ethereum's style, the test
    report in words; the JSON Lines go to --events unchanged."""
    import pty
    import re
    import select

    cfg = tmp_path / "node.yaml"
    cfg.write_text(two_node_yaml(free_port(), free_port(), free_port()))
    master, slave = pty.openpty()
    err = open(tmp_path / "stderr.txt", "w")
    token, env = run_env()
    proc = subprocess.Popen([sys.executable, RUN_NODE, "--config", str(cfg), "--events", "events.jsonl"],
                            cwd=str(tmp_path), stdout=slave, stderr=err, stdin=subprocess.DEVNULL, env=env)
    os.close(slave)
    text = b""
    try:
        deadline = time.monotonic() + 30
        while b"mismatches" not in text and time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.5)
            if ready:
                try:
                    text += os.read(master, 65536)
                except OSError:
                    break
    finally:
        proc.send_signal(signal.SIGTERM)
        rc = proc.wait(timeout=30)
        err.close()
        os.close(master)
        left = processes_with(token)
        for pid in left:
            os.kill(pid, signal.SIGKILL)
    assert rc == 0 and left == []
    lines = text.decode().replace("\r\n", "\n").splitlines()
    stamp = r"\[\d\d-\d\d\|\d\d:\d\d:\d\d\.\d{3}\]"
    connected = [ln for ln in lines if re.match(rf"INFO {stamp} Peer connected +node=(alpha|beta) id=[0-9a-f]{{8}}… "
                                                rf"name=(alpha|beta) caps=test/1 inbound=(true|false) ", ln)]
    assert len(connected) == 2, lines
    assert [ln for ln in lines if re.match(rf"INFO {stamp} echoed 50 x 64 B in \d+\.\d\d s, [\d,]+ msg/s, "
                                           rf"0 mismatches +node=beta ", ln)], lines
    assert not [ln for ln in lines if ln.startswith("{")], "JSON on the terminal"
    events = [json.loads(ln) for ln in (tmp_path / "events.jsonl").read_text().splitlines()]
    assert [e["event"] for e in events].count("peer_added") == 2


def test_msg_events_when_enabled(tmp_path, runs):
    text = two_node_yaml(free_port(), free_port(), free_port()).replace(
        "    static_nodes: [alpha]", "    static_nodes: [alpha]\n    enable_msg_events: true")
    run = runs(tmp_path, text, "--events", "events.jsonl")
    run.wait_events("protocol_event", node="beta")
    sends = run.wait_events("msg_send", count=50, node="beta")
    recvs = run.wait_events("msg_recv", count=50, node="beta")
    assert {e["size"] for e in sends} == {64} and {e["protocol"] for e in recvs} == {"test"}
    assert sorted({e["code"] for e in sends}) == list(range(8))
    assert not [e for e in run.read_events() if e["event"].startswith("msg_") and e["node"] == "alpha"]


def test_fault_command_and_recovery_events(tmp_path, runs):
    text = two_node_yaml(free_port(), free_port(), free_port()).replace(
        "    protocols: [{name: test, version: 1, echo: true}]",
        "    supervision: {listener: {max_restarts: 3, within_s: 30, backoff_s: 0.05}}\n"
        "    protocols: [{name: test, version: 1, echo: true, on_failure: restart, max_restarts: 5}]")
    run = runs(tmp_path, text, "--events", "events.jsonl")
    run.wait_events("peer_added", count=2)
    assert admin(run, "fault", "listener", "kill", "--node", "alpha").returncode == 0
    exited = run.wait_events("actor_exited", node="alpha", actor="listener")[0]
    assert exited["cause"] == "injected kill"
    restarted = run.wait_events("actor_restarted", node="alpha", actor="listener")[0]
    assert restarted["attempt"] == 1 and restarted["delay_s"] == 0.05
    beta_id = json.loads(admin(run, "info", "--node", "beta").stdout)["enode"][8:20]
    assert admin(run, "fault", f"protocol:{beta_id}:test", "kill", "--node", "alpha").returncode == 0
    run.wait_events("actor_restarted", node="alpha", actor="protocol")
    assert not [e for e in run.read_events() if e["event"] == "peer_removed"]
    bad = admin(run, "fault", "peer:ffffffffffff", "kill", "--node", "alpha")
    assert bad.returncode == 1 and "no such target" in bad.stderr
    assert admin(run, "fault", "listener", "melt", "--node", "alpha").returncode == 2
    kinds = [e["event"] for e in run.read_events()]
    assert kinds.count("fault_injected") == 2


def zombie_children(pid: int) -> list[int]:
    """Children of ``pid`` (that process only: /proc/<pid>/task/*/children) in state Z."""
    zombies = []
    for task in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{task}/children") as f:
                children = [int(c) for c in f.read().split()]
        except OSError:
            continue
        for child in children:
            try:
                with open(f"/proc/{child}/stat") as f:
                    st = f.read()
            except OSError:
                continue
            if st[st.rindex(")") + 2] == "Z":
                zombies.append(child)
    return zombies


def test_run_node_has_no_zombie_child(tmp_path, runs):
    # Thespian's admin launcher exits right after forking the admin
    run = runs(tmp_path, two_node_yaml(free_port(), free_port(), free_port()), "--events", "events.jsonl")
    run.wait_events("peer_added", count=2)
    assert zombie_children(run.proc.pid) == []
    run.proc.send_signal(signal.SIGTERM)
    assert run.wait_exit() == 0
