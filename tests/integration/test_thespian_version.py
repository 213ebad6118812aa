"""The node refuses to start on any Thespian other than the supported release (actors/adapter
``check_version``, docs/thespian.md): exit code 1, one line on stderr, no actor system.

run_node.py runs as a subprocess, as a user runs it, with a ``sitecustomize`` on its
PYTHONPATH that makes ``importlib.metadata.version("thespian")`` report another release; the
installed package itself is untouched.  Output goes to files (docs/thespian-facts.md §7).
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from actors.adapter import SUPPORTED_THESPIAN, UnsupportedThespian, check_version
from test_run_node import RUN_NODE, free_port, processes_with, run_env

FAKE_VERSION = "4.0.2"

SITECUSTOMIZE = f'''
import importlib.metadata as _metadata

_real_version = _metadata.version


def _version(name):
    if name.lower() == "thespian":
        return {FAKE_VERSION!r}
    return _real_version(name)


_metadata.version = _version
'''


def listening(port: int) -> bool:
    """True if something listens on 127.0.0.1:``port`` (a started actor system's admin would)."""
    import socket

    with socket.socket() as s:
        s.settimeout(1.0)
        return s.connect_ex(("127.0.0.1", port)) == 0


@pytest.mark.parametrize("found", [FAKE_VERSION, None])
def test_check_version_refuses_another_release_in_one_line(monkeypatch, found):
    from importlib import metadata

    def fake(name):
        if found is None:
            raise metadata.PackageNotFoundError(name)
        return found

    monkeypatch.setattr(metadata, "version", fake)
    with pytest.raises(UnsupportedThespian) as info:
        check_version()
    text = str(info.value)
    assert "\n" not in text and SUPPORTED_THESPIAN in text
    assert (found or "(not installed)") in text


def test_node_on_another_thespian_exits_1_with_one_line_and_starts_nothing(tmp_path):
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(SITECUSTOMIZE)
    admin_port = free_port()
    config = tmp_path / "node.yaml"
    config.write_text(f"actor_system: {{admin_port: {admin_port}}}\n"
                      f"node: {{name: a, listen_addr: '127.0.0.1:{free_port()}'}}\n")
    token, env = run_env()
    env["PYTHONPATH"] = str(site) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    with open(tmp_path / "out", "w") as out, open(tmp_path / "err", "w") as err:
        proc = subprocess.run([sys.executable, RUN_NODE, "--config", str(config), "--duration", "5"],
                              cwd=str(tmp_path), stdout=out, stderr=err, stdin=subprocess.DEVNULL, env=env,
                              timeout=30)
    lines = (tmp_path / "err").read_text().strip().splitlines()
    assert proc.returncode == 1, lines
    assert len(lines) == 1, lines
    assert f"thespian {FAKE_VERSION} found" in lines[0] and f"only on thespian {SUPPORTED_THESPIAN}" in lines[0]
    assert "Traceback" not in lines[0]
    # no actor system: no process of this run is left (the admin would be a daemon with our
    # token in its environment), nothing listens on the admin port, no event was written
    assert processes_with(token) == []
    assert not listening(admin_port)
    assert (tmp_path / "out").read_text() == ""
