"""Timers (node/timers.py): named one-shot deadlines over one Thespian tick."""

from __future__ import annotations

from node.timers import Timers


def test_pop_due_in_deadline_order():
    t = Timers()
    t.set("c", 3.0)
    t.set("a", 1.0)
    t.set("b", 2.0)
    assert t.next_deadline() == 1.0
    assert t.pop_due(0.5) == []
    assert t.pop_due(2.0) == ["a", "b"]
    assert t.next_deadline() == 3.0
    assert t.pop_due(10.0) == ["c"]
    assert t.next_deadline() is None and t.pop_due(100.0) == []


def test_equal_deadlines_fire_in_the_order_set():
    """Thespian delivers coinciding wakeups in reverse order; the heap must not."""
    t = Timers()
    for name in ("one", "two", "three", "four"):
        t.set(name, 5.0)
    assert t.pop_due(5.0) == ["one", "two", "three", "four"]


def test_set_again_replaces():
    t = Timers()
    t.set("idle", 1.0)
    t.set("idle", 4.0)
    assert t.is_set("idle")
    assert t.next_deadline() == 4.0
    assert t.pop_due(2.0) == []
    assert t.pop_due(4.0) == ["idle"]
    assert not t.is_set("idle")
    # and earlier again
    t.set("x", 9.0)
    t.set("x", 2.0)
    assert t.pop_due(2.0) == ["x"]
    assert t.pop_due(9.0) == []  # the replaced entry is gone, not fired later


def test_cancel():
    t = Timers()
    t.set("a", 1.0)
    t.set("b", 2.0)
    t.cancel("a")
    t.cancel("missing")  # no error
    assert not t.is_set("a") and t.is_set("b")
    assert t.next_deadline() == 2.0
    assert t.pop_due(5.0) == ["b"]


def test_reset_after_firing_and_many_timers():
    t = Timers()
    for i in range(1000):
        t.set(f"t{i}", float(i % 10))
    assert len(t.pop_due(4.5)) == 500
    t.set("t0", 100.0)  # fired already; set again
    rest = t.pop_due(50.0)
    assert len(rest) == 500 and "t0" not in rest
    assert t.pop_due(100.0) == ["t0"]
