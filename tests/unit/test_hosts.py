"""node/hosts.py: the HostTable state machine of the convention leader's member hosts (no
Thespian; plain objects stand in for the agents' actor addresses)."""

import pytest

from messages.events import HostJoined, HostLost
from node.hosts import AGENT_EXITED, LEFT, NO_ANSWER, RESTARTED, HostTable

NODES = {"b": ("n2", "n3"), "c": ("n4",)}
ADDRESSES = {"a": "10.1.0.1", "b": "10.1.0.2", "c": "10.1.0.3"}


class Agent:
    """An opaque agent address; equal only to itself."""


@pytest.fixture
def table():
    return HostTable(NODES, ADDRESSES, lost_after_s=5.0)


# -- check_member -------------------------------------------------------------------------
def test_check_member_accepts_a_configured_host_from_its_address(table):
    assert table.check_member("b", "10.1.0.2") is None
    assert table.check_member("c", "10.1.0.3") is None


def test_check_member_accepts_an_unknown_ip(table):
    assert table.check_member("b", None) is None


def test_check_member_without_capability(table):
    reason = table.check_member(None, "10.1.0.2")
    assert reason is not None and "devp2p-host capability" in reason


def test_check_member_unknown_host_names_the_hosts(table):
    reason = table.check_member("x", "10.1.0.2")
    assert reason is not None
    assert "'x'" in reason and "(have: b, c)" in reason


def test_check_member_unknown_host_of_an_empty_table():
    reason = HostTable({}, {}).check_member("x", None)
    assert reason is not None and "(have: none)" in reason


def test_check_member_wrong_ip(table):
    reason = table.check_member("b", "10.1.0.3")
    assert reason is not None
    assert "10.1.0.3" in reason and "address 10.1.0.2" in reason


def test_check_member_host_without_configured_address_takes_any_ip():
    t = HostTable({"b": ("n2",)}, {})
    assert t.hosts["b"].address == ""
    assert t.check_member("b", "192.0.2.9") is None


# -- joined / is_joined / started / locate -----------------------------------------------
def test_joined_returns_the_event(table):
    assert not table.is_joined("b")
    ev = table.joined("b", Agent(), now=100.0)
    assert isinstance(ev, HostJoined)
    assert (ev.host, ev.address, ev.nodes) == ("b", "10.1.0.2", ["n2", "n3"])
    assert isinstance(ev.nodes, list)
    assert table.is_joined("b")
    assert not table.is_joined("c")


def test_is_joined_of_an_unknown_host(table):
    assert table.is_joined("x") is False


def test_locate_before_joining(table):
    host, server, error = table.locate("n2")
    assert (host, server) == ("b", None)
    assert "has not joined" in error and "host b" in error


def test_locate_while_the_agent_has_not_reported(table):
    table.joined("b", Agent(), now=1.0)
    host, server, error = table.locate("n3")
    assert (host, server) == ("b", None)
    assert "not running" in error and "n3" in error


def test_started_then_locate_finds_the_server(table):
    table.joined("b", Agent(), now=1.0)
    s2, s3 = object(), object()
    table.started("b", {"n2": s2})
    assert table.locate("n2") == ("b", s2, "")
    assert "not running" in table.locate("n3")[2]
    table.started("b", {"n3": s3})  # reports add up
    assert table.locate("n2") == ("b", s2, "")
    assert table.locate("n3") == ("b", s3, "")


def test_started_before_joining_is_ignored(table):
    table.started("b", {"n2": object()})
    table.started("x", {"n9": object()})  # no such host: no error
    assert table.hosts["b"].servers == {}
    table.joined("b", Agent(), now=1.0)
    assert "not running" in table.locate("n2")[2]


def test_locate_after_loss(table):
    table.joined("b", Agent(), now=1.0)
    table.started("b", {"n2": object()})
    table.lost("b", LEFT, now=2.0)
    host, server, error = table.locate("n2")
    assert (host, server) == ("b", None)
    assert "has not joined" in error


def test_locate_unknown_node(table):
    host, server, error = table.locate("n99")
    assert (host, server) == (None, None)
    assert "n99" in error and "no member host" in error


