"""Example protocols; docs/subprotocols.md walks through :mod:`protocols.examples.kv`."""
