"""eth/69 on go-ethereum's own ethtest chain (built into .tools by scripts/tools.sh): the import,
Status at its head, and headers and bodies served from it, in-process through the protocol
harness (no node, no geth)."""

import json

import rlp

from protocols.eth import EthProtocol69, GetBlockBodies
from protocols.eth.store import ensure_imported
from protocols.forkid import fork_id
from rlpx.keys import keccak256
from support.eth_chain import connected, headers_for, numbers
from support.geth import ethtest_chain


def test_go_ethereum_ethtest_chain(tmp_path):
    t = ethtest_chain()
    head = json.loads((t / "headblock.json").read_text())
    opts = {"genesis": str(t / "genesis.json"), "chain_file": str(t / "chain.rlp"), "db": str(tmp_path / "e.sqlite")}
    meta = ensure_imported(opts["chain_file"], opts["db"], 0, opts["genesis"])
    assert (int(meta["first"]), int(meta["head"])) == (0, int(head["number"], 16))  # block 0 from genesis.json
    h = connected(EthProtocol69, opts)
    st = h.proto.local_status
    assert "0x" + st.latest_hash.hex() == head["hash"] and st.latest == 600
    assert (st.fork_id.hash, st.fork_id.next) == fork_id(h.proto.chain, 600, int(head["timestamp"], 16))
    got = headers_for(h, 1, 20)
    assert numbers(got) == list(range(1, 21))
    assert all(rlp.decode(got[i + 1])[0] == keccak256(got[i]) for i in range(19))
    assert numbers(headers_for(h, bytes.fromhex(head["hash"][2:]), 3, 0, True)) == [600, 599, 598]
    genesis, first = headers_for(h, 0, 2)  # ZeroRequestID's request: block 0 is built from genesis.json
    assert keccak256(genesis) == rlp.decode(first)[0] == h.proto.chain.genesis_hash
    assert numbers([genesis, first]) == [0, 1]
    h.deliver(GetBlockBodies(7, [keccak256(x) for x in got]))
    [bodies] = h.take()
    assert len(bodies.bodies) == 20 and all(len(b) >= 2 for b in bodies.bodies)
