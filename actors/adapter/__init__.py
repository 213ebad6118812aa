"""Everything that adapts Thespian's internals, behind one door: :func:`install`.

Thespian 4.0.1 is the only version these adaptations were written and measured against (each
replaces or reads private names: docs/thespian.md lists them, one row per adaptation, with the
reason, its test and what would let it go).  :func:`install` refuses any other version.
Actor code reaches Thespian's internals only through the modules of this package.
"""

from __future__ import annotations

from importlib import metadata

SUPPORTED_THESPIAN = "4.0.1"
"""The Thespian release every adaptation here is written for (pinned in pyproject.toml)."""


class UnsupportedThespian(RuntimeError):
    """The installed Thespian is not :data:`SUPPORTED_THESPIAN`; the message is one line."""


def check_version() -> None:
    """Raise :class:`UnsupportedThespian` unless Thespian :data:`SUPPORTED_THESPIAN` is installed
    (as ``importlib.metadata`` reports it)."""
    try:
        found = metadata.version("thespian")
    except metadata.PackageNotFoundError:
        found = None
    if found != SUPPORTED_THESPIAN:
        raise UnsupportedThespian(
            f"thespian {found or '(not installed)'} found, but this node runs only on thespian "
            f"{SUPPORTED_THESPIAN}: its adaptations replace private parts of that release (docs/thespian.md)")


def install(bind_host: str = "127.0.0.1", allow=()) -> None:
    """Check the Thespian version, then apply every adaptation in this process (actor processes
    are forked from it and inherit them), including binding every Thespian socket created from
    now on to ``bind_host`` (an IP address) instead of all interfaces, and the accept guard:
    an actor port keeps a connection only from a socket of this uid on this host, or from an
    address in ``allow`` (IPs or CIDRs, or ``ipaddress`` networks: ``actor_system.allow``).

    The only place any patch is applied.  Idempotent; a later call may change the bind host and
    the allow-list.  Raises :class:`UnsupportedThespian` (before anything is patched), and
    ValueError for an entry of ``allow`` that is no IP or CIDR.
    """
    check_version()
    from . import accept_guard, exit_watch, thespian_patches as tp

    accept_guard.configure(allow)
    for patch in (tp.patch_setproctitle_import, tp.patch_cheap_actor_init_args, tp.patch_cheap_incoming_delay,
                  tp.patch_poll_selector, tp.patch_children_close_incoming_sockets, tp.patch_child_inaccessible,
                  tp.patch_actor_run_headroom, tp.patch_drain_accepts_incoming, tp.patch_fork_start_message,
                  exit_watch.patch_exit_rechecks_children, accept_guard.patch_accept_guard):
        patch()
    tp.patch_bind_host(bind_host)
