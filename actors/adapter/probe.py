"""A tiny actor that answers "pgid" with its process group id (to find and clean up every
process of an actor system: they all share the admin's group, docs/thespian-facts.md §7)."""

import os

from thespian.actors import Actor


class PgidProbe(Actor):
    """Replies to the string "pgid" with ``os.getpgid(0)``."""

    def receiveMessage(self, msg, sender):
        if msg == "pgid":
            self.send(sender, os.getpgid(0))
