# -*- test-case-name: kvtwist.test.test_backends -*-
"""
The memory backend: the command table over the in-process store, journaled
by the store service.

This is the default, embedded backend, and its L{MemoryBackend.execute} is
the hot path of every request: it is written inline (no helper calls for
counting, authentication or arity) because each call shows in pipelined
throughput.
"""

from typing import List

from twisted.internet.defer import Deferred
from zope.interface import implementer

from kvtwist import replies
from kvtwist.backends.atomic import AtomicRun, execAbort
from kvtwist.commands import TABLE, Context, Offload, errorReply
from kvtwist.commands.atomic import Atomic
from kvtwist.commands.connection import REDIS_COMPAT_VERSION
from kvtwist.commands.transactions import NOT_QUEUED, discard, queue, refused
from kvtwist.interfaces import IBackend
from kvtwist.replies import PLAIN, Error
from kvtwist.scripting import luaModule
from kvtwist.scripting.engine import Scripts
from kvtwist.stats import IBackendStats, memoryFigures


def misconf(failure: str) -> Error:
    """
    The error a write gets while persistence fails (Redis's C{MISCONF}).

    @param failure: the persistence failure, in a few words.
    """
    return Error("MISCONF Errors writing to the append-only log: %s. "
                 "Writes are refused until the data directory is "
                 "writable again; reads go on." % (failure,))


