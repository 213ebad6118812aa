"""The one bounded poll of the tests and benchmarks."""

from __future__ import annotations

import time


def wait_until(pred, timeout_s: float, what: str | None = None, interval_s: float = 0.02):
    """Call ``pred`` every ``interval_s`` seconds until it returns a truthy value or ``timeout_s``
    seconds pass; return its last value.  With ``what``, a timeout raises AssertionError naming
    it.  Only for conditions no event reports (a process exiting, a port being released)."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = pred()
        if value:
            return value
        if time.monotonic() >= deadline:
            if what is not None:
                raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")
            return value
        time.sleep(interval_s)
