"""node/supervision.py: restart types, intensity, backoff, duplicate exit notices."""

import pytest

from config.model import RestartPolicy
from node.supervision import ChildSupervisor


def test_permanent_restarts_with_backoff_until_intensity():
    sup = ChildSupervisor(RestartPolicy(max_restarts=3, within_s=10, backoff_s=0.1, backoff_max_s=0.3))
    decisions = []
    for t in (0.0, 1.0, 2.0):
        inc = sup.started()
        decisions.append(sup.exited(inc, abnormal=True, now=t))
    assert [(d.action, d.delay_s, d.attempt) for d in decisions] == [
        ("restart", 0.1, 1), ("restart", 0.2, 2), ("restart", 0.3, 3)]  # capped at 0.3
    inc = sup.started()
    assert sup.exited(inc, True, 3.0).action == "give_up"


def test_window_slides():
    sup = ChildSupervisor(RestartPolicy(max_restarts=1, within_s=5, backoff_s=0))
    assert sup.exited(sup.started(), True, 0.0).action == "restart"
    assert sup.exited(sup.started(), True, 6.0).action == "restart"  # the first fell out of the window
    assert sup.exited(sup.started(), True, 7.0).action == "give_up"


def test_duplicates_and_stale_notices_are_ignored():
    sup = ChildSupervisor(RestartPolicy())
    inc = sup.started()
    assert sup.exited(inc, True, 0.0).action == "restart"
    assert sup.exited(inc, True, 0.001).action == "duplicate"  # ChildActorExited delivered twice
    sup.started()
    assert sup.exited(inc, True, 0.002).action == "duplicate"  # notice about an old incarnation


@pytest.mark.parametrize("restart, abnormal, want", [
    ("temporary", True, "none"), ("temporary", False, "none"),
    ("transient", False, "none"), ("transient", True, "restart"),
    ("permanent", False, "restart"),
])
def test_restart_types(restart, abnormal, want):
    sup = ChildSupervisor(RestartPolicy(restart=restart))
    assert sup.exited(sup.started(), abnormal, 0.0).action == want


def test_bad_policy_values():
    with pytest.raises(ValueError):
        RestartPolicy(restart="sometimes")
    with pytest.raises(ValueError):
        RestartPolicy(within_s=0)
