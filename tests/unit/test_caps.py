"""Capability matching and the offset table (rlpx.caps).

The first test reproduces every case of go-ethereum's p2p/peer_test.go TestMatchProtocols.
In that table unset fields are Go zero values (name "", version 0, length 0), a case without
``Match`` expects no shared protocol, and each expected offset is relative to
baseProtocolLength (16), exactly as the Go test compares ``proto.offset - baseProtocolLength``.
"""

from __future__ import annotations

import pytest

from rlpx.base_protocol import BASE_PROTOCOL_LENGTH, Capability
from rlpx.caps import LocalProtocol, MatchedProtocol, OffsetTable, match_capabilities


def P(name: str = "", version: int = 0, length: int = 0) -> LocalProtocol:
    return LocalProtocol(name, version, length)


def C(name: str = "", version: int = 0) -> Capability:
    return Capability(name, version)


# (description, remote caps, local protocols, {name: (version, offset relative to 16)})
GETH_MATCH_PROTOCOLS = [
    ("no remote capabilities", [], [P("a")], {}),
    ("no local protocols", [C("a")], [], {}),
    ("no mutual protocols", [C("a")], [P("b")], {}),
    ("some matches, some differences",
     [C("local"), C("match1"), C("match2")],
     [P("match1"), P("match2"), P("remote")],
     {"match1": (0, 0), "match2": (0, 0)}),
    ("various alphabetical ordering",
     [C("aa"), C("ab"), C("bb"), C("ba")],
     [P("ba"), P("bb"), P("ab"), P("aa")],
     {"aa": (0, 0), "ab": (0, 0), "ba": (0, 0), "bb": (0, 0)}),
    ("no mutual versions", [C(version=1)], [P(version=2)], {}),
    ("multiple versions, single common",
     [C(version=1), C(version=2)],
     [P(version=2), P(version=3)],
     {"": (2, 0)}),
    ("multiple versions, multiple common",
     [C(version=1), C(version=2), C(version=3), C(version=4)],
     [P(version=2), P(version=3)],
     {"": (3, 0)}),
    ("various version orderings",
     [C(version=4), C(version=1), C(version=3), C(version=2)],
     [P(version=2), P(version=3), P(version=1)],
     {"": (3, 0)}),
    ("versions overriding sub-protocol lengths",
     [C(version=1), C(version=2), C(version=3), C("a")],
     [P(version=1, length=1), P(version=2, length=2), P(version=3, length=3), P("a")],
     {"": (3, 0), "a": (0, 3)}),
]


@pytest.mark.parametrize("remote,local,expected", [case[1:] for case in GETH_MATCH_PROTOCOLS],
                         ids=[case[0] for case in GETH_MATCH_PROTOCOLS])
def test_geth_match_protocols(remote, local, expected):
    result = match_capabilities(local, remote)
    got = {m.name: (m.version, m.offset - BASE_PROTOCOL_LENGTH) for m in result}
    assert got == expected
    assert len(result) == len(expected)  # one row per name


def test_match_rows_carry_the_local_length_and_are_sorted_by_offset():
    local = [P("snap", 1, 8), P("eth", 66, 17), P("eth", 67, 17), P("eth", 68, 17), P("les", 4, 23)]
    remote = [C("snap", 1), C("eth", 68), C("eth", 67), C("eth", 66), C("wit", 0)]
    result = match_capabilities(local, remote)
    assert result == (MatchedProtocol("eth", 68, 16, 17), MatchedProtocol("snap", 1, 33, 8))


def test_higher_version_length_replaces_lower_version_length():
    # eth/66 (length 10) is given back when eth/67 (length 5) matches; snap follows eth/67
    local = [P("eth", 66, 10), P("eth", 67, 5), P("snap", 1, 3)]
    remote = [C("eth", 66), C("eth", 67), C("snap", 1)]
    assert match_capabilities(local, remote) == (MatchedProtocol("eth", 67, 16, 5),
                                                  MatchedProtocol("snap", 1, 21, 3))


def test_duplicate_remote_caps_and_iterables():
    local = (p for p in [P("eth", 68, 17)])
    remote = iter([C("eth", 68), C("eth", 68)])
    assert match_capabilities(local, remote) == (MatchedProtocol("eth", 68, 16, 17),)


def test_matching_is_by_exact_name_and_version():
    assert match_capabilities([P("eth", 68, 17)], [C("ETH", 68), C("eth", 6), C("et", 68)]) == ()


# --------------------------------------------------------------------------- OffsetTable


def table():
    return OffsetTable(match_capabilities([P("eth", 68, 17), P("snap", 1, 8)], [C("eth", 68), C("snap", 1)]))


def test_route_absolute_codes():
    t = table()
    assert t.route(0) is None and t.route(15) is None  # base protocol codes are not routed
    row, rel = t.route(16)
    assert (row.name, rel) == ("eth", 0)
    row, rel = t.route(32)
    assert (row.name, rel) == ("eth", 16)
    row, rel = t.route(33)
    assert (row.name, rel) == ("snap", 0)
    row, rel = t.route(40)
    assert (row.name, rel) == ("snap", 7)
    assert t.route(41) is None
    assert t.route(10**6) is None


def test_absolute_codes():
    t = table()
    assert t.absolute("eth", 0) == 16
    assert t.absolute("eth", 16) == 32
    assert t.absolute("snap", 0) == 33
    assert t.absolute("snap", 7) == 40
    for code in range(17):
        row, rel = t.route(t.absolute("eth", code))
        assert (row.name, rel) == ("eth", code)


@pytest.mark.parametrize("name,code", [("eth", 17), ("eth", -1), ("snap", 8), ("snap", 1000)])
def test_absolute_out_of_range(name, code):
    with pytest.raises(ValueError, match="out of range"):
        table().absolute(name, code)


def test_geth_proto_encode_and_read_offsets():
    # p2p/peer_test.go: a Length-2 protocol sends code 1 as 17 and refuses code 2;
    # a Length-5 protocol receives 16+2, 16+3, 16+4 as 2, 3, 4.
    t2 = OffsetTable(match_capabilities([P("a", 0, 2)], [C("a", 0)]))
    assert t2.absolute("a", 1) == 17
    with pytest.raises(ValueError):
        t2.absolute("a", 2)
    t5 = OffsetTable(match_capabilities([P("a", 0, 5)], [C("a", 0)]))
    assert [t5.route(16 + c)[1] for c in (2, 3, 4)] == [2, 3, 4]
    assert t5.route(21) is None


def test_empty_table_routes_nothing():
    t = OffsetTable(())
    assert t.rows == () and t.route(16) is None


def test_offset_table_sorts_rows():
    rows = [MatchedProtocol("b", 1, 20, 4), MatchedProtocol("a", 1, 16, 4)]
    t = OffsetTable(rows)
    assert [r.name for r in t.rows] == ["a", "b"]
    assert t.route(19)[0].name == "a" and t.route(20)[0].name == "b"
    assert MatchedProtocol("a", 1, 16, 4).owns(19) and not MatchedProtocol("a", 1, 16, 4).owns(20)
