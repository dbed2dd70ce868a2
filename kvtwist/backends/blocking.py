# -*- test-case-name: kvtwist.test.test_blocking -*-
"""
The memory backend's blocked clients: who waits on which key of which
database, and their wake-up.

A blocking command that finds nothing (L{kvtwist.commands.blocking.Block})
puts its client in L{Waiting}: one L{Waiter} in the queue of each of its
keys, and a timer for its timeout.  While anyone waits in a database,
L{Waiting} listens to that database's changes (the keyspace's change
listeners, which cost nothing while no one listens) and marks the keys
that changed and that someone waits on as I{ready}.  Nothing is served
from inside a change: the backend calls L{Waiting.serveReady} once the
command that made the change has finished (after a whole C{EXEC} or
script, as Redis does), which serves each ready key's waiters in the order
they blocked (first blocked, first served), as long as the key holds
something for them.  A served pop may fill another key (C{BLMOVE}), which
is served in turn.

As in Redis 7.0, a ready key is served on its own: a client waiting on
several keys gets the element of the first of them to become ready, and
one waiting on a key that now holds another kind of value goes on
waiting.
"""

from collections import OrderedDict, deque
from typing import Callable, Deque, Dict, Optional, Tuple

from twisted.internet.defer import Deferred
from twisted.logger import Logger

from kvtwist.commands.blocking import Block
from kvtwist.replies import Error

#: What a client unblocked with C{CLIENT UNBLOCK id ERROR} gets.
UNBLOCKED = Error("UNBLOCKED client unblocked via CLIENT UNBLOCK")


class Waiter:
    """
    One blocked client.

    @ivar client: its L{kvtwist.commands.ClientState}.
    @ivar db: the database it waits in (its store when it blocked).
    @ivar block: the L{Block} its command returned.
    @ivar deferred: fires with its reply.
    @ivar timer: the delayed call of its timeout, or L{None} (for ever).
    """

    __slots__ = ("client", "db", "block", "deferred", "timer")

    def __init__(self, client, db, block: Block, deferred: Deferred):
        self.client = client
        self.db = db
        self.block = block
        self.deferred = deferred
        self.timer = None


