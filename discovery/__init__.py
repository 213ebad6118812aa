"""Node discovery wire code: Ethereum Node Records (EIP-778, :mod:`discovery.enr`), node URLs
in either form, ``enode://`` or ``enr:`` (:mod:`discovery.node_url`), and the discv4 packet
format (discv4.md, EIP-8, EIP-868, :mod:`discovery.v4wire`).

A layer just above :mod:`rlpx` (docs/architecture.md): it imports ``rlpx`` and libraries only.
"""
