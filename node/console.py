"""Node events and log records as lines for people, in go-ethereum's terminal log style.

``INFO [12-02|05:47:19.940] Peer connected                 node=alpha id=d973cac0… name=beta``:
level, local time, a message padded to 40 characters, then ``key=value`` pairs, a value with
spaces or quotes given as a JSON string (go-ethereum log/format.go, terminal format).  Programs
read the JSON Lines stream instead; this is for a terminal.
"""

from __future__ import annotations

import json
import logging
import time

MESSAGE_WIDTH = 40
"""Messages are padded to this many characters so the key=value pairs line up (go-ethereum
log/format.go ``termMsgJust``)."""

LEVELS = {"DEBUG": "DEBUG", "INFO": "INFO", "WARNING": "WARN", "ERROR": "ERROR", "CRITICAL": "CRIT"}
"""Python logging level name -> go-ethereum's."""

_TITLES = {
    "ready": ("INFO", "Node started"),
    "peer_added": ("INFO", "Peer connected"),
    "peer_removed": ("INFO", "Peer disconnected"),
    "dial_failed": ("INFO", "Dial failed"),
    "peer_rejected": ("INFO", "Inbound peer rejected"),
    "actor_exited": ("WARN", "Actor exited"),
    "actor_restarted": ("INFO", "Actor restarted"),
    "restart_limit_reached": ("ERROR", "Restart limit reached"),
    "fault_injected": ("WARN", "Fault injected"),
    "stopped": ("INFO", "Node stopped"),
    "host_joined": ("INFO", "Host joined"),
    "host_lost": ("WARN", "Host lost"),
    "start_failed": ("ERROR", "Node start failed"),
    "msg_send": ("DEBUG", "Message sent"),
    "msg_recv": ("DEBUG", "Message received"),
}


def stamp(when: float) -> str:
    """``[MM-DD|HH:MM:SS.mmm]`` in local time, for ``when`` in seconds since the epoch."""
    t = time.localtime(when)
    return f"[{t.tm_mon:02d}-{t.tm_mday:02d}|{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d}.{int(when * 1000) % 1000:03d}]"


def _value(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if v is None:
        return "nil"
    if isinstance(v, (list, tuple)):
        v = ",".join(str(x) for x in v)
    elif isinstance(v, dict):
        v = json.dumps(v, separators=(",", ":"), default=str)
    text = str(v)
    if text == "" or any(c in text for c in ' "=\n'):
        return json.dumps(text)
    return text


def line(level: str, when: float, message: str, pairs: list[tuple[str, object]]) -> str:
    """One terminal line: ``LEVEL [stamp] message   k=v ...`` (level as go-ethereum names it)."""
    head = f"{level:<5}{stamp(when)} "  # "INFO [", "ERROR[": the level padded to 5, as go-ethereum
    if not pairs:
        return head + message
    return f"{head}{message:<{MESSAGE_WIDTH}} " + " ".join(f"{k}={_value(v)}" for k, v in pairs)


def _short(hex_id: str) -> str:
    return hex_id[:8] + "…" if len(hex_id) > 8 else hex_id


def report_text(data: dict) -> str:
    """test/1's report in words: ``echoed 2000 x 100 B in 0.26 s, 7,823 msg/s, 0 mismatches``."""
    rate = data.get("msgs_per_s")
    text = (f"echoed {data.get('count', 0)} x {data.get('size', 0)} B in {data.get('elapsed_s', 0):.2f} s, "
            f"{rate:,.0f} msg/s, " if rate is not None else "no rate, ")
    text += f"{data.get('mismatches', 0)} mismatches"
    if data.get("duplicates"):
        text += f", {data['duplicates']} duplicates"
    rtt = data.get("rtt_ms")
    if rtt and rtt.get("count"):
        text += f", round trip median {rtt['median']:.3f} ms, p99 {rtt['p99']:.3f} ms"
    return text


_DISCOVERY_TITLES = {"ready": "Started discovery", "node_added": "Discovered node", "node_removed": "Node left table",
                     "bad_packet": "Dropped discovery packet", "lookup_done": "Lookup done"}
"""Discovery event kinds (actors/discovery.py) and their line titles."""


def discovery_line(node: str, when: float, kind: str, data: dict) -> str:
    """The terminal line of one ``discovery`` event: ids shortened, the rest as ``k=v``."""
    pairs: list[tuple[str, object]] = [("node", node)]
    for key, value in data.items():
        if key in ("id", "target") and isinstance(value, str):
            value = _short(value)
        pairs.append((key, value))
    level = "WARN" if kind == "bad_packet" else "INFO"
    return line(level, when, _DISCOVERY_TITLES.get(kind, f"Discovery {kind}"), pairs)


def event_line(kind: str, node: str, when: float, data: dict) -> str:
    """The terminal line of one node event (``kind`` and ``data`` as in the JSON Lines stream)."""
    d = dict(data)
    pairs: list[tuple[str, object]] = [("node", node)]
    if kind == "protocol_event":
        peer = _short(d.get("peer_id", ""))
        inner = d.get("data") or {}
        if d.get("kind") == "test_report":
            return line("INFO", when, report_text(inner), pairs + [("peer", peer), ("round", inner.get("round"))])
        if d.get("kind") == "eth_status":
            pairs += [("peer", peer), ("side", inner.get("side")), ("network", inner.get("network_id")),
                      ("fork", inner.get("fork_id")), ("accepted", inner.get("accepted", True))]
            if inner.get("error"):
                pairs.append(("err", inner["error"]))
            return line("INFO", when, "eth Status", pairs)
        pairs += [("peer", peer), ("protocol", d.get("protocol")), ("kind", d.get("kind")), ("data", inner)]
        return line("INFO", when, "Protocol event", pairs)
    if kind == "discovery":
        return discovery_line(node, when, d.get("kind", ""), d.get("data") or {})
    level, title = _TITLES.get(kind, ("INFO", kind.replace("_", " ").capitalize()))
    if kind == "ready":
        pairs.append(("enode", d.pop("enode", "")))
        d.pop("id", None)
    elif kind == "peer_added":
        pairs += [("id", _short(d.pop("peer_id", ""))), ("name", d.pop("name", "")), ("caps", d.pop("caps", [])),
                  ("inbound", d.pop("inbound", False)), ("addr", d.pop("remote_address", ""))]
        d.pop("offsets", None)
        d.pop("enode", None)
    elif kind in ("peer_removed", "dial_failed", "peer_rejected"):
        pairs.append(("id", _short(d.pop("peer_id", ""))))
        if "address" in d:
            pairs.append(("addr", d.pop("address")))
        for key in ("stage", "cause", "reason"):
            if d.get(key):
                pairs.append((key, d.pop(key)))
        d.pop("reason_code", None)
        if d.get("remote_requested"):
            pairs.append(("remote", True))
        d.pop("remote_requested", None)
        err = d.pop("error", "")
        if err:
            pairs.append(("err", err))
    elif kind in ("msg_send", "msg_recv"):
        d["peer_id"] = _short(d.get("peer_id", ""))
    pairs += list(d.items())
    return line(level, when, title, pairs)


class TerminalFormatter(logging.Formatter):
    """logging records as terminal lines: ``WARN [12-02|05:47:19.940] message``."""

    def format(self, record: logging.LogRecord) -> str:
        text = line(LEVELS.get(record.levelname, record.levelname), record.created, record.getMessage(), [])
        if record.exc_info:
            text += "\n" + self.formatException(record.exc_info)
        return text
