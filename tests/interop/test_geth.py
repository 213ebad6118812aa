"""The node against go-ethereum (pinned in requirements/go-ethereum.txt, built by
scripts/tools.sh): geth's devp2p tool reads our Hello and tries malicious Hellos on us, and a
real geth and the node connect in both directions."""

from __future__ import annotations

import http.server
import json
import re
import subprocess
import threading

import pytest

from config.model import ProtocolConfig, Timeouts
from protocols.eth.genesis import genesis_block
from protocols.eth.store import ensure_imported
from protocols.forkid import BUILTIN_CHAINS
from rlpx.keys import keccak256
from support.geth import Geth, devp2p, ethtest_chain, tool
from support.nodes import echo
from support.wait import wait_until

HOLD_S = 95.0
"""How long a connection to geth must hold: past its 30 s read deadline and several 15 s pings."""

def eth(version: int, db_dir) -> ProtocolConfig:
    """eth/``version`` serving go-ethereum's ethtest chain (head 600), imported here into a
    database in ``db_dir`` (not beside the shared chain file), so the node's actors reuse it."""
    chain = ethtest_chain()
    db = str(db_dir / "ethtest.sqlite")
    ensure_imported(str(chain / "chain.rlp"), db, 0, str(chain / "genesis.json"))
    return ProtocolConfig("eth", version, (("genesis", str(chain / "genesis.json")),
                                           ("chain_file", str(chain / "chain.rlp")), ("db", db)))


def ethtest_head() -> dict:
    """The ethtest chain's head block (headblock.json: number, hash, ...)."""
    return json.loads((ethtest_chain() / "headblock.json").read_text())


def geth_sees(geth: Geth, node) -> dict | None:
    """geth's admin_peers entry for ``node``, or None."""
    return next((p for p in geth.peers() if p["enode"].split("@")[0] == node.enode.split("@")[0]), None)

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


CHAIN_CASES = ("Status", "BlockRangeUpdateExpired", "BlockRangeUpdateFuture", "BlockRangeUpdateInvalid",
               "GetBlockHeaders", "GetNonexistentBlockHeaders", "SimultaneousRequests", "SameRequestID",
               "ZeroRequestID", "GetBlockBodies")
"""go-ethereum's eth-test cases a node serving the ethtest chain passes without execution or a
pool (ZeroRequestID asks for the genesis header, which the node builds from genesis.json)."""


def _case_results(text: str) -> dict[str, str]:
    """{case: "OK" | "FAIL"} from the tester's ``-- OK <case> (...)`` / ``-- FAIL <case>`` lines."""
    return {m.group(2): m.group(1) for m in re.finditer(r"-- (OK|FAIL) (\S+)", text)}


def _eth_test(nodes, engine_api, node, pattern: str) -> tuple[dict[str, str], str]:
    out = devp2p("rlpx", "eth-test", "--chain", str(ethtest_chain()), "--node", node.enode, "--engineapi",
                 engine_api, "--jwtsecret", "00" * 32, "--run", pattern, timeout_s=180)
    text = out.stdout + out.stderr
    results = _case_results(text)
    print("eth-test cases:", " ".join(f"{c}={r}" for c, r in sorted(results.items())))
    return results, text


NEEDS_EXECUTION = frozenset({"GetReceipts", "GetLargeReceipts", "GetBlockAccessLists", "Transaction",
                             "InvalidTxs", "LargeTxRequest", "NewPooledTxs", "BlobViolations",
                             "TestBlobTxWithMismatchedSidecar", "TestBlobTxWithoutSidecar"})
"""Cases that need receipts, block access lists or a transaction pool, none of which the node
has (GetLargeReceipts only on eth/70: on eth/69 the tester asks nothing)."""


def test_eth_test_suite_against_the_node(nodes, engine_api, tmp_path):
    """go-ethereum's whole conformance suite against the node serving the ethtest chain (eth/69
    and eth/70), every case's result printed: each case in CHAIN_CASES passes, and only cases
    that need an execution layer or a pool fail."""
    a = nodes.start("alpha", protocols=[eth(69, tmp_path), eth(70, tmp_path)], net_restrict=("127.0.0.0/8",))
    results, text = _eth_test(nodes, engine_api, a, ".")
    assert {c: results.get(c) for c in CHAIN_CASES} == {c: "OK" for c in CHAIN_CASES}, text[-4000:]
    failed = {c for c, r in results.items() if r != "OK"}
    assert failed <= NEEDS_EXECUTION, f"cases failing that should pass: {sorted(failed - NEEDS_EXECUTION)}"
    assert f"{len(results) - len(failed)}/{len(results)} tests passed" in text, text[-2000:]


