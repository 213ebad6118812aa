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


def test_go_and_ejs_benches_share_one_contract():
    assert issubclass(harness.GoBench, harness._PeerBench) and issubclass(harness.EjsBench, harness._PeerBench)
    assert harness.GoBench.KIND != harness.EjsBench.KIND


def test_results_three_columns_and_targets(capsys):
    res = run_all.Results()
    res.add("small", "1. echo", 10.0, 2.0, "msg/s", target=("ratio>=", 3), go=25.0, target_go=("ratio>=", 0.5))
    res.add("dial", "4a. dial", 3.0, 6.0, "ms", better="lower", target=("ratio<=", 1), go=None,
            target_go=("ratio<=", 2))
    small, dial = res.rows
    assert small["ratio"] == 5.0 and small["met"] is True
    assert small["ratio_go"] == 0.4 and small["met_go"] is False
    assert dial["ratio_go"] is None and dial["met_go"] is None and dial["met"] is True
    res.fail("rtt", "3. rtt", "no peer")
    run_all.print_table(res)
    out = capsys.readouterr().out
    assert "go-ethereum" in out and "ethereumjs" in out and "no peer" in out
