"""The installed Thespian is still the one actors/adapter/ was written against (docs/thespian.md).

For every Thespian original an adaptation replaces or wraps: it still exists, is Thespian's own
code, has the signature the adaptation was written against, and after ``install()`` the
replacement sits where Thespian's concrete classes find it.  For every private name read at
run time: it exists where expected, in the installed package and on a real multiprocTCPBase
actor.  Each failure names the adaptation (its row in docs/thespian.md) so that a Thespian
upgrade shows which rows to re-read.
"""

from __future__ import annotations

import importlib
import inspect
import multiprocessing
import os
import signal
import socket
from datetime import timedelta
from multiprocessing import util as mp_util

import pytest
from thespian.actors import Actor

from actors.adapter import SUPPORTED_THESPIAN, children, install, watch_shortcut

ORIGINALS = [
    # (row in docs/thespian.md, "module:qualified.name", signature written against)
    ("bind host", "thespian.system.transport.IPBase:IPActorAddress.bindArgs", "(self)"),
    ("setproctitle import", "thespian.system.utilis:setProcName", "(name, actorAddr)"),
    ("actor init args", "thespian.system.utilis:withPossibleInitArgs.create", "(self, klass)"),
    ("cheap delay", "thespian.system.transport.TCPTransport:TCPIncoming_Common.delay", "(self, current_time=None)"),
    ("poll selector", "thespian.system.transport.TCPTransport:TCPTransport._runWithExpiry", "(self, incomingHandler)"),
    ("children close inherited fds", "thespian.system.transport.TCPTransport:TCPTransport.childResetFileNumList",
     "(self)"),
    ("unreachable child", "thespian.system.actorManager:ActorManager._childInaccessible",
     "(self, childAddress, exitRequestIntent)"),
    ("unreachable child", "thespian.system.actorManager:ActorManager._shutdownActor", "(self, shutdownChildren=True)"),
    ("frame-stack headroom", "thespian.system.actorManager:ActorManager.run", "(self)"),
    ("drain accepts", "thespian.system.systemCommon:systemCommonBase.drainTransmits", "(self)"),
    ("drain accepts", "thespian.system.transport.wakeupTransportBase:wakeupTransportBase.run",
     "(self, incomingHandler, maximumDuration=None)"),
    ("drain accepts", "thespian.system.timing:ExpirationTimer.__init__", "(self, duration=None)"),
    ("fork start", "thespian.system.actorManager:ActorManager._createInstance", "(self)"),
    ("fork start", "thespian.system.transport:ReceiveEnvelope.__init__", "(self, sender, msg)"),
    ("exit rechecks children", "thespian.system.actorManager:ActorManager._shutdownActor",
     "(self, shutdownChildren=True)"),
    ("exit rechecks children", "thespian.system.actorManager:ActorManager._handleOneMessage", "(self, envelope)"),
    ("exit rechecks children", "thespian.system.admin.adminCore:AdminCore.h_SystemShutdown", "(self, envelope)"),
    ("exit rechecks children", "thespian.system.admin.adminCore:AdminCore.handleIncoming", "(self, envelope)"),
    ("exit rechecks children", "thespian.system.multiprocCommon:MultiProcReplicator._checkChildLiveness",
     "(childInfo)"),
    ("exit rechecks children", "thespian.system.systemCommon:systemCommonBase._handleChildExited",
     "(self, childAddress)"),
    ("exit rechecks children", "thespian.system.transport.wakeupTransportBase:wakeupTransportBase.addWakeup",
     "(self, timePeriod, payload)"),
    ("watch shortcut", "thespian.system.transport.TCPTransport:TCPTransport.set_watch", "(self, watchlist)"),
    ("child pid", "thespian.system.multiprocCommon:ChildInfo.__init__",
     "(self, childAddr, childClass, childProc, childNum)"),
    ("accept guard", "thespian.system.transport.TCPTransport:TCPTransport._acceptNewIncoming", "(self)"),
    ("accept guard", "thespian.system.transport.TCPTransport:TCPIncoming_Common.close", "(self)"),
]

