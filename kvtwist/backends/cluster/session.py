# -*- test-case-name: kvtwist.test.test_cluster_backend -*-
"""
What a client of the cluster front end holds for a while: a transaction
being queued (C{MULTI} ... C{EXEC}), a C{WATCH}, a blocking command.

    - C{MULTI}: commands are checked and queued here (C{QUEUED}, or an
      error that makes C{EXEC} answer C{EXECABORT}, as Redis does); their
      keys must share one slot.  C{EXEC} writes C{MULTI}, the commands and
      C{EXEC} together on one connection of that slot's node, which runs
      them atomically.
    - C{WATCH}: the keys (one slot) are watched on a connection dedicated
      to the client, which the transaction then uses; C{EXEC},
      C{DISCARD}, C{UNWATCH} or the client leaving gives it back.  If the
      slot moves meanwhile, C{EXEC} answers null (aborted), as when a
      watched key changed.
    - A blocking command (C{BLPOP}...) waits on a connection of its own;
      the client's next requests wait behind it, as Redis makes them.
"""

from collections import deque
from typing import Dict, List, Optional

from twisted.internet.defer import Deferred
from twisted.logger import Logger

from kvtwist import replies
from kvtwist.backends.cluster.shapes import shapeExec
from kvtwist.backends.cluster.slots import SLOTS, keySlot
from kvtwist.replies import OK, Error

EXECABORT = Error("EXECABORT Transaction discarded because of previous "
                  "errors.")
CROSSSLOT = Error("CROSSSLOT Keys in request don't hash to the same slot")

#: Keyless commands a transaction may hold (run on its node).
_KEYLESS_IN_MULTI = frozenset([b"PING", b"ECHO", b"TIME"])
#: Blocking commands whose timeout (seconds) is their first argument;
#: the others' is their last, except XREAD's BLOCK (milliseconds).
_TIMEOUT_FIRST = frozenset([b"BLMPOP", b"BZMPOP"])


class ClientSession:
    """
    What one client holds.

    @ivar multi: the commands queued since C{MULTI} (C{[argv, ...]}), or
        L{None} outside a transaction.
    @ivar write: whether a queued command writes.
    @ivar dirty: whether queuing failed (C{EXEC} answers C{EXECABORT}).
    @ivar slot: the slot the transaction's or the watch's keys are in.
    @ivar watch: the connection holding the C{WATCH}, or L{None}.
    @ivar blocked: the blocking request running, or L{None}.
    @ivar waiting: the requests that came meanwhile:
        C{(ctx, name, args, entry, deferred)}.
    """

    def __init__(self):
        self.multi: Optional[List[List[bytes]]] = None
        self.write = False
        self.dirty = False
        self.slot: Optional[int] = None
        self.watch = None
        self.watching = False
        self.blocked = None
        self.waiting = deque()

    @property
    def idle(self) -> bool:
        """
        Whether it holds nothing.
        """
        return self.multi is None and self.watch is None and \
            not self.watching and self.blocked is None and \
            not self.waiting


