"""Processes by pid, from Linux /proc."""

from __future__ import annotations


def process_alive(pid: int | None) -> bool:
    """True if process ``pid`` exists and is not a zombie (Linux /proc; True when unknown)."""
    if not pid:
        return True
    try:
        with open(f"/proc/{pid}/stat") as f:
            stat = f.read()
    except FileNotFoundError:
        return False
    except OSError:
        return True
    return stat[stat.rindex(")") + 2] not in "ZX"
