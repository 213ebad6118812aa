"""Typed messages exchanged by the node's actors: frozen dataclasses, picklable, importable.

Modules: :mod:`messages.lifecycle` (start/stop), :mod:`messages.admission` (the Server's
checkpoints), :mod:`messages.peer` (Server/Listener/Dialer <-> Peer),
:mod:`messages.protocol` (Peer <-> Protocol actors), :mod:`messages.events` (peer events
and subscriptions), :mod:`messages.admin` (admin queries and commands).
"""