REPLACED = [
    # (row, class "module:Name", attribute, the concrete classes Thespian calls it through)
    ("bind host", "thespian.system.transport.IPBase:IPActorAddress", "bindArgs",
     ["thespian.system.transport.IPBase:TCPv4ActorAddress"]),
    ("actor init args", "thespian.system.utilis:withPossibleInitArgs", "create", []),
    ("cheap delay", "thespian.system.transport.TCPTransport:TCPIncoming_Common", "delay",
     ["thespian.system.transport.TCPTransport:TCPIncoming",
      "thespian.system.transport.TCPTransport:TCPIncomingPersistent"]),
    ("children close inherited fds", "thespian.system.transport.TCPTransport:TCPTransport", "childResetFileNumList", []),
    ("unreachable child", "thespian.system.actorManager:ActorManager", "_childInaccessible",
     ["thespian.system.multiprocCommon:MultiProcManager"]),
    ("frame-stack headroom", "thespian.system.actorManager:ActorManager", "run",
     ["thespian.system.multiprocCommon:MultiProcManager"]),
    ("drain accepts", "thespian.system.systemCommon:systemCommonBase", "drainTransmits",
     ["thespian.system.multiprocCommon:MultiProcManager", "thespian.system.multiprocCommon:MultiProcAdmin"]),
    ("fork start", "thespian.system.actorManager:ActorManager", "_createInstance",
     ["thespian.system.multiprocCommon:MultiProcManager"]),
    ("exit rechecks children", "thespian.system.actorManager:ActorManager", "_shutdownActor",
     ["thespian.system.multiprocCommon:MultiProcManager"]),
    ("exit rechecks children", "thespian.system.actorManager:ActorManager", "_handleOneMessage",
     ["thespian.system.multiprocCommon:MultiProcManager"]),
    ("exit rechecks children", "thespian.system.admin.adminCore:AdminCore", "h_SystemShutdown",
     ["thespian.system.multiprocCommon:MultiProcAdmin"]),
    ("exit rechecks children", "thespian.system.admin.adminCore:AdminCore", "handleIncoming",
     ["thespian.system.multiprocCommon:MultiProcAdmin"]),
    ("accept guard", "thespian.system.transport.TCPTransport:TCPTransport", "_acceptNewIncoming", []),
]

SOURCE_FACTS = [
    # (row, "module:qualified.name" or "module", text its source must still contain: what the adaptation relies on)
    ("bind host", "thespian.system.transport.IPBase:IPActorAddress.bindArgs", "self.bindname"),
    ("setproctitle import", "thespian.system.utilis:setProcName", "from setproctitle import setproctitle"),
    ("actor init args", "thespian.system.utilis:withPossibleInitArgs.create", "self.kwargs"),
    ("poll selector", "thespian.system.transport.TCPTransport:TCPTransport._runWithExpiry",
     "selectors.DefaultSelector()"),
    ("children close inherited fds", "thespian.system.multiprocCommon:MultiProcReplicator._startChildActor",
     "self.transport.childResetFileNumList()"),
    ("unreachable child", "thespian.system.actorManager:ActorManager._shutdownActor",
     "self._childInaccessible(each, m)"),  # the late-bound lambda; an upstream fix lets the patch go
    ("drain accepts", "thespian.system.systemCommon:systemCommonBase.drainTransmits", "MAX_SHUTDOWN_DRAIN_PERIOD"),
    ("drain accepts", "thespian.system.systemCommon:systemCommonBase.drainTransmits", "TransmitOnly"),
    ("fork start", "thespian.system.actorManager:ActorManager.run", "self._createInstance()"),
    ("exit rechecks children", "thespian.system.multiprocCommon:MultiProcReplicator._startChildActor",
     "self._child_procs.append(ChildInfo("),
    ("exit rechecks children", "thespian.system.multiprocCommon", "childRealAddr"),
    ("exit rechecks children", "thespian.system.systemCommon:systemCommonBase._handleChildExited", "_exitedAlready"),
    ("watch shortcut", "thespian.system.actorManager:ActorManager", "self._exiting = True"),
    ("watch shortcut", "thespian.system.actorManager:ActorManager", "self._receiveQueue"),
    ("lifeline", "thespian.system.multiprocCommon:MultiProcReplicator._startChildActor", "name='Actor_%s__%s'"),
    ("lifeline", "thespian.system.multiprocCommon:startChild", "sigexithandler if each in exit_signals"),
    # the wrapper finds the new connection as the last entry added, and nothing is read in the call
    ("accept guard", "thespian.system.transport.TCPTransport:TCPTransport._acceptNewIncoming",
     "self._incomingSockets[lsock.fileno()] = ("),
    ("accept guard", "thespian.system.transport.TCPTransport:TCPTransport._runWithExpiry",
     "self._acceptNewIncoming()"),
]


