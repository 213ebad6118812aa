"""node/console.py: event and log lines in go-ethereum's terminal style."""

import logging
import time

from node.console import TerminalFormatter, event_line, line, report_text

WHEN = time.mktime((2026, 12, 2, 5, 47, 19, 0, 0, -1)) + 0.94


def test_line_layout_as_go_ethereum():
    assert line("INFO", WHEN, "Peer connected", [("node", "alpha"), ("inbound", True)]) == \
        "INFO [12-02|05:47:19.940] Peer connected" + " " * 27 + "node=alpha inbound=true"
    assert line("ERROR", WHEN, "x", []) == "ERROR[12-02|05:47:19.940] x"
    # values with spaces, quotes or '=' are quoted; empty ones too; None is nil; lists are joined
    assert line("INFO", WHEN, "m", [("a", "b c"), ("e", ""), ("n", None), ("l", ["x/1", "y/2"]), ("q", 'x"y')]) \
        .endswith('a="b c" e="" n=nil l=x/1,y/2 q="x\\"y"')


def test_events_as_lines():
    added = event_line("peer_added", "alpha", WHEN, {
        "peer_id": "d973cac0" + "00" * 60, "name": "beta", "caps": ["test/1"], "inbound": True,
        "remote_address": "127.0.0.1:40112", "offsets": [{"name": "test"}], "enode": "enode://x"})
    assert added.startswith("INFO [12-02|05:47:19.940] Peer connected ")
    assert added.endswith("node=alpha id=d973cac0… name=beta caps=test/1 inbound=true addr=127.0.0.1:40112")
    failed = event_line("dial_failed", "alpha", WHEN, {
        "peer_id": "2be93245" + "00" * 60, "address": "127.0.0.1:1", "reason": "NETWORK_ERROR", "reason_code": 1,
        "remote_requested": False, "error": "connect: Connection refused", "stage": "connect", "cause": "refused"})
    assert failed.endswith('node=alpha id=2be93245… addr=127.0.0.1:1 stage=connect cause=refused '
                           'reason=NETWORK_ERROR err="connect: Connection refused"')
    exited = event_line("actor_exited", "alpha", WHEN, {"actor": "listener", "cause": "injected kill"})
    assert exited.startswith("WARN [") and exited.endswith('node=alpha actor=listener cause="injected kill"')
    unknown = event_line("host_lost", "alpha", WHEN, {"host": "b"})
    assert "Host lost" in unknown and unknown.endswith("node=alpha host=b")


def test_reports_in_words():
    report = {"count": 2000, "size": 100, "elapsed_s": 0.2557, "msgs_per_s": 7823.4, "mismatches": 0, "round": 3}
    assert report_text(report) == "echoed 2000 x 100 B in 0.26 s, 7,823 msg/s, 0 mismatches"
    ev = event_line("protocol_event", "beta", WHEN, {"peer_id": "ab" * 64, "protocol": "test",
                                                     "kind": "test_report", "data": report})
    assert "] echoed 2000 x 100 B" in ev and ev.endswith("node=beta peer=abababab… round=3")
    status = event_line("protocol_event", "beta", WHEN, {"peer_id": "ab" * 64, "protocol": "eth", "kind": "eth_status",
                                                         "data": {"side": "remote", "network_id": 1,
                                                                  "fork_id": ["fc64ec04", 1150000],
                                                                  "accepted": False, "error": "genesis mismatch"}})
    assert status.endswith('side=remote network=1 fork=fc64ec04,1150000 accepted=false err="genesis mismatch"')


def test_log_records():
    record = logging.LogRecord("devp2p", logging.WARNING, __file__, 1, "node %s: %s", ("a", "slow"), None)
    record.created = WHEN
    assert TerminalFormatter().format(record) == "WARN [12-02|05:47:19.940] node a: slow"


def test_discovery_events_read_as_go_ethereum_style_lines():
    found = event_line("discovery", "beta", WHEN, {"kind": "node_added", "data": {
        "id": "ab" * 64, "ip": "127.0.0.1", "udp": 30303, "tcp": 30303}})
    assert "Discovered node" in found and "id=abababab…" in found and "udp=30303" in found
    dropped = event_line("discovery", "beta", WHEN, {"kind": "bad_packet", "data": {"kind": "bad_hash",
                                                                                    "from": "127.0.0.1:5"}})
    assert dropped.startswith("WARN") and "kind=bad_hash" in dropped