# -- heard / silent ------------------------------------------------------------------------
def test_silent_only_after_more_than_lost_after_s(table):
    table.joined("b", Agent(), now=100.0)
    assert table.silent(100.0) == []
    assert table.silent(105.0) == []  # exactly lost_after_s: not yet
    assert table.silent(105.5) == ["b"]


def test_heard_defers_silence(table):
    table.joined("b", Agent(), now=100.0)
    table.joined("c", Agent(), now=100.0)
    table.heard("b", 104.0)
    assert table.silent(106.0) == ["c"]
    assert table.silent(109.0) == ["c"]
    assert sorted(table.silent(109.5)) == ["b", "c"]


def test_silent_ignores_hosts_not_joined(table):
    assert table.silent(1e9) == []
    table.joined("b", Agent(), now=0.0)
    table.lost("b", LEFT, now=1.0)
    assert table.silent(1e9) == []


def test_heard_before_joining_does_nothing(table):
    table.heard("b", 50.0)
    table.heard("x", 50.0)  # no such host: no error
    assert not table.is_joined("b")
    assert table.hosts["b"].heard == 0.0
    assert table.silent(1e9) == []
    # joining sets its own time, not the earlier heard()
    table.joined("b", Agent(), now=100.0)
    assert table.hosts["b"].heard == 100.0
    assert table.silent(104.0) == []


def test_lost_after_s_is_configurable():
    t = HostTable(NODES, ADDRESSES, lost_after_s=0.5)
    t.joined("b", Agent(), now=10.0)
    assert t.silent(10.5) == []
    assert t.silent(10.6) == ["b"]


# -- lost ------------------------------------------------------------------------------------
@pytest.mark.parametrize("reason", [LEFT, RESTARTED, AGENT_EXITED])
def test_lost_returns_the_event_without_silence(table, reason):
    table.joined("b", Agent(), now=100.0)
    ev = table.lost("b", reason, now=103.0)
    assert isinstance(ev, HostLost)
    assert (ev.host, ev.address, ev.nodes, ev.reason) == ("b", "10.1.0.2", ["n2", "n3"], reason)
    assert ev.silent_s is None


def test_lost_no_answer_gives_the_seconds_since_last_heard(table):
    table.joined("b", Agent(), now=100.0)
    table.heard("b", 102.25)
    ev = table.lost("b", NO_ANSWER, now=108.5)
    assert ev.reason == NO_ANSWER
    assert ev.silent_s == pytest.approx(6.25)


def test_lost_no_answer_rounds_to_milliseconds(table):
    table.joined("b", Agent(), now=0.0)
    ev = table.lost("b", NO_ANSWER, now=5.123456)
    assert ev.silent_s == 5.123


def test_second_lost_returns_none(table):
    table.joined("b", Agent(), now=1.0)
    assert table.lost("b", LEFT, now=2.0) is not None
    assert table.lost("b", LEFT, now=3.0) is None
    assert table.lost("b", NO_ANSWER, now=4.0) is None


def test_lost_of_a_host_never_joined_or_unknown(table):
    assert table.lost("b", LEFT, now=1.0) is None
    assert table.lost("x", LEFT, now=1.0) is None


def test_after_lost_the_host_and_its_agent_are_gone(table):
    ab, ac = Agent(), Agent()
    table.joined("b", ab, now=1.0)
    table.joined("c", ac, now=1.0)
    assert table.agents() == [("b", ab), ("c", ac)]
    assert table.host_of_agent(ab) == "b"
    table.started("b", {"n2": object()})
    table.lost("b", AGENT_EXITED, now=2.0)
    assert not table.is_joined("b")
    assert table.agents() == [("c", ac)]
    assert table.host_of_agent(ab) is None
    assert table.host_of_agent(ac) == "c"
    assert table.hosts["b"].servers == {}


def test_host_of_agent_unknown_agent(table):
    table.joined("b", Agent(), now=1.0)
    assert table.host_of_agent(Agent()) is None
    assert table.host_of_agent(None) is None


def test_agents_empty_before_any_join(table):
    assert table.agents() == []


