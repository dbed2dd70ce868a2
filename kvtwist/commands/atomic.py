# -*- test-case-name: kvtwist.test.test_transactions -*-
"""
L{Atomic}: what a handler returns to have several commands run as one
(C{EXEC}, C{EVAL}), by the backend that runs commands.
"""

from typing import Callable


class Atomic:
    """
    A handler's request to run C{work} as one step on the backend: no
    other client's command runs in between, the writes it makes are
    journaled as one group (recovery replays all of them or none), and
    with C{--fsync always} its reply waits once, for all of them.

    The memory backend (L{kvtwist.backends.memory}) calls C{work(run)}
    with an L{kvtwist.backends.atomic.AtomicRun}, which runs commands
    (C{run.run}, C{run.call}) and holds the backend's scripts
    (C{run.scripts}).  Like L{kvtwist.commands.registry.Offload}, it is
    only ever seen by the backend, never by a dialect.

    @ivar work: C{work(run)}, returning the reply (or a Deferred of one).
    @ivar writes: whether C{work} is known to write: then, while
        persistence fails, nothing runs and the reply is C{EXECABORT}
        with the C{MISCONF} error, as Redis answers an C{EXEC} of writes.
        (A script's writes are refused one by one instead.)
    """

    __slots__ = ("work", "writes")

    def __init__(self, work: Callable[[object], object],
                 writes: bool = False):
        self.work = work
        self.writes = writes
