"""actors/io/reading.py: non-blocking reads into a reused buffer stop at would-block, a short read,
the limit, end of stream or an error, and hand every byte to the sink in order."""

import socket

from actors.io.reading import read_available, receive_buffer


def _pair():
    a, b = socket.socketpair()
    b.setblocking(False)
    return a, b


def test_reads_what_is_there_then_stops_without_blocking():
    a, b = _pair()
    try:
        a.sendall(b"hello")
        got = []
        n, eof, error = read_available(b, receive_buffer(1024), 1 << 20, lambda mv: got.append(bytes(mv)))
        assert (n, eof, error) == (5, False, None) and b"".join(got) == b"hello"
        # nothing more: returns at once, not blocking, nothing handed over
        n, eof, error = read_available(b, receive_buffer(1024), 1 << 20, got.append)
        assert (n, eof, error) == (0, False, None) and len(got) == 1
    finally:
        a.close()
        b.close()


def test_limit_and_buffer_size_bound_one_call():
    a, b = _pair()
    try:
        data = bytes(range(256)) * 64  # 16 KiB
        a.sendall(data)
        got = bytearray()
        n, eof, _ = read_available(b, receive_buffer(4096), 8192, got.extend)
        assert n == 8192 and not eof and bytes(got) == data[:8192]  # two full reads, then the limit
        n, eof, _ = read_available(b, receive_buffer(4096), 1 << 20, got.extend)
        assert n == 8192 and bytes(got) == data
    finally:
        a.close()
        b.close()


def test_end_of_stream_after_the_last_bytes():
    a, b = _pair()
    try:
        a.sendall(b"bye")
        a.close()
        got = bytearray()
        # the first call may stop at the short read; the stream end comes by the second
        results = [read_available(b, receive_buffer(1024), 1 << 20, got.extend) for _ in range(2)]
        assert bytes(got) == b"bye"
        assert any(eof for _, eof, _ in results)
    finally:
        b.close()


def test_error_is_returned_not_raised():
    a, b = _pair()
    try:
        b.close()
        # reading a closed socket object raises OSError (EBADF) inside: reported, not raised
        n, eof, error = read_available(b, receive_buffer(1024), 1 << 20, lambda mv: None)
        assert n == 0 and not eof and isinstance(error, OSError)
    finally:
        a.close()