def resolve(spec: str):
    """The object ``module:qualified.name`` names (class attributes raw: a property stays a
    property, a staticmethod its function), or the module for a bare ``module``."""
    module, _, qualname = spec.partition(":")
    obj = importlib.import_module(module)
    parts = qualname.split(".") if qualname else []
    for i, part in enumerate(parts):
        if i == len(parts) - 1 and inspect.isclass(obj):
            obj = inspect.getattr_static(obj, part)
        else:
            obj = getattr(obj, part)
    if isinstance(obj, property):
        obj = obj.fget
    if isinstance(obj, (staticmethod, classmethod)):
        obj = obj.__func__
    return obj


def original(obj):
    """Thespian's own function behind an adaptation's wrapper (each keeps it as ``__wrapped__``)."""
    while hasattr(obj, "__wrapped__"):
        obj = obj.__wrapped__
    return obj


def test_the_installed_thespian_is_the_supported_release():
    from importlib import metadata

    assert metadata.version("thespian") == SUPPORTED_THESPIAN


@pytest.mark.parametrize("row, spec, expected", ORIGINALS, ids=[f"{r}: {s.split(':')[1]}" for r, s, _ in ORIGINALS])
def test_patched_original_has_the_signature_written_against(row, spec, expected):
    install()
    try:
        found = original(resolve(spec))
    except (ImportError, AttributeError) as exc:
        pytest.fail(f"adaptation '{row}' (docs/thespian.md): Thespian no longer has {spec}: {exc}")
    assert getattr(found, "__module__", "").startswith("thespian."), \
        f"adaptation '{row}': {spec} resolves to {found!r}, not Thespian's own code"
    sig = str(inspect.signature(found, follow_wrapped=False))
    assert sig == expected, (f"adaptation '{row}' (docs/thespian.md): Thespian's {spec} is now {sig}, "
                             f"the adaptation was written against {expected}")


@pytest.mark.parametrize("row, cls_spec, attr, concrete", REPLACED, ids=[f"{r}: {a}" for r, _, a, _ in REPLACED])
def test_replacement_is_where_thespian_looks_and_installed_once(row, cls_spec, attr, concrete):
    install()
    install()  # idempotent: a second install must not wrap the wrapper
    cls = resolve(cls_spec)
    ours = inspect.getattr_static(cls, attr)
    ours = ours.fget if isinstance(ours, property) else ours
    inner = getattr(ours, "__wrapped__", None)
    assert inner is not None and not ours.__module__.startswith("thespian."), \
        f"adaptation '{row}': {cls_spec}.{attr} is not replaced after install()"
    assert inner.__module__.startswith("thespian.") and not hasattr(inner, "__wrapped__"), \
        f"adaptation '{row}': {cls_spec}.{attr} wraps {inner!r}, not Thespian's original (installed twice?)"
    for spec in concrete:
        sub = resolve(spec)
        found = getattr(sub, attr)
        found = found.fget if isinstance(found, property) else getattr(found, "__func__", found)
        if found is not ours:  # an override must hand on to the replaced method (e.g. ConventioneerAdmin)
            source = inspect.getsource(found)
            assert "super(" in source and f".{attr}(" in source, (
                f"adaptation '{row}': Thespian's {spec} overrides {attr} ({found.__qualname__}) without "
                f"calling it, so the replacement on {cls_spec} is never called")


