"""The node against go-ethereum (pinned in requirements/go-ethereum.txt, built by
scripts/tools.sh): geth's devp2p tool reads our Hello and tries malicious Hellos on us, and a
real geth and the node connect in both directions."""

from __future__ import annotations

import http.server
import threading

import pytest

from support.geth import Geth, devp2p, ethtest_chain
from support.nodes import echo

pytestmark = pytest.mark.timeout(240)


@pytest.fixture
def engine_api():
    """A local HTTP responder for the tester's --engineapi (only its transaction cases post to
    it): answers every POST with an empty JSON-RPC result."""
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 - the library's name
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            body = b'{"jsonrpc":"2.0","id":1,"result":null}'
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


@pytest.fixture
def geth(tmp_path):
    """geth on loopback with go-ethereum's eth test chain; stopped at the end."""
    g = Geth(tmp_path, ethtest_chain() / "genesis.json")
    try:
        yield g
    finally:
        g.stop()


def test_devp2p_rlpx_ping_reads_our_hello(nodes):
    """`devp2p rlpx ping` does the handshake and reads one frame, which must be our Hello: it
    never sends its own, so the node must send Hello right after the RLPx handshake."""
    a = nodes.start("alpha", protocols=[echo()])
    out = devp2p("rlpx", "ping", a.enode, timeout_s=60)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "Name:alpha" in out.stdout and "test" in out.stdout, out.stdout


def test_eth_test_malicious_handshake(nodes, engine_api, tmp_path):
    """go-ethereum's conformance case MaliciousHandshake: five Hellos with bad node ids or
    capabilities; each must be answered with Disconnect or a close, nothing else."""
    a = nodes.start("alpha", protocols=[echo()])
    out = devp2p("rlpx", "eth-test", "--chain", str(ethtest_chain()), "--node", a.enode, "--engineapi", engine_api,
                 "--jwtsecret", "00" * 32, "--run", "MaliciousHandshake", timeout_s=120)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    assert "MaliciousHandshake" in out.stdout + out.stderr
    assert not [e for e in nodes.events(kind="actor_exited", node="alpha") if e.data.get("actor") != "peer"]


def test_geth_and_the_node_complete_hello_both_ways(nodes, geth):
    """geth dials the node, and the node dials geth: both complete the RLPx handshake and the
    Hello exchange, and go-ethereum's reason for ending a connection with no shared capability
    (test/1 only on our side) reaches us as USELESS_PEER."""
    a = nodes.start("alpha", protocols=[echo()], net_restrict=("127.0.0.0/8",))
    mark = nodes.mark()
    assert geth.rpc("admin_addPeer", a.enode) is True
    ev = nodes.expect("peer_rejected", node="alpha", since=mark, timeout_s=30)[0].data
    assert ev["reason"] == "USELESS_PEER", ev
    mark = nodes.mark()
    nodes.admin(a, "add_peer", geth.enode)
    ev = nodes.expect("dial_failed", node="alpha", since=mark, timeout_s=30)[0].data
    assert ev["reason"] == "USELESS_PEER" and ev["stage"] in ("hello", "checkpoint"), ev
