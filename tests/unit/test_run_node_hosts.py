"""run_node.py's multi-host argument handling (``join``, ``run`` with a ``hosts:`` section, and
``--leader`` parsing) in the cases that fail before any actor system starts: exit codes and the
one stderr line.  An autouse fixture makes starting or joining an actor system fail the test, so
none of these starts a process."""

import os
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

import run_node  # noqa: E402 - after the repo root is on sys.path
from config.loader import load_file  # noqa: E402
from rlpx.keys import load_or_create_key_file  # noqa: E402

NOT_HERE_A = "10.255.255.1"
NOT_HERE_B = "10.255.255.2"
"""Addresses of no interface of this machine (the tests check that first)."""


def test_run_node_is_this_checkout():
    assert os.path.dirname(os.path.abspath(run_node.__file__)) == ROOT


@pytest.fixture(autouse=True)
def no_actor_system(monkeypatch):
    """Any start or join of an actor system is recorded and refused; the test then fails."""
    import actors.system

    calls = []

    def refuse(name):
        def f(*args, **kwargs):
            calls.append(name)
            raise AssertionError(f"{name} called: this test must fail before any actor system starts")
        return f

    monkeypatch.setattr(actors.system, "start_actor_system", refuse("start_actor_system"))
    monkeypatch.setattr(actors.system, "join_actor_system", refuse("join_actor_system"))
    yield calls
    assert calls == []


@pytest.fixture(autouse=True)
def addresses_not_local():
    from actors.adapter.accept_guard import is_local_address
    import ipaddress

    for ip in (NOT_HERE_A, NOT_HERE_B):
        if is_local_address(ipaddress.ip_address(ip)):
            pytest.skip(f"{ip} is an address of this machine")


def write_config(tmp_path, hosts: str, actor_system: str = "{admin_port: 19555}") -> str:
    """A two-node config with the given ``hosts:`` mapping (YAML flow) and its key files in
    ``tmp_path``."""
    for name in ("n1", "n2"):
        load_or_create_key_file(str(tmp_path / f"{name}.key"))
    path = tmp_path / "hosts.yaml"
    path.write_text(f"""
hosts: {hosts}
actor_system: {actor_system}
nodes:
  - {{name: n1, host: a, key_file: "{tmp_path / 'n1.key'}"}}
  - {{name: n2, host: b, key_file: "{tmp_path / 'n2.key'}"}}
""")
    return str(path)


def single_host_config(tmp_path) -> str:
    load_or_create_key_file(str(tmp_path / "n1.key"))
    path = tmp_path / "single.yaml"
    path.write_text(f"""
actor_system: {{admin_port: 19555}}
nodes:
  - {{name: n1, listen_addr: "127.0.0.1:30303", key_file: "{tmp_path / 'n1.key'}"}}
""")
    return str(path)


@pytest.fixture
def member_not_here(tmp_path):
    """Leader a on loopback, member b on an address of no interface here."""
    return write_config(tmp_path, f"{{a: {{address: 127.0.0.1}}, b: {{address: {NOT_HERE_B}}}}}")


def one_line(capsys) -> str:
    out, err = capsys.readouterr()
    assert out == ""
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("run_node: ")
    return lines[0]


# -- join --------------------------------------------------------------------------------
def test_join_without_hosts_section(tmp_path, capsys):
    assert run_node.main(["join", "--config", single_host_config(tmp_path), "--host", "b"]) == 2
    line = one_line(capsys)
    assert "join needs a config with a `hosts:` section" in line


def test_join_without_host(member_not_here, capsys):
    assert run_node.main(["join", "--config", member_not_here]) == 2
    assert "join needs --host NAME" in one_line(capsys)


def test_join_without_host_nor_hosts_section(tmp_path, capsys):
    assert run_node.main(["join", "--config", single_host_config(tmp_path)]) == 2
    assert "join needs --host NAME" in one_line(capsys)


def test_join_the_leader_host(member_not_here, capsys):
    assert run_node.main(["join", "--config", member_not_here, "--host", "a"]) == 2
    line = one_line(capsys)
    assert "host a is the convention leader" in line and "`run`" in line


def test_join_the_leader_given_by_actor_system_leader(tmp_path, capsys):
    cfg = write_config(tmp_path, f"{{a: {{address: {NOT_HERE_A}}}, b: {{address: 127.0.0.1}}}}",
                       "{admin_port: 19555, leader: b}")
    assert run_node.main(["join", "--config", cfg, "--host", "b"]) == 2
    assert "host b is the convention leader" in one_line(capsys)


def test_join_unknown_host_names_the_hosts(member_not_here, capsys):
    assert run_node.main(["join", "--config", member_not_here, "--host", "nosuch"]) == 2
    line = one_line(capsys)
    assert "no host named 'nosuch'" in line and "(have: a, b)" in line