def test_poll_selector_replaces_the_transport_modules_selectors():
    """'poll selector' replaces a module global, not a method: the name must still be there."""
    import selectors

    from thespian.system.transport import TCPTransport as T

    from actors.adapter.loop_selector import PassSelector

    install()
    assert hasattr(T, "selectors"), "adaptation 'poll selector': TCPTransport has no module global 'selectors'"
    assert T.selectors.DefaultSelector is PassSelector
    assert T.selectors.EVENT_READ == selectors.EVENT_READ and T.selectors.EVENT_WRITE == selectors.EVENT_WRITE


@pytest.mark.parametrize("row, spec, text", SOURCE_FACTS, ids=[f"{r}: {t[:30]}" for r, _, t in SOURCE_FACTS])
def test_thespian_code_still_does_what_the_adaptation_relies_on(row, spec, text):
    source = inspect.getsource(original(resolve(spec)))
    assert text in source, f"adaptation '{row}' (docs/thespian.md): {spec} no longer contains {text!r}"


def test_private_state_read_at_run_time_outside_an_actor():
    """The private attributes the adaptations read, on objects made without an actor system."""
    from thespian.system import systemCommon
    from thespian.system.timing import ExpirationTimer
    from thespian.system.transport import TransmitIntent, TransmitOnly
    from thespian.system.transport import TCPTransport as T
    from thespian.system.utilis import withPossibleInitArgs

    a, b = socket.socketpair()
    try:
        inc = T.TCPIncomingPersistent(None, a)
        assert inc.socket is a, "'children close inherited fds': an incoming socket has no .socket"
        assert isinstance(inc._expires._time_to_quit, float), "'cheap delay': no ExpirationTimer._time_to_quit"
        assert "_pauseUntil" not in inc.__dict__, "'cheap delay': _pauseUntil set before any back-off"
        inc.backoffPause(True)
        assert isinstance(inc._pauseUntil._time_to_quit, float), "'cheap delay': back-off is not _pauseUntil"
    finally:
        a.close()
        b.close()
    assert TransmitIntent("to", "msg").targetAddr == "to", "'unreachable child': TransmitIntent.targetAddr"
    assert withPossibleInitArgs(capabilities=1).kwargs == {"capabilities": 1}, "'actor init args': .kwargs"
    assert systemCommon.MAX_SHUTDOWN_DRAIN_PERIOD == timedelta(seconds=7), "'drain accepts': the 7 s drain limit"
    assert callable(TransmitOnly), "'drain accepts': TransmitOnly"
    view = ExpirationTimer(timedelta(seconds=1)).view()
    assert not view.expired() and 0 < view.remainingSeconds() <= 1, "'drain accepts': ExpirationTimer.view()"

    # 'children close inherited fds' reads multiprocessing's (stdlib) private finalizer records
    class Owner:
        pass

    owner = Owner()
    fin = mp_util.Finalize(owner, mp_util.close_fds, (-1, -1))
    try:
        assert fin in mp_util._finalizer_registry.values()
        assert (fin._callback, fin._pid, fin._args) == (mp_util.close_fds, os.getpid(), (-1, -1))
    finally:
        fin.cancel()

    from thespian.system import multiprocCommon

    assert signal.SIGTERM in multiprocCommon.exit_signals, "'lifeline': SIGTERM no longer asks an actor to exit"


class ContractChild(Actor):
    """Answers ("who", to) by sending ("child", pid, process name, parent pid) to ``to``."""

    def receiveMessage(self, msg, sender):
        if isinstance(msg, tuple) and msg[0] == "who":
            parent = multiprocessing.parent_process()
            self.send(msg[1], ("child", os.getpid(), multiprocessing.current_process().name,
                               parent.pid if parent else None))


