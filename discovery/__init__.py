"""Node discovery wire code: Ethereum Node Records (EIP-778, :mod:`discovery.enr`) and node URLs
in either form, ``enode://`` or ``enr:`` (:mod:`discovery.node_url`).

A layer just above :mod:`rlpx` (docs/architecture.md): it imports ``rlpx`` and libraries only.
"""