# -- re-join ---------------------------------------------------------------------------------
def test_rejoin_after_loss_is_fresh(table):
    old, new = Agent(), Agent()
    table.joined("b", old, now=1.0)
    table.started("b", {"n2": object(), "n3": object()})
    table.lost("b", NO_ANSWER, now=10.0)
    ev = table.joined("b", new, now=20.0)
    assert ev == HostJoined("b", "10.1.0.2", ["n2", "n3"])
    assert table.is_joined("b")
    assert table.hosts["b"].servers == {}
    assert "not running" in table.locate("n2")[2]
    assert table.host_of_agent(new) == "b" and table.host_of_agent(old) is None
    assert table.agents() == [("b", new)]
    # its silence counts from the re-join
    assert table.silent(25.0) == []
    assert table.silent(25.1) == ["b"]
    ev = table.lost("b", NO_ANSWER, now=23.0)
    assert ev.silent_s == pytest.approx(3.0)


def test_joined_again_without_loss_replaces_agent_and_clears_servers(table):
    old, new = Agent(), Agent()
    table.joined("b", old, now=1.0)
    table.started("b", {"n2": object()})
    table.joined("b", new, now=2.0)
    assert table.host_of_agent(old) is None and table.host_of_agent(new) == "b"
    assert table.hosts["b"].servers == {}


# -- probing a lost host that is still in the convention -------------------------------------
def test_a_host_lost_for_silence_while_registered_is_probed_with_backoff(table):
    from node.hosts import PROBE_BACKOFF_MAX_S

    table.registered("b", True)
    table.joined("b", Agent(), now=0.0)
    assert isinstance(table.lost("b", NO_ANSWER, now=6.0), HostLost)
    assert table.probes_due(10.9) == [] and table.probes_due(11.0) == ["b"]  # after lost_after_s
    probe = Agent()
    assert table.joined("b", probe, now=11.0, probe=True) is None  # no event until it answers
    assert table.is_joined("b") and table.probes_due(100.0) == []
    # the probe stays silent: dropped without a second host_lost, the next one after twice as long
    assert table.lost("b", NO_ANSWER, now=17.0) is None
    assert not table.is_joined("b")
    assert table.probes_due(26.9) == [] and table.probes_due(27.0) == ["b"]
    for _ in range(10):  # the pause doubles up to its cap
        table.joined("b", Agent(), now=0.0, probe=True)
        table.lost("b", NO_ANSWER, now=0.0)
    assert table.hosts["b"].backoff_s == PROBE_BACKOFF_MAX_S


def test_a_probe_that_answers_brings_the_host_back_with_one_event(table):
    table.registered("c", True)
    table.joined("c", Agent(), now=0.0)
    table.lost("c", AGENT_EXITED, now=1.0)
    probe = Agent()
    table.joined("c", probe, now=6.0, probe=True)
    back = table.heard("c", now=6.5)
    assert isinstance(back, HostJoined) and back.host == "c" and back.nodes == ["n4"]
    assert table.heard("c", now=7.0) is None  # later answers are plain
    assert table.host_of_agent(probe) == "c"
    # back to the first pause after a success
    table.lost("c", NO_ANSWER, now=20.0)
    assert table.probes_due(25.0) == ["c"]


@pytest.mark.parametrize("reason", [LEFT, RESTARTED])
def test_a_host_that_left_or_restarted_is_not_probed(table, reason):
    table.registered("b", True)
    table.joined("b", Agent(), now=0.0)
    if reason == LEFT:
        table.registered("b", False)
    table.lost("b", reason, now=1.0)
    assert table.probes_due(1000.0) == []


def test_a_host_not_registered_is_not_probed(table):
    table.joined("b", Agent(), now=0.0)
    table.lost("b", NO_ANSWER, now=6.0)
    assert table.probes_due(1000.0) == []


def test_leaving_the_convention_cancels_a_pending_probe(table):
    table.registered("b", True)
    table.joined("b", Agent(), now=0.0)
    table.lost("b", NO_ANSWER, now=6.0)
    table.registered("b", False)
    assert table.probes_due(1000.0) == []
