"""DialScheduler (node/dial_scheduler.py) without an actor system."""

from __future__ import annotations

import pytest

from node.dial_scheduler import DialScheduler
from rlpx.enode import Enode
from rlpx.keys import generate_private_key, node_id_from_private_key

LOCAL = node_id_from_private_key(generate_private_key())


def enode(port=30303, host="127.0.0.1", node_id=None) -> str:
    return Enode(node_id or node_id_from_private_key(generate_private_key()), host, port, port).url()


def nid(url: str) -> bytes:
    return bytes.fromhex(url[len("enode://"):url.index("@")])


def ids(due) -> list[bytes]:
    return [e.node_id for e, _ in due]


def sched(**kw) -> DialScheduler:
    args = dict(local_id=LOCAL, max_pending=10, max_dialed=10, history_s=5.0, backoff_max_s=40.0)
    args.update(kw)
    return DialScheduler(**args)


def test_static_dialled_once_while_dialling():
    s = sched()
    x = enode()
    s.add_static(x)
    due = s.due(0.0)
    assert ids(due) == [nid(x)] and due[0][1] is True
    assert s.due(0.1) == [] and s.due(100.0) == []  # still dialling, however late
    assert s.check(s.static[nid(x)], 100.0) == "already dialing"


def test_never_dials_self():
    s = sched()
    s.add_static(enode(node_id=LOCAL))
    s.add_candidate(enode(node_id=LOCAL))
    assert s.due(0.0) == [] and s.due(1000.0) == []
    assert s.check(s.static[LOCAL], 0.0) == "is self"


def test_never_dials_connected():
    s = sched()
    x = enode()
    s.add_static(x)
    s.peer_up(nid(x), dialed=False)  # it connected to us
    assert s.due(0.0) == [] and s.due(1000.0) == []
    s.peer_down(nid(x))
    assert ids(s.due(1000.0)) == [nid(x)]


def test_history_expiry_before_redial():
    """A dialled node is not dialled again before dial_history_s has passed since that dial,
    even if it disconnects right away (go-ethereum dialHistoryExpiration)."""
    s = sched(history_s=5.0)
    x = enode()
    s.add_static(x)
    assert ids(s.due(10.0)) == [nid(x)]
    s.dial_done(nid(x), True, 10.2)
    s.peer_up(nid(x), dialed=True)
    s.peer_down(nid(x))
    assert s.due(11.0) == []
    assert s.check(s.static[nid(x)], 11.0) == "recently dialed"
    assert s.next_due(11.0) == pytest.approx(15.0)
    assert s.due(14.99) == []
    assert ids(s.due(15.01)) == [nid(x)]


def test_backoff_doubles_and_is_capped():
    s = sched(history_s=1.0, backoff_max_s=5.0)
    x = enode()
    s.add_static(x)
    now, delays = 0.0, []
    for _ in range(6):
        assert ids(s.due(now)) == [nid(x)], now
        s.dial_done(nid(x), False, now)
        nxt = s.next_due(now)
        delays.append(round(nxt - now, 6))
        assert s.due(nxt - 0.001) == []
        now = nxt + 0.001
    assert delays == [1.0, 2.0, 4.0, 5.0, 5.0, 5.0]
    # a success resets the backoff
    assert ids(s.due(now)) == [nid(x)]
    s.dial_done(nid(x), True, now)
    s.peer_up(nid(x), True)
    s.peer_down(nid(x))
    later = now + 1.001
    assert ids(s.due(later)) == [nid(x)]
    s.dial_done(nid(x), False, later)
    assert s.next_due(later) == pytest.approx(later + 1.0)


def test_max_pending_dials():
    s = sched(max_pending=2)
    urls = [enode(30000 + i) for i in range(5)]
    for u in urls:
        s.add_static(u)
    first = ids(s.due(0.0))
    assert len(first) == 2
    assert s.due(0.0) == []
    s.dial_done(first[0], False, 0.0)
    third = ids(s.due(0.0))
    assert len(third) == 1 and third[0] not in first
    assert len(s.dialing) == 2


