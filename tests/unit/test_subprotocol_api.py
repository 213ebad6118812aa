"""The subprotocol API (protocols/api.py, options.py, registry.py, harness.py) and the example
of docs/subprotocols.md, without an actor system."""

from __future__ import annotations

import pathlib
import re
import subprocess
import sys
import textwrap
from dataclasses import dataclass, field

import pytest

from config.loader import ConfigError, load_text
from protocols.api import MessageError, Protocol, RawMessage, SendError, raw_messages
from protocols.examples.kv import Get, KVProtocol, Put, Value
from protocols.harness import ProtocolHarness
from protocols.options import OptionError, build_options
from protocols.registry import BUILTIN, ENTRY_POINT_GROUP, UnknownProtocolError, load_class, registered
from protocols.test_protocol import TestProtocol
from rlpx.disc import DiscReason

ROOT = pathlib.Path(__file__).resolve().parents[2]


def test_docs_listing_is_the_example_file():
    doc = (ROOT / "docs" / "subprotocols.md").read_text()
    m = re.search(r"<!-- example: protocols/examples/kv.py -->\n```python\n(.*?)```\n", doc, re.S)
    assert m, "docs/subprotocols.md lost its example listing"
    assert m.group(1) == (ROOT / "protocols" / "examples" / "kv.py").read_text()


def test_docs_test_snippet_runs():
    doc = (ROOT / "docs" / "subprotocols.md").read_text()
    snippet = doc.split("## Testing it", 1)[1].split("```python\n", 1)[1].split("```", 1)[0]
    exec(compile("from rlpx.disc import DiscReason\n" + snippet, "subprotocols.md", "exec"), {})


def test_kv_put_get_and_limits():
    h = ProtocolHarness(KVProtocol, {"max_keys": 2, "max_value_bytes": 4})
    h.deliver(Put(b"a", b"1"))
    h.deliver(Put(b"a", b"22"))  # overwriting is not a new key
    h.deliver(Put(b"b", b"3"))
    h.deliver(Get(1, b"a"))
    h.deliver(Get(2, b"zz"))
    assert h.take() == [Value(1, True, b"22"), Value(2, False, b"")]
    assert h.proto.peer_info() == {"keys": 2}
    h.deliver(Value(9, True, b"x"))
    assert h.events == [("kv_value", {"request_id": 9, "found": True, "value": "78"})]
    h.deliver(Put(b"c", b"4"))
    assert h.ended.reason == DiscReason.SUBPROTOCOL_ERROR and "more than 2 keys" in h.ended.error


@pytest.mark.parametrize("code, payload, why", [
    (0, b"\xc2\x01", "malformed Put"),           # one field short
    (1, b"\xc3\x00\x01\x02", "malformed Get"),   # request id 0 written as 0x00: not canonical
    (0, b"\xff", "malformed Put"),                # not RLP
])
def test_kv_bad_payloads_disconnect(code, payload, why):
    h = ProtocolHarness(KVProtocol)
    h.deliver(code, payload)
    assert isinstance(h.error, MessageError) and h.ended.reason == DiscReason.SUBPROTOCOL_ERROR
    assert why in h.ended.error
    h.deliver(Get(1, b"a"))  # nothing after the end
    assert h.take() == []


def test_code_outside_the_length_is_not_deliverable():
    h = ProtocolHarness(KVProtocol)
    with pytest.raises(ValueError):
        h.deliver(3, b"")


class Tiny(Protocol):
    NAME, VERSION, LENGTH = "tiny", 1, 4
    MESSAGES = raw_messages("M", 2)

    def started(self):
        self.after("tick", 1.0)
        self.ticks = []

    def on_timer(self, name):
        self.ticks.append((name, self.now()))
        if len(self.ticks) < 3:
            self.after("tick", 1.0)

    def on_M0(self, msg):
        self.send(self.MESSAGES[1](msg.payload[::-1]))

    def on_M1(self, msg):
        self.send(RawFar(b""))


class RawFar(RawMessage):
    CODE = 7


def test_handlers_unknown_codes_and_send_range():
    h = ProtocolHarness(Tiny)
    h.deliver(0, b"abc")
    assert h.take() == [Tiny.MESSAGES[1](b"cba")]
    h.deliver(1, b"")  # its handler sends a code beyond the length
    assert isinstance(h.error, SendError) and "out of range" in str(h.error)
    h2 = ProtocolHarness(Tiny)
    h2.deliver(2, b"")  # below the length, no message class
    assert isinstance(h2.error, MessageError) and "unknown message code 2" in str(h2.error)