class Waiting:
    """
    The blocked clients of one backend.

    @ivar clock: the L{IReactorTime} of the timeouts.
    @ivar ready: the keys that may serve someone, C{(db, key)}, in the
        order they became ready.
    """

    _log = Logger()

    def __init__(self, clock, answer: Callable[[object], object],
                 started: Callable[[], None], stopped: Callable[[], None]):
        """
        @param answer: C{answer(reply)}: the reply of a served client as
            the backend gives it (a Deferred that waits for durability
            under C{--fsync always}, or the reply itself).
        @param started: called when the first client blocks.
        @param stopped: called when the last blocked client stops waiting.
        """
        self.clock = clock
        self.ready: "OrderedDict[Tuple[object, bytes], None]" = OrderedDict()
        self._answer = answer
        self._started = started
        self._stopped = stopped
        self._queues: Dict[Tuple[object, bytes], Deque[Waiter]] = {}
        self._byClient: Dict[object, Waiter] = {}
        # Per database: how many keys are waited on there.
        self._databases: Dict[object, int] = {}
        self._serving = False

    def __len__(self) -> int:
        """
        How many clients are blocked.
        """
        return len(self._byClient)

    def keyCount(self) -> int:
        """
        How many keys clients wait on (Redis's C{total_blocking_keys}).
        """
        return len(self._queues)

    def isBlocked(self, client) -> bool:
        """
        Whether C{client} (a L{kvtwist.commands.ClientState}) waits here.
        """
        return client in self._byClient

    # -- blocking -------------------------------------------------------

    def block(self, client, db, block: Block) -> Deferred:
        """
        Make C{client} wait on C{block}'s keys of C{db}.

        A client waits on one command at a time (its connection runs
        nothing more meanwhile); one that blocks again anyway (callers
        sharing a client state) ends its earlier wait as if timed out.

        @return: a L{Deferred} firing with its reply.
        """
        earlier = self._byClient.get(client)
        if earlier is not None:
            self._finish(earlier, earlier.block.timedOut)
        d = Deferred()
        waiter = Waiter(client, db, block, d)
        first = not self._byClient
        self._byClient[client] = waiter
        queues = self._queues
        for key in block.keys:
            where = (db, key)
            queue = queues.get(where)
            if queue is None:
                queue = queues[where] = deque()
                count = self._databases.get(db, 0)
                if not count:
                    db.addChangeListener(self._changed)
                self._databases[db] = count + 1
            if waiter not in queue:
                queue.append(waiter)
        if block.timeoutMs:
            waiter.timer = self.clock.callLater(
                block.timeoutMs / 1000.0, self._timedOut, waiter)
        if first:
            self._started()
        return d

    def _remove(self, waiter: Waiter) -> None:
        """
        Take C{waiter} out of every queue; stop its timer.
        """
        if self._byClient.get(waiter.client) is not waiter:
            return
        del self._byClient[waiter.client]
        timer = waiter.timer
        if timer is not None and timer.active():
            timer.cancel()
        waiter.timer = None
        db = waiter.db
        queues = self._queues
        for key in waiter.block.keys:
            where = (db, key)
            queue = queues.get(where)
            if queue is None:
                continue
            try:
                queue.remove(waiter)
            except ValueError:
                pass
            if not queue:
                del queues[where]
                count = self._databases[db] - 1
                if count:
                    self._databases[db] = count
                else:
                    del self._databases[db]
                    db.removeChangeListener(self._changed)
        if not self._byClient:
            self.ready.clear()
            self._stopped()

    def _finish(self, waiter: Waiter, reply) -> None:
        """
        C{waiter} stops waiting, with C{reply}.
        """
        self._remove(waiter)
        if isinstance(reply, Deferred):
            reply.addCallback(waiter.deferred.callback)
        else:
            waiter.deferred.callback(reply)

    def _timedOut(self, waiter: Waiter) -> None:
        waiter.timer = None
        self._finish(waiter, waiter.block.timedOut)

    def unblock(self, clientId: int, error: bool = False) -> bool:
        """
        C{CLIENT UNBLOCK}: the client numbered C{clientId} stops waiting,
        answered as if its timeout had passed, or with
        L{UNBLOCKED} if C{error}.

        @return: whether it was waiting.
        """
        for client, waiter in self._byClient.items():
            if client.id == clientId:
                self._finish(waiter, UNBLOCKED if error
                             else waiter.block.timedOut)
                return True
        return False

    def forget(self, client) -> None:
        """
        C{client} is gone: it waits no more, and gets no reply.
        """
        waiter = self._byClient.get(client)
        if waiter is not None:
            self._remove(waiter)

    # -- waking up ------------------------------------------------------

    def _changed(self, db, keys: Optional[Tuple[bytes, ...]]) -> None:
        """
        A change listener: mark the keys of C{db} that changed and that
        someone waits on as ready (all of them for C{keys} L{None}).
        """
        queues = self._queues
        ready = self.ready
        if keys is None:
            for where in list(queues):
                if where[0] is db:
                    ready[where] = None
            return
        for key in keys:
            where = (db, key)
            if where in queues:
                ready[where] = None

    def serveReady(self) -> None:
        """
        Serve the clients waiting on the ready keys, key by key in the
        order they became ready, each key's waiters in the order they
        blocked, while the key has something for them.  Keys a serve
        makes ready (C{BLMOVE}'s destination) are served in turn.
        """
        if self._serving:
            return
        self._serving = True
        ready = self.ready
        queues = self._queues
        try:
            while ready:
                where = ready.popitem(last=False)[0]
                queue = queues.get(where)
                if not queue:
                    continue
                db, key = where
                for waiter in list(queue):
                    if self._byClient.get(waiter.client) is not waiter:
                        continue
                    try:
                        reply = waiter.block.serve(db, key)
                    except Exception:
                        self._log.failure("serving a blocked client failed")
                        reply = Error("ERR internal error serving a "
                                      "blocked client")
                    if reply is None:
                        if not db.exists(key):
                            break
                        continue
                    self._finish(waiter, self._answer(reply))
        finally:
            self._serving = False