class Sessions:
    """
    The sessions of one backend's clients, by client id; only clients
    holding something have one (L{active}).
    """

    _log = Logger()

    def __init__(self, backend):
        self.backend = backend
        self.active: Dict[int, ClientSession] = {}

    @property
    def router(self):
        return self.backend.router

    def _session(self, client) -> ClientSession:
        session = self.active.get(client.id)
        if session is None:
            session = self.active[client.id] = ClientSession()
        return session

    def _settle(self, client, session: ClientSession) -> None:
        if session.idle:
            self.active.pop(client.id, None)

    # -- every command of a client holding something --------------------------

    def execute(self, ctx, name: bytes, args: List[bytes], entry):
        """
        A command of a client with a session: it waits behind a blocking
        command; it is queued in a transaction; or it runs.

        @param entry: its L{kvtwist.backends.cluster.backend.Entry}, or
            L{None} for a command nobody knows.
        """
        session = self.active[ctx.client.id]
        if session.blocked is not None or session.waiting:
            d = Deferred()
            session.waiting.append((ctx, name, args, entry, d))
            return d
        return self._run(ctx, name, args, entry, session)

    def _run(self, ctx, name, args, entry, session: ClientSession):
        upper = name.upper()
        if session.multi is not None and upper not in (
                b"EXEC", b"DISCARD", b"MULTI", b"WATCH", b"QUIT"):
            return self._queue(ctx, name, args, entry, session)
        if entry is None:
            return self.backend._known(ctx, name, args)
        if not entry.spec.arityFits(len(args) + 1):
            return replies.wrongArity(entry.label)
        # (From its slot first: see MemoryBackend.execute.)
        handler = entry.handler
        return handler(ctx, name, args, entry)

    def _queue(self, ctx, name, args, entry, session: ClientSession):
        """
        A command inside C{MULTI}: C{QUEUED}, or an error (and the
        transaction will be discarded).
        """
        error = self._checkQueued(name, args, entry, session)
        if error is not None:
            session.dirty = True
            return error
        session.multi.append([name] + args)
        session.write = session.write or entry.spec.write
        return replies.QUEUED

    def _checkQueued(self, name, args, entry, session) -> Optional[Error]:
        if entry is None:
            return replies.unknownCommand(name, args)
        if not entry.spec.arityFits(len(args) + 1):
            return replies.wrongArity(entry.label)
        upper = name.upper()
        argv = [name] + args
        spec = entry.spec.subcommand(argv)
        keys = spec.keys(argv)
        if keys is None:
            keys = []
        if not keys:
            if upper in _KEYLESS_IN_MULTI or \
                    "no_mandatory_keys" in spec.flags:
                return None
            return Error("ERR %s can't be part of a transaction through the "
                         "redis-cluster backend: it has no key to say which "
                         "node runs the transaction" % (entry.label,))
        slot = keySlot(keys[0])
        for key in keys[1:]:
            if keySlot(key) != slot:
                return CROSSSLOT
        if session.slot is not None and slot != session.slot:
            return CROSSSLOT
        session.slot = slot
        return None

    # -- MULTI, EXEC, DISCARD, WATCH, UNWATCH ---------------------------------

    def transactionCommand(self, ctx, name: bytes, args: List[bytes], entry):
        """
        C{MULTI}, C{EXEC}, C{DISCARD}, C{WATCH} and C{UNWATCH}.
        """
        upper = name.upper()
        client = ctx.client
        session = self._session(client)
        try:
            if upper == b"MULTI":
                if session.multi is not None:
                    return Error("ERR MULTI calls can not be nested")
                session.multi = []
                session.write = False
                session.dirty = False
                if session.watch is None:
                    session.slot = None
                return OK
            if upper == b"DISCARD":
                if session.multi is None:
                    return Error("ERR DISCARD without MULTI")
                session.multi = None
                self._unwatch(session)
                return OK
            if upper == b"EXEC":
                return self._exec(client, session)
            if upper == b"WATCH":
                return self._watch(client, session, args)
            # UNWATCH
            self._unwatch(session)
            return OK
        finally:
            self._settle(client, session)

    def _exec(self, client, session: ClientSession):
        queued = session.multi
        if queued is None:
            return Error("ERR EXEC without MULTI")
        session.multi = None
        watch = session.watch
        if session.dirty:
            self._unwatch(session)
            return EXECABORT
        router = self.router
        protover = client.protover
        if watch is not None:
            session.watch = None
            d = router.sendOn(watch, [], session.write, transaction=queued)
            d.addBoth(self._releaseAfter, watch)
            return d.addCallback(shapeExec, queued, protover,
                                 router.doubleText)
        if not queued:
            return []
        slot = session.slot
        if slot is None:
            slot = self.backend._rng.randrange(SLOTS)
        session.slot = None
        return router.sendTransaction(queued, slot, session.write
                                      ).addCallback(shapeExec, queued,
                                                    protover,
                                                    router.doubleText)

    def _releaseAfter(self, result, connection):
        self.router.release(connection)
        return result

    def _watch(self, client, session: ClientSession, args: List[bytes]):
        if session.multi is not None:
            return Error("ERR WATCH inside MULTI is not allowed")
        slot = keySlot(args[0])
        for key in args[1:]:
            if keySlot(key) != slot:
                return CROSSSLOT
        if session.watch is not None:
            if slot != session.slot:
                return CROSSSLOT
            return self.router.sendOn(session.watch, [b"WATCH"] + args,
                                      False)
        request = self.router.sendDedicated([b"WATCH"] + args, slot, False,
                                            None, keep=True)
        session.slot = slot
        session.watching = True

        def watched(reply):
            session.watching = False
            connection = request.connection
            if reply.__class__ is Error:
                if connection is not None:
                    self.router.release(connection)
                if session.watch is None:
                    session.slot = None
                self._settle(client, session)
                return reply
            if self.active.get(client.id) is not session:
                # The client left meanwhile.
                self.router.release(connection)
                return reply
            session.watch = connection
            return reply
        return request.deferred.addCallback(watched)

    def _unwatch(self, session: ClientSession) -> None:
        watch = session.watch
        session.watch = None
        session.slot = None
        if watch is not None and not watch.ended:
            d = self.router.sendOn(watch, [b"UNWATCH"], False)
            d.addBoth(self._releaseAfter, watch)

    # -- blocking commands ------------------------------------------------------

    def blocking(self, ctx, name: bytes, args: List[bytes], entry):
        """
        A blocking command: on a connection of its own, the client's next
        requests waiting behind it.  (C{XREAD} without C{BLOCK} is an
        ordinary read.)
        """
        upper = name.upper()
        argv = [name] + args
        spec = entry.spec.subcommand(argv)
        blockFor = _blockingTimeout(upper, args)
        if blockFor is False:
            return self.backend._routed(ctx, name, args, entry)
        keys = spec.keys(argv) or []
        if not keys:
            return self.backend._routed(ctx, name, args, entry)
        slot = keySlot(keys[0])
        for key in keys[1:]:
            if keySlot(key) != slot:
                return CROSSSLOT
        client = ctx.client
        session = self._session(client)
        request = self.router.sendDedicated(argv, slot, spec.write, blockFor)
        session.blocked = request
        return request.deferred.addBoth(self._unblocked, client, session)

    def _unblocked(self, reply, client, session: ClientSession):
        session.blocked = None
        self.router.clock.callLater(0, self._drain, client, session)
        return reply

    def _drain(self, client, session: ClientSession) -> None:
        """
        Run what waited behind a blocking command, until another blocks.
        """
        while session.waiting and session.blocked is None:
            ctx, name, args, entry, d = session.waiting.popleft()
            reply = self._run(ctx, name, args, entry, session)
            if isinstance(reply, Deferred):
                reply.chainDeferred(d)
            else:
                d.callback(reply)
        self._settle(client, session)

    # -- the client leaving -------------------------------------------------------

    def clientGone(self, client) -> None:
        """
        Let go what the client held: its blocking command (its connection
        is closed, so that it takes nothing for nobody), its watch.
        """
        session = self.active.pop(client.id, None)
        if session is None:
            return
        waiting, session.waiting = session.waiting, deque()
        for _, _, _, _, d in waiting:
            d.callback(Error("ERR client gone"))
        if session.blocked is not None:
            self.router.cancel(session.blocked, "client gone")
        session.multi = None
        self._unwatch(session)


def _blockingTimeout(upper: bytes, args: List[bytes]):
    """
    How long a blocking command may block, in seconds: L{None} for ever,
    C{False} if this call does not block (C{XREAD} without C{BLOCK}).
    """
    if upper in (b"XREAD", b"XREADGROUP"):
        for i, arg in enumerate(args[:-1]):
            if arg.upper() == b"BLOCK":
                try:
                    ms = int(args[i + 1])
                except ValueError:
                    return False
                return None if ms == 0 else ms / 1000.0
            if arg.upper() == b"STREAMS":
                break
        return False
    raw = args[0] if upper in _TIMEOUT_FIRST else args[-1]
    try:
        seconds = float(raw)
    except ValueError:
        return False
    return None if seconds == 0 else max(0.0, seconds)
