"""The JSON-RPC 2.0 methods of a node's HTTP endpoint, in go-ethereum's shapes, on the json-rpc library.

Methods (go-ethereum node/api.go ``adminAPI``, internal/ethapi ``NetAPI``, ``web3API``):
``admin_peers``, ``admin_nodeInfo``, ``admin_addPeer``, ``admin_removePeer``,
``admin_addTrustedPeer``, ``admin_removeTrustedPeer``, ``net_peerCount`` (hex quantity),
``net_listening``, ``web3_clientVersion``.  Each answer is asked of the Server through ``ask``,
a blocking call supplied by the HTTP actor (actors/http.py); the library does the envelope:
batches, notifications and the error codes of JSON-RPC 2.0 section 5.1.
"""

from __future__ import annotations

import json
import platform
import sys
from importlib import metadata

from jsonrpc import Dispatcher, JSONRPCResponseManager
from jsonrpc.exceptions import JSONRPCDispatchException, JSONRPCParseError

from messages.admin import AdminCommand, AdminResult, GetNodeInfo, GetPeers, GetStatus, NodeInfoReply, PeersReply, \
    StatusReply

SERVER_ERROR = -32000
"""The code of an error in the method itself (go-ethereum rpc/errors.go ``errcodeDefault``)."""

INVALID_PARAMS = -32602
"""JSON-RPC 2.0 "Invalid params" (go-ethereum rpc/errors.go ``errcodeInvalidParams``)."""


class NoAnswer(Exception):
    """``ask`` got no answer from the node in time (raised by the asker)."""


def client_version() -> str:
    """``web3_clientVersion``: ``thespian-devp2p/v<version>/<os>-<arch>/python<x.y.z>``, the
    shape of geth's ``Geth/v1.17.10-stable/linux-amd64/go1.26``."""
    try:
        version = metadata.version("thespian-devp2p")
    except metadata.PackageNotFoundError:
        version = "0.0.0"
    return (f"thespian-devp2p/v{version}/{sys.platform}-{platform.machine().lower()}/"
            f"python{platform.python_version()}")


class RpcApi:
    """The methods, bound to ``ask(request) -> reply``: ``request`` one of the Server's admin
    messages (messages/admin.py), the reply its answer; ``ask`` raises :class:`NoAnswer`."""

    def __init__(self, ask):
        self.ask = ask
        self.version = client_version()
        self.dispatcher = Dispatcher({
            "admin_peers": self.admin_peers,
            "admin_nodeInfo": self.admin_node_info,
            "admin_addPeer": self.admin_add_peer,
            "admin_removePeer": self.admin_remove_peer,
            "admin_addTrustedPeer": self.admin_add_trusted_peer,
            "admin_removeTrustedPeer": self.admin_remove_trusted_peer,
            "net_peerCount": self.net_peer_count,
            "net_listening": self.net_listening,
            "web3_clientVersion": self.web3_client_version,
        })

    def handle(self, body: bytes) -> bytes | None:
        """The response (UTF-8 JSON bytes) to the request ``body`` (a single call or a batch),
        None when it held only notifications.  Malformed JSON is a -32700 response, never an
        exception; errors carry ``code`` and ``message`` only, as go-ethereum's do."""
        try:
            text = body.decode("utf-8")
            json.loads(text)  # the library reads it again; here a nesting too deep for the parser is caught
        except (UnicodeDecodeError, ValueError, RecursionError):
            return json.dumps({"jsonrpc": "2.0", "id": None, "error": JSONRPCParseError()._data}).encode()
        response = JSONRPCResponseManager.handle(text, self.dispatcher)
        if response is None:
            return None
        out = json.loads(response.json)
        for item in out if isinstance(out, list) else (out,):
            if isinstance(item, dict) and isinstance(item.get("error"), dict):
                item["error"].pop("data", None)  # the library's: a Python exception's text and type
        return json.dumps(out).encode()

    # -- methods -------------------------------------------------------------------------
    def _ask(self, request, want: type):
        try:
            reply = self.ask(request)
        except NoAnswer as exc:
            raise JSONRPCDispatchException(SERVER_ERROR, f"node did not answer: {exc}") from None
        if isinstance(reply, AdminResult) and not reply.ok:
            raise JSONRPCDispatchException(SERVER_ERROR, reply.error)
        if not isinstance(reply, want):
            raise JSONRPCDispatchException(SERVER_ERROR, f"unexpected answer {type(reply).__name__}")
        return reply

    def admin_peers(self) -> list:
        """go-ethereum ``admin_peers``: one PeerInfo object per peer."""
        return list(self._ask(GetPeers(), PeersReply).peers)

    def admin_node_info(self) -> dict:
        """go-ethereum ``admin_nodeInfo``."""
        return self._ask(GetNodeInfo(), NodeInfoReply).info

    def admin_add_peer(self, url) -> bool:
        """go-ethereum ``admin_addPeer``: dial ``url`` and keep it as a static node."""
        return self._command("add_peer", url)

    def admin_remove_peer(self, url) -> bool:
        """go-ethereum ``admin_removePeer``: forget the static node ``url`` and disconnect it."""
        return self._command("remove_peer", url)

    def admin_add_trusted_peer(self, url) -> bool:
        """go-ethereum ``admin_addTrustedPeer``: ``url`` may connect past max_peers."""
        return self._command("add_trusted", url)

    def admin_remove_trusted_peer(self, url) -> bool:
        """go-ethereum ``admin_removeTrustedPeer``."""
        return self._command("remove_trusted", url)

    def web3_client_version(self) -> str:
        """go-ethereum ``web3_clientVersion`` (:func:`client_version`)."""
        return self.version

    def _command(self, op: str, url) -> bool:
        """admin_addPeer & co: ``url`` an ``enode://`` URL or ``enr:`` record; True once the
        node took it; an invalid URL is a -32000 error, as in go-ethereum."""
        if not isinstance(url, str):
            raise JSONRPCDispatchException(INVALID_PARAMS, f"invalid argument 0: want a string, got "
                                                           f"{type(url).__name__}")
        self._ask(AdminCommand(op, url), AdminResult)
        return True

    def net_peer_count(self) -> str:
        """go-ethereum ``net_peerCount``: the number of peers as a hex quantity ("0x2")."""
        return hex(self._ask(GetStatus(), StatusReply).peers)

    def net_listening(self) -> bool:
        """go-ethereum ``net_listening``: whether the node accepts inbound connections now."""
        return self._ask(GetStatus(), StatusReply).listening
