"""Shared pytest fixtures, and markers by folder: tests/unit (no actor system, seconds),
tests/integration (nodes in an ActorSystem), tests/interop (against ethereumjs; also
``integration``), tests/fuzz (seeded fuzzing; the node fuzzing is also ``integration``).
``pytest -m "not integration"`` runs the fast part; a unit test too slow for it is marked
``integration`` by hand."""

import json
import logging
import os
import pathlib

import pytest

os.environ.setdefault("THESPIAN_BASE_IPADDR", "127.0.0.1")

ROOT = pathlib.Path(__file__).resolve().parent.parent
VECTORS = ROOT / "tests" / "data" / "rlpx_vectors.json"


@pytest.fixture(scope="session")
def vectors():
    """The official RLPx test vectors from tests/data/rlpx_vectors.json (sources in tests/data/README.md)."""
    with open(VECTORS) as f:
        return json.load(f)


MARKERS = {"unit": ("unit",), "integration": ("integration",), "interop": ("interop", "integration"),
           "fuzz": ("fuzz",)}
"""Folder under tests/ -> the markers its tests get."""

NODE_FUZZ = "test_node_fuzz.py"
"""The fuzz module that starts nodes: also ``integration``."""


def pytest_collection_modifyitems(config, items):
    for item in items:
        parts = pathlib.Path(str(item.fspath)).relative_to(ROOT / "tests").parts
        for name in MARKERS.get(parts[0], ()):
            item.add_marker(name)
        if parts[-1] == NODE_FUZZ:
            item.add_marker("integration")


from support.system import NodeSystem, group_pids, log_tail  # noqa: E402 - after the environment is set


@pytest.fixture
def nodes(tmp_path):
    """A fresh NodeSystem per test; teardown fails the test if any process of it survives.

    The actors' own log ("devp2p" logger) goes to ``tmp_path/node.log``: Thespian replaces the
    logging root in every actor process, and the inherited "devp2p" logger still points at this
    process's old root, so without a handler installed before the fork its records reach
    neither the Thespian log (``thespian.log``) nor pytest's output."""
    handler = logging.FileHandler(tmp_path / "node.log")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s pid=%(process)d %(message)s"))
    logging.getLogger("devp2p").addHandler(handler)
    system = NodeSystem(log_file=str(tmp_path / "thespian.log"))
    try:
        yield system
    finally:
        try:
            left = system.close()
        finally:
            logging.getLogger("devp2p").removeHandler(handler)
            handler.close()
        if left and system.sigkilled:
            # Thespian 4.0.1: after actors were SIGKILLed, shutdown() can leave its admin and
            # logger (and top-level actors) running (docs/thespian-facts.md §3: "the test fixture's killpg
            # is needed").  close() has killed them; check that nothing survived that.
            assert not group_pids(system.pgid), f"processes survive killpg: {group_pids(system.pgid)}"
        elif left:
            pytest.fail(f"processes left after ActorSystem.shutdown() (killed): {left}\n"
                        f"last lines of node.log:\n{log_tail(tmp_path / 'node.log')}")