def test_fake_clock_fires_timers_in_order_only_when_advanced():
    h = ProtocolHarness(Tiny)
    start = h.now()
    h.advance(0.5)
    assert h.proto.ticks == []
    h.advance(10)
    assert [t - start for _, t in h.proto.ticks] == [1.0, 2.0, 3.0]


def test_send_after_end_is_an_error():
    h = ProtocolHarness(Tiny)
    h.proto.end()
    assert h.ended.reason == DiscReason.QUITTING
    with pytest.raises(SendError):
        h.proto.send(Tiny.MESSAGES[0](b""))


@dataclass(frozen=True)
class Opts:
    flag: bool = False
    count: int = field(default=1, metadata={"min": 1})
    ratio: float = 0.5
    name: str = "x"
    anything: object = None

    def __post_init__(self):
        if self.name == "bad":
            raise ValueError("name may not be bad")


@pytest.mark.parametrize("raw, key, why", [
    ({"nope": 1}, "nope", "unknown option"),
    ({"flag": 1}, "flag", "must be a boolean"),
    ({"count": True}, "count", "must be an integer"),
    ({"count": 0}, "count", "must be >= 1"),
    ({"ratio": "1"}, "ratio", "must be a number"),
    ({"ratio": float("nan")}, "ratio", "must be a number"),
    ({"name": 5}, "name", "must be a string"),
    ({"name": "bad"}, "", "name may not be bad"),
])
def test_build_options_errors(raw, key, why):
    with pytest.raises(OptionError) as info:
        build_options(Opts, raw)
    assert info.value.key == key and why in info.value.reason


def test_build_options_accepts_ints_for_floats_and_any_object():
    o = build_options(Opts, {"ratio": 2, "anything": {"a": [1]}, "flag": True})
    assert (o.ratio, o.anything, o.flag, o.count) == (2, {"a": [1]}, True, 1)


def test_config_errors_name_the_option(tmp_path):
    with pytest.raises(ConfigError) as info:
        load_text("node: {name: a, protocols: [{name: test, version: 1, window: 0}]}", str(tmp_path))
    assert info.value.path == "node.protocols[0].window" and ">= 1" in str(info.value)
    with pytest.raises(ConfigError) as info:
        load_text("node: {name: a, protocols: [{name: test, version: 1, colour: red}]}", str(tmp_path))
    assert info.value.path == "node.protocols[0].colour" and "unknown option" in str(info.value)


def test_registry_loads_only_protocol_classes():
    assert load_class(BUILTIN[("test", 1)]) is TestProtocol
    assert load_class("protocols.examples.kv:KVProtocol") is KVProtocol
    for bad in ("protocols.examples.kv.Put", "protocols.nosuch.X", ".rel.Cls", "os.path"):
        with pytest.raises(UnknownProtocolError):
            load_class(bad)


def test_entry_point_registers_a_protocol(tmp_path):
    """A distribution on sys.path with an entry point in our group makes its protocol known by
    name and version alone (run in a subprocess: entry points are read from sys.path)."""
    dist = tmp_path / "kvdemo-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: kvdemo\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text(f"[{ENTRY_POINT_GROUP}]\nkv = protocols.examples.kv:KVProtocol\n")
    code = textwrap.dedent(f"""
        import sys; sys.path.insert(0, {str(tmp_path)!r})
        from config.loader import load_text
        from protocols.registry import registered
        assert registered()[("kv", 1)] == "protocols.examples.kv.KVProtocol", registered()
        cfg = load_text("node: {{name: a, protocols: [{{name: kv, version: 1, max_keys: 5}}]}}", {str(tmp_path)!r})
        print(dict(cfg.nodes[0].protocols[0].options))
    """)
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "{'max_keys': 5}"
    assert ("kv", 1) not in registered()  # not registered here: the test's sys.path is unchanged


def test_unknown_protocol_lists_the_known_ones(tmp_path):
    with pytest.raises(ConfigError) as info:
        load_text("node: {name: a, protocols: [{name: kv, version: 1}]}", str(tmp_path))
    assert "unknown protocol kv/1" in str(info.value) and "eth/68" in str(info.value)
