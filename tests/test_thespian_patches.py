"""actors/thespian_patches.py: the poll(2) selector patch is in place in every process that
starts or joins an actor system (the one-socket-per-direction patch is exercised by
tests/test_node_traffic.py's simultaneous large sends)."""

import selectors

from thespian.system.transport import TCPTransport as T

from actors.system import bind_thespian_to
from actors.thespian_patches import patch_poll_selector


def test_transport_loop_uses_poll_selector():
    bind_thespian_to()
    assert T.selectors.DefaultSelector is selectors.PollSelector
    # every other name still comes from the real module
    assert T.selectors.EVENT_READ == selectors.EVENT_READ
    assert T.selectors.EVENT_WRITE == selectors.EVENT_WRITE


def test_poll_selector_patch_is_idempotent():
    patch_poll_selector()
    shim = T.selectors
    patch_poll_selector()
    assert T.selectors is shim
    sel = T.selectors.DefaultSelector()
    try:
        assert isinstance(sel, selectors.PollSelector)
    finally:
        sel.close()