def test_eth_test_large_receipts_on_eth69(nodes, engine_api, tmp_path):
    """GetLargeReceipts when eth/69 is negotiated (a node that lists eth/69 only): the tester
    has nothing to ask below eth/70 and the case passes."""
    a = nodes.start("alpha", protocols=[eth(69, tmp_path)], net_restrict=("127.0.0.0/8",))
    results, text = _eth_test(nodes, engine_api, a, "^GetLargeReceipts$")
    assert results == {"GetLargeReceipts": "OK"}, text[-4000:]


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


def test_geth_and_the_node_run_eth70_both_ways_and_hold(nodes, geth, tmp_path):
    """geth dials the node (admin_addPeer): eth/70, the highest version both speak, runs; geth's
    admin_peers shows our version and block range, ours shows geth's Status; the connection
    holds past geth's read deadline and pings; admin_removePeer on geth reaches us as
    Disconnect(REQUESTED).  Then the node dials geth (a static node), and our shutdown reaches
    geth as QUITTING."""
    a = nodes.start("alpha", protocols=[eth(68, tmp_path), eth(69, tmp_path), eth(70, tmp_path), echo()],
                    net_restrict=("127.0.0.0/8",),
                    timeouts=Timeouts())  # go-ethereum's own timers: 15 s ping, 30 s read
    mark = nodes.mark()
    assert geth.rpc("admin_addPeer", a.enode) is True
    added = nodes.expect("peer_added", node="alpha", since=mark, timeout_s=30)[0].data
    assert added["inbound"] is True and "eth/70" in added["caps"], added
    [remote] = nodes.expect("protocol_event", node="alpha", since=mark, kind="eth_status", data__side="remote",
                            timeout_s=10)
    st = remote.data["data"]
    genesis = geth.rpc("eth_getBlockByNumber", "0x0", False)["hash"].removeprefix("0x")
    assert st["accepted"] is True and st["version"] == 70, st
    assert st["genesis"] == genesis and st["network_id"] == geth.network_id, st

    def geth_has_our_status():
        seen = geth_sees(geth, a)
        return seen if seen is not None and isinstance(seen["protocols"].get("eth"), dict) else None

    # geth's handshake runs in its own goroutine: poll its admin_peers, bounded
    seen = wait_until(geth_has_our_status, 10, "geth's admin_peers to show our eth Status", interval_s=0.2)
    head = ethtest_head()
    assert seen["protocols"]["eth"] == {"version": 70, "earliestBlock": 0, "latestBlock": 600,
                                        "latestBlockHash": head["hash"]}, seen
    [ours] = nodes.peers(a)
    assert ours["protocols"]["eth"]["version"] == 70 and ours["network"]["inbound"] is True, ours

    # held: nothing ends it for HOLD_S, and it is still there on both sides
    nodes.expect_none("peer_removed", HOLD_S, node="alpha", since=mark)
    assert geth_sees(geth, a) is not None and len(nodes.peers(a)) == 1

    mark = nodes.mark()
    assert geth.rpc("admin_removePeer", a.enode) is True
    gone = nodes.expect("peer_removed", node="alpha", since=mark, timeout_s=10)[0].data
    assert gone["reason"] == "REQUESTED" and gone["remote_requested"] is True, gone

    # the other way: the node dials geth
    mark = nodes.mark()
    nodes.admin(a, "add_peer", geth.enode)
    added = nodes.expect("peer_added", node="alpha", since=mark, timeout_s=30)[0].data
    assert added["inbound"] is False and "eth/70" in added["caps"], added
    nodes.stop(a)
    wait_until(lambda: geth_sees(geth, a) is None, 10, "geth to drop the stopped node", interval_s=0.2)
    # geth's log names a peer by the first 16 hex digits of its id (keccak256 of the public key)
    removed = geth.log_lines(r"Removing p2p peer .*id=" + seen["id"][:16])
    assert removed and "req=true" in removed[-1] and 'err="client quitting"' in removed[-1], removed[-3:]


@pytest.mark.parametrize("differs", ["genesis", "network_id", "fork_id"])
def test_a_node_on_another_chain_is_refused_with_subprotocol_error(nodes, geth, differs):
    """A node whose Status differs from geth's in its genesis, its network id, or its fork id
    (a head past geth's next fork): our side rejects geth's Status, and the connection ends with
    go-ethereum's reason for a failed handshake, SUBPROTOCOL_ERROR; geth keeps no peer."""
    genesis = geth.rpc("eth_getBlockByNumber", "0x0", False)["hash"]
    chain = {"name": "ethtest", "network_id": geth.network_id, "genesis_hash": genesis, "genesis_td": 0,
             "fork_times": [60, 120, 180, 360]}  # ethtest's time forks (only the fork id case is off)
    if differs == "genesis":
        chain["genesis_hash"] = "0x" + "11" * 32
    elif differs == "network_id":
        chain["network_id"] += 1
    else:  # our head time past geth's next fork (60): geth's fork id is stale to us (EIP-2124 rule 1)
        chain["genesis_time"] = 100
    proto = ProtocolConfig("eth", 70, (("chain", chain),))
    a = nodes.start("alpha", protocols=[proto, echo()], net_restrict=("127.0.0.0/8",))
    mark = nodes.mark()
    nodes.admin(a, "add_peer", geth.enode)
    [st] = nodes.expect("protocol_event", node="alpha", since=mark, kind="eth_status", data__side="remote",
                        timeout_s=30)
    assert st.data["data"]["accepted"] is False, st.data
    assert differs.split("_")[0] in st.data["data"]["error"], st.data
    gone = nodes.expect("peer_removed", node="alpha", since=mark, timeout_s=30)[0].data
    assert gone["reason"] == "SUBPROTOCOL_ERROR", gone
    assert geth.peers() == []