def test_dynamic_slots():
    """Dynamic dials in flight are at most twice the missing dialled peers (go-ethereum dial.go
    freeDialSlots: ``(maxDialPeers - dialPeers) * 2``); inbound peers and static dials take none."""
    s = sched(max_dialed=2)
    cands = [enode(31000 + i) for i in range(8)]
    for c in cands:
        s.add_candidate(c)
    st = enode(32000)
    s.add_static(st)
    s.peer_up(nid(enode()), dialed=False)  # an inbound peer: no dial slot used
    due = s.due(0.0)
    assert [static for _, static in due] == [True, False, False, False, False]
    dyn = [e.node_id for e, static in due if not static]
    assert len(dyn) == 4  # 2 missing dialled peers x 2
    assert s.due(0.0) == []  # every slot busy dialling
    # one dial succeeds: 1 missing peer, 2 slots, 3 dials in flight: nothing new
    s.dial_done(dyn[0], True, 0.0)
    s.peer_up(dyn[0], dialed=True)
    assert s.due(0.0) == []
    # two fail: 1 in flight of 2 slots, so one new dial
    s.dial_done(dyn[1], False, 0.0)
    s.dial_done(dyn[2], False, 0.0)
    nxt = ids(s.due(0.0))
    assert len(nxt) == 1 and nxt[0] not in dyn
    assert s.due(0.0) == []
    # the dialled peer leaves: 2 missing, 4 slots, 2 in flight: two more
    s.peer_down(dyn[0])
    assert len(s.due(0.0)) == 2


def test_slots_are_capped_by_max_pending():
    s = sched(max_dialed=10, max_pending=3)
    for i in range(8):
        s.add_candidate(enode(33000 + i))
    assert len(s.due(0.0)) == 3


def test_no_dial_slots_means_static_only():
    s = sched(max_dialed=0)
    s.add_candidate(enode(31000))
    st = enode(32000)
    s.add_static(st)
    assert ids(s.due(0.0)) == [nid(st)]


def test_candidate_that_is_static_counts_as_static():
    s = sched(max_dialed=0)
    x = enode()
    s.add_candidate(x)
    s.add_static(x)
    due = s.due(0.0)
    assert ids(due) == [nid(x)] and due[0][1] is True


def test_remove_static():
    s = sched()
    x = enode()
    s.add_static(x)
    s.remove_static(x)
    assert s.due(0.0) == []


def test_net_restrict():
    s = sched(net_restrict=("10.0.0.0/8",))
    inside, outside = enode(host="10.1.2.3"), enode(host="127.0.0.1")
    s.add_static(inside)
    s.add_static(outside)
    assert ids(s.due(0.0)) == [nid(inside)]
    assert s.check(s.static[nid(outside)], 0.0) == "not in netrestrict list"


# -- names resolved before the checks (go-ethereum p2p/dial.go) --------------

def test_name_is_resolved_before_netrestrict_applies():
    s = sched(net_restrict=("10.0.0.0/8",))
    x = enode(host="localhost")
    s.add_static(x)
    assert s.due(0.0) == []  # never dialled unresolved
    assert s.resolve_due(0.0) == [(nid(x), "localhost", 30303)]
    assert s.resolve_due(0.0) == []  # one lookup at a time
    assert s.resolved(nid(x), ["127.0.0.1"], 0.0) == "127.0.0.1"
    assert s.due(0.0) == []
    assert s.check(s.static[nid(x)], 0.0) == "not in netrestrict list"


def test_resolved_name_is_dialled_at_its_address_and_resolved_again_after_a_failed_dial():
    s = sched(net_restrict=("127.0.0.0/8",))
    x = enode(host="localhost")
    s.add_static(x)
    s.resolve_due(0.0)
    s.resolved(nid(x), ["::1", "127.0.0.1"], 0.0)  # IPv4 preferred
    [(e, static)] = s.due(0.0)
    assert e.host == "127.0.0.1" and e.node_id == nid(x) and static
    s.dial_done(nid(x), False, 1.0)
    assert s.due(100.0) == [] and s.resolve_due(100.0) == [(nid(x), "localhost", 30303)]


def test_name_that_does_not_resolve_backs_off_like_a_failed_dial():
    s = sched()
    x = enode(host="node.invalid")
    s.add_static(x)
    s.resolve_due(0.0)
    assert s.resolved(nid(x), [], 0.0) is None
    assert s.resolve_due(1.0) == [] and s.static[nid(x)].failures == 1
    assert s.resolve_due(6.0) == [(nid(x), "node.invalid", 30303)]  # after history_s * 2**0


def test_self_and_connected_checks_come_before_any_lookup():
    s = sched()
    me, other = enode(host="localhost", node_id=LOCAL), enode(host="localhost")
    s.add_static(me)
    s.add_static(other)
    s.peer_up(nid(other), dialed=False)
    assert s.resolve_due(0.0) == []


def test_static_node_given_as_enr_record():
    from discovery.enr import build
    key = generate_private_key()
    record = build(key, 1, ip="127.0.0.1", tcp=30377, udp=30377).text()
    s = sched()
    assert s.add_static(record) == node_id_from_private_key(key)
    (e, static), = s.due(0.0)
    assert static and (e.host, e.tcp_port) == ("127.0.0.1", 30377)
    assert s.remove_static(record) == node_id_from_private_key(key)
    assert s.static == {}
