"""Exercise 04.read_your_writes: let users read their own writes, and still read from replicas.

Replicas copy the primary's log a little late. A user who changes their profile and reloads the page
may be sent to a replica that has not applied the change yet, and see the old profile: a *stale read*.
Sending every read to the primary avoids it, and wastes the replicas. The replica set tells a router
the position (LSN) of each write a user makes; a replica's ``applied_lsn`` says how far it has copied
the primary's log. Together they decide, read by read, whether a replica is fresh enough for this user.

The replica set calls ``wrote(user, lsn)`` after each write and ``choose(user, primary, replicas)``
before each read, from many threads at once. Each member has ``.name``, ``.is_up`` and
``.applied_lsn``.
"""

import itertools
import threading


class ReadYourWrites:
    """Send a user's reads to a replica that has applied that user's last write, else to the primary."""

    def __init__(self):
        """Set up what you need to remember each user's last write, safely across threads."""
        # TODO: write this (the docstring says what it must do), then run: minicluster check 04.read_your_writes
        raise NotImplementedError

    def wrote(self, user, lsn):
        """``user``'s write is at position ``lsn`` of the primary's log: remember it.

        Two requests of one user can be served by two app servers at once, so the calls for one user
        may arrive out of order: keep the highest position.
        """
        # TODO: write this (the docstring says what it must do), then run: minicluster check 04.read_your_writes
        raise NotImplementedError

    def choose(self, user, primary, replicas):
        """Return the member to read from: one of the replicas that are up and have applied at least
        ``user``'s last write (``applied_lsn`` at or past it), taking turns among them; the primary when
        no replica qualifies. A user who never wrote may read from any replica that is up."""
        # TODO: write this (the docstring says what it must do), then run: minicluster check 04.read_your_writes
        raise NotImplementedError
