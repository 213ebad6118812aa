"""Subprotocols as plain classes (:mod:`protocols.api`), their registry and test harness."""
