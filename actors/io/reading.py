"""Non-blocking reads into a reused buffer, shared by the Peer's TCP socket and the channels.

``sock.recv(1 MiB)`` allocates (and frees) a 1 MiB bytes object on every call, even for a
100-byte read (~35 µs measured here); ``recv_into`` a buffer made once does not.  The buffer is
an anonymous mmap: a page becomes resident only when a read fills it, where ``bytearray(n)``
would zero-fill (touch) all n bytes in every process (bench/run_all.py ``memory``).
"""

from __future__ import annotations

import mmap
import socket
from typing import Callable


def receive_buffer(size: int) -> memoryview:
    """A writable buffer of ``size`` bytes whose pages are resident only once written."""
    return memoryview(mmap.mmap(-1, size))


def read_available(sock: socket.socket, view: memoryview, limit: int,
                   sink: Callable[[memoryview], object]) -> tuple[int, bool, OSError | None]:
    """Read from non-blocking ``sock`` until it would block, closes, fails, returns less than
    ``len(view)`` or ``limit`` bytes have been read; hand each read to ``sink`` (a slice of
    ``view``, valid only during the call: copy what you keep).

    Returns (bytes read, end of stream, the OSError that ended reading or None).
    """
    total = 0
    size = len(view)
    while total < limit:
        try:
            n = sock.recv_into(view)
        except (BlockingIOError, InterruptedError):
            break
        except OSError as exc:
            return total, False, exc
        if not n:
            return total, True, None
        sink(view[:n])
        total += n
        if n < size:
            break
    return total, False, None


__all__ = ["read_available", "receive_buffer"]
