"""Every message dataclass survives pickle, as it must between actor processes
(multiprocTCPBase pickles every message; simpleSystemBase never does, docs/thespian-facts.md §8).

Instances are built from the field annotations, so a new message class is covered as soon as
it is added - and one with a field type this test does not know fails until it is taught."""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import pickle
import pkgutil

import pytest
from thespian.actors import ActorAddress
from thespian.system.transport.IPBase import TCPv4ActorAddress

import messages
from config.model import NodeConfig, ProtocolConfig, RestartPolicy, SupervisionConfig, Timeouts
from rlpx.handshake import Secrets
from rlpx.keys import generate_private_key

MODULES = sorted({f"messages.{m.name}" for m in pkgutil.iter_modules(messages.__path__)}
                 | {"actors.collector", "config.model"})

ADDRESS = ActorAddress(TCPv4ActorAddress("127.0.0.1", 40123, external=True))
CONFIG = NodeConfig("node", generate_private_key(), listen_port=0, static_nodes=("enode://x",),
                    protocols=(ProtocolConfig("test", 1, (("echo", True), ("send_count", 3))),),
                    timeouts=Timeouts(idle_s=1.5))

SAMPLES = {
    "str": "text", "bytes": b"\x01" * 64, "int": 7, "float": 1.25, "bool": True,
    "dict": {"a": [1, "b", {"c": None}], "n": 1.5}, "list": ["test/1", {"name": "test"}],
    "object": {"any": ("json", 1)},
    "tuple": (("test", 1), ("x", b"\x00")),
    "frozenset": frozenset({"peer_added", "ready"}),
    "ActorAddress": ADDRESS, "NodeConfig": CONFIG, "Timeouts": Timeouts(handshake_s=0.5),
    "RestartPolicy": RestartPolicy(max_restarts=2, backoff_s=0.05),
    "SupervisionConfig": SupervisionConfig(listener=RestartPolicy(max_restarts=1), liveness_s=0.5),
    "Secrets": Secrets(b"\x01" * 32, b"\x02" * 32, b"\x03" * 400, b"\x04" * 400, b"\x05" * 64),
}


def sample(annotation: str):
    ann = annotation.replace(" ", "")
    for opt in ann.split("|"):
        if opt == "None":
            continue
        base = opt.split("[")[0]
        if base in SAMPLES:
            if opt == "tuple[str,int]":
                return ("127.0.0.1", 30303)
            if opt.startswith("tuple[str,"):
                return ("enode://a", "enode://b")
            if opt.startswith("tuple[ProtocolConfig"):
                return CONFIG.protocols
            return SAMPLES[base]
    raise AssertionError(f"no sample value for annotation {annotation!r}: teach this test")


def message_classes():
    out = []
    for name in MODULES:
        mod = importlib.import_module(name)
        for _, cls in inspect.getmembers(mod, inspect.isclass):
            if dataclasses.is_dataclass(cls) and cls.__module__ == name and not cls.__name__.startswith("_"):
                out.append(cls)
    return out


CLASSES = message_classes()


def build(cls):
    if cls.__name__ in SAMPLES:  # a class that validates its fields (RestartPolicy): its own sample
        return SAMPLES[cls.__name__]
    kwargs = {f.name: sample(f.type if isinstance(f.type, str) else f.type.__name__)
              for f in dataclasses.fields(cls) if f.init}
    return cls(**kwargs)


def test_all_message_modules_found():
    names = {c.__name__ for c in CLASSES}
    # a few from each module, so the discovery cannot silently find nothing
    assert {"StartServer", "CheckpointRequest", "NodeEvent", "FromProtocol", "PeerGone",
            "AdminCommand", "WaitFor", "Found", "NodeConfig"} <= names
    assert len(CLASSES) >= 40, len(CLASSES)


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: f"{c.__module__}.{c.__name__}")
def test_pickle_round_trip(cls):
    msg = build(cls)
    back = pickle.loads(pickle.dumps(msg))
    assert type(back) is cls
    assert back == msg
    for f in dataclasses.fields(cls):
        assert getattr(back, f.name) == getattr(msg, f.name), f.name


def test_actor_address_fields_survive():
    from messages.events import Subscribe

    back = pickle.loads(pickle.dumps(Subscribe(ADDRESS, frozenset({"ready"}))))
    assert back.subscriber == ADDRESS
    assert back.subscriber.addressDetails == ADDRESS.addressDetails


def test_empty_and_default_instances():
    """Classes whose fields all have defaults pickle in their default state too."""
    for cls in CLASSES:
        if all(f.default is not dataclasses.MISSING or f.default_factory is not dataclasses.MISSING
               for f in dataclasses.fields(cls)):
            msg = cls()
            assert pickle.loads(pickle.dumps(msg)) == msg, cls
