"""Socket and process helpers of the actors, with no Thespian: the Peer <-> Protocol channel,
non-blocking reads, the inbound fd hand-off, the pre-fork rehearsal, /proc liveness."""