def test_geth_killed_is_seen_and_redialled(nodes, geth, tmp_path):
    """geth as a static node is killed: the node sees the connection drop (NETWORK_ERROR) and
    dials it again (refused while it is down), as go-ethereum does with static nodes."""
    a = nodes.start("alpha", protocols=[eth(70, tmp_path), echo()], net_restrict=("127.0.0.0/8",))
    nodes.admin(a, "add_peer", geth.enode)
    nodes.expect("peer_added", node="alpha", timeout_s=30)
    mark = nodes.mark()
    geth.kill()
    gone = nodes.expect("peer_removed", node="alpha", since=mark, timeout_s=10)[0].data
    assert gone["reason"] == "NETWORK_ERROR" and gone["remote_requested"] is False, gone
    redial = nodes.expect("dial_failed", node="alpha", since=mark, timeout_s=15)[0].data
    assert redial["stage"] == "connect" and redial["cause"] == "refused", redial


@pytest.mark.parametrize("network", ["mainnet", "sepolia", "hoodi"])
def test_genesis_block_of_go_ethereums_networks(tmp_path, network):
    """The genesis block built from `geth dumpgenesis --<network>` hashes to the network's
    genesis hash: the state root of its alloc and the header fields are go-ethereum's."""
    out = subprocess.run([str(tool("geth")), "dumpgenesis", f"--{network}"], capture_output=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    path = tmp_path / "genesis.json"
    path.write_bytes(out.stdout)
    header, _ = genesis_block(str(path))
    assert keccak256(header) == BUILTIN_CHAINS[network].genesis_hash


def test_a_geth_with_no_blocks_syncs_the_whole_chain_from_the_node(nodes, tmp_path):
    """A geth (full sync) with the ethtest genesis and no blocks, our node (serving the chain on
    eth/69 and eth/70) its only peer: told the head by the engine API (ethtest headfcu.json, what
    a consensus client would send), geth fetches every header and body from us, executes them and
    reaches block 600 with the chain's head hash.  Without that forkchoice update geth asks us
    nothing (it waits for its consensus client)."""
    chain = ethtest_chain()
    a = nodes.start("alpha", protocols=[eth(69, tmp_path), eth(70, tmp_path)], enable_msg_events=True,
                    timeouts=Timeouts())
    g = Geth(tmp_path / "synced", chain / "genesis.json", extra_args=("--syncmode", "full"))
    try:
        mark = nodes.mark()
        assert g.rpc("admin_addPeer", a.enode) is True
        nodes.expect("peer_added", node="alpha", since=mark, timeout_s=30)
        # geth's eth handshake is done when admin_peers shows our Status (else the forkchoice
        # update finds no peer to fetch the head from)
        wait_until(lambda: isinstance((geth_sees(g, a) or {}).get("protocols", {}).get("eth"), dict), 30,
                   "geth's eth handshake with the node")
        fcu = json.loads((chain / "headfcu.json").read_text())
        head = ethtest_head()

        def geth_reached_the_head() -> bool:
            if int(g.rpc("eth_blockNumber"), 16) >= int(head["number"], 16):
                return True
            # as a consensus client does every slot: the head again, until geth has it
            try:
                status = g.engine(fcu["method"], *fcu["params"])["payloadStatus"]["status"]
            except AssertionError as exc:  # an error reply: geth busy with the last update
                assert "beacon syncer reorging" in str(exc), exc
                status = "SYNCING"
            assert status in ("SYNCING", "VALID"), status
            nodes.wait("msg_recv", node="alpha", since=nodes.mark(), timeout_s=2)  # geth's next request, if any
            return False

        wait_until(geth_reached_the_head, 120, interval_s=0)  # the block check below says what is missing
        block = g.rpc("eth_getBlockByNumber", head["number"], False)
        assert block is not None and block["hash"] == head["hash"], g.log_tail()
        asked = {e.data["code"] for e in nodes.events(since=mark, kind="msg_recv", node="alpha")
                 if e.data.get("protocol") == "eth"}
        assert {0x03, 0x05} <= asked  # GetBlockHeaders and GetBlockBodies: all it needed of us
        assert g.log_lines("Imported new chain segment"), g.log_tail()
    finally:
        g.stop()
