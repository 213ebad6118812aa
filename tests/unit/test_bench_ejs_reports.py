"""bench/run_all.py: an ethereumjs sender that loses its peer ends the figure at once."""

import pathlib
import sys

import pytest

sys.path.append(str(pathlib.Path(__file__).resolve().parents[2] / "bench"))  # last: bench/ must hide no package of ours

import run_all  # noqa: E402
from harness import BenchError  # noqa: E402


class FakeSender:
    """Stands in for harness.EjsBench: hands out prepared events in order."""

    def __init__(self, events):
        self.events = list(events)
        self.asked = []

    def next(self, kinds, timeout_s, **match):
        self.asked.append(tuple(kinds) if not isinstance(kinds, str) else (kinds,))
        while self.events:
            ev = self.events.pop(0)
            if ev["event"] in self.asked[-1]:
                return ev
        raise BenchError("no more events")


def report(n):
    return {"event": "test_report", "count": n, "mismatches": 0}


def test_reports_in_order():
    snd = FakeSender([report(1), {"event": "peer_added"}, report(2)])
    assert [r["count"] for r in run_all._ejs_reports(snd, 2, 5.0, "ejs->node")] == [1, 2]
    assert all("peer_removed" in kinds for kinds in snd.asked)


def test_lost_peer_fails_at_once_with_the_reason():
    snd = FakeSender([report(1), {"event": "peer_removed", "reason": 11, "disconnectWe": False}, report(2)])
    with pytest.raises(BenchError, match=r"lost its peer \(DiscReason 11.*after 1 of 3 rounds"):
        run_all._ejs_reports(snd, 3, 5.0, "ejs->node")
    assert len(snd.asked) == 2  # did not wait for the third round


def test_mismatched_echo_is_an_error():
    bad = dict(report(1), mismatches=2)
    with pytest.raises(BenchError, match="mismatched"):
        run_all._ejs_reports(FakeSender([bad]), 1, 5.0, "ejs<->ejs")
