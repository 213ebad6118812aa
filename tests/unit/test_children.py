"""node/children.py without an actor system: the Server's permanent children (Listener, Dialer)
in slots, their exit notices turned into restart decisions under RestartPolicy, and the event
records each decision publishes."""

from __future__ import annotations

import pytest

from config.model import PERMANENT, TEMPORARY, TRANSIENT, RestartPolicy
from messages.events import ActorExited, ActorRestarted, RestartLimitReached
from node.children import Children, Exit
from node.supervision import Decision


def children(**policy) -> Children:
    return Children({"listener": RestartPolicy(**policy), "dialer": RestartPolicy()})


def crash(c: Children, name: str, now: float, how: str = "exited") -> Exit:
    """Start a new incarnation of ``name`` and let it die at ``now``."""
    c.started(name, object())
    return c.exited(name, how, now)


def test_slots_track_the_current_address_and_its_pid():
    c = children()
    c.started("listener", "L1")
    c.started("dialer", "D1")
    assert (c.which("L1"), c.which("D1"), c.which("X")) == ("listener", "dialer", None)
    c.set_pid("listener", "L0", 111)  # from an older incarnation: ignored
    assert c.slots["listener"].pid is None
    c.set_pid("listener", "L1", 222)
    assert c.slots["listener"].pid == 222
    c.exited("listener", "exited", 0.0)
    assert (c.slots["listener"].addr, c.slots["listener"].pid, c.which("L1")) == (None, None, None)
    c.started("listener", "L2")
    assert c.slots["listener"].sup.incarnation == 2 and c.slots["listener"].scheduled is None


def test_permanent_child_is_restarted_with_backoff_doubling_to_the_max():
    c = children(restart=PERMANENT, max_restarts=10, within_s=100, backoff_s=0.1, backoff_max_s=0.5)
    decisions = [crash(c, "listener", float(t)).decision for t in range(5)]
    assert decisions == [Decision("restart", 0.1, 1), Decision("restart", 0.2, 2), Decision("restart", 0.4, 3),
                         Decision("restart", 0.5, 4), Decision("restart", 0.5, 5)]


def test_a_restart_publishes_actor_exited_then_actor_restarted_with_its_attempt_and_delay():
    c = children(backoff_s=0.25)
    out = crash(c, "dialer", 0.0, "found dead by liveness check")
    assert out == Exit(Decision("restart", 0.1, 1), (ActorExited("dialer", "found dead by liveness check"),))
    assert c.slots["dialer"].scheduled == Decision("restart", 0.1, 1)
    assert c.restarted("dialer") == ActorRestarted("dialer", 1, 0.1)
    out = crash(c, "listener", 0.0)
    assert out.decision == Decision("restart", 0.25, 1) and c.restarted("listener") == ActorRestarted("listener", 1,
                                                                                                      0.25)


def test_restarted_without_a_scheduled_restart_reports_attempt_0():
    assert children().restarted("listener") == ActorRestarted("listener", 0, 0.0)


def test_more_than_max_restarts_within_the_window_gives_up_with_restart_limit_reached():
    c = children(max_restarts=3, within_s=5.0, backoff_s=0.1, backoff_max_s=5.0)
    assert [crash(c, "listener", t).decision.action for t in (0.0, 1.0, 2.0)] == ["restart"] * 3
    out = crash(c, "listener", 3.0)
    assert out == Exit(Decision("give_up", attempt=4), (ActorExited("listener", "exited"),
                                                        RestartLimitReached("listener", 3, 5.0)))


def test_restarts_that_left_the_window_no_longer_count_nor_double_the_backoff():
    c = children(max_restarts=2, within_s=5.0, backoff_s=0.1, backoff_max_s=5.0)
    assert crash(c, "listener", 0.0).decision == Decision("restart", 0.1, 1)
    assert crash(c, "listener", 1.0).decision == Decision("restart", 0.2, 2)
    assert crash(c, "listener", 5.5).decision == Decision("restart", 0.2, 2)  # the one at 0.0 left
    assert crash(c, "listener", 5.9).decision.action == "give_up"  # 1.0 and 5.5 are within 5 s
    assert crash(c, "listener", 20.0).decision == Decision("restart", 0.1, 1)


def test_a_restart_exactly_within_s_ago_has_left_the_window():
    c = children(max_restarts=1, within_s=5.0, backoff_s=0.1)
    crash(c, "listener", 1.0)
    assert crash(c, "listener", 6.0).decision == Decision("restart", 0.1, 1)


def test_max_restarts_0_gives_up_at_the_first_exit():
    out = crash(children(max_restarts=0), "listener", 0.0)
    assert out == Exit(Decision("give_up", attempt=1), (ActorExited("listener", "exited"),
                                                        RestartLimitReached("listener", 0, 5.0)))


def test_backoff_0_restarts_at_once():
    assert crash(children(backoff_s=0.0), "listener", 0.0).decision == Decision("restart", 0.0, 1)


def test_temporary_child_is_never_restarted_but_its_exit_is_published():
    c = children(restart=TEMPORARY)
    out = crash(c, "listener", 0.0)
    assert out == Exit(Decision("none"), (ActorExited("listener", "exited"),))
    assert c.slots["listener"].scheduled is None


def test_a_transient_childs_exit_counts_as_abnormal():
    """A permanent child's exit is always unexpected: Children reports every exit as abnormal,
    so a transient child is restarted like a permanent one."""
    assert crash(children(restart=TRANSIENT), "listener", 0.0).decision == Decision("restart", 0.1, 1)


def test_a_second_notice_of_the_same_exit_is_a_duplicate_without_events():
    c = children()
    first = crash(c, "listener", 0.0)
    assert first.decision.action == "restart"
    assert c.exited("listener", "found dead by liveness check", 0.01) == Exit(Decision("duplicate"))


def test_an_injected_fault_is_the_cause_of_the_next_exit_only():
    c = children()
    c.started("listener", "L1")
    c.inject("listener", "kill")
    assert c.exited("listener", "exited", 0.0).events == (ActorExited("listener", "injected kill"),)
    assert crash(c, "listener", 1.0).events == (ActorExited("listener", "exited"),)


def test_slots_are_supervised_independently():
    c = children(max_restarts=1)
    assert crash(c, "listener", 0.0).decision.action == "restart"
    assert crash(c, "dialer", 0.0).decision == Decision("restart", 0.1, 1)
    assert crash(c, "listener", 0.5).decision.action == "give_up"
    assert crash(c, "dialer", 0.5).decision == Decision("restart", 0.2, 2)


@pytest.mark.parametrize("bad", [{"restart": "sometimes"}, {"max_restarts": -1}, {"within_s": 0},
                                 {"backoff_s": -0.1}, {"backoff_max_s": -1}])
def test_a_restart_policy_out_of_range_is_refused(bad):
    with pytest.raises(ValueError):
        RestartPolicy(**bad)