class ContractProbe(Actor):
    """On "facts": creates a ContractChild, has it report, and answers with what the
    adaptations read of Thespian's internals in this actor (plain data, picklable)."""

    requester = child = None

    def receiveMessage(self, msg, sender):
        if msg == "facts":
            self.requester = sender
            self.child = self.createActor(ContractChild)
            self.send(self.child, ("who", self.myAddress))
        elif isinstance(msg, tuple) and msg[0] == "child":
            self.send(self.requester, self.facts(msg))

    def facts(self, child) -> dict:
        from thespian.system.multiprocCommon import MultiProcReplicator

        am = self._myRef
        tr = getattr(am, "transport", None)
        records = children.child_records(am)
        return {
            "manager": type(am).__name__,
            "replicator": isinstance(am, MultiProcReplicator),
            "manager_attrs": sorted(n for n in ("transport", "childAddresses", "_child_procs", "_parentAddr",
                                                "actorInst", "_receiveQueue") if hasattr(am, n)),
            "actor_inst_is_self": getattr(am, "actorInst", None) is self,
            "transport_attrs": sorted(n for n in watch_shortcut._TRANSPORT_ATTRS + ("run_time", "addWakeup", "run")
                                      if hasattr(tr, n)),
            "watches_is_list": isinstance(getattr(tr, "_watches", None), list),
            "incoming_have_socket": all(hasattr(v, "socket") for v in getattr(tr, "_incomingSockets", {}).values()),
            "bindname": hasattr(self.myAddress.addressDetails, "bindname"),
            "records": [(hasattr(r, "childAddr"), hasattr(r, "childProc"), r.childAddr == self.child,
                         getattr(getattr(r, "childProc", None), "pid", None)) for r in records],
            "child_in_addresses": self.child in getattr(am, "childAddresses", ()),
            "child_pid": children.child_pid(self, self.child),
            "child": child[1:],
            "me": (os.getpid(), multiprocessing.current_process().name),
        }


def test_private_state_read_at_run_time_on_a_real_actor(nodes):
    """On a multiprocTCPBase actor: Thespian's ActorManager, its transport and its child records
    have every private name the watch shortcut, fork start, child pid, exit rechecks and the
    lifeline read."""
    facts = nodes.asys.ask(nodes.asys.createActor(ContractProbe), "facts", 10)
    assert isinstance(facts, dict), f"no answer from the probe actor: {facts!r}"
    assert facts["replicator"], f"'fork start': the ActorManager ({facts['manager']}) is no MultiProcReplicator"
    assert facts["manager_attrs"] == sorted(["transport", "childAddresses", "_child_procs", "_parentAddr",
                                             "actorInst", "_receiveQueue"]), \
        f"'watch shortcut', 'fork start', 'exit rechecks children': ActorManager has only {facts['manager_attrs']}"
    assert facts["actor_inst_is_self"], "'fork start': ActorManager.actorInst is not the actor"
    wanted = sorted(watch_shortcut._TRANSPORT_ATTRS + ("run_time", "addWakeup", "run"))
    assert facts["transport_attrs"] == wanted, f"'watch shortcut': the transport has only {facts['transport_attrs']}"
    assert facts["watches_is_list"], "'watch shortcut': transport._watches is not the watch list"
    assert facts["incoming_have_socket"], "'children close inherited fds': an incoming socket has no .socket"
    assert facts["bindname"], "'bind host': an actor address has no bindname"
    child_pid, child_name, child_parent = facts["child"]
    mine = [r for r in facts["records"] if r[2]]
    assert len(mine) == 1 and mine[0][:2] == (True, True), f"'child pid': _child_procs records: {facts['records']}"
    assert mine[0][3] == child_pid, f"'child pid': the record's childProc.pid {mine[0][3]} is not the child's"
    assert facts["child_pid"] == child_pid, "'child pid': children.child_pid() does not find the child's pid"
    assert facts["child_in_addresses"], "'exit rechecks children': the child is not in childAddresses"
    assert child_parent == facts["me"][0], "'lifeline': the child's parent process is not its creator"
    assert child_name.startswith("Actor_") and facts["me"][1].startswith("Actor_"), \
        f"'lifeline': actor processes are no longer named Actor_... ({child_name}, {facts['me'][1]})"
