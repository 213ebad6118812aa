"""The HTTP server of the Http actor: waitress in a thread, and the bridge to the actor's thread.

waitress serves a WSGI application (node/http_app.py) on its own threads.  What the
application asks of the node goes through a :class:`Bridge`: the HTTP thread queues the
request and wakes the actor through a socketpair that the actor watches
(``ThespianWatch``); the actor sends it to the Server and completes the request's future when
the answer comes.  No Thespian call is made off the actor's thread.
"""

from __future__ import annotations

import logging
import queue
import socket
import threading
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout

from waitress.server import create_server

from node.rpc_api import NoAnswer

ASK_TIMEOUT_S = 10.0
"""How long an HTTP request waits for the node's answer, seconds."""

HTTP_THREADS = 4
"""waitress worker threads: requests answered at once (the rest wait in its queue)."""


class Bridge:
    """Requests from HTTP threads to the actor's thread, answered through futures."""

    def __init__(self, timeout_s: float = ASK_TIMEOUT_S):
        self.timeout_s = timeout_s
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)
        self._queue: queue.SimpleQueue = queue.SimpleQueue()

    def fileno(self) -> int:
        """The fd the actor watches: readable when requests are queued."""
        return self._wake_r.fileno()

    def ask(self, request):
        """Called on an HTTP thread: queue ``request``, wait for its answer.  Raises
        :class:`node.rpc_api.NoAnswer` after :attr:`timeout_s` seconds."""
        fut: Future = Future()
        self._queue.put((request, fut))
        try:
            self._wake_w.send(b"\0")
        except (BlockingIOError, OSError):
            pass  # a wake-up byte is already waiting, or the bridge is closed (the future times out)
        try:
            return fut.result(self.timeout_s)
        except FutureTimeout:
            fut.cancel()
            raise NoAnswer(f"no answer within {self.timeout_s:g} s") from None

    def take(self) -> list[tuple]:
        """Called on the actor's thread: the ``(request, future)`` pairs queued since the last call."""
        try:
            while self._wake_r.recv(4096):
                pass
        except (BlockingIOError, InterruptedError):
            pass
        out = []
        while True:
            try:
                out.append(self._queue.get_nowait())
            except queue.Empty:
                return out

    def close(self) -> None:
        """Close the wake-up sockets."""
        self._wake_r.close()
        self._wake_w.close()


class HttpServer:
    """waitress serving ``app`` on ``host:port`` (0 = a free port) in a daemon thread.

    Raises OSError from the constructor when the address cannot be bound."""

    def __init__(self, app, host: str, port: int):
        self._server = create_server(app, host=host, port=port, threads=HTTP_THREADS, ident="thespian-devp2p",
                                     clear_untrusted_proxy_headers=True)
        # waitress gives effective_port as getnameinfo's string (NI_NUMERICSERV), e.g. "8545"
        self.host, self.port = host, int(self._server.effective_port)
        self._thread = threading.Thread(target=self._run, name="http", daemon=True)

    def start(self) -> None:
        """Begin serving."""
        self._thread.start()

    def _run(self) -> None:
        try:
            self._server.run()
        except Exception:  # noqa: BLE001 - closing the server while its loop runs ends it this way
            logging.getLogger("devp2p").debug("http server loop ended", exc_info=True)

    def close(self) -> None:
        """Stop accepting and close the listening socket."""
        self._server.close()
