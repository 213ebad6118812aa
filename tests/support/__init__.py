"""Support shared by the tests and bench/: the system under test (:mod:`support.system`), the
one bounded poll (:mod:`support.wait`), raw peers (:mod:`support.nodes`), the ethereumjs peer
(:mod:`support.ejs`), in-memory RLPx pairs (:mod:`support.rlpx_pair`), forked helpers."""