def test_join_host_whose_address_is_not_here(member_not_here, capsys):
    assert run_node.main(["join", "--config", member_not_here, "--host", "b"]) == 1
    line = one_line(capsys)
    assert f"this machine has no address {NOT_HERE_B} of host b" in line
    assert "is --host right?" in line


def test_join_with_a_malformed_leader(tmp_path, capsys):
    # b is this machine (loopback), so the --leader check is reached; it fails before a start
    cfg = write_config(tmp_path, f"{{a: {{address: {NOT_HERE_A}}}, b: {{address: 127.0.0.1}}}}")
    assert run_node.main(["join", "--config", cfg, "--host", "b", "--leader", "10.0.0.1:0"]) == 2
    assert "--leader must be IP:PORT, got '10.0.0.1:0'" in one_line(capsys)


def test_join_positional_arguments(member_not_here, capsys):
    assert run_node.main(["join", "enode://x", "--config", member_not_here, "--host", "b"]) == 2
    assert "join takes no positional arguments" in one_line(capsys)


def test_join_creates_no_key_file(member_not_here, tmp_path, capsys):
    os.remove(tmp_path / "n2.key")
    assert run_node.main(["join", "--config", member_not_here, "--host", "b"]) == 1
    assert "this machine has no address" in one_line(capsys)
    assert not os.path.exists(tmp_path / "n2.key")  # keys matter on the leader only


def test_run_creates_missing_key_files(tmp_path, capsys):
    cfg = write_config(tmp_path, f"{{a: {{address: {NOT_HERE_A}}}, b: {{address: {NOT_HERE_B}}}}}")
    os.remove(tmp_path / "n2.key")
    assert run_node.main(["run", "--config", cfg]) == 1
    assert "this machine has no address" in one_line(capsys)
    assert os.path.exists(tmp_path / "n2.key")


# -- run ----------------------------------------------------------------------------------
def test_run_where_the_leader_address_is_not_here(tmp_path, capsys):
    cfg = write_config(tmp_path, f"{{a: {{address: {NOT_HERE_A}}}, b: {{address: {NOT_HERE_B}}}}}")
    assert run_node.main(["run", "--config", cfg]) == 1
    line = one_line(capsys)
    assert f"this machine has no address {NOT_HERE_A} of host a" in line
    assert "join --host NAME" in line


@pytest.mark.parametrize("extra", [["--host", "b"], ["--leader", "127.0.0.1:19555"]])
def test_run_with_join_options(member_not_here, capsys, monkeypatch, extra):
    monkeypatch.setattr(run_node, "run", lambda launch, args: pytest.fail("run() was called"))
    assert run_node.main(["run", "--config", member_not_here, *extra]) == 2
    assert "--host and --leader are for join" in one_line(capsys)


# -- _leader_address ----------------------------------------------------------------------
@pytest.fixture
def launch(tmp_path):
    return load_file(write_config(tmp_path, f"{{a: {{address: {NOT_HERE_A}, admin_port: 19001}}, "
                                            f"b: {{address: {NOT_HERE_B}}}}}"), create_keys=False)


@pytest.mark.parametrize("given", [None, ""])
def test_leader_address_default_from_the_file(launch, given):
    assert run_node._leader_address(launch, given) == (NOT_HERE_A, 19001)


def test_leader_address_default_follows_actor_system_leader(tmp_path):
    cfg = load_file(write_config(tmp_path, f"{{a: {{address: {NOT_HERE_A}}}, b: {{address: {NOT_HERE_B}}}}}",
                                 "{admin_port: 19555, leader: b}"), create_keys=False)
    assert run_node._leader_address(cfg, None) == (NOT_HERE_B, 19555)


@pytest.mark.parametrize("given, want", [
    ("10.0.0.1:19001", ("10.0.0.1", 19001)),
    ("[::1]:5", ("::1", 5)),
    ("[FD00:0::1]:65535", ("fd00::1", 65535)),
    ("192.0.2.1:1", ("192.0.2.1", 1)),
])
def test_leader_address_given(launch, given, want):
    assert run_node._leader_address(launch, given) == want


@pytest.mark.parametrize("given", ["x:1", "10.0.0.1", "10.0.0.1:0", "10.0.0.1:70000", "10.0.0.1:", ":19001",
                                   "10.0.0.1:port", "[::1]", "10.0.0.1:-1",
                                   "[10.0.0.1]:5", "::1:5", "10.0.0.1:+5", "10.0.0.1: 5", "10.0.0.1:1_000"])
def test_leader_address_malformed(launch, given):
    with pytest.raises(run_node.HostError) as info:
        run_node._leader_address(launch, given)
    assert info.value.code == 2
    assert str(info.value) == f"--leader must be IP:PORT, got {given!r}"


def test_host_error_code_defaults_to_one():
    assert run_node.HostError("x").code == 1
    assert run_node.HostError("x", 2).code == 2
