"""Memory of a set of processes, from /proc/<pid>/smaps_rollup (tests and bench/)."""

from __future__ import annotations


def smaps_rollup(pid: int) -> dict[str, int]:
    """Fields of /proc/<pid>/smaps_rollup in bytes ({} if the process is gone)."""
    out = {}
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                parts = line.split()
                if len(parts) >= 3 and parts[-1] == "kB":
                    out[parts[0].rstrip(":")] = int(parts[-2]) * 1024
    except OSError:
        return {}
    return out


def memory_of(pids) -> dict[str, int]:
    """Summed PSS, USS (Private_Clean + Private_Dirty) and RSS of ``pids``, bytes."""
    pids = list(pids)
    pss = uss = rss = 0
    for pid in pids:
        m = smaps_rollup(pid)
        pss += m.get("Pss", 0)
        uss += m.get("Private_Clean", 0) + m.get("Private_Dirty", 0)
        rss += m.get("Rss", 0)
    return {"pss": pss, "uss": uss, "rss": rss, "procs": len(pids)}
