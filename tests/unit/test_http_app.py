"""node/rpc_api.py and node/http_app.py against a scripted node (no actors, no sockets): the
JSON-RPC methods' shapes, the envelope's error codes, and go-ethereum's HTTP rules."""

from __future__ import annotations

import io
import json

import pytest

from messages.admin import (AdminCommand, AdminResult, GetMetrics, GetNodeInfo, GetPeers, GetStatus, MetricsReply,
                            NodeInfoReply, PeersReply, StatusReply)
from node.http_app import MAX_REQUEST_BYTES, HttpApp
from node.metrics import NodeMetrics
from node.prometheus import CONTENT_TYPE
from node.rpc_api import NoAnswer, RpcApi, client_version

PEER = {"id": "ab" * 32, "name": "beta", "caps": ["test/1"]}


class ScriptedNode:
    """``ask`` as the Http actor provides it, answering from fixed data."""

    def __init__(self, running: bool = True, silent: bool = False):
        self.running, self.silent, self.asked = running, silent, []

    def ask(self, request):
        self.asked.append(request)
        if self.silent:
            raise NoAnswer("no answer within 0.1 s")
        if isinstance(request, GetPeers):
            return PeersReply((PEER,))
        if isinstance(request, GetNodeInfo):
            return NodeInfoReply({"id": "cd" * 32, "name": "alpha"})
        if isinstance(request, GetStatus):
            return StatusReply(self.running, self.running, 3, 1)
        if isinstance(request, AdminCommand):
            if not request.enode.startswith("enode://"):
                return AdminResult(False, f"invalid enode: {request.enode}")
            return AdminResult(True)
        if isinstance(request, GetMetrics):
            return MetricsReply(NodeMetrics().families(1, 2, []))
        raise AssertionError(request)


def call(api: RpcApi, method: str, *params, id_=1):
    out = api.handle(json.dumps({"jsonrpc": "2.0", "id": id_, "method": method, "params": list(params)}).encode())
    return json.loads(out)


def test_methods_answer_in_go_ethereums_shapes():
    node = ScriptedNode()
    api = RpcApi(node.ask)
    assert call(api, "admin_peers")["result"] == [PEER]
    assert call(api, "admin_nodeInfo")["result"]["name"] == "alpha"
    assert call(api, "net_peerCount")["result"] == "0x3"
    assert call(api, "net_listening")["result"] is True
    version = call(api, "web3_clientVersion")["result"]
    assert version == client_version() and version.startswith("thespian-devp2p/v")
    enode = "enode://" + "11" * 64 + "@127.0.0.1:30303"
    for method, op in (("admin_addPeer", "add_peer"), ("admin_removePeer", "remove_peer"),
                       ("admin_addTrustedPeer", "add_trusted"), ("admin_removeTrustedPeer", "remove_trusted")):
        assert call(api, method, enode)["result"] is True
        assert node.asked[-1] == AdminCommand(op, enode)


def test_errors_carry_json_rpc_codes():
    api = RpcApi(ScriptedNode().ask)
    assert call(api, "admin_nope")["error"]["code"] == -32601
    missing = call(api, "admin_addPeer")["error"]
    assert missing["code"] == -32602 and "data" not in missing, "missing argument; no Python internals"
    assert call(api, "admin_peers", 1)["error"]["code"] == -32602, "extra argument"
    assert call(api, "admin_addPeer", 7)["error"]["code"] == -32602, "wrong type"
    bad = call(api, "admin_addPeer", "nonsense")["error"]
    assert bad["code"] == -32000 and "invalid enode" in bad["message"]
    for body in (b"{", b"\xff\xfe", b"[" * 100_000 + b"]" * 100_000):
        assert json.loads(api.handle(body))["error"]["code"] == -32700
    assert json.loads(api.handle(b'{"jsonrpc": "2.0", "method": 5, "id": 1}'))["error"]["code"] == -32600
    assert json.loads(api.handle(b"[]"))["error"]["code"] == -32600


def test_a_node_that_does_not_answer_is_a_server_error():
    out = call(RpcApi(ScriptedNode(silent=True).ask), "admin_peers")
    assert out["error"]["code"] == -32000 and "did not answer" in out["error"]["message"]


def test_batches_answer_each_call_by_id_and_skip_notifications():
    api = RpcApi(ScriptedNode().ask)
    body = json.dumps([{"jsonrpc": "2.0", "id": 1, "method": "net_peerCount"},
                       {"jsonrpc": "2.0", "method": "net_listening"},  # a notification: no answer
                       {"jsonrpc": "2.0", "id": "x", "method": "nope"}]).encode()
    out = {r["id"]: r for r in json.loads(api.handle(body))}
    assert set(out) == {1, "x"}
    assert out[1]["result"] == "0x3" and out["x"]["error"]["code"] == -32601
    only_notes = json.dumps([{"jsonrpc": "2.0", "method": "net_listening"}]).encode()
    assert api.handle(only_notes) is None


def wsgi(app, method="POST", path="/", body=b"", ctype="application/json", length=None):
    status, headers = {}, {}

    def start_response(s, h):
        status["s"] = s
        headers.update(h)

    env = {"REQUEST_METHOD": method, "PATH_INFO": path, "CONTENT_TYPE": ctype,
           "CONTENT_LENGTH": str(len(body) if length is None else length), "wsgi.input": io.BytesIO(body)}
    out = b"".join(app(env, start_response))
    return int(status["s"].split()[0]), headers, out


def test_http_rules_are_go_ethereums():
    app = HttpApp(ScriptedNode().ask)
    code, headers, out = wsgi(app, body=b'{"jsonrpc":"2.0","id":1,"method":"net_peerCount"}')
    assert (code, headers["Content-Type"], json.loads(out)["result"]) == (200, "application/json", "0x3")
    assert wsgi(app, method="GET", body=b"")[0] == 200, "geth answers a bodiless GET with 200"
    assert wsgi(app, method="PUT", body=b"{}")[0] == 405
    assert wsgi(app, ctype="text/plain", body=b"{}")[0] == 415
    assert wsgi(app, body=b"{}", length=MAX_REQUEST_BYTES + 1)[0] == 413
    assert wsgi(app, body=b"{}", length="x")[0] == 400
    assert wsgi(app, method="GET", path="/nowhere")[0] == 404


def test_metrics_and_health():
    app = HttpApp(ScriptedNode().ask)
    code, headers, out = wsgi(app, method="GET", path="/metrics")
    assert code == 200 and headers["Content-Type"] == CONTENT_TYPE
    assert b"p2p_peers 3.0" in out
    code, _, out = wsgi(app, method="GET", path="/health")
    assert code == 200 and json.loads(out) == {"up": True, "peers": 3, "listening": True}
    assert wsgi(app, method="POST", path="/metrics")[0] == 405


@pytest.mark.parametrize("node", [ScriptedNode(running=False), ScriptedNode(silent=True)])
def test_health_is_503_when_the_node_is_not_running_or_silent(node):
    code, _, out = wsgi(HttpApp(node.ask), method="GET", path="/health")
    assert code == 503 and json.loads(out)["up"] is False


def test_metrics_is_503_when_the_node_is_silent():
    assert wsgi(HttpApp(ScriptedNode(silent=True).ask), method="GET", path="/metrics")[0] == 503