@implementer(IBackend, IBackendStats)
class MemoryBackend:
    """
    Runs commands on the in-process store.

    Writes are refused with C{MISCONF} while the service's persistence
    fails; with C{--fsync always} a write's reply waits until the service
    says its record is durable.

    @ivar store: the L{kvtwist.interfaces.IStore} the handlers change.
    @ivar service: the store service that journals the store's changes
        (L{kvtwist.persist.StoreService}: its C{failure}, C{whenDurable()}
        and C{sealBatch()}), or L{None} for a store kept only in memory.
    @ivar scripts: its Lua scripts (L{kvtwist.scripting.engine.Scripts}),
        made by the first script (L{scriptEngine}), or L{None}.
    @ivar scriptTimeLimit: the most seconds a script may run
        (C{lua-time-limit}).
    @ivar runInThread: C{runInThread(f) -> Deferred}, or L{None}: with
        one, the O(store) work of C{KEYS} and C{PRINT} on a store of more
        than L{OFFLOAD_KEYS} keys is done through it, off the reactor
        thread (on a snapshot taken when the command ran), and their reply
        is a Deferred.
    """

    #: Store size from which O(store) work goes to C{runInThread}.
    OFFLOAD_KEYS = 20000

    def __init__(self, store, service=None, runInThread=None,
                 scriptTimeLimit: float = 5.0):
        self.store = store
        self.service = service
        self.runInThread = runInThread
        self.scriptTimeLimit = scriptTimeLimit
        self.scripts = None

    def execute(self, ctx: Context, name: bytes, args: List[bytes]):
        """
        Run one command (see L{IBackend.execute}): unknown commands, wrong
        arity, missing authentication and failing persistence give Redis's
        error replies; store exceptions become C{WRONGTYPE} and friends.
        """
        cmd = TABLE.get(name)
        if cmd is None:
            cmd = TABLE.get(name.upper())
            if cmd is None:
                factory = ctx.factory
                if factory is not None:
                    factory.stats.unknown += 1
                if not ctx.client.authenticated:
                    return replies.NOAUTH
                return refused(ctx, replies.unknownCommand(name, args))
        client = ctx.client
        client.commands += 1
        factory = ctx.factory
        if factory is not None:
            # Counted here, inline: this runs for every command.
            stats = factory.stats
            stats.commandsProcessed += 1
            per = stats.perCommand
            per[cmd.name] = per.get(cmd.name, 0) + 1
        if not client.authenticated and not cmd.noauth:
            return replies.NOAUTH
        arity = cmd.arity
        n = len(args) + 1
        if (n != arity) if arity > 0 else (n < -arity):
            return refused(ctx, replies.wrongArity(cmd.name))
        if client.transaction is not None and cmd.name not in NOT_QUEUED:
            return queue(ctx, cmd, args, self.writeRefusal())
        service = self.service
        if cmd.write and service is not None and service.failure is not None:
            return misconf(service.failure)
        try:
            reply = cmd.handler(ctx, args)
        except Exception as e:
            return errorReply(cmd, e)
        if reply.__class__ not in PLAIN:
            if reply.__class__ is Offload:
                reply = self._offload(cmd, reply)
            elif reply.__class__ is Atomic:
                return self._atomic(ctx, cmd, reply)
            elif isinstance(reply, Deferred):
                reply.addErrback(lambda f: errorReply(cmd, f.value))
        if cmd.write and service is not None:
            durable = service.whenDurable()
            if durable is not None:
                return durable.addCallbacks(
                    lambda _: reply, lambda f: _notDurable(service, f))
        return reply

    def _offload(self, cmd, offload: Offload):
        """
        Do a handler's O(store) work: here, or through C{runInThread} when
        the store is big (the reply is then a Deferred).
        """
        runInThread = self.runInThread
        if runInThread is not None and offload.size > self.OFFLOAD_KEYS:
            return runInThread(offload.work).addErrback(
                lambda f: errorReply(cmd, f.value))
        try:
            return offload.work()
        except Exception as e:
            return errorReply(cmd, e)

    def scriptEngine(self):
        """
        Its L{Scripts}, made on first use (the Lua runtime costs a few
        milliseconds and some memory), or L{None} where C{lupa} is not
        installed.
        """
        scripts = self.scripts
        if scripts is None:
            lua = luaModule()
            if lua is not None:
                scripts = self.scripts = Scripts(
                    lua, self.scriptTimeLimit, version=REDIS_COMPAT_VERSION)
        return scripts

    def writeRefusal(self):
        """
        The C{MISCONF} error writes get while persistence fails, or
        L{None}.
        """
        service = self.service
        if service is not None and service.failure is not None:
            return misconf(service.failure)
        return None

    def _atomic(self, ctx: Context, cmd, atomic: Atomic):
        """
        Run an L{Atomic} (an C{EXEC}, a script) as one: its writes are
        journaled as one group, and with C{--fsync always} its reply
        waits once, until they are durable.
        """
        service = self.service
        if atomic.writes:
            failure = self.writeRefusal()
            if failure is not None:
                return execAbort(failure)
        mark = service.journalSeq() if service is not None else 0
        run = AtomicRun(self, ctx)
        client = ctx.client
        client.atomic = run
        try:
            reply = atomic.work(run)
        except Exception as e:
            reply = errorReply(cmd, e)
        finally:
            client.atomic = None
            durable = None
            if service is not None and service.journalSeq() != mark:
                service.groupSince(mark)
                durable = service.whenDurable()
        run.runLater()
        if isinstance(reply, Deferred):
            reply.addErrback(lambda f: errorReply(cmd, f.value))
        if durable is not None:
            return durable.addCallbacks(
                lambda _: reply, lambda f: _notDurable(service, f))
        return reply

    def clientDisconnected(self, ctx: Context) -> None:
        """
        The client of C{ctx} is gone: forget its transaction and its
        watched keys.
        """
        discard(ctx.client)

    def endTurn(self):
        """
        Seal the journal's batch: the service encodes the ops pending so
        far as a log record if there are enough of them.
        """
        service = self.service
        if service is not None:
            service.sealBatch()

    def backendFigures(self):
        """
        The store's keyspace and the service's persistence, for the stats
        snapshot (L{kvtwist.stats.IBackendStats}).
        """
        return memoryFigures(self.store, self.service)


def _notDurable(service, failure) -> Error:
    """
    The reply of a write whose record could not be made durable: the
    service's persistence failure as C{MISCONF}.
    """
    return misconf(service.failure or failure.getErrorMessage())
