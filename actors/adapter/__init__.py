"""Everything that adapts Thespian's internals, behind one door: :func:`install`.

Thespian 4.0.1 is the only version these adaptations were written and measured against (each
replaces or reads private names: docs/thespian.md lists them, one row per patch, with the
reason and what would let it go).  :func:`install` refuses any other version.
"""

from __future__ import annotations

import os
from importlib import metadata

SUPPORTED_THESPIAN = "4.0.1"
"""The Thespian release every adaptation here is written for (pinned in pyproject.toml)."""


class UnsupportedThespian(RuntimeError):
    """The installed Thespian is not :data:`SUPPORTED_THESPIAN`; the message is one line."""


def check_version() -> None:
    """Raise :class:`UnsupportedThespian` unless Thespian :data:`SUPPORTED_THESPIAN` is installed."""
    try:
        found = metadata.version("thespian")
    except metadata.PackageNotFoundError:
        found = None
    if found != SUPPORTED_THESPIAN:
        raise UnsupportedThespian(
            f"thespian {found or '(not installed)'} found, but this node runs only on thespian "
            f"{SUPPORTED_THESPIAN}: its adaptations replace private parts of that release (docs/thespian.md)")


_bound_host: str | None = None


def install(bind_host: str = "127.0.0.1") -> None:
    """Check the Thespian version, then apply every adaptation in this process (actor processes
    are forked from it and inherit them), and make every Thespian socket created from now on bind
    to ``bind_host`` instead of all interfaces (``THESPIAN_BASE_IPADDR`` is set to it too).

    Idempotent; a later call may change the bind host.  Raises :class:`UnsupportedThespian`.
    """
    global _bound_host
    check_version()
    from thespian.system.transport import IPBase

    from .exit_watch import patch_exit_rechecks_children
    from .thespian_patches import (patch_actor_run_headroom, patch_cheap_actor_init_args,
                                   patch_cheap_incoming_delay, patch_child_inaccessible,
                                   patch_children_close_incoming_sockets, patch_drain_accepts_incoming,
                                   patch_fork_start_message, patch_poll_selector, patch_setproctitle_import)

    patch_setproctitle_import()
    patch_cheap_actor_init_args()
    patch_cheap_incoming_delay()
    patch_poll_selector()
    patch_children_close_incoming_sockets()
    patch_child_inaccessible()
    patch_actor_run_headroom()
    patch_drain_accepts_incoming()
    patch_fork_start_message()
    patch_exit_rechecks_children()
    os.environ["THESPIAN_BASE_IPADDR"] = bind_host
    if _bound_host is None:
        def bind_args(self):
            name = self.bindname
            if name and name[0] == "" and _bound_host:
                return ((_bound_host,) + tuple(name[1:]),)
            return (name,)

        IPBase.IPActorAddress.bindArgs = property(bind_args)
    _bound_host = bind_host
