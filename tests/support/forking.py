"""Test helper: ask a freshly forked child of the test process a question."""

from __future__ import annotations

import os
from typing import Callable


def answer_in_child(question: Callable[[], bytes], size: int = 64) -> bytes:
    """Fork, run ``question()`` in the child (up to ``size`` bytes of answer through a pipe) and
    return its answer; the child exits with os._exit, the parent reaps it."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.write(w, question()[:size])
        finally:
            os._exit(0)
    os.close(w)
    try:
        return os.read(r, size)
    finally:
        os.close(r)
        os.waitpid(pid, 0)
