"""The HTTP endpoint of a running node (docs/operators.md), through a real HTTP client
(urllib): every JSON-RPC method and its bad requests, /metrics parsed by prometheus_client
while test/1 traffic flows, /health, and the Http actor's restart after a kill."""

from __future__ import annotations

import json
import socket
import urllib.error
import urllib.request

from prometheus_client.parser import text_string_to_metric_families

from messages.admin import AdminResult
from messages.supervision import FaultRequest
from support.system import echo, sender
from support.wait import wait_until


def http_addr(nodes, node) -> str:
    assert node.http, "the node started without an HTTP endpoint"
    return node.http


def post(addr: str, body, ctype="application/json") -> tuple[int, object]:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    req = urllib.request.Request(f"http://{addr}/", data=data, method="POST", headers={"Content-Type": ctype})
    try:
        with urllib.request.urlopen(req, timeout=15) as resp:
            raw = resp.read()
            return resp.status, json.loads(raw) if raw else None
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode(errors="replace")


def rpc(addr: str, method: str, *params):
    status, out = post(addr, {"jsonrpc": "2.0", "id": 1, "method": method, "params": list(params)})
    assert status == 200, (status, out)
    return out


def get(addr: str, path: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(f"http://{addr}{path}", timeout=15) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def scrape(addr: str) -> dict:
    """{sample name: {frozenset(labels): value}} from /metrics, by prometheus_client's parser."""
    status, body = get(addr, "/metrics")
    assert status == 200, body
    out: dict = {}
    for fam in text_string_to_metric_families(body.decode()):
        for s in fam.samples:
            out.setdefault(s.name, {})[frozenset(s.labels.items())] = s.value
    return out


def test_every_method_and_its_bad_requests(nodes):
    a = nodes.start("alpha", http_port=0)
    b = nodes.start("beta")
    c = nodes.start("gamma")
    addr = http_addr(nodes, a)
    assert rpc(addr, "net_peerCount")["result"] == "0x0"
    assert rpc(addr, "net_listening")["result"] is True
    assert rpc(addr, "web3_clientVersion")["result"].startswith("thespian-devp2p/v")
    info = rpc(addr, "admin_nodeInfo")["result"]
    assert info["enode"] == a.enode and info["id"] and info["listenAddr"].endswith(f":{a.port}")

    since = nodes.mark()
    assert rpc(addr, "admin_addPeer", b.enode)["result"] is True
    nodes.expect("peer_added", node="alpha", since=since, peer_id=b.id_hex)
    peers = rpc(addr, "admin_peers")["result"]
    assert [p["id"] for p in peers] == [nodes.peers(a)[0]["id"]] and peers[0]["name"] == "beta"
    assert rpc(addr, "net_peerCount")["result"] == "0x1"

    assert rpc(addr, "admin_addTrustedPeer", c.enode)["result"] is True
    assert rpc(addr, "admin_removeTrustedPeer", c.enode)["result"] is True
    since = nodes.mark()
    assert rpc(addr, "admin_removePeer", b.enode)["result"] is True
    nodes.expect("peer_removed", node="alpha", since=since, reason="REQUESTED")
    assert rpc(addr, "net_peerCount")["result"] == "0x0"

    # bad requests: each a JSON-RPC error, and the endpoint keeps answering
    assert rpc(addr, "admin_addPeer", "enode://nonsense")["error"]["code"] == -32000
    assert rpc(addr, "admin_addPeer")["error"]["code"] == -32602
    assert rpc(addr, "admin_addPeer", 42)["error"]["code"] == -32602
    assert rpc(addr, "admin_nope")["error"]["code"] == -32601
    status, out = post(addr, b'{"jsonrpc": "2.0", "id": 1, "method": ')
    assert status == 200 and out["error"]["code"] == -32700
    status, out = post(addr, b'{"jsonrpc": "2.0", "id": 1, "method": 7}')
    assert status == 200 and out["error"]["code"] == -32600
    status, out = post(addr, [{"jsonrpc": "2.0", "id": 1, "method": "net_peerCount"},
                              {"jsonrpc": "2.0", "id": 2, "method": "nope"}])
    assert status == 200 and {r["id"]: ("result" in r) for r in out} == {1: True, 2: False}
    assert post(addr, b"{}", ctype="text/plain")[0] == 415
    assert get(addr, "/nowhere")[0] == 404
    # a client that sends half a request and goes away leaves nothing broken
    host, port = addr.rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=5) as s:
        s.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{")
    assert rpc(addr, "net_listening")["result"] is True


def test_metrics_while_traffic_flows_and_health(nodes):
    a = nodes.start("alpha", http_port=0, protocols=[echo()])
    b = nodes.start("beta", protocols=[sender(2000, 100, repeat_every_s=0.5)])
    addr = http_addr(nodes, a)
    status, body = get(addr, "/health")
    assert status == 200 and json.loads(body) == {"up": True, "peers": 0, "listening": True}
    nodes.connect(b, a)
    nodes.expect("peer_added", node="alpha")
    nodes.report(b, a, timeout_s=30)  # one round of 2,000 echoes is through
    first = scrape(addr)
    assert first["p2p_peers"] == {frozenset(): 1.0}
    assert first["p2p_peers_inbound"] == {frozenset(): 1.0}
    assert first["p2p_serves_total"][frozenset({("result", "success")})] == 1.0
    assert first["p2p_handshake_seconds_count"][frozenset({("direction", "inbound")})] == 1.0
    def test1(sample: dict) -> float:  # test/1 spreads its sends over its 8 codes
        return sum(v for labels, v in sample.items() if ("protocol", "test/1") in labels)

    assert len(first["p2p_ingress_packets_total"]) == 8
    assert test1(first["p2p_ingress_packets_total"]) >= 2000
    assert test1(first["p2p_egress_packets_total"]) >= 2000, "alpha echoes what it receives"
    assert test1(first["p2p_ingress_packet_bytes_total"]) >= 2000 * 100
    assert first["p2p_ingress_total"][frozenset()] > 2000 * 100

    def grew():
        return test1(scrape(addr)["p2p_ingress_packets_total"]) > test1(first["p2p_ingress_packets_total"])

    assert wait_until(grew, timeout_s=20), "the counters do not follow the traffic"
    status, body = get(addr, "/health")
    assert status == 200 and json.loads(body)["peers"] == 1

    since = nodes.mark()
    nodes.stop(b)
    nodes.expect("peer_removed", node="alpha", since=since)
    after = scrape(addr)
    assert after["p2p_peers"] == {frozenset(): 0.0}
    assert after["p2p_disconnects_total"][frozenset({("reason", "QUITTING"), ("remote", "true")})] == 1.0
    assert test1(after["p2p_ingress_packets_total"]) > test1(first["p2p_ingress_packets_total"]), \
        "an ended connection's counts are kept"


def test_the_http_actor_is_restarted_after_a_kill(nodes):
    a = nodes.start("alpha", http_port=0)
    addr = http_addr(nodes, a)
    assert rpc(addr, "net_listening")["result"] is True
    since = nodes.mark()
    reply = nodes.asys.ask(a.server, FaultRequest("http", "kill"), 10)
    assert isinstance(reply, AdminResult) and reply.ok, reply
    nodes.expect("actor_restarted", node="alpha", since=since, actor="http")

    def answers():
        try:
            return rpc(addr, "net_listening")["result"] is True
        except OSError:
            return False

    assert wait_until(answers, timeout_s=15), "the restarted Http actor does not serve the same port"
    assert scrape(addr)["p2p_actor_restarts_total"] == {frozenset({("kind", "http")}): 1.0}


def test_a_taken_http_port_stops_the_start_with_one_error(nodes):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        try:
            nodes.start("alpha", http_port=port)
        except Exception as exc:  # noqa: BLE001 - whatever start_node raises for StartFailed
            assert "cannot serve HTTP" in str(exc) and str(port) in str(exc), exc
        else:
            raise AssertionError("the node started although its HTTP port was taken")
