"""Running a small stdlib-only Python script as another user (``nobody``, uid/gid 65534), for
the trust-boundary tests (docs/security.md).

The script runs under the system interpreter when the test's own one is not reachable by that
user (a virtualenv under /root is not), gets its input as JSON on stdin and prints its result as
JSON on stdout.  Needs root; :func:`skip_reason` says why it cannot run here, or None.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

NOBODY = 65534
"""uid and gid the scripts run as."""

RUN_TIMEOUT_S = 20.0
"""Longest a script may run, seconds; it is killed after that."""


def _drop() -> None:
    os.setgroups([])
    os.setgid(NOBODY)
    os.setuid(NOBODY)


def _interpreter() -> str | None:
    for candidate in ("/usr/bin/python3", shutil.which("python3"), sys.executable):
        if not candidate:
            continue
        try:
            done = subprocess.run([candidate, "-c", "import os; print(os.getuid())"], preexec_fn=_drop,
                                  capture_output=True, timeout=RUN_TIMEOUT_S, cwd="/")
        except (OSError, subprocess.SubprocessError):
            continue
        if done.returncode == 0 and done.stdout.strip() == str(NOBODY).encode():
            return candidate
    return None


_found: list = []


def skip_reason() -> str | None:
    """Why scripts cannot run as ``nobody`` here (not root, or no interpreter it may run), or None."""
    if os.getuid() != 0:
        return "needs root to run a process as nobody (uid 65534)"
    if not _found:
        _found.append(_interpreter())
    if _found[0] is None:
        return "no Python interpreter that uid 65534 may run (/usr/bin/python3 or on PATH)"
    return None


def run_as_nobody(script: str, data) -> dict:
    """Run ``script`` (Python source that reads ``json.load(sys.stdin)`` and prints one JSON value)
    as uid/gid 65534 with ``data`` on stdin; return what it printed.  Raises AssertionError if it
    fails or outlives :data:`RUN_TIMEOUT_S` (it is killed and waited for either way)."""
    reason = skip_reason()
    assert reason is None, reason
    proc = subprocess.Popen([_found[0], "-c", script], preexec_fn=_drop, stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd="/")
    try:
        out, err = proc.communicate(json.dumps(data).encode(), timeout=RUN_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        raise AssertionError(f"script as nobody still running after {RUN_TIMEOUT_S} s") from None
    assert proc.returncode == 0, f"script as nobody failed ({proc.returncode}): {err.decode(errors='replace')}"
    return json.loads(out)
