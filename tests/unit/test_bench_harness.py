"""bench/ is built on tests/support: its system is the tests' NodeSystem (no second copy)."""

import pathlib
import sys

sys.path.append(str(pathlib.Path(__file__).resolve().parents[2] / "bench"))  # last: bench/ must hide no package of ours

import harness  # noqa: E402
import run_all  # noqa: E402,F401 - importable: every name it takes from harness exists

from support import system, wait  # noqa: E402


def test_bench_system_is_the_test_system():
    assert issubclass(harness.BenchSystem, system.NodeSystem)
    assert harness.wait_until is wait.wait_until and harness.free_port is system.free_port
    assert hasattr(harness.BenchSystem, "__enter__") and hasattr(harness.BenchSystem, "__exit__")
    assert harness.BenchSystem.TIMEOUTS is harness.BENCH_TIMEOUTS
